"""Transfers and conference by feature code, against the real Asterisk.

A caller (SIPp on the trunk) reaches agent 2006 through the `T longest_idle` department
(queue on); 2006's SIPp answers and keys a feature code over SIP INFO; other agents' SIPp
phones (or the carrier on the trunk) are the recipients. Each test reads as a scenario and
ends with the harness's check that no channel or bridge is left behind.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

from engine.features.dtmf import ERROR_TONE
from engine.store import models as m
from engine.store.session import session_scope
from tests.integration.routing_env import FORWARD_NUMBER, TRANSFER_CODES, eventually
from tests.integration.transfer_env import (
    WAIT_BYE,
    agent_keys,
    bridge_members,
    connected_call,
    hang_up_caller,
    kinds,
    kinds_once,
    members_once,
    timeline,
)

pytestmark = [pytest.mark.asterisk]


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
    k = await kinds_once(world, call, "transfer_completed")
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
    members = await members_once(world, call, 2)
    assert len(members) == 2 and call.caller_channel_id in members
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    k = await kinds_once(world, call, "transfer_completed")
    assert [x for x in k if x.startswith("transfer_")][:4] == [
        "transfer_started", "transfer_dialled", "transfer_answered", "transfer_completed"], k


@pytest.mark.parametrize("scenario,reason", [
    ("uas_reject.xml", "busy"),
    ("uas_noanswer.xml", "no_answer"),
    ("uas_answer_hangup.xml", "hangup")])
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
    members = await members_once(world, call, 2)
    assert len(members) == 2 and call.caller_channel_id in members
    assert world.state(2006) == "in_call" and world.state(2007) == "ready"
    assert not [b for b in await world.ari("GET", "bridges") if b["id"].startswith("consult-")]
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a1.wait(), 10) == 0


async def test_star3_during_the_consultation_makes_a_conference(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "*22007"), ("pause", 1200), ("keys", "*3")])
    a2 = await world.sipp.phone(2007)
    world.ready(2006)
    caller, call = await connected_call(world)
    world.ready(2007)
    assert await eventually(lambda: "conference_started" in kinds(world.url, call.id), 15)
    members = await members_once(world, call, 3)
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
    # ...as one whole indication (a tone string inline would be split by ARI at its commas,
    # and every piece after the first fail), stopped by the engine once it has played.
    ended = await eventually(lambda: [e for e in world.ari_events if e.get("type") == "PlaybackFinished"
                                      and e["playback"]["id"] == tones[0]["playback"]["id"]], 5)
    assert ended and ended[0]["playback"]["state"] == "done", ended
    assert ended[0]["playback"]["media_uri"] == ERROR_TONE
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


async def test_hash1_code_sends_the_caller_to_a_department_with_queue_off(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "#1" + TRANSFER_CODES["round_robin"])])
    a2 = await world.sipp.phone(2007)
    world.ready(2006)
    caller, call = await connected_call(world)
    world.ready(2007, department="round_robin")
    assert await asyncio.wait_for(a1.wait(), 10) == 0
    assert await eventually(lambda: world.state(2007) == "in_call", 10), world.states_of(2007)
    assert world.state(2006) == "wrap_up"
    with session_scope(world.url) as s:
        record = s.get(m.CallRecord, call.id)
        assert record.department_id == world.dept("round_robin") and record.agent_id == world.agent(2007)
    started = [d for k, d in timeline(world.url, call.id) if k == "transfer_started"]
    assert started[0]["target"] == "department" and started[0]["to"] == TRANSFER_CODES["round_robin"]
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0


async def test_queue_off_with_nobody_free_overflows_but_queue_on_waits_for_an_agent(world):
    """`T round_robin` has no queue and overflows to busy: `#1` (queue off) with nobody Ready
    there sends the caller to that overflow; `#2` (queue on) keeps the caller waiting, with
    music, until an agent of the department becomes Ready."""
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "#2" + TRANSFER_CODES["round_robin"])])
    a2 = await world.sipp.phone(2007)
    world.ready(2006)
    caller, call = await connected_call(world)
    assert await asyncio.wait_for(a1.wait(), 10) == 0
    assert await eventually(lambda: call.id in world.engine.routing.dispatcher.waiting_calls(world.dept("round_robin")), 5)
    assert call.flow.phase == "waiting" and caller.returncode is None  # queued with music, not overflowed
    world.ready(2007, department="round_robin")
    assert await eventually(lambda: world.state(2007) == "in_call", 10), world.states_of(2007)
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0

    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "#1" + TRANSFER_CODES["round_robin"])])
    world.engine.routing.finish_wrap_up(world.agent(2006), "resolved")  # Ready again
    caller, second = await connected_call(world, port=5602, exclude={call.id})
    assert await asyncio.wait_for(a1.wait(), 10) == 0
    assert await eventually(lambda: "overflow" in kinds(world.url, second.id), 10), kinds(world.url, second.id)
    assert [d for k, d in timeline(world.url, second.id) if k == "overflow"][0]["action"] == "busy"
    assert await asyncio.wait_for(caller.wait(), 10) == 0  # the busy overflow hung the caller up


async def test_hash1_code_of_an_ivr_puts_the_caller_in_that_menu(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "#1" + TRANSFER_CODES["ivr"])])
    world.ready(2006)
    caller, call = await connected_call(world)
    assert await asyncio.wait_for(a1.wait(), 10) == 0
    assert await eventually(lambda: "ivr" in kinds(world.url, call.id), 5), kinds(world.url, call.id)
    assert call.flow.phase == "ivr" and world.state(2006) == "wrap_up"
    assert not await world.ari("GET", "bridges")  # the call's bridge went with the agent
    await hang_up_caller(world, call, caller)


async def test_star4_external_attended_transfer_consults_the_number_then_hands_over(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("keys", "*4" + "07911123459#"), ("pause", 1500), ("bye",)])
    world.ready(2006)
    carrier = await world.sipp.start("uas_answer.xml", port=world.engine.settings.trunk_port, timeout=30)
    caller, call = await connected_call(world)
    assert await eventually(lambda: "transfer_answered" in kinds(world.url, call.id), 10), kinds(world.url, call.id)
    consult = [b for b in await world.ari("GET", "bridges") if b["id"].startswith("consult-")]
    assert len(consult) == 1 and len(consult[0]["channels"]) == 2  # 2006 talks to the number
    assert await asyncio.wait_for(a1.wait(), 10) == 0  # 2006 hangs up: the transfer completes
    assert await eventually(lambda: "transfer_completed" in kinds(world.url, call.id), 5)
    dialled = [d for k, d in timeline(world.url, call.id) if k == "transfer_dialled"]
    assert dialled[0]["endpoint"] == f"PJSIP/{FORWARD_NUMBER}@trunk"
    members = await members_once(world, call, 2)
    assert len(members) == 2 and call.caller_channel_id in members
    assert world.state(2006) == "wrap_up"
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(carrier.wait(), 10) == 0


async def test_the_phones_own_transfer_button_refer_goes_through_the_same_transfer(world):
    a1 = await agent_keys(world, 2006, [("pause", 400), ("refer", "2007")])
    a2 = await world.sipp.phone(2007)
    world.ready(2006, 2007)
    world.engine.routing.set_not_ready(world.agent(2007), None)  # 2007 gets the call only by transfer
    caller, call = await connected_call(world)
    world.engine.routing.set_ready(world.agent(2007))
    assert await asyncio.wait_for(a1.wait(), 10) == 0, world.sipp.errors(world.sipp.procs[1][2])
    assert await eventually(lambda: world.state(2007) == "in_call", 10), world.states_of(2007)
    assert world.state(2006) == "wrap_up"
    started = next(d for k, d in timeline(world.url, call.id) if k == "transfer_started")
    assert started["via"] == "refer" and started["to"] == "2007"
    members = await members_once(world, call, 2)
    assert len(members) == 2 and call.caller_channel_id in members
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0


async def test_rfc4733_key_presses_from_a_softphone_work_like_info_digits(world):
    """Real softphones send DTMF as RFC 4733 RTP events (the agents' dtmf_mode). The engine
    acts on a key as it goes down (AMI DTMFBegin) and drops the same key's end (ARI)."""
    a1 = await agent_keys(world, 2006, [("pause", 300), ("rtp_keys",), ("pause", 1500), ("bye",)],
                          rtp_keys="*22007")
    a2 = await world.sipp.phone(2007)
    world.ready(2006)
    caller, call = await connected_call(world)
    agent_channel = call.flow.agent_channel
    world.ready(2007)
    await kinds_once(world, call, "transfer_answered", timeout=10)
    started = [d for k, d in timeline(world.url, call.id) if k == "transfer_started"]
    assert len(started) == 1 and started[0]["to"] == "2007" and started[0]["flow"] == "attended"
    assert "feature_code_refused" not in kinds(world.url, call.id)
    # Each press reached Asterisk as a digit of its own and was counted once (a digit counted
    # twice would have made another code), and the engine acted on the last key going down:
    # the consultation bridge came before ARI reported that key's end (if it did at all).
    events = world.ari_events
    ends = [(i, e["digit"]) for i, e in enumerate(events) if e.get("type") == "ChannelDtmfReceived"
            and e["channel"]["id"] == agent_channel]
    assert "*22007".startswith("".join(d for _, d in ends)) and len(ends) >= 5, ends
    consult = next(i for i, e in enumerate(events) if e.get("type") == "ChannelEnteredBridge"
                   and e["bridge"]["id"].startswith("consult-"))
    assert len(ends) == 5 or consult < ends[5][0]
    assert await asyncio.wait_for(a1.wait(), 10) == 0  # 2006 hangs up: the transfer completes
    await kinds_once(world, call, "transfer_completed")
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0


async def test_the_phones_attended_transfer_refer_with_replaces_joins_its_consultation(world):
    """As a softphone does it, with two lines of agent 2006's (two SIPp, one account): line 2
    calls 2007 (the consultation, an internal call), line 1 takes the customer's call, then
    line 1 sends REFER with Replaces naming line 2's call. The engine joins 2007 to the
    customer, ends the consultation and line 1's leg, and 2006 wraps up."""
    from tests.integration.routing_env import agent_password
    from tests.sipp_helpers import SCENARIOS

    world.ready(2007)
    a2 = await world.sipp.phone(2007)
    # Line 2: agent_dial.xml, waiting for the BYE instead of hanging up itself.
    text = (SCENARIOS / "agent_dial.xml").read_text()
    line2 = world.sipp.workdir / "consult_line.xml"
    line2.parent.mkdir(parents=True, exist_ok=True)
    line2.write_text(text[:text.index("  <pause/>")] + WAIT_BYE + "</scenario>\n")
    consult = await world.sipp.start(str(line2.resolve()), port=world.sipp.agent_port(2006) + 50, timeout=30,
                                     keys={"user": "agent2006", "dialled": "2007"},
                                     auth=("agent2006", agent_password(2006)))
    assert await eventually(lambda: world.state(2007) == "in_call", 5), world.states_of(2007)
    consultation = next(iter(world.engine.calls.values()))
    # SIPp's own Call-ID and From tag for its first call; Asterisk's tag is not known here
    # (Asterisk then names the consultation by its SIP Call-ID only).
    replaces = quote(f"1-{consult.pid}@127.0.0.1;to-tag=unknown;from-tag={consult.pid}SIPpTag081", safe="")
    a1 = await agent_keys(world, 2006, [("pause", 800), ("refer", f"2007@127.0.0.1?Replaces={replaces}")])
    world.ready(2006)
    caller, call = await connected_call(world, exclude={consultation.id})
    completed = await kinds_once(world, call, "transfer_completed", timeout=10)
    assert "transfer_started" in completed
    started = next(d for k, d in timeline(world.url, call.id) if k == "transfer_started")
    assert started["via"] == "refer" and started["flow"] == "attended" and started["to"] == "2007"
    assert await asyncio.wait_for(a1.wait(), 10) == 0  # line 1: NOTIFY 200, then the engine's BYE
    assert await asyncio.wait_for(consult.wait(), 10) == 0  # line 2: the consultation was ended
    assert "transferred_away" in await kinds_once(world, consultation, "transferred_away")
    members = await members_once(world, call, 2)
    assert call.caller_channel_id in members and call.flow.agent_id == world.agent(2007)
    assert world.state(2007) == "in_call" and "wrap_up" not in world.states_of(2007)
    assert await eventually(lambda: world.state(2006) == "wrap_up", 5)
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    assert await eventually(lambda: world.state(2007) == "wrap_up", 5)
