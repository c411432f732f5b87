"""Inbound routing against the real Asterisk: each strategy, no-answer and reject rollover,
ring timeout, blocked and disabled agents, fallback to the call forwarding number.

Agents are SIPp phones registered with the sandbox; callers are SIPp on the trunk. Agent
states are driven through `engine.routing`, as the agent desktop would.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from engine.routing.service import AgentActionError
from engine.store import models as m
from engine.store.session import session_scope
from tests.integration.routing_env import FORWARD_NUMBER, eventually

pytestmark = pytest.mark.asterisk


def records(url: str) -> list[m.CallRecord]:
    with session_scope(url) as s:
        return list(s.exec(select(m.CallRecord).order_by(m.CallRecord.started_at)).all())


def timeline(url: str, call_id: str) -> list[tuple[str, dict]]:
    with session_scope(url) as s:
        return [(e.kind, e.detail) for e in s.exec(select(m.CallEvent).where(m.CallEvent.call_id == call_id)
                                                     .order_by(m.CallEvent.at, m.CallEvent.id)).all()]


def agent_channels(world, intercom: int) -> list[str]:
    """Channels Asterisk created towards the agent's extension, from the ARI events seen."""
    name = f"PJSIP/agent{intercom}-"
    return sorted({e["channel"]["id"] for e in world.ari_events
                   if e.get("type") == "ChannelCreated" and e["channel"]["name"].startswith(name)}
                  | {e["channel"]["id"] for e in world.ari_events
                     if e.get("type") == "ChannelStateChange" and e["channel"]["name"].startswith(name)})


async def finished(proc, timeout=20) -> int:
    return await asyncio.wait_for(proc.wait(), timeout)


async def test_longest_idle_offers_the_agent_ready_longest(world):
    await world.sipp.phone(2001)
    a2 = await world.sipp.phone(2002)
    world.ready(2002)
    await asyncio.sleep(0.05)
    world.ready(2001)
    caller = await world.sipp.call("longest_idle", 5301, scenario="uac_named.xml", extra=["-d", "1500"])
    assert await finished(caller) == 0
    rec = (await eventually(lambda: [r for r in records(world.url) if r.ended_at], 5))[0]
    assert rec.agent_id == world.agent(2002) and rec.outcome == "answered" and rec.answered_at
    assert world.state(2002) == "wrap_up" and world.state(2001) == "ready"
    assert world.states_of(2002)[-3:] == ["ringing", "in_call", "wrap_up"]
    kinds = [k for k, _ in timeline(world.url, rec.id)]
    assert kinds[:3] == ["offered", "answered", "connected"], kinds
    assert agent_channels(world, 2001) == []
    assert await finished(a2) == 0


async def test_round_robin_takes_turns(world):
    world.auto_wrap_up = True
    for i in (2001, 2002, 2003):
        await world.sipp.phone(i, calls=2)
    world.ready(2001, 2002, 2003, department="round_robin")
    for n in range(4):
        caller = await world.sipp.call("round_robin", 5310 + n, scenario="uac_named.xml", extra=["-d", "300"])
        assert await finished(caller) == 0
        await eventually(lambda n=n: len([r for r in records(world.url) if r.ended_at]) == n + 1, 5)
        await eventually(lambda: all(world.state(i) == "ready" for i in (2001, 2002, 2003)), 5)
    got = [r.agent_id for r in records(world.url)]
    a = world.agent
    assert got == [a(2001), a(2002), a(2003), a(2001)], got


async def test_ring_all_rings_everyone_and_the_first_answer_wins(world):
    a1 = await world.sipp.phone(2001, "uas_answer.xml")
    a2 = await world.sipp.phone(2002, "uas_noanswer.xml")
    world.ready(2001, 2002, department="ring_all")
    caller = await world.sipp.call("ring_all", 5320, scenario="uac_named.xml", extra=["-d", "1000"])
    assert await finished(caller) == 0
    assert await finished(a1) == 0 and await finished(a2) == 0  # 2002 got the CANCEL
    rec = (await eventually(lambda: [r for r in records(world.url) if r.ended_at], 5))[0]
    assert rec.agent_id == world.agent(2001) and rec.outcome == "answered"
    offered = sorted(d["agent_id"] for k, d in timeline(world.url, rec.id) if k == "offered")
    assert offered == sorted([world.agent(2001), world.agent(2002)])
    assert world.state(2002) == "ready" and world.states_of(2002)[-2:] == ["ringing", "ready"]


async def test_fixed_order_rolls_over_on_reject_and_on_no_answer(world):
    """2001 rejects (486) -> 2002 at once; 2002 does not answer in 3 s -> 2003 answers.
    Neither is offered the call again while 2003 is available."""
    a1 = await world.sipp.phone(2001, "uas_reject.xml")
    a2 = await world.sipp.phone(2002, "uas_noanswer.xml")
    a3 = await world.sipp.phone(2003, "uas_answer.xml")
    world.ready(2001, 2002, 2003, department="fixed_order")
    caller = await world.sipp.call("fixed_order", 5330, scenario="uac_named.xml", extra=["-d", "500"])
    assert await finished(caller, 30) == 0
    for p in (a1, a2, a3):
        assert await finished(p) == 0
    rec = (await eventually(lambda: [r for r in records(world.url) if r.ended_at], 5))[0]
    assert rec.agent_id == world.agent(2003) and rec.outcome == "answered"
    events = timeline(world.url, rec.id)
    offers = [d["agent_id"] for k, d in events if k == "offered"]
    a = world.agent
    assert offers == [a(2001), a(2002), a(2003)], events
    no_answer = [d for k, d in events if k == "no_answer"]
    assert [d["agent_id"] for d in no_answer] == [a(2001), a(2002)]
    assert no_answer[1].get("reason") == "timeout"
    answered_at, started = rec.answered_at, rec.started_at
    assert (answered_at - started).total_seconds() >= 3  # 2002 rang out the ring timeout
    assert world.state(2001) == "ready" and world.state(2002) == "ready"


