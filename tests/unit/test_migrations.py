"""Migrations go up from empty and down again, and the schema they build is the models'."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

import engine.store.models as m
from engine.store import migrate
from engine.store.seed import seed_demo
from engine.store.session import make_engine, session_scope

from ..pg_helpers import postgres_cluster

TABLES = {
    "agent", "agent_department", "agent_group", "agent_group_member", "break_code", "call_event", "call_leg",
    "call_record", "contact", "contact_phone", "department", "inbound_number", "ivr", "ivr_option",
    "termination_code", "time_group", "time_group_rule", "agent_presence", "agent_state_change",
    "clipboard_setting", "web_session", "web_user",
}


def _user_tables(url):
    return set(inspect(make_engine(url)).get_table_names()) - {"alembic_version"}


def _up_down_up(url):
    migrate.upgrade(url)
    assert _user_tables(url) == TABLES
    with make_engine(url).connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diffs == [], f"migrations and models disagree: {diffs}"
    with session_scope(url) as session:
        seed_demo(session)
    migrate.downgrade(url)
    assert _user_tables(url) == set()
    assert migrate.current(url) is None
    migrate.upgrade(url)
    with session_scope(url) as session:
        assert session.exec(select(m.Agent)).all() == []
        seed_demo(session)
        assert len(session.exec(select(m.Agent)).all()) == 3


def test_sqlite_up_from_empty_down_and_up_again(tmp_path):
    _up_down_up(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgresql_up_from_empty_down_and_up_again():
    with postgres_cluster() as url:
        _up_down_up(url)
