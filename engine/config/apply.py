"""Deploy generated files into a live Asterisk and reload only what changed.

`apply()` writes each changed file atomically (temp + rename; see files.py), then asks
Asterisk over AMI (`Action: Command`) to reload the modules that read those files, in the
order of `RELOADS`. Unchanged files are not touched and cause no reload, so applying the
same configuration twice does nothing the second time.

If AMI cannot be reached the files are still written (they are valid, and Asterisk reads
them at its next start or reload); the result says the reloads did not run and why, and the
files are remembered in `.switchboard-pending-reloads` in the live directory so the next
`apply` reloads them even though their content no longer differs.

Files whose changes Asterisk only takes at start (asterisk.conf, modules.conf) are listed
in `ApplyResult.restart_needed` instead of being reloaded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from panoramisk import Manager

from engine.settings import Settings

from .files import write_changed

# File -> the CLI command (run through AMI `Command`) that makes Asterisk re-read it, in the
# order they run. Each was run against Asterisk 22.10.1 and answered "reloaded successfully"
# (or, for logger/manager/moh/dialplan, its own success line).
RELOADS: dict[str, str] = {
    "logger.conf": "logger reload",
    "pjsip.conf": "module reload res_pjsip.so",
    "extensions.conf": "dialplan reload",
    "ari.conf": "module reload res_ari.so",
    "http.conf": "module reload http",
    "musiconhold.conf": "moh reload",
    "indications.conf": "module reload indications",
    "rtp.conf": "module reload res_rtp_asterisk.so",
    "acl.conf": "module reload acl",
    "cdr.conf": "module reload cdr",
    "cel.conf": "module reload cel",
    "features.conf": "module reload features",
    "pjproject.conf": "module reload res_pjproject.so",
    "udptl.conf": "module reload udptl",
    "websocket_client.conf": "module reload res_websocket_client.so",
    # Last: it may change the AMI port or credentials these commands are sent through.
    "manager.conf": "manager reload",
}
# Read only when Asterisk starts.
# ("module reload ccss" answers "The module 'ccss' does not support reloads".)
RESTART_ONLY = ("asterisk.conf", "modules.conf", "ccss.conf")


@dataclass
class ReloadOutcome:
    file: str
    command: str
    ok: bool
    output: str = ""


@dataclass
class ApplyResult:
    to_dir: Path
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reloads: list[ReloadOutcome] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)
    # Files written by an earlier apply whose reload did not run then; reloaded now.
    pending_before: list[str] = field(default_factory=list)
    reload_skipped: bool = False
    # Set when the reloads could not run at all (AMI unreachable, login refused).
    reload_error: str | None = None

    @property
    def commands(self) -> list[str]:
        """The reload commands that ran (successfully or not), in order."""
        return [r.command for r in self.reloads]

    @property
    def ok(self) -> bool:
        return self.reload_error is None and all(r.ok for r in self.reloads)


class AmiCommandError(RuntimeError):
    """AMI could not be reached, refused the login, or did not answer in time."""


def reload_commands(changed: list[str]) -> list[tuple[str, str]]:
    """(file, command) for the changed files that have a reload, in RELOADS order."""
    return [(name, cmd) for name, cmd in RELOADS.items() if name in changed]


def apply(settings: Settings, files: dict[str, str], to_dir: Path | str, reload: bool = True) -> ApplyResult:
    """Write `files` into `to_dir` (a live Asterisk's config dir) and reload what changed.

    Synchronous wrapper for the CLI; inside a running event loop use `apply_async`.
    """
    return asyncio.run(apply_async(settings, files, to_dir, reload=reload))


async def apply_async(settings: Settings, files: dict[str, str], to_dir: Path | str,
                      reload: bool = True) -> ApplyResult:
    to_dir = Path(to_dir)
    pending = _read_pending(to_dir)
    changed, unchanged = write_changed(files, to_dir)
    result = ApplyResult(to_dir=to_dir, changed=changed, unchanged=unchanged)
    result.pending_before = [name for name in pending if name not in changed]
    result.restart_needed = [name for name in RESTART_ONLY if name in changed]
    todo = reload_commands(changed + result.pending_before)
    if not reload:
        result.reload_skipped = True
        _write_pending(to_dir, [name for name, _ in todo])
        return result
    if not todo:
        _write_pending(to_dir, [])
        return result
    try:
        outputs = await run_ami_commands(settings, [cmd for _, cmd in todo])
    except AmiCommandError as exc:
        result.reload_error = str(exc)
        _write_pending(to_dir, [name for name, _ in todo])
        return result
    for (name, cmd), (ok, output) in zip(todo, outputs):
        result.reloads.append(ReloadOutcome(name, cmd, ok, output))
    _write_pending(to_dir, [r.file for r in result.reloads if not r.ok])
    return result


# Files written into a live directory whose reload has not run yet (AMI was down, or
# --no-reload). The next `apply` reloads them even though their content no longer differs.
PENDING_FILE = ".switchboard-pending-reloads"


def _read_pending(to_dir: Path) -> list[str]:
    try:
        lines = (to_dir / PENDING_FILE).read_text().split()
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [name for name in lines if name in RELOADS]


def _write_pending(to_dir: Path, names: list[str]) -> None:
    path = to_dir / PENDING_FILE
    if not names:
        path.unlink(missing_ok=True)
        return
    tmp = to_dir / f"{PENDING_FILE}.tmp"
    tmp.write_text("".join(f"{name}\n" for name in names))
    tmp.replace(path)


class _OneShotManager(Manager):
    """panoramisk's Manager without its endless reconnect: one connection, then done.

    panoramisk retries a failed connect forever (and reconnects after a drop), which is
    right for the engine's long-lived AMI client but would make `config apply` hang or leave
    retries scheduled. Here a failure is an error the caller reports.
    """

    def connection_made(self, f):
        if f.cancelled() or f.exception() is not None:
            return
        super().connection_made(f)

    def connection_lost(self, exc):
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None


async def run_ami_commands(settings: Settings, commands: list[str]) -> list[tuple[bool, str]]:
    """Log in to AMI and run each CLI command with `Action: Command`; (ok, output) per command.

    Every step is bounded by `settings.request_timeout`. Raises AmiCommandError when AMI
    cannot be reached or refuses the login; a command that Asterisk answers with an error is
    reported in its own (ok=False, output) entry.
    """
    timeout = settings.request_timeout
    where = f"AMI at {settings.pbx_host}:{settings.ami_port}"
    manager = _OneShotManager(
        loop=asyncio.get_running_loop(), host=settings.pbx_host, port=settings.ami_port,
        username=settings.ami_user, secret=settings.ami_password, events="off",
        ping_delay=3600, ping_interval=3600,
    )
    try:
        try:
            await asyncio.wait_for(manager.connect(), timeout)
        except (TimeoutError, OSError) as exc:
            raise AmiCommandError(f"{where} cannot be reached: {exc or 'timed out'}") from None
        login = manager.authenticated_future
        if login is None:
            raise AmiCommandError(f"{where}: connection failed before login")
        try:
            response = await asyncio.wait_for(asyncio.shield(login), timeout)
        except TimeoutError:
            raise AmiCommandError(f"{where} did not answer the login within {timeout}s") from None
        if not response.success:
            raise AmiCommandError(
                f"{where} refused the login of user {settings.ami_user!r}: {response.get('Message', '')} "
                "(manager.conf does not match the settings?)"
            )
        outputs = []
        for command in commands:
            try:
                reply = await asyncio.wait_for(manager.send_command(command), timeout)
            except TimeoutError:
                raise AmiCommandError(f"{where} did not answer {command!r} within {timeout}s") from None
            outputs.append(_command_outcome(reply))
        return outputs
    finally:
        manager.close()


def _command_outcome(reply) -> tuple[bool, str]:
    if isinstance(reply, list):  # a multi-message reply: take the response and its output
        reply = reply[0]
    output = reply.get("Output", "")
    if isinstance(output, list):
        output = "\n".join(output)
    # Asterisk answers `Response: Success` even when the CLI command failed ("No such
    # command", "No such module"): the output says whether it worked.
    text = (output or reply.content or "").strip()
    ok = bool(reply.success) and not _looks_failed(text)
    return ok, text


def _looks_failed(output: str) -> bool:
    """The CLI's own failure messages, as Asterisk 22 prints them."""
    lowered = output.lower()
    return any(marker in lowered for marker in (
        "no such command", "no such module", "does not support reload", "not found", "unable to",
        "failed", "is not loaded", "not running", "error",
    ))
