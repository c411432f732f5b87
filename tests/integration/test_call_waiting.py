"""Call waiting against the real Asterisk.

Agent 2001 talks to a customer who plays a continuous 1000 Hz tone (SIPp `play_pcap_audio`);
a second caller dials 2001's direct line. The RTP Asterisk sends to the agent's phone and to
the customer is captured on loopback (tcpdump) and decoded:
- the agent hears a double beep (two 440 Hz bursts) and the customer does not; the agent's
  audio has no gap over 60 ms (the beep is whispered through a snoop, the bridge is not
  suspended: engine/features/waiting.py);
- answering the waiting call holds the first (music) and moves the agent's one phone leg to
  the second; when the second ends the leg goes back to the first (still on hold);
- not answered in the ring timeout: the direct call rolls to voicemail;
- the agent hanging up during the second call does not strand the held caller.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlmodel import select

from engine.pbx.ari import AriError
from engine.store import models as m
from engine.store.session import session_scope
from tests.audio import g711, rtp, tones
from tests.integration.routing_env import RING, eventually

pytestmark = pytest.mark.asterisk

CUSTOMER_MEDIA = 6710
SECOND_MEDIA = 6720
AGENT_MEDIA = 6730
CUSTOMER_PORT, SECOND_PORT = 5441, 5442


def timeline(url: str, call_id: str) -> list[tuple[str, dict]]:
    with session_scope(url) as s:
        return [(e.kind, e.detail) for e in s.exec(select(m.CallEvent).where(m.CallEvent.call_id == call_id)
                                                     .order_by(m.CallEvent.at, m.CallEvent.id)).all()]


def record(url: str, call_id: str):
    with session_scope(url) as s:
        return s.get(m.CallRecord, call_id)


@pytest.fixture
def tone_pcap(tmp_path):
    path = tmp_path / "tone_1000hz.pcap"
    rtp.write_rtp_pcap(path, g711.tone_ulaw(1000, 25.0, amplitude=3000))
    return path


async def first_call(world, tone_pcap, *, agent_scenario="uas_answer.xml", customer_seconds=10,
                     agent_extra=()):
    """Agent 2001 Ready with its SIPp phone; the customer calls and is connected."""
    phone = await world.sipp.phone(2001, agent_scenario, extra=["-mp", str(AGENT_MEDIA), *agent_extra])
    world.ready(2001)
    customer = await world.sipp.call("longest_idle", CUSTOMER_PORT, scenario="uac_audio.xml",
                                     name="First Customer", extra=["-d", str(customer_seconds * 1000),
                                                                   "-mp", str(CUSTOMER_MEDIA)],
                                     files={"caller_audio.pcap": tone_pcap})
    flow = await eventually(lambda: next((c.flow for c in world.engine.calls.values()
                                          if c.flow and c.flow.phase == "connected"), None), 10)
    assert flow is not None, "the first call did not connect"
    return phone, customer, flow


async def second_call(world, *, seconds=3, scenario="uac_named.xml", tone_pcap=None):
    """A second caller on 2001's direct line; returns (sipp, the waiting call's flow)."""
    files = {"caller_audio.pcap": tone_pcap} if tone_pcap else None
    caller = await world.sipp.call("direct", SECOND_PORT, caller="+447911123499", name="Second Caller",
                                   scenario=scenario, extra=["-d", str(seconds * 1000), "-mp", str(SECOND_MEDIA)],
                                   files=files)
    event = await eventually(lambda: next((e for e in world.events if e.get("type") == "call_waiting"), None), 8)
    assert event is not None, "no call_waiting event"
    assert event["agent_id"] == world.agent(2001) and event["caller"] == "+447911123499"
    return caller, world.engine.calls[event["call_id"]].flow


async def hang_up(world, channel_id: str) -> None:
    try:
        await world.ari("DELETE", f"channels/{channel_id}")
    except AriError:
        pass


async def test_the_agent_alone_hears_a_double_beep_with_no_gap(world, tmp_path, tone_pcap):
    agent_pcap, customer_pcap = tmp_path / "agent.pcap", tmp_path / "customer.pcap"
    with rtp.Capture(AGENT_MEDIA, agent_pcap) as agent_cap, rtp.Capture(CUSTOMER_MEDIA, customer_pcap) as cust_cap:
        phone, customer, _flow = await first_call(world, tone_pcap, customer_seconds=9)
        await asyncio.sleep(1.5)
        t_waiting = time.time()
        second, waiting = await second_call(world, seconds=2)
        assert waiting.phase == "call_waiting"
        beep = await eventually(lambda: [e for e in world.ari_events if e.get("type") == "PlaybackFinished"
                                         and e["playback"]["media_uri"] == "tone:doublebeep"], 5)
        assert beep, "the double beep was not played"
        await asyncio.sleep(1.0)
        t_end = time.time()
        assert await asyncio.wait_for(customer.wait(), 20) == 0
        assert await asyncio.wait_for(second.wait(), 20) == 0
    assert await asyncio.wait_for(phone.wait(), 10) == 0

    agent_packets = [p for p in agent_cap.packets() if p.arrival < t_end]
    samples, arrivals = rtp.audio_samples(agent_packets)
    assert samples, "no RTP reached the agent's phone"
    bursts = tones.tone_bursts(samples, 440, ratio=0.3)
    gap = rtp.largest_gap([a for a in arrivals if a >= t_waiting - 1.0])
    ms = [round(b.length * 1000) for b in bursts]
    print(f"agent: 440 Hz bursts {ms} ms at {[round(b.start, 2) for b in bursts]} s; largest gap "
          f"{gap * 1000:.0f} ms around the beep, {rtp.largest_gap(arrivals) * 1000:.0f} ms overall")
    assert len(bursts) == 2, f"expected a double beep, got bursts of {ms} ms"
    assert all(80 <= x <= 200 for x in ms), ms
    assert 0.15 <= bursts[1].start - bursts[0].start <= 0.4
    assert gap < 0.060, f"the agent's audio stopped for {gap * 1000:.0f} ms"
    # The customer's 1000 Hz reached the agent all along (the bridge was not suspended).
    assert len(tones.tone_bursts(samples, 1000)) >= 1
    customer_samples, _ = rtp.audio_samples(cust_cap.packets())
    assert tones.tone_bursts(customer_samples, 440, ratio=0.3) == [], "the customer heard the beep"


async def test_answering_the_waiting_call_holds_the_first_and_the_leg_comes_back(world, tone_pcap):
    phone, customer, first = await first_call(world, tone_pcap, customer_seconds=16)
    agent = world.agent(2001)
    leg = first.agent_channel
    second, waiting = await second_call(world, seconds=5, scenario="uac_audio.xml", tone_pcap=tone_pcap)
    result = await world.engine.hold_control.answer_waiting(waiting.call.id, agent)
    assert result["held_call_id"] == first.call.id and result["agent_channel"] == leg
    assert first.hold.state.held and first.hold.state.by == "call_waiting"
    assert waiting.phase == "connected" and waiting.agent_channel == leg and first.agent_channel is None
    dispatcher = world.engine.routing.dispatcher
    assert dispatcher.agents[agent].state.state == "in_call"
    assert dispatcher.agents[agent].state.call_id == waiting.call.id
    assert dispatcher.held_for[agent] == first.call.id and agent not in dispatcher.waiting_for
    bridges = {b["id"]: set(b["channels"]) for b in await world.ari("GET", "bridges")}
    assert bridges[waiting.bridge_id] == {waiting.call.caller_channel_id, leg}
    assert bridges[first.bridge_id] == {first.call.caller_channel_id}
    assert record(world.url, waiting.call.id).agent_id == agent

    # The second caller hangs up: the leg goes back to the first call, which stays on hold.
    assert await asyncio.wait_for(second.wait(), 20) == 0
    assert await eventually(lambda: first.agent_channel == leg, 5), "the leg did not come back"
    assert await eventually(lambda: dispatcher.agents[agent].state.call_id == first.call.id, 3)
    assert first.hold.state.held and agent not in dispatcher.held_for
    bridges = {b["id"]: set(b["channels"]) for b in await world.ari("GET", "bridges")}
    assert bridges[first.bridge_id] == {first.call.caller_channel_id, leg}
    resumed = await world.engine.hold_control.resume(first.call.id, agent_id=agent)
    assert resumed["held"] is False
    assert await asyncio.wait_for(customer.wait(), 20) == 0
    assert await asyncio.wait_for(phone.wait(), 10) == 0
    kinds = [(k, d.get("by")) for k, d in timeline(world.url, first.call.id) if k in ("hold", "resume",
                                                                                      "agent_away", "agent_back")]
    assert kinds == [("hold", "call_waiting"), ("agent_away", None), ("agent_back", None), ("resume", "desktop")]
    assert record(world.url, waiting.call.id).outcome == "answered"


async def test_an_unanswered_waiting_call_rolls_to_voicemail(world, tone_pcap):
    phone, customer, first = await first_call(world, tone_pcap, customer_seconds=RING + 16)
    second, waiting = await second_call(world, seconds=9)  # long enough to leave a message
    assert await eventually(lambda: waiting.phase == "voicemail", RING + 4), f"phase {waiting.phase}"
    assert await asyncio.wait_for(second.wait(), 20) == 0
    rec = await eventually(lambda: (r := record(world.url, waiting.call.id)) and r.ended_at and r, 5)
    assert rec.outcome == "voicemail"
    kinds = [k for k, _ in timeline(world.url, waiting.call.id)]
    print("waiting call timeline:", kinds)
    assert kinds.index("call_waiting") < kinds.index("call_waiting_timeout") < kinds.index("overflow") \
        < kinds.index("voicemail")
    assert any(e.get("type") == "RecordingStarted" for e in world.ari_events)
    assert world.engine.routing.dispatcher.waiting_for == {}
    # The first call was never disturbed.
    assert first.phase == "connected" and not first.hold.state.held
    assert await asyncio.wait_for(customer.wait(), 20) == 0
    assert await asyncio.wait_for(phone.wait(), 10) == 0


async def test_agent_hanging_up_on_the_second_call_sends_the_held_caller_back_to_them(world, tone_pcap):
    """The agent answers the waiting call, then hangs up their phone: the held customer is
    not left on hold for nobody. Their call is routed again (its department: queued with
    music); after wrap-up the agent is Ready and it rings their phone again (`-m 2`)."""
    world.auto_wrap_up = True
    _phone, _customer, first = await first_call(world, tone_pcap, agent_scenario="uas_answer_hangup.xml",
                                              customer_seconds=30, agent_extra=["-d", "4000", "-m", "2"])
    agent = world.agent(2001)
    old_leg = first.agent_channel
    second, waiting = await second_call(world, seconds=20)
    await world.engine.hold_control.answer_waiting(waiting.call.id, agent)
    assert first.hold.state.held
    # The agent's phone hangs up (-d 4 s after the first answer): the second caller is
    # released, the held call is routed again and offered back to the agent once Ready.
    assert await eventually(lambda: waiting.phase == "ended", 8), "the second call did not end"
    assert await eventually(lambda: first.phase == "connected" and first.agent_channel not in (None, old_leg), 12), \
        f"the held call was not offered back: phase {first.phase}"
    assert not first.hold.state.held and first.agent_id == agent
    kinds = [k for k, _ in timeline(world.url, first.call.id)]
    assert "agent_gone" in kinds and kinds.index("agent_gone") < len(kinds) - 1
    states = world.states_of(2001)
    assert "wrap_up" in states and states[-1] == "in_call"
    assert world.engine.routing.dispatcher.held_for == {}

    async def both_bridged():
        bridges = {b["id"]: set(b["channels"]) for b in await world.ari("GET", "bridges")}
        return bridges.get(first.bridge_id) == {first.call.caller_channel_id, first.agent_channel}

    assert await eventually(both_bridged, 5), "the agent's new leg is not in the call's bridge"
    await hang_up(world, first.call.caller_channel_id)
    await asyncio.wait_for(second.wait(), 20)  # voicemail's BYE or the engine's hangup
