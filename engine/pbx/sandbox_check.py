"""`switchboard config check`: boot a candidate configuration in a throw-away Asterisk.

It runs in the sandbox chroot but in its own network namespace (so it binds the same
ports as a running sandbox without a clash) and its own directories under the chroot's
/tmp (own astdb, control socket and logs), then reports every ERROR, every WARNING from
the config parser and dialplan loader (they mean a line was dropped), required modules not
running, and PJSIP references to sections that do not exist (Asterisk accepts those
silently and only fails when a phone registers or calls).

Split from `sandbox.py` to keep each module readable in one sitting; the functions take
the `Sandbox` whose chroot they use.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .sandbox import Sandbox, SandboxError, _raise_nofile, _tail, _unmount_all_under

# Modules without which the engine cannot work. `check_config` fails if any is not Running.
REQUIRED_MODULES = (
    "res_pjsip.so",
    "chan_pjsip.so",
    "res_pjsip_session.so",
    "res_http_websocket.so",
    "res_ari.so",
    "res_stasis.so",
    "app_stasis.so",
    "pbx_config.so",
    "res_musiconhold.so",
    "bridge_simple.so",
    "bridge_softmix.so",
    "bridge_holding.so",
)

# Log lines that are ERRORs but harmless. Each entry is (source file, message regex, why).
# Empty on purpose: with the modules.conf/logger.conf/asterisk.conf of the minimal fixture
# (tests/fixtures/asterisk-minimal) a good configuration logs no ERROR at all, so any ERROR
# is something to fix (a missing config file, a declined module, a rejected option).
ERROR_ALLOW_LIST: tuple[tuple[str, str, str], ...] = ()

# WARNINGs that mean Asterisk dropped part of the configuration: the config parser and the
# dialplan loader log a malformed line as a WARNING and carry on without it.
CONFIG_WARNING_SOURCES = ("config.c", "pbx_config.c")

_LOG_LINE = re.compile(
    r"^\[[^\]]*\]\s+(?P<level>ERROR|WARNING)\[\d+\](?:\[[^\]]*\])?:?\s+(?P<source>[\w./-]+?):\s*(?P<msg>.*)$"
)


@dataclass
class CheckReport:
    """What Asterisk made of a candidate configuration."""

    ok: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def format(self) -> str:
        lines = [f"config check: {'OK' if self.ok else 'FAILED'}"]
        lines += [f"  error: {e}" for e in self.errors]
        lines += [f"  warning: {w}" for w in self.warnings]
        for key, value in self.details.items():
            if key != "module_status":
                lines.append(f"  {key}: {value}")
        return "\n".join(lines)


def check_config(self: Sandbox, config_dir: Path, timeout: float = 60) -> CheckReport:
    """Boot a throw-away Asterisk on `config_dir` and report what it rejected.

    It runs in the sandbox chroot but in its own network namespace (so it binds the same
    ports as a running sandbox without a clash) and its own directories under the
    chroot's /tmp (own astdb, control socket and logs). Its logger.conf is replaced by one
    that writes ERROR and WARNING lines to a file; everything else is the candidate's.
    """
    config_dir = Path(config_dir)
    self._check_config_dir(config_dir)
    self._require_root()
    unshare = self._require_tool("unshare", "util-linux")
    ip = self._require_tool("ip", "iproute2")
    self.ensure_built()
    with self._locked():
        self._prepare_runtime()
    work = Path(tempfile.mkdtemp(prefix="switchboard-check-", dir=self.root / "tmp"))
    inner = "/" + str(work.relative_to(self.root))
    conf = f"{inner}/etc/asterisk.conf"
    started = time.monotonic()
    try:
        _write_check_tree(self, config_dir, work, inner)
        proc = subprocess.run(
            [unshare, "--net", "--", "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh",
             *self._asterisk(conf=conf)],
            capture_output=True, text=True, preexec_fn=_raise_nofile, timeout=30,
        )
        if proc.returncode != 0:
            return CheckReport(False, [f"Asterisk did not start: {(proc.stdout + proc.stderr).strip()}"],
                               details={"log": _tail(work / "log/check.log")})
        try:
            self._wait_booted(work / "run", conf, timeout)
        except SandboxError as exc:
            errors, warnings = _classify_log(work / "log/check.log", inner)
            why = re.search(r"\((.*?)\)", str(exc).splitlines()[0])
            errors.append(f"Asterisk did not boot with this configuration ({why.group(1) if why else exc})")
            return CheckReport(False, errors, warnings, {"boot_seconds": None})
        boot = time.monotonic() - started
        return _inspect(self, work, inner, conf, boot)
    finally:
        self._stop_instance(work / "run", conf)
        shutil.rmtree(work, ignore_errors=True)
        if not self.running:
            with self._locked(), contextlib.suppress(SandboxError):
                _unmount_all_under(self.root)

def _write_check_tree(self: Sandbox, config_dir: Path, work: Path, inner: str) -> None:
    uid, gid = self._ids()
    shutil.copytree(config_dir, work / "etc")
    for sub in ("run", "log", "spool", "db", "cache"):
        (work / sub).mkdir()
    options = _candidate_sections(config_dir / "asterisk.conf")
    opts = options.pop("options", [])
    if not any(re.match(r"\s*entityid\s*=", line) for line in opts):
        # A namespace with only `lo` has no MAC address to derive the entity id from,
        # and res_pjsip_publish_asterisk then declines with "Entity ID is not set".
        opts.append("entityid = 02:00:00:00:00:01")
    text = [
        "[directories]",
        f"astcachedir => {inner}/cache",
        f"astetcdir => {inner}/etc",
        "astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules",
        "astvarlibdir => /var/lib/asterisk",
        f"astdbdir => {inner}/db",
        "astkeydir => /var/lib/asterisk",
        "astdatadir => /usr/share/asterisk",
        "astagidir => /usr/share/asterisk/agi-bin",
        f"astspooldir => {inner}/spool",
        f"astrundir => {inner}/run",
        f"astlogdir => {inner}/log",
        "astsbindir => /usr/sbin",
        "", "[options]", *opts,
    ]
    for name, lines in options.items():
        if name != "directories":
            text += ["", f"[{name}]", *lines]
    (work / "etc/asterisk.conf").write_text("\n".join(text) + "\n")
    (work / "etc/logger.conf").write_text(
        "; written by switchboard config check (the candidate's logger.conf is not used)\n"
        "[general]\ndateformat = %F %T\n\n[logfiles]\ncheck.log => error,warning\n"
    )
    for dirpath, dirnames, filenames in os.walk(work):
        os.chown(dirpath, uid, gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, gid)

def _candidate_sections(path: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    if not path.is_file():
        return sections
    current = None
    for line in path.read_text(errors="replace").splitlines():
        stripped = line.split(";", 1)[0].strip()
        match = re.match(r"^\[([^\]]+)\]", stripped)
        if match:
            current = match.group(1).strip()
            sections.setdefault(current, [])
        elif stripped and current is not None:
            sections[current].append(stripped)
    return sections

def _classify_log(log: Path, inner: str = "") -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return errors, warnings
    for line in lines:
        match = _LOG_LINE.match(line)
        if not match:
            continue
        level, source, msg = match["level"], match["source"], match["msg"].strip()
        if inner:  # name the candidate's file, not the throw-away copy
            msg = msg.replace(f"{inner}/etc/", "")
        entry = f"{source}: {msg}"
        if level == "ERROR":
            if any(src == source and re.search(rx, msg) for src, rx, _ in ERROR_ALLOW_LIST):
                continue
            errors.append(entry)
        elif source in CONFIG_WARNING_SOURCES:
            errors.append(entry)
        else:
            warnings.append(entry)
    return errors, warnings

def _inspect(self: Sandbox, work: Path, inner: str, conf: str, boot: float) -> CheckReport:
    def cli(cmd: str) -> str:
        try:
            return self._cli(cmd, 10, conf=conf)
        except SandboxError as exc:
            return f"(failed: {exc})"

    errors, warnings = _classify_log(work / "log/check.log", inner)
    modules = {}
    for line in cli("module show").splitlines():
        parts = line.split()
        if parts and parts[0].endswith(".so"):
            modules[parts[0]] = "Running" if "Running" in line and "Not Running" not in line else "Not Running"
    for mod in REQUIRED_MODULES:
        if modules.get(mod) != "Running":
            errors.append(f"required module {mod} is not running "
                          f"({'not loaded' if mod not in modules else modules[mod]}): check modules.conf")
    http = cli("http show status")
    if "Server Enabled" not in http:
        errors.append("the HTTP server is disabled (http.conf): ARI cannot be reached")
    manager = cli("manager show settings")
    if not re.search(r"Manager \(AMI\):\s+Yes", manager):
        errors.append("AMI is disabled (manager.conf [general] enabled)")
    endpoints_out = cli("pjsip show endpoints")
    endpoints = [e.split("/")[0] for e in re.findall(r"^\s*Endpoint:\s+(\S+)", endpoints_out, re.M)
                 if not e.startswith("<")]
    errors += _dangling_references(cli, endpoints)
    dialplan = cli("dialplan show")
    match = re.search(r"-= (\d+) extensions? \((\d+) priorit(?:y|ies)\) in (\d+) contexts?\. =-", dialplan)
    details = {
        "boot_seconds": round(boot, 2),
        "modules_running": sum(1 for s in modules.values() if s == "Running"),
        "endpoints": len(endpoints),
        "extensions": int(match.group(1)) if match else None,
        "priorities": int(match.group(2)) if match else None,
        "contexts": int(match.group(3)) if match else None,
        "http": next((ln.strip() for ln in http.splitlines() if "Bound to" in ln), http.strip()[:200]),
    }
    return CheckReport(ok=not errors, errors=errors, warnings=warnings, details=details)

def _dangling_references(cli, endpoints: list[str]) -> list[str]:
    """Endpoints whose auth/aors/transport name an object that does not exist.

    Asterisk loads such an endpoint without a word and only fails when it is used
    (a REGISTER or INVITE is then rejected), so the check looks for them itself.
    """
    def ids(kind: str) -> set[str]:
        out = cli(f"pjsip list {kind}")
        # rows look like "     Auth:  1001-auth/1001" (id/username); headers start with "<"
        return {m.split("/")[0] for m in re.findall(r"^\s*\w+:\s+(\S+)", out, re.M) if not m.startswith("<")}

    known = {"auth": ids("auths"), "aors": ids("aors"), "transport": ids("transports")}
    known["outbound_auth"] = known["auth"]
    problems = []
    # One CLI call per endpoint (about 10 ms each); a few in parallel for large sites.
    with ThreadPoolExecutor(max_workers=8) as pool:
        outputs = list(pool.map(lambda e: cli(f"pjsip show endpoint {e}"), endpoints))
    for endpoint, out in zip(endpoints, outputs):
        for key, pool in known.items():
            match = re.search(rf"^[ \t]*{key}[ \t]*:[ \t]*([^\n]*)$", out, re.M)
            if not match:
                continue
            for name in filter(None, (n.strip() for n in match.group(1).split(","))):
                if name not in pool:
                    kind = "auth" if key.endswith("auth") else key.rstrip("s")
                    problems.append(f"pjsip.conf: endpoint {endpoint!r} has {key} = {name}, "
                                    f"but there is no {kind} section named {name!r}")
    return problems
