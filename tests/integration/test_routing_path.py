"""The persistent audio path against the real Asterisk: the agent dials *50 once; a call is
connected straight in (In Call at once, no ringing) after a beep played to the agent; the
path is dropped after the department's Not Ready limit (2 s here); dialling back in works."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.routing_env import PATH_LIMIT, agent_password, eventually
from tests.integration.test_routing_strategies import finished, records

pytestmark = pytest.mark.asterisk


async def dial_in(world, intercom: int, port: int):
    proc = await world.sipp.start("agent_path.xml", port=port, timeout=40, keys={"user": f"agent{intercom}"},
                                  auth=(f"agent{intercom}", agent_password(intercom)))
    assert await eventually(lambda: world.engine.audio_paths.channel_of(world.agent(intercom)), 5), \
        "the audio path did not open"
    return proc


async def path_call(world, port: int) -> None:
    """One caller on the path department; checks the connect and the beep before bridging."""
    aid = world.agent(2004)
    path_channel = world.engine.audio_paths.channel_of(aid)
    seen = len(world.ari_events)
    caller = await world.sipp.call("path", port, scenario="uac_named.xml", extra=["-d", "1200"])
    assert await eventually(lambda: world.state(2004) == "in_call", 5)
    assert await finished(caller) == 0
    assert await eventually(lambda: world.state(2004) == "wrap_up", 5)
    states = world.states_of(2004)
    assert states[-2:] == ["in_call", "wrap_up"] and "ringing" not in states[-3:], states
    events = world.ari_events[seen:]
    beep = next(i for i, e in enumerate(events) if e.get("type") == "PlaybackFinished"
                and e["playback"]["media_uri"] == "sound:beep"
                and e["playback"]["target_uri"] == f"channel:{path_channel}")
    bridged = next(i for i, e in enumerate(events) if e.get("type") == "ChannelEnteredBridge"
                   and e["channel"]["id"] == path_channel and e["bridge"]["id"].startswith("call-"))
    assert beep < bridged, "the beep must finish before the agent hears the caller"
    # No INVITE to the agent's phone: the call used the open path.
    assert not [e for e in events if (e.get("channel") or {}).get("name", "").startswith("PJSIP/agent2004-")
                and e.get("type") == "ChannelStateChange" and e["channel"]["state"] == "Ringing"]


async def test_persistent_path_connects_straight_in_and_is_dropped_after_the_not_ready_limit(world):
    aid = world.agent(2004)
    world.ready(2004, department="path")
    path = await dial_in(world, 2004, 7104)
    await path_call(world, 5601)
    rec = (await eventually(lambda: [r for r in records(world.url) if r.ended_at], 5))[0]
    assert rec.agent_id == aid and rec.outcome == "answered"
    # Still connected after the call (the path stays up); then Not Ready past the limit.
    assert world.engine.audio_paths.channel_of(aid)
    world.engine.routing.finish_wrap_up(aid, "resolved", ready=False, break_code="lunch")
    t0 = asyncio.get_running_loop().time()
    assert await finished(path, PATH_LIMIT + 5) == 0  # the BYE from the engine ended the path
    dropped_after = asyncio.get_running_loop().time() - t0
    assert PATH_LIMIT <= dropped_after < PATH_LIMIT + 1.5, dropped_after
    assert world.engine.audio_paths.channel_of(aid) is None
    assert not world.engine.routing.dispatcher.agents[aid].persistent_path
    # Dial back in, go Ready, and the next call is connected straight in again.
    again = await dial_in(world, 2004, 7104)
    world.engine.routing.set_ready(aid)
    await path_call(world, 5602)
    world.engine.routing.finish_wrap_up(aid, "resolved", ready=False)
    assert await finished(again, PATH_LIMIT + 5) == 0
    print(f"\npath dropped {dropped_after:.2f} s after Not Ready (limit {PATH_LIMIT} s)")
