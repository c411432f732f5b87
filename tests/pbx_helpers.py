"""Helpers for tests that need the real sandbox Asterisk.

`require_sandbox()` brings the sandbox up (building the chroot on first use) and returns it.
When Asterisk cannot start it fails the test under CI=true (DESIGN.md principle 5: a test that
needs Asterisk fails, never skips, in CI) and skips it elsewhere, with the reason.

Usage in a test module:

    from tests.pbx_helpers import require_sandbox

    @pytest.fixture(scope="module")
    def sandbox():
        return require_sandbox()            # the minimal fixture config
        # or require_sandbox(config_dir)    # a generated configuration
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from engine.pbx.sandbox import Sandbox, SandboxError
from engine.settings import Settings, load_settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINIMAL_CONFIG = FIXTURES / "asterisk-minimal"


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def unavailable(reason: str) -> None:
    """Fail under CI=true, skip elsewhere."""
    if in_ci():
        pytest.fail(f"Asterisk sandbox unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(f"Asterisk sandbox unavailable: {reason}")


def minimal_config(settings: Settings, dest: Path | None = None) -> Path:
    """The minimal fixture config, with ports and credentials taken from `settings`.

    The fixture files carry the default settings' values literally (so they stay real,
    copyable Asterisk files); this rewrites them when the environment overrides a setting.
    """
    dest = Path(dest) if dest else Path(tempfile.mkdtemp(prefix="switchboard-minimal-config-"))
    defaults = Settings.__dataclass_fields__
    base = {name: defaults[name].default_factory() for name in defaults if defaults[name].default_factory
            is not None and name in ("sip_port", "http_port", "ami_port", "ari_user", "ari_password",
                                     "ami_user", "ami_password")}
    replacements = {
        f"127.0.0.1:{base['sip_port']}": f"{settings.pbx_host}:{settings.sip_port}",
        f"bindport = {base['http_port']}": f"bindport = {settings.http_port}",
        f"port = {base['ami_port']}": f"port = {settings.ami_port}",
        f"password = {base['ari_password']}": f"password = {settings.ari_password}",
        f"secret = {base['ami_password']}": f"secret = {settings.ami_password}",
    }
    dest.mkdir(parents=True, exist_ok=True)
    for src in MINIMAL_CONFIG.iterdir():
        text = src.read_text()
        for old, new in replacements.items():
            text = text.replace(old, new)
        if src.name == "ari.conf":
            text = text.replace(f"[{base['ari_user']}]", f"[{settings.ari_user}]")
        if src.name == "manager.conf":
            text = text.replace(f"[{base['ami_user']}]", f"[{settings.ami_user}]")
        (dest / src.name).write_text(text)
    return dest


def require_sandbox(config_dir: Path | None = None, settings: Settings | None = None,
                    timeout: float = 120) -> Sandbox:
    """Bring the sandbox Asterisk up with `config_dir` (default: the minimal fixture)."""
    settings = settings or load_settings()
    if os.geteuid() != 0:
        unavailable("the sandbox needs root (chroot, mount)")
    owned = None
    if config_dir is None:
        owned = config_dir = minimal_config(settings)
    sandbox = Sandbox(settings)
    try:
        sandbox.up(config_dir, timeout=timeout)
    except SandboxError as exc:
        unavailable(str(exc))
    finally:
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)
    return sandbox
