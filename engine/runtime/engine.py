"""The Engine: ARI + AMI + the store, tied together.

- ARI events go to the live view (`live.py`) and to the call actors (`engine/calls/actors.py`).
  After every ARI (re)connect the live view is rebuilt from `GET /channels` and
  `GET /bridges`, and the calls are reconciled with it: calls whose channel vanished are
  closed, calls still in Stasis without an owner (after an engine restart) are adopted.
- AMI `ContactStatus` events keep each agent's extension status in the database; after
  every AMI (re)connect a `PJSIPShowContacts` snapshot makes the table whole again.
  All registration work runs in one worker task, in arrival order (one owner for that
  state, too). Database writes run in a thread (`asyncio.to_thread`): the event loop,
  which reads both connections, never blocks on SQLite.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import structlog

from engine.agents.audio_path import AudioPaths
from engine.calls import records
from engine.calls.actors import Actor, CallDispatcher
from engine.calls.model import LiveCall
from engine.features.dtmf import DTMF_BEGIN
from engine.features.hold import CallControl as HoldCallControl
from engine.events import EventBus
from engine.pbx.ami import AmiClient, AmiError, parse_contact_list, parse_contact_status
from engine.pbx.ari import AriClient, AriError
from engine.routing.directory import RoutingDirectory
from engine.routing.flow import route_call
from engine.routing.service import RoutingService
from engine.settings import Settings
from engine.store import queries
from engine.store.session import session_scope
from engine.store.writer import SerialWriter

from .hooks import RoutingHooks
from .live import LiveView
from .registrations import RegistrationTracker
from .stasis import (
    ADOPT,
    CHANNEL_GONE,
    CallSession,
    Router,
    new_call,
)

SWITCH_INTERVAL = 0.0005  # seconds; see Engine.start

log = structlog.get_logger("engine.runtime")
HOT_PATH_QUIET = 0.05  # seconds history writes wait after a new call arrives  # lazy: configure_logging() may run after import


class Engine(RoutingHooks):
    def __init__(self, settings: Settings, *, router: Router | None = None,
                 ari: AriClient | None = None, ami: AmiClient | None = None):
        self.settings = settings
        self.router: Router = router or route_call
        # Routing: configuration cache, agent state (the routing service, on this loop),
        # ordered history writes, events for the web side, persistent audio paths.
        self.bus = EventBus()
        self.writer = SerialWriter(process=True)  # its own GIL (engine/store/writer.py)
        self.directory = RoutingDirectory()
        self.routing = RoutingService(settings.database_url, writer=self.writer, publish=self.bus.publish,
                                      executor=self._execute)
        # An admin's change through the web reloads the routing service: the directory too.
        self.routing.reload_hooks.append(lambda: self.directory.reload(settings.database_url))
        self.audio_paths = AudioPaths(self)
        # Call control for the web side (transfers, conference, hang-up): engine/features.
        from engine.features.control import CallControl

        self.routing.call_control = CallControl(self)
        # Hold, resume, call waiting: what the web side asks of a live call (engine/features/hold.py).
        self.hold_control = HoldCallControl(self)
        self.routing.hold_control = self.hold_control
        self._playbacks: dict[str, asyncio.Future] = {}
        self._published_registered: set[str] = set()
        self.live = LiveView()
        self.registrations = RegistrationTracker()
        self.calls: dict[str, LiveCall] = {}
        self.dispatcher = CallDispatcher(on_unowned=self._on_unowned)
        self.ari = ari or AriClient(settings, self._on_ari_event, on_connected=self._on_ari_connected,
                                    on_disconnected=self._on_ari_disconnected)
        self.ami = ami or AmiClient(settings, on_connected=self._on_ami_connected)
        self.ami.register_event("ContactStatus", self._on_contact_status)
        self.ami.register_event("DTMFBegin", self._on_dtmf_begin)
        self._reg_queue: asyncio.Queue = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._stop_requested = asyncio.Event()
        self._running = False
        # Incremented after each completed rebuild / snapshot (tests and health checks).
        self.ari_ready = asyncio.Event()
        self.ami_ready = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._stop_requested.clear()
        # The event loop shares the GIL with worker threads (the web side's database reads,
        # the directory reload). At Python's default switch interval (5 ms) a loop thread
        # that released the GIL for a socket send waited up to 5 ms to get it back from an
        # ORM query. (History writes, the bulk of that work, run in the writer's own
        # process: engine/store/writer.py.)
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.writer.start()
        await self.writer.open()
        await asyncio.to_thread(self.routing.load)  # reloads the directory too (reload hook)
        self._tasks.append(asyncio.create_task(self._registration_worker(), name="registrations"))
        await self.ari.start()
        await self.ami.start()
        log.info("engine_started", ari=self.settings.ari_url, ami_port=self.settings.ami_port)

    async def run(self) -> None:
        """Run until `stop()` (or `request_stop()`, for signal handlers)."""
        await self.start()
        try:
            await self._stop_requested.wait()
        finally:
            await self._shutdown()

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def stop(self) -> None:
        self._stop_requested.set()
        await self._shutdown()

    async def _shutdown(self) -> None:
        if not self._running:
            return
        self._running = False
        await self.ari.stop()
        await self.ami.stop()
        await self.dispatcher.stop()
        await self.writer.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        log.info("engine_stopped")

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    # -- ARI ---------------------------------------------------------------------------

    def _on_ari_event(self, event: dict) -> None:
        """Called by the ARI reader for every event: update the view and enqueue. No awaits."""
        self.live.apply(event)
        media = event.get("playback") or event.get("recording")
        if isinstance(media, dict):
            # Playback/Recording events name their channel only in target_uri: route by it.
            target = str(media.get("target_uri") or "")
            if target.startswith("channel:"):
                event.setdefault("channel_id", target[len("channel:"):])
            if event.get("type") == "PlaybackFinished":
                waiter = self._playbacks.pop(media.get("id"), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(media)
        self.dispatcher.route(event)

    def _on_unowned(self, event: dict) -> Actor | None:
        if event.get("type") != "StasisStart":
            return None
        self.writer.defer(HOT_PATH_QUIET)  # a new call: let its routing run before history writes
        args = event.get("args") or []
        if args[:1] == ["audio_path"]:
            actor = self.audio_paths.on_stasis_start(event)
            if actor is not None:
                return actor
        call = new_call(event) if args[:1] != ["audio_path"] else None
        if call is None:
            channel_id = (event.get("channel") or {}).get("id")
            log.warning("stasis_unknown_entry", channel_id=channel_id, args=event.get("args"))
            if channel_id:
                self._spawn(self._hangup_quietly(channel_id), name=f"hangup-{channel_id}")
            return None
        session = CallSession(self, call)
        return self.dispatcher.spawn(call.id, session.handle, [call.caller_channel_id])

    async def _hangup_quietly(self, channel_id: str) -> None:
        try:
            await self.ari.request("DELETE", f"channels/{channel_id}")
        except AriError as exc:
            log.info("hangup_failed", channel_id=channel_id, error=str(exc))

    async def _on_ari_connected(self) -> None:
        await self._filter_events()
        self.live.begin_rebuild()
        try:
            channels, bridges, app = await asyncio.gather(
                self.ari.request("GET", "channels"),
                self.ari.request("GET", "bridges"),
                self.ari.request("GET", f"applications/{self.settings.ari_app}"),
            )
        except BaseException:
            self.live.abort_rebuild()
            raise
        self.live.finish_rebuild(channels or [], bridges or [])
        in_app = set((app or {}).get("channel_ids") or [])
        await self._reconcile(in_app)
        # Agents persisted Ringing / In Call for a call that is no longer up (it ended while
        # the engine was away): Ringing -> Ready, In Call -> Wrap-up (they close it with a
        # termination code, as after any call).
        settled = self.routing.settle_orphans(set(self.calls) | set(self.routing.dispatcher.calls)
                                              | set(self.dispatcher.actors))
        if settled:
            log.info("agents_settled_after_reconnect", agents=settled)
        log.info("live_view_rebuilt", channels=len(self.live.channels), bridges=len(self.live.bridges),
                 calls=len(self.calls))
        self.ari_ready.set()

    def _on_ari_disconnected(self) -> None:
        self.ari_ready.clear()

    async def _reconcile(self, in_app: set[str]) -> None:
        """Make the calls agree with Asterisk after a (re)connect (DESIGN.md, principle 1)."""
        live = self.live.channel_ids()
        # 1. Owned calls whose caller channel is gone: their hang-up happened while we were away.
        for call in list(self.calls.values()):
            if call.caller_channel_id not in live:
                self.dispatcher.post(call.id, {"type": CHANNEL_GONE, "channel_id": call.caller_channel_id})
        # 2. Calls the history says are open but nobody owns (the engine restarted).
        for open_call in await asyncio.to_thread(records.open_calls, self.settings.database_url):
            if open_call.call_id in self.dispatcher.actors:
                continue
            channel = self.live.channels.get(open_call.caller_channel_id)
            if channel is not None and open_call.caller_channel_id in in_app:
                self._adopt(open_call, channel)
            else:
                await asyncio.to_thread(records.close_call, self.settings.database_url, open_call.call_id,
                                        outcome="abandoned")
                log.info("call_closed_while_away", call_id=open_call.call_id,
                         channel_id=open_call.caller_channel_id)
        # 3. Channels in our app that nobody owns: their StasisStart was lost in the drop.
        for channel_id in in_app:
            channel = self.live.channels.get(channel_id)
            if channel is None or self.dispatcher.owner_of(channel_id) is not None:
                continue
            args = _stasis_args_from_dialplan(channel, self.settings.ari_app)
            self.dispatcher.route({"type": "StasisStart", "channel": channel, "args": args, "synthetic": True})

    def _adopt(self, open_call: records.OpenCall, channel: dict[str, Any]) -> None:
        from engine.calls.model import LiveLeg

        call = LiveCall(
            id=open_call.call_id, direction=open_call.direction, caller_channel_id=open_call.caller_channel_id,
            inbound_number=open_call.inbound_number, caller_number=open_call.caller_number,
            caller_name=open_call.caller_name, started_at=open_call.started_at,
        )
        call.legs[call.caller_channel_id] = LiveLeg(call.caller_channel_id, "caller", state=channel.get("state"))
        session = CallSession(self, call, persisted=True)
        actor = self.dispatcher.spawn(call.id, session.handle, [call.caller_channel_id])
        actor.post({"type": ADOPT, "channel": channel})

    # -- AMI: registrations --------------------------------------------------------------

    def _on_dtmf_begin(self, event) -> None:
        """A key going down on a call's channel: to the call's actor, ahead of ARI's digit
        end (engine/features/dtmf.py). The AMI Uniqueid is the ARI channel id."""
        if event.get("Direction") != "Received":
            return
        actor = self.dispatcher.owner_of(event.get("Uniqueid") or "")
        if actor is not None:
            actor.post({"type": DTMF_BEGIN, "channel_id": event["Uniqueid"], "digit": event.get("Digit", "")})

    def _on_contact_status(self, event) -> None:
        change = parse_contact_status(event)
        if change is not None:
            self._reg_queue.put_nowait(("change", change))

    async def _on_ami_connected(self) -> None:
        self._reg_queue.put_nowait(("begin", None))
        try:
            events = await self.ami.list_action({"Action": "PJSIPShowContacts"})
        except (AmiError, Exception):
            self._reg_queue.put_nowait(("abort", None))
            raise
        self._reg_queue.put_nowait(("snapshot", parse_contact_list(events)))

    async def _registration_worker(self) -> None:
        url = self.settings.database_url
        while True:
            kind, payload = await self._reg_queue.get()
            try:
                if kind == "begin":
                    self.registrations.begin_snapshot()
                elif kind == "abort":
                    self.registrations.abort_snapshot()
                    await asyncio.to_thread(_write_all, url, self.registrations.registered_contacts())
                elif kind == "snapshot":
                    self.registrations.finish_snapshot(payload)
                    changed = await asyncio.to_thread(_write_all, url, self.registrations.registered_contacts())
                    log.info("registrations_snapshot", registered=sorted(self.registrations.registered_contacts()),
                             changed=changed)
                    self._publish_registrations()
                    self.ami_ready.set()
                elif kind == "change":
                    state = self.registrations.apply(payload)
                    if state is not None:
                        changed = await asyncio.to_thread(_write_one, url, state.endpoint, state.registered,
                                                          state.contact)
                        log.info("contact_status", endpoint=payload.endpoint, status=payload.status,
                                 registered=state.registered, changed=changed)
                        self._publish_registrations()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("registration_update_failed", kind=kind)



def _write_one(url: str, endpoint: str, registered: bool, contact: str | None) -> bool:
    with session_scope(url) as session:
        return queries.set_extension_status(session, endpoint, registered, contact)


def _write_all(url: str, contacts: dict[str, str]) -> int:
    with session_scope(url) as session:
        return queries.set_all_extension_status(session, contacts)


def _stasis_args_from_dialplan(channel: dict, app: str) -> list[str]:
    """`Stasis(switchboard,inbound,+44...)` -> ['inbound', '+44...'] from a channel snapshot."""
    dialplan = channel.get("dialplan") or {}
    if str(dialplan.get("app_name", "")).lower() != "stasis":
        return []
    parts = [p.strip() for p in str(dialplan.get("app_data", "")).split(",")]
    if parts and parts[0] == app:
        return parts[1:]
    return []
