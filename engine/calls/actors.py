"""One logical owner per call: an actor (a queue and a task) per call, events routed to it.

Why: the anchor platform handled a call's events on one thread and its HTTP commands on
another, and its transfers raced for years. Here every event of a call, and every command
for it, is a message in that call's queue, processed in order by that call's one task.
The ARI reader only calls `CallDispatcher.route()`, which looks up the owner by channel id
and enqueues: it never awaits, so one slow call never delays another's events (and
asyncari's 1.5 s watchdog never fires).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

log = structlog.get_logger("engine.calls.actors")  # lazy: configure_logging() may run after import

Handler = Callable[[Any], Awaitable[bool | None]]
_STOP = object()


class Actor:
    """Runs `handler(message)` for each posted message, in order, in one task.

    The actor ends when the handler returns True (the call is over), when `stop()` is
    called, or when it is cancelled. A handler that raises is logged and the actor goes on
    with the next message: one bad event must not orphan a live call.
    """

    def __init__(self, key: str, handler: Handler, on_done: Callable[[Actor], None] | None = None):
        self.key = key
        self.handler = handler
        self.on_done = on_done
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.finished = False

    def start(self) -> Actor:
        self.task = asyncio.create_task(self._run(), name=f"call-actor-{self.key}")
        return self

    def post(self, message: Any) -> None:
        if not self.finished:
            self.queue.put_nowait(message)

    def stop(self) -> None:
        self.post(_STOP)

    async def _run(self) -> None:
        try:
            while True:
                message = await self.queue.get()
                if message is _STOP:
                    break
                try:
                    if await self.handler(message):
                        break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Not `event=`: structlog's first argument is named `event`.
                    log.exception("actor_handler_failed", actor=self.key,
                                  message_type=message.get("type") if isinstance(message, dict) else type(message).__name__)
        finally:
            self.finished = True
            if self.on_done is not None:
                self.on_done(self)


def channel_ids_of(event: dict) -> list[str]:
    """The channel ids an ARI event concerns, the primary one first."""
    ids: list[str] = []
    for key in ("channel", "peer", "replace_channel"):
        value = event.get(key)
        if isinstance(value, dict) and value.get("id"):
            ids.append(value["id"])
    if isinstance(event.get("channel_id"), str):  # synthetic events carry a bare id
        ids.append(event["channel_id"])
    # ChannelTransfer (a phone's REFER under PJSIP_TRANSFER_HANDLING ari-only) names no
    # `channel`: the phone that sent the REFER is `referred_by.source_channel`.
    source = (event.get("referred_by") or {}).get("source_channel")
    if isinstance(source, dict) and source.get("id"):
        ids.append(source["id"])
    return ids


class CallDispatcher:
    """Routes events to the actor that owns their channel.

    `on_unowned(event)` decides what to do with an event whose channels have no owner (a
    `StasisStart` of a new call): it may call `spawn()` and return the new actor, which then
    receives the event as its first message. Everything here is synchronous on purpose.
    """

    def __init__(self, on_unowned: Callable[[dict], Actor | None] | None = None):
        self.on_unowned = on_unowned
        self.actors: dict[str, Actor] = {}
        self.owners: dict[str, str] = {}  # channel id -> actor key

    def spawn(self, key: str, handler: Handler, channel_ids: list[str] = ()) -> Actor:
        if key in self.actors:
            raise ValueError(f"an actor for {key!r} already exists")
        actor = Actor(key, handler, on_done=self._forget).start()
        self.actors[key] = actor
        for channel_id in channel_ids:
            self.bind(channel_id, key)
        return actor

    def bind(self, channel_id: str, key: str) -> None:
        self.owners[channel_id] = key

    def unbind(self, channel_id: str) -> None:
        self.owners.pop(channel_id, None)

    def owner_of(self, channel_id: str) -> Actor | None:
        key = self.owners.get(channel_id)
        return self.actors.get(key) if key is not None else None

    def post(self, key: str, message: Any) -> bool:
        actor = self.actors.get(key)
        if actor is None:
            return False
        actor.post(message)
        return True

    def route(self, event: dict) -> Actor | None:
        """Enqueue `event` for its owner (creating one via `on_unowned`). Never awaits."""
        for channel_id in channel_ids_of(event):
            actor = self.owner_of(channel_id)
            if actor is not None:
                actor.post(event)
                return actor
        if self.on_unowned is not None:
            actor = self.on_unowned(event)
            if actor is not None:
                actor.post(event)
                return actor
        return None

    def _forget(self, actor: Actor) -> None:
        if self.actors.get(actor.key) is actor:
            del self.actors[actor.key]
        for channel_id in [c for c, k in self.owners.items() if k == actor.key]:
            del self.owners[channel_id]

    async def stop(self, timeout: float = 2.0) -> None:
        """Cancel every actor (the calls stay up in Asterisk; a restart re-adopts them)."""
        tasks = [a.task for a in self.actors.values() if a.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
