"""The local Asterisk 22: a Debian sid chroot built once per machine, run as a sandbox.

Why a chroot and not a container or the host's packages: the development and CI machines
run Debian 12, which has no `asterisk` package, and have no container runtime. Debian
unstable (sid) ships Asterisk 22; `debootstrap` puts it in a directory without touching the
host, and `chroot` runs it there sharing the host's loopback network, so SIPp, the engine and
the tests reach it on 127.0.0.1 as they would a real PBX.

What was learnt the hard way (see DESIGN.md, "Asterisk sandbox"):
- Asterisk runs as the chroot's `asterisk` user (as root it failed to open its astdb), with
  its /var dirs chowned to it and an open-file limit of 20000 (at 1024 it ran out of
  descriptors at 100 calls/s).
- The host's /etc/hosts must be copied in: it names the machine and the Debian mirror.
  Without it Asterisk resolves names through a DNS that does not answer here, and every call
  took tens of seconds.
- The sid mirror's Release file can be past its Valid-Until date, so apt inside the chroot
  runs with `Acquire::Check-Valid-Until=false`.

`check_config` starts a second, throw-away Asterisk in the same chroot but in its own network
namespace and its own directories, so it can bind the same ports as the running sandbox and
never touches its astdb or control socket.

Every long step has a timeout and every failure raises `SandboxError` with a message that
says what failed and what to do next.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from engine.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from .sandbox_check import CheckReport

# Packages installed in the chroot. asterisk-moh-opsound-wav gives the `default` music on
# hold class files (without them res_musiconhold disables music on hold with an ERROR).
PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en", "asterisk-moh-opsound-wav")
SUITE = "sid"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
MARKER = ".switchboard-built"
OPEN_FILES = 20000
ASTERISK = "/usr/sbin/asterisk"
# Directories Asterisk writes to; owned by the chroot's asterisk user.
ASTERISK_DIRS = (
    "var/lib/asterisk",
    "var/log/asterisk",
    "var/spool/asterisk",
    "run/asterisk",
    "var/cache/asterisk",
)
EXTRA_DIRS = ("var/spool/asterisk/recording", "var/lib/asterisk/keys")
# Where the sandbox keeps its own bookkeeping inside the chroot.
STATE_DIR = "var/lib/switchboard"

class SandboxError(RuntimeError):
    """A sandbox step failed; the message says what failed and what to do."""


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def _host_mirror() -> str:
    """The Debian mirror: $SWITCHBOARD_DEBIAN_MIRROR, else the host's apt source, else deb.debian.org."""
    env = os.environ.get("SWITCHBOARD_DEBIAN_MIRROR")
    if env:
        return env
    candidates: list[str] = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("URIs:"):
                candidates += line.split()[1:]
    listfile = Path("/etc/apt/sources.list")
    if listfile.is_file():
        for line in listfile.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "deb":
                candidates.append(parts[2] if parts[1].startswith("[") else parts[1])
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian") and uri.startswith("http"):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _mountpoints_under(path: Path) -> list[Path]:
    """Mount points at or below `path`, deepest first (so they can be unmounted in order)."""
    prefix = str(path.resolve())
    found = []
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                mnt = line.split()[4].replace("\\040", " ")
                if mnt == prefix or mnt.startswith(prefix + "/"):
                    found.append(Path(mnt))
    except OSError:
        pass
    return sorted(set(found), key=lambda p: len(str(p)), reverse=True)


def _unmount_all_under(path: Path) -> None:
    for mnt in _mountpoints_under(path):
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    left = _mountpoints_under(path)
    if left:
        raise SandboxError(f"could not unmount {', '.join(map(str, left))}; unmount them by hand and retry")


def _remove_tree(path: Path) -> None:
    """rm -rf a chroot, never following a mount into the host (proc)."""
    if not path.exists():
        return
    _unmount_all_under(path)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)
    if path.exists():
        raise SandboxError(f"could not remove {path}; remove it by hand and retry")


