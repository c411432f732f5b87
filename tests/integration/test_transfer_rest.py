"""Transfers, conference and hang-up by REST, against the real Asterisk.

The desktop's requests (`POST /api/calls/{id}/transfers`, `.../complete`, `.../cancel`,
`.../conference`, `.../hangup`; web/api/calls.py, whose HTTP mapping is tested in tests/web)
all go through the engine's `CallControl.request`, which hands them to the call's actor.
These tests make that same request on a real call: a SIPp caller on the trunk reaches agent
2006 through `T longest_idle`; 2007's SIPp phone is the recipient.
"""

from __future__ import annotations

import asyncio

import pytest

from engine.features.transfers import ControlError
from engine.store.calls import CallRecord
from engine.store.session import session_scope
from tests.integration.routing_env import eventually
from tests.integration.transfer_env import (
    bridge_members,
    connected_call,
    hang_up_caller,
    kinds,
    kinds_once,
    members_once,
    timeline,
)

pytestmark = pytest.mark.asterisk


async def request(world, call, action: str, by: int = 2006, **args) -> dict:
    return await world.engine.routing.call_control.request(call.id, action, agent_id=world.agent(by), **args)


async def refused(world, call, action: str, by: int = 2006, **args) -> ControlError:
    with pytest.raises(ControlError) as caught:
        await request(world, call, action, by=by, **args)
    return caught.value


async def two_phones(world, recipient: str = "uas_answer.xml"):
    a1 = await world.sipp.phone(2006)
    a2 = await world.sipp.phone(2007, recipient)
    world.ready(2006)
    caller, call = await connected_call(world)
    world.ready(2007)
    return a1, a2, caller, call


async def consulting(world, call) -> dict:
    started = await request(world, call, "transfer", flow="attended", kind="agent", value="2007")
    assert started["state"] == "ringing" and started["flow"] == "attended" and started["id"]
    assert await eventually(lambda: "transfer_answered" in kinds(world.url, call.id), 10), kinds(world.url, call.id)
    return started


async def test_blind_transfer_by_rest_hands_the_caller_to_the_agent(world):
    a1, a2, caller, call = await two_phones(world)
    result = await request(world, call, "transfer", flow="blind", kind="agent", value="2007")
    assert result["flow"] == "blind" and result["target"] == {"kind": "agent", "value": "2007", "queue": True}
    assert await asyncio.wait_for(a1.wait(), 10) == 0
    assert await eventually(lambda: world.state(2007) == "in_call", 10), world.states_of(2007)
    assert world.state(2006) == "wrap_up"
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    assert next(d for k, d in timeline(world.url, call.id) if k == "transfer_started")["via"] == "rest"


async def test_attended_transfer_complete_and_a_second_transfer_is_refused(world):
    a1, a2, caller, call = await two_phones(world)
    started = await consulting(world, call)
    second = await refused(world, call, "transfer", flow="blind", kind="agent", value="2008")
    assert (second.status, second.code) == (409, "transfer_in_progress")
    wrong = await refused(world, call, "complete", transfer_id="not-this-one")
    assert wrong.status == 404
    members = await bridge_members(world, call)
    assert members == [call.caller_channel_id]  # the caller waits alone (with music)
    done = await request(world, call, "complete", transfer_id=started["id"])
    assert done["state"] == "done"
    assert await asyncio.wait_for(a1.wait(), 10) == 0  # 2006's leg was hung up
    members = await members_once(world, call, 2)
    assert len(members) == 2 and call.caller_channel_id in members
    assert world.state(2006) == "wrap_up" and world.state(2007) == "in_call"
    assert not [b for b in await world.ari("GET", "bridges") if b["id"].startswith("consult-")]
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    k = await kinds_once(world, call, "transfer_completed")
    assert k.index("transfer_started") < k.index("transfer_answered") < k.index("transfer_completed")


async def test_attended_transfer_cancel_brings_the_agent_back_to_the_caller(world):
    a1, a2, caller, call = await two_phones(world)
    started = await consulting(world, call)
    result = await request(world, call, "cancel", transfer_id=started["id"])
    assert result["state"] == "cancelled"
    assert await asyncio.wait_for(a2.wait(), 10) == 0  # the recipient was hung up
    members = await members_once(world, call, 2)
    assert len(members) == 2 and call.caller_channel_id in members
    assert world.state(2006) == "in_call" and world.state(2007) == "ready"
    again = await refused(world, call, "cancel", transfer_id=started["id"])
    assert again.status == 409
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a1.wait(), 10) == 0
    assert await eventually(lambda: "transfer_cancelled" in kinds(world.url, call.id), 5)


