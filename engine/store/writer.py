"""A serial writer: blocking database work, off the event loop, in submission order.

Why serial: agent state changes must be stored in the order they happened (the history
is what time-in-state reports read), and `asyncio.to_thread` per write would let two
writes overtake each other. One task drains one queue; each job runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..log import get_logger

log = get_logger("engine.store.writer")


class SerialWriter:
    def __init__(self, max_defer: float = 0.5) -> None:
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self.max_defer = max_defer
        self._quiet_at = 0.0  # loop time before which writes wait (see `defer`)

    def defer(self, seconds: float) -> None:
        """Hold writes back for `seconds` (at most `max_defer` in all): the caller is on a
        latency-critical path (a call being routed). The ORM work of a write runs in a
        thread but holds the GIL; deferring it until a lull keeps it from slowing the event
        loop mid-burst. Order is unchanged; nothing is dropped."""
        self._quiet_at = max(self._quiet_at, asyncio.get_running_loop().time() + seconds)

    def start(self) -> SerialWriter:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="serial-writer")
        return self

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        """Queue `fn(*args)`; the returned future resolves when it has run."""
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((fn, args, future))
        self.start()
        return future

    async def drain(self) -> None:
        """Wait until everything submitted so far has been written."""
        await self.submit(lambda: None)

    async def stop(self) -> None:
        if self._task is not None:
            await self.drain()
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            # Everything queued so far runs in one worker-thread hop, still in order: under a
            # burst of calls that is one hand-off instead of dozens competing with the loop.
            first = await self._queue.get()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.max_defer
            while (wait := min(self._quiet_at, deadline) - loop.time()) > 0:
                await asyncio.sleep(wait)
            batch = [first]
            while not self._queue.empty() and len(batch) < 200:
                batch.append(self._queue.get_nowait())
            outcomes = await asyncio.to_thread(_run_batch, batch)
            for (_, _, future), (ok, value) in zip(batch, outcomes):
                if not future.done():
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)


def _run_batch(batch: list) -> list[tuple[bool, Any]]:
    outcomes: list[tuple[bool, Any]] = []
    for fn, args, _ in batch:
        try:
            outcomes.append((True, fn(*args)))
        except Exception as exc:
            log.exception("write_failed", job=getattr(fn, "__name__", repr(fn)))
            outcomes.append((False, exc))
    return outcomes
