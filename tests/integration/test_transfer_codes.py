"""Transfers and conference by feature code, against the real Asterisk.

A caller (SIPp on the trunk) reaches agent 2006 through the `T longest_idle` department
(queue on); 2006's SIPp answers and keys a feature code over SIP INFO; other agents' SIPp
phones (or the carrier on the trunk) are the recipients. Each test reads as a scenario and
ends with the harness's check that no channel or bridge is left behind.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from engine.store import models as m
from engine.store.session import session_scope
from tests.integration.routing_env import FORWARD_NUMBER, agent_port, eventually
from tests.integration.transfer_env import agent_scenario

# Whole module deselected (wip): these pass one by one but not yet reliably in a run; see
# the call-control issue note. Remove the wip mark once they are green in a row.
pytestmark = [pytest.mark.asterisk, pytest.mark.wip]


def timeline(url: str, call_id: str) -> list[tuple[str, dict]]:
    with session_scope(url) as s:
        return [(e.kind, e.detail) for e in s.exec(select(m.CallEvent).where(m.CallEvent.call_id == call_id)
                                                     .order_by(m.CallEvent.at, m.CallEvent.id)).all()]


def kinds(url: str, call_id: str) -> list[str]:
    return [k for k, _ in timeline(url, call_id)]


async def agent_keys(world, intercom: int, steps: list[tuple], timeout: float = 40):
    """Register `intercom` and start its phone: answer, then the steps (keys over INFO)."""
    await world.sipp.register(intercom)
    path = agent_scenario(world.sipp.workdir / f"agent{intercom}-{len(world.sipp.procs)}.xml", steps)
    return await world.sipp.start(path, port=agent_port(intercom), timeout=timeout)


async def connected_call(world, port: int = 5601):
    """Start a caller to `T longest_idle`; returns (caller proc, LiveCall) once connected to 2006."""
    caller = await world.sipp.call("longest_idle", port, scenario="uac_wait_bye.xml", timeout=40)
    assert await eventually(lambda: world.state(2006) == "in_call", 10), world.states_of(2006)
    call = next(iter(world.engine.calls.values()))
    return caller, call


async def bridge_members(world, call) -> list[str]:
    bridges = {b["id"]: b for b in await world.ari("GET", "bridges")}
    return sorted(bridges.get(f"call-{call.id}", {}).get("channels", []))


async def hang_up_caller(world, call, caller):
    await world.ari("DELETE", f"channels/{call.caller_channel_id}")
    assert await asyncio.wait_for(caller.wait(), 10) == 0


async def test_hash1_intercom_is_a_blind_transfer_to_that_agent(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "#12007#")])
    a2 = await world.sipp.phone(2007)
    world.ready(2006, 2007)
    world.engine.routing.set_not_ready(world.agent(2007), None)  # 2007 gets the first call only by transfer
    caller, call = await connected_call(world)
    world.engine.routing.set_ready(world.agent(2007))
    assert await asyncio.wait_for(a1.wait(), 10) == 0  # 2006's leg was hung up by the transfer
    assert await eventually(lambda: world.state(2007) == "in_call", 10)
    assert world.state(2006) == "wrap_up"
    assert len(await bridge_members(world, call)) == 2
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    k = await eventually(lambda: (lambda ks: ks if "transfer_completed" in ks else None)(kinds(world.url, call.id)), 5)
    assert k.index("transfer_started") < k.index("transfer_completed")
    with session_scope(world.url) as s:
        assert s.get(m.CallRecord, call.id).agent_id == world.agent(2007)


async def test_attended_transfer_completes_when_the_agent_hangs_up(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "*22007"), ("pause", 1500), ("bye",)])
    a2 = await world.sipp.phone(2007)
    world.ready(2006)
    caller, call = await connected_call(world)
    world.ready(2007)
    assert await asyncio.wait_for(a1.wait(), 15) == 0
    assert await eventually(lambda: world.state(2007) == "in_call", 5)
    assert await eventually(lambda: world.state(2006) == "wrap_up", 5), world.state(2006)
    assert await eventually(lambda: bridge_members(world, call), 5)
    members = await bridge_members(world, call)
    assert len(members) == 2 and call.caller_channel_id in members
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    k = await eventually(lambda: (lambda ks: ks if "transfer_completed" in ks else None)(kinds(world.url, call.id)), 5)
    assert [x for x in k if x.startswith("transfer_")][:4] == [
        "transfer_started", "transfer_dialled", "transfer_answered", "transfer_completed"], k


@pytest.mark.parametrize("scenario,reason", [
    ("uas_reject.xml", "busy"),
    pytest.param("uas_noanswer.xml", "no_answer", marks=pytest.mark.wip),
    pytest.param("uas_answer_hangup.xml", "hangup", marks=pytest.mark.wip)])
async def test_attended_transfer_returns_the_caller_when_the_recipient_fails(world, scenario, reason):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "*22007")])
    extra = ["-d", "800"] if scenario == "uas_answer_hangup.xml" else []
    a2 = await world.sipp.phone(2007, scenario, extra=extra)
    world.ready(2006)
    caller, call = await connected_call(world)
    world.ready(2007)
    failed = await eventually(lambda: [d for k, d in timeline(world.url, call.id) if k == "transfer_failed"], 15)
    assert failed and failed[0]["reason"] == reason, timeline(world.url, call.id)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    # Back as it was: caller and 2006 in the call's bridge, no music, 2007 Ready again.
    members = await eventually(lambda: bridge_members(world, call), 5)
    assert len(members) == 2 and call.caller_channel_id in members
    assert world.state(2006) == "in_call" and world.state(2007) == "ready"
    assert not [b for b in await world.ari("GET", "bridges") if b["id"].startswith("consult-")]
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a1.wait(), 10) == 0


@pytest.mark.wip
async def test_star3_during_the_consultation_makes_a_conference(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "*22007"), ("pause", 1200), ("keys", "*3")])
    a2 = await world.sipp.phone(2007)
    world.ready(2006)
    caller, call = await connected_call(world)
    world.ready(2007)
    assert await eventually(lambda: "conference_started" in kinds(world.url, call.id), 15)
    async def three():
        return len(await bridge_members(world, call)) == 3

    assert await eventually(three, 5)
    members = await bridge_members(world, call)
    assert len(members) == 3 and call.caller_channel_id in members
    assert world.state(2006) == "in_call" and world.state(2007) == "in_call"
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a1.wait(), 10) == 0 and await asyncio.wait_for(a2.wait(), 10) == 0
    assert await eventually(lambda: world.state(2007) == "wrap_up" and world.state(2006) == "wrap_up", 5)


async def test_unknown_intercom_plays_the_error_tone_and_changes_nothing(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "#19998#")])
    world.ready(2006)
    caller, call = await connected_call(world)
    refused = await eventually(lambda: [d for k, d in timeline(world.url, call.id) if k == "feature_code_refused"], 10)
    assert refused and refused[0]["digits"] == "#19998"
    tones = [e for e in world.ari_events if e.get("type") == "PlaybackStarted"
             and e["playback"]["media_uri"].startswith("tone:") and
             e["playback"]["target_uri"] == f"channel:{world.engine.calls[call.id].flow.agent_channel}"]
    assert tones, "no error tone played to the agent"
    assert len(await bridge_members(world, call)) == 2 and world.state(2006) == "in_call"
    # The digits were absorbed: the caller's channel never saw a DTMF event.
    assert not [e for e in world.ari_events if e.get("type") == "ChannelDtmfReceived"
                and e["channel"]["id"] == call.caller_channel_id]
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a1.wait(), 10) == 0


async def test_an_incomplete_code_times_out_with_the_error_tone(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "*2")])
    world.ready(2006)
    caller, call = await connected_call(world)
    refused = await eventually(lambda: [d for k, d in timeline(world.url, call.id) if k == "feature_code_refused"], 10)
    assert refused and "timeout" in refused[0]["reason"]
    assert len(await bridge_members(world, call)) == 2 and world.state(2006) == "in_call"
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a1.wait(), 10) == 0


async def test_hash4_external_blind_transfer_goes_out_on_the_trunk(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "#407911123459#")])
    world.ready(2006)
    carrier = await world.sipp.start("uas_answer.xml", port=world.engine.settings.trunk_port, timeout=30)
    caller, call = await connected_call(world)
    assert await asyncio.wait_for(a1.wait(), 10) == 0
    assert await eventually(lambda: "transfer_completed" in kinds(world.url, call.id), 10)
    dialled = [d for k, d in timeline(world.url, call.id) if k == "transfer_dialled"]
    assert dialled[0]["endpoint"] == f"PJSIP/{FORWARD_NUMBER}@trunk"
    assert world.state(2006) == "wrap_up"
    assert len(await bridge_members(world, call)) == 2
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(carrier.wait(), 10) == 0


@pytest.mark.wip
async def test_caller_hanging_up_during_the_consultation_leaves_agent_and_recipient_talking(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "*22007"), ("pause", 2500), ("bye",)])
    a2 = await world.sipp.phone(2007)
    world.ready(2006)
    caller, call = await connected_call(world)
    world.ready(2007)
    assert await eventually(lambda: "transfer_answered" in kinds(world.url, call.id), 10)
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a1.wait(), 10) == 0  # 2006 hangs up the consultation later
    assert await asyncio.wait_for(a2.wait(), 10) == 0  # ...which ends 2007's leg too
    assert "transfer_caller_left" in kinds(world.url, call.id)
