"""The routing tests' world: one data set, one sandbox config, SIPp phones and callers.

ONE extended data set for every routing test (the demo seed, plus ten agents 2001..2010,
a department per strategy with a 3 s ring timeout, closed and direct-line numbers, a test
IVR, a persistent-path department with a 2 s Not Ready limit), so the generated pjsip.conf
and dialplan are the same for every test and the sandbox Asterisk is not restarted between
tests. Each test copies the template database, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import time
from pathlib import Path

import aiohttp
from sqlmodel import select

from engine.config.files import write_all
from engine.config.generator import generate
from engine.settings import Settings, load_settings
from engine.store import models as m
from engine.store.migrate import upgrade
from engine.store.seed import seed_demo
from engine.store.session import make_engine, session_scope
from tests.sipp_helpers import HOST, sipp_command

RING = 3  # seconds: the test departments' ring timeout
PATH_LIMIT = 2  # seconds: the path department's Not Ready limit
N = {  # inbound numbers of the test data set
    "longest_idle": "+442071838760", "round_robin": "+442071838761", "ring_all": "+442071838762",
    "fixed_order": "+442071838763", "path": "+442071838764", "load": "+442071838765",
    "closed_vm": "+442071838766", "closed_hangup": "+442071838767", "direct": "+442071838768",
    "ivr": "+442071838769",
}
TRANSFER_CODES = {  # #1 / #2 + code: the test departments' and the test IVR's transfer codes
    "longest_idle": "31001", "round_robin": "31002", "ring_all": "31003", "fixed_order": "31004",
    "path": "31005", "load": "31006", "ivr": "31100",
}
FORWARD_NUMBER = "+447911123459"  # agent 2010's call forwarding number (answered on the trunk)


AGENT_PORTS, AGENT_PORT_BLOCKS = 7200, 28  # agents' phones: 7200-9999, 100 a test (Sipp.agent_port)


def agent_password(intercom: int) -> str:
    return f"test-secret-{intercom}"


def build_template(path: Path) -> str:
    url = f"sqlite:///{path}"
    upgrade(url)
    with session_scope(url) as s:
        demo = seed_demo(s)
        never = m.TimeGroup(name="Never open", description="no rules: always closed", timezone="UTC")
        s.add(never)
        s.flush()
        always = s.exec(select(m.TimeGroup).where(m.TimeGroup.name == "Always open")).one()
        depts = {}
        for key, strategy, queue, overflow in [
            ("longest_idle", "longest_idle", True, "voicemail"), ("round_robin", "round_robin", False, "busy"),
            ("ring_all", "ring_all", False, "voicemail"), ("fixed_order", "fixed_order", True, "voicemail"),
            ("path", "longest_idle", True, "voicemail"), ("load", "longest_idle", True, "voicemail"),
        ]:
            depts[key] = m.Department(name=f"T {key}", strategy=strategy, use_as_queue=queue, overflow=overflow,
                                      transfer_code=TRANSFER_CODES[key],
                                      ring_timeout=RING, ready_after_sign_in=True, time_group_id=always.id,
                                      not_ready_path_limit=PATH_LIMIT if key == "path" else 600)
            s.add(depts[key])
        s.flush()
        agents = []
        for i in range(1, 11):
            intercom = 2000 + i
            agents.append(m.Agent(name=f"Test Agent {intercom}", intercom=str(intercom), username=f"t{intercom}",
                                  sip_username=f"agent{intercom}", sip_password=agent_password(intercom),
                                  region="GB", call_forwarding_number=FORWARD_NUMBER if i == 10 else None))
        s.add_all(agents)
        s.flush()
        for position, agent in enumerate(agents):
            for dept in depts.values():
                s.add(m.AgentDepartment(agent_id=agent.id, department_id=dept.id, position=position))
        menu = m.Ivr(name="Test menu", greeting="beep", timeout=3, max_retries=1, transfer_code=TRANSFER_CODES["ivr"])
        s.add(menu)
        s.flush()
        s.add(m.IvrOption(ivr_id=menu.id, digit="1", target_type="department", target_id=depts["longest_idle"].id))
        for key in ("longest_idle", "round_robin", "ring_all", "fixed_order", "path", "load"):
            s.add(m.InboundNumber(number=N[key], description=f"Test {key}", target_type="department",
                                  target_id=depts[key].id, time_group_id=always.id))
        s.add(m.InboundNumber(number=N["closed_vm"], description="Closed line", target_type="department",
                              target_id=depts["longest_idle"].id, time_group_id=never.id,
                              closed_announcement="vm-nobodyavail", closed_action="voicemail"))
        s.add(m.InboundNumber(number=N["closed_hangup"], description="", target_type="department",
                              target_id=depts["longest_idle"].id, time_group_id=never.id,
                              closed_announcement="vm-goodbye", closed_action="hangup"))
        s.add(m.InboundNumber(number=N["direct"], description="Direct line 2001", target_type="agent",
                              target_id=agents[0].id, time_group_id=always.id))
        s.add(m.InboundNumber(number=N["ivr"], description="Test IVR", target_type="ivr", target_id=menu.id,
                              time_group_id=always.id))
        del demo
    make_engine(url).dispose()
    return url


def copy_db(template: Path, dest: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(template) + suffix)
        if src.exists():
            shutil.copy(src, Path(str(dest) + suffix))
    return f"sqlite:///{dest}"


def write_config(url: str, settings: Settings, out: Path) -> Path:
    with session_scope(url) as s:
        files = generate(s, settings)
    return write_all(files, out)


def settings_for(url: str) -> Settings:
    return dataclasses.replace(load_settings(), database_url=url)


def ids(url: str) -> dict:
    with session_scope(url) as s:
        agents = {int(a.intercom): a.id for a in s.exec(select(m.Agent)).all()}
        depts = {d.name: d.id for d in s.exec(select(m.Department)).all()}
    return {"agents": agents, "depts": depts}


def _udp_port_bound(port: int) -> bool:
    """Is something bound to UDP `port`? Read from /proc (never bind it: that could race SIPp)."""
    wanted = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(line.split()[1].endswith(wanted) for line in lines if len(line.split()) > 1):
            return True
    return False


async def _until_bound(proc, port: int, timeout: float = 5.0) -> None:
    """Wait until a SIPp we started listens on its port (or has already exited).

    Without this an INVITE could reach a phone's port before its SIPp had bound it: the
    offer then failed at once, over and over, and the test saw an agent that never answers.
    """
    deadline = time.monotonic() + timeout
    while proc.returncode is None and time.monotonic() < deadline:
        if _udp_port_bound(port):
            return
        await asyncio.sleep(0.01)


class Sipp:
    """SIPp processes a test starts; all killed at the end (none outlives its test)."""

    _generation = 0

    def __init__(self, settings: Settings, workdir: Path):
        self.settings = settings
        self.workdir = workdir
        # Each test's phones listen on ports of their own: a channel a failed test left behind
        # keeps retransmitting its INVITE to the contact it dialled for up to 32 s, and a new
        # phone on that port would answer it and be used up before the test's own call.
        # 28 blocks, starting where the pid says, so neither the next tests nor the next run
        # come back to a block within those 32 s.
        Sipp._generation += 1
        self.port_base = AGENT_PORTS + ((os.getpid() + Sipp._generation) % AGENT_PORT_BLOCKS) * 100
        self.procs: list[tuple[str, asyncio.subprocess.Process, Path]] = []
        self._n = 0

    async def start(self, scenario: str, *, port: int, keys: dict | None = None, timeout: float = 30,
                    calls: int = 1, auth=None, extra: list[str] = (), files: dict[str, Path] | None = None):
        """`files`: copied into SIPp's working directory (e.g. the pcap a scenario's
        `play_pcap_audio` names by a relative path: keys are not substituted in attributes)."""
        self._n += 1
        wd = self.workdir / f"{self._n:02d}-{Path(scenario).stem}-{port}"
        wd.mkdir(parents=True, exist_ok=True)
        for name, src in (files or {}).items():
            shutil.copy(src, wd / name)
        cmd = sipp_command(scenario, local_port=port, remote=f"{HOST}:{self.settings.sip_port}", keys=keys,
                           auth=auth, timeout=timeout, calls=calls, workdir=wd, extra=list(extra))
        proc = await asyncio.create_subprocess_exec(*cmd, cwd=wd, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)
        self.procs.append((scenario, proc, wd))
        await _until_bound(proc, port)
        return proc

    async def run(self, scenario: str, **kwargs) -> int:
        proc = await self.start(scenario, **kwargs)
        return await asyncio.wait_for(proc.wait(), kwargs.get("timeout", 30) + 10)

    @staticmethod
    def errors(proc_dir: Path) -> str:
        return "\n".join(p.read_text(errors="replace")[-1500:] for p in proc_dir.glob("*_errors.log"))

    def agent_port(self, intercom: int) -> int:
        """The port agent `intercom`'s phone listens on in this test (2001 -> base + 1)."""
        return self.port_base + intercom - 2000

    async def register(self, intercom: int, contact_port: int | None = None, expires: int = 600) -> None:
        """Register agent `intercom`'s phone, with its own port as the contact (or
        `contact_port`: several agents can share one SIPp that answers for all of them). It
        registers from the contact's port, as Asterisk rewrites the contact to the source."""
        port = contact_port or self.agent_port(intercom)
        code = await self.run("register.xml", port=port, timeout=10,
                              keys={"user": f"agent{intercom}", "contact_port": port, "expires": expires},
                              auth=(f"agent{intercom}", agent_password(intercom)))
        assert code == 0, f"agent{intercom} did not register: {self.errors(self.procs[-1][2])}"

    async def phone(self, intercom: int, scenario: str = "uas_answer.xml", calls: int = 1, timeout: float = 60,
                    extra: list[str] = ()):
        """Register the agent's phone and start the SIPp that answers (or rejects) its calls."""
        await self.register(intercom)
        return await self.start(scenario, port=self.agent_port(intercom), calls=calls, timeout=timeout, extra=extra)

    async def call(self, key: str, port: int, caller: str = "+447911123458", name: str = "Test Caller",
                   scenario: str = "uac_wait_bye.xml", timeout: float = 30, extra: list[str] = (),
                   files: dict[str, Path] | None = None):
        number = N.get(key, key)
        return await self.start(scenario, port=port, timeout=timeout, extra=extra, files=files,
                                keys={"number": number, "caller": caller, "caller_name": name})

    async def close(self) -> None:
        for _, proc, _ in self.procs:
            if proc.returncode is None:
                try:
                    proc.send_signal(signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await proc.wait()


async def eventually(predicate, timeout: float = 5.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


def count_is(n: int, items: list):
    """`items` when there are exactly `n` of them, else None (for `eventually`)."""
    return items if len(items) == n else None


async def clear_asterisk(settings) -> None:
    auth = {"Authorization": aiohttp.encode_basic_auth(settings.ari_user, settings.ari_password)}
    base = f"{settings.ari_url}ari/"
    async with aiohttp.ClientSession(headers=auth, timeout=aiohttp.ClientTimeout(total=5)) as http:
        for kind in ("channels", "bridges"):
            async with http.get(base + kind) as resp:
                items = await resp.json()
            for item in items:
                async with http.delete(f"{base}{kind}/{item['id']}"):
                    pass
        for _ in range(50):
            async with http.get(base + "channels") as resp:
                if not await resp.json():
                    return
            await asyncio.sleep(0.05)
