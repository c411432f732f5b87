"""CLI glue for `switchboard config generate | check | apply`: lines for people, exit codes.

Exit codes: 0 done; 1 the configuration was refused (a bad value, a failed check, a failed
reload); 2 something around it failed (no database, no Asterisk to check with, a directory
that cannot be written).
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.settings import Settings

from .values import ConfigValueError


def _err(message: str) -> None:
    print(f"switchboard config: {message}", file=sys.stderr)


def _load(settings: Settings) -> tuple[dict[str, str] | None, int]:
    """(files, 0), or (None, exit code) after printing why."""
    from sqlalchemy.exc import SQLAlchemyError

    from .check import generate_from_database

    try:
        return generate_from_database(settings), 0
    except ConfigValueError as exc:
        _err(f"refused: {exc}. Nothing was written; fix the record and run again.")
        return None, 1
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        _err(f"could not read the database {settings.database_url}: {first} "
             "(run `switchboard db upgrade` first?)")
        return None, 2


def cmd_generate(settings: Settings, out_dir: Path | str | None = None) -> int:
    from .files import write_all

    out = Path(out_dir) if out_dir else settings.generated_config_dir
    files, rc = _load(settings)
    if files is None:
        return rc
    try:
        write_all(files, out)
    except OSError as exc:
        _err(f"could not write {out}: {exc}")
        return 2
    print(f"generated {len(files)} files in {out}: {', '.join(files)}")
    return 0


def cmd_check(settings: Settings, out_dir: Path | str | None = None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from engine.pbx.sandbox import SandboxError

    from .check import check

    try:
        report = check(settings, out_dir)
    except ConfigValueError as exc:
        _err(f"refused: {exc}")
        return 1
    except SQLAlchemyError as exc:
        _err(f"could not read the database {settings.database_url}: {str(exc).splitlines()[0]}")
        return 2
    except SandboxError as exc:
        _err(f"could not run the check: {exc}")
        return 2
    print(report.format())
    return 0 if report.ok else 1


def cmd_apply(settings: Settings, to_dir: Path | str, reload: bool = True) -> int:
    from .apply import apply

    files, rc = _load(settings)
    if files is None:
        return rc
    try:
        result = apply(settings, files, to_dir, reload=reload)
    except OSError as exc:
        _err(f"could not write into {to_dir}: {exc}. Files written before the error are complete "
             "(each is replaced atomically); run apply again once it is fixed.")
        return 2
    print(f"applied to {result.to_dir}: {len(result.changed)} changed, {len(result.unchanged)} unchanged")
    for name in result.changed:
        print(f"  changed: {name}")
    for name in result.pending_before:
        print(f"  {name}: written by an earlier apply that could not reload it; reloading now")
    for name in result.restart_needed:
        print(f"  {name} changed: Asterisk reads it only at start; restart Asterisk to use it")
    if result.reload_skipped:
        print("  reload skipped (--no-reload): Asterisk uses the new files after its next reload or start")
        return 0
    if result.reload_error:
        _err(f"the files were written, but nothing was reloaded: {result.reload_error}. "
             "Run apply again once AMI answers (it remembers what still needs a reload), "
             "or restart Asterisk.")
        return 1
    for outcome in result.reloads:
        status = "ok" if outcome.ok else "FAILED"
        print(f"  reload {status}: {outcome.command}" + ("" if outcome.ok else f" -> {outcome.output}"))
    if not result.changed and not result.reloads:
        print("  nothing changed; nothing reloaded")
    return 0 if result.ok else 1
