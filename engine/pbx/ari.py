"""The engine's ARI connection: a supervised event websocket plus REST with timeouts.

Transports (`settings.ari_transport`, see `make_transport`):

- **"websocket", the default** (`ari_websocket.py`): events and REST requests on one aiohttp
  websocket ("ARI REST over WebSocket"); chosen for routing speed, its docstring says why.
  "websocket+http" keeps the events there and sends REST over HTTP.
- **"asyncari"** (`AsyncariTransport` below): events through asyncari, REST over HTTP.

What asyncari does in that transport, and what it does not:

- **Events (asyncari).** asyncari opens the `/ari/events` websocket for the Stasis app,
  reads it and parses each message; it also loads the Swagger description so its model API
  (`client.channels.answer(...)`, `Channel` objects) is available as `AriClient.asyncari`
  for code that wants it. Its dispatch awaits every listener in turn and its
  `_check_runtime` ends the client when one event takes more than 1.5 s, so a slow handler
  anywhere would drop the connection. `_SinkClient` overrides `process_ws` to hand the raw
  event dict to a synchronous sink that only enqueues (see `engine/calls/actors.py`), so
  processing an event takes microseconds and that watchdog never fires. Skipping asyncari's
  per-event model objects also saves work on every event.
- **HTTP settings.** asyncswagger11's httpx session has a 600 s timeout, at most 3
  connections, retries *any* failed request once (a failed `POST .../originate` could be
  sent twice) and closes the shared session for everyone on an error; it also writes the
  `api_key` into the websocket URL unescaped. `_HttpClient` replaces the session with
  `settings.request_timeout` and 32 connections, never retries and URL-encodes the key.
- **REST (aiohttp, when not on the websocket).** `AriClient.request()` talks to ARI with
  aiohttp directly: every
  request has a timeout, a refused or dropped connection becomes `AriUnavailable` at once,
  an error response becomes `AriError` with ARI's own message, and a request made while
  the websocket is down fails immediately instead of hanging on a PBX that is restarting.
  asyncari's Operation layer cannot give those guarantees without rewriting it.
- **Reconnect (ours).** asyncari has none. `AriClient` runs a supervisor task: connect,
  wait for the websocket to end or for `GET /asterisk/ping` to fail or time out (a silent
  connection), then reconnect at once and then with exponential backoff and jitter.

An inbound ARI websocket loses the events that happen while it is down. `on_connected` is
therefore called after every (re)connect, once the websocket is up, so the owner can re-read
`GET /channels` and `GET /bridges` (see `engine/runtime/live.py`).
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp
import structlog

from engine.settings import Settings

from .backoff import Backoff, Supervised, call_hook, looks_like_restart, supervise, timed_out

_API_KEY_RE = re.compile(r"(api_key=)[^&\s'\"]*")
log = structlog.get_logger("engine.pbx.ari")  # lazy: configure_logging() may run after import

EventSink = Callable[[dict], None]
Hook = Callable[[], Awaitable[None] | None]


class AriError(Exception):
    """An ARI request failed. `status` is the HTTP status (None when ARI was not reached)."""

    def __init__(self, message: str, status: int | None = None, method: str = "", path: str = ""):
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method else ""
        code = f"{status} " if status is not None else ""
        super().__init__(f"ARI {where}{code}{message}")


class AriUnavailable(AriError):
    """ARI is not connected, refused the connection, or the connection broke."""


class AriTimeout(AriUnavailable, TimeoutError):
    """ARI did not answer within the request timeout. The request may or may not have run."""


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def encode_params(params: dict[str, Any]) -> dict[str, str]:
    """ARI query parameters: booleans as true/false, lists comma-joined, None left out."""
    return {k: _query_value(v) for k, v in params.items() if v is not None}


class EventTransport(Protocol):
    """Opens the event websocket. The real one is `AsyncariTransport`; tests use fakes.

    `run()` connects, calls `ready()` once events flow, passes every event dict to `sink`
    and returns (or raises) when the websocket ends. It must raise within `timeout`
    seconds if it cannot connect.
    """

    async def run(self, sink: EventSink, ready: Callable[[], None], timeout: float) -> None: ...


class AsyncariTransport:
    """The event websocket through asyncari (see the module docstring for why and how)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = None  # the live asyncari Client while connected

    async def run(self, sink: EventSink, ready: Callable[[], None], timeout: float) -> None:
        import anyio

        http = _make_http_client(self.settings)
        try:
            async with anyio.create_task_group() as tg:
                client = _make_sink_client(tg, self.settings, http, sink)
                started = anyio.Event()
                with anyio.fail_after(timeout):
                    await client._init()  # loads the Swagger description
                    tg.start_soon(client._run, started)
                    await started.wait()  # the websocket is open
                self.client = client
                ready()
            # The task group ends when asyncari's reader returns: the websocket closed.
        finally:
            self.client = None
            with anyio.CancelScope(shield=True):
                await http.close()


