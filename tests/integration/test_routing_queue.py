"""Queue and overflow against the real Asterisk: callers wait with music when nobody is
Ready and are delivered oldest first; a closed time group plays its announcement, then
voicemail or hangs up; 20 simultaneous callers to 10 agents are all served, none lost,
and no agent ever has two calls at once."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from tests.integration.routing_env import count_is, eventually
from tests.integration.test_routing_strategies import finished, records, timeline

pytestmark = pytest.mark.asterisk


async def test_queued_callers_are_delivered_oldest_first_when_an_agent_turns_ready(world):
    world.auto_wrap_up = True
    agent = await world.sipp.phone(2001, "uas_answer_hangup.xml", calls=2, extra=["-d", "700"])
    first = await world.sipp.call("longest_idle", 5401, name="First")
    await eventually(lambda: len(world.engine.routing.dispatcher.waiting_calls()) == 1, 5)
    second = await world.sipp.call("longest_idle", 5402, name="Second")
    await eventually(lambda: len(world.engine.routing.dispatcher.waiting_calls()) == 2, 5)
    # Both wait with music: answered by the engine, no agent rung.
    waiting = list(world.engine.routing.dispatcher.waiting_calls())
    channels = await world.ari("GET", "channels")
    assert sorted(c["state"] for c in channels) == ["Up", "Up"]  # answered for the music
    assert all(c["name"].startswith("PJSIP/trunk-") for c in channels)  # nobody rung
    world.ready(2001)
    assert await finished(first) == 0 and await finished(second) == 0 and await finished(agent) == 0
    recs = await eventually(lambda: count_is(2, [r for r in records(world.url) if r.ended_at]), 5)
    by_id = {r.id: r for r in recs}
    assert [by_id[c].caller_name for c in waiting] == ["First", "Second"]
    assert by_id[waiting[0]].answered_at < by_id[waiting[1]].answered_at  # oldest first
    assert all(r.outcome == "answered" and r.agent_id == world.agent(2001) for r in recs)
    assert "queued" in [k for k, _ in timeline(world.url, waiting[1])]


async def test_no_ready_agent_without_queue_overflows_to_busy(world):
    caller = await world.sipp.call("round_robin", 5410, scenario="uac_named.xml", extra=["-d", "500"])
    assert await finished(caller) != 0  # the INVITE is refused (486 Busy Here)
    rec = (await eventually(lambda: [r for r in records(world.url) if r.ended_at], 5))[0]
    assert rec.outcome == "busy"


async def test_closed_time_group_announcement_then_voicemail(world):
    caller = await world.sipp.call("closed_vm", 5420, scenario="uac_named.xml", extra=["-d", "9000"])
    assert await finished(caller, 30) == 0
    rec = (await eventually(lambda: [r for r in records(world.url) if r.ended_at], 5))[0]
    assert rec.outcome == "voicemail"
    events = timeline(world.url, rec.id)
    assert [k for k, _ in events][:2] == ["closed", "voicemail"]
    assert dict(events)["voicemail"]["recording"] == f"voicemail-T_longest_idle-{rec.id}"
    played = [e["playback"]["media_uri"] for e in world.ari_events if e.get("type") == "PlaybackFinished"]
    assert played[:2] == ["sound:vm-nobodyavail", "sound:vm-intro"]
    assert any(e.get("type") == "RecordingStarted" for e in world.ari_events)


async def test_closed_time_group_announcement_then_hangup(world):
    caller = await world.sipp.call("closed_hangup", 5421)
    assert await finished(caller, 20) == 0  # the engine hung up (BYE) after the announcement
    rec = (await eventually(lambda: [r for r in records(world.url) if r.ended_at], 5))[0]
    assert rec.outcome == "closed"
    played = [e["playback"]["media_uri"] for e in world.ari_events if e.get("type") == "PlaybackFinished"]
    assert played == ["sound:vm-goodbye"]


async def test_twenty_simultaneous_calls_to_ten_agents(world):
    world.auto_wrap_up = True
    intercoms = list(range(2001, 2011))
    for i in intercoms:
        await world.sipp.phone(i, "uas_answer_hangup.xml", calls=4, timeout=40, extra=["-d", "1500"])
    world.ready(*intercoms, department="load")
    callers = [await world.sipp.call("load", 5500 + n, name=f"Caller {n}", timeout=40) for n in range(20)]
    codes = await asyncio.gather(*(finished(c, 50) for c in callers))
    assert codes == [0] * 20
    recs = await eventually(lambda: count_is(20, [r for r in records(world.url) if r.ended_at]), 10)
    assert len(recs) == 20 and all(r.outcome == "answered" for r in recs), [r.outcome for r in recs]
    # At most one call per agent at a time: replay the agent_state events per agent.
    for agent_id in {r.agent_id for r in recs}:
        calls, current = [], None
        for e in world.events:
            if e.get("type") == "agent_state" and e["agent_id"] == agent_id:
                if e["state"] == "ringing":
                    assert e["from_state"] == "ready", e
                    current = e["call_id"]
                    calls.append(current)
                elif e["state"] == "in_call":
                    assert e["call_id"] == current
    # And on the wire: never two live channels to one agent's phone.
    live, peak = defaultdict(set), defaultdict(int)
    for e in world.ari_events:
        name = (e.get("channel") or {}).get("name", "")
        if not name.startswith("PJSIP/agent20"):
            continue
        agent = name.split("-")[0]
        if e["type"] == "ChannelDestroyed":
            live[agent].discard(e["channel"]["id"])
        else:  # originated channels are first seen on their first state change
            live[agent].add(e["channel"]["id"])
        peak[agent] = max(peak[agent], len(live[agent]))
    assert peak and max(peak.values()) == 1, dict(peak)
    queued = sum(1 for r in recs if "queued" in [k for k, _ in timeline(world.url, r.id)])
    print(f"\n20 calls, 10 agents: {queued} queued then delivered; per-agent calls "
          f"{sorted(sum(1 for r in recs if r.agent_id == a) for a in {r.agent_id for r in recs})}")
