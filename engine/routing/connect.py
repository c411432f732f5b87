"""Connecting the caller with the agent, and taking the call apart again.

Ring per call: the answered offer leg and the caller go into one mixing bridge.
Persistent audio path: the agent's channel waits in the agent's holding bridge
(engine/agents/audio_path.py); on `Connect(persistent=True)` a beep is played to the agent
there, and once it has finished the channel is moved into the call's bridge (the agent
is In Call at once: the dispatcher moved them Ready -> In Call with the command). After the
call the channel goes back to the holding bridge instead of being hung up.

On connect the record gets its agent, department and answer time (and the contact when
the caller's number matches exactly one), and the engine publishes a `call` event and the
screen pop (see screenpop_data.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from engine.calls import records
from engine.calls.model import LiveLeg
from engine.pbx.ari import AriError
from engine.store.fields import utcnow

from . import screenpop_data
from .dispatcher import Connect
from .media import play_and_wait

log = structlog.get_logger("engine.routing.connect")

# Every bridge of a call keeps its media in Asterisk's core (`proxy_media`), never native
# RTP between the two phones. Why: the engine changes a live call's media (music on hold
# to one party, the call-waiting beep, absorbed feature-code digits); with the caller and
# the agent natively RTP-bridged, a phone's own hold re-INVITE raced the engine's music on
# hold and the caller heard nothing in about half the runs (tests/integration/test_hold.py),
# and an RFC 4733 key's begin was now and then missed. The cost is Asterisk relaying the
# RTP, which it does for any softmix call anyway.
CALL_BRIDGE_TYPE = "mixing,proxy_media"

if TYPE_CHECKING:  # pragma: no cover
    from .flow import CallFlow


async def connect(flow: CallFlow, command: Connect) -> None:
    engine, call = flow.engine, flow.call
    if command.persistent:
        channel_id = engine.audio_paths.channel_of(command.agent_id)
    else:
        channel_id = flow.offers.take_answered(command.agent_id)
    if channel_id is None:
        flow.log.warning("connect_without_agent_channel", agent_id=command.agent_id, persistent=command.persistent)
        await flow.media.hangup()
        return
    flow.phase = "connected"
    flow.agent_id, flow.agent_channel, flow.persistent = command.agent_id, channel_id, command.persistent
    await flow.offers.cancel_all()
    await flow.media.answer()
    bridge_id = f"call-{call.id}"
    try:
        await engine.ari.request("POST", f"bridges/{bridge_id}", type=CALL_BRIDGE_TYPE, name=f"call-{call.id[:8]}")
        flow.bridge_id = bridge_id
        await engine.ari.request("POST", f"bridges/{bridge_id}/addChannel", channel=call.caller_channel_id)
        if command.persistent:
            await play_and_wait(engine, channel_id, "sound:beep", timeout=5)
            await engine.audio_paths.take(command.agent_id, call.id)
        # absorbDTMF: the agent's feature codes reach the engine, not the caller's ear.
        await engine.ari.request("POST", f"bridges/{bridge_id}/addChannel", channel=channel_id,
                                 absorbDTMF="true")
    except AriError as exc:
        flow.log.warning("connect_failed", agent_id=command.agent_id, error=str(exc))
        await flow.media.hangup()
        return
    now = utcnow()
    call.outcome = "answered"
    call.legs[channel_id] = LiveLeg(channel_id, "agent" if not command.persistent else "audio_path", answered=True)
    steps = [("leg", {"channel_id": channel_id, "role": "audio_path", "agent_id": command.agent_id,
                      "started_at": now}),
             ("leg_update", {"channel_id": channel_id, "answered_at": now})] if command.persistent else []
    flow.write(records.apply_steps, call.id, steps + [
        ("connected", {"agent_id": command.agent_id, "department_id": flow.department_id, "answered_at": now}),
        ("event", {"kind": "connected", "detail": {"agent_id": command.agent_id, "channel_id": channel_id,
                                                   "persistent": command.persistent, "bridge_id": bridge_id}})])
    flow.log.info("call_connected", agent_id=command.agent_id, persistent=command.persistent)
    engine.bus.publish({"type": "call", "call_id": call.id, "state": "connected", "agent_id": command.agent_id,
                        "department_id": flow.department_id, "persistent": command.persistent})
    await publish_screen_pop(flow.engine, call.id, command.agent_id, flow.department_id)
    if not command.persistent:
        await flow.features.on_connected(channel_id)  # the phone's transfer button -> the engine


async def publish_screen_pop(engine, call_id: str, agent_id: int, department_id: int | None) -> dict | None:
    return await screenpop_data.publish(engine.routing, engine.bus, engine.settings.database_url, call_id,
                                        agent_id, department_id)


async def disconnect(flow: CallFlow) -> None:
    """The caller has left: release the agent's channel and the bridge."""
    engine, call = flow.engine, flow.call
    from engine.features.waiting import hand_back

    if flow.agent_channel is not None and await hand_back(flow):
        pass  # call waiting: the agent's leg went back to the call they had put on hold
    elif flow.agent_channel is not None:
        if flow.persistent:
            await engine.audio_paths.give_back(flow.agent_id, call.id, flow.bridge_id)
            flow.write(records.update_leg, call.id, flow.agent_channel, ended_at=utcnow())
        else:
            await flow.hangup_channel(flow.agent_channel)
    if flow.bridge_id is not None:
        try:
            await engine.ari.request("DELETE", f"bridges/{flow.bridge_id}")
        except AriError as exc:
            if exc.status != 404:
                flow.log.info("bridge_destroy_failed", error=str(exc))
    if flow.agent_id is not None:
        engine.bus.publish({"type": "call", "call_id": call.id, "state": "ended", "agent_id": flow.agent_id,
                           "department_id": flow.department_id, "outcome": call.outcome})

