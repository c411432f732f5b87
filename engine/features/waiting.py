"""Call waiting: a second (direct) call for an agent who is already talking.

The dispatcher (engine/routing/dispatcher.py, `CallWaiting`) decides; this carries it out in
the waiting call's actor:
- the waiting caller hears ringback; the agent hears a double beep that the customer on
  their current call does not hear, with no gap in that conversation: a snoop channel on
  the agent's leg with `whisper=out` plays `tone:doublebeep` (indications.conf:
  `!440/120,!0/120,!440/120`) into what the agent's phone receives; the bridge's audio is
  not suspended, since nothing is played on the agent's leg itself (DESIGN.md);
- the desktop gets a `call_waiting` bus event (and `GET .../desktop` shows it, read from the
  dispatcher's `waiting_for`);
- not answered within the ring timeout (the agent's departments' shortest, else 20 s):
  the dispatcher re-routes it, i.e. the direct call's overflow (voicemail);
- answered (`POST /api/calls/{id}/answer-waiting`): the first call goes on hold (the caller
  hears music, see hold.py), the agent's ONE phone leg moves from the first call's bridge
  into the waiting call's bridge and to its actor. One SIP leg, because the agent has one
  phone and it is already talking to us: no second INVITE is needed (a phone without call
  waiting support would reject one anyway). When the second call ends, the leg goes back
  to the first call's bridge, which stays on hold until the agent resumes it (desktop
  Resume or the phone's own unhold).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from engine.calls import records
from engine.calls.model import LiveLeg
from engine.pbx.ari import AriError
from engine.routing.connect import CALL_BRIDGE_TYPE
from engine.routing.dispatcher import CallWaiting, RoutingError
from engine.routing.flow import COMMAND, TIMER
from engine.routing.media import play_and_wait
from engine.store.fields import utcnow

from .hold import CallControlError

if TYPE_CHECKING:  # pragma: no cover
    from engine.routing.flow import CallFlow

BEEP = "tone:doublebeep"


async def on_message(flow: CallFlow, message: dict) -> None:
    kind = message.get("type")
    if kind == COMMAND and isinstance(message.get("command"), CallWaiting):
        await start(flow, message["command"])
    elif kind == TIMER and message.get("name") == "call_waiting" and flow.phase == "call_waiting":
        flow.write(records.add_event, flow.call.id, "call_waiting_timeout", {"agent_id": flow.waiting_agent})
        publish(flow, "call_waiting_ended", reason="timeout")
        flow.routing_call("waiting_timed_out")


def publish(flow: CallFlow, kind: str, **extra) -> None:
    flow.engine.bus.publish({"type": kind, "call_id": flow.call.id, "agent_id": getattr(flow, "waiting_agent", None),
                             "caller": flow.call.caller_number, "caller_name": flow.call.caller_name, **extra})


async def start(flow: CallFlow, command: CallWaiting) -> None:
    flow.phase = "call_waiting"
    flow.waiting_agent = command.agent_id
    flow.timer(command.timeout, "call_waiting")
    await flow.media.ring()
    active = flow.engine.calls.get(command.active_call_id or "")
    agent_channel = getattr(active.flow, "agent_channel", None) if active and active.flow else None
    flow.write(records.add_event, flow.call.id, "call_waiting",
               {"agent_id": command.agent_id, "active_call_id": command.active_call_id, "beep": bool(agent_channel)})
    publish(flow, "call_waiting", active_call_id=command.active_call_id, timeout=command.timeout)
    if agent_channel:
        asyncio.get_running_loop().create_task(beep(flow.engine, agent_channel, flow.log))


async def beep(engine, agent_channel: str, log, media: str = BEEP) -> bool:
    """Whisper `media` to the agent's phone through a snoop channel, then hang the snoop up.

    The snoop gets an actor of its own (bound before the request) so its StasisStart is
    never taken for a new call, and no call's flow hangs it up as an unwanted leg."""
    snoop_id = f"snoop-{uuid.uuid4().hex[:20]}"
    done = asyncio.get_running_loop().create_future()

    async def handler(event: dict) -> bool:
        if event.get("type") in ("StasisEnd", "ChannelDestroyed"):
            if not done.done():
                done.set_result(None)
            return True
        return False

    engine.dispatcher.spawn(snoop_id, handler, [snoop_id])
    try:
        await engine.ari.request("POST", f"channels/{agent_channel}/snoop", snoopId=snoop_id, whisper="out",
                                 spy="none", app=engine.settings.ari_app, appArgs="call_waiting_beep")
    except AriError as exc:
        log.info("call_waiting_snoop_failed", error=str(exc))
        engine.dispatcher.post(snoop_id, {"type": "StasisEnd"})
        return False
    try:
        played = await play_and_wait(engine, snoop_id, media, timeout=3)
    finally:
        try:
            await engine.ari.request("DELETE", f"channels/{snoop_id}")
        except AriError:
            pass
    log.info("call_waiting_beep", played=played, agent_channel=agent_channel)
    return played


