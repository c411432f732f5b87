"""The sandbox Asterisk: up/down/restart are idempotent, the CLI answers, and `check_config`
accepts a good configuration and reports what Asterisk rejects in broken ones, without
disturbing the running sandbox.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from engine.pbx.sandbox import Sandbox
from engine.settings import load_settings
from tests.pbx_helpers import minimal_config, require_sandbox

pytestmark = pytest.mark.asterisk


@pytest.fixture(scope="module")
def settings():
    return load_settings()


@pytest.fixture(scope="module")
def good_config(settings, tmp_path_factory) -> Path:
    return minimal_config(settings, tmp_path_factory.mktemp("good") / "asterisk")


@pytest.fixture(scope="module")
def sandbox(settings, good_config) -> Sandbox:
    return require_sandbox(good_config, settings=settings)


def broken_copy(good: Path, dest: Path, name: str, edit) -> Path:
    shutil.copytree(good, dest)
    path = dest / name
    path.write_text(edit(path.read_text()))
    return dest


def test_up_is_idempotent_and_second_up_is_fast(sandbox, good_config):
    first = sandbox.status()
    assert first["running"] and first["pid"]

    started = time.monotonic()
    status = sandbox.up(good_config)
    took = time.monotonic() - started

    assert took < 10, f"second up took {took:.1f}s"
    assert status["action"] == "unchanged"
    assert status["pid"] == first["pid"], "an unchanged config must not restart Asterisk"
    print(f"second up: {took:.3f}s")


def test_status_reports_a_running_asterisk_22(sandbox):
    status = sandbox.status()
    assert status["built"] and status["running"]
    assert status["version"].startswith("Asterisk 22")
    assert status["uptime_seconds"] is not None and status["uptime_seconds"] >= 0
    assert status["ari"] == "HTTP 200"
    assert status["ami"].startswith("Asterisk Call Manager")


def test_cli_runs_asterisk_commands(sandbox):
    assert "Asterisk 22" in sandbox.cli("core show version")
    assert "1001" in sandbox.cli("pjsip show endpoints")
    assert "Running" in sandbox.cli("module show like res_ari.so")


def test_check_config_accepts_the_minimal_config(sandbox, good_config):
    report = sandbox.check_config(good_config)
    assert report.ok, report.format()
    assert report.errors == []
    assert report.details["endpoints"] == 1
    assert report.details["contexts"] >= 1


def test_check_config_does_not_disturb_the_running_sandbox(sandbox, good_config):
    pid = sandbox.status()["pid"]
    sandbox.check_config(good_config)
    after = sandbox.status()
    assert after["pid"] == pid
    assert after["ari"] == "HTTP 200"


def test_check_config_reports_an_unknown_pjsip_option(sandbox, good_config, tmp_path):
    config = broken_copy(good_config, tmp_path / "c", "pjsip.conf",
                         lambda t: t.replace("direct_media = no", "direct_media = no\nfoo = bar"))
    report = sandbox.check_config(config)
    assert not report.ok
    assert any("named 'foo'" in e for e in report.errors), report.format()
    assert any("Could not create an object of type 'endpoint' with id '1001'" in e for e in report.errors)
    assert report.details["endpoints"] == 0


def test_check_config_reports_an_endpoint_whose_auth_does_not_exist(sandbox, good_config, tmp_path):
    # Asterisk itself loads this silently and rejects the phone later; the check finds it.
    config = broken_copy(good_config, tmp_path / "c", "pjsip.conf",
                         lambda t: t.replace("auth = 1001-auth", "auth = nosuch-auth"))
    report = sandbox.check_config(config)
    assert not report.ok
    assert any("'1001'" in e and "nosuch-auth" in e for e in report.errors), report.format()


def test_check_config_reports_a_dialplan_syntax_error(sandbox, good_config, tmp_path):
    # Asterisk logs these as WARNINGs and drops the lines; the check counts them as errors.
    config = broken_copy(good_config, tmp_path / "c", "extensions.conf",
                         lambda t: t + "exten => 800,1,NoOp(\nthis is not a line\n")
    report = sandbox.check_config(config)
    assert not report.ok
    assert any("No '=' (equal sign) in line" in e and "extensions.conf" in e for e in report.errors), report.format()
    assert any("No closing parenthesis" in e for e in report.errors)


def test_check_config_reports_a_required_module_not_loaded(sandbox, good_config, tmp_path):
    config = broken_copy(good_config, tmp_path / "c", "modules.conf",
                         lambda t: t + "noload => res_ari.so\n")
    report = sandbox.check_config(config)
    assert not report.ok
    assert any("res_ari.so" in e for e in report.errors), report.format()


def test_restart_gives_a_new_asterisk_that_answers(sandbox):
    before = sandbox.status()["pid"]
    sandbox.restart()
    after = sandbox.status()
    assert after["running"] and after["pid"] != before
    assert after["ari"] == "HTTP 200"


def test_a_changed_config_restarts_asterisk_with_it(sandbox, good_config, tmp_path):
    changed = broken_copy(good_config, tmp_path / "c", "extensions.conf",
                          lambda t: t + "\n[probe-context]\nexten => 42,1,Hangup()\n")
    try:
        status = sandbox.up(changed)
        assert status["action"] == "restarted"
        assert "probe-context" in sandbox.cli("dialplan show probe-context")
    finally:
        sandbox.up(good_config)


def test_down_is_idempotent_and_up_comes_back(sandbox, good_config):
    sandbox.down()
    assert not sandbox.status()["running"]
    sandbox.down()
    assert not sandbox.status()["running"]
    root = sandbox.root.resolve()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert f" {root}/proc " not in mounts, "proc must be unmounted after down"

    status = sandbox.up(good_config)
    assert status["running"] and status["action"] == "started"
    assert status["seconds"] < 10
