"""The Stasis entry point: what happens to a call from StasisStart until it is over.

The dialplan sends each inbound number to `Stasis(switchboard,inbound,<E.164>)` (and an
agent's intercom and external calls to `internal,<ext>` / `outbound,<number>`). The
dispatcher gives the new channel its own actor; `CallSession.handle` is that actor's
handler, so everything below runs in the call's one task, in event order.

Routing plugs in through the `router` hook: `await router(ctx)` is called once the call's
record is queued for writing (not awaited: routing does not wait for the database). The
Engine's router is `engine.routing.flow.route_call`; `hold_in_stasis` (answer, music on
hold, wait) remains for tests and tools that want a call parked. When the caller leaves,
the call's flow (`call.flow`) is closed first (agents released, bridge destroyed), then
the record is closed with the flow's outcome (answered, voicemail, busy, closed, failed)
or `abandoned`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from engine.calls import records
from engine.calls.model import LiveCall, LiveLeg, normalize_caller_number, stasis_args
from engine.pbx.ari import AriError
from engine.store.fields import utcnow

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine

log = structlog.get_logger("engine.runtime.stasis")  # lazy: configure_logging() may run after import

# Synthetic messages the engine posts to a call's actor.
CHANNEL_GONE = "SwitchboardChannelGone"  # the channel vanished while ARI was disconnected
ADOPT = "SwitchboardAdopt"  # the call was re-taken after a restart


@dataclass
class CallContext:
    """What a router gets: the call, a way to reach Asterisk, and a logger bound to the call."""

    call: LiveCall
    engine: Engine
    log: Any
    adopted: bool = False

    async def ari(self, method: str, path: str, **kwargs):
        return await self.engine.ari.request(method, path, **kwargs)


Router = Callable[[CallContext], Awaitable[None]]


async def hold_in_stasis(ctx: CallContext) -> None:
    """A router that parks the call: answer, play music on hold, wait."""
    if ctx.adopted:
        return  # already answered and hearing music; nothing to redo
    channel = ctx.call.caller_channel_id
    try:
        await ctx.ari("POST", f"channels/{channel}/answer")
    except AriError as exc:
        ctx.log.warning("answer_failed", error=str(exc))
        return
    try:
        await ctx.ari("POST", f"channels/{channel}/moh", mohClass="default")
    except AriError as exc:
        ctx.log.info("moh_unavailable", error=str(exc))


def new_inbound_call(event: dict) -> LiveCall | None:
    """A LiveCall for `StasisStart` with args ['inbound', '<E.164>'], else None."""
    args = stasis_args(event)
    if len(args) < 2 or args[0] != "inbound":
        return None
    return new_call(event)


# Stasis() entries that start a call of their own, and the call's direction.
CALL_ENTRIES = {"inbound": "inbound", "internal": "internal", "outbound": "outbound"}


def new_call(event: dict) -> LiveCall | None:
    """A LiveCall for `StasisStart` with args ['inbound'|'internal'|'outbound', '<number>'].

    For `internal` (an agent dialled an intercom) and `outbound` the second argument is
    what was dialled; it is kept in `inbound_number` (the number the call was placed to).
    """
    args = stasis_args(event)
    channel = event.get("channel") or {}
    if len(args) < 2 or args[0] not in CALL_ENTRIES or not channel.get("id"):
        return None
    caller = channel.get("caller") or {}
    dialled = args[1]
    call = LiveCall(
        id=LiveCall.new_id(), direction=CALL_ENTRIES[args[0]], caller_channel_id=channel["id"],
        inbound_number=dialled,
        caller_number=normalize_caller_number(caller.get("number"), dialled if dialled.startswith("+") else None),
        caller_name=(caller.get("name") or "").strip() or None,
    )
    call.legs[channel["id"]] = LiveLeg(channel["id"], "caller", endpoint=_endpoint_of(channel),
                                       state=channel.get("state"))
    return call


def _endpoint_of(channel: dict) -> str | None:
    """`PJSIP/trunk-00000001` -> `trunk`."""
    name = channel.get("name") or ""
    if "/" not in name:
        return None
    return name.split("/", 1)[1].rsplit("-", 1)[0] or None


class CallSession:
    """The handler of one call's actor."""

    def __init__(self, engine: Engine, call: LiveCall, *, persisted: bool = False):
        self.engine = engine
        self.call = call
        self.persisted = persisted
        self.started = False
        self.causes: dict[str, int | None] = {}
        self.log = log.bind(call_id=call.id, channel_id=call.caller_channel_id)

    async def handle(self, event: dict) -> bool:
        """Process one event; True when the call is over (the actor then ends)."""
        kind = event.get("type")
        channel = event.get("channel") if isinstance(event.get("channel"), dict) else {}
        channel_id = channel.get("id") or event.get("channel_id")
        if kind == "StasisStart" and not self.started:
            await self._start(event, adopted=False)
            return False
        if kind == ADOPT and not self.started:
            await self._start(event, adopted=True)
            return False
        if kind in ("ChannelHangupRequest", "ChannelDestroyed") and channel_id and "cause" in event:
            self.causes[channel_id] = event.get("cause")
        if channel_id == self.call.caller_channel_id and kind in ("StasisEnd", "ChannelDestroyed", CHANNEL_GONE):
            if self.call.flow is not None:
                try:
                    await self.call.flow.close()
                except Exception:
                    self.log.exception("flow_close_failed")
            await self._close(reason=kind)
            return True
        for listener in list(self.call.listeners):
            await listener(event)
        return False

    async def _start(self, event: dict, *, adopted: bool) -> None:
        self.started = True
        self.call.adopted = adopted
        if not self.persisted:
            # Through the serial writer, not awaited: routing (the caller's wait for an
            # agent's phone to ring) does not wait for the database. Every later write of
            # the call goes through the same writer, so it lands after this one.
            self.engine.writer.submit(records.create_call, self.engine.settings.database_url,
                                      records.NewCall.of(self.call))
            self.persisted = True
        self.log.info("call_started" if not adopted else "call_adopted", inbound_number=self.call.inbound_number,
                      caller_number=self.call.caller_number, synthetic=bool(event.get("synthetic")))
        self.engine.calls[self.call.id] = self.call
        ctx = CallContext(self.call, self.engine, self.log, adopted=adopted)
        try:
            await self.engine.router(ctx)
        except Exception:
            self.log.exception("router_failed")

    async def _close(self, *, reason: str) -> None:
        call = self.call
        call.ended_at = utcnow()
        if call.outcome == "in_progress":
            call.outcome = "abandoned"
        self.engine.calls.pop(call.id, None)
        if self.persisted:
            try:
                await self.engine.writer.submit(records.close_call, self.engine.settings.database_url, call.id,
                                                ended_at=call.ended_at, outcome=call.outcome, causes=dict(self.causes))
            except Exception:
                self.log.exception("call_close_failed")
        self.log.info("call_ended", reason=reason, outcome=call.outcome)
