"""The persistent audio path: an agent dials in once (`*50`) and stays connected.

The agent's channel waits in a holding bridge of its own (`path-<agent id>`). While it is
open the dispatcher connects calls straight in (Ready -> In Call at once, no ringing):
the call flow plays a beep to the agent, takes the channel out of the holding bridge into
the call's bridge, and gives it back afterwards (engine/routing/connect.py).

Each path is an actor of its own (one owner for the agent's channel). A watchdog drops
the path (hangs the channel up) when the agent stays in a state other than Ready for
longer than the department's `not_ready_path_limit`; the agent must dial back in. In Call
is not counted (an agent talking on the path is using it); Not Ready, Wrap-up and Offline
are. When the channel goes (dropped, or the agent hung up) the dispatcher is told the path
is closed, and a call the agent was on is ended.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from engine.features.dtmf import DTMF_BEGIN
from engine.pbx.ari import AriError

from . import state as st

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime.engine import Engine

log = structlog.get_logger("engine.agents.audio_path")
CHECK = "SwitchboardPathCheck"
CHECK_INTERVAL = 0.25
COUNTED_STATES = (st.NOT_READY, st.WRAP_UP, st.OFFLINE)


@dataclass
class AudioPath:
    agent_id: int
    channel_id: str
    bridge_id: str
    call_id: str | None = None  # the call the channel is lent to


class AudioPaths:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.paths: dict[int, AudioPath] = {}

    def channel_of(self, agent_id: int) -> str | None:
        path = self.paths.get(agent_id)
        return path.channel_id if path else None

    def on_stasis_start(self, event: dict):
        """A `Stasis(app,audio_path)` entry: spawn the path's actor, or refuse it."""
        channel = event.get("channel") or {}
        name = channel.get("name") or ""
        endpoint = name.split("/", 1)[-1].rsplit("-", 1)[0] if "/" in name else ""
        agent_id = self.engine.directory.by_sip_username.get(endpoint)
        agent = self.engine.routing.dispatcher.agents.get(agent_id) if agent_id is not None else None
        reason = None
        if agent is None:
            reason = "not an agent's phone"
        elif agent.admin_status != "active":
            reason = f"agent is {agent.admin_status}"
        elif agent.state.state == st.OFFLINE:
            reason = "agent is not signed in"
        elif agent_id in self.paths:
            reason = "a path is already open"
        if reason is not None:
            log.info("audio_path_refused", channel_id=channel.get("id"), endpoint=endpoint, reason=reason)
            return None
        session = _PathSession(self, AudioPath(agent_id, channel["id"], f"path-{agent_id}"))
        self.paths[agent_id] = session.path
        return self.engine.dispatcher.spawn(f"path-{channel['id']}", session.handle, [channel["id"]])

    async def take(self, agent_id: int, call_id: str) -> None:
        """Lend the agent's channel to a call: out of the holding bridge."""
        path = self.paths[agent_id]
        path.call_id = call_id
        try:
            await self.engine.ari.request("POST", f"bridges/{path.bridge_id}/removeChannel", channel=path.channel_id)
        except AriError as exc:
            log.info("audio_path_take_failed", agent_id=agent_id, error=str(exc))

    async def give_back(self, agent_id: int, call_id: str, call_bridge: str | None) -> None:
        path = self.paths.get(agent_id)
        if path is None or path.call_id != call_id:
            return
        path.call_id = None
        try:
            if call_bridge:
                await self.engine.ari.request("POST", f"bridges/{call_bridge}/removeChannel", channel=path.channel_id)
            await self.engine.ari.request("POST", f"bridges/{path.bridge_id}/addChannel", channel=path.channel_id)
        except AriError as exc:
            log.info("audio_path_give_back_failed", agent_id=agent_id, error=str(exc))


class _PathSession:
    def __init__(self, paths: AudioPaths, path: AudioPath):
        self.paths = paths
        self.engine = paths.engine
        self.path = path
        self.log = log.bind(agent_id=path.agent_id, channel_id=path.channel_id)
        self.watchdog: asyncio.Task | None = None

    async def handle(self, event: dict) -> bool:
        kind = event.get("type")
        channel_id = (event.get("channel") or {}).get("id")
        if kind in ("ChannelDtmfReceived", DTMF_BEGIN) and self.path.call_id is not None:
            # Lent to a call: the agent's keys are that call's feature codes.
            self.engine.dispatcher.post(self.path.call_id, event)
        elif kind == "StasisStart" and channel_id == self.path.channel_id:
            await self._open()
        elif kind == CHECK:
            await self._check()
        elif kind in ("StasisEnd", "ChannelDestroyed") and channel_id == self.path.channel_id:
            await self._closed()
            return True
        return False

    async def _open(self) -> None:
        ari, path = self.engine.ari, self.path
        try:
            await ari.request("POST", f"channels/{path.channel_id}/answer")
            await ari.request("POST", f"bridges/{path.bridge_id}", type="holding", name=path.bridge_id)
            await ari.request("POST", f"bridges/{path.bridge_id}/addChannel", channel=path.channel_id)
        except AriError as exc:
            self.log.warning("audio_path_open_failed", error=str(exc))
            await self._hangup()
            return
        self.log.info("audio_path_open")
        self.engine.routing.set_persistent_path(path.agent_id, True)
        self.engine.bus.publish({"type": "audio_path", "agent_id": path.agent_id, "open": True})
        self.watchdog = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            self.engine.dispatcher.post(f"path-{self.path.channel_id}", {"type": CHECK})

    async def _check(self) -> None:
        agent = self.engine.routing.dispatcher.agents.get(self.path.agent_id)
        if agent is None or agent.state.state not in COUNTED_STATES or agent.state.since is None:
            return
        dept_id = self.engine.routing.department_of_agent.get(self.path.agent_id)
        dept = self.engine.directory.departments.get(dept_id)
        limit = dept.not_ready_path_limit if dept else 600
        idle = (self.engine.routing.clock() - agent.state.since).total_seconds()
        if idle > limit:
            self.log.info("audio_path_dropped", state=agent.state.state, seconds=round(idle, 1), limit=limit)
            await self._hangup()

    async def _hangup(self) -> None:
        try:
            await self.engine.ari.request("DELETE", f"channels/{self.path.channel_id}")
        except AriError as exc:
            self.log.info("audio_path_hangup_failed", error=str(exc))

    async def _closed(self) -> None:
        from engine.routing.flow import AGENT_LEFT

        if self.watchdog is not None:
            self.watchdog.cancel()
        path = self.path
        if self.paths.paths.get(path.agent_id) is path:
            del self.paths.paths[path.agent_id]
        try:
            await self.engine.ari.request("DELETE", f"bridges/{path.bridge_id}")
        except AriError:
            pass
        self.engine.routing.set_persistent_path(path.agent_id, False)
        self.engine.bus.publish({"type": "audio_path", "agent_id": path.agent_id, "open": False})
        if path.call_id is not None:
            self.engine.dispatcher.post(path.call_id, {"type": AGENT_LEFT, "agent_id": path.agent_id})
        self.log.info("audio_path_closed")
