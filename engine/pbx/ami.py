"""The engine's AMI connection: panoramisk for the protocol, our own supervision around it.

panoramisk parses AMI, matches responses to actions (lists included) and dispatches events
fire-and-forget; that part is kept. Its connection handling is replaced, because:
- it reconnects after a fixed whole number of seconds (2 by default) with no backoff;
- its keep-alive sends `Ping` but never checks that a reply came back, so a silent
  connection is never noticed;
- an action whose connection drops is queued and re-sent on the next connection, long
  after its caller gave up; and an action's future never resolves if no reply comes.

`AmiClient` connects with a timeout, logs in, runs `on_connected`, pings with a
missing-reply check, fails every pending action with `AmiUnavailable` when the connection
drops, and reconnects at once and then with exponential backoff and jitter. Every action
has a timeout.

Registration state (`ContactStatus`, `PJSIPShowContacts`) is parsed here into plain
values: `parse_contact_status` and `parse_contact_list`. What Asterisk 22.10 sent in the
sandbox with the generated config (`qualify_frequency = 0`, `max_contacts = 1`):
- a REGISTER of a new contact: `ContactStatus: NonQualified` (not `Created`; `Reachable`
  and `Unreachable` only come from OPTIONS qualify, which is off);
- a refresh REGISTER of the same contact: no event;
- a REGISTER with `Expires: 0`: `ContactStatus: Removed`;
- expiry without a refresh: `ContactStatus: Removed` (Asterisk raises short expiries to
  its 60 s minimum and checks expiry periodically, so it can come some seconds late);
- `PJSIPShowContacts`: one `ContactList` per contact (`Endpoint`, `Uri`, `Status:
  NonQualified`, `ObjectName: <aor>;@<hash>`, no `Aor` field), then `ContactListComplete`.
`Created`, `Updated`, `Reachable` and `Unknown` are still read as registered for other
configurations (qualify on).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from engine.settings import Settings

from .backoff import Backoff, Supervised, call_hook, looks_like_restart, supervise, timed_out

log = structlog.get_logger("engine.pbx.ami")  # lazy: configure_logging() may run after import

EventCallback = Callable[[Message], None]
Hook = Callable[[], Awaitable[None] | None]

# ContactStatus values. A contact that exists and is not known to be unreachable can be
# rung; `Unreachable` (qualify failed) and `Removed` (unregistered or expired) cannot.
REGISTERED_STATES = frozenset({"created", "updated", "reachable", "nonqualified", "unknown"})
UNREGISTERED_STATES = frozenset({"removed", "unreachable"})


class AmiError(Exception):
    """An AMI action failed (Response: Error), with Asterisk's message."""


class AmiUnavailable(AmiError):
    """AMI is not connected, or the connection dropped before the reply."""


class AmiTimeout(AmiUnavailable, TimeoutError):
    """No reply within the action timeout."""


@dataclass(frozen=True)
class ContactChange:
    """One `ContactStatus` event, reduced to what the engine needs."""

    endpoint: str  # the PJSIP endpoint (falls back to the AOR name)
    aor: str
    uri: str
    status: str  # as Asterisk spelt it: Created, Removed, Reachable, ...
    registered: bool | None  # None for a state that says nothing either way


def _field(event, *names: str) -> str:
    for name in names:
        value = event.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def parse_contact_status(event) -> ContactChange | None:
    """A `ContactStatus` event as a ContactChange, or None if it names no contact."""
    aor = _field(event, "AOR", "Aor")
    endpoint = _field(event, "EndpointName", "Endpoint") or aor
    if not endpoint:
        return None
    status = _field(event, "ContactStatus", "Status")
    key = status.lower()
    registered = True if key in REGISTERED_STATES else False if key in UNREGISTERED_STATES else None
    return ContactChange(endpoint=endpoint, aor=aor or endpoint, uri=_field(event, "URI", "Uri"), status=status,
                         registered=registered)


