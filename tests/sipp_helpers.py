"""Run SIPp scenarios from tests/sipp/ with a timeout, bound to 127.0.0.1.

Every run is one call (`-m 1`) with `-timeout <n>s -timeout_error`, so a scenario that
waits for something that never comes fails instead of hanging the test. `-trace_err`
writes SIPp's error log into `workdir`; `SippResult.errors` returns its text for the
assertion message.

`run_sipp` blocks (for subprocess-style tests); `start_sipp` returns an asyncio process
for a scenario that must run while the test does other things (a call in progress).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "sipp"
HOST = "127.0.0.1"


@dataclass
class SippResult:
    returncode: int
    stdout: str
    stderr: str
    workdir: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def errors(self) -> str:
        logs = sorted(self.workdir.glob("*_errors.log"))
        text = "\n".join(p.read_text(errors="replace")[-3000:] for p in logs)
        return (text or self.stderr or self.stdout)[-4000:]

    def describe(self) -> str:
        return f"sipp exit {self.returncode}: {self.errors.strip()}"


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise RuntimeError("sipp is not installed (apt-get install sip-tester)")
    return path


def sipp_command(scenario: str, *, local_port: int, remote: str = f"{HOST}:5060", keys: dict[str, str] | None = None,
                 auth: tuple[str, str] | None = None, timeout: float = 20, calls: int = 1,
                 workdir: Path, extra: list[str] = ()) -> list[str]:
    cmd = [
        sipp_binary(), remote, "-sf", str(SCENARIOS / scenario),
        "-i", HOST, "-p", str(local_port), "-mi", HOST,
        "-m", str(calls), "-timeout", f"{int(timeout)}s", "-timeout_error",
        "-trace_err", "-error_file", str(workdir / f"{Path(scenario).stem}_errors.log"),
        "-nostdin",
    ]
    for name, value in (keys or {}).items():
        cmd += ["-key", name, str(value)]
    if auth is not None:
        cmd += ["-au", auth[0], "-ap", auth[1]]
    return cmd + list(extra)


def run_sipp(scenario: str, *, local_port: int, workdir: Path | None = None, timeout: float = 20,
             **kwargs) -> SippResult:
    """Run one scenario to the end (at most `timeout` + 10 s). Returns its exit code and logs."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="sipp-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = sipp_command(scenario, local_port=local_port, workdir=workdir, timeout=timeout, **kwargs)
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout + 10, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        return SippResult(-1, str(exc.stdout or ""), f"sipp did not end within {timeout + 10}s", workdir)
    return SippResult(proc.returncode, proc.stdout, proc.stderr, workdir)


async def run_sipp_async(scenario: str, *, local_port: int, workdir: Path | None = None, timeout: float = 20,
                         **kwargs) -> SippResult:
    """`run_sipp` without blocking the event loop (the engine under test shares it)."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="sipp-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = sipp_command(scenario, local_port=local_port, workdir=workdir, timeout=timeout, **kwargs)
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=workdir, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout + 10)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        return SippResult(-1, out.decode(errors="replace"), f"sipp did not end within {timeout + 10}s", workdir)
    return SippResult(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), workdir)
