"""ARI events and REST over one aiohttp websocket (the engine's default ARI transport).

Why not asyncari here: routing speed (issue 3: p99 < 20 ms from StasisStart to the agent's
INVITE with 20 calls at once, on two cores shared with Asterisk and the phones). Profiles of
bursts showed the engine's time going to plumbing, not to routing:

- asyncari reads the websocket through asyncwebsockets, trio-websocket and wsproto (frame
  parsing in pure Python), then passes every message through two AnyIO memory-stream sends
  and a watchdog task that arms a fresh `fail_after` scope per message;
- every REST request went over HTTP: aiohttp's client costs about 0.2 ms of CPU a request
  (measured: 200 pings), and a call needs about ten of them.

aiohttp's websocket reader is compiled, and Asterisk 20.14 / 21.9 / 22.4 and later accept
REST requests on the event websocket itself ("ARI REST over WebSocket"): a request is one
text frame, its answer a `RESTResponse` message on the same socket. A ping that way costs
about 0.06 ms of CPU. `SWITCHBOARD_ARI_TRANSPORT=asyncari bench/routing_latency.py --target engine` measures the other one.

The trade-off: Asterisk handles the requests of one websocket one after the other (its
read loop runs each to the end before reading the next), where HTTP requests on separate
connections run side by side. ARI requests return in a millisecond or two (originate,
answer, bridge, play: Asterisk queues the work and answers), so in the bench this costs
nothing; a deployment that sees a slow one hold up the others can choose
`SWITCHBOARD_ARI_TRANSPORT=websocket+http` (events here, REST over HTTP).

The asyncari transport (`AsyncariTransport` in `ari.py`, REST over HTTP) is still there
(`SWITCHBOARD_ARI_TRANSPORT=asyncari`) and tested against the real Asterisk. An Asterisk
without REST over the websocket is detected at connect time (the probe below gets no
answer) and the engine then sends REST over HTTP on this transport too.
"""

from __future__ import annotations

import asyncio
import itertools
import json as jsonlib
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog

from engine.settings import Settings

log = structlog.get_logger("engine.pbx.ari")

EventSink = Callable[[dict], None]

PROBE_TIMEOUT = 1.0  # an Asterisk without REST over the websocket never answers the probe


class WebsocketGone(ConnectionError):
    """The websocket closed while a request waited for its answer."""


def request_uri(path: str, params: dict[str, str]) -> str:
    """The `uri` of a REST request: the path as over HTTP (no leading /) and the query
    string, every value percent-encoded (a space as %20: Asterisk does not read + as one)."""
    uri = urllib.parse.quote(path.lstrip("/"), safe="/")
    if params:
        uri += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return uri


class WebsocketTransport:
    """One websocket: events to `sink`, REST requests and their answers matched by id.

    `rest_ready` tells the owner (`AriClient.request`) whether REST goes this way; it is
    decided once per connection by the probe.
    """

    def __init__(self, settings: Settings, *, rest: bool = True):
        self.settings = settings
        self.rest = rest  # False: events only (REST over HTTP, "websocket+http")
        self.rest_ready = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)

    async def run(self, sink: EventSink, ready: Callable[[], None], timeout: float) -> None:
        s = self.settings
        url = f"ws://{s.pbx_host}:{s.http_port}/ari/events"
        params = {"app": s.ari_app, "api_key": f"{s.ari_user}:{s.ari_password}"}
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(timeout):
                ws = await session.ws_connect(url, params=params, max_msg_size=0, autoping=True)
            self._ws = ws
            reader = asyncio.create_task(self._read(ws, sink), name="ari-websocket-reader")
            try:
                self.rest_ready = self.rest and await self._probe(min(PROBE_TIMEOUT, timeout))
                if self.rest and not self.rest_ready:
                    log.warning("ari_rest_over_websocket_unavailable", fallback="http")
                ready()
                await reader
            finally:
                self._ws = None
                self.rest_ready = False
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                self._fail_pending(WebsocketGone("ARI websocket closed"))
                await ws.close()

    async def _probe(self, timeout: float) -> bool:
        try:
            status, _, _ = await self.request("GET", "asterisk/ping", timeout=timeout)
        except (TimeoutError, WebsocketGone):
            return False
        return status == 200

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, sink: EventSink) -> None:
        """Until the socket closes: answers to their requests, everything else to `sink`."""
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue  # aiohttp answers pings itself; ARI sends only text
            try:
                message = jsonlib.loads(msg.data)
            except ValueError:
                log.error("ari_bad_message", data=msg.data[:200])
                continue
            if not isinstance(message, dict):
                continue
            if message.get("type") == "RESTResponse":
                waiter = self._pending.pop(message.get("request_id"), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
            else:
                sink(message)

    def _fail_pending(self, error: BaseException) -> None:
        pending, self._pending = self._pending, {}
        for waiter in pending.values():
            if not waiter.done():
                waiter.set_exception(error)

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      json: Any = None, timeout: float) -> tuple[int, Any, str]:
        """Send one REST request on the websocket; return (status, decoded body, reason).

        Raises TimeoutError after `timeout`, `WebsocketGone` when the socket is closed or
        closes before the answer."""
        ws = self._ws
        if ws is None or ws.closed:
            raise WebsocketGone("ARI websocket is not open")
        request_id = str(next(self._ids))
        message = {"type": "RESTRequest", "request_id": request_id, "method": method,
                   "uri": request_uri(path, params or {})}
        if json is not None:
            message["content_type"] = "application/json"
            message["message_body"] = jsonlib.dumps(json)
        waiter = asyncio.get_running_loop().create_future()
        self._pending[request_id] = waiter
        try:
            async with asyncio.timeout(timeout):
                await ws.send_str(jsonlib.dumps(message))
                answer = await waiter
        except ConnectionError as exc:
            raise WebsocketGone(str(exc)) from None
        finally:
            self._pending.pop(request_id, None)
        body = answer.get("message_body")
        data = None
        if body:
            try:
                data = jsonlib.loads(body)
            except ValueError:
                data = body
        return int(answer.get("status_code") or 0), data, str(answer.get("reason_phrase") or "")
