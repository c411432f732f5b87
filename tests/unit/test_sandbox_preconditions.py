"""Sandbox preconditions fail with a message that says what to do, and the config check's
log classification (pure functions, no Asterisk needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.pbx import sandbox as sandbox_mod
from engine.pbx.sandbox import Sandbox, SandboxError
from engine.pbx.sandbox_check import CheckReport
from engine.pbx.sandbox_check import _classify_log as classify_log
from engine.settings import Settings


def make(tmp_path: Path) -> Sandbox:
    return Sandbox(Settings(pbx_root=tmp_path / "asterisk-sid"))


def test_not_root_says_it_needs_root(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match="switchboard pbx needs root to build and enter the chroot"):
        make(tmp_path).ensure_built()


def test_missing_debootstrap_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(sandbox_mod.shutil, "which", lambda *a, **k: None)
    with pytest.raises(SandboxError, match=r"apt-get install debootstrap"):
        make(tmp_path).ensure_built()


def test_up_with_a_missing_config_dir_says_generate_first(tmp_path):
    with pytest.raises(SandboxError, match="switchboard config generate"):
        make(tmp_path).up(tmp_path / "nowhere")


def test_status_of_an_unbuilt_sandbox(tmp_path):
    status = make(tmp_path).status()
    assert status["built"] is False and status["running"] is False


def test_down_of_an_unbuilt_sandbox_is_a_no_op(tmp_path):
    make(tmp_path).down()


@pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI") != "true", reason="debootstrap needs root")
def test_unreachable_mirror_is_reported_with_the_log_tail(tmp_path, monkeypatch):
    if not sandbox_mod.shutil.which("debootstrap"):
        pytest.fail("debootstrap is not installed (.ci/run installs it)")
    monkeypatch.setenv("SWITCHBOARD_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")
    sandbox = make(tmp_path)
    with pytest.raises(SandboxError, match="mirror could not be reached") as info:
        sandbox.ensure_built()
    assert "127.0.0.1:9" in str(info.value)  # the tail of the build log is in the message
    assert not sandbox.built
    assert not (tmp_path / "asterisk-sid").exists(), "a failed build must not leave a root behind"
    assert not (tmp_path / "asterisk-sid.building").exists()


LOG = """\
[2026-11-22 03:05:11] ERROR[9691] config_options.c: Could not find option suitable for category '1001' named 'foo' at line 21 of
[2026-11-22 03:05:11] WARNING[9691] config.c: No '=' (equal sign) in line 15 of /tmp/switchboard-check-x/etc/extensions.conf
[2026-11-22 03:05:11] WARNING[9691][C-00000001] res_rtp_asterisk.c: something about media
[2026-11-22 03:05:11] NOTICE[9691] loader.c: 279 modules will be loaded.
[2026-11-22 03:05:11] ERROR[9691] loader.c: res_ari declined to load.
"""


def test_log_classification(tmp_path):
    log = tmp_path / "check.log"
    log.write_text(LOG)
    errors, warnings = classify_log(log, "/tmp/switchboard-check-x")
    assert errors == [
        "config_options.c: Could not find option suitable for category '1001' named 'foo' at line 21 of",
        "config.c: No '=' (equal sign) in line 15 of extensions.conf",
        "loader.c: res_ari declined to load.",
    ]
    assert warnings == ["res_rtp_asterisk.c: something about media"]


def test_check_report_format():
    text = CheckReport(False, ["pjsip.conf: bad"], ["w"], {"endpoints": 0}).format()
    assert text.splitlines() == ["config check: FAILED", "  error: pjsip.conf: bad", "  warning: w",
                                 "  endpoints: 0"]