def record_agent(url: str, call_id: str) -> int | None:
    with session_scope(url) as session:
        return session.get(CallRecord, call_id).agent_id


async def test_conference_by_rest_then_the_agent_leaves_and_the_call_goes_on(world):
    a1, a2, caller, call = await two_phones(world)
    not_yet = await refused(world, call, "merge")
    assert (not_yet.status, not_yet.code) == (409, "conference_refused")
    await consulting(world, call)
    merged = await request(world, call, "merge")
    assert merged["state"] == "conference"

    members = await members_once(world, call, 3)
    during = await refused(world, call, "transfer", flow="blind", kind="agent", value="2008")
    assert during.status == 409
    assert (await request(world, call, "hangup"))["state"] == "hanging_up"  # 2006 leaves
    assert await asyncio.wait_for(a1.wait(), 10) == 0
    members = await eventually(lambda: (lambda m: m if len(m) == 2 else None)(
        [c for c in (call.caller_channel_id, call.flow.agent_channel) if c]), 5)
    assert members and await eventually(lambda: world.state(2006) == "wrap_up", 5)
    assert world.state(2007) == "in_call" and call.flow.agent_id == world.agent(2007)
    assert await eventually(lambda: record_agent(world.url, call.id) == world.agent(2007), 5)  # history follows
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    k = await kinds_once(world, call, "conference_ended")
    assert k and k.index("conference_started") < k.index("conference_ended"), kinds(world.url, call.id)


async def test_hangup_by_rest_ends_a_two_party_call(world):
    a1 = await world.sipp.phone(2006)
    world.ready(2006)
    caller, call = await connected_call(world)
    other = await refused(world, call, "hangup", by=2007)
    assert other.status == 403
    assert (await request(world, call, "hangup"))["state"] == "hanging_up"
    assert await asyncio.wait_for(a1.wait(), 10) == 0
    assert await asyncio.wait_for(caller.wait(), 10) == 0  # the caller got the BYE
    assert await eventually(lambda: world.state(2006) == "wrap_up", 5)


async def test_refusals_name_the_reason_and_change_nothing(world):
    a1, a2, caller, call = await two_phones(world)
    unknown = await refused(world, call, "transfer", flow="blind", kind="agent", value="2999")
    assert (unknown.status, unknown.code) == (422, "unknown_target")
    world.engine.routing.set_not_ready(world.agent(2007), None)
    busy = await refused(world, call, "transfer", flow="attended", kind="agent", value="2007")
    assert (busy.status, busy.code) == (409, "agent_unavailable")
    self_transfer = await refused(world, call, "transfer", flow="blind", kind="agent", value="2006")
    assert self_transfer.code == "invalid_target"
    code = await refused(world, call, "transfer", flow="blind", kind="code", value="39999")
    assert (code.status, code.code) == (422, "unknown_target")
    number = await refused(world, call, "transfer", flow="blind", kind="external", value="not a number")
    assert (number.status, number.code) == (422, "invalid_number")
    attended_code = await refused(world, call, "transfer", flow="attended", kind="code", value="31002")
    assert attended_code.status == 409
    # Nothing changed: the same two parties, no transfer on the timeline.
    assert len(await bridge_members(world, call)) == 2 and world.state(2006) == "in_call"
    assert not [k for k in kinds(world.url, call.id) if k.startswith("transfer_")]
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a1.wait(), 10) == 0



async def test_the_recipient_leaving_a_consultation_by_rest_gives_the_caller_back(world):
    a1, a2, caller, call = await two_phones(world)
    await consulting(world, call)
    refused_complete = await refused(world, call, "merge", by=2007)
    assert refused_complete.status == 403  # only the transferring agent steers the transfer
    assert (await request(world, call, "hangup", by=2007))["state"] == "hanging_up"
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    failed = await kinds_once(world, call, "transfer_failed")
    assert "hangup_requested" in failed
    members = await members_once(world, call, 2)
    assert len(members) == 2 and call.caller_channel_id in members
    assert world.state(2006) == "in_call" and world.state(2007) == "ready"
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a1.wait(), 10) == 0
