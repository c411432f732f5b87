"""Web fan-out benchmark: agent state change -> every open dashboard websocket.

Set-up: a fresh SQLite database with 200 agents signed in, the real aiohttp app on a
127.0.0.1 port, and 50 dashboard websockets opened by real aiohttp clients in a SEPARATE
process (so the clients do not share the server's event loop). The main process makes 500
state changes through RoutingService (Ready <-> Not Ready: lunch) at a steady pace; the
time each change is handed to the EventBus is taken with CLOCK_MONOTONIC (system-wide, so
comparable across the two processes) and each socket stamps its arrival the same way.

Then the client process times 200 GET /dashboard and 200 GET /api/agents (200 agents),
reading the server's own handler time from the Server-Timing header and the round trip.

    .venv/bin/python bench/web_fanout.py [--agents 200] [--sockets 50] [--changes 500] [--pace-ms 5]

Targets: fan-out p99 < 100 ms; page/API server time p99 < 50 ms. It stops by itself
(every phase has a timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLOCK = time.CLOCK_MONOTONIC


def now() -> float:
    return time.clock_gettime(CLOCK)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# ---- client process ----------------------------------------------------------------------
def client_main(port: int, cookie: str, sockets: int, changes: int, requests: int, conn) -> None:
    asyncio.run(_client(port, cookie, sockets, changes, requests, conn))


async def _client(port, cookie, sockets, changes, requests, conn):
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar, cookies={"sb_session": cookie}) as http:
        arrivals: list[dict[int, float]] = [dict() for _ in range(sockets)]
        wss = [await http.ws_connect(base + "/ws") for _ in range(sockets)]
        for ws in wss:
            first = await ws.receive_json(timeout=10)
            assert first["type"] == "snapshot"
        conn.send("ready")

        async def read(i, ws):
            got = arrivals[i]
            while len(got) < changes:
                msg = await ws.receive(timeout=30)
                stamp = now()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(msg.data)
                if event.get("type") == "agent_state":
                    got[event["seq"]] = stamp

        try:
            await asyncio.wait_for(asyncio.gather(*(read(i, ws) for i, ws in enumerate(wss))), timeout=120)
        except asyncio.TimeoutError:
            pass
        for ws in wss:
            await ws.close()

        timings: dict[str, dict[str, list[float]]] = {}
        for path in ("/dashboard", "/api/agents"):
            server, rtt = [], []
            for _ in range(requests):
                t0 = now()
                async with http.get(base + path, allow_redirects=False) as res:
                    await res.read()
                    assert res.status == 200, (path, res.status)
                    rtt.append((now() - t0) * 1000)
                    server.append(float(res.headers["Server-Timing"].split("dur=")[1]))
            timings[path] = {"server": server, "rtt": rtt}
        conn.send({"arrivals": arrivals, "timings": timings})


# ---- server side -------------------------------------------------------------------------
def build_db(url: str, agents: int) -> None:
    from engine.store import models as m
    from engine.store.migrate import upgrade
    from engine.store.session import session_scope
    from web.auth import hash_password

    upgrade(url)
    with session_scope(url) as s:
        dept = m.Department(name="Bench", ready_after_sign_in=True, use_as_queue=True)
        tg = m.TimeGroup(name="Always", timezone="UTC")
        s.add_all([dept, tg, m.BreakCode(code="lunch", name="Lunch")])
        s.flush()
        for i in range(agents):
            a = m.Agent(name=f"Agent {i:03d}", intercom=f"{2000 + i}", username=f"a{i:03d}", sip_username=f"ag{i:03d}",
                        sip_password="bench-secret-1", region="GB", time_group_id=tg.id,
                        call_forwarding_number="+447911123456", alternative_numbers=["+447911123457"])
            s.add(a)
            s.flush()
            s.add(m.AgentDepartment(agent_id=a.id, department_id=dept.id, position=i))
        s.add(m.WebUser(username="supervisor", role="supervisor", password_hash=hash_password("super-pass-1")))


async def server_main(args) -> None:
    from aiohttp import web

    from engine.events import EventBus
    from engine.routing.service import RoutingService
    from engine.settings import Settings
    from web.app import create_app
    from web.auth import authenticate

    tmp = Path(tempfile.mkdtemp(prefix="sb-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    build_db(url, args.agents)
    bus = EventBus()
    published: dict[int, float] = {}
    counter = iter(range(1, 10**9))

    def publish(event: dict) -> None:
        published[next(counter)] = now()  # the bus numbers events 1, 2, 3... in the same order
        bus.publish(event)

    routing = RoutingService(url, publish=publish)
    routing.load()
    agent_ids = sorted(routing.dispatcher.agents)
    for agent_id in agent_ids:
        routing.sign_in(agent_id)
    await routing.writer.drain()
    sign_ins = len(published)

    app = create_app(Settings(database_url=url), routing, bus)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    token, _user = authenticate(url, "supervisor", "super-pass-1")

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=client_main, args=(port, token, args.sockets, args.changes, args.requests, child),
                       daemon=True)
    proc.start()
    loop = asyncio.get_running_loop()
    try:
        ready = await asyncio.wait_for(loop.run_in_executor(None, parent.recv), timeout=60)
        assert ready == "ready"
        started = now()
        for i in range(args.changes):
            agent_id = agent_ids[i % len(agent_ids)]
            if routing.dispatcher.agents[agent_id].state.state == "ready":
                routing.set_not_ready(agent_id, "lunch")
            else:
                routing.set_ready(agent_id)
            await asyncio.sleep(args.pace_ms / 1000)
        drive_s = now() - started
        result = await asyncio.wait_for(loop.run_in_executor(None, parent.recv), timeout=300)
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
        await routing.writer.stop()
        await runner.cleanup()

    seqs = [seq for seq in published if seq > sign_ins]
    per_delivery, per_change, missing = [], [], 0
    for seq in seqs:
        worst = 0.0
        for got in result["arrivals"]:
            if seq not in got:
                missing += 1
                continue
            ms = (got[seq] - published[seq]) * 1000
            per_delivery.append(ms)
            worst = max(worst, ms)
        per_change.append(worst)
    report(args, per_delivery, per_change, missing, drive_s, result["timings"])


def report(args, per_delivery, per_change, missing, drive_s, timings) -> None:
    print(f"\nSwitchboard web fan-out: {args.agents} agents, {args.sockets} dashboard websockets, "
          f"{args.changes} state changes over {drive_s:.1f} s ({args.changes / drive_s:.0f}/s)\n")
    rows = [
        ("state change -> one socket (ms)", per_delivery),
        ("state change -> ALL sockets (ms)", per_change),
        ("GET /dashboard server time (ms)", timings["/dashboard"]["server"]),
        ("GET /dashboard round trip (ms)", timings["/dashboard"]["rtt"]),
        ("GET /api/agents server time (ms)", timings["/api/agents"]["server"]),
        ("GET /api/agents round trip (ms)", timings["/api/agents"]["rtt"]),
    ]
    print(f"{'measure':<36}{'n':>7}{'p50':>9}{'p99':>9}{'max':>9}")
    for name, values in rows:
        print(f"{name:<36}{len(values):>7}{pct(values, 50):>9.2f}{pct(values, 99):>9.2f}{max(values):>9.2f}")
    print(f"\nmissing deliveries: {missing}")
    fan_ok = pct(per_change, 99) < 100 and missing == 0
    http_ok = all(pct(timings[p]["server"], 99) < 50 for p in timings)
    print(f"target fan-out p99 < 100 ms: {'MET' if fan_ok else 'MISSED'}; "
          f"server time p99 < 50 ms: {'MET' if http_ok else 'MISSED'}")
    print("\nstate change -> ALL sockets, histogram (ms):")
    edges = [1, 2, 5, 10, 20, 50, 100, 1e9]
    lo = 0
    for hi in edges:
        n = sum(1 for v in per_change if lo <= v < hi)
        label = f"{lo:g}-{hi:g}" if hi < 1e9 else f">={lo:g}"
        print(f"  {label:>8} | {'#' * int(60 * n / max(1, len(per_change)))} {n}")
        lo = hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pace-ms", type=float, default=5.0)
    args = parser.parse_args()
    from engine.log import configure_logging

    configure_logging(level="WARNING")
    asyncio.run(asyncio.wait_for(server_main(args), timeout=600))


if __name__ == "__main__":
    main()