def parse_contact_list(events) -> dict[str, dict[str, str]]:
    """`PJSIPShowContacts` `ContactList` events -> {endpoint: {contact uri: status}}.

    Contacts whose status is `Unreachable` are left out: they cannot be rung.
    """
    out: dict[str, dict[str, str]] = {}
    for event in events:
        if _field(event, "Event") != "ContactList":
            continue
        aor = _field(event, "Aor", "AOR") or _field(event, "ObjectName").split(";@", 1)[0]
        endpoint = _field(event, "Endpoint", "EndpointName") or aor
        status = _field(event, "Status")
        if not endpoint or status.lower() in UNREGISTERED_STATES:
            continue
        uri = _field(event, "Uri", "URI")
        out.setdefault(endpoint, {})[uri] = status or "Unknown"
    return out


class _Manager(Manager):
    """panoramisk's Manager with its reconnect, ping and re-send switched off."""

    def __init__(self, owner: AmiClient, **config):
        super().__init__(**config)
        self._owner = owner
        self.lost = asyncio.Event()

    def attach(self, protocol: AMIProtocol) -> None:
        # What Manager.connection_made does on success, minus its login and pinger.
        self.protocol = protocol
        protocol.queue = deque()
        protocol.factory = self
        protocol.log = self.log
        protocol.config = self.config
        protocol.encoding = self.encoding = self.config["encoding"]
        self.responses = protocol.responses = {}
        self._connected = True

    def connection_lost(self, exc):  # called by the protocol; no reconnect here
        self._connected = False
        self.lost.set()

    def ping(self):  # AmiClient pings and checks the reply
        pass

    async def send_awaiting_actions(self, *_):  # never re-send an action after a reconnect
        self.awaiting_actions.clear()

    def dispatch(self, event):
        self._owner._dispatch(event)
        return []


