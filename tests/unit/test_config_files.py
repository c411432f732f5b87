"""Writing generated files: all-or-nothing for `generate`, atomic and minimal for `apply`."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest

from engine.config import apply, write
from engine.config.apply import RELOADS, RESTART_ONLY, reload_commands
from engine.config.generator import TEMPLATES
from engine.settings import Settings


def test_write_creates_the_directory_and_every_file(tmp_path):
    out = write({"a.conf": "one\n", "b.conf": "two\n"}, tmp_path / "new" / "asterisk")
    assert sorted(p.name for p in out.iterdir()) == ["a.conf", "b.conf"]
    assert (out / "a.conf").read_text() == "one\n"
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["asterisk"]  # no temp dir left


def test_write_replaces_generated_files_and_keeps_others(tmp_path):
    out = tmp_path / "asterisk"
    out.mkdir()
    (out / "a.conf").write_text("old\n")
    (out / "keep.txt").write_text("mine\n")
    write({"a.conf": "new\n"}, out)
    assert (out / "a.conf").read_text() == "new\n"
    assert (out / "keep.txt").read_text() == "mine\n"


@pytest.mark.parametrize("name", ["../x.conf", "sub/x.conf", ".hidden", ""])
def test_write_refuses_path_names(tmp_path, name):
    with pytest.raises(ValueError):
        write({name: "x"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_every_generated_file_has_a_reload_or_needs_a_restart():
    for name in TEMPLATES:
        assert (name in RELOADS) != (name in RESTART_ONLY), name


def test_reload_commands_follow_the_changed_files():
    assert reload_commands(["pjsip.conf"]) == [("pjsip.conf", "module reload res_pjsip.so")]
    assert [c for _, c in reload_commands(["indications.conf", "extensions.conf", "modules.conf"])] == [
        "dialplan reload", "module reload indications",
    ]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(tmp_path: Path, **kw) -> Settings:
    return dataclasses.replace(Settings(home=tmp_path, database_url="sqlite://"), request_timeout=2, **kw)


def test_apply_writes_only_changed_files_and_skips_reload(tmp_path):
    live = tmp_path / "etc"
    live.mkdir()
    (live / "pjsip.conf").write_text("same\n")
    os.chmod(live / "pjsip.conf", 0o600)
    (live / "extensions.conf").write_text("old\n")
    os.chmod(live / "extensions.conf", 0o604)
    before = (live / "pjsip.conf").stat().st_mtime_ns
    files = {"pjsip.conf": "same\n", "extensions.conf": "new\n", "http.conf": "fresh\n"}
    result = apply(_settings(tmp_path), files, live, reload=False)
    assert result.changed == ["extensions.conf", "http.conf"]
    assert result.unchanged == ["pjsip.conf"]
    assert result.reload_skipped and result.reloads == []
    assert (live / "pjsip.conf").stat().st_mtime_ns == before
    assert (live / "extensions.conf").read_text() == "new\n"
    assert (live / "extensions.conf").stat().st_mode & 0o777 == 0o604  # mode of the file it replaced
    assert sorted(p.name for p in live.iterdir()) == [
        ".switchboard-pending-reloads", "extensions.conf", "http.conf", "pjsip.conf",
    ]
    # Skipped reloads are remembered for the next apply.
    assert (live / ".switchboard-pending-reloads").read_text() == "extensions.conf\nhttp.conf\n"


def test_apply_with_ami_unreachable_still_writes_and_says_so(tmp_path):
    live = tmp_path / "etc"
    live.mkdir()
    result = apply(_settings(tmp_path, ami_port=_closed_port()), {"pjsip.conf": "x\n"}, live)
    assert (live / "pjsip.conf").read_text() == "x\n"
    assert result.changed == ["pjsip.conf"]
    assert not result.ok and result.reloads == []
    assert "cannot be reached" in result.reload_error


def test_apply_with_nothing_changed_needs_no_ami(tmp_path):
    live = tmp_path / "etc"
    live.mkdir()
    (live / "pjsip.conf").write_text("x\n")
    result = apply(_settings(tmp_path, ami_port=_closed_port()), {"pjsip.conf": "x\n"}, live)
    assert result.ok and result.changed == [] and result.reloads == []


def test_apply_into_a_missing_directory_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="live Asterisk config directory"):
        apply(_settings(tmp_path), {"pjsip.conf": "x\n"}, tmp_path / "nope", reload=False)


def test_apply_with_a_silent_ami_times_out(tmp_path):
    """Something accepts the connection but never answers: apply must not hang."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        live = tmp_path / "etc"
        live.mkdir()
        settings = dataclasses.replace(_settings(tmp_path, ami_port=port), request_timeout=0.5)
        result = apply(settings, {"pjsip.conf": "x\n"}, live)
    assert (live / "pjsip.conf").read_text() == "x\n"
    assert result.reload_error and "did not answer" in result.reload_error


def test_a_reload_that_could_not_run_is_remembered(tmp_path):
    """AMI down: the file is written; the next apply (content now unchanged) still owes its reload."""
    live = tmp_path / "etc"
    live.mkdir()
    down = _settings(tmp_path, ami_port=_closed_port())
    first = apply(down, {"pjsip.conf": "x\n", "modules.conf": "m\n"}, live)
    assert first.reload_error and first.restart_needed == ["modules.conf"]
    second = apply(down, {"pjsip.conf": "x\n", "modules.conf": "m\n"}, live)
    assert second.changed == [] and second.pending_before == ["pjsip.conf"]
    assert second.reload_error  # still down, still owed
    skipped = apply(down, {"pjsip.conf": "x\n"}, live, reload=False)
    assert skipped.pending_before == ["pjsip.conf"] and skipped.reload_skipped
    assert (live / ".switchboard-pending-reloads").read_text() == "pjsip.conf\n"
