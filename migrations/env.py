"""Alembic environment for Switchboard's SQLModel tables.

Run through `switchboard db upgrade` (engine/store/migrate.py), which passes the database
URL in the Alembic config; `render_as_batch` lets the same migrations alter SQLite tables.
"""

from alembic import context
from sqlalchemy import pool
from sqlmodel import SQLModel

import engine.store.models  # noqa: F401  (registers every table on SQLModel.metadata)
from engine.store.session import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = make_engine(url)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
