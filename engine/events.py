"""In-process event bus: the engine publishes, the web side's websockets subscribe.

Why in-process and fan-out by queue: a state change must reach every open dashboard
within milliseconds, and a slow browser must never slow the engine. `publish` is
synchronous and never blocks: each subscriber has its own bounded queue; a subscriber
that falls behind by more than `maxsize` events is marked lagging and dropped (its
websocket is closed and the page reloads its state), instead of growing memory without
bound.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Callable

from .log import get_logger

log = get_logger("engine.events")


class Subscription:
    def __init__(self, bus: "EventBus", maxsize: int, predicate: Callable[[dict], bool] | None):
        self.bus = bus
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=maxsize)
        self.predicate = predicate
        self.lagging = False

    def offer(self, event: dict) -> None:
        if self.lagging or (self.predicate is not None and not self.predicate(event)):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagging = True
            log.warning("subscriber_lagging", dropped_type=event.get("type"))

    async def get(self) -> dict:
        return await self.queue.get()

    def close(self) -> None:
        self.bus.unsubscribe(self)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []
        self._seq = itertools.count(1)

    def subscribe(self, maxsize: int = 1000, predicate: Callable[[dict], bool] | None = None) -> Subscription:
        sub = Subscription(self, maxsize, predicate)
        self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    def publish(self, event: dict) -> None:
        """Stamp the event with a sequence number and offer it to every subscriber."""
        event = {**event, "seq": next(self._seq)}
        for sub in list(self._subscribers):
            sub.offer(event)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