def _raise_nofile() -> None:
    """preexec_fn: the open-file limit Asterisk needs under load (DESIGN.md)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))


def _dir_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Sandbox:
    """The sandbox Asterisk in `settings.pbx_root`. Every public method is idempotent."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = Path(settings.pbx_root)
        self.build_log = self.root.parent / f"{self.root.name}.build.log"
        self._lock_depth = 0

    # ----------------------------------------------------------------- preconditions
    def _require_root(self) -> None:
        if os.geteuid() != 0:
            raise SandboxError(
                "switchboard pbx needs root to build and enter the chroot: run it as root "
                f"(sudo), or point the engine at an Asterisk you run yourself (chroot: {self.root})"
            )

    def _require_tool(self, name: str, package: str) -> str:
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
        if not path:
            raise SandboxError(f"`{name}` was not found: install it with `apt-get install {package}`")
        return path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One process at a time builds, starts or stops the sandbox (tests run in parallel)."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.root.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.root.parent / f"{self.root.name}.lock", "w")
        fcntl.flock(fh, fcntl.LOCK_EX)
        self._lock_depth = 1
        try:
            yield
        finally:
            self._lock_depth = 0
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()

    # ----------------------------------------------------------------- build
    @property
    def built(self) -> bool:
        return (self.root / MARKER).is_file() and (self.root / ASTERISK.lstrip("/")).is_file()

    def ensure_built(self) -> bool:
        """Build the chroot unless a complete one is there. Returns True if it built one.

        The build goes into `<root>.building` and is renamed into place only after the
        marker file is written, so an interrupted build is never taken for a finished one.
        """
        if self.built:
            return False
        self._require_root()
        with self._locked():
            if self.built:
                return False
            debootstrap = self._require_tool("debootstrap", "debootstrap")
            try:
                self._build(debootstrap)
            except BaseException:
                # The log stays (the error names it); the half-built tree goes.
                with contextlib.suppress(SandboxError):
                    _remove_tree(self.root.parent / f"{self.root.name}.building")
                raise
            return True

    def _build(self, debootstrap: str) -> None:
        work = self.root.parent / f"{self.root.name}.building"
        _remove_tree(work)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        mirror = _host_mirror()
        started = time.monotonic()
        with open(self.build_log, "w") as log:
            log.write(f"# switchboard sandbox build {time.ctime()} mirror={mirror}\n")
            log.flush()
            self._run_logged(
                [debootstrap, "--variant=minbase", SUITE, str(work), mirror],
                log, timeout=900, what=f"debootstrap of Debian {SUITE} from {mirror}",
            )
            self._copy_host_files(work)
            try:
                self._mount_proc(work)
                apt = ["chroot", str(work), "apt-get", "-o", "Acquire::Check-Valid-Until=false",
                       "-o", "Acquire::Retries=3"]
                env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
                self._run_logged(apt + ["update", "-qq"], log, timeout=600,
                                 what="apt-get update in the chroot", env=env)
                self._run_logged(apt + ["install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
                                 log, timeout=1200, what="apt-get install of Asterisk in the chroot", env=env)
                subprocess.run(["chroot", str(work), "apt-get", "clean"], capture_output=True)
            finally:
                _unmount_all_under(work)
            if not (work / ASTERISK.lstrip("/")).is_file():
                raise SandboxError(f"the build finished but {ASTERISK} is missing; see {self.build_log}")
            # Keep the package's own configuration once, so nothing is lost when ours replaces it.
            dist = work / "etc/asterisk.dist"
            if not dist.exists():
                shutil.copytree(work / "etc/asterisk", dist, symlinks=True)
            self._fix_ownership(work)
            version = subprocess.run(["chroot", str(work), ASTERISK, "-V"], capture_output=True,
                                     text=True).stdout.strip()
            (work / MARKER).write_text(json.dumps({
                "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "seconds": round(time.monotonic() - started, 1),
                "mirror": mirror, "suite": SUITE, "packages": list(PACKAGES), "version": version,
            }, indent=2) + "\n")
            log.write(f"# built in {time.monotonic() - started:.1f}s: {version}\n")
        # A half-built or stale root is moved aside first; never delete a running one.
        if self.root.exists():
            with contextlib.suppress(SandboxError, OSError):
                self._stop_instance()
            _remove_tree(self.root)
        work.rename(self.root)

    def _run_logged(self, cmd: list[str], log, *, timeout: float, what: str, env=None) -> None:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        try:
            result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            log.flush()
            raise SandboxError(
                f"{what} did not finish in {timeout:.0f}s: the Debian mirror could not be reached or is "
                f"very slow (set SWITCHBOARD_DEBIAN_MIRROR to another mirror). Last lines of "
                f"{self.build_log}:\n{_tail(self.build_log)}"
            ) from None
        log.flush()
        if result.returncode != 0:
            raise SandboxError(
                f"{what} failed (exit {result.returncode}): most often the Debian mirror could not be "
                f"reached (check the network, or set SWITCHBOARD_DEBIAN_MIRROR). Last lines of "
                f"{self.build_log}:\n{_tail(self.build_log)}"
            )

    def _copy_host_files(self, root: Path) -> None:
        """/etc/hosts names this machine and, here, the mirror; see the module docstring."""
        for name in ("/etc/hosts", "/etc/resolv.conf"):
            src, dst = Path(name), root / name.lstrip("/")
            if src.is_file():
                if dst.is_symlink():
                    dst.unlink()
                shutil.copyfile(src, dst)

    def _mount_proc(self, root: Path) -> None:
        proc = root / "proc"
        if proc.resolve() in _mountpoints_under(proc):
            return
        proc.mkdir(exist_ok=True)
        result = subprocess.run(["mount", "-t", "proc", "proc", str(proc)], capture_output=True, text=True)
        if result.returncode != 0:
            raise SandboxError(f"could not mount proc in {root}: {result.stderr.strip()}")

    def _ids(self, root: Path | None = None) -> tuple[int, int]:
        """uid and gid of the chroot's asterisk user (read from its own /etc/passwd)."""
        passwd = (root or self.root) / "etc/passwd"
        for line in passwd.read_text().splitlines():
            parts = line.split(":")
            if parts[0] == "asterisk":
                return int(parts[2]), int(parts[3])
        raise SandboxError(f"no asterisk user in {passwd}: the chroot is broken; delete {self.root} and rebuild")

    def _fix_ownership(self, root: Path) -> None:
        uid, gid = self._ids(root)
        for rel in ASTERISK_DIRS + EXTRA_DIRS:
            (root / rel).mkdir(parents=True, exist_ok=True)
        for rel in ASTERISK_DIRS:
            for dirpath, dirnames, filenames in os.walk(root / rel):
                os.chown(dirpath, uid, gid)
                for name in filenames:
                    os.lchown(os.path.join(dirpath, name), uid, gid)
        (root / STATE_DIR).mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------- config
    @property
    def etc(self) -> Path:
        return self.root / "etc/asterisk"

    def install_config(self, config_dir: Path) -> None:
        """Make the chroot's /etc/asterisk hold exactly the files of `config_dir`."""
        config_dir = Path(config_dir)
        self._check_config_dir(config_dir)
        self._require_root()
        if not self.built:
            raise SandboxError(f"the sandbox is not built yet ({self.root}): run `switchboard pbx up` first")
        dist = self.root / "etc/asterisk.dist"
        if not dist.exists():
            shutil.copytree(self.etc, dist, symlinks=True)
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.copytree(config_dir, self.etc)
        for dirpath, dirnames, filenames in os.walk(self.etc):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)

    @staticmethod
    def _check_config_dir(config_dir: Path) -> None:
        if not config_dir.is_dir():
            raise SandboxError(f"config directory {config_dir} does not exist: run `switchboard config generate` first")
        if not any(config_dir.glob("*.conf")):
            raise SandboxError(f"config directory {config_dir} holds no .conf files")

    # ----------------------------------------------------------------- process
    def _asterisk(self, *args: str, conf: str | None = None) -> list[str]:
        uid, gid = self._ids()
        cmd = ["chroot", f"--userspec={uid}:{gid}", str(self.root), ASTERISK]
        if conf:
            cmd += ["-C", conf]
        return cmd + list(args)

    def _pid(self, run_dir: Path | None = None) -> int | None:
        """The pid of the sandbox Asterisk if it is alive (stale pid files are ignored)."""
        pidfile = (run_dir or self.root / "run/asterisk") / "asterisk.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _pid_alive(pid):
            return None
        try:  # the pid must be an asterisk whose root is our chroot, not a recycled pid
            if Path(f"/proc/{pid}/comm").read_text().strip() != "asterisk":
                return None
            if os.readlink(f"/proc/{pid}/root") != str(self.root.resolve()):
                return None
        except OSError:
            return None
        return pid

    @property
    def running(self) -> bool:
        return self._pid() is not None

    def _state_file(self, name: str) -> Path:
        return self.root / STATE_DIR / name

    def _prepare_runtime(self) -> None:
        self._copy_host_files(self.root)
        self._mount_proc(self.root)
        self._fix_ownership(self.root)
        (self.root / STATE_DIR).mkdir(parents=True, exist_ok=True)

    def _start(self, timeout: float) -> None:
        """Start Asterisk with the installed config and wait until it is fully booted."""
        self._prepare_runtime()
        run_dir = self.root / "run/asterisk"
        for stale in ("asterisk.ctl", "asterisk.pid"):
            with contextlib.suppress(FileNotFoundError):
                (run_dir / stale).unlink()
        start_log = self.root / "var/log/asterisk/switchboard-start.log"
        with open(start_log, "w") as out:
            # `asterisk` without -f forks into the background; the parent returns at once.
            proc = subprocess.run(self._asterisk(), stdout=out, stderr=subprocess.STDOUT,
                                  preexec_fn=_raise_nofile, timeout=30)
        if proc.returncode != 0:
            raise SandboxError(self._start_failure(f"asterisk exited with {proc.returncode} at start"))
        self._wait_booted(run_dir, None, timeout)
        self._state_file("running-config.sha256").write_text(_dir_hash(self.etc))

    def _wait_booted(self, run_dir: Path, conf: str | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ctl = run_dir / "asterisk.ctl"
        dead = 0  # consecutive looks at a pid file whose process is not (yet) there
        while not ctl.exists():
            if time.monotonic() > deadline:
                raise SandboxError(self._start_failure("no control socket", run_dir, conf))
            pidfile_pid = self._pid(run_dir)
            # A pid file caught half-written, or written a moment before the daemonised
            # child shows in /proc, looks like a dead process once: only a pid file that
            # stays dead for 0.2 s means Asterisk really exited.
            dead = dead + 1 if (run_dir / "asterisk.pid").exists() and pidfile_pid is None else 0
            if dead >= 10:
                raise SandboxError(self._start_failure("Asterisk exited during start", run_dir, conf))
            time.sleep(0.02)
        remaining = max(1.0, deadline - time.monotonic())
        try:
            result = subprocess.run(self._asterisk("-rx", "core waitfullybooted", conf=conf),
                                    capture_output=True, text=True, timeout=remaining)
        except subprocess.TimeoutExpired:
            raise SandboxError(self._start_failure(f"not fully booted after {timeout:.0f}s", run_dir, conf)) from None
        if "fully booted" not in result.stdout:
            why = (result.stdout + result.stderr).strip() or "Asterisk exited during boot"
            raise SandboxError(self._start_failure(why, run_dir, conf))

    def _start_failure(self, what: str, run_dir: Path | None = None, conf: str | None = None) -> str:
        logs = [self.root / "var/log/asterisk/switchboard-start.log", self.root / "var/log/asterisk/messages.log"]
        if conf:
            logs = [Path(str(self.root) + conf).parent.parent / "log/check.log"]
        text = "\n".join(f"--- {p}:\n{_tail(p)}" for p in logs if p.exists())
        return (f"Asterisk failed to start in the sandbox ({what}). Check the configuration with "
                f"`switchboard config check`. Last log lines:\n{text}")

    def _stop_instance(self, run_dir: Path | None = None, conf: str | None = None, timeout: float = 10) -> None:
        pid = self._pid(run_dir)
        if pid is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(self._asterisk("-rx", "core stop now", conf=conf), capture_output=True, timeout=timeout)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    # ----------------------------------------------------------------- readiness
    def _ari_ready(self) -> tuple[bool, str]:
        s = self.settings
        url = f"http://{s.pbx_host}:{s.http_port}/ari/asterisk/info"
        token = base64.b64encode(f"{s.ari_user}:{s.ari_password}".encode()).decode()
        req = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                return resp.status == 200, f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            return False, f"HTTP {exc.code}"
        except OSError as exc:
            return False, str(exc)

    def _ami_ready(self) -> tuple[bool, str]:
        s = self.settings
        try:
            with socket.create_connection((s.pbx_host, s.ami_port), timeout=2) as sock:
                sock.settimeout(2)
                banner = sock.recv(100).decode(errors="replace").strip()
                return banner.startswith("Asterisk Call Manager"), banner
        except OSError as exc:
            return False, str(exc)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            ari_ok, ari_why = self._ari_ready()
            ami_ok, ami_why = self._ami_ready()
            if ari_ok and ami_ok:
                return
            if ari_why == "HTTP 401":
                raise SandboxError(
                    f"ARI refused the credentials of settings.ari_user ({self.settings.ari_user!r}): "
                    "ari.conf does not match the settings; regenerate the configuration"
                )
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"Asterisk booted but is not reachable: ARI on {self.settings.pbx_host}:{self.settings.http_port}"
                    f" -> {ari_why}; AMI on {self.settings.pbx_host}:{self.settings.ami_port} -> {ami_why}. "
                    "Check http.conf/ari.conf/manager.conf (enabled, bindaddr, port) or whether another "
                    "process holds those ports."
                )
            time.sleep(0.1)

    # ----------------------------------------------------------------- public API
    def up(self, config_dir: Path, timeout: float = 60) -> dict:
        """Build if needed, install `config_dir`, (re)start Asterisk, wait until ARI and AMI answer.

        A changed configuration restarts Asterisk rather than reloading it: several settings
        (modules, http/AMI binds, PJSIP `endpoint_identifier_order`) only apply on restart,
        and a restart of the sandbox takes about a second.
        """
        config_dir = Path(config_dir)
        self._check_config_dir(config_dir)
        self._require_root()
        started = time.monotonic()
        with self._locked():
            built = self.ensure_built()
            wanted = _dir_hash(config_dir)
            running_file = self._state_file("running-config.sha256")
            running_hash = running_file.read_text().strip() if running_file.exists() else ""
            action = "unchanged"
            if not (self.running and running_hash == wanted and _dir_hash(self.etc) == wanted):
                self.install_config(config_dir)
                if self.running:
                    self._stop_instance()
                    action = "restarted"
                else:
                    action = "started"
                self._start(timeout)
            # Once fully booted, ARI and AMI listen at once: a short wait is plenty.
            self._wait_ready(min(10.0, max(5.0, timeout - (time.monotonic() - started))))
        result = self.status()
        result.update(built_now=built, action=action, seconds=round(time.monotonic() - started, 2))
        return result

    def down(self) -> None:
        """Stop Asterisk (core stop now; kill after 10 s) and unmount proc. Idempotent."""
        if not self.root.exists():
            return
        self._require_root()
        with self._locked():
            self._stop_instance()
            _unmount_all_under(self.root)

    def restart(self, timeout: float = 60) -> None:
        """Stop and start Asterisk with the configuration already installed."""
        self._require_root()
        if not self.built:
            raise SandboxError(f"the sandbox is not built yet ({self.root}): run `switchboard pbx up` first")
        with self._locked():
            self._stop_instance()
            self._start(timeout)
            self._wait_ready(10.0)

    def status(self) -> dict:
        info: dict = {"root": str(self.root), "built": self.built, "running": False, "pid": None,
                      "version": None, "uptime_seconds": None}
        if info["built"]:
            with contextlib.suppress(OSError, ValueError):
                info["version"] = json.loads((self.root / MARKER).read_text()).get("version")
        pid = self._pid() if info["built"] else None
        if pid is None:
            return info
        info.update(running=True, pid=pid)
        with contextlib.suppress(SandboxError):
            match = re.search(r"System uptime:\s*(\d+)", self.cli("core show uptime seconds", timeout=5))
            if match:
                info["uptime_seconds"] = int(match.group(1))
        info["ari"] = self._ari_ready()[1]
        info["ami"] = self._ami_ready()[1]
        return info

    def cli(self, command: str, timeout: float = 10) -> str:
        """Run one Asterisk CLI command (`asterisk -rx`) in the sandbox and return its output."""
        return self._cli(command, timeout)

    def _cli(self, command: str, timeout: float, conf: str | None = None) -> str:
        self._require_root()
        try:
            result = subprocess.run(self._asterisk("-rx", command, conf=conf), capture_output=True,
                                    text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SandboxError(f"Asterisk CLI command {command!r} did not answer in {timeout}s") from None
        if result.returncode != 0 or "Unable to connect to remote asterisk" in result.stdout + result.stderr:
            raise SandboxError(
                f"Asterisk CLI command {command!r} failed: {(result.stdout + result.stderr).strip()} "
                "(is the sandbox running? `switchboard pbx up`)"
            )
        return result.stdout

    # ----------------------------------------------------------------- config check
    def check_config(self, config_dir: Path, timeout: float = 60) -> "CheckReport":
        """Boot a throw-away Asterisk on `config_dir` and report what it rejected
        (see `sandbox_check.py`)."""
        from .sandbox_check import check_config

        return check_config(self, Path(config_dir), timeout)
