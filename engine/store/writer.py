"""A serial writer: blocking database work, off the event loop, in submission order.

Why serial: agent state changes must be stored in the order they happened (the history
is what time-in-state reports read), and `asyncio.to_thread` per write would let two
writes overtake each other. One task drains one queue; each job runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from ..log import get_logger

log = get_logger("engine.store.writer")


class SerialWriter:
    def __init__(self) -> None:
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task: asyncio.Task | None = None

    def start(self) -> "SerialWriter":
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
            fn, args, future = await self._queue.get()
            try:
                result = await asyncio.to_thread(fn, *args)
            except Exception as exc:  # noqa: BLE001 - report to the submitter, keep writing
                log.exception("write_failed", job=getattr(fn, "__name__", repr(fn)))
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)
