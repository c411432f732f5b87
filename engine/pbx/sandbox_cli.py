"""`switchboard pbx up|down|status|build`: thin, printing wrappers around `Sandbox`.

Each function prints human-readable lines and returns a process exit code (0 ok, 1 failed),
so engine/cli.py only has to wire arguments to them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from engine.pbx.sandbox import Sandbox, SandboxError
from engine.settings import Settings


def _fail(exc: Exception, out: TextIO) -> int:
    print(f"error: {exc}", file=out)
    return 1


def pbx_build(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Build the chroot if it is missing (about a minute on first use)."""
    sandbox = Sandbox(settings)
    started = time.monotonic()
    try:
        if not sandbox.built:
            print(f"building the Asterisk sandbox in {sandbox.root} (Debian sid, about a minute)...", file=out)
        built = sandbox.ensure_built()
    except SandboxError as exc:
        return _fail(exc, sys.stderr)
    took = time.monotonic() - started
    print(f"sandbox {'built' if built else 'already built'} in {sandbox.root} ({took:.1f}s)", file=out)
    return 0


def pbx_up(settings: Settings, config_dir: Path | None = None, out: TextIO = sys.stdout) -> int:
    """Build if needed, install `config_dir` (default: the generated config) and start Asterisk."""
    sandbox = Sandbox(settings)
    config_dir = Path(config_dir) if config_dir else settings.generated_config_dir
    started = time.monotonic()
    try:
        if not sandbox.built:
            print(f"building the Asterisk sandbox in {sandbox.root} (Debian sid, about a minute)...", file=out)
        status = sandbox.up(config_dir)
    except SandboxError as exc:
        return _fail(exc, sys.stderr)
    took = time.monotonic() - started
    what = {"unchanged": "already running with this config", "started": "started",
            "restarted": "restarted with the new config"}.get(status["action"], status["action"])
    built = " (sandbox built first)" if status.get("built_now") else ""
    print(f"asterisk {what}{built} in {took:.2f}s: pid {status['pid']}, {status['version']}", file=out)
    print(f"  config: {config_dir}", file=out)
    print(f"  ARI:    http://{settings.pbx_host}:{settings.http_port}/ari ({status.get('ari')})", file=out)
    print(f"  AMI:    {settings.pbx_host}:{settings.ami_port} ({status.get('ami')})", file=out)
    print(f"  SIP:    {settings.pbx_host}:{settings.sip_port}", file=out)
    return 0


def pbx_down(settings: Settings, out: TextIO = sys.stdout) -> int:
    sandbox = Sandbox(settings)
    try:
        was_running = sandbox.running
        sandbox.down()
    except SandboxError as exc:
        return _fail(exc, sys.stderr)
    print("asterisk stopped" if was_running else "asterisk was not running", file=out)
    return 0


def pbx_status(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Exit 0 when Asterisk is running, 1 when it is not (so scripts can test it)."""
    sandbox = Sandbox(settings)
    try:
        status = sandbox.status()
    except SandboxError as exc:
        return _fail(exc, sys.stderr)
    print(f"sandbox: {status['root']} ({'built' if status['built'] else 'not built'})", file=out)
    if status["version"]:
        print(f"version: {status['version']}", file=out)
    if not status["running"]:
        print("asterisk: not running", file=out)
        return 1
    print(f"asterisk: running, pid {status['pid']}, up {status['uptime_seconds']}s", file=out)
    print(f"ARI: {status.get('ari')}   AMI: {status.get('ami')}", file=out)
    return 0
