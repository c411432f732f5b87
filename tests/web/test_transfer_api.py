"""Transfers, consultations, conference and hang-up over HTTP, as the agent desktop makes them.

The web app runs with the engine's real call control and transfer code (`CallControl` ->
`CallFeatures` -> the pure `Transfer` machine, the routing directory and RoutingService on
the test database) over a fake call flow and a fake Asterisk (tests/web/transfer_fakes.py).
So every refusal here is the engine's own message, and every state the desktop reads is
the engine's own. What Asterisk does with the requests is tested in
tests/integration/test_transfer_*.py.

The demo data: alice (agent 1, intercom 1001), bob (agent 2, 1002) and carol (agent 3,
1003) in Sales (department 1, transfer code 20001, "Use it as Queue" on); Support
(department 2, code 20002, queue off); the IVR "Main menu" (code 30001).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.store import models as m
from engine.store.session import session_scope
from web.api.calls import during_transfer

from .test_api import err
from .transfer_fakes import BUSY, install

ALICE, BOB, CAROL, SALES, SUPPORT = 1, 2, 3, 1, 2
ACTIONS = [("transfers", {"flow": "blind", "target": {"intercom": "1002"}}), ("transfers/t1/complete", None),
           ("transfers/t1/cancel", None), ("conference", None), ("hangup", None)]
CONSULT_BOB = {"flow": "attended", "target": {"intercom": "1002"}}


@pytest.fixture
async def engine(stack):
    fake = install(stack)
    yield fake
    await fake.close()


def state(stack, agent_id: int) -> tuple[str, str | None]:
    agent = stack.routing.dispatcher.agents[agent_id].state
    return agent.state, agent.call_id


async def connected_call(stack, engine, call_id: str = "c1", department_id: int = SALES, bob_ready: bool = True):
    """Alice talks to a caller on a Sales call (bob Ready too when asked): what Connect leaves."""
    with session_scope(stack.db_url) as s:
        s.add(m.CallRecord(id=call_id, caller_number="+442079460001", caller_name="JANE D",
                           inbound_number="+442071838750", department_id=department_id, agent_id=ALICE,
                           answered_at=datetime.now(UTC)))
    stack.routing.sign_in(ALICE, SALES)  # Sales signs agents in Ready
    stack.routing.call_arrived(call_id, SALES)
    stack.routing.offer_answered(call_id, ALICE)
    if bob_ready:
        stack.routing.sign_in(BOB, SALES)
    return engine.add_call(call_id, ALICE, department_id)


async def current(client, agent_id: int = ALICE) -> dict:
    status, data = await client.call("GET", f"/api/agents/{agent_id}/call")
    assert status == 200, data
    status, desktop = await client.call("GET", f"/api/agents/{agent_id}/desktop")
    assert status == 200, desktop
    if data["call"] is not None:  # the desktop's one read shows the same call view
        for key in ("transfer", "capabilities", "on_hold", "call_id"):
            assert desktop["call"][key] == data["call"][key], key
    return data["call"]


def caps(pop: dict) -> dict[str, dict]:
    return {c["name"]: c for c in pop["capabilities"]}


# ---- who may ask ----------------------------------------------------------------------
@pytest.mark.parametrize("path,body", ACTIONS, ids=[a for a, _ in ACTIONS])
async def test_missing_csrf_403_and_get_405(stack, engine, path, body):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    err(await alice.call("POST", f"/api/calls/c1/{path}", body, csrf=False), 403, "csrf")
    assert (await alice.call("GET", f"/api/calls/c1/{path}"))[0] == 405
    assert engine.ari.requests == [] and flow.features.machine.phase == "idle"


@pytest.mark.parametrize("path,body", ACTIONS, ids=[a for a, _ in ACTIONS])
async def test_without_an_engine_503(stack, path, body):
    alice = await stack.client("alice")
    err(await alice.call("POST", f"/api/calls/c1/{path}", body), 503, "no_engine")


@pytest.mark.parametrize("path,body", ACTIONS, ids=[a for a, _ in ACTIONS])
async def test_a_call_that_is_not_live_404(stack, engine, path, body):
    alice = await stack.client("alice")
    error = err(await alice.call("POST", f"/api/calls/nope/{path}", body), 404, "not_found")
    assert error["message"] == "no live call nope"


@pytest.mark.parametrize("path,body", ACTIONS, ids=[a for a, _ in ACTIONS])
async def test_an_agent_may_not_control_another_agents_call(stack, engine, path, body):
    flow = await connected_call(stack, engine)
    bob = await stack.client("bob")
    error = err(await bob.call("POST", f"/api/calls/c1/{path}", body), 403, "forbidden")
    assert error["message"] == "an agent may act only on their own call"
    assert engine.ari.requests == [] and flow.features.machine.phase == "idle"


# ---- bad bodies change nothing ----------------------------------------------------------
@pytest.mark.parametrize("body,code,field", [
    ({"target": {"intercom": "1002"}}, "required", "flow"),
    ({"flow": "sideways", "target": {"intercom": "1002"}}, "invalid_choice", "flow"),
    ({"flow": "blind"}, "required", "target"),
    ({"flow": "blind", "target": "1002"}, "invalid_type", "target"),
    ({"flow": "blind", "target": {}}, "invalid", "target"),
    ({"flow": "blind", "target": {"intercom": "1002", "number": "07911 123459"}}, "invalid", "target"),
    ({"flow": "blind", "target": {"phone": "1002"}}, "invalid", "target.phone"),
    ({"flow": "blind", "target": {"intercom": 1002}}, "invalid", "target.intercom"),
    ({"flow": "blind", "target": {"intercom": "  "}}, "invalid", "target.intercom"),
    ({"flow": "blind", "target": {"intercom": "12"}}, "invalid", "target.intercom"),
    ({"flow": "blind", "target": {"code": "2001"}}, "invalid", "target.code"),
    ({"flow": "blind", "target": {"code": "20001", "queue": "yes"}}, "invalid", "target.queue"),
    ({"flow": "blind", "target": {"intercom": "1002", "queue": False}}, "invalid", "target.queue"),
    ({"flow": "blind", "target": {"intercom": "1002"}, "agent": 2}, "unknown_field", "agent"),
])
async def test_a_bad_transfer_body_is_refused_naming_the_field(stack, engine, body, code, field):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    err(await alice.call("POST", "/api/calls/c1/transfers", body), 400, code, field)
    assert engine.ari.requests == [] and flow.features.machine.phase == "idle"
    assert state(stack, ALICE) == ("in_call", "c1") and state(stack, BOB) == ("ready", None)


# ---- the engine's refusals, with its own words --------------------------------------------
@pytest.mark.parametrize("body,status,code,message", [
    ({"flow": "attended", "target": {"intercom": "1003"}}, 409, "agent_unavailable", "agent 1003 is not Ready"),
    ({"flow": "blind", "target": {"intercom": "1003"}}, 409, "agent_unavailable", "agent 1003 is not Ready"),
    ({"flow": "blind", "target": {"intercom": "9999"}}, 422, "unknown_target", "no active agent with intercom 9999"),
    ({"flow": "attended", "target": {"intercom": "1001"}}, 422, "invalid_target",
     "an agent cannot transfer a call to themselves"),
    ({"flow": "blind", "target": {"code": "29999"}}, 422, "unknown_target",
     "no department or IVR has transfer code 29999"),
    ({"flow": "attended", "target": {"code": "20001"}}, 409, "transfer_refused",
     "an attended transfer goes to an agent or an external number"),
    ({"flow": "blind", "target": {"number": "12"}}, 422, "invalid_number", "number: '12' is not a valid phone number"),
])
async def test_refused_transfers_say_why_and_change_nothing(stack, engine, body, status, code, message):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    error = err(await alice.call("POST", "/api/calls/c1/transfers", body), status, code)
    assert error["message"] == message
    assert engine.ari.requests == [] and flow.features.machine.phase == "idle"
    assert state(stack, ALICE) == ("in_call", "c1") and state(stack, CAROL)[0] == "offline"


async def test_external_transfers_need_the_departments_queue_on(stack, engine):
    await connected_call(stack, engine, department_id=SUPPORT)  # Support: "Use it as Queue" off
    alice = await stack.client("alice")
    error = err(await alice.call("POST", "/api/calls/c1/transfers",
                                 {"flow": "blind", "target": {"number": "07911 123459"}}), 409, "queue_off")
    assert error["message"] == "external transfers need the department's \"Use it as Queue\" on"
    _, targets = await alice.call("GET", "/api/calls/c1/transfer-targets")
    assert targets["external"] == {"available": False, "reason": error["message"]}


# ---- consult, then complete / cancel / conference ---------------------------------------
async def test_consult_a_ready_agent_then_complete(stack, engine):
    flow = await connected_call(stack, engine)
    alice, bob = await stack.client("alice"), await stack.client("bob")
    status, started = await alice.call("POST", "/api/calls/c1/transfers", CONSULT_BOB)
    assert status == 201, started
    assert started == {"id": started["id"], "state": "ringing", "flow": "attended",
                       "target": {"kind": "agent", "value": "1002", "queue": True}}
    assert state(stack, BOB) == ("ringing", "c1") and state(stack, ALICE) == ("in_call", "c1")
    recipient = engine.recipient("c1")
    assert [(meth, path) for meth, path, _ in engine.ari.requests] == [
        ("POST", "bridges/call-c1/moh"), ("POST", "bridges/consult-c1"),
        ("POST", "bridges/call-c1/removeChannel"), ("POST", "bridges/consult-c1/addChannel"),
        ("POST", f"channels/{recipient}")]

    pop = await current(alice)
    assert pop["transfer"]["state"] == "ringing" and pop["transfer"]["role"] == "transferring"
    assert pop["transfer"]["target"]["label"] == "Bob Baker (1002)" and pop["transfer"]["by"] == "Alice Archer"
    c = caps(pop)
    assert not c["blind_transfer"]["available"] and not c["attended_transfer"]["available"]
    assert c["blind_transfer"]["reason"] == "a transfer is in progress on this call"
    assert c["conference"] == {**c["conference"], "available": False, "reason": "the recipient has not answered yet"}
    assert c["hangup"]["available"] and c["hangup"]["hint"] == "you leave; the recipient keeps ringing for the caller"
    error = err(await alice.call("POST", "/api/calls/c1/transfers", CONSULT_BOB), 409, "transfer_in_progress")
    assert error["message"] == "a transfer is already in progress on this call"
    err(await alice.call("POST", f"/api/calls/c1/transfers/{started['id']}/complete"), 409, "transfer_refused")
    err(await alice.call("POST", "/api/calls/c1/conference"), 409, "conference_refused")

    await engine.answer("c1")  # bob picks up: alice and bob talk, the caller hears music
    assert state(stack, BOB) == ("in_call", "c1")
    pop = await current(alice)
    assert pop["transfer"]["state"] == "consulting" and caps(pop)["conference"]["available"]
    bob_pop = await current(bob, BOB)  # bob sees the call, but only alice may act on it (bob may leave)
    assert bob_pop["transfer"]["role"] == "recipient"
    assert [cap["name"] for cap in bob_pop["capabilities"] if cap["available"]] == ["hangup"]
    assert bob_pop["capabilities"][0]["reason"].startswith("Alice Archer is transferring this call")
    err(await bob.call("POST", f"/api/calls/c1/transfers/{started['id']}/complete"), 403, "forbidden")
    err(await alice.call("POST", "/api/calls/c1/transfers/not-this-one/complete"), 404, "not_found")

    status, done = await alice.call("POST", f"/api/calls/c1/transfers/{started['id']}/complete")
    assert status == 200 and done["state"] == "done"
    assert state(stack, ALICE) == ("wrap_up", "c1") and state(stack, BOB) == ("in_call", "c1")
    assert flow.agent_id == BOB and flow.agent_channel == recipient
    assert "agent-c1" in flow.hung_up  # alice's leg
    assert flow.events() == ["transfer_started", "transfer_answered", "transfer_completed"]
    assert (await current(alice))["transfer"] is None
    bob_pop = await current(bob, BOB)
    assert bob_pop["transfer"] is None and caps(bob_pop)["blind_transfer"]["available"]


async def test_consult_then_cancel_returns_to_the_caller(stack, engine):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    _, started = await alice.call("POST", "/api/calls/c1/transfers", CONSULT_BOB)
    await engine.answer("c1")
    status, cancelled = await alice.call("POST", f"/api/calls/c1/transfers/{started['id']}/cancel")
    assert status == 200 and cancelled["state"] == "cancelled"
    await engine.settle("c1")
    assert state(stack, BOB) == ("ready", None) and state(stack, ALICE) == ("in_call", "c1")
    assert flow.features.recipient is None and ("DELETE", "bridges/call-c1/moh") in [
        (meth, path) for meth, path, _ in engine.ari.requests]
    pop = await current(alice)
    assert pop["transfer"] is None
    assert caps(pop)["attended_transfer"]["available"] and not caps(pop)["conference"]["available"]
    error = err(await alice.call("POST", f"/api/calls/c1/transfers/{started['id']}/cancel"), 409, "transfer_refused")
    assert error["message"] == "there is no attended transfer to cancel"


async def test_consult_then_conference_then_the_recipient_leaves(stack, engine):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    await alice.call("POST", "/api/calls/c1/transfers", CONSULT_BOB)
    await engine.answer("c1")
    status, merged = await alice.call("POST", "/api/calls/c1/conference")
    assert status == 200 and merged["state"] == "conference"
    pop = await current(alice)
    assert pop["transfer"]["state"] == "conference"
    c = caps(pop)
    assert [n for n, cap in c.items() if cap["available"]] == ["hangup"]
    assert c["conference"]["reason"] == "the call is a conference"
    assert c["hangup"]["hint"] == "you leave; the caller and the recipient stay connected"
    error = err(await alice.call("POST", "/api/calls/c1/transfers", {"flow": "blind", "target": {"code": "20002"}}),
                409, "transfer_refused")
    assert error["message"] == "the call is a conference: transfer once it is back to two parties"

    conference_channel = flow.features.conference_channel
    engine.post("c1", {"type": "StasisEnd", "channel": {"id": conference_channel}})  # bob hangs up
    await engine.settle("c1")
    assert flow.events()[-2:] == ["conference_started", "conference_ended"]
    assert state(stack, BOB) == ("wrap_up", "c1")  # bob talked with the customer: he wraps up
    pop = await current(alice)
    assert pop["transfer"] is None and caps(pop)["blind_transfer"]["available"]


@pytest.mark.parametrize("how,cause,reason", [("fail", BUSY, "busy"), ("fail", 16, "failed"),
                                              ("ring_timeout", None, "no_answer")])
async def test_a_consultation_that_fails_puts_the_agent_back_with_the_caller(stack, engine, how, cause, reason):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    ws = await alice.raw.ws_connect("/ws", headers={"Origin": stack.url.rstrip("/")})
    assert (await ws.receive_json())["type"] == "snapshot"
    await alice.call("POST", "/api/calls/c1/transfers", CONSULT_BOB)
    await (engine.fail("c1", cause) if how == "fail" else engine.ring_timeout("c1"))
    kinds = []
    while "transfer_failed" not in kinds:
        event = await ws.receive_json(timeout=3)
        if event["type"] == "transfer":
            kinds.append(event["kind"])
            last = event
    assert kinds == ["transfer_started", "transfer_failed"]
    assert last["reason"] == reason and last["agent_id"] == ALICE and last["to"] == "1002"
    assert state(stack, BOB) == ("ready", None) and flow.features.machine.phase == "failed"
    pop = await current(alice)
    assert pop["transfer"] is None and caps(pop)["attended_transfer"]["available"]
    await ws.close()


async def test_transfer_events_reach_the_transferring_agent_and_the_recipient_only(stack, engine):
    await connected_call(stack, engine)
    alice, bob, carol = await stack.client("alice"), await stack.client("bob"), await stack.client("carol")
    sockets = [await c.raw.ws_connect("/ws", headers={"Origin": stack.url.rstrip("/")}) for c in (alice, bob, carol)]
    for ws in sockets:
        assert (await ws.receive_json())["type"] == "snapshot"
    await alice.call("POST", "/api/calls/c1/transfers", CONSULT_BOB)
    await engine.answer("c1")
    for ws in sockets[:2]:
        got = []
        while len(got) < 2:
            event = await ws.receive_json(timeout=3)
            if event["type"] == "transfer":
                got.append((event["kind"], event["call_id"], event["recipient_agent_id"]))
        assert got == [("transfer_started", "c1", BOB), ("transfer_answered", "c1", BOB)]
    stack.bus.publish({"type": "agent_changed", "agent_id": CAROL})  # carol's first event is her own
    assert (await sockets[2].receive_json(timeout=3))["type"] == "agent_changed"
    for ws in sockets:
        await ws.close()


# ---- blind transfers ----------------------------------------------------------------------
async def test_blind_transfer_to_a_department_code_reroutes_the_call(stack, engine):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    status, done = await alice.call("POST", "/api/calls/c1/transfers",
                                    {"flow": "blind", "target": {"code": "20001", "queue": False}})
    assert status == 201 and done["state"] == "done"
    assert done["target"] == {"kind": "department", "value": "20001", "queue": False}
    await engine.settle("c1")
    assert state(stack, ALICE) == ("wrap_up", "c1")
    assert state(stack, BOB) == ("ringing", "c1")  # Sales routes it again: bob is Ready
    assert flow.phase == "routing" and flow.events() == ["transfer_started", "transfer_completed"]
    assert (await current(alice))["transfer"] is None


async def test_blind_transfer_to_a_ready_agent_rings_them(stack, engine):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    status, done = await alice.call("POST", "/api/calls/c1/transfers", {"flow": "blind", "target": {"intercom": "1002"}})
    assert status == 201 and done["state"] == "done"
    await engine.settle("c1")
    assert state(stack, ALICE) == ("wrap_up", "c1") and state(stack, BOB) == ("ringing", "c1")
    assert flow.hung_up == ["agent-c1"]


async def test_blind_transfer_to_an_external_number_dials_the_trunk(stack, engine):
    flow = await connected_call(stack, engine, bob_ready=False)
    alice = await stack.client("alice")
    status, ext = await alice.call("POST", "/api/calls/c1/transfers",
                                   {"flow": "blind", "target": {"number": "07911 123459"}})
    assert status == 201 and ext["state"] == "ringing"  # the caller hears music until the far end answers
    assert ext["target"] == {"kind": "external", "value": "+447911123459", "queue": True}
    originate = [params for _, path, params in engine.ari.requests if path == f"channels/{engine.recipient('c1')}"]
    assert originate[0]["endpoint"] == "PJSIP/+447911123459@trunk"
    await engine.settle("c1")
    assert state(stack, ALICE) == ("wrap_up", "c1") and flow.agent_channel is None


# ---- hang-up --------------------------------------------------------------------------------
async def test_hang_up_ends_the_agents_part_and_the_agent_wraps_up(stack, engine):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    status, result = await alice.call("POST", "/api/calls/c1/hangup")
    assert status == 200 and result == {"state": "hanging_up"}
    await engine.settle("c1")
    assert flow.hung_up == ["agent-c1"] and flow.phase == "ended"
    assert state(stack, ALICE) == ("wrap_up", "c1")
    assert flow.events() == ["hangup_requested"]


async def test_hang_up_during_a_consultation_completes_the_transfer(stack, engine):
    flow = await connected_call(stack, engine)
    alice = await stack.client("alice")
    await alice.call("POST", "/api/calls/c1/transfers", CONSULT_BOB)
    await engine.answer("c1")
    status, _ = await alice.call("POST", "/api/calls/c1/hangup")
    assert status == 200
    await engine.settle("c1")
    assert flow.agent_id == BOB and state(stack, BOB) == ("in_call", "c1") and state(stack, ALICE)[0] == "wrap_up"
    assert flow.events()[-2:] == ["hangup_requested", "transfer_completed"]


async def test_a_supervisor_may_control_any_call(stack, engine):
    flow = await connected_call(stack, engine)
    supervisor = await stack.client("supervisor")
    status, started = await supervisor.call("POST", "/api/calls/c1/transfers", CONSULT_BOB)
    assert status == 201
    status, _ = await supervisor.call("POST", f"/api/calls/c1/transfers/{started['id']}/cancel")
    assert status == 200 and flow.features.machine.phase == "cancelled"


# ---- the picker: who can take the call ------------------------------------------------------
async def test_transfer_targets_list_agents_with_their_live_state_and_the_codes(stack, engine):
    await connected_call(stack, engine)
    stack.routing.sign_in(CAROL, SALES)
    stack.routing.set_not_ready(CAROL, "lunch")
    alice = await stack.client("alice")
    status, targets = await alice.call("GET", "/api/calls/c1/transfer-targets")
    assert status == 200
    assert [(a["name"], a["intercom"], a["state_label"], a["selectable"]) for a in targets["agents"]] == [
        ("Bob Baker", "1002", "Ready", True), ("Carol Clark", "1003", "Not ready", False)]  # never alice herself
    assert targets["codes"] == [{"code": "20001", "name": "Sales", "kind": "department"},
                                {"code": "20002", "name": "Support", "kind": "department"},
                                {"code": "30001", "name": "Main menu", "kind": "ivr"}]
    assert targets["external"] == {"available": True, "reason": None}
    stack.routing.set_admin_status(BOB, "blocked")
    _, targets = await alice.call("GET", "/api/calls/c1/transfer-targets")
    assert [(a["intercom"], a["state_label"], a["selectable"]) for a in targets["agents"]] == [
        ("1002", "Blocked", False), ("1003", "Not ready", False)]


async def test_transfer_targets_are_for_the_agents_own_call(stack, engine):
    await connected_call(stack, engine)
    bob, supervisor = await stack.client("bob"), await stack.client("supervisor")
    error = err(await bob.call("GET", "/api/calls/c1/transfer-targets"), 404, "not_found")
    assert error["message"] == "call c1 is not your current call"
    status, targets = await supervisor.call("GET", "/api/calls/c1/transfer-targets")
    assert status == 200 and "1001" not in [a["intercom"] for a in targets["agents"]]  # the call's own agent
    err(await supervisor.call("GET", "/api/calls/nope/transfer-targets"), 404, "not_found")


# ---- capabilities, pure -------------------------------------------------------------------
def test_capabilities_are_unchanged_without_a_transfer_or_a_connected_call():
    base = [{"name": "hangup", "label": "Hang up", "available": False, "reason": "only while the call is connected"}]
    assert during_transfer(base, None) == base
    transfer = {"state": "consulting", "role": "transferring", "by": "Alice Archer"}
    assert during_transfer(base, transfer, connected=False) == base


async def test_the_recipient_hanging_up_a_consultation_gives_the_caller_back(stack, engine):
    flow = await connected_call(stack, engine)
    alice, bob = await stack.client("alice"), await stack.client("bob")
    status, _ = await alice.call("POST", "/api/calls/c1/transfers", CONSULT_BOB)
    assert status == 201
    await engine.answer("c1")
    recipient = flow.features.recipient
    status, body = await bob.call("POST", "/api/calls/c1/hangup")
    assert status == 200 and body["state"] == "hanging_up"
    await engine.settle("c1")
    assert recipient in flow.hung_up
    assert state(stack, ALICE) == ("in_call", "c1") and state(stack, BOB) == ("ready", None)
    assert flow.events()[-1] == "transfer_failed" and (await current(alice))["transfer"] is None