# -- requests (from hold.HoldControl._request, in the call's actor) ------------------------
async def on_request(flow: CallFlow, action: str, message: dict):
    if action == "answer_waiting":
        return await answer(flow, message["agent_id"])
    if action == "release_agent":
        return await release_agent(flow)
    if action == "take_agent":
        return await take_agent(flow, message["channel_id"])
    if action == "agent_gone":
        return await agent_gone(flow, message.get("channel_id"))
    raise CallControlError(400, "unknown_action", f"unknown call-control action {action!r}")


async def answer(flow: CallFlow, agent_id: int) -> dict:
    """In the waiting call's actor: hold the agent's current call, take its agent leg."""
    engine = flow.engine
    if flow.phase != "call_waiting" or engine.routing.dispatcher.waiting_for.get(agent_id) != flow.call.id:
        raise CallControlError(409, "not_waiting", "this call is not waiting for you")
    agent_state = engine.routing.dispatcher.agents[agent_id].state
    first = agent_state.call_id if agent_state.state == "in_call" else None
    if first is None or first not in engine.calls:
        raise CallControlError(409, "no_active_call", "you have no call to put on hold")
    leg = await engine.hold_control.ask(first, "release_agent")
    try:
        engine.routing.waiting_answered(flow.call.id, agent_id)
    except RoutingError as exc:
        await engine.hold_control.ask(first, "take_agent", channel_id=leg)
        raise CallControlError(409, "not_waiting", str(exc)) from None
    engine.dispatcher.bind(leg, flow.call.id)
    await flow.media.answer()
    bridge_id = f"call-{flow.call.id}"
    try:
        await engine.ari.request("POST", f"bridges/{bridge_id}", type=CALL_BRIDGE_TYPE, name=f"call-{flow.call.id[:8]}")
        flow.bridge_id = bridge_id
        await engine.ari.request("POST", f"bridges/{bridge_id}/addChannel", channel=flow.call.caller_channel_id)
        await engine.ari.request("POST", f"bridges/{bridge_id}/addChannel", channel=leg)
    except AriError as exc:
        raise CallControlError(409, "connect_failed", str(exc)) from None
    flow.phase, flow.agent_id, flow.agent_channel, flow.returns_to = "connected", agent_id, leg, first
    flow.call.outcome = "answered"
    flow.call.legs[leg] = LiveLeg(leg, "agent", answered=True)
    now = utcnow()
    flow.write(records.apply_steps, flow.call.id, [
        ("connected", {"agent_id": agent_id, "department_id": flow.department_id, "answered_at": now}),
        ("event", {"kind": "connected", "detail": {"agent_id": agent_id, "channel_id": leg, "bridge_id": bridge_id,
                                                   "call_waiting": True, "held_call_id": first}})])
    publish(flow, "call_waiting_ended", reason="answered", held_call_id=first)
    engine.bus.publish({"type": "call", "call_id": flow.call.id, "state": "connected", "agent_id": agent_id,
                        "department_id": flow.department_id, "persistent": False})
    from engine.routing.connect import publish_screen_pop

    await publish_screen_pop(engine, flow.call.id, agent_id, flow.department_id)
    return {"call_id": flow.call.id, "agent_id": agent_id, "held_call_id": first, "agent_channel": leg}


