"""Hold and resume against the real Asterisk: music on hold reaches the caller (RTP captured
on the caller's media port), hold refused when a manager disabled it, and the phone's own
hold (re-INVITE a=sendonly / a=sendrecv from the agent's SIPp).

The engine's `hold_control` is what `POST /api/calls/{id}/hold|resume` calls (web/api/hold.py;
its HTTP mapping is tested in tests/web/test_hold_api.py).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlmodel import select

from engine.features.hold import CallControlError
from engine.pbx.ari import AriError
from engine.store import models as m
from engine.store.session import session_scope
from tests.audio import rtp
from tests.integration.routing_env import eventually

pytestmark = pytest.mark.asterisk

CALLER_MEDIA = 6610
AGENT_MEDIA = 6620


def timeline(url: str, call_id: str) -> list[tuple[str, dict]]:
    with session_scope(url) as s:
        return [(e.kind, e.detail) for e in s.exec(select(m.CallEvent).where(m.CallEvent.call_id == call_id)
                                                     .order_by(m.CallEvent.at, m.CallEvent.id)).all()]


def energy_between(packets, t0: float, t1: float) -> float:
    samples, _ = rtp.audio_samples([p for p in packets if t0 <= p.arrival < t1])
    return sum(x * x for x in samples) / max(1, len(samples))


async def connected_call(world, scenario="uas_answer.xml", caller_seconds=12):
    phone = await world.sipp.phone(2001, scenario, extra=["-mp", str(AGENT_MEDIA)])
    world.ready(2001)
    caller = await world.sipp.call("longest_idle", 5401, scenario="uac_named.xml",
                                   extra=["-d", str(caller_seconds * 1000), "-mp", str(CALLER_MEDIA)])
    flow = await eventually(lambda: next((c.flow for c in world.engine.calls.values()
                                          if c.flow and c.flow.phase == "connected"), None), 10)
    assert flow is not None, "the call did not connect"
    return phone, caller, flow


def set_hold(url: str, *, agent_id: int | None = None, department_id: int | None = None, on: bool) -> None:
    with session_scope(url) as s:
        row = s.get(m.Agent, agent_id) if agent_id else s.get(m.Department, department_id)
        row.hold_enabled = on
        s.add(row)


async def test_hold_and_resume_play_music_to_the_caller_only_while_held(world, tmp_path):
    with rtp.Capture(CALLER_MEDIA, tmp_path / "caller.pcap") as cap:
        phone, caller, flow = await connected_call(world)
        await asyncio.sleep(1.0)
        t_hold = time.time()  # the capture's timestamps are wall-clock
        result = await world.engine.hold_control.hold(flow.call.id, agent_id=world.agent(2001))
        assert result["held"] and result["by"] == "desktop"
        with pytest.raises(CallControlError) as again:
            await world.engine.hold_control.hold(flow.call.id, agent_id=world.agent(2001))
        assert again.value.status == 409 and again.value.code == "already_on_hold"
        with pytest.raises(CallControlError) as other:
            await world.engine.hold_control.hold(flow.call.id, agent_id=world.agent(2002))
        assert other.value.status == 403
        await asyncio.sleep(2.5)
        t_resume = time.time()
        await world.engine.hold_control.resume(flow.call.id, agent_id=world.agent(2001))
        await asyncio.sleep(1.5)
        try:
            await world.ari("DELETE", f"channels/{flow.call.caller_channel_id}")
        except AriError:
            pass
    packets = cap.packets()
    assert packets, "no RTP reached the caller"
    e_before = energy_between(packets, t_hold - 0.8, t_hold)
    e_held = energy_between(packets, t_hold + 0.4, t_resume)
    e_after = energy_between(packets, t_resume + 0.3, t_resume + 1.4)
    print(f"caller energy before={e_before:.0f} held={e_held:.0f} resumed={e_after:.0f}")
    assert e_held > 100 * max(1.0, e_before) and e_held > 100 * max(1.0, e_after)
    events = timeline(world.url, flow.call.id)
    kinds = [(k, d.get("by")) for k, d in events if k in ("hold", "resume")]
    assert kinds == [("hold", "desktop"), ("resume", "desktop")]
    resume = next(d for k, d in events if k == "resume")
    assert resume["agent_id"] == world.agent(2001) and resume["held_channel"] == flow.call.caller_channel_id
    assert 2.0 < resume["held_seconds"] < 4.0
    assert [e["held"] for e in world.events if e.get("type") == "call_hold"] == [True, False]


@pytest.mark.parametrize("where", ["department", "agent"])
async def test_hold_refused_when_the_manager_disabled_it(world, where):
    if where == "department":
        set_hold(world.url, department_id=world.dept("longest_idle"), on=False)
    else:
        set_hold(world.url, agent_id=world.agent(2001), on=False)
    phone, caller, flow = await connected_call(world, caller_seconds=4)
    with pytest.raises(CallControlError) as refused:
        await world.engine.hold_control.hold(flow.call.id, agent_id=world.agent(2001))
    assert refused.value.status == 403 and refused.value.code == "hold_disabled"
    assert where in refused.value.message
    assert not flow.hold.state.held
    await asyncio.wait_for(caller.wait(), 15)
    assert not [k for k, _ in timeline(world.url, flow.call.id) if k == "hold"]


async def test_phone_hold_plays_music_to_the_caller_and_unhold_resumes(world, tmp_path):
    with rtp.Capture(CALLER_MEDIA, tmp_path / "caller.pcap") as cap:
        phone, caller, flow = await connected_call(world, "uas_phone_hold.xml", caller_seconds=9)
        assert await eventually(lambda: flow.hold.state.held, 6), "no ChannelHold from the phone's re-INVITE"
        assert flow.hold.state.by == "phone"
        assert await eventually(lambda: not flow.hold.state.held, 6), "no ChannelUnhold"
        assert await asyncio.wait_for(caller.wait(), 15) == 0
    assert await asyncio.wait_for(phone.wait(), 10) == 0
    kinds = [(k, d.get("by")) for k, d in timeline(world.url, flow.call.id) if k in ("hold", "resume")]
    assert kinds == [("hold", "phone"), ("resume", "phone")]
    hold_events = [e for e in world.ari_events if e.get("type") in ("ChannelHold", "ChannelUnhold")]
    assert [e["type"] for e in hold_events] == ["ChannelHold", "ChannelUnhold"]
    packets = cap.packets()
    samples, _ = rtp.audio_samples(packets)
    seen = sorted({(p.src_port, p.payload_type) for p in packets})
    assert samples and max(abs(x) for x in samples) > 1000, f"{len(packets)} packets to the caller: {seen}"


async def test_phone_hold_when_disabled_plays_no_music_and_is_recorded(world):
    set_hold(world.url, agent_id=world.agent(2001), on=False)
    phone, caller, flow = await connected_call(world, "uas_phone_hold.xml", caller_seconds=8)
    assert await eventually(lambda: [k for k, _ in timeline(world.url, flow.call.id) if k == "hold_refused"], 8)
    assert not flow.hold.state.held
    assert await asyncio.wait_for(caller.wait(), 15) == 0
