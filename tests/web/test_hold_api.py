"""Hold, resume and answer-waiting over HTTP: every role and validation refusal.

The web app runs with the engine's real call control (`CallControl` -> the call's
`HoldControl`, the manager's hold flags read from the database) over a fake flow and a fake
ARI (tests/web/hold_fakes.py); what Asterisk does with the requests is tested in
tests/integration/test_hold.py and test_call_waiting.py.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from engine.store import models as m
from engine.store.session import session_scope

from .hold_fakes import install
from .test_api import err

ALICE, BOB, SALES = 1, 2, 1  # the demo data: alice is agent 1, bob agent 2, Sales department 1
ACTIONS = ["hold", "resume", "answer-waiting"]


def agent_ids(db_url: str) -> dict[str, int]:
    with session_scope(db_url) as s:
        return {u.username: u.agent_id for u in s.exec(select(m.WebUser)).all()}


@pytest.fixture
async def engine(stack):
    ids = agent_ids(stack.db_url)
    assert ids["alice"] == ALICE and ids["bob"] == BOB
    return install(stack)


@pytest.mark.parametrize("action", ACTIONS)
async def test_anonymous_gets_401(stack, engine, action):
    engine.add_call("c1", ALICE, SALES)
    anon = await stack.client()
    err(await anon.call("POST", f"/api/calls/c1/{action}"), 401, "not_signed_in")
    assert engine.ari.requests == []


@pytest.mark.parametrize("action", ACTIONS)
async def test_missing_or_wrong_csrf_gets_403(stack, engine, action):
    engine.add_call("c1", ALICE, SALES)
    alice = await stack.client("alice")
    err(await alice.call("POST", f"/api/calls/c1/{action}", csrf=False), 403, "csrf")
    alice.csrf = "not-the-token"
    err(await alice.call("POST", f"/api/calls/c1/{action}"), 403, "csrf")
    assert engine.ari.requests == []


@pytest.mark.parametrize("action", ACTIONS)
async def test_get_is_not_allowed(stack, engine, action):
    alice = await stack.client("alice")
    status, _ = await alice.call("GET", f"/api/calls/c1/{action}")
    assert status == 405


@pytest.mark.parametrize("action", ACTIONS)
async def test_without_an_engine_503(stack, action):
    alice = await stack.client("alice")
    err(await alice.call("POST", f"/api/calls/c1/{action}"), 503, "no_engine")


@pytest.mark.parametrize("action", ACTIONS)
async def test_unknown_call_404(stack, engine, action):
    alice = await stack.client("alice")
    err(await alice.call("POST", f"/api/calls/no-such-call/{action}"), 404, "not_found")


@pytest.mark.parametrize("action", ["hold", "resume"])
async def test_an_agent_may_not_act_on_another_agents_call(stack, engine, action):
    flow = engine.add_call("c1", ALICE, SALES)
    if action == "resume":
        await engine.control.hold("c1", agent_id=ALICE)
        engine.ari.requests.clear()
    bob = await stack.client("bob")
    err(await bob.call("POST", f"/api/calls/c1/{action}"), 403, "forbidden")
    assert engine.ari.requests == [] and flow.hold.state.held == (action == "resume")


async def test_answer_waiting_is_for_the_agent_only(stack, engine):
    engine.add_call("c2", ALICE, SALES, phase="call_waiting")
    supervisor = await stack.client("supervisor")
    err(await supervisor.call("POST", "/api/calls/c2/answer-waiting"), 403, "forbidden")
    bob = await stack.client("bob")
    err(await bob.call("POST", "/api/calls/c2/answer-waiting"), 409, "not_waiting")  # not waiting for bob
    assert engine.ari.requests == []


async def test_answer_waiting_refuses_a_call_that_is_not_waiting(stack, engine):
    engine.add_call("c1", ALICE, SALES)
    alice = await stack.client("alice")
    err(await alice.call("POST", "/api/calls/c1/answer-waiting"), 409, "not_waiting")


async def test_hold_then_resume_by_the_agent_and_the_state_errors(stack, engine):
    flow = engine.add_call("c1", ALICE, SALES)
    alice = await stack.client("alice")
    err(await alice.call("POST", "/api/calls/c1/resume"), 409, "not_on_hold")
    status, held = await alice.call("POST", "/api/calls/c1/hold")
    assert status == 200 and held["held"] is True and held["by"] == "desktop" and held["agent_id"] == ALICE
    assert [(m_, p) for m_, p, _ in engine.ari.requests] == [("POST", "channels/caller-c1/mute"),
                                                             ("POST", "channels/caller-c1/moh")]
    status, data = await alice.call("GET", f"/api/agents/{ALICE}/desktop")
    assert data["held_call"] is None  # (the desktop's call needs the agent In Call: see test_desktop_data...)
    err(await alice.call("POST", "/api/calls/c1/hold"), 409, "already_on_hold")
    status, resumed = await alice.call("POST", "/api/calls/c1/resume")
    assert status == 200 and resumed["held"] is False
    assert not flow.hold.state.held
    assert [k for k, _, _ in flow.written] == ["add_event", "add_event"]


async def test_a_supervisor_may_hold_any_call(stack, engine):
    flow = engine.add_call("c1", ALICE, SALES)
    supervisor = await stack.client("supervisor")
    status, held = await supervisor.call("POST", "/api/calls/c1/hold")
    assert status == 200 and held["held"] and flow.hold.state.held


@pytest.mark.parametrize("where", ["department", "agent"])
async def test_hold_disabled_by_the_manager_403(stack, engine, where):
    with session_scope(stack.db_url) as s:
        row = s.get(m.Department, SALES) if where == "department" else s.get(m.Agent, ALICE)
        row.hold_enabled = False
        s.add(row)
    flow = engine.add_call("c1", ALICE, SALES)
    alice = await stack.client("alice")
    error = err(await alice.call("POST", "/api/calls/c1/hold"), 403, "hold_disabled")
    assert where in error["message"]
    assert engine.ari.requests == [] and not flow.hold.state.held


@pytest.mark.parametrize("phase", ["ringing", "ended"])
async def test_a_call_not_connected_or_ended_409(stack, engine, phase):
    flow = engine.add_call("c1", ALICE, SALES, phase=phase)
    if phase == "ringing":
        flow.agent_channel = None
    alice = await stack.client("alice")
    code = "call_ended" if phase == "ended" else "not_connected"
    for action in ("hold", "resume"):
        err(await alice.call("POST", f"/api/calls/c1/{action}"), 409, code)


async def test_asterisk_refusing_the_music_is_a_409_and_the_call_is_not_held(stack, engine):
    flow = engine.add_call("c1", ALICE, SALES)
    engine.ari.refuse = True
    alice = await stack.client("alice")
    err(await alice.call("POST", "/api/calls/c1/hold"), 409, "hold_failed")
    assert not flow.hold.state.held


async def test_the_desktop_data_carries_the_hold_state_and_the_waiting_call(stack, engine):
    with session_scope(stack.db_url) as s:
        for cid, number in (("c1", "+442079460001"), ("c2", "")):
            s.add(m.CallRecord(id=cid, caller_number=number, caller_name="JANE D" if cid == "c1" else "",
                               inbound_number="+442071838750", department_id=SALES))
    stack.routing.sign_in(ALICE, SALES)
    stack.routing.call_arrived("c1", SALES)
    stack.routing.offer_answered("c1", ALICE)
    engine.add_call("c1", ALICE, SALES)
    alice = await stack.client("alice")
    status, data = await alice.call("GET", f"/api/agents/{ALICE}/desktop")
    assert data["call"]["on_hold"] is False and data["waiting_call"] is None and data["held_call"] is None
    await alice.call("POST", "/api/calls/c1/hold")
    status, data = await alice.call("GET", f"/api/agents/{ALICE}/desktop")
    assert data["call"]["on_hold"] is True
    status, cur = await alice.call("GET", f"/api/agents/{ALICE}/call")
    assert cur["call"]["on_hold"] is True
    stack.routing.dispatcher.waiting_for[ALICE] = "c2"  # a withheld number is waiting
    _, data = await alice.call("GET", f"/api/agents/{ALICE}/desktop")
    assert data["waiting_call"]["call_id"] == "c2" and data["waiting_call"]["caller_display"] == "Unknown"
    stack.routing.dispatcher.waiting_for.clear()
    stack.routing.dispatcher.held_for[ALICE] = "c1"
    _, data = await alice.call("GET", f"/api/agents/{ALICE}/desktop")
    assert data["held_call"] == {"call_id": "c1", "caller": "+442079460001", "caller_display": "020 7946 0001",
                                 "caller_name": "JANE D", "inbound_number": "+442071838750"}


async def test_hold_events_reach_the_agent_whose_call_it_is_only(stack, engine):
    engine.add_call("c1", ALICE, SALES)
    alice, bob = await stack.client("alice"), await stack.client("bob")
    ws_alice = await alice.raw.ws_connect("/ws", headers={"Origin": stack.url.rstrip("/")})
    ws_bob = await bob.raw.ws_connect("/ws", headers={"Origin": stack.url.rstrip("/")})
    assert (await ws_alice.receive_json())["type"] == "snapshot"
    assert (await ws_bob.receive_json())["type"] == "snapshot"
    await alice.call("POST", "/api/calls/c1/hold")
    stack.bus.publish({"type": "call_waiting", "call_id": "c2", "agent_id": ALICE, "caller": "+1"})
    got = [await ws_alice.receive_json(timeout=3) for _ in range(2)]
    assert [(e["type"], e["agent_id"]) for e in got] == [("call_hold", ALICE), ("call_waiting", ALICE)]
    stack.bus.publish({"type": "agent_changed", "agent_id": BOB})  # bob's first event must be his own
    assert (await ws_bob.receive_json(timeout=3))["type"] == "agent_changed"
    await ws_alice.close()
    await ws_bob.close()
