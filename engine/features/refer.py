"""The phone's own transfer button (SIP REFER) through the same transfer logic.

Why: a softphone's transfer button sends REFER; left to Asterisk's core it would move the
call behind the engine's back (no agent state, no timeline, no "no caller lost"). With
`PJSIP_TRANSFER_HANDLING()=ari-only` set on the agent's channel (Asterisk 22.3+),
Asterisk answers the REFER with 202 and raises a `ChannelTransfer` ARI event instead; the
engine maps it onto `CallFeatures.start` (blind: `refer_to.requested_destination.exten`,
an intercom, a transfer code or a number) and reports what happens to the new leg with
`POST /channels/{id}/transfer_progress` (Asterisk turns those into the NOTIFYs the phone
expects). An attended REFER (with Replaces) joins the phone's own consultation call to the
call it transfers: engine/features/attended_refer.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.calls.actors import channel_ids_of
from engine.pbx.ari import AriError

from . import transfer as tm

if TYPE_CHECKING:  # pragma: no cover
    from .transfers import CallFeatures

REFER_VARIABLE = "PJSIP_TRANSFER_HANDLING()"


async def enable_refer(features: CallFeatures, channel_id: str) -> None:
    """Hand this agent channel's REFERs to the app (best effort: the call works without)."""
    try:
        await features.engine.ari.request("POST", f"channels/{channel_id}/variable", variable=REFER_VARIABLE,
                                          value="ari-only")
    except AriError as exc:
        features.log.info("refer_handling_unavailable", error=str(exc))


def is_attended(event: dict) -> bool:
    """A REFER that replaces another call (the phone's own consultation): it names the
    consultation's channel, or at least its SIP Call-ID, instead of a number to dial."""
    refer = event.get("refer_to") or {}
    requested = refer.get("requested_destination") or {}
    return bool(refer.get("destination_channel") or requested.get("protocol_id")
                or requested.get("additional_protocol_params"))


def _destination(event: dict) -> str:
    refer = event.get("refer_to") or {}
    dest = refer.get("requested_destination") or {}
    for key in ("destination", "exten"):
        if dest.get(key):
            value = str(dest[key])
            if value.startswith("sip:"):
                value = value[4:].split("@", 1)[0]
            return value
    return ""


async def on_channel_transfer(features: CallFeatures, event: dict) -> None:
    from .transfers import ControlError

    channel_id = channel_ids_of(event)[0]  # the phone that sent the REFER
    features.refer = {"channel_id": channel_id}
    dest = _destination(event)
    features.log.info("refer_received", destination=dest, attended=is_attended(event))
    try:
        if is_attended(event):
            from .attended_refer import transfer

            await transfer(features, event)
            return
        if dest.isdigit() and len(dest) == 4:
            target = features.new_target(tm.AGENT, dest)
        elif dest.isdigit() and len(dest) == 5:
            target = features.new_target("code", dest, True)
        else:
            target = features.new_target(tm.EXTERNAL, dest)
        # A blind transfer frees the agent at once (their leg is hung up by the transfer),
        # so the phone is told it succeeded before the leg goes.
        await progress(features, "channel_progress")
        await progress(features, "channel_answered")
        await features.start(tm.BLIND, target, via="refer")
    except ControlError as exc:
        features.log.info("refer_refused", reason=exc.message)
        features._record("refer_refused", {"destination": dest, "reason": exc.message})
        await progress(features, "channel_declined")


async def progress(features: CallFeatures, state: str) -> None:
    refer = features.refer
    if refer is None:
        return
    if state in ("channel_answered", "channel_declined", "channel_unavailable"):
        features.refer = None
    try:
        await features.engine.ari.request("POST", f"channels/{refer['channel_id']}/transfer_progress",
                                          states=state)
    except AriError as exc:
        features.log.info("transfer_progress_failed", state=state, error=str(exc))
