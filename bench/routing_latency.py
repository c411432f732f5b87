"""Routing latency: from an inbound call entering the Stasis app to the agent's INVITE
leaving Asterisk, at 1 and at 20 simultaneous calls. Prints a table (p50, p99) and a plot.

    sudo .venv/bin/python bench/routing_latency.py [--rounds-1 40] [--bursts-20 5]

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

The bench builds its own data set (the routing tests' set plus agents 2011..2020, so 20
agents can each take one of 20 simultaneous calls), starts the sandbox Asterisk with it,
runs the engine in-process, SIPp agents (answer, hang up after 0.3 s) and SIPp callers,
and stops everything at the end. Every wait has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import select

from engine.log import configure_logging
from engine.pbx.sandbox import Sandbox
from engine.runtime.engine import Engine
from engine.store import models as m
from engine.store.session import make_engine, session_scope
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

AGENTS = list(range(2001, 2021))
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


async def run_burst(engine, sipp, starts, capture, numbers: list[str], port: int, workdir: Path,
                    rate: int = 1000) -> list[float]:
    csv = workdir / f"callers-{port}.csv"
    csv.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers))
    cmd = [sipp_binary(), f"{HOST}:{engine.settings.sip_port}", "-sf", str(CSV_SCENARIO), "-inf", str(csv),
           "-i", HOST, "-p", str(port), "-mi", HOST, "-m", str(len(numbers)), "-l", str(len(numbers)),
           "-r", str(rate), "-rp", "1000", "-key", "number", N["load"], "-key", "caller_name", "Bench",
           "-timeout", "30s", "-timeout_error", "-nostdin"]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=workdir, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    code = await asyncio.wait_for(proc.wait(), 40)
    await asyncio.sleep(0.3)
    out, invites = [], capture.invites
    for number in numbers:
        if number in starts and number in invites:
            out.append((invites[number] - starts[number]) * 1000)
    if code != 0 or len(out) != len(numbers):
        print(f"  burst on port {port}: sipp exit {code}, {len(out)}/{len(numbers)} calls measured")
    return out


async def run_loads(target, sipp, starts, capture, workdir: Path, args, prefix: str) -> dict[str, list[float]]:
    """The three loads, in order: single calls one after another, then bursts of 20 (all at
    once, then at 100 calls/s). `prefix`: the callers' numbers (each call has its own)."""
    seq = iter(range(100, 100000))
    rows: dict[str, list[float]] = {"1 call": []}
    for n in range(args.rounds_1):
        rows["1 call"] += await run_burst(target, sipp, starts, capture, [f"{prefix}{next(seq):05d}"],
                                          5800 + n % 50, workdir)
        await asyncio.sleep(0.2)
    for label, rate, base in (("20 at once", 1000, 5900), ("20 at 100/s", 100, 5950)):
        rows[label] = []
        for n in range(args.bursts_20):
            await asyncio.sleep(0.8)  # every agent Ready again
            numbers = [f"{prefix}{next(seq):05d}" for _ in range(20)]
            rows[label] += await run_burst(target, sipp, starts, capture, numbers, base + n, workdir, rate)
    return rows


def print_loads(title: str, rows: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    print(f"{'load':>14} | {'calls':>5} | {'p50':>6} | {'p99':>6} | {'max':>6} | {'mean':>6}")
    for name, values in rows.items():
        if values:
            print(f"{name:>14} | {len(values):>5} | {pct(values, 50):6.2f} | {pct(values, 99):6.2f} | "
                  f"{max(values):6.2f} | {statistics.mean(values):6.2f}")
    if all(rows.values()):
        print("\n" + plot(rows))


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
    engine = Engine(settings)
    starts: dict[str, float] = {}
    original = engine.ari.on_event

    def tap(event):
        if event.get("type") == "StasisStart" and (event.get("args") or [""])[0] == "inbound":
            number = (event["channel"].get("caller") or {}).get("number")
            starts[number] = datetime.fromisoformat(event["timestamp"].replace("+0000", "+00:00")).timestamp()
            received[number] = time.time()
        original(event)

    engine.ari.on_event = tap
    await clear_asterisk(settings)  # a call a crashed test or bench left in the app would be adopted
    received: dict[str, float] = {}
    sent: dict[str, tuple[float, float]] = {}
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
                sent[number.group(1)] = (t0, time.time())

    engine.ari.request = timed_request
    sipp = Sipp(settings, workdir / "sipp")
    capture = Capture(f"dst portrange {sipp.agent_port(AGENTS[0])}-{sipp.agent_port(AGENTS[-1])}")
    await engine.start()
    sub = engine.bus.subscribe(maxsize=100000)

    async def wrap_up():
        while True:
            e = await sub.get()
            if e.get("type") == "agent_state" and e["state"] == "wrap_up":
                engine.routing.finish_wrap_up(e["agent_id"], "resolved")

    wrapper = asyncio.create_task(wrap_up())
    try:
        await asyncio.wait_for(asyncio.gather(engine.ari_ready.wait(), engine.ami_ready.wait()), 15)
        ids = {int(a.intercom): a.id for a in engine.directory.agents.values()}
        load = next(d.id for d in engine.directory.departments.values() if d.name == "T load")
        total = args.rounds_1 + 40 * args.bursts_20
        for intercom in AGENTS:
            await sipp.phone(intercom, "uas_answer_hangup.xml", calls=total, timeout=120, extra=["-d", "300"])
            engine.routing.sign_in(ids[intercom], load)
        await capture.start()
        rows = await run_loads(engine, sipp, starts, capture, workdir, args, "+4479111")
        print_loads("StasisStart (Asterisk's event time) -> INVITE to the agent on the wire (tcpdump), ms", rows)
        invites = capture.invites
        split = [(received[n] - starts[n], sent[n][0] - received[n], sent[n][1] - sent[n][0],
                  invites[n] - sent[n][0]) for n in sent if n in received and n in invites]
        if split:
            print("\nwhere the time goes (all calls, ms, p50 / p99): event reaches the engine | engine until the "
                  "originate is sent | originate request round trip | originate sent -> INVITE on the wire")
            print("  " + " | ".join(f"{pct([x[i] * 1000 for x in split], 50):.1f} / {pct([x[i] * 1000 for x in split], 99):.1f}"
                                    for i in range(4)))
        return 0 if all(rows.values()) else 1
    finally:
        wrapper.cancel()
        await capture.stop()
        await sipp.close()
        await engine.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds-1", type=int, default=40, help="single calls, one after another")
    parser.add_argument("--bursts-20", type=int, default=5,
                        help="rounds of 20 simultaneous calls (each: once all at once, once at 100 calls/s)")
    started = time.monotonic()
    code = asyncio.run(main(parser.parse_args()))
    print(f"\n(done in {time.monotonic() - started:.0f} s)")
    sys.exit(code)