async def release_agent(flow: CallFlow) -> str:
    """In the first call's actor: hold (by=call_waiting) and let go of the agent's leg."""
    control = flow.hold
    control.check_agent(None)
    if not control.state.held:
        # Answering a waiting call always holds the first: its caller must not sit in silence.
        await control.hold("call_waiting", check_policy=False)
    leg = flow.agent_channel
    try:
        await flow.engine.ari.request("POST", f"bridges/{flow.bridge_id}/removeChannel", channel=leg)
    except AriError as exc:
        raise CallControlError(409, "release_failed", str(exc)) from None
    flow.agent_channel = None
    flow.write(records.add_event, flow.call.id, "agent_away", {"agent_id": flow.agent_id, "channel_id": leg})
    return leg


async def take_agent(flow: CallFlow, channel_id: str) -> dict:
    """In the held call's actor: the agent's leg comes back (the call stays on hold)."""
    flow.engine.dispatcher.bind(channel_id, flow.call.id)
    try:
        await flow.engine.ari.request("POST", f"bridges/{flow.bridge_id}/addChannel", channel=channel_id)
    except AriError as exc:
        raise CallControlError(409, "take_failed", str(exc)) from None
    flow.agent_channel = channel_id
    flow.write(records.add_event, flow.call.id, "agent_back", {"agent_id": flow.agent_id, "channel_id": channel_id})
    return {"call_id": flow.call.id, "held": flow.hold.state.held}


async def hand_back(flow: CallFlow) -> bool:
    """The second call ended: give the agent's leg back to the held call. False when
    there is none (the caller then hangs the leg up as usual)."""
    first = getattr(flow, "returns_to", None)
    if not first or flow.agent_channel is None or first not in flow.engine.calls:
        return False
    leg = flow.agent_channel
    try:
        await flow.engine.ari.request("POST", f"bridges/{flow.bridge_id}/removeChannel", channel=leg)
    except AriError as exc:
        # The agent's leg is gone (they hung up during the second call): the held caller
        # must not sit on hold for nobody.
        flow.log.info("hand_back_agent_gone", error=str(exc))
        try:
            await flow.engine.hold_control.ask(first, "agent_gone", channel_id=leg)
        except CallControlError as gone_exc:
            flow.log.warning("held_call_not_rerouted", held_call_id=first, error=gone_exc.message)
        return False
    try:
        await flow.engine.hold_control.ask(first, "take_agent", channel_id=leg)
    except CallControlError as exc:
        flow.log.info("hand_back_failed", error=str(exc))
        return False
    flow.agent_channel = None
    return True


async def agent_gone(flow: CallFlow, channel_id: str | None) -> dict:
    """In the held call's actor: the agent hung up their phone while on the second call, so
    their leg cannot come back. The held call is routed again as a blind transfer back to
    where it came from would be (Dispatcher.reroute): its department (ringing a Ready
    agent, the queue with music, or its overflow), or for a direct call the same agent
    (call waiting / voicemail by the usual rules). The agent is released by the end of the
    second call (wrap-up) and, once Ready, gets the call back if it is still queued."""
    engine, call_id = flow.engine, flow.call.id
    agent_id = flow.agent_id
    flow.write(records.add_event, call_id, "agent_gone", {"agent_id": agent_id, "channel_id": channel_id,
                                                          "held": flow.hold.state.held})
    if flow.hold.state.held:
        await flow.hold.stop_music()
        flow.hold._record("resume", "agent_gone")
    if flow.bridge_id:
        bridge, flow.bridge_id = flow.bridge_id, None
        try:
            await engine.ari.request("DELETE", f"bridges/{bridge}")
        except AriError as exc:
            flow.log.info("held_bridge_delete_failed", error=str(exc))
    flow.agent_id, flow.agent_channel, flow.phase = None, None, "routing"
    flow.media.moh = False
    await flow.media.hold_music(flow.moh_class())
    department_id = flow.department_id
    target_agent = None if department_id is not None else agent_id
    try:
        engine.routing.reroute(call_id, department_id, agent_id=target_agent)
    except RoutingError as exc:
        flow.log.warning("held_call_reroute_refused", error=str(exc))
        await flow.overflow("voicemail")
    return {"call_id": call_id, "rerouted": True}
