"""Reconnect delays: exponential backoff with jitter, reset after a healthy connection.

Why jitter: after an Asterisk restart the engine's ARI and AMI supervisors (and, in a
larger deployment, several engines) all retry at once; spreading the retries keeps them
from knocking on a PBX that is still loading modules in lock step.

Why the first delay is small (0.1 s): a restart is the common case, and Asterisk answers
again within a second or two. Waiting several seconds before the first retry would leave
calls without control for that long.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import structlog

_log = structlog.get_logger("engine.pbx")


@dataclass
class Backoff:
    """Delays 0.1, 0.2, 0.4 ... capped at `maximum`, each scaled by a random jitter factor.

    `jitter=0.2` means each delay is drawn uniformly from [0.8 d, 1.2 d] (never above
    `maximum`). `reset()` after a connection has been healthy starts again from `initial`.
    """

    initial: float = 0.1
    maximum: float = 5.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1:
            raise ValueError("backoff needs 0 < initial <= maximum and factor >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("backoff jitter must be in [0, 1)")

    def base_delay(self, attempt: int) -> float:
        """The delay before retry number `attempt` (0-based), without jitter."""
        return min(self.maximum, self.initial * (self.factor ** attempt))

    def next_delay(self) -> float:
        base = self.base_delay(self.attempt)
        self.attempt += 1
        if self.jitter:
            base *= self.rng.uniform(1 - self.jitter, 1 + self.jitter)
        return min(self.maximum, base)

    def reset(self) -> None:
        self.attempt = 0


# Signs that Asterisk is restarting (not broken): retrying soon is cheap and right.
_RESTART_HINTS = (
    "connection refused", "connect call failed", "connecterror", "connectionrefused",
    "shutting down", "service unavailable", " 503", "not fully booted",
)


def looks_like_restart(error: BaseException | None, _depth: int = 0) -> bool:
    """True when `error` says Asterisk is down or booting (nothing listens on the port,
    AMI answers "Asterisk is shutting down", ARI answers 503), looking through exception
    groups and causes.

    Those retries cost the PBX nothing, so the supervisors cap their delay lower than the
    general backoff: the engine is back within a fraction of a second of Asterisk.
    """
    if error is None or _depth > 5:
        return False
    if isinstance(error, ConnectionRefusedError):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(looks_like_restart(e, _depth + 1) for e in error.exceptions)
    text = f"{type(error).__name__} {error}".lower()
    if any(hint in text for hint in _RESTART_HINTS):
        return True
    return looks_like_restart(error.__cause__ or error.__context__, _depth + 1)


def timed_out(error: BaseException | None) -> bool:
    """A TimeoutError, alone or inside an exception group."""
    return isinstance(error, TimeoutError) or (
        isinstance(error, BaseExceptionGroup) and any(isinstance(e, TimeoutError) for e in error.exceptions))


async def supervise(
    connect_once: Callable[[], Awaitable[None]],
    backoff: Backoff,
    *,
    stopping: Callable[[], bool],
    connected_since: Callable[[], float | None],
    quick_retry: Callable[[BaseException | None], bool],
    quick_max_delay: float,
    on_retry: Callable[[float, int, BaseException | None], None],
) -> None:
    """Run `connect_once` forever (one connection's life per call), reconnecting with backoff.

    Shared by the ARI and AMI clients. A connection that came up (`connected_since()` at or
    after the attempt's start) was healthy: the next attempt is immediate and the backoff
    starts again. A failed attempt waits the next backoff delay, capped at
    `quick_max_delay` when `quick_retry(error)` says Asterisk is merely restarting.
    """
    delay = 0.0
    while not stopping():
        if delay:
            await asyncio.sleep(delay)
        started = time.monotonic()
        error: BaseException | None = None
        try:
            await connect_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure means: reconnect
            error = exc
        if stopping():
            break
        since = connected_since()
        if since is not None and since >= started:
            backoff.reset()
            delay = 0.0
        else:
            delay = backoff.next_delay()
            if quick_retry(error):
                # A timed-out attempt has already waited; a restart needs no long pause.
                delay = min(delay, quick_max_delay)
        if backoff.attempt <= 3 or backoff.attempt % 20 == 0:  # no log flood in an outage
            on_retry(delay, backoff.attempt, error)


class Supervised:
    """start/stop/wait_connected of a client whose `_supervise()` runs `supervise` above.

    Shared by the ARI and AMI clients; each sets `_task = None`, `_stopping`, a
    `_connected` asyncio.Event and `SUPERVISOR_NAME`.
    """

    SUPERVISOR_NAME = "supervisor"
    _task: "asyncio.Task | None"

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._supervise(), name=self.SUPERVISOR_NAME)

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)


async def call_hook(hook: Callable[[], object], name: str) -> None:
    """Run an on_connected/on_disconnected hook (plain or async); a failing hook is logged,
    never allowed to end the supervising connection."""
    try:
        result = hook()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001
        _log.exception("hook_failed", hook=name)
