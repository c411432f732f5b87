"""Outbound calls: an agent's phone dials an external number (`Stasis(app,outbound,<n>)`).

The number is read in the agent's region (`020 7946 0001` from a GB phone) and dialled
through the trunk as E.164 with the agent's extension caller ID; the agent hears ringback
until the far end answers, then both are bridged. Either side hanging up ends the call
(the flow's usual `on_channel_end` / `close`). A number that does not parse is refused
with `pbx-invalid` and a hang-up: bad input changes nothing.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import phonenumbers

from engine.calls import records
from engine.calls.model import LiveLeg
from engine.pbx.ari import AriError
from engine.store.fields import utcnow

from .connect import CALL_BRIDGE_TYPE
from .media import play_and_wait

if TYPE_CHECKING:  # pragma: no cover
    from .flow import CallFlow


def e164(number: str, region: str | None) -> str | None:
    try:
        parsed = phonenumbers.parse(number, None if number.startswith("+") else (region or None))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


async def dial(flow: CallFlow) -> None:
    engine, call = flow.engine, flow.call
    endpoint = (call.legs[call.caller_channel_id].endpoint or "")
    agent_id = engine.directory.by_sip_username.get(endpoint)
    agent = engine.directory.agents.get(agent_id) if agent_id is not None else None
    number = e164(call.inbound_number or "", agent.region if agent else None)
    if agent is None or number is None:
        flow.log.info("outbound_refused", dialled=call.inbound_number, endpoint=endpoint)
        await flow.media.answer()
        await play_and_wait(engine, call.caller_channel_id, "sound:pbx-invalid", timeout=10)
        call.outcome = "failed"
        await flow.media.hangup()
        return
    flow.phase = "dialling"
    flow.agent_id = agent_id
    channel_id = f"sb-{uuid.uuid4().hex}"
    engine.dispatcher.bind(channel_id, call.id)
    flow.outbound_channel = channel_id
    caller_id = f'"{agent.name}" <{agent.extension_caller_id or ""}>'
    try:
        await engine.ari.request("POST", f"channels/{channel_id}", endpoint=f"PJSIP/{number}@trunk",
                                 app=engine.settings.ari_app, appArgs=f"dial,{call.id}", timeout=60,
                                 callerId=caller_id, originator=call.caller_channel_id)
    except AriError as exc:
        flow.log.warning("outbound_originate_failed", error=str(exc))
        call.outcome = "failed"
        await flow.media.hangup("congestion")
        return
    flow.write(records.apply_steps, call.id, [
        ("leg", {"channel_id": channel_id, "role": "external", "endpoint": number, "agent_id": agent_id}),
        ("event", {"kind": "dialled", "detail": {"number": number, "agent_id": agent_id}})])
    await flow.media.ring()


async def on_event(flow: CallFlow, event: dict) -> bool:
    """Events of the far-end leg; False when the event is not about it."""
    channel = event.get("channel") or {}
    if not channel.get("id") or channel["id"] != getattr(flow, "outbound_channel", None):
        return False
    kind = event.get("type")
    if kind == "StasisStart" and flow.phase == "dialling":
        engine, call = flow.engine, flow.call
        flow.phase = "connected"
        flow.agent_channel = channel["id"]
        await flow.media.answer()
        bridge_id = f"call-{call.id}"
        try:
            await engine.ari.request("POST", f"bridges/{bridge_id}", type=CALL_BRIDGE_TYPE, name=f"call-{call.id[:8]}")
            flow.bridge_id = bridge_id
            await engine.ari.request("POST", f"bridges/{bridge_id}/addChannel",
                                     channel=f"{call.caller_channel_id},{channel['id']}")
        except AriError as exc:
            flow.log.warning("outbound_bridge_failed", error=str(exc))
            await flow.media.hangup()
            return True
        call.outcome = "answered"
        call.legs[channel["id"]] = LiveLeg(channel["id"], "external", answered=True)
        flow.write(records.update_call, call.id, agent_id=flow.agent_id, answered_at=utcnow())
        flow.write(records.add_event, call.id, "connected", {"channel_id": channel["id"], "bridge_id": bridge_id})
    elif kind == "ChannelDestroyed":
        if flow.phase == "dialling":  # busy, rejected or no answer: tell the agent's phone
            flow.call.outcome = "busy" if event.get("cause") == 17 else "failed"
            await flow.media.hangup("busy" if event.get("cause") == 17 else "normal")
        elif flow.phase == "connected":
            await flow.media.hangup()
    return True
