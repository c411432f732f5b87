"""AriClient supervision and REST, against a fake event transport and a small aiohttp ARI.

The fake transport stands in at the asyncari boundary (open the websocket, deliver events,
end when the socket drops); REST goes over real HTTP to an aiohttp server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from engine.pbx.ari import (
    AriClient,
    AriError,
    AriTimeout,
    AriUnavailable,
    encode_params,
)
from engine.pbx.backoff import Backoff
from engine.settings import Settings
from tests.fake_http import serve_on_loopback


class FakeTransport:
    """Each `run()` is one websocket: fails while `refuse` > 0, else delivers `events`."""

    def __init__(self, refuse: int = 0):
        self.refuse = refuse
        self.runs = 0
        self.drop = asyncio.Event()
        self.events: list[dict] = []

    async def run(self, sink, ready, timeout):
        self.runs += 1
        if self.refuse > 0:
            self.refuse -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        ready()
        for event in self.events:
            sink(event)
        await self.drop.wait()
        self.drop.clear()


class FakeAri:
    def __init__(self):
        self.ping_delay = 0.0
        self.requests: list[tuple[str, str, dict]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ari/asterisk/ping", self.ping)
        app.router.add_get("/ari/channels", self.channels)
        app.router.add_post("/ari/channels/{id}/answer", self.answer)
        app.router.add_get("/ari/slow", self.slow)
        return app

    async def ping(self, request):
        await asyncio.sleep(self.ping_delay)
        return web.json_response({"ping": "pong"})

    async def channels(self, request):
        self.requests.append(("GET", request.path, dict(request.query)))
        return web.json_response([{"id": "1.1", "state": "Up"}])

    async def answer(self, request):
        if request.match_info["id"] == "missing":
            return web.json_response({"message": "Channel not found"}, status=404)
        self.requests.append(("POST", request.path, dict(request.query)))
        return web.Response(status=204)

    async def slow(self, request):
        await asyncio.sleep(1.0)
        return web.json_response({})


@pytest.fixture
async def fake_ari():
    fake = FakeAri()
    async with serve_on_loopback(fake.app()) as port:
        fake.settings = Settings(database_url="sqlite://", http_port=port, request_timeout=1.0)
        yield fake


def make_client(settings, transport, **kwargs):
    events: list[dict] = []
    hooks: list[str] = []
    client = AriClient(
        settings, events.append, transport=transport,
        on_connected=lambda: hooks.append("up"), on_disconnected=lambda: hooks.append("down"),
        backoff=kwargs.pop("backoff", Backoff(jitter=0)), **kwargs,
    )
    return client, events, hooks


async def wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_connects_delivers_events_and_answers_requests(fake_ari):
    transport = FakeTransport()
    transport.events = [{"type": "StasisStart", "channel": {"id": "1.1"}}]
    client, events, hooks = make_client(fake_ari.settings, transport)
    await client.start()
    try:
        await client.wait_connected(2)
        await wait_for(lambda: hooks == ["up"])
        assert events == transport.events
        assert await client.request("GET", "channels") == [{"id": "1.1", "state": "Up"}]
        assert await client.request("POST", "channels/1.1/answer", early=True, skip=None) is None
        assert fake_ari.requests[-1] == ("POST", "/ari/channels/1.1/answer", {"early": "true"})
    finally:
        await client.stop()


async def test_a_dropped_websocket_is_reconnected_at_once(fake_ari):
    transport = FakeTransport()
    client, _, hooks = make_client(fake_ari.settings, transport)
    await client.start()
    try:
        await client.wait_connected(2)
        dropped = time.monotonic()
        transport.drop.set()
        await wait_for(lambda: client.connect_count == 2)
        assert time.monotonic() - dropped < 0.5
        await wait_for(lambda: hooks == ["up", "down", "up"])
    finally:
        await client.stop()


async def test_failed_connects_back_off_then_succeed(fake_ari):
    transport = FakeTransport(refuse=4)
    client, _, _ = make_client(fake_ari.settings, transport, refused_max_delay=5.0)
    started = time.monotonic()
    await client.start()
    try:
        await client.wait_connected(5)
        # 0.1 + 0.2 + 0.4 + 0.8 s of waiting before the fifth attempt.
        assert 1.4 <= time.monotonic() - started < 2.5
        assert transport.runs == 5
    finally:
        await client.stop()


async def test_refused_connects_retry_at_the_capped_delay(fake_ari):
    transport = FakeTransport(refuse=6)
    client, _, _ = make_client(fake_ari.settings, transport, refused_max_delay=0.2)
    started = time.monotonic()
    await client.start()
    try:
        await client.wait_connected(5)
        assert time.monotonic() - started < 1.5  # 0.1 + 5 x 0.2, not 6.3 s
    finally:
        await client.stop()


async def test_request_while_disconnected_raises_at_once(fake_ari):
    transport = FakeTransport(refuse=1000)
    client, _, _ = make_client(fake_ari.settings, transport)
    await client.start()
    try:
        started = time.monotonic()
        with pytest.raises(AriUnavailable):
            await client.request("GET", "channels")
        assert time.monotonic() - started < 0.1
    finally:
        await client.stop()


async def test_request_times_out_with_a_clear_error(fake_ari):
    client, _, _ = make_client(fake_ari.settings, FakeTransport())
    await client.start()
    try:
        await client.wait_connected(2)
        started = time.monotonic()
        with pytest.raises(AriTimeout) as info:
            await client.request("GET", "slow", timeout=0.2)
        assert time.monotonic() - started < 0.6
        assert "GET slow" in str(info.value)
    finally:
        await client.stop()


async def test_error_status_carries_aris_message(fake_ari):
    client, _, _ = make_client(fake_ari.settings, FakeTransport())
    await client.start()
    try:
        await client.wait_connected(2)
        with pytest.raises(AriError) as info:
            await client.request("POST", "channels/missing/answer")
        assert info.value.status == 404
        assert info.value.message == "Channel not found"
        assert not isinstance(info.value, AriUnavailable)
    finally:
        await client.stop()


async def test_a_silent_connection_is_detected_by_ping_and_reconnected(fake_ari):
    transport = FakeTransport()
    client, _, hooks = make_client(fake_ari.settings, transport, ping_interval=0.05, ping_timeout=0.1)
    await client.start()
    try:
        await client.wait_connected(2)
        fake_ari.ping_delay = 1.0  # ARI stops answering; the websocket says nothing
        await wait_for(lambda: "down" in hooks, timeout=2)
        fake_ari.ping_delay = 0.0
        await wait_for(lambda: client.connect_count >= 2 and client.connected, timeout=3)
    finally:
        await client.stop()


async def test_stop_ends_the_supervisor_and_later_requests_fail(fake_ari):
    client, _, _ = make_client(fake_ari.settings, FakeTransport())
    await client.start()
    await client.wait_connected(2)
    await client.stop()
    assert not client.connected
    with pytest.raises(AriUnavailable):
        await client.request("GET", "channels")


def test_query_parameters_are_encoded_the_ari_way():
    assert encode_params({"a": True, "b": False, "c": ["x", "y"], "d": None, "e": 3}) == {
        "a": "true", "b": "false", "c": "x,y", "e": "3"}
