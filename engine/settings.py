"""Runtime settings, read once from the environment.

Why environment variables and not a config file: the same code runs as the demo, in CI and
in a production container, and each of those sets a handful of values (database URL,
ports, credentials) without anything else to edit. Every value has a default that works on
a developer's machine with the sandbox Asterisk on 127.0.0.1.

The ARI and AMI secrets are settings, not random values generated on each run, because the
config generator must be deterministic: the same database and settings give byte-identical
files. Production sets its own secrets through the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


ARI_TRANSPORTS = ("websocket", "websocket+http", "asyncari")


@dataclass(frozen=True)
class Settings:
    """Everything the engine, the generator and the sandbox need to agree on."""

    home: Path = field(default_factory=lambda: Path(_env("SWITCHBOARD_HOME", str(PROJECT_ROOT / "var"))))
    database_url: str = ""
    # Asterisk as seen by the engine (always loopback in the sandbox).
    pbx_host: str = field(default_factory=lambda: _env("SWITCHBOARD_PBX_HOST", "127.0.0.1"))
    sip_port: int = field(default_factory=lambda: _env_int("SWITCHBOARD_SIP_PORT", 5060))
    http_port: int = field(default_factory=lambda: _env_int("SWITCHBOARD_ARI_PORT", 8088))
    ami_port: int = field(default_factory=lambda: _env_int("SWITCHBOARD_AMI_PORT", 5038))
    ari_app: str = field(default_factory=lambda: _env("SWITCHBOARD_ARI_APP", "switchboard"))
    ari_user: str = field(default_factory=lambda: _env("SWITCHBOARD_ARI_USER", "switchboard"))
    ari_password: str = field(default_factory=lambda: _env("SWITCHBOARD_ARI_PASSWORD", "switchboard-ari-secret"))
    ami_user: str = field(default_factory=lambda: _env("SWITCHBOARD_AMI_USER", "switchboard"))
    ami_password: str = field(default_factory=lambda: _env("SWITCHBOARD_AMI_PASSWORD", "switchboard-ami-secret"))
    # Where external numbers go: host:port of the SIP trunk peer (a SIPp carrier in tests).
    trunk_host: str = field(default_factory=lambda: _env("SWITCHBOARD_TRUNK_HOST", "127.0.0.1"))
    trunk_port: int = field(default_factory=lambda: _env_int("SWITCHBOARD_TRUNK_PORT", 5090))
    # The cached Debian sid chroot that holds Asterisk 22 (built once per machine).
    pbx_root: Path = field(
        default_factory=lambda: Path(_env("SWITCHBOARD_PBX_ROOT", "/var/cache/switchboard/asterisk-sid"))
    )
    # How the engine talks to ARI: "websocket" (events and REST on one aiohttp websocket),
    # "websocket+http" (events on it, REST over HTTP) or "asyncari" (events through asyncari,
    # REST over HTTP). See engine/pbx/ari_websocket.py.
    ari_transport: str = field(default_factory=lambda: _env("SWITCHBOARD_ARI_TRANSPORT", "websocket"))
    # Timeouts (seconds) for every request to Asterisk.
    request_timeout: float = field(default_factory=lambda: float(_env("SWITCHBOARD_REQUEST_TIMEOUT", "5")))

    def __post_init__(self) -> None:
        if self.ari_transport not in ARI_TRANSPORTS:
            raise ValueError(f"SWITCHBOARD_ARI_TRANSPORT must be one of {', '.join(ARI_TRANSPORTS)}, "
                             f"got {self.ari_transport!r}")
        if not self.database_url:
            url = _env("SWITCHBOARD_DATABASE_URL", f"sqlite:///{self.home / 'switchboard.db'}")
            object.__setattr__(self, "database_url", url)

    @property
    def generated_config_dir(self) -> Path:
        """Where `switchboard config generate` writes by default."""
        return self.home / "asterisk"

    @property
    def ari_url(self) -> str:
        return f"http://{self.pbx_host}:{self.http_port}/"


def load_settings() -> Settings:
    return Settings()
