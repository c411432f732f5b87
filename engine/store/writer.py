"""A serial writer: blocking database work, off the event loop, in submission order.

Why serial: agent state changes must be stored in the order they happened (the history
is what time-in-state reports read), and `asyncio.to_thread` per write would let two
writes overtake each other. One task drains one queue and hands over everything queued so
far as one batch; the next batch goes only when the last one is done.

Where a batch runs:
- `process=True` (the engine): in a worker process of its own. The ORM costs about 2 ms
  of CPU a write and a call makes about ten; in a thread of the engine's process that work
  held the GIL, and the event loop, which gives the GIL up on every socket call, waited
  for it again each time (bench/routing_latency.py: the writer's batches took up to 1.4 s
  of wall time under load, and calls routed meanwhile waited). A process has a GIL of its
  own. Jobs and their results cross by pickle, so a job is a module-level function with
  plain arguments. The worker starts from a fork server (`forkserver`), so it inherits no
  open database connection, socket or thread of the engine, and starts in milliseconds.
  If the worker dies its batch fails and the next batch starts a new one. A program that
  starts the engine keeps its `if __name__ == "__main__":` guard: like every spawn or
  forkserver child, the worker imports the program's main module (as `__mp_main__`).
  Its CPU matters on a small machine, hence the SQL-statement writes in
  engine/calls/records.py and engine/agents/records.py, and a lower priority (niceness).
- `process=False` (the default, for services run without the engine): a worker thread.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..log import get_logger

log = get_logger("engine.store.writer")

# Imported once by the fork server, so a worker starts with the write functions loaded.
WORKER_PRELOAD = ["engine.store.session", "engine.agents.records", "engine.calls.records",
                  "engine.routing.screenpop_data", "engine.routing.contacts"]

WORKER_NICENESS = 10  # see _worker_init

Job = tuple[Callable[..., Any], tuple, dict]


class WriterUnavailable(RuntimeError):
    """The writer process died while it held a batch: those writes may or may not have run."""


class SerialWriter:
    def __init__(self, max_defer: float = 0.5, *, process: bool = False) -> None:
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self.max_defer = max_defer
        self.process = process
        self._executor: ProcessPoolExecutor | None = None
        self._quiet_at = 0.0  # loop time before which writes wait (see `defer`)

    def defer(self, seconds: float) -> None:
        """Hold writes back for `seconds` (at most `max_defer` in all): the caller is on a
        latency-critical path (a call being routed). Order is unchanged; nothing is dropped."""
        self._quiet_at = max(self._quiet_at, asyncio.get_running_loop().time() + seconds)

    def start(self) -> SerialWriter:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="serial-writer")
        return self

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future:
        """Queue `fn(*args, **kwargs)`; the returned future resolves when it has run."""
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(((fn, args, kwargs), future))
        self.start()
        return future

    async def open(self) -> None:
        """Have the writer process up (the engine calls this at start). Starting it blocks
        for a moment (the fork server imports the write functions once per machine run),
        so it happens in a thread and before calls arrive, never under the first call."""
        if self.process and self._executor is None:
            self._executor = await asyncio.to_thread(_started_worker)

    async def drain(self) -> None:
        """Wait until everything submitted so far has been written."""
        await self.submit(_nothing)

    async def stop(self) -> None:
        if self._task is not None:
            await self.drain()
            self._task.cancel()
            self._task = None
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.max_defer
            while (wait := min(self._quiet_at, deadline) - loop.time()) > 0:
                await asyncio.sleep(wait)
            batch = [first]
            while not self._queue.empty() and len(batch) < 200:
                batch.append(self._queue.get_nowait())
            outcomes = await self._execute([job for job, _ in batch])
            for (_, future), (ok, value) in zip(batch, outcomes):
                if not future.done():
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)

    async def _execute(self, jobs: list[Job]) -> list[tuple[bool, Any]]:
        if not self.process:
            return await asyncio.to_thread(run_batch, jobs)
        await self.open()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, run_batch, jobs)
        except BrokenProcessPool:
            log.error("writer_process_died", jobs=len(jobs))
            broken, self._executor = self._executor, None
            broken.shutdown(wait=False, cancel_futures=True)
            return [(False, WriterUnavailable("the database writer process died"))] * len(jobs)
        except Exception:  # noqa: BLE001 - the batch could not be sent (a job does not pickle): nothing ran
            if len(jobs) == 1:
                return [(False, _unsendable(jobs[0]))]
            outcomes = []
            for job in jobs:  # find the one that cannot be sent; the others still run, in order
                outcomes += await self._execute([job])
            return outcomes


def _started_worker() -> ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)
    executor = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_worker_init)
    executor.submit(_nothing).result(timeout=60)  # the worker is up and has run a job
    return executor


def _worker_init() -> None:
    """History writes can wait; Asterisk and the event loop cannot. On a small machine (two
    cores shared with Asterisk) the writer yields the CPU to them when they need it."""
    import os

    from ..log import configure_logging

    configure_logging("INFO", json=True)
    os.nice(WORKER_NICENESS)


def _nothing() -> None:
    return None


def _unsendable(job: Job) -> Exception:
    fn = job[0]
    name = getattr(fn, "__qualname__", repr(fn))
    log.error("write_not_sendable", job=name)
    return TypeError(f"write job {name} cannot be sent to the writer process: use a module-level "
                     f"function with plain (picklable) arguments")


def run_batch(jobs: list[Job]) -> list[tuple[bool, Any]]:
    """Run each job in order; one's failure is its own (the others still run). In the
    writer process every outcome is checked to pickle, so a batch always comes back."""
    outcomes: list[tuple[bool, Any]] = []
    in_worker = multiprocessing.parent_process() is not None
    for fn, args, kwargs in jobs:
        try:
            outcome = (True, fn(*args, **kwargs))
        except Exception as exc:
            log.exception("write_failed", job=getattr(fn, "__name__", repr(fn)))
            outcome = (False, exc)
        if in_worker:
            try:
                pickle.loads(pickle.dumps(outcome[1]))  # an exception can pickle and fail to unpickle
            except Exception as exc:  # noqa: BLE001
                outcome = (False, RuntimeError(f"{getattr(fn, '__name__', fn)}: its outcome cannot be sent "
                                               f"back ({type(outcome[1]).__name__}: {exc})"))
        outcomes.append(outcome)
    return outcomes
