"""Routing latency: from an inbound call entering the Stasis app to the agent's INVITE
leaving Asterisk, at 1 and at 20 simultaneous calls, for the engine and for a bare ARI app
(the floor) in the same run. Prints a table (p50, p99, the engine's part) and a plot.

    sudo .venv/bin/python bench/routing_latency.py [--cycles 2] [--rounds-1 20] [--bursts-20 5]

What is measured, and why it is fair:
- start: the `timestamp` of the caller channel's ARI `StasisStart` event, stamped by
  Asterisk when the channel entered the app (ms resolution);
- end: the kernel timestamp (tcpdump on loopback, µs) of the INVITE Asterisk sends to the
  agent's phone; INVITE and call are matched by the caller's number (each call has its
  own) in the INVITE's From header.
Both come from the same host clock. The interval holds everything the engine adds: the
event crossing the ARI websocket, the call's actor, the routing decision, the
originate request, and Asterisk's own work to turn it into an INVITE (which a plain
dialplan Dial() would also do). It does not include the caller's INVITE -> StasisStart
(dialplan) time, which does not depend on the engine.

The loads (all four for each target):
- "1 call": one call at a time;
- "20 in progress": SIPp keeps 20 calls up at once (each lasts about a second), a new one
  starting as soon as one ends, 100 calls: twenty simultaneous calls, as a PBX counts them;
- "20 at 100/s": 20 calls arriving 10 ms apart (a burst that ends with 20 calls up);
- "20 at once": 20 INVITEs within 20 ms (1,000 calls/s for an instant).
The targets take turns (engine, bare app, engine, bare app, ... `--cycles` times), so a slow
spell of this shared machine weighs on both. The bare app (bench/bare_ari_app.py) is the
least an ARI app can do; "engine adds" is the engine's figure minus the bare app's. Each
turn starts with a few uncounted calls (first-use costs), and a second table gives each
turn's p99 and the median turn.

The bench builds its own data set (the routing tests' set plus agents 2011..2025: 25 agents,
so a Ready agent is always there for a call while 20 are up), starts the sandbox Asterisk
with it, runs the engine in-process, SIPp agents (answer, hang up after 1 s) and SIPp
callers, and stops everything at the end. Every wait has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import select

from engine.log import configure_logging
from engine.pbx.sandbox import Sandbox
from engine.runtime.engine import Engine
from engine.routing.service import AgentActionError
from engine.runtime.heap import settle_heap
from engine.store import models as m
from engine.store.session import make_engine, session_scope
from bench.bare_ari_app import BareApp, stasis_time
from bench.sip_capture import SipCapture, pct
from tests.integration.routing_env import (
    N,
    Sipp,
    agent_password,
    build_template,
    clear_asterisk,
    settings_for,
    write_config,
)
from tests.sipp_helpers import HOST, sipp_binary

AGENTS = list(range(2001, 2026))
HOLD_MS = 1000  # how long an agent's phone keeps a call
WARM_UP_CALLS = 3  # single calls each target takes, uncounted, before its loads
CSV_SCENARIO = ROOT / "bench" / "sipp" / "uac_csv.xml"
FROM_RE = re.compile(r"From: .*<sip:(\+?\d+)@")


def build_db(workdir: Path) -> str:
    url = build_template(workdir / "bench.db")
    with session_scope(url) as s:
        load = s.exec(select(m.Department).where(m.Department.name == "T load")).one()
        for intercom in AGENTS[10:]:
            agent = m.Agent(name=f"Bench Agent {intercom}", intercom=str(intercom), username=f"t{intercom}",
                            sip_username=f"agent{intercom}", sip_password=agent_password(intercom), region="GB")
            s.add(agent)
            s.flush()
            s.add(m.AgentDepartment(agent_id=agent.id, department_id=load.id, position=intercom))
    make_engine(url).dispose()
    return url


class Capture(SipCapture):
    """INVITEs sent to the agents' phones, by the caller number in their From header."""

    @property
    def invites(self) -> dict[str, float]:
        first: dict[str, float] = {}
        for packet in self.packets:
            if packet.is_request("INVITE") and "INVITE sip:agent" in packet.text:
                number = FROM_RE.search(packet.text)
                if number:
                    first.setdefault(number.group(1), packet.at)
        return first


