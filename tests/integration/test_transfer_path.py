"""Feature codes from an agent on the persistent audio path, against the real Asterisk.

The agent's phone dialled `*50` once and stays connected; a call is connected straight in.
Its keys (RFC 4733 here, as a softphone sends them) reach the path's actor, which hands
them to the call while the channel is lent to it. A transfer never hangs the path up: the
agent's channel goes back to their holding bridge, ready for the next call.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.audio.rtp import write_dtmf_pcap
from tests.integration.routing_env import agent_password, eventually
from tests.integration.transfer_env import hang_up_caller, kinds_once, members_once, timeline

pytestmark = pytest.mark.asterisk

PATH_AGENT = 2004
KEYS_AFTER_MS = 2500  # the path phone keys this long after its *50 call is up (the call is in by then)


def path_scenario(src: str, out) -> str:
    """agent_path.xml, offering telephone-event and pressing keys.pcap during the call."""
    text = open(src).read()
    text = text.replace("      m=audio [media_port] RTP/AVP 0\n      a=rtpmap:0 PCMU/8000\n",
                        "      m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n"
                        "      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-16\n")
    # The pcap plays in the background: the phone waits for the BYE meanwhile.
    keys = (f'  <pause milliseconds="{KEYS_AFTER_MS}"/>\n'
            '  <nop>\n    <action>\n      <exec play_pcap_audio="keys.pcap"/>\n    </action>\n  </nop>\n')
    text = text.replace('  <recv request="BYE"/>', keys + '  <recv request="BYE"/>', 1)
    out.write_text(text)
    return str(out.resolve())


async def path_with_keys(world, keys: str):
    from tests.sipp_helpers import SCENARIOS

    pcap = world.sipp.workdir / "path-keys.pcap"
    pcap.parent.mkdir(parents=True, exist_ok=True)
    write_dtmf_pcap(pcap, keys)
    scenario = path_scenario(SCENARIOS / "agent_path.xml", world.sipp.workdir / "agent_path_keys.xml")
    world.ready(PATH_AGENT, department="path")
    proc = await world.sipp.start(scenario, port=world.sipp.agent_port(PATH_AGENT), timeout=40,
                                  keys={"user": f"agent{PATH_AGENT}"}, files={"keys.pcap": pcap},
                                  auth=(f"agent{PATH_AGENT}", agent_password(PATH_AGENT)))
    path = await eventually(lambda: world.engine.audio_paths.channel_of(world.agent(PATH_AGENT)), 5)
    assert path, "the audio path did not open"
    caller = await world.sipp.call("path", 5601, scenario="uac_wait_bye.xml", timeout=40)
    assert await eventually(lambda: world.state(PATH_AGENT) == "in_call", 5)
    call = next(iter(world.engine.calls.values()))
    return proc, path, caller, call


async def test_a_path_agent_blind_transfers_by_code_and_keeps_the_path(world):
    a2 = await world.sipp.phone(2007)
    proc, path, caller, call = await path_with_keys(world, "#12007#")
    world.ready(2007, department="path")
    assert await eventually(lambda: world.state(2007) == "in_call", 10), world.states_of(2007)
    assert await eventually(lambda: world.state(PATH_AGENT) == "wrap_up", 5)
    members = await members_once(world, call, 2)
    assert call.caller_channel_id in members and path not in members
    # The path is still open, back in its holding bridge: the next call can come straight in.
    holding = {b["id"]: b for b in await world.ari("GET", "bridges")}[f"path-{world.agent(PATH_AGENT)}"]
    assert holding["channels"] == [path] and world.engine.audio_paths.channel_of(world.agent(PATH_AGENT)) == path
    assert proc.returncode is None
    started = next(d for k, d in timeline(world.url, call.id) if k == "transfer_started")
    assert started["to"] == "2007" and started["flow"] == "blind"
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    await world.ari("DELETE", f"channels/{path}")  # the agent hangs up the path at last
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_a_path_agent_consults_then_completes_by_rest_and_keeps_the_path(world):
    a2 = await world.sipp.phone(2007)
    proc, path, caller, call = await path_with_keys(world, "*22007")
    world.ready(2007, department="path")
    await kinds_once(world, call, "transfer_answered", timeout=10)
    done = await world.engine.routing.call_control.request(call.id, "hangup", agent_id=world.agent(PATH_AGENT))
    assert done["state"] == "hanging_up"  # a path agent's hang-up leaves the call, completing it
    await kinds_once(world, call, "transfer_completed")
    members = await members_once(world, call, 2)
    assert call.caller_channel_id in members and path not in members
    assert world.state(2007) == "in_call" and await eventually(lambda: world.state(PATH_AGENT) == "wrap_up", 5)
    assert world.engine.audio_paths.channel_of(world.agent(PATH_AGENT)) == path and proc.returncode is None
    await hang_up_caller(world, call, caller)
    assert await asyncio.wait_for(a2.wait(), 10) == 0
    await world.ari("DELETE", f"channels/{path}")
    assert await asyncio.wait_for(proc.wait(), 10) == 0
