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
with it, runs the engine in-process, one SIPp answering for all 25 agents (answer, hang up
after 1 s; every agent registers its contact on that SIPp's port) and SIPp callers, and
stops everything at the end. Every wait has a timeout.
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
    """INVITEs only (the filter looks at the payload's first bytes, so the bench's own loop,
    which the targets share, parses nothing else): those Asterisk sends to the agents'
    phones and those the callers send to Asterisk, by the caller number in the From header."""

    def __init__(self, phones_port: int, asterisk_port: int):
        super().__init__(f"udp[8:4] = 0x494e5649 and (dst port {phones_port} or dst port {asterisk_port})")
        self.phones_port = phones_port

    def _first(self, to_phones: bool) -> dict[str, float]:
        first: dict[str, float] = {}
        for packet in self.packets:
            if packet.is_request("INVITE") and (packet.dst_port == self.phones_port) == to_phones:
                number = FROM_RE.search(packet.text)
                if number:
                    first.setdefault(number.group(1), packet.at)
        return first

    @property
    def invites(self) -> dict[str, float]:
        """The INVITE to the agent's phone, by caller number."""
        return self._first(True)

    @property
    def caller_invites(self) -> dict[str, float]:
        """The caller's own INVITE to Asterisk, by caller number."""
        return self._first(False)


async def run_burst(settings, starts, capture, numbers: list[str], port: int, workdir: Path,
                    rate: int = 1000, limit: int | None = None, report: bool = True) -> dict[str, float]:
    """One SIPp caller process placing `numbers` (each call its own caller number) at `rate`
    calls/s, at most `limit` up at once. Returns StasisStart -> INVITE, ms, by caller number."""
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
    out, invites = {}, capture.invites
    for number in numbers:
        if number in starts and number in invites:
            out[number] = (invites[number] - starts[number]) * 1000
    if report and (code != 0 or len(out) != len(numbers)):
        print(f"  burst on port {port}: sipp exit {code}, {len(out)}/{len(numbers)} calls measured")
    return out


LOADS = ("1 call", "20 in progress", "20 at 100/s", "20 at once")


async def run_loads(settings, starts, capture, workdir: Path, args, numbers) -> dict[str, dict[str, float]]:
    """The four loads, in order. `numbers`: an iterator of caller numbers (each call has its own).
    Returns, for each load, StasisStart -> INVITE in ms by caller number."""
    rows: dict[str, dict[str, float]] = {load: {} for load in LOADS}
    pause = HOLD_MS / 1000 + 0.3  # every agent Ready again
    ports = iter(range(5800, 5999))
    for _ in range(args.rounds_1):
        rows["1 call"] |= await run_burst(settings, starts, capture, [next(numbers)], next(ports), workdir)
        await asyncio.sleep(pause)
    rows["20 in progress"] |= await run_burst(settings, starts, capture, [next(numbers) for _ in range(args.steady)],
                                              next(ports), workdir, rate=25, limit=20)
    for label, rate in (("20 at 100/s", 100), ("20 at once", 1000)):
        for _ in range(args.bursts_20):
            await asyncio.sleep(pause)
            rows[label] |= await run_burst(settings, starts, capture, [next(numbers) for _ in range(20)],
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
        self.stalls: list[tuple[float, float, float]] = []  # (wall time seen, ms late, ms of the loop thread's CPU)

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

        async def watch_loop():
            """Sleeps 5 ms at a time (often enough to catch a stall, rarely enough to cost the
            loop nothing); a wake-up later than 2 ms means the loop was busy or the thread
            did not get a CPU that long: the CPU its thread used meanwhile tells which."""
            loop = asyncio.get_running_loop()
            while True:
                t0, cpu0 = loop.time(), time.thread_time()
                await asyncio.sleep(0.005)
                late = (loop.time() - t0 - 0.005) * 1000
                if late > 2:
                    self.stalls.append((time.time(), late, (time.thread_time() - cpu0) * 1000))

        self.wrapper = asyncio.create_task(wrap_up())
        self.watcher = asyncio.create_task(watch_loop())
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
        self.watcher.cancel()
        await self.engine.stop()

    def split(self, invites: dict[str, float], by_load: dict[str, list[str]], slow_ms: float = 20.0) -> str:
        """Where the engine's time goes, by load; and each call slower than `slow_ms` (the
        first 40): its parts and the engine loop's longest stall while the call waited."""
        def parts(n):
            return ((self.received[n] - self.starts[n]) * 1000, (self.sent[n][0] - self.received[n]) * 1000,
                    (self.sent[n][1] - self.sent[n][0]) * 1000, (invites[n] - self.sent[n][0]) * 1000)

        lines = [("where the engine's time goes, ms, p50 / p99: event reaches the engine | engine until the "
                  "originate is sent | originate request round trip | originate sent -> INVITE on the wire")]
        slow = []
        for load, numbers in by_load.items():
            timed = [n for n in numbers if n in self.sent and n in self.received and n in invites]
            if not timed:
                continue
            rows = [parts(n) for n in timed]
            lines.append(f"{load:>14} | " + " | ".join(
                f"{pct([x[i] for x in rows], 50):5.1f} / {pct([x[i] for x in rows], 99):5.1f}" for i in range(4)))
            slow += [(load, n, x) for n, x in zip(timed, rows, strict=True) if (invites[n] - self.starts[n]) * 1000 > slow_ms]
        if slow:
            lines.append(f"calls over {slow_ms:.0f} ms (load: parts as above; the longest loop stall while it "
                         f"waited, and the CPU the loop's thread used in it: as long as the stall = busy, "
                         f"about 0 = not scheduled)")
            for load, n, x in slow[:40]:
                stall = max(((ms, cpu) for at, ms, cpu in self.stalls if self.starts[n] <= at <= invites[n] + 0.005),
                            default=(0.0, 0.0))
                lines.append(f"  {load:>14}: " + " | ".join(f"{v:5.1f}" for v in x)
                             + f"   stall {stall[0]:5.1f} (cpu {stall[1]:5.1f})")
        if self.stalls:
            late = [ms for _, ms, _ in self.stalls]
            busy = sum(cpu for _, _, cpu in self.stalls) / sum(late)
            lines.append(f"loop stalls over 2 ms: {len(late)}, p50 {pct(late, 50):.1f}, max {max(late):.1f} ms; "
                         f"the loop's thread ran {busy:.0%} of that time")
        return "\n".join(lines)


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


def print_wire_to_wire(capture: Capture, calls: dict[str, dict[str, list[str]]]) -> None:
    """The caller's INVITE reaching Asterisk -> the agent's INVITE leaving it, both on the
    wire: what a caller waits before the agent's phone rings (dialplan + Stasis + routing).
    The engine's figure minus the bare app's is what routing adds to it."""
    inbound, outbound = capture.caller_invites, capture.invites
    print("\ncaller's INVITE -> agent's INVITE, both on the wire, ms, p50 / p99")
    for load in LOADS:
        cells = []
        for name, by_load in calls.items():
            values = [(outbound[n] - inbound[n]) * 1000 for n in by_load[load] if n in inbound and n in outbound]
            if values:
                cells.append(f"{name} {pct(values, 50):6.2f} / {pct(values, 99):6.2f}")
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
    # One SIPp answers for all 25 agents (each registers its contact on that port): 25 idle
    # SIPp processes took almost half a core of this 2-core machine from both targets.
    phones_port = sipp.agent_port(AGENTS[-1]) + 1
    capture = Capture(phones_port, settings.sip_port)
    numbers = (f"+447911{n:06d}" for n in itertools.count(100))  # UK mobiles, each call its own
    rows: dict[str, dict[str, list[float]]] = {name: {load: [] for load in LOADS} for name in chosen}
    turns: dict[str, dict[str, list[float]]] = {name: {load: [] for load in LOADS} for name in chosen}
    measured: dict[str, dict[str, list[str]]] = {name: {load: [] for load in LOADS} for name in chosen}  # caller numbers
    try:
        calls = args.cycles * len(chosen) * (WARM_UP_CALLS + args.rounds_1 + args.steady + 40 * args.bursts_20)
        # The phones' SIPp outlives the whole run (its -timeout counts from its start): a turn
        # takes about two minutes on this machine, allow five (so do the registrations, up to
        # the 7200 s pjsip allows).
        phones_timeout = 300 * args.cycles * len(chosen)
        for intercom in AGENTS:
            await sipp.register(intercom, contact_port=phones_port, expires=min(phones_timeout, 7200))
        await sipp.start("uas_answer_hangup.xml", port=phones_port, calls=calls, timeout=phones_timeout,
                         extra=["-d", str(HOLD_MS)])
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
                for load, by_number in got.items():
                    rows[name][load] += by_number.values()
                    if by_number:
                        turns[name][load].append(pct(list(by_number.values()), 99))
                    measured[name][load] += by_number
                print(f"cycle {cycle + 1}/{args.cycles}, {name}: " + ", ".join(
                    f"{load} p99 {pct(list(v.values()), 99):.1f}" for load, v in got.items() if v))
        print_table(rows)
        print_turns(turns)
        print_wire_to_wire(capture, measured)
        if "engine" in chosen:
            print("\n" + targets["engine"].split(capture.invites, measured["engine"]))
        return 0 if all(all(by_load.values()) for by_load in rows.values()) else 1
    finally:
        await capture.stop()
        await sipp.close()
        await unregister(sipp, phones_port)


async def unregister(sipp: Sipp, phones_port: int) -> None:
    """Take the agents' contacts back: Asterisk keeps them (in its astdb, across restarts) for
    as long as they were registered, up to two hours, and a later demo would list them."""
    try:
        for intercom in AGENTS:
            await sipp.register(intercom, contact_port=phones_port, expires=0)
    except (AssertionError, OSError, asyncio.TimeoutError) as exc:
        print(f"could not unregister the bench agents: {exc}")
    finally:
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
