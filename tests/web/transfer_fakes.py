"""The engine's REAL transfer code (engine/features/control.py `CallControl` -> the call's
`CallFeatures` -> the pure `Transfer` machine, the routing directory read from the test
database, the web stack's real RoutingService) over a fake call flow and a fake Asterisk,
so the web and browser tests drive transfers, consultations, conferences and hang-ups
without Asterisk, and every refusal they see is the engine's own message.

What the fake Asterisk does, as the real one would:
- `FakeEngine.add_call(...)` makes a connected call (caller and agent in the call's bridge);
- each call has one actor (a queue and a task), so messages run one at a time, in order;
- hanging up a channel (`flow.hangup_channel`) comes back to the call as `StasisEnd` and
  `ChannelDestroyed`; the flow ends the call when it was the connected agent's channel;
- the test plays the recipient with `answer(call_id)`, `fail(call_id, cause)` and
  `ring_timeout(call_id)`; ARI requests are recorded in `ari.requests`.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from engine.features.control import CallControl
from engine.features.transfers import RING_TIMER, CallFeatures
from engine.routing.directory import RoutingDirectory

from .hold_fakes import FakeAri, FakeLog

BUSY, NO_ANSWER, NORMAL = 17, 19, 16  # Q.850 causes as Asterisk reports them


class FakeMedia:
    """What the flow plays to the caller (music while rerouted); recorded, not played."""

    def __init__(self):
        self.moh = False
        self.played: list[str] = []

    async def hold_music(self, moh_class):
        self.moh = True
        self.played.append(f"moh:{moh_class}")

    async def stop(self):
        self.moh = False


class FakeFlow:
    """The parts of engine/routing/flow.py `CallFlow` that CallFeatures uses."""

    def __init__(self, engine, call_id: str, agent_id: int, department_id: int | None):
        self.engine = engine
        self.call = SimpleNamespace(id=call_id, caller_channel_id=f"caller-{call_id}", legs={},
                                    caller_number="+442079460001", caller_name="JANE D")
        self.phase, self.persistent = "connected", False
        self.agent_id, self.department_id = agent_id, department_id
        self.agent_channel, self.bridge_id = f"agent-{call_id}", f"call-{call_id}"
        self.log = FakeLog()
        self.media = FakeMedia()
        self.written: list[tuple] = []
        self.timers: list[tuple[float, str, dict]] = []
        self.hung_up: list[str] = []
        self.features = CallFeatures(self)

    def write(self, fn, *args, **kwargs):
        self.written.append((getattr(fn, "__name__", str(fn)), args, kwargs))

    def events(self) -> list[str]:
        """The timeline kinds the call wrote (CallEvent rows), in order."""
        return [args[1] for name, args, _ in self.written if name == "add_event"]

    def timer(self, seconds: float, name: str, **data):
        self.timers.append((seconds, name, data))

    def moh_class(self):
        return "default"

    def caller_id_text(self) -> str:
        return f'"{self.call.caller_name}" <{self.call.caller_number}>'

    async def overflow(self, action: str):
        self.written.append(("overflow", (action,), {}))

    async def hangup_channel(self, channel_id: str, reason: str = "normal"):
        """DELETE the channel; Asterisk then reports it gone to the call's actor."""
        self.hung_up.append(channel_id)
        await self.engine.ari.request("DELETE", f"channels/{channel_id}", reason=reason)
        cause = NO_ANSWER if reason == "no_answer" else NORMAL
        self.engine.post(self.call.id, {"type": "StasisEnd", "channel": {"id": channel_id}})
        self.engine.post(self.call.id, {"type": "ChannelDestroyed", "channel": {"id": channel_id}, "cause": cause})

    async def on_message(self, message: dict) -> None:
        """As CallFlow.on_message: transfers first; the connected agent hanging up ends the call."""
        if self.phase == "ended" or await self.features.on_message(message):
            return
        channel_id = (message.get("channel") or {}).get("id")
        if message.get("type") == "StasisEnd" and channel_id and channel_id == self.agent_channel:
            await self.close()

    async def close(self) -> None:
        """The call is over (the caller is hung up after the agent left): as CallFlow.close."""
        self.phase = "ended"
        await self.features.on_caller_left()
        self.engine.routing.call_ended(self.call.id)


class FakeDispatcher:
    """The engine's channel -> call binding, as far as CallFeatures uses it."""

    def __init__(self, engine):
        self.engine = engine
        self.bound: dict[str, str] = {}
        self.spawned: list[str] = []

    def post(self, call_id: str, message: dict) -> bool:
        return self.engine.post(call_id, message)

    def bind(self, channel_id: str, call_id: str) -> None:
        self.bound[channel_id] = call_id

    def unbind(self, channel_id: str) -> None:
        self.bound.pop(channel_id, None)

    def spawn(self, name: str, handler, channels) -> None:
        self.spawned.append(name)


class FakeEngine:
    def __init__(self, db_url: str, routing, bus):
        self.settings = SimpleNamespace(database_url=db_url, ari_app="switchboard")
        self.routing, self.bus = routing, bus
        self.directory = RoutingDirectory.load(db_url)
        self.ari = FakeAri()
        self.calls: dict[str, SimpleNamespace] = {}
        self.dispatcher = FakeDispatcher(self)
        self.control = CallControl(self)
        self._actors: dict[str, tuple[asyncio.Queue, asyncio.Task]] = {}

    def add_call(self, call_id: str, agent_id: int, department_id: int | None = None) -> FakeFlow:
        flow = FakeFlow(self, call_id, agent_id, department_id)
        self.calls[call_id] = SimpleNamespace(flow=flow)
        queue: asyncio.Queue = asyncio.Queue()
        self._actors[call_id] = (queue, asyncio.get_running_loop().create_task(self._run(flow, queue)))
        return flow

    async def _run(self, flow: FakeFlow, queue: asyncio.Queue) -> None:
        while True:
            message = await queue.get()
            try:
                await flow.on_message(message)
            finally:
                queue.task_done()

    def post(self, call_id: str, message: dict) -> bool:
        actor = self._actors.get(call_id)
        if actor is None or self.calls[call_id].flow.phase == "ended":
            return False
        actor[0].put_nowait(message)
        return True

    async def settle(self, call_id: str) -> None:
        """Wait until the call's actor has run everything posted so far (and what that posted)."""
        await self._actors[call_id][0].join()

    # -- the recipient's phone ----------------------------------------------------------
    def recipient(self, call_id: str) -> str:
        channel = self.calls[call_id].flow.features.recipient
        assert channel, f"nobody is being dialled on {call_id}"
        return channel

    async def answer(self, call_id: str) -> None:
        self.post(call_id, {"type": "StasisStart", "channel": {"id": self.recipient(call_id)}})
        await self.settle(call_id)

    async def fail(self, call_id: str, cause: int = BUSY) -> None:
        self.post(call_id, {"type": "ChannelDestroyed", "channel": {"id": self.recipient(call_id)}, "cause": cause})
        await self.settle(call_id)

    async def ring_timeout(self, call_id: str) -> None:
        self.post(call_id, {"type": "SwitchboardTimer", "name": RING_TIMER, "channel_id": self.recipient(call_id)})
        await self.settle(call_id)

    async def close(self) -> None:
        for _, task in self._actors.values():
            task.cancel()
        await asyncio.gather(*(task for _, task in self._actors.values()), return_exceptions=True)


def install(stack) -> FakeEngine:
    """Give the web stack's routing service the engine's call control (as Engine does)."""
    engine = FakeEngine(stack.db_url, stack.routing, stack.bus)
    stack.routing.call_control = engine.control
    return engine
