"""REST requests on a live call (transfer, complete, cancel, merge, hang-up), run in the
call's actor.

Why here: `engine/features/control.py` turns a web request into a message for the call's
actor; this module is what the actor does with it, on the call's `CallFeatures`
(engine/features/transfers.py). Requests and ARI events for one call are handled one at a
time, so a REST "complete" and the agent's phone hanging up can never race. Every refusal
is a `ControlError` naming the HTTP status the web answers with.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from . import transfer as tm
from .transfers import ControlError

if TYPE_CHECKING:  # pragma: no cover
    from .transfers import CallFeatures


async def answer_request(features: CallFeatures, message: dict) -> None:
    """Run the request and settle its future (the web handler waits on it, with a timeout)."""
    future: asyncio.Future = message["future"]
    try:
        result = await handle(features, message["action"], message.get("agent_id"), message.get("args") or {})
    except ControlError as exc:
        if not future.done():
            future.set_exception(exc)
        return
    except Exception as exc:  # noqa: BLE001 - the web must get an answer
        features.log.exception("call_control_failed", action=message["action"])
        if not future.done():
            future.set_exception(ControlError(500, "internal", str(exc)))
        return
    if not future.done():
        future.set_result(result)


async def handle(features: CallFeatures, action: str, agent_id: int | None, args: dict) -> dict:
    flow, machine = features.flow, features.machine
    if agent_id is not None and agent_id not in (flow.agent_id, features.agent_id):
        if agent_id == features.recipient_agent and action == "hangup":
            return await _recipient_hangs_up(features)
        raise ControlError(403, "forbidden", "an agent may act only on their own call")
    if action == "transfer":
        target = features.new_target(args["kind"], args["value"], args.get("queue", True))
        return await features.start(args["flow"], target, via="rest")
    if action in ("complete", "cancel"):
        if args.get("transfer_id") != features.transfer_id or features.transfer_id is None:
            raise ControlError(404, "not_found", f"no transfer {args.get('transfer_id')} on this call")
        try:
            commands = machine.complete() if action == "complete" else machine.cancel()
        except tm.TransferError as exc:
            raise ControlError(409, "transfer_refused", str(exc)) from None
        await features.run(commands, via="rest")
        return features.describe()
    if action == "merge":
        try:
            commands = machine.merge()
        except tm.TransferError as exc:
            raise ControlError(409, "conference_refused", str(exc)) from None
        await features.run(commands, via="rest")
        return features.describe()
    if action == "hangup":
        return await _hang_up(features)
    raise ControlError(422, "invalid_action", f"unknown action {action!r}")


async def _hang_up(features: CallFeatures) -> dict:
    """The agent's Hang up: as their phone's would."""
    flow, machine = features.flow, features.machine
    in_transfer = machine.active or machine.phase == tm.CONFERENCE
    if in_transfer and features.agent_persistent and features.agent_channel:
        # A path agent "hangs up" by leaving: as a phone's hang-up would, it completes a
        # consultation or leaves a conference; the channel goes back to the path.
        features._record("hangup_requested", {"via": "rest", "channel_id": features.agent_channel})
        await features._give_back_path(features.agent_channel)
        await features._agent_left()
        return {"state": "hanging_up"}
    if machine.active:
        channel = features.agent_channel  # A leaves: completes a consultation (as the phone would)
    else:
        channel = flow.call.caller_channel_id if flow.persistent or flow.agent_channel is None \
            else flow.agent_channel
    features._record("hangup_requested", {"via": "rest", "channel_id": channel})
    if channel:
        await flow.hangup_channel(channel)
    return {"state": "hanging_up"}


async def _recipient_hangs_up(features: CallFeatures) -> dict:
    """The recipient's own Hang up during a consultation or conference (as their phone's
    would): a consultation fails back to the transferring agent, a conference goes on
    without them."""
    channel = features.recipient or features.conference_channel
    if channel is None:
        raise ControlError(409, "not_connected", "the recipient is not on this call")
    features._record("hangup_requested", {"via": "rest", "channel_id": channel, "by": "recipient"})
    await features.flow.hangup_channel(channel)
    return {"state": "hanging_up"}
