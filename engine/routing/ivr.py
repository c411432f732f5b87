"""IVR menus: a greeting, one DTMF digit, then the option's target.

Event-driven inside the call's actor: the greeting is awaited, then a timer waits for a
digit (`ChannelDtmfReceived`, RFC 4733 or SIP INFO alike). An invalid digit plays
`pbx-invalid` and the menu again; silence replays the menu; after `max_retries` the
caller is hung up. Digits pressed during the greeting are handled once it ends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.calls import records

from .media import play_and_wait

if TYPE_CHECKING:  # pragma: no cover
    from .flow import CallFlow


@dataclass
class IvrState:
    ivr_id: int
    tries: int = 0
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


async def enter(flow: CallFlow, ivr_id: int) -> None:
    flow.phase = "ivr"
    flow.ivr = IvrState(ivr_id)
    flow.write(records.add_event, flow.call.id, "ivr", {"ivr_id": ivr_id})
    await flow.media.answer()
    await _prompt(flow)


async def _prompt(flow: CallFlow) -> None:
    conf = flow.engine.directory.ivrs[flow.ivr.ivr_id]
    flow.ivr.token = uuid.uuid4().hex
    await play_and_wait(flow.engine, flow.call.caller_channel_id, f"sound:{conf.greeting}", timeout=60)
    if flow.phase == "ivr":
        flow.timer(conf.timeout, "ivr", token=flow.ivr.token)


async def _retry(flow: CallFlow) -> None:
    conf = flow.engine.directory.ivrs[flow.ivr.ivr_id]
    flow.ivr.tries += 1
    if flow.ivr.tries > conf.max_retries:
        flow.call.outcome = "failed"
        await flow.media.hangup()
        return
    await _prompt(flow)


async def on_timeout(flow: CallFlow, token: str) -> None:
    if flow.phase == "ivr" and flow.ivr is not None and token == flow.ivr.token:
        await _retry(flow)


async def on_digit(flow: CallFlow, digit: str) -> None:
    conf = flow.engine.directory.ivrs[flow.ivr.ivr_id]
    flow.ivr.token = uuid.uuid4().hex  # the pending timeout no longer counts
    option = conf.options.get(digit)
    flow.write(records.add_event, flow.call.id, "ivr_digit", {"ivr_id": conf.id, "digit": digit,
                                                               "valid": option is not None})
    if option is None:
        await play_and_wait(flow.engine, flow.call.caller_channel_id, "sound:pbx-invalid", timeout=10)
        await _retry(flow)
        return
    target_type, target_id = option
    if target_type == "repeat":
        await _prompt(flow)
    elif target_type == "hangup":
        flow.call.outcome = "failed"
        await flow.media.hangup()
    elif target_type == "ivr":
        await enter(flow, target_id)
    else:
        flow.phase = "routing"
        await flow.route_target(target_type, target_id)
