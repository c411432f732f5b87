"""Writing generated files: all-or-nothing into an output dir, atomic per file into a live one.

`write_all` (for `config generate`) writes every file into a temporary directory beside
`out_dir` first, and only when all are written moves them into place, so an error (a full
disk, a permission) leaves `out_dir` as it was. Files in `out_dir` that the generator does
not produce are left alone.

`write_changed` (for `config apply`) replaces each changed file with temp + rename, keeping
the owner and mode of the file it replaces (Asterisk's files in a live /etc/asterisk are
usually `asterisk:asterisk 0640`), and does not touch files whose content is unchanged, so
their modification times still say when they last really changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def _check_names(files: dict[str, str]) -> None:
    for name in files:
        if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
            raise ValueError(f"refusing to write a file named {name!r}: generated files are plain names")


def write_all(files: dict[str, str], out_dir: Path) -> Path:
    """Write `files` (name -> content) into `out_dir`, all of them or none."""
    _check_names(files)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        for name, content in files.items():
            path = staging / name
            path.write_text(content, encoding="utf-8")
            os.chmod(path, 0o640)
        if not out_dir.exists():
            staging.rename(out_dir)
            os.chmod(out_dir, 0o755)
            return out_dir
        for name in files:
            os.replace(staging / name, out_dir / name)
        return out_dir
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_changed(files: dict[str, str], to_dir: Path) -> tuple[list[str], list[str]]:
    """Write the files of `files` whose content differs from `to_dir`'s. Returns (changed, unchanged)."""
    _check_names(files)
    to_dir = Path(to_dir)
    if not to_dir.is_dir():
        raise FileNotFoundError(f"{to_dir} is not a directory: give the live Asterisk config directory")
    changed, unchanged = [], []
    dir_stat = to_dir.stat()
    for name, content in files.items():
        target = to_dir / name
        data = content.encode("utf-8")
        try:
            if target.read_bytes() == data:
                unchanged.append(name)
                continue
            old = target.stat()
            uid, gid, mode = old.st_uid, old.st_gid, old.st_mode & 0o7777
        except FileNotFoundError:
            uid, gid, mode = dir_stat.st_uid, dir_stat.st_gid, 0o640
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=to_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            if os.geteuid() == 0:
                os.chown(tmp, uid, gid)
            os.replace(tmp, target)
        except BaseException:
            with_suppress_unlink(tmp)
            raise
        changed.append(name)
    return changed, unchanged


def with_suppress_unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
