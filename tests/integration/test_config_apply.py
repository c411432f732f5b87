"""The generated configuration on the real Asterisk 22: it boots, it checks, and apply reloads
only what changed.

Scenario: the demo data set is generated and the sandbox Asterisk started on it. An admin
adds an agent (Dave, intercom 1004); only pjsip.conf changes, so `apply` writes only that
file into the live config directory and runs only `module reload res_pjsip.so`, after which
Dave's endpoint is there. `check` passes the demo configuration and fails a broken one.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from engine.config import apply, check, generate, write
from engine.settings import load_settings
from engine.store import models as m
from engine.store.session import session_scope
from tests.pbx_helpers import require_sandbox

pytestmark = pytest.mark.asterisk


@pytest.fixture
def settings(demo_db):
    return dataclasses.replace(load_settings(), database_url=demo_db)


def _generate(settings) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        return generate(session, settings)


@pytest.fixture
def demo_config(settings, tmp_path) -> Path:
    return write(_generate(settings), tmp_path / "asterisk")


def test_apply_reloads_only_pjsip_when_an_agent_is_added(settings, demo_config):
    sandbox = require_sandbox(demo_config, settings)
    live = sandbox.root / "etc/asterisk"

    # The running configuration is the generated one: applying it again changes nothing.
    same = apply(settings, _generate(settings), live)
    assert same.changed == [] and same.reloads == [] and same.ok

    assert "agent1004" not in sandbox.cli("pjsip show endpoints")
    with session_scope(settings.database_url) as session:
        session.add(m.Agent(name="Dave Dawson", intercom="1004", username="dave", sip_username="agent1004",
                            sip_password="demo-secret-1004", region="GB"))

    result = apply(settings, _generate(settings), live)
    assert result.changed == ["pjsip.conf"]
    assert result.commands == ["module reload res_pjsip.so"]
    assert result.ok, result.reloads
    assert "reloaded successfully" in result.reloads[0].output
    endpoints = sandbox.cli("pjsip show endpoints")
    assert "agent1004" in endpoints
    assert "Dave Dawson" in sandbox.cli("pjsip show endpoint agent1004")


def test_check_passes_the_demo_config(settings, demo_config):
    report = check(settings, demo_config)
    assert report.ok, report.format()
    assert report.details["endpoints"] == 4  # three agents and the trunk


def test_check_passes_a_fresh_generation_from_the_database(settings):
    report = check(settings)
    assert report.ok, report.format()


def test_check_fails_a_broken_config(settings, demo_config, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(demo_config, broken)
    with open(broken / "pjsip.conf", "a") as fh:
        fh.write("\n[agent9999]\ntype = endpoint\naors = agent9999\nnot_an_option = yes\n")
    report = check(settings, broken)
    assert not report.ok
    assert any("not_an_option" in e or "agent9999" in e for e in report.errors), report.format()