async def test_blocked_and_disabled_agents_are_never_rung(world):
    for i in (2001, 2002, 2003):
        await world.sipp.phone(i, calls=2, timeout=20)
    world.ready(2001, 2002, 2003)
    routing = world.engine.routing
    routing.set_admin_status(world.agent(2001), "blocked")
    routing.set_admin_status(world.agent(2002), "disabled")
    assert world.state(2001) == "offline" and world.state(2002) == "offline"
    for intercom in (2001, 2002):
        with pytest.raises(AgentActionError):
            routing.sign_in(world.agent(intercom), world.dept("longest_idle"))
    world.auto_wrap_up = True
    for n in range(2):
        caller = await world.sipp.call("longest_idle", 5340 + n, scenario="uac_named.xml", extra=["-d", "300"])
        assert await finished(caller) == 0
        await eventually(lambda: world.state(2003) == "ready", 5)
    assert {r.agent_id for r in records(world.url)} == {world.agent(2003)}
    assert agent_channels(world, 2001) == [] and agent_channels(world, 2002) == []


async def test_an_agent_whose_phone_rejects_is_reached_on_the_call_forwarding_number(world):
    """Agent 2010's extension rejects; the engine dials the forwarding number on the trunk."""
    a10 = await world.sipp.phone(2010, "uas_reject.xml")
    carrier = await world.sipp.start("uas_answer.xml", port=world.engine.settings.trunk_port, timeout=20)
    world.ready(2010)
    caller = await world.sipp.call("longest_idle", 5350, scenario="uac_named.xml", extra=["-d", "1000"])
    assert await finished(caller) == 0
    assert await finished(a10) == 0 and await finished(carrier) == 0
    rec = (await eventually(lambda: [r for r in records(world.url) if r.ended_at], 5))[0]
    assert rec.agent_id == world.agent(2010) and rec.outcome == "answered"
    endpoints = [d["endpoint"] for k, d in timeline(world.url, rec.id) if k == "offered"]
    assert endpoints == ["PJSIP/agent2010", f"PJSIP/{FORWARD_NUMBER}@trunk"]
    with session_scope(world.url) as s:
        legs = {leg.role: leg for leg in s.exec(select(m.CallLeg).where(m.CallLeg.call_id == rec.id)).all()}
    assert legs["external"].answered_at is not None and legs["external"].agent_id == world.agent(2010)


async def test_direct_line_and_ivr_reach_the_agent(world):
    world.auto_wrap_up = True
    await world.sipp.phone(2001, calls=2)
    world.ready(2001)
    caller = await world.sipp.call("direct", 5360, scenario="uac_named.xml", extra=["-d", "500"])
    assert await finished(caller) == 0
    await eventually(lambda: world.state(2001) == "ready", 5)
    ivr_caller = await world.sipp.call("ivr", 5361, scenario="uac_ivr.xml", extra=["-d", "800", "-key", "digit", "1"])
    await eventually(lambda: world.state(2001) == "in_call", 10)
    await world.ari("DELETE", f"channels/{next(iter(world.engine.calls.values())).caller_channel_id}")
    assert await finished(ivr_caller) == 0
    recs = await eventually(lambda: [r for r in records(world.url) if r.ended_at] if len(
        [r for r in records(world.url) if r.ended_at]) == 2 else None, 5)
    assert [r.agent_id for r in recs] == [world.agent(2001)] * 2
    assert recs[0].department_id is None and recs[1].department_id == world.dept("longest_idle")
    kinds = [k for k, _ in timeline(world.url, recs[1].id)]
    assert kinds[:2] == ["ivr", "ivr_digit"] and "connected" in kinds


async def test_agent_dials_an_intercom_and_an_external_number(world):
    """Extension calls are delivered like any other (ring, answer, record); an external
    number dialled nationally from a GB phone goes out on the trunk in E.164."""
    callee = await world.sipp.phone(2002)
    world.ready(2002)
    dialler = await world.sipp.start("agent_dial.xml", port=7151, timeout=20, extra=["-d", "500"],
                                     keys={"user": "agent2001", "dialled": "2002"},
                                     auth=("agent2001", "test-secret-2001"))
    assert await finished(dialler) == 0 and await finished(callee) == 0
    rec = (await eventually(lambda: [r for r in records(world.url) if r.ended_at], 5))[0]
    assert rec.direction == "internal" and rec.agent_id == world.agent(2002) and rec.outcome == "answered"
    assert await eventually(lambda: world.state(2002) == "wrap_up", 3)

    carrier = await world.sipp.start("uas_answer.xml", port=world.engine.settings.trunk_port, timeout=20)
    dialler = await world.sipp.start("agent_dial.xml", port=7152, timeout=20, extra=["-d", "500"],
                                     keys={"user": "agent2001", "dialled": "07911123459"},
                                     auth=("agent2001", "test-secret-2001"))
    assert await finished(dialler) == 0 and await finished(carrier) == 0
    recs = await eventually(lambda: [r for r in records(world.url) if r.ended_at and r.direction == "outbound"], 5)
    assert recs[0].outcome == "answered" and recs[0].agent_id == world.agent(2001)
    assert ("dialled", {"number": FORWARD_NUMBER, "agent_id": world.agent(2001)}) in timeline(world.url, recs[0].id)