def make_transport(settings: Settings) -> EventTransport:
    """The transport `settings.ari_transport` names: "websocket" (the default: events and
    REST on one aiohttp websocket, see `ari_websocket.py`), "websocket+http" (REST over
    HTTP) or "asyncari" (events through asyncari, REST over HTTP)."""
    if settings.ari_transport == "asyncari":
        return AsyncariTransport(settings)
    from .ari_websocket import WebsocketTransport

    return WebsocketTransport(settings, rest=settings.ari_transport == "websocket")


def _make_http_client(settings: Settings):
    """asyncswagger11's HTTP client with sane limits, no blind retry, an escaped api_key."""
    import httpx
    from asyncswagger11.http_client import ApiKeyAuthenticator, AsynchronousHttpClient
    from asyncwebsockets import create_websocket

    class _HttpClient(AsynchronousHttpClient):
        def __init__(self) -> None:
            host = urllib.parse.urlparse(settings.ari_url).hostname
            super().__init__(auth=ApiKeyAuthenticator(host, f"{settings.ari_user}:{settings.ari_password}"))
            # Replace the session asyncswagger11 made (timeout=600, max_connections=3).
            old = self.session
            self.session = httpx.AsyncClient(
                timeout=httpx.Timeout(settings.request_timeout),
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
            )
            self._old_session = old

        async def close(self) -> None:
            await super().close()
            await self._old_session.aclose()

        async def request(self, method, url, params=None, data=None, headers=None):
            params = dict(params or {})
            headers = dict(headers or {})
            if self.authenticator is not None and self.authenticator.matches(url):
                self.authenticator.apply(headers, params)
            response = await self.session.request(method=method, url=url, params=params, data=data, headers=headers)
            response.raise_for_status()
            return response

        async def ws_connect(self, url, params=None, headers=None):
            params = dict(params or {})
            if self.authenticator is not None and self.authenticator.matches(url):
                self.authenticator.apply(params, params)
            if params:
                url += "?" + urllib.parse.urlencode(params)
            ws = await create_websocket(url, headers=headers)
            self.websockets.add(ws)
            return ws

    return _HttpClient()


def _make_sink_client(taskgroup, settings: Settings, http, sink: EventSink):
    from asyncari.client import Client

    class _SinkClient(Client):
        """asyncari's Client with a dispatch that only hands the raw event to `sink`."""

        async def process_ws(self, msg):
            sink(msg)

    return _SinkClient(taskgroup, settings.ari_url, [settings.ari_app], http)