async def run_burst(settings, starts, capture, numbers: list[str], port: int, workdir: Path,
                    rate: int = 1000, limit: int | None = None, report: bool = True) -> list[float]:
    """One SIPp caller process placing `numbers` (each call its own caller number) at `rate`
    calls/s, at most `limit` up at once. Returns StasisStart -> INVITE, ms, per call."""
    csv = workdir / f"callers-{port}.csv"
    csv.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers))
    cmd = [sipp_binary(), f"{HOST}:{settings.sip_port}", "-sf", str(CSV_SCENARIO), "-inf", str(csv),
           "-i", HOST, "-p", str(port), "-mi", HOST, "-m", str(len(numbers)), "-l", str(limit or len(numbers)),
           "-r", str(rate), "-rp", "1000", "-key", "number", N["load"], "-key", "caller_name", "Bench",
           "-timeout", "60s", "-timeout_error", "-nostdin"]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=workdir, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    code = await asyncio.wait_for(proc.wait(), 70)
    await asyncio.sleep(0.3)
    out, invites = [], capture.invites
    for number in numbers:
        if number in starts and number in invites:
            out.append((invites[number] - starts[number]) * 1000)
    if report and (code != 0 or len(out) != len(numbers)):
        print(f"  burst on port {port}: sipp exit {code}, {len(out)}/{len(numbers)} calls measured")
    return out


LOADS = ("1 call", "20 in progress", "20 at 100/s", "20 at once")


async def run_loads(settings, starts, capture, workdir: Path, args, numbers) -> dict[str, list[float]]:
    """The four loads, in order. `numbers`: an iterator of caller numbers (each call has its own)."""
    rows: dict[str, list[float]] = {load: [] for load in LOADS}
    pause = HOLD_MS / 1000 + 0.3  # every agent Ready again
    ports = iter(range(5800, 5999))
    for _ in range(args.rounds_1):
        rows["1 call"] += await run_burst(settings, starts, capture, [next(numbers)], next(ports), workdir)
        await asyncio.sleep(pause)
    rows["20 in progress"] += await run_burst(settings, starts, capture, [next(numbers) for _ in range(args.steady)],
                                              next(ports), workdir, rate=25, limit=20)
    for label, rate in (("20 at 100/s", 100), ("20 at once", 1000)):
        for _ in range(args.bursts_20):
            await asyncio.sleep(pause)
            rows[label] += await run_burst(settings, starts, capture, [next(numbers) for _ in range(20)],
                                           next(ports), workdir, rate)
    return rows


