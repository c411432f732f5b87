"""Routing latency's floor: the same calls through a bare ARI app, no engine.

    sudo .venv/bin/python bench/routing_baseline.py [--rounds-1 30] [--bursts-20 4]

Why: bench/routing_latency.py measures the engine (StasisStart -> the agent's INVITE on
the wire) against a target of p99 < 20 ms at 20 simultaneous calls. This program runs the
same data set, the same SIPp callers and agents, the same measurement, through the least
an ARI app can do: on the caller's StasisStart, originate to the next free agent (no
database, no routing rules, no screen pop, no timeline); on the agent's answer, bridge
them. What this floor costs is Asterisk's (and this machine's) part; whatever the engine
adds above it is the engine's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.routing_latency import AGENTS, Capture, build_db, print_loads, run_loads
from engine.pbx.sandbox import Sandbox
from tests.integration.routing_env import Sipp, clear_asterisk, settings_for, write_config


class BareApp:
    """Originate to a free agent on each inbound StasisStart; bridge on answer; clean up."""

    def __init__(self, settings):
        self.settings = settings
        self.base = f"{settings.ari_url}ari/"
        self.free = [f"agent{i}" for i in AGENTS]
        self.starts: dict[str, float] = {}  # caller number -> StasisStart (Asterisk's time)
        self.pairs: dict[str, str] = {}  # channel -> the other channel of its call
        self.agent_of: dict[str, str] = {}  # agent channel -> endpoint
        self.http: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task] = set()

    async def run(self, ready: asyncio.Event) -> None:
        auth = aiohttp.BasicAuth(self.settings.ari_user, self.settings.ari_password)
        self.http = aiohttp.ClientSession(auth=auth, timeout=aiohttp.ClientTimeout(total=5))
        url = (f"{self.base.replace('http', 'ws', 1)}events?app={self.settings.ari_app}"
               f"&api_key={self.settings.ari_user}:{self.settings.ari_password}")
        async with self.http.ws_connect(url) as ws:
            ready.set()
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                task = asyncio.create_task(self.on_event(json.loads(message.data)))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def request(self, method: str, path: str, **params) -> None:
        async with self.http.request(method, self.base + path, params=params) as resp:
            await resp.read()

    async def on_event(self, event: dict) -> None:
        kind, channel = event.get("type"), event.get("channel") or {}
        args = event.get("args") or []
        try:
            if kind == "StasisStart" and args[:1] == ["inbound"]:
                number = (channel.get("caller") or {}).get("number")
                self.starts[number] = datetime.fromisoformat(event["timestamp"].replace("+0000", "+00:00")).timestamp()
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
        except aiohttp.ClientError:
            pass


async def main(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    url = build_db(workdir)
    settings = settings_for(url)
    config = write_config(url, settings, workdir / "asterisk")
    print(f"sandbox: {Sandbox(settings).up(config)['action']}")
    await clear_asterisk(settings)
    app, ready = BareApp(settings), asyncio.Event()
    reader = asyncio.create_task(app.run(ready))
    sipp = Sipp(settings, workdir / "sipp")
    capture = Capture(f"dst portrange {sipp.agent_port(AGENTS[0])}-{sipp.agent_port(AGENTS[-1])}")
    try:
        await asyncio.wait_for(ready.wait(), 10)
        total = args.rounds_1 + 40 * args.bursts_20
        for intercom in AGENTS:
            await sipp.phone(intercom, "uas_answer_hangup.xml", calls=total, timeout=120, extra=["-d", "300"])
        await capture.start()
        shim = SimpleNamespace(settings=settings)  # run_burst reads only the SIP port from it
        rows = await run_loads(shim, sipp, app.starts, capture, workdir, args, "+4479112")
        print_loads("Bare ARI app (no engine): StasisStart (Asterisk's event time) -> INVITE to the agent on the "
                    "wire, ms", rows)
        return 0 if all(rows.values()) else 1
    finally:
        reader.cancel()
        await capture.stop()
        await sipp.close()
        if app.http:
            await app.http.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds-1", type=int, default=30, help="single calls, one after another")
    parser.add_argument("--bursts-20", type=int, default=4, help="rounds of 20 simultaneous calls (twice each)")
    started = time.monotonic()
    code = asyncio.run(main(parser.parse_args()))
    print(f"\n(done in {time.monotonic() - started:.0f} s)")
    sys.exit(code)