class AriClient(Supervised):
    """A supervised ARI connection.

    `on_event(event_dict)` is called for every event, in order, from the reader task: it
    must only enqueue (it must not await or block). `on_connected()` runs after each
    (re)connect once the websocket is up (as its own task; cancelled if the connection
    drops meanwhile); `on_disconnected()` after each drop.
    """

    SUPERVISOR_NAME = "ari-supervisor"

    def __init__(
        self,
        settings: Settings,
        on_event: EventSink,
        *,
        on_connected: Hook | None = None,
        on_disconnected: Hook | None = None,
        transport: EventTransport | None = None,
        backoff: Backoff | None = None,
        ping_interval: float = 2.0,
        ping_timeout: float | None = None,
        connect_timeout: float | None = None,
        refused_max_delay: float = 0.25,
    ):
        self.settings = settings
        self.on_event = on_event
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.transport: EventTransport = transport or make_transport(settings)
        self.backoff = backoff or Backoff()
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout if ping_timeout is not None else min(2.0, settings.request_timeout)
        # Connecting (and logging in) on a healthy PBX takes milliseconds; a dying Asterisk
        # can accept the connection and never answer, so this is kept short.
        self.connect_timeout = connect_timeout if connect_timeout is not None else min(2.0, settings.request_timeout)
        # While Asterisk restarts a retry costs it nothing, so those retries are capped
        # lower than the general backoff (see backoff.looks_like_restart).
        self.refused_max_delay = refused_max_delay
        self.base_url = urllib.parse.urljoin(settings.ari_url, "ari/")
        self._session: aiohttp.ClientSession | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self.connect_count = 0
        self.connected_at: float | None = None  # time.monotonic() of the last connect

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def asyncari(self):
        """The live asyncari Client (its model API), or None while disconnected."""
        return getattr(self.transport, "client", None) if self.connected else None

    async def stop(self) -> None:
        await super().stop()
        await self._close_session()

    # -- REST --------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, json: Any = None, timeout: float | None = None, **params):
        """Call ARI: `await ari.request("POST", "channels/{id}/answer")`. Returns the JSON
        body (None for an empty one).

        Goes over the event websocket when the transport carries REST (see
        `ari_websocket.py`), else over HTTP. Raises `AriUnavailable` at once while
        disconnected, `AriTimeout` after `timeout` (default `settings.request_timeout`),
        `AriError` with ARI's message for an error status.
        """
        if not self.connected or self._session is None:
            raise AriUnavailable("not connected to Asterisk", method=method, path=path)
        limit = self.settings.request_timeout if timeout is None else timeout
        if getattr(self.transport, "rest_ready", False):
            try:
                status, data, reason = await self.transport.request(
                    method, path, params=encode_params(params), json=json, timeout=limit)
            except TimeoutError:
                raise AriTimeout(f"no answer within {limit:g} s", method=method, path=path) from None
            except ConnectionError as exc:
                raise AriUnavailable(f"{type(exc).__name__}: {exc}", method=method, path=path) from None
            return _answer(status, data, reason, method, path)
        return await self._request(self._session, method, path, json=json, timeout=limit, params=params)

    async def _request(self, session, method, path, *, json=None, timeout=None, params=None):
        url = self.base_url + urllib.parse.quote(path.lstrip("/"), safe="/")
        limit = self.settings.request_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                async with session.request(
                    method, url, params=encode_params(params or {}), json=json
                ) as resp:
                    body = await resp.read()
        except TimeoutError:
            raise AriTimeout(f"no answer within {limit:g} s", method=method, path=path) from None
        except aiohttp.ClientError as exc:
            raise AriUnavailable(f"{type(exc).__name__}: {exc}", method=method, path=path) from None
        data = None
        if body:
            try:
                data = jsonlib.loads(body)
            except ValueError:
                data = body.decode("utf-8", "replace")
        return _answer(resp.status, data, resp.reason or "", method, path)

    # -- supervision -------------------------------------------------------------------

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            headers={"Authorization": aiohttp.encode_basic_auth(self.settings.ari_user, self.settings.ari_password)},
            connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout),
        )

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _supervise(self) -> None:
        await supervise(
            self._connect_once, self.backoff,
            stopping=lambda: self._stopping,
            connected_since=lambda: self.connected_at,
            quick_retry=lambda e: looks_like_restart(e) or timed_out(e) or _ari_loading(e),
            quick_max_delay=self.refused_max_delay,
            on_retry=lambda delay, attempt, error: log.info(
                "ari_reconnecting", delay=round(delay, 3), attempt=attempt, error=_describe(error)),
        )

    async def _connect_once(self) -> None:
        """One connection's life: returns or raises when it is over."""
        session = self._new_session()
        self._session = session
        ready = asyncio.Event()
        events = asyncio.create_task(
            self.transport.run(self.on_event, ready.set, self.connect_timeout), name="ari-events"
        )
        hook: asyncio.Task | None = None
        pinger: asyncio.Task | None = None
        try:
            waiter = asyncio.create_task(ready.wait())
            done, _ = await asyncio.wait({events, waiter}, timeout=self.connect_timeout + 1,
                                         return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not ready.is_set():
                if events.done():
                    events.result()  # raises the connect error
                    raise AriUnavailable("event websocket closed while connecting")
                raise AriTimeout("event websocket did not open in time")
            self.connect_count += 1
            self.connected_at = time.monotonic()
            self._connected.set()
            log.info("ari_connected", count=self.connect_count)
            if self.on_connected is not None:
                hook = asyncio.create_task(call_hook(self.on_connected, "ari_on_connected"), name="ari-on-connected")
            pinger = asyncio.create_task(self._ping_loop(), name="ari-ping")
            done, _ = await asyncio.wait({events, pinger}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises why it ended, if it failed
            raise AriUnavailable("event websocket closed")
        finally:
            was_connected = self._connected.is_set()
            self._connected.clear()
            for task in (hook, pinger, events):
                if task is not None and not task.done():
                    task.cancel()
            for task in (hook, pinger, events):
                if task is not None:
                    try:
                        await task
                    except BaseException:  # noqa: BLE001, S110 - cancelled, or the reason was raised above
                        pass
            self._session = None
            await session.close()
            if was_connected:
                log.warning("ari_disconnected")
                if self.on_disconnected is not None:
                    await call_hook(self.on_disconnected, "ari_on_disconnected")

    async def _ping_loop(self) -> None:
        """Detect a silent connection: ARI must answer `GET /asterisk/ping` in time."""
        while True:
            await asyncio.sleep(self.ping_interval)
            await self.request("GET", "asterisk/ping", timeout=self.ping_timeout)


def _answer(status: int, data: Any, reason: str, method: str, path: str) -> Any:
    """The body of a successful answer; `AriError` with ARI's own message for an error."""
    if status >= 400:
        message = data.get("message") if isinstance(data, dict) else (data or reason)
        raise AriError(str(message), status=status, method=method, path=path)
    return data


def _describe(error: BaseException | None) -> str | None:
    """A short description for the log, with the ARI credentials in a URL masked."""
    if error is None:
        return None
    if isinstance(error, BaseExceptionGroup) and error.exceptions:
        return _describe(error.exceptions[0])
    text = f"{type(error).__name__}: {error}".split("\n", 1)[0]
    return _API_KEY_RE.sub(r"\1***", text)[:300]




def _ari_loading(error: BaseException | None) -> bool:
    """During boot Asterisk's HTTP server answers 404 for the ARI docs until res_ari loads."""
    text = _describe(error) or ""
    return "404" in text and "api-docs" in text