class EngineTarget:
    """The engine, in-process, with a tap on its event intake and on its originate requests
    (for the "where the time goes" line)."""

    name = "engine"

    def __init__(self, settings):
        self.settings = settings
        self.starts: dict[str, float] = {}
        self.received: dict[str, float] = {}  # caller number -> StasisStart reached the engine
        self.sent: dict[str, tuple[float, float]] = {}  # caller number -> originate sent, answered

    async def start(self) -> None:
        self.engine = engine = Engine(self.settings)
        original = engine.ari.on_event

        def tap(event):
            if event.get("type") == "StasisStart" and (event.get("args") or [""])[0] == "inbound":
                number = (event["channel"].get("caller") or {}).get("number")
                self.starts[number] = stasis_time(event)
                self.received[number] = time.time()
            original(event)

        engine.ari.on_event = tap
        request = engine.ari.request

        async def timed_request(method, path, **kw):
            number = None
            if method == "POST" and "appArgs" in kw and str(kw["appArgs"]).startswith("offer,"):
                number = re.search(r"<(\+?\d+)>", kw.get("callerId", ""))
            t0 = time.time()
            try:
                return await request(method, path, **kw)
            finally:
                if number:
                    self.sent[number.group(1)] = (t0, time.time())

        engine.ari.request = timed_request
        await engine.start()
        settle_heap()  # as `switchboard engine` does once it is up (engine/runtime/heap.py)
        sub = engine.bus.subscribe(maxsize=100000)

        async def wrap_up():
            while True:
                e = await sub.get()
                if e.get("type") == "agent_state" and e["state"] == "wrap_up":
                    engine.routing.finish_wrap_up(e["agent_id"], "resolved")

        self.wrapper = asyncio.create_task(wrap_up())
        await asyncio.wait_for(asyncio.gather(engine.ari_ready.wait(), engine.ami_ready.wait()), 15)
        ids = {int(a.intercom): a.id for a in engine.directory.agents.values()}
        load = next(d.id for d in engine.directory.departments.values() if d.name == "T load")
        for intercom in AGENTS:
            try:
                engine.routing.sign_in(ids[intercom], load)
            except AgentActionError:
                pass  # still signed in from the previous cycle (the state is in the database)

    async def stop(self) -> None:
        self.wrapper.cancel()
        await self.engine.stop()

    def split(self, invites: dict[str, float]) -> str:
        rows = [(self.received[n] - self.starts[n], self.sent[n][0] - self.received[n], self.sent[n][1] - self.sent[n][0],
                 invites[n] - self.sent[n][0]) for n in self.sent if n in self.received and n in invites]
        if not rows:
            return ""
        return ("where the engine's time goes (all its calls, ms, p50 / p99): event reaches the engine | engine "
                "until the originate is sent | originate request round trip | originate sent -> INVITE on the wire\n  "
                + " | ".join(f"{pct([x[i] * 1000 for x in rows], 50):.1f} / {pct([x[i] * 1000 for x in rows], 99):.1f}"
                             for i in range(4)))


class BareTarget:
    name = "bare app"

    def __init__(self, settings):
        self.settings = settings
        self.starts: dict[str, float] = {}

    async def start(self) -> None:
        self.app, ready = BareApp(self.settings, AGENTS), asyncio.Event()
        self.app.starts = self.starts
        self.reader = asyncio.create_task(self.app.run(ready))
        await asyncio.wait_for(ready.wait(), 10)

    async def stop(self) -> None:
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)
        await clear_asterisk(self.settings)


def print_table(rows: dict[str, dict[str, list[float]]]) -> None:
    engine, bare = rows.get("engine", {}), rows.get("bare app", {})
    print("\nStasisStart (Asterisk's event time) -> INVITE to the agent on the wire (tcpdump), ms")
    print(f"{'load':>14} | {'calls':>5} | {'engine p50':>10} | {'p99':>6} | {'max':>6} | "
          f"{'bare app p50':>12} | {'p99':>6} | {'engine adds p50':>15} | {'p99':>6}")
    for load in LOADS:
        e, b = engine.get(load) or [], bare.get(load) or []
        cells = [f"{load:>14}", f"{len(e):>5}"]
        cells += [f"{pct(e, 50):10.2f}", f"{pct(e, 99):6.2f}", f"{max(e):6.2f}"] if e else ["-" * 10, "-" * 6, "-" * 6]
        cells += [f"{pct(b, 50):12.2f}", f"{pct(b, 99):6.2f}"] if b else ["-" * 12, "-" * 6]
        cells += ([f"{pct(e, 50) - pct(b, 50):15.2f}", f"{pct(e, 99) - pct(b, 99):6.2f}"] if e and b
                  else ["-" * 15, "-" * 6])
        print(" | ".join(cells))
    for name, by_load in rows.items():
        if all(by_load.values()):
            print(f"\n{name}:\n" + plot(by_load))


def print_turns(turns: dict[str, dict[str, list[float]]]) -> None:
    """Each turn's p99, and the median turn: on a shared machine a slow spell lands on one
    turn of one target; the pooled p99 above keeps it, the median turn shows the usual."""
    print("\np99 of each turn, ms (median turn in brackets)")
    for load in LOADS:
        cells = []
        for name, by_load in turns.items():
            values = by_load[load]
            if values:
                cells.append(f"{name} " + " ".join(f"{v:.1f}" for v in values) + f" [{statistics.median(values):.1f}]")
        print(f"{load:>14} | " + " | ".join(cells))


