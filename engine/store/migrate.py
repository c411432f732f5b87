"""Run Alembic migrations from code, so the CLI, the demo and the tests share one path."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from ..settings import PROJECT_ROOT


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from .session import make_engine

    with make_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
