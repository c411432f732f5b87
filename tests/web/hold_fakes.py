"""The engine's REAL call control (engine/features/hold.py `CallControl` -> the call's
`HoldControl`, policy flags read from the test database) over a fake call flow and a fake
ARI, so the web tests exercise hold / resume / answer-waiting without Asterisk.

`FakeEngine.add_call(...)` makes a connected call; `dispatcher.post` runs the message in a
task, as the engine's call actor would. ARI requests are recorded in `ari.requests`
(`ari.refuse = True` makes Asterisk refuse them).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from engine.features.hold import CallControl, HoldControl
from engine.pbx.ari import AriError


class FakeAri:
    def __init__(self):
        self.requests: list[tuple[str, str, dict]] = []
        self.refuse = False

    async def request(self, method: str, path: str, **params):
        self.requests.append((method, path, params))
        if self.refuse:
            raise AriError(f"{method} {path}: 404 Channel not found")
        return {}


class FakeLog:
    def info(self, *args, **kwargs):
        pass

    warning = exception = info


class FakeFlow:
    def __init__(self, engine, call_id: str, agent_id: int, department_id: int | None, phase: str = "connected"):
        self.engine = engine
        self.call = SimpleNamespace(id=call_id, caller_channel_id=f"caller-{call_id}", listeners=[],
                                    caller_number="+442079460001", caller_name="JANE D")
        self.phase = phase
        self.agent_id, self.department_id = agent_id, department_id
        self.agent_channel, self.bridge_id = f"agent-{call_id}", f"call-{call_id}"
        self.log = FakeLog()
        self.written: list[tuple] = []

    def write(self, fn, *args, **kwargs):
        self.written.append((getattr(fn, "__name__", str(fn)), args, kwargs))

    def moh_class(self):
        return None


class FakeDispatcher:
    """Posts a message to a call's HoldControl in a task (the call's actor)."""

    def __init__(self, engine):
        self.engine = engine

    def post(self, call_id: str, message: dict) -> bool:
        live = self.engine.calls.get(call_id)
        if live is None:
            return False
        asyncio.get_running_loop().create_task(live.flow.hold.on_message(message))
        return True


class FakeEngine:
    def __init__(self, db_url: str, routing, bus):
        self.settings = SimpleNamespace(database_url=db_url)
        self.routing, self.bus = routing, bus
        self.ari = FakeAri()
        self.calls: dict[str, SimpleNamespace] = {}
        self.dispatcher = FakeDispatcher(self)
        self.control = CallControl(self)

    def add_call(self, call_id: str, agent_id: int, department_id: int | None = None,
                 phase: str = "connected") -> FakeFlow:
        flow = FakeFlow(self, call_id, agent_id, department_id, phase)
        flow.hold = HoldControl(flow)
        self.calls[call_id] = SimpleNamespace(flow=flow)
        return flow


def install(stack) -> FakeEngine:
    """Give the web stack's routing service the engine's call control (as Engine does)."""
    engine = FakeEngine(stack.db_url, stack.routing, stack.bus)
    stack.routing.hold_control = engine.control
    return engine
