"""Web fixtures: a demo database with log-ins, the app on a real 127.0.0.1 port, clients.

The demo database with its scrypt-hashed log-ins is built once per test session and copied
for each test (hashing is slow on purpose; copying a file is not).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine.events import EventBus
from engine.routing.service import RoutingService
from engine.settings import Settings
from engine.store.migrate import upgrade
from engine.store.seed import seed_demo
from engine.store.session import make_engine, session_scope
from web.app import create_app
from web.users_seed import seed_demo_users

PASSWORDS = {"admin": "admin-pass-1", "supervisor": "super-pass-1", "alice": "agent-pass-1",
             "bob": "agent-pass-1", "carol": "agent-pass-1"}


@pytest.fixture(scope="session")
def _web_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("webtpl") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    with session_scope(url) as session:
        seed_demo(session)
        seed_demo_users(session)
    engine = make_engine(url)
    with engine.connect() as conn:  # fold the WAL into the file so a plain copy has it all
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def web_db(_web_template, tmp_path) -> str:
    path = tmp_path / "web.db"
    shutil.copy(_web_template, path)
    return f"sqlite:///{path}"


@dataclass
class Stack:
    db_url: str
    bus: EventBus
    routing: RoutingService
    server: TestServer
    clients: list

    async def client(self, username: str | None = None) -> "Client":
        client = TestClient(self.server)
        await client.start_server()
        self.clients.append(client)
        wrapped = Client(client)
        if username:
            await wrapped.login(username, PASSWORDS[username])
        return wrapped

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))


class Client:
    """A TestClient that remembers its CSRF token and sends it with every write."""

    def __init__(self, client: TestClient):
        self.raw = client
        self.csrf = None
        self.user = None

    async def login(self, username: str, password: str):
        res = await self.raw.post("/api/login", json={"username": username, "password": password})
        data = await res.json()
        assert res.status == 200, data
        self.csrf, self.user = data["csrf_token"], data["user"]
        return data

    async def call(self, method: str, path: str, body=None, csrf: bool = True):
        headers = {"X-CSRF-Token": self.csrf} if csrf and self.csrf and method != "GET" else {}
        kwargs = {"headers": headers}
        if method != "GET":
            kwargs["json"] = {} if body is None else body
        res = await self.raw.request(method, path, **kwargs)
        try:
            data = await res.json()
        except Exception:  # noqa: BLE001 - HTML or empty
            data = await res.text()
        return res.status, data


@pytest.fixture
async def stack(web_db):
    bus = EventBus()
    routing = RoutingService(web_db, publish=bus.publish)
    routing.load()
    app = create_app(Settings(database_url=web_db), routing, bus)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    s = Stack(web_db, bus, routing, server, [])
    yield s
    for client in s.clients:
        await client.close()
    await server.close()
    await routing.writer.stop()


def chromium_or_skip() -> str:
    """Debian's chromium; a missing one fails under CI=true, else skips."""
    path = "/usr/bin/chromium"
    if not os.path.exists(path):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required under CI=true (apt-get install chromium)")
        pytest.skip("Debian chromium is not installed")
    return path


BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
async def browser():
    """Debian's headless chromium driven by Playwright (never `playwright install`)."""
    path = chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=path, args=BROWSER_ARGS, headless=True)
        yield b
        await b.close()
