"""The call flow: from a call entering Stasis to an agent talking to the caller.

`route_call(ctx)` is the Engine's router (see engine/runtime/stasis.py). It makes a
`CallFlow` for the call, registers it as the call's listener and takes the first
decision: inbound number -> time group (closed: announcement, then voicemail or
hangup) -> department, IVR or one agent (direct line); intercom calls go to one agent.
From then on the flow reacts, inside the call's actor, to three kinds of message:

- commands from the routing service (`Offer`, `CancelOffer`, `Connect`, `Wait`,
  `Overflow`), which the engine's executor posts to this actor as `COMMAND` messages;
- ARI events of the call's channels (the caller, offer legs bound by `offers.py`,
  playbacks and recordings on the caller);
- its own timers (`TIMER` messages: ring timeouts, the IVR's digit timeout).

So a call's decisions and its Asterisk requests are made by one task, in order, and the
routing service (synchronous, on the event loop) is called from here directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.calls import records
from engine.pbx.ari import AriError

from . import connect, ivr, outbound, voicemail
from .dispatcher import CancelOffer, Connect, Offer, Overflow, RoutingError, Wait
from .media import CallerMedia, play_and_wait
from .offers import Offers

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime.stasis import CallContext

COMMAND = "SwitchboardCommand"  # {"type": COMMAND, "command": <dispatcher command>}
TIMER = "SwitchboardTimer"  # {"type": TIMER, "name": ..., ...}
AGENT_LEFT = "SwitchboardAgentLeft"  # a persistent-path agent hung up during the call


async def route_call(ctx: CallContext) -> None:
    flow = CallFlow(ctx)
    ctx.call.listeners.append(flow.on_message)
    ctx.call.flow = flow
    from engine.features import hold  # hold, resume and call waiting listen to the call too

    hold.attach(flow)
    await flow.start()


class CallFlow:
    def __init__(self, ctx: CallContext):
        self.ctx = ctx
        self.engine = ctx.engine
        self.call = ctx.call
        self.log = ctx.log
        self.media = CallerMedia(self.engine, self.call.caller_channel_id, self.log)
        self.offers = Offers(self)
        self.phase = "new"  # new, ivr, routing, waiting, connected, voicemail, ended
        self.department_id: int | None = None
        self.agent_id: int | None = None  # connected agent
        self.agent_channel: str | None = None
        self.persistent = False
        self.bridge_id: str | None = None
        self.inbound = None
        self.ivr: ivr.IvrState | None = None
        self.recording: str | None = None
        self.outbound_channel: str | None = None  # the far end of an agent's outbound call
        self._timers: list[asyncio.Task] = []
        # Transfers, conference, feature codes, REST call control, REFER (engine/features/).
        from engine.features.transfers import CallFeatures

        self.features = CallFeatures(self)

    # -- plumbing used by the helpers -------------------------------------------------
    def write(self, fn: Callable, *args, **kwargs) -> None:
        """Queue a history write (ordered with every other write of the engine)."""
        self.engine.writer.submit(fn, self.engine.settings.database_url, *args, **kwargs)

    def routing_call(self, method: str, *args, hangup_on_error: str | None = None) -> None:
        try:
            getattr(self.engine.routing, method)(self.call.id, *args)
        except RoutingError as exc:
            self.log.info("routing_refused", method=method, error=str(exc))
            if hangup_on_error:
                asyncio.get_running_loop().create_task(self.hangup_channel(hangup_on_error))

    def timer(self, seconds: float, name: str, **data) -> None:
        async def fire():
            await asyncio.sleep(seconds)
            self.engine.dispatcher.post(self.call.id, {"type": TIMER, "name": name, **data})

        self._timers.append(asyncio.get_running_loop().create_task(fire()))
        self._timers = [t for t in self._timers if not t.done()]

    async def hangup_channel(self, channel_id: str, reason: str = "normal") -> None:
        try:
            await self.engine.ari.request("DELETE", f"channels/{channel_id}", reason=reason)
        except AriError as exc:
            if exc.status != 404:
                self.log.info("hangup_failed", channel_id=channel_id, error=str(exc))

    def caller_id_text(self) -> str:
        number = self.call.caller_number or "anonymous"
        name = (self.call.caller_name or "").replace('"', "") or ("Unknown" if number == "anonymous" else number)
        return f'"{name}" <{number}>'

    # -- the first decision -----------------------------------------------------------
    async def start(self) -> None:
        if self.ctx.adopted:
            # Re-taken after a restart: the dispatcher never knew it. Keep it up; when it
            # ends, the agents the database said were on it are settled (see `close`).
            self.phase = "adopted"
            return
        d = self.engine.directory
        if self.call.direction == "outbound":
            await outbound.dial(self)
            return
        if self.call.direction == "internal":
            target = d.by_intercom.get(self.call.inbound_number or "")
            if target is None:
                await self.refuse("unknown_extension")
                return
            await self.route_to_agent(target)
            return
        info = d.inbound.get(self.call.inbound_number or "")
        if info is None:
            await self.refuse("unknown_inbound_number")
            return
        self.inbound = info
        if not d.is_open(info.time_group_id, self.engine.routing.clock()):
            await self.closed()
            return
        await self.route_target(info.target_type, info.target_id)

    async def route_target(self, target_type: str, target_id: int | None) -> None:
        if target_type == "department" and target_id in self.engine.directory.departments:
            await self.route_to_department(target_id)
        elif target_type == "ivr" and target_id in self.engine.directory.ivrs:
            await ivr.enter(self, target_id)
        elif target_type == "agent" and target_id in self.engine.directory.agents:
            await self.route_to_agent(target_id)
        else:
            await self.refuse("unknown_target")

    async def route_to_department(self, department_id: int) -> None:
        dept = self.engine.directory.departments[department_id]
        if self.inbound is not None and dept.time_group_id != self.inbound.time_group_id and \
                not self.engine.directory.is_open(dept.time_group_id, self.engine.routing.clock()):
            await self.closed()
            return
        self.department_id = department_id
        self.phase = "routing"
        self.write(records.update_call, self.call.id, department_id=department_id)
        self.routing_call_arrived(department_id, None)

    async def route_to_agent(self, agent_id: int) -> None:
        self.phase = "routing"
        self.routing_call_arrived(None, agent_id)

    def routing_call_arrived(self, department_id: int | None, agent_id: int | None) -> None:
        try:
            self.engine.routing.call_arrived(self.call.id, department_id, agent_id=agent_id)
        except RoutingError as exc:
            self.log.warning("call_arrived_refused", error=str(exc))

    async def closed(self) -> None:
        info = self.inbound
        self.phase = "closed"
        self.write(records.add_event, self.call.id, "closed", {"action": info.closed_action})
        await self.media.answer()
        await play_and_wait(self.engine, self.call.caller_channel_id, f"sound:{info.closed_announcement}")
        if info.closed_action == "voicemail":
            await voicemail.start(self, self.mailbox_name())
        else:
            self.call.outcome = "closed"
            await self.media.hangup()

    async def refuse(self, why: str) -> None:
        self.log.warning("call_refused", reason=why)
        self.call.outcome = "failed"
        await self.media.hangup("unallocated")

    def moh_class(self) -> str:
        dept = self.engine.directory.departments.get(self.department_id)
        return dept.moh_class if dept else "default"

    def mailbox_name(self) -> str:
        d = self.engine.directory
        if self.department_id in d.departments:
            return d.departments[self.department_id].name
        if self.inbound is not None:
            target = {"department": d.departments, "agent": d.agents}.get(self.inbound.target_type, {})
            row = target.get(self.inbound.target_id)
            if row is not None:
                return row.name if self.inbound.target_type == "department" else f"agent{row.intercom}"
        return "general"

    # -- messages ---------------------------------------------------------------------
    async def on_message(self, message: dict) -> None:
        kind = message.get("type")
        if self.phase == "ended":
            return
        if await self.features.on_message(message):  # transfers / feature codes first
            return
        if kind == COMMAND:
            await self.on_command(message["command"])
        elif kind == TIMER:
            await self.on_timer(message)
        elif kind == AGENT_LEFT:
            if message.get("agent_id") == self.agent_id and self.phase == "connected":
                await self.media.hangup()
        elif await self.offers.on_event(message) or await outbound.on_event(self, message):
            return
        elif self.phase == "ivr" and kind == "ChannelDtmfReceived":
            await ivr.on_digit(self, message.get("digit", ""))
        elif kind == "RecordingFinished" or kind == "RecordingFailed":
            await voicemail.on_recording_end(self, message)
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            await self.on_channel_end(message)
        elif kind == "StasisStart":
            channel_id = (message.get("channel") or {}).get("id")
            if channel_id and channel_id != self.call.caller_channel_id:
                await self.hangup_channel(channel_id)  # a leg this call no longer wants

    async def on_command(self, command) -> None:
        if isinstance(command, Offer):
            self.phase = "routing"
            await self.offers.start(command)
        elif isinstance(command, CancelOffer):
            await self.offers.cancel(command.agent_id)
        elif isinstance(command, Connect):
            await connect.connect(self, command)
        elif isinstance(command, Wait):
            self.phase = "waiting"
            self.write(records.add_event, self.call.id, "queued", {"position": command.position})
            await self.media.hold_music(self.moh_class())
        elif isinstance(command, Overflow):
            await self.overflow(command.action)

    async def overflow(self, action: str) -> None:
        self.write(records.add_event, self.call.id, "overflow", {"action": action})
        if action == "voicemail":
            await voicemail.start(self, self.mailbox_name())
        elif action == "busy":
            self.call.outcome = "busy"
            await self.media.stop()
            await self.media.hangup("busy")
        else:
            self.call.outcome = "failed"
            await self.media.hangup()

    async def on_timer(self, message: dict) -> None:
        if message["name"] == "offer":
            await self.offers.on_timeout(message["agent_id"], message["token"])
        elif message["name"] == "ivr":
            await ivr.on_timeout(self, message["token"])

    async def on_channel_end(self, event: dict) -> None:
        channel_id = (event.get("channel") or {}).get("id")
        if channel_id and channel_id == self.agent_channel and self.phase == "connected" and not self.persistent:
            self.log.info("agent_hung_up", agent_id=self.agent_id)
            await self.media.hangup()

    # -- the end ----------------------------------------------------------------------
    async def close(self) -> None:
        """The caller left (called by the CallSession before it closes the record)."""
        if self.phase == "ended":
            return
        phase, self.phase = self.phase, "ended"
        for task in self._timers:
            task.cancel()
        await self.offers.cancel_all()
        await self.features.on_caller_left()
        if self.outbound_channel and self.outbound_channel != self.agent_channel:
            await self.hangup_channel(self.outbound_channel)  # the agent gave up before the answer
        if phase == "adopted":
            self.engine.routing.settle_call(self.call.id)
        else:
            await connect.disconnect(self)
            self.engine.routing.call_ended(self.call.id)