class AmiClient(Supervised):
    """A supervised AMI connection.

    Event callbacks (`register_event("ContactStatus", cb)`, or `"*"` for all) are called
    synchronously from the protocol: like ARI's, they must only enqueue.
    """

    SUPERVISOR_NAME = "ami-supervisor"

    def __init__(
        self,
        settings: Settings,
        *,
        on_connected: Hook | None = None,
        on_disconnected: Hook | None = None,
        backoff: Backoff | None = None,
        ping_interval: float = 2.0,
        ping_timeout: float | None = None,
        connect_timeout: float | None = None,
        refused_max_delay: float = 0.25,
        events: str = "on",
    ):
        self.settings = settings
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.backoff = backoff or Backoff()
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout if ping_timeout is not None else min(2.0, settings.request_timeout)
        # Connecting (and logging in) on a healthy PBX takes milliseconds; a dying Asterisk
        # can accept the connection and never answer, so this is kept short.
        self.connect_timeout = connect_timeout if connect_timeout is not None else min(1.0, settings.request_timeout)
        self.refused_max_delay = refused_max_delay
        self.events = events
        self._callbacks: dict[str, list[EventCallback]] = {}
        self._manager: _Manager | None = None
        self._pending: set[asyncio.Future] = set()
        self._connected = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self.connect_count = 0
        self.connected_at: float | None = None

    # -- events ------------------------------------------------------------------------

    def register_event(self, name: str, callback: EventCallback) -> None:
        self._callbacks.setdefault(name.lower(), []).append(callback)

    def _dispatch(self, event: Message) -> None:
        name = str(event.get("Event", "")).lower()
        if name == "shutdown":
            log.info("ami_shutdown_event")
        for callback in self._callbacks.get(name, []) + self._callbacks.get("*", []):
            try:
                callback(event)
            except Exception:
                log.exception("ami_event_callback_failed", event=name)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()


    # -- actions -----------------------------------------------------------------------

    async def action(self, action: dict[str, Any], *, timeout: float | None = None) -> Message:
        """Send one action; return its response. Raises AmiError on `Response: Error`."""
        if not self.connected:
            raise AmiUnavailable(f"AMI {action.get('Action')}: not connected to Asterisk")
        return await self._send(self._manager, action, timeout, as_list=None)

    async def list_action(self, action: dict[str, Any], *, timeout: float | None = None) -> list[Message]:
        """Send a list action (PJSIPShowContacts, ...); return every event up to and
        including the `...Complete` one. An error saying the list is empty gives []."""
        if not self.connected:
            raise AmiUnavailable(f"AMI {action.get('Action')}: not connected to Asterisk")
        try:
            result = await self._send(self._manager, action, timeout, as_list=None)
        except AmiError as exc:
            if "no " in str(exc).lower() and "found" in str(exc).lower():
                return []
            raise
        if isinstance(result, Message):
            return []
        return [m for m in result if "event" in m]

    async def _send(self, manager: _Manager, action: dict[str, Any], timeout: float | None, as_list) -> Any:
        limit = self.settings.request_timeout if timeout is None else timeout
        name = action.get("Action", "?")
        act = Action(dict(action), as_list=as_list)
        future = manager.protocol.send(act, as_list=as_list)
        self._pending.add(future)
        try:
            async with asyncio.timeout(limit):
                result = await asyncio.shield(future)
        except TimeoutError:
            manager.protocol.responses.pop(act.id, None)
            raise AmiTimeout(f"AMI {name}: no reply within {limit:g} s") from None
        finally:
            self._pending.discard(future)
        first = result[0] if isinstance(result, list) else result
        if str(first.get("Response", "")).lower() == "error":
            raise AmiError(f"AMI {name}: {first.get('Message', 'error')}")
        return result

    def _fail_pending(self) -> None:
        for future in list(self._pending):
            if not future.done():
                future.set_exception(AmiUnavailable("AMI connection lost"))
        self._pending.clear()

    # -- supervision -------------------------------------------------------------------

    async def _supervise(self) -> None:
        await supervise(
            self._connect_once, self.backoff,
            stopping=lambda: self._stopping,
            connected_since=lambda: self.connected_at,
            quick_retry=lambda e: looks_like_restart(e) or timed_out(e),
            quick_max_delay=self.refused_max_delay,
            on_retry=lambda delay, attempt, error: log.info(
                "ami_reconnecting", delay=round(delay, 3), attempt=attempt, error=None if error is None else f"{type(error).__name__}: {error}"[:300]),
        )

    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        manager = _Manager(self, host=self.settings.pbx_host, port=self.settings.ami_port, loop=loop,
                           ping_delay=10**9, reconnect_timeout=10**9)
        hook: asyncio.Task | None = None
        pinger: asyncio.Task | None = None
        transport = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport, protocol = await loop.create_connection(
                    AMIProtocol, self.settings.pbx_host, self.settings.ami_port
                )
                manager.attach(protocol)
                self._manager = manager
                await self._send(manager, {
                    "Action": "Login", "Username": self.settings.ami_user,
                    "Secret": self.settings.ami_password, "Events": self.events,
                }, self.connect_timeout, as_list=False)
            self.connect_count += 1
            self.connected_at = time.monotonic()
            self._connected.set()
            log.info("ami_connected", count=self.connect_count)
            if self.on_connected is not None:
                hook = asyncio.create_task(call_hook(self.on_connected, "ami_on_connected"), name="ami-on-connected")
            pinger = asyncio.create_task(self._ping_loop(manager), name="ami-ping")
            lost = asyncio.create_task(manager.lost.wait())
            try:
                done, _ = await asyncio.wait({lost, pinger}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                lost.cancel()
            if pinger in done:
                pinger.result()
            raise AmiUnavailable("AMI connection lost")
        finally:
            was_connected = self._connected.is_set()
            self._connected.clear()
            self._fail_pending()
            for task in (hook, pinger):
                if task is not None and not task.done():
                    task.cancel()
            for task in (hook, pinger):
                if task is not None:
                    try:
                        await task
                    except BaseException:  # noqa: BLE001, S110 - cancelled, or the reason was raised above
                        pass
            if manager.protocol is not None:
                manager.protocol.closed = True  # do not queue its actions for a re-send
                manager.protocol.factory = None
            if transport is not None:
                transport.close()
            if self._manager is manager:
                self._manager = None
            if was_connected:
                log.warning("ami_disconnected")
                if self.on_disconnected is not None:
                    await call_hook(self.on_disconnected, "ami_on_disconnected")

    async def _ping_loop(self, manager: _Manager) -> None:
        """A Ping must be answered within `ping_timeout`, or the connection is dropped."""
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._send(manager, {"Action": "Ping"}, self.ping_timeout, as_list=False)
            except AmiTimeout:
                log.warning("ami_ping_unanswered", timeout=self.ping_timeout)
                raise


