"""A phone's own attended transfer (REFER with Replaces), joined to the call it transfers.

How a phone does it: the agent (A) is on the customer's call X; the phone holds X and
calls the colleague (R) itself, a second call Y (an internal call, with its own actor and
R In Call on it); pressing Transfer sends a REFER on X's leg naming Y's dialog (Replaces).
Under `PJSIP_TRANSFER_HANDLING(ari-only)` Asterisk does nothing but raise ChannelTransfer
(on X's leg: the engine/features/refer.py path) with Y's channel, or at least Y's SIP
Call-ID when it could not match the dialog.

What the engine does, as the same transfer logic as `*2` then complete:
- X's actor asks Y's actor for R (`HANDOVER`): Y takes R out of its bridge, hands R's
  channel (and R's agent state: `take_over`, In Call stays In Call) to X, and hangs up its
  own caller, which is A's consultation leg; Y ends without R.
- X's actor puts R in the customer's bridge, stops the hold music, releases A to wrap-up,
  hangs up A's leg, and tells the phone it worked (NOTIFY 200 via `transfer_progress`).
The two actors never wait on each other in a circle: only X waits, and only for Y.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from engine.calls import records
from engine.calls.model import LiveLeg
from engine.pbx.ari import AriError
from engine.routing.dispatcher import RoutingError
from engine.store.fields import utcnow

from .hold import CallControlError
from .transfers import HANDOVER, ControlError

if TYPE_CHECKING:  # pragma: no cover
    from .transfers import CallFeatures

HANDOVER_TIMEOUT = 5.0


async def consultation_channel(engine, event: dict) -> str | None:
    """The phone's consultation leg (A -> R) the REFER names: its channel, or the channel
    whose SIP Call-ID it gives."""
    refer = event.get("refer_to") or {}
    channel = refer.get("destination_channel") or {}
    if channel.get("id"):
        return channel["id"]
    sip_call_id = (refer.get("requested_destination") or {}).get("protocol_id")
    if not sip_call_id:
        return None
    channels = await engine.ari.request("GET", "channels")
    return next((c["id"] for c in channels or [] if c.get("protocol_id") == sip_call_id), None)


async def transfer(features: CallFeatures, event: dict) -> None:
    """In X's actor: take R from the consultation call and give them the customer."""
    engine, flow = features.engine, features.flow
    features.check_can_start()
    consult = await consultation_channel(engine, event)
    owner = engine.dispatcher.owners.get(consult) if consult else None
    if owner is None or owner == flow.call.id:
        raise ControlError(409, "consultation_unknown", "the call the phone consulted on is not one the engine knows")
    future = asyncio.get_running_loop().create_future()
    if not engine.dispatcher.post(owner, {"type": HANDOVER, "to_call": flow.call.id, "future": future}):
        raise ControlError(409, "consultation_unknown", "the consultation call has ended")
    try:
        channel, agent_id = await asyncio.wait_for(future, HANDOVER_TIMEOUT)
    except TimeoutError:
        raise ControlError(409, "consultation_busy", "the consultation call did not hand over") from None
    await _join(features, channel, agent_id)


async def _join(features: CallFeatures, channel: str, agent_id: int) -> None:
    engine, flow = features.engine, features.flow
    call_id, old_channel, old_agent = flow.call.id, flow.agent_channel, flow.agent_id
    agent = engine.directory.agents.get(agent_id)
    features.transfer_id = uuid.uuid4().hex[:12]
    features.agent_id, features.recipient_agent = old_agent, agent_id
    info = {"flow": "attended", "target": "agent", "to": agent.intercom if agent else None, "via": "refer"}
    features._record("transfer_started", info)
    if flow.hold.state.held:  # the phone held the customer while it consulted
        try:
            await flow.hold.resume("transfer")
        except CallControlError as exc:
            features.log.info("transfer_resume_failed", reason=exc.code)
    await engine.ari.request("POST", f"bridges/{flow.bridge_id}/addChannel", channel=channel, absorbDTMF="true")
    features.hand_call_to(channel, agent_id)
    flow.call.legs[channel] = LiveLeg(channel, "agent", answered=True)
    if old_agent is not None:
        engine.routing.release_agent(call_id, old_agent)
    now = utcnow()
    flow.write(records.apply_steps, call_id, [
        ("leg", {"channel_id": channel, "role": "agent", "endpoint": f"PJSIP/{agent.sip_username}" if agent else None,
                 "agent_id": agent_id}),
        ("leg_update", {"channel_id": channel, "answered_at": now})])
    await features.refer_progress("channel_answered")
    features._record("transfer_completed", info)
    if old_channel:
        flow.call.legs.pop(old_channel, None)
        await flow.hangup_channel(old_channel)


async def hand_over(features: CallFeatures, message: dict) -> None:
    """In Y's actor (the phone's consultation call): give R to the call `to_call`."""
    engine, flow, future = features.engine, features.flow, message["future"]
    channel, agent_id = flow.agent_channel, flow.agent_id
    try:
        if flow.phase != "connected" or channel is None or agent_id is None or flow.persistent \
                or features.machine.active:
            raise ControlError(409, "consultation_not_connected", "the consultation is not connected to an agent")
        try:
            engine.routing.take_over(flow.call.id, message["to_call"], agent_id)
        except RoutingError as exc:
            raise ControlError(409, "consultation_not_connected", str(exc)) from None
    except ControlError as exc:
        if not future.done():
            future.set_exception(exc)
        return
    flow.agent_channel, flow.agent_id = None, None
    flow.call.legs.pop(channel, None)
    engine.dispatcher.bind(channel, message["to_call"])
    try:
        await engine.ari.request("POST", f"bridges/{flow.bridge_id}/removeChannel", channel=channel)
    except AriError as exc:
        features.log.info("handover_remove_failed", error=str(exc))
    flow.write(records.apply_steps, flow.call.id, [
        ("leg_update", {"channel_id": channel, "ended_at": utcnow()}),
        ("event", {"kind": "transferred_away", "detail": {"to_call": message["to_call"], "agent_id": agent_id,
                                                          "channel_id": channel}})])
    if not future.done():
        future.set_result((channel, agent_id))
    await flow.hangup_channel(flow.call.caller_channel_id)  # A's consultation leg: this call ends