def plot(rows: dict[str, list[float]]) -> str:
    hi = max(max(v) for v in rows.values())
    width = 50
    lines = []
    for name, values in rows.items():
        buckets = [0] * (width + 1)
        for v in values:
            buckets[int(v / hi * width)] += 1
        top = max(buckets)
        bar = "".join(" .:-=+*#%@"[min(9, int(9 * b / top + 0.99))] if b else " " for b in buckets)
        lines.append(f"{name:>14} |{bar}| 0..{hi:.1f} ms")
    return "\n".join(lines)


async def main(args) -> int:
    configure_logging("WARNING", json=False)
    workdir = Path(tempfile.mkdtemp(prefix="bench-routing-"))
    url = build_db(workdir)
    settings = settings_for(url)
    config = write_config(url, settings, workdir / "asterisk")
    print(f"sandbox: {Sandbox(settings).up(config)['action']}")
    await clear_asterisk(settings)  # a call a crashed test or bench left in the app would be adopted
    targets = {"engine": EngineTarget(settings), "bare app": BareTarget(settings)}
    chosen = list(targets) if args.target == "both" else [args.target]
    sipp = Sipp(settings, workdir / "sipp")
    capture = Capture(f"dst portrange {sipp.agent_port(AGENTS[0])}-{sipp.agent_port(AGENTS[-1])}")
    numbers = (f"+447911{n:06d}" for n in itertools.count(100))  # UK mobiles, each call its own
    rows: dict[str, dict[str, list[float]]] = {name: {load: [] for load in LOADS} for name in chosen}
    turns: dict[str, dict[str, list[float]]] = {name: {load: [] for load in LOADS} for name in chosen}
    try:
        calls = args.cycles * len(chosen) * (args.rounds_1 + args.steady + 40 * args.bursts_20)
        for intercom in AGENTS:
            await sipp.phone(intercom, "uas_answer_hangup.xml", calls=calls, timeout=600, extra=["-d", str(HOLD_MS)])
        await capture.start()
        for cycle in range(args.cycles):
            for name in chosen:
                target = targets[name]
                await target.start()
                try:
                    for _ in range(WARM_UP_CALLS):  # first-use costs (imports, compiled statements): not counted
                        await run_burst(settings, {}, capture, [next(numbers)], 5999, workdir, report=False)
                        await asyncio.sleep(HOLD_MS / 1000 + 0.3)
                    got = await run_loads(settings, target.starts, capture, workdir, args, numbers)
                finally:
                    await target.stop()
                for load, values in got.items():
                    rows[name][load] += values
                    if values:
                        turns[name][load].append(pct(values, 99))
                print(f"cycle {cycle + 1}/{args.cycles}, {name}: " + ", ".join(
                    f"{load} p99 {pct(v, 99):.1f}" for load, v in got.items() if v))
        print_table(rows)
        print_turns(turns)
        if "engine" in chosen:
            print("\n" + targets["engine"].split(capture.invites))
        return 0 if all(all(by_load.values()) for by_load in rows.values()) else 1
    finally:
        await capture.stop()
        await sipp.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", choices=("both", "engine", "bare app"), default="both")
    parser.add_argument("--cycles", type=int, default=2, help="turns of each target")
    parser.add_argument("--rounds-1", type=int, default=20, help="single calls, one after another, a turn")
    parser.add_argument("--steady", type=int, default=100, help="calls placed while 20 are kept up, a turn")
    parser.add_argument("--bursts-20", type=int, default=5,
                        help="bursts of 20 calls a turn (each: once at 100 calls/s, once all at once)")
    started = time.monotonic()
    code = asyncio.run(main(parser.parse_args()))
    print(f"\n(done in {time.monotonic() - started:.0f} s)")
    sys.exit(code)
