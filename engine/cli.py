"""The `switchboard` command: one entry point for admins, the demo and CI.

Each sub-command imports its capability lazily, so `switchboard db upgrade` works on a
machine where the Asterisk sandbox cannot (no root, no debootstrap) and a broken optional
part never stops the others. Every command returns an exit code: 0 done, 1 failed, 2 bad
arguments; errors are one clear line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .settings import Settings, load_settings


def _fail(message: str, code: int = 1) -> int:
    print(f"switchboard: {message}", file=sys.stderr)
    return code


def cmd_db(args, settings: Settings) -> int:
    from .store import migrate

    if args.action == "upgrade":
        migrate.upgrade(settings.database_url, args.revision or "head")
    elif args.action == "downgrade":
        migrate.downgrade(settings.database_url, args.revision or "base")
    elif args.action == "seed-demo":
        return seed_demo_database(settings, reset=args.reset)
    print(f"database {settings.database_url} at revision {migrate.current(settings.database_url) or 'base'}")
    return 0


def seed_demo_database(settings: Settings, reset: bool = False) -> int:
    """Create (or with reset, re-create) the demo database. Seeds only an empty one."""
    from sqlmodel import select

    from .store import migrate
    from .store.models import Agent
    from .store.seed import seed_demo
    from .store.session import session_scope

    url = settings.database_url
    if reset and url.startswith("sqlite:///"):
        path = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    migrate.upgrade(url)
    with session_scope(url) as session:
        if session.exec(select(Agent)).first() is not None:
            print(f"demo database {url} already has data; left as it is (use --reset to start again)")
            return 0
        seed_demo(session)
        from web.users_seed import seed_demo_users

        seed_demo_users(session)
    print(f"demo database {url} seeded (web log-ins: admin/admin-pass-1, supervisor/super-pass-1, "
          "each agent's username/agent-pass-1)")
    return 0


def cmd_pbx(args, settings: Settings) -> int:
    from .pbx import sandbox_cli

    if args.action == "up":
        config_dir = Path(args.config) if args.config else settings.generated_config_dir
        if not args.config:
            rc = _generate(settings, config_dir)
            if rc:
                return rc
        return sandbox_cli.pbx_up(settings, config_dir)
    if args.action == "down":
        return sandbox_cli.pbx_down(settings)
    if args.action == "build":
        return sandbox_cli.pbx_build(settings)
    return sandbox_cli.pbx_status(settings)


def _generate(settings: Settings, out_dir: Path) -> int:
    from .config import cli as config_cli

    return config_cli.cmd_generate(settings, out_dir)


def cmd_config(args, settings: Settings) -> int:
    from .config import cli as config_cli

    if args.action == "generate":
        return config_cli.cmd_generate(settings, Path(args.out) if args.out else settings.generated_config_dir)
    if args.action == "check":
        return config_cli.cmd_check(settings)
    if not args.to:
        return _fail("config apply needs --to DIR (the live Asterisk's config directory)", 2)
    return config_cli.cmd_apply(settings, Path(args.to), reload=not args.no_reload)


def cmd_engine(args, settings: Settings) -> int:
    from .runtime.cli import run_engine

    return run_engine(settings)


def cmd_demo(args, settings: Settings) -> int:
    from .demo import run_demo

    return run_demo(settings, reset=args.reset)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard call-control engine")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database migrations and the demo data set")
    db.add_argument("action", choices=["upgrade", "downgrade", "seed-demo"])
    db.add_argument("revision", nargs="?", help="target revision (default: head / base)")
    db.add_argument("--reset", action="store_true", help="seed-demo: delete the SQLite file first")
    db.set_defaults(func=cmd_db)

    pbx = sub.add_parser("pbx", help="the local sandbox Asterisk (Debian sid chroot)")
    pbx.add_argument("action", choices=["up", "down", "status", "build"])
    pbx.add_argument("--config", help="up: load this config dir instead of generating from the database")
    pbx.set_defaults(func=cmd_pbx)

    config = sub.add_parser("config", help="generate, check and apply the Asterisk configuration")
    config.add_argument("action", choices=["generate", "check", "apply"])
    config.add_argument("--out", help="generate: output directory (default: $SWITCHBOARD_HOME/asterisk)")
    config.add_argument("--to", help="apply: a live Asterisk's config directory")
    config.add_argument("--no-reload", action="store_true", help="apply: write files but reload nothing")
    config.set_defaults(func=cmd_config)

    engine = sub.add_parser("engine", help="run the call-control engine (ARI + AMI)")
    engine.set_defaults(func=cmd_engine)

    demo = sub.add_parser("demo", help="seeded demo database + sandbox Asterisk + engine")
    demo.add_argument("--reset", action="store_true", help="start again from a fresh demo database")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .log import configure_logging

    configure_logging()
    try:
        settings = load_settings()
    except ValueError as exc:
        return _fail(str(exc), 2)
    try:
        return args.func(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, not a traceback, for known error types
        from .store.errors import ValidationError

        known = (ValidationError,)
        try:
            from .pbx.sandbox import SandboxError

            known += (SandboxError,)
        except ImportError:
            pass
        try:
            from .config.values import ConfigValueError

            known += (ConfigValueError,)
        except ImportError:
            pass
        if isinstance(exc, known):
            return _fail(str(exc))
        raise


if __name__ == "__main__":
    sys.exit(main())
