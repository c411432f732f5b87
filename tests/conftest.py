"""Shared fixtures: a migrated database per test, optionally seeded with the demo set."""

from __future__ import annotations

import pytest

from engine.store.migrate import upgrade
from engine.store.seed import seed_demo
from engine.store.session import session_scope


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'switchboard.db'}"
    upgrade(url)
    return url


@pytest.fixture
def demo_db(db_url) -> str:
    with session_scope(db_url) as session:
        seed_demo(session)
    return db_url
