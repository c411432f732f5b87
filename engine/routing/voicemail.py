"""Voicemail over ARI (app_voicemail is not loaded): an intro, a beep, a recording.

Why not app_voicemail: the engine already owns the call in Stasis and records it as a
step of the call's timeline; a message is a stored recording named after the mailbox
(department or agent) and the call, `voicemail-<mailbox>-<call id>`, which the
dashboard can list from the call's `voicemail` event. The intro is awaited; the
recording is event-driven (RecordingFinished, or the caller hanging up) so the call's
actor is never blocked for the length of a message.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from engine.calls import records
from engine.pbx.ari import AriError

from .media import play_and_wait

if TYPE_CHECKING:  # pragma: no cover
    from .flow import CallFlow

INTRO = "sound:vm-intro"
MAX_SECONDS = 120


def recording_name(mailbox: str, call_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", mailbox).strip("_") or "general"
    return f"voicemail-{safe}-{call_id}"


async def start(flow: CallFlow, mailbox: str) -> None:
    flow.phase = "voicemail"
    flow.call.outcome = "voicemail"
    channel = flow.call.caller_channel_id
    await flow.media.answer()
    await play_and_wait(flow.engine, channel, INTRO, timeout=30)
    if flow.phase != "voicemail":
        return
    name = recording_name(mailbox, flow.call.id)
    try:
        await flow.engine.ari.request("POST", f"channels/{channel}/record", name=name, format="wav",
                                      maxDurationSeconds=MAX_SECONDS, beep=True, terminateOn="#",
                                      ifExists="overwrite")
    except AriError as exc:
        flow.log.warning("voicemail_record_failed", error=str(exc))
        await flow.media.hangup()
        return
    flow.recording = name
    flow.write(records.add_event, flow.call.id, "voicemail", {"recording": name, "mailbox": mailbox})
    flow.log.info("voicemail_recording", recording=name)


async def on_recording_end(flow: CallFlow, event: dict) -> None:
    """The message is complete (max length or '#'): say goodbye by hanging up."""
    name = (event.get("recording") or {}).get("name")
    if flow.recording is None or name != flow.recording:
        return
    flow.write(records.add_event, flow.call.id, "voicemail_saved",
               {"recording": name, "duration": (event.get("recording") or {}).get("duration"),
                "state": event.get("type")})
    await flow.media.hangup()
