"""The default ARI transport: events and REST on one websocket (engine/pbx/ari_websocket.py).

A small aiohttp server on 127.0.0.1 plays Asterisk: `/ari/events` is the event websocket,
and it answers `RESTRequest` messages the way Asterisk 22 does (`RESTResponse` with the
request's id, status and the body as a JSON string). The same server answers plain HTTP,
so the fallback for an Asterisk without REST over the websocket is tested too. The real
Asterisk is exercised by every integration test (this is the engine's default transport).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import WSMsgType, web

from engine.pbx import ari_websocket
from engine.pbx.ari import AriClient, AriError, AriTimeout, AriUnavailable
from engine.pbx.ari_websocket import WebsocketTransport, request_uri
from engine.pbx.backoff import Backoff
from engine.settings import Settings
from tests.fake_http import serve_on_loopback


class FakeAsterisk:
    def __init__(self):
        self.rest_over_websocket = True
        self.silent = False  # receives requests, never answers
        self.ws_requests: list[dict] = []
        self.http_requests: list[str] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.connects = 0
        self.params: dict = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ari/events", self.events)
        app.router.add_route("*", "/ari/{path:.*}", self.http)
        return app

    def answer(self, method: str, uri: str, body: str | None) -> tuple[int, str, object]:
        path, _, query = uri.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        if json_body := (json.loads(body) if body else None):
            params.update(json_body)
        if path == "asterisk/ping":
            return 200, "OK", {"ping": "pong"}
        if path == "channels" and method == "GET":
            return 200, "OK", [{"id": "1.1", "state": "Up"}]
        if path == "channels/missing/answer":
            return 404, "Not Found", {"message": "Channel not found"}
        if path.startswith("echo"):
            return 200, "OK", {"path": path, "params": params}
        return 204, "No Content", None

    async def events(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connects += 1
        self.params = dict(request.query)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"type": "StasisStart", "channel": {"id": "1.1"}}))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            message = json.loads(msg.data)
            if message.get("type") != "RESTRequest" or not self.rest_over_websocket:
                continue  # an older Asterisk logs and ignores it
            self.ws_requests.append(message)
            if self.silent:
                continue
            status, reason, data = self.answer(message["method"], message["uri"], message.get("message_body"))
            answer = {"type": "RESTResponse", "request_id": message["request_id"], "status_code": status,
                      "reason_phrase": reason, "uri": message["uri"]}
            if data is not None:
                answer["message_body"] = json.dumps(data)
            await ws.send_str(json.dumps(answer))
        return ws

    async def http(self, request: web.Request) -> web.Response:
        self.http_requests.append(request.path)
        body = await request.text()
        uri = request.match_info["path"] + (f"?{request.query_string}" if request.query_string else "")
        status, _, data = self.answer(request.method, uri, body or None)
        if data is None:
            return web.Response(status=status)
        return web.json_response(data, status=status)


@pytest.fixture
async def asterisk(monkeypatch):
    monkeypatch.setattr(ari_websocket, "PROBE_TIMEOUT", 0.2)
    fake = FakeAsterisk()
    async with serve_on_loopback(fake.app()) as port:
        fake.settings = Settings(database_url="sqlite://", http_port=port, request_timeout=1.0,
                                 ari_password="p&ss word")
        yield fake


@asynccontextmanager
async def connected_client(settings, **kwargs) -> AsyncIterator[tuple[AriClient, list[dict]]]:
    """A websocket-transport client, connected, and the events it received; stopped after."""
    events: list[dict] = []
    client = AriClient(settings, events.append, transport=WebsocketTransport(settings),
                       backoff=Backoff(jitter=0), **kwargs)
    await client.start()
    try:
        await client.wait_connected(3)
        yield client, events
    finally:
        await client.stop()


async def test_events_arrive_and_rest_goes_over_the_websocket(asterisk):
    async with connected_client(asterisk.settings) as (client, events):
        assert events == [{"type": "StasisStart", "channel": {"id": "1.1"}}]
        assert asterisk.params == {"app": "switchboard", "api_key": "switchboard:p&ss word"}
        assert await client.request("GET", "channels") == [{"id": "1.1", "state": "Up"}]
        assert await client.request("POST", "channels/1.1/answer") is None
        assert asterisk.http_requests == []  # everything, the probe included, went over the websocket
        assert [r["uri"] for r in asterisk.ws_requests] == ["asterisk/ping", "channels", "channels/1.1/answer"]


async def test_parameters_and_json_bodies_arrive_intact(asterisk):
    async with connected_client(asterisk.settings) as (client, _):
        caller_id = "Ann O'Neil <+44 20 7946,0000> 100% é&x=y"
        answer = await client.request("POST", "echo/originate", json={"variables": {"A": "1"}},
                                      callerId=caller_id, early=True, skip=None, channels=["a", "b"])
        assert answer["params"] == {"callerId": caller_id, "early": "true", "channels": "a,b", "variables": {"A": "1"}}
        sent = asterisk.ws_requests[-1]
        assert sent["content_type"] == "application/json" and json.loads(sent["message_body"]) == {
            "variables": {"A": "1"}}
        assert "+" not in sent["uri"].split("?", 1)[1].replace("%2B", "")  # a space is %20, never +


async def test_an_error_status_carries_asterisks_message(asterisk):
    async with connected_client(asterisk.settings) as (client, _):
        with pytest.raises(AriError) as info:
            await client.request("POST", "channels/missing/answer")
        assert (info.value.status, info.value.message) == (404, "Channel not found")
        assert not isinstance(info.value, AriUnavailable)


async def test_a_request_without_an_answer_times_out_and_is_forgotten(asterisk):
    async with connected_client(asterisk.settings, ping_interval=60) as (client, _):
        asterisk.silent = True
        started = time.monotonic()
        with pytest.raises(AriTimeout) as info:
            await client.request("POST", "channels/1.1/answer", timeout=0.2)
        assert time.monotonic() - started < 0.5
        assert "POST channels/1.1/answer" in str(info.value)
        assert client.transport._pending == {}


async def test_a_dropped_websocket_fails_waiting_requests_at_once_and_reconnects(asterisk):
    async with connected_client(asterisk.settings, ping_interval=60) as (client, _):
        asterisk.silent = True
        waiting = asyncio.create_task(client.request("POST", "channels/1.1/answer", timeout=5))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await asterisk.sockets[-1].close()
        with pytest.raises(AriUnavailable):
            await waiting
        assert time.monotonic() - started < 0.5  # not the 5 s timeout
        asterisk.silent = False
        deadline = time.monotonic() + 3
        while not (client.connected and client.connect_count == 2) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert await client.request("GET", "channels") == [{"id": "1.1", "state": "Up"}]


async def test_an_asterisk_without_rest_over_the_websocket_gets_http(asterisk):
    asterisk.rest_over_websocket = False
    async with connected_client(asterisk.settings) as (client, events):
        assert client.transport.rest_ready is False
        assert events  # events still come over the websocket
        assert await client.request("GET", "channels") == [{"id": "1.1", "state": "Up"}]
        assert asterisk.http_requests == ["/ari/channels"]


def test_request_uri_percent_encodes_like_http():
    assert request_uri("/channels/1.2/answer", {}) == "channels/1.2/answer"
    assert request_uri("channels", {"callerId": '"A B" <+1>', "x": "a,b"}) == (
        "channels?callerId=%22A%20B%22%20%3C%2B1%3E&x=a%2Cb")


async def test_websocket_plus_http_keeps_rest_on_http(asterisk):
    import dataclasses

    settings = dataclasses.replace(asterisk.settings, ari_transport="websocket+http")
    events: list[dict] = []
    client = AriClient(settings, events.append, backoff=Backoff(jitter=0))
    await client.start()
    try:
        await client.wait_connected(3)
        assert isinstance(client.transport, WebsocketTransport) and not client.transport.rest_ready
        assert await client.request("GET", "channels") == [{"id": "1.1", "state": "Up"}]
        assert asterisk.http_requests == ["/ari/channels"] and asterisk.ws_requests == []  # not even a probe
        assert events
    finally:
        await client.stop()


def test_an_unknown_transport_setting_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_ARI_TRANSPORT", "carrier-pigeon")
    with pytest.raises(ValueError, match="must be one of websocket, websocket\\+http, asyncari"):
        Settings(database_url="sqlite://")
