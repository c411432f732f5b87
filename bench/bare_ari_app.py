"""The least an ARI app can do to route a call: the floor for bench/routing_latency.py.

On an inbound caller's StasisStart it originates to the next free agent's phone (no
database, no routing rules, no screen pop, no history); on the agent's answer it answers
the caller and bridges them; when either side leaves it hangs up the other and frees the
agent. Its REST requests go over the event websocket without waiting for their answers
(ARI REST over WebSocket), the cheapest way there is. What this costs is Asterisk's (and
this machine's) part of the time from StasisStart to the agent's INVITE; whatever the
engine adds above it is the engine's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import datetime

import aiohttp

from engine.pbx.ari_websocket import request_uri


def stasis_time(event: dict) -> float:
    """Asterisk's timestamp of an ARI event (ms resolution), as a Unix time."""
    return datetime.fromisoformat(event["timestamp"].replace("+0000", "+00:00")).timestamp()


class BareApp:
    def __init__(self, settings, agents: list[int]):
        self.settings = settings
        self.free = [f"agent{i}" for i in agents]
        self.starts: dict[str, float] = {}  # caller number -> StasisStart (Asterisk's time)
        self.pairs: dict[str, str] = {}  # channel -> the other channel of its call
        self.agent_of: dict[str, str] = {}  # agent channel -> endpoint
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)

    async def run(self, ready: asyncio.Event) -> None:
        s = self.settings
        params = {"app": s.ari_app, "api_key": f"{s.ari_user}:{s.ari_password}"}
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"ws://{s.pbx_host}:{s.http_port}/ari/events", params=params) as ws:
                self.ws = ws
                ready.set()
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    await self.on_event(json.loads(message.data))

    async def request(self, method: str, path: str, **params) -> None:
        await self.ws.send_str(json.dumps({"type": "RESTRequest", "request_id": str(next(self._ids)),
                                           "method": method, "uri": request_uri(path, params)}))

    async def on_event(self, event: dict) -> None:
        kind, channel = event.get("type"), event.get("channel") or {}
        args = event.get("args") or []
        if kind == "StasisStart" and args[:1] == ["inbound"]:
            number = (channel.get("caller") or {}).get("number")
            self.starts[number] = stasis_time(event)
            if not self.free:
                await self.request("DELETE", f"channels/{channel['id']}")
                return
            endpoint, agent_channel = self.free.pop(0), f"bare-{uuid.uuid4().hex}"
            self.pairs[agent_channel], self.pairs[channel["id"]] = channel["id"], agent_channel
            self.agent_of[agent_channel] = endpoint
            await self.request("POST", f"channels/{agent_channel}", endpoint=f"PJSIP/{endpoint}",
                               app=self.settings.ari_app, appArgs="bare", timeout="10",
                               callerId=f'"Bench" <{number}>')
        elif kind == "StasisStart" and args[:1] == ["bare"]:
            caller = self.pairs.get(channel["id"])
            bridge = f"bare-{uuid.uuid4().hex}"
            await self.request("POST", f"channels/{caller}/answer")
            await self.request("POST", f"bridges/{bridge}", type="mixing,proxy_media")
            await self.request("POST", f"bridges/{bridge}/addChannel", channel=f"{caller},{channel['id']}")
        elif kind in ("StasisEnd", "ChannelDestroyed") and channel.get("id") in self.pairs:
            other = self.pairs.pop(channel["id"])
            self.pairs.pop(other, None)
            for agent_channel in (channel["id"], other):
                if agent_channel in self.agent_of:
                    self.free.append(self.agent_of.pop(agent_channel))
            await self.request("DELETE", f"channels/{other}")
        elif kind == "ChannelLeftBridge" and (event.get("bridge") or {}).get("id", "").startswith("bare-"):
            if not (event.get("bridge") or {}).get("channels"):
                await self.request("DELETE", f"bridges/{event['bridge']['id']}")
