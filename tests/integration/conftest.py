"""Fixtures of the routing tests: the shared template DB + sandbox config, and a World per test."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.runtime.engine import Engine
from tests.integration.routing_env import (
    Sipp,
    build_template,
    clear_asterisk,
    copy_db,
    eventually,
    ids,
    settings_for,
    write_config,
)
from tests.pbx_helpers import require_sandbox


@pytest.fixture(scope="session")
def routing_template(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("routing-template")
    path = base / "template.db"
    url = build_template(path)
    settings = settings_for(url)
    config = write_config(url, settings, base / "asterisk")
    require_sandbox(config, settings=settings)
    return path


class World:
    """One test's engine (in this event loop), its SIPp processes and what it observed."""

    def __init__(self, engine: Engine, sipp: Sipp, url: str):
        self.engine = engine
        self.sipp = sipp
        self.url = url
        self.ids = ids(url)
        self.events: list[dict] = []  # engine bus events
        self.ari_events: list[dict] = []  # every ARI event, in order
        self.auto_wrap_up = False
        self._sub = engine.bus.subscribe(maxsize=100000)
        self._pump = asyncio.get_running_loop().create_task(self._collect())
        original = engine.ari.on_event

        def tap(event):  # installed before the engine connects (the transport keeps the sink)
            self.ari_events.append(event)
            original(event)

        engine.ari.on_event = tap

    def agent(self, intercom: int) -> int:
        return self.ids["agents"][intercom]

    def dept(self, key: str) -> int:
        return self.ids["depts"][f"T {key}"]

    async def _collect(self):
        while True:
            event = await self._sub.get()
            self.events.append(event)
            if self.auto_wrap_up and event.get("type") == "agent_state" and event["state"] == "wrap_up":
                self.engine.routing.finish_wrap_up(event["agent_id"], "resolved")

    def ready(self, *intercoms: int, department: str = "longest_idle") -> None:
        for intercom in intercoms:
            self.engine.routing.sign_in(self.agent(intercom), self.dept(department))
            if self.engine.routing.dispatcher.agents[self.agent(intercom)].state.state == "not_ready":
                self.engine.routing.set_ready(self.agent(intercom))

    def state(self, intercom: int) -> str:
        return self.engine.routing.dispatcher.agents[self.agent(intercom)].state.state

    def states_of(self, intercom: int) -> list[str]:
        aid = self.agent(intercom)
        return [e["state"] for e in self.events if e.get("type") == "agent_state" and e["agent_id"] == aid]

    async def ari(self, method: str, path: str, **params):
        return await self.engine.ari.request(method, path, **params)

    async def assert_clean(self, timeout: float = 8.0) -> None:
        """No channel and no bridge left behind in Asterisk."""
        async def clean():
            return not await self.ari("GET", "channels") and not await self.ari("GET", "bridges")

        if not await eventually(clean, timeout):
            channels = [c["name"] for c in await self.ari("GET", "channels")]
            bridges = [b["id"] for b in await self.ari("GET", "bridges")]
            raise AssertionError(f"left behind: channels {channels}, bridges {bridges}")

    async def close(self):
        self._pump.cancel()
        self._sub.close()


@pytest.fixture
async def world(routing_template, tmp_path):
    url = copy_db(routing_template, tmp_path / "switchboard.db")
    settings = settings_for(url)
    # Other test modules load other configurations into the shared sandbox: make sure the
    # routing data set's is the one running (a no-op, about 10 ms, when it already is).
    require_sandbox(routing_template.parent / "asterisk", settings=settings)
    engine = Engine(settings)
    sipp = Sipp(settings, tmp_path / "sipp")
    w = World(engine, sipp, url)
    await clear_asterisk(settings)  # a failed test's leftovers must not leak into this one
    await engine.start()
    try:
        await asyncio.wait_for(asyncio.gather(engine.ari_ready.wait(), engine.ami_ready.wait()), 15)
        yield w
        await w.assert_clean()
    finally:
        await sipp.close()
        await w.close()
        await engine.stop()
