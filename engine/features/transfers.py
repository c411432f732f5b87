"""Transfers and conference at run time: the pure `Transfer` machine's commands over ARI.

Why here and not in the routing flow: the flow (engine/routing/flow.py) owns routing;
everything a connected call can do after that (feature codes, REST call control, the
phone's own transfer button) is decided by `engine/features/transfer.py` (pure) and
carried out by `CallFeatures`, which the flow asks first about every message of the
call (`on_message`). It runs in the call's actor, so a REST "complete" and the agent's
hang-up can never race: they are two messages in one queue (the REST requests themselves
are in engine/features/requests.py).

How each command maps onto Asterisk:
- HoldCaller / UnholdCaller: `POST|DELETE /bridges/call-<id>/moh`. The agent has left the
  main bridge for the consultation, so the caller, alone there, hears music.
- AgentToConsultation: a mixing bridge `consult-<call id>`; the agent's channel moves
  into it (`absorbDTMF` so digits like `*3` stay with the engine).
- DialRecipient: originate to `PJSIP/<agent>` or `PJSIP/<E.164>@trunk` (as offers.py
  dials the call forwarding number) with a channel id bound to the call's actor first.
- RecipientToCaller / AgentBackToCaller / MergeAll: channels move between the bridges.
- ReleaseAgent: the transferring agent's leg is hung up; the dispatcher moves the agent
  to wrap-up (as after any call end).
- Reroute: the caller leaves the main bridge (which is destroyed) and the dispatcher
  routes the same call again (`Dispatcher.reroute`), so ringing, queueing and overflow
  follow the usual rules; an IVR target re-enters the IVR.
- EndConsultationCall: the caller left mid-consultation: the agent and the recipient keep
  talking in the consultation bridge, watched by a tiny actor of their own that tears it
  down when either hangs up (`_Leftover`).
- Record: a CallEvent row on the call record (timeline with parties and timestamps).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from engine.calls import records
from engine.calls.actors import channel_ids_of
from engine.pbx.ari import AriError
from engine.routing.connect import CALL_BRIDGE_TYPE
from engine.routing.dispatcher import RoutingError
from engine.store.fields import utcnow

from . import transfer as tm
from .dtmf import DTMF_BEGIN, FeatureDigits

if TYPE_CHECKING:  # pragma: no cover
    from engine.routing.flow import CallFlow

CONTROL = "SwitchboardCallControl"  # a REST request for this call (engine/features/control.py)
HANDOVER = "SwitchboardHandOver"  # give this call's agent to another call (engine/features/attended_refer.py)
FEATURE_TIMER = "feature_code"  # flow TIMER name of the inter-digit timeout
RING_TIMER = "transfer_ring"  # flow TIMER name of the recipient's ring timeout
RING_TIMEOUT = 20  # seconds a transfer recipient rings when the call has no department

FAILURE_REASONS = {17: "busy", 18: "no_answer", 19: "no_answer", 21: "declined", 16: "hangup"}


class ControlError(Exception):
    """A call-control request refused; `status` is the HTTP status the web answers with."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class CallFeatures:
    def __init__(self, flow: CallFlow):
        self.flow = flow
        self.engine = flow.engine
        self.digits = FeatureDigits(self)
        self.machine = tm.Transfer()
        self.transfer_id: str | None = None
        self.agent_id: int | None = None  # the transferring agent (A)
        self.agent_channel: str | None = None
        self.recipient: str | None = None  # R's channel while it belongs to the transfer
        self.recipient_agent: int | None = None
        self.recipient_endpoint: str | None = None
        self.recipient_up = False
        self.ring_timed_out = False
        self.consult_bridge: str | None = None
        self.held = False
        self.conference_channel: str | None = None  # R while in a conference
        self.refer: dict | None = None  # the ChannelTransfer being served (engine/features/refer.py)
        self.agent_persistent = False

    @property
    def log(self):
        return self.flow.log

    # -- messages (called by the flow first; True: consumed) ------------------------------
    async def on_message(self, message: dict) -> bool:
        kind = message.get("type")
        if kind == HANDOVER:  # this call is a phone's consultation, and the phone transferred
            from .attended_refer import hand_over

            await hand_over(self, message)
            return True
        if kind == CONTROL:
            from .requests import answer_request

            await answer_request(self, message)
            return True
        if kind == "SwitchboardTimer" and message.get("name") == FEATURE_TIMER:
            await self.digits.on_timeout(message.get("token"))
            return True
        if kind == "SwitchboardTimer" and message.get("name") == RING_TIMER:
            await self._ring_timeout(message.get("channel_id"))
            return True
        ids = channel_ids_of(message)
        if not ids:
            return False
        channel_id = ids[0]
        if kind in ("ChannelDtmfReceived", DTMF_BEGIN) and channel_id == self.code_channel():
            await self.digits.on_digit(channel_id, message.get("digit", ""),
                                       "begin" if kind == DTMF_BEGIN else "end")
            return True
        if kind == "ChannelTransfer" and channel_id == self.flow.agent_channel:
            from .refer import on_channel_transfer

            await on_channel_transfer(self, message)
            return True
        if channel_id == self.recipient and self.recipient:
            await self._recipient_event(message)
            return True
        if channel_id == self.conference_channel and kind in ("StasisEnd", "ChannelDestroyed"):
            self.conference_channel = None
            self.machine.reset()
            if self.recipient_agent is not None:
                self.engine.routing.reserve_failed(self.flow.call.id, self.recipient_agent, wrap_up=True)
            self._record("conference_ended", {"left": "recipient"})
            return True
        if channel_id == self.agent_channel and kind in ("StasisEnd", "ChannelDestroyed") and (
                self.machine.active or self.machine.phase == tm.CONFERENCE):
            await self._agent_left()
            return True
        return False

    def code_channel(self) -> str | None:
        """The channel whose digits are feature codes: the agent's, on a connected call (a
        persistent-path agent's digits are forwarded here by the path's actor)."""
        flow = self.flow
        if flow.phase != "connected":
            return None
        if self.machine.active or self.machine.phase == tm.CONFERENCE:
            return self.agent_channel
        return flow.agent_channel if flow.agent_id is not None else None

    async def on_connected(self, channel_id: str) -> None:
        """Called by connect(): let the agent's phone transfer button reach the engine."""
        from .refer import enable_refer

        await enable_refer(self, channel_id)

    async def on_caller_left(self) -> None:
        """The caller hung up (called by the flow's close before it takes the call apart)."""
        self.digits.reset()
        if self.conference_channel:
            await self.flow.hangup_channel(self.conference_channel)
            self.conference_channel = None
        if self.machine.active:
            await self.run(self.machine.caller_hung_up())

    # -- starting ------------------------------------------------------------------------
    def new_target(self, kind: str, value: str, queue: bool = True) -> tm.Target:
        """Resolve and check a target; ControlError(422) when unknown or not allowed."""
        self.check_can_start()
        d = self.engine.directory
        if kind == tm.AGENT:
            agent_id = d.by_intercom.get(value)
            agent = d.agents.get(agent_id)
            if agent is None or agent.admin_status != "active":
                raise ControlError(422, "unknown_target", f"no active agent with intercom {value}")
            if agent_id == self.flow.agent_id:
                raise ControlError(422, "invalid_target", "an agent cannot transfer a call to themselves")
            known = self.engine.routing.dispatcher.agents.get(agent_id)
            if known is None or known.state.state != "ready":
                raise ControlError(409, "agent_unavailable", f"agent {value} is not Ready")
            return tm.Target(tm.AGENT, value)
        if kind == "code":
            found = d.by_transfer_code.get(value)
            if found is None:
                raise ControlError(422, "unknown_target", f"no department or IVR has transfer code {value}")
            return tm.Target(tm.DEPARTMENT if found[0] == "department" else tm.IVR, value, queue)
        if kind == tm.EXTERNAL:
            dept = d.departments.get(self.flow.department_id)
            if dept is None or not dept.use_as_queue:
                raise ControlError(409, "queue_off", "external transfers need the department's "
                                                     "\"Use it as Queue\" on")
            from engine.store.errors import ValidationError
            from engine.store.phone import to_e164

            agent = d.agents.get(self.flow.agent_id)
            try:
                number = to_e164(value, "number", agent.region if agent else None)
            except ValidationError as exc:
                raise ControlError(422, "invalid_number", str(exc)) from None
            return tm.Target(tm.EXTERNAL, number)
        raise ControlError(422, "invalid_target", f"unknown target kind {kind!r}")

    def check_can_start(self) -> None:
        """Refuse a new transfer first for the call's own reasons, before looking at the target:
        "a transfer is already in progress" says more than "that agent is not Ready"."""
        if self.flow.phase != "connected" or self.flow.agent_id is None:
            raise ControlError(409, "not_connected", "the call is not connected to an agent")
        if self.machine.active:
            raise ControlError(409, "transfer_in_progress", "a transfer is already in progress on this call")

    async def start(self, flow_kind: str, target: tm.Target, via: str) -> dict:
        """Start a transfer (feature code, REST or REFER). ControlError when refused."""
        flow = self.flow
        self.check_can_start()
        if flow_kind == tm.ATTENDED and target.kind == tm.AGENT:
            try:
                agent_id = self.engine.directory.by_intercom[target.value]
                self.engine.routing.reserve(flow.call.id, agent_id)
            except RoutingError as exc:
                raise ControlError(409, "agent_unavailable", str(exc)) from None
        try:
            commands = self.machine.start(flow_kind, target)
        except tm.TransferError as exc:
            if flow_kind == tm.ATTENDED and target.kind == tm.AGENT:
                self.engine.routing.reserve_failed(flow.call.id, self.engine.directory.by_intercom[target.value])
            raise ControlError(409, "transfer_refused", str(exc)) from None
        self.transfer_id = uuid.uuid4().hex[:12]
        self.agent_id, self.agent_channel = flow.agent_id, flow.agent_channel
        self.agent_persistent = flow.persistent  # A's channel is their audio path: given back, not hung up
        self.recipient = self.recipient_endpoint = None
        self.recipient_agent = self.engine.directory.by_intercom.get(target.value) if target.kind == tm.AGENT else None
        self.recipient_up = self.ring_timed_out = False
        self.log.info("transfer_started", flow=flow_kind, target=target.kind, to=target.value, via=via,
                      transfer_id=self.transfer_id)
        await self.run(commands, via=via)
        return self.describe()

    def describe(self) -> dict:
        t = self.machine.target
        return {"id": self.transfer_id, "state": self.machine.phase, "flow": self.machine.flow,
                "target": {"kind": t.kind, "value": t.value, "queue": t.queue} if t else None}

    # -- the machine's commands ------------------------------------------------------------
    async def run(self, commands: list, via: str | None = None) -> None:
        for command in commands:
            try:
                await self._do(command, via)
            except AriError as exc:
                self.log.warning("transfer_command_failed", command=type(command).__name__, error=str(exc))

    async def _do(self, c, via: str | None) -> None:
        flow, ari, call_id = self.flow, self.engine.ari, self.flow.call.id
        if isinstance(c, tm.Record):
            self._record(c.kind, {**c.detail, **({"via": via} if via else {})})
        elif isinstance(c, tm.HoldCaller):
            if flow.bridge_id and not self.held:
                await ari.request("POST", f"bridges/{flow.bridge_id}/moh", mohClass=flow.moh_class())
                self.held = True
        elif isinstance(c, tm.UnholdCaller):
            await self._unhold()
        elif isinstance(c, tm.AgentToConsultation):
            self.consult_bridge = f"consult-{call_id}"
            await ari.request("POST", f"bridges/{self.consult_bridge}", type=CALL_BRIDGE_TYPE, name=f"consult-{call_id[:8]}")
            await self._move(self.agent_channel, flow.bridge_id, self.consult_bridge, absorb=True)
        elif isinstance(c, tm.DialRecipient):
            await self._dial(c.target)
        elif isinstance(c, tm.HangupRecipient):
            if self.recipient_agent is not None:
                self.engine.routing.reserve_failed(call_id, self.recipient_agent)
            if self.recipient:
                channel, self.recipient = self.recipient, None
                await flow.hangup_channel(channel)
        elif isinstance(c, tm.AgentBackToCaller):
            if self.agent_channel and self.machine.agent_present:
                await self._move(self.agent_channel, self.consult_bridge, flow.bridge_id, absorb=True)
            await self._drop_consult_bridge()
        elif isinstance(c, tm.RecipientToCaller):
            await self._recipient_to_caller()
        elif isinstance(c, tm.ReleaseAgent):
            await self._release_agent()
        elif isinstance(c, tm.Reroute):
            await self._reroute(c.target)
        elif isinstance(c, tm.MergeAll):
            await self._move(self.recipient, self.consult_bridge, flow.bridge_id)
            await self._move(self.agent_channel, self.consult_bridge, flow.bridge_id, absorb=True)
            await self._drop_consult_bridge()
            self.conference_channel, self.recipient = self.recipient, None
        elif isinstance(c, tm.EndConsultationCall):
            self._leave_consultation_behind()

    async def _unhold(self) -> None:
        if self.held and self.flow.bridge_id:
            self.held = False
            try:
                await self.engine.ari.request("DELETE", f"bridges/{self.flow.bridge_id}/moh")
            except AriError as exc:
                if exc.status != 404:
                    raise

    async def _move(self, channel: str | None, from_bridge: str | None, to_bridge: str | None,
                    absorb: bool = False) -> None:
        if not channel or not to_bridge:
            return
        if from_bridge:
            try:
                await self.engine.ari.request("POST", f"bridges/{from_bridge}/removeChannel", channel=channel)
            except AriError as exc:
                if exc.status not in (404, 422):
                    raise
        params = {"absorbDTMF": "true"} if absorb else {}
        await self.engine.ari.request("POST", f"bridges/{to_bridge}/addChannel", channel=channel, **params)

    async def _drop_consult_bridge(self) -> None:
        if self.consult_bridge:
            bridge, self.consult_bridge = self.consult_bridge, None
            try:
                await self.engine.ari.request("DELETE", f"bridges/{bridge}")
            except AriError as exc:
                if exc.status != 404:
                    raise

    async def _dial(self, target: tm.Target) -> None:
        flow, engine = self.flow, self.engine
        if target.kind == tm.AGENT:
            agent = engine.directory.agents[engine.directory.by_intercom[target.value]]
            endpoint, role = f"PJSIP/{agent.sip_username}", "agent"
        else:
            endpoint, role = f"PJSIP/{target.value}@trunk", "external"
        if self.machine.flow == tm.BLIND and flow.bridge_id and not self.held:
            # The agent has gone: the caller, alone in the bridge, hears music until R answers.
            await engine.ari.request("POST", f"bridges/{flow.bridge_id}/moh", mohClass=flow.moh_class())
            self.held = True
        dept = engine.directory.departments.get(flow.department_id)
        timeout = dept.ring_timeout if dept else RING_TIMEOUT
        channel_id = f"sb-{uuid.uuid4().hex}"
        engine.dispatcher.bind(channel_id, flow.call.id)
        self.recipient, self.recipient_endpoint = channel_id, endpoint
        caller_id = flow.caller_id_text()
        try:
            await engine.ari.request("POST", f"channels/{channel_id}", endpoint=endpoint, app=engine.settings.ari_app,
                                     appArgs=f"transfer,{flow.call.id}", timeout=timeout, callerId=caller_id,
                                     originator=self.agent_channel or flow.call.caller_channel_id)
        except AriError as exc:
            self.log.info("transfer_originate_failed", endpoint=endpoint, error=str(exc))
            engine.dispatcher.unbind(channel_id)
            self.recipient = None
            await self._recipient_gone("failed")
            return
        # Our own timer, as offers.py keeps one: Asterisk's originate timeout did not end a
        # recipient that rang on (seen with SIPp answering 180 and nothing more).
        flow.timer(timeout, RING_TIMER, channel_id=channel_id)
        flow.write(records.apply_steps, flow.call.id, [
            ("leg", {"channel_id": channel_id, "role": role, "endpoint": endpoint, "agent_id": self.recipient_agent}),
            ("event", {"kind": "transfer_dialled", "detail": {"transfer_id": self.transfer_id, "endpoint": endpoint,
                                                              "channel_id": channel_id}})])

    async def _ring_timeout(self, channel_id: str | None) -> None:
        """The recipient rang for the ring timeout without answering: give up on it."""
        if channel_id is None or channel_id != self.recipient or self.recipient_up:
            return
        self.log.info("transfer_no_answer", channel_id=channel_id)
        self.ring_timed_out = True
        await self.flow.hangup_channel(channel_id, reason="no_answer")

    async def _recipient_event(self, event: dict) -> None:
        kind, flow = event.get("type"), self.flow
        channel_id = event["channel"]["id"] if isinstance(event.get("channel"), dict) else event.get("channel_id")
        if kind == "StasisStart" and not self.recipient_up:
            self.recipient_up = True
            flow.write(records.update_leg, flow.call.id, channel_id, answered_at=utcnow())
            if self.recipient_agent is not None:
                self.engine.routing.reserve_answered(flow.call.id, self.recipient_agent)
            await self.refer_progress("channel_answered")
            commands = self.machine.recipient_answered()
            if self.machine.phase == tm.CONSULTING:
                await self._move(channel_id, None, self.consult_bridge)
            await self.run(commands)
        elif kind == "ChannelDestroyed":
            flow.write(records.update_leg, flow.call.id, channel_id, ended_at=utcnow(),
                       hangup_cause=event.get("cause"))
            self.recipient = None
            reason = "hangup" if self.recipient_up else FAILURE_REASONS.get(event.get("cause"), "failed")
            if not self.recipient_up and reason == "hangup":
                reason = "failed"
            if self.ring_timed_out:
                reason, self.ring_timed_out = "no_answer", False
            await self._recipient_gone(reason)

    async def _recipient_gone(self, reason: str) -> None:
        if self.recipient_agent is not None:
            self.engine.routing.reserve_failed(self.flow.call.id, self.recipient_agent)
        await self.refer_progress("channel_declined" if reason in ("busy", "declined") else "channel_unavailable")
        await self.run(self.machine.recipient_failed(reason))

    async def _recipient_to_caller(self) -> None:
        flow = self.flow
        channel = self.recipient
        if channel is None:
            return
        if flow.bridge_id is None:
            return
        await self._move(channel, self.consult_bridge, flow.bridge_id, absorb=self.recipient_agent is not None)
        await self._drop_consult_bridge()
        self.recipient = None
        flow.call.legs.pop(self.agent_channel or "", None)
        self.hand_call_to(channel, self.recipient_agent)

    def hand_call_to(self, channel: str, agent_id: int | None) -> None:
        """`channel` (agent `agent_id`'s, or an external party's) is now the call's agent leg:
        the flow, the call record and the pages follow (a completed transfer)."""
        flow = self.flow
        flow.agent_channel, flow.agent_id, flow.persistent = channel, agent_id, False
        if agent_id is not None:
            flow.write(records.update_call, flow.call.id, agent_id=agent_id)
            self.engine.bus.publish({"type": "call", "call_id": flow.call.id, "state": "connected",
                                     "agent_id": agent_id, "department_id": flow.department_id,
                                     "persistent": False})

    async def _release_agent(self) -> None:
        flow, channel = self.flow, self.agent_channel
        if self.agent_id is not None:
            self.engine.routing.release_agent(flow.call.id, self.agent_id)
        if flow.agent_channel == channel:
            flow.agent_channel, flow.agent_id = None, None
        self.agent_channel = None
        if channel and self.agent_persistent:
            await self._give_back_path(channel)
        elif channel:
            await flow.hangup_channel(channel)

    async def _give_back_path(self, channel: str) -> None:
        """A persistent-path agent leaves the call: their channel goes back to their holding
        bridge (the path stays open), from whichever of the call's bridges it is in."""
        flow = self.flow
        for bridge in (self.consult_bridge, flow.bridge_id):
            if bridge:
                try:
                    await self.engine.ari.request("POST", f"bridges/{bridge}/removeChannel", channel=channel)
                except AriError:
                    pass  # not in that one
        await self.engine.audio_paths.give_back(self.agent_id, flow.call.id, None)
        flow.write(records.update_leg, flow.call.id, channel, ended_at=utcnow())

    async def _agent_left(self) -> None:
        """A's phone hung up during a transfer or conference."""
        flow = self.flow
        self.log.info("transfer_agent_left", phase=self.machine.phase, agent_id=self.agent_id)
        if self.machine.phase == tm.CONFERENCE:
            # The conference goes on as a two-party call between the caller and R.
            self.machine.reset()
            if self.agent_id is not None:
                self.engine.routing.release_agent(flow.call.id, self.agent_id)
            self.hand_call_to(self.conference_channel, self.recipient_agent)  # the record names R now
            self.agent_channel, self.conference_channel = None, None
            self._record("conference_ended", {"left": "agent"})
            return
        commands = self.machine.agent_hung_up()
        if self.agent_id is not None:
            self.engine.routing.release_agent(flow.call.id, self.agent_id)
        if flow.agent_channel == self.agent_channel:
            flow.agent_channel = None
        self.agent_channel = None
        await self.run(commands)
        if not self.machine.agent_present:
            await self._drop_consult_bridge_if_empty()

    async def _drop_consult_bridge_if_empty(self) -> None:
        if self.consult_bridge and self.recipient is None:
            await self._drop_consult_bridge()

    async def _reroute(self, target: tm.Target | None) -> None:
        """The caller goes back to routing (blind transfer, or nobody left to take it back)."""
        flow, engine, call_id = self.flow, self.engine, self.flow.call.id
        await self._unhold()
        await self._drop_consult_bridge()
        if flow.bridge_id:
            bridge, flow.bridge_id = flow.bridge_id, None
            try:
                await engine.ari.request("DELETE", f"bridges/{bridge}")
            except AriError as exc:
                if exc.status != 404:
                    raise
        if flow.agent_channel and flow.agent_channel != self.agent_channel:
            await flow.hangup_channel(flow.agent_channel)
        flow.agent_id, flow.agent_channel, flow.phase = None, None, "routing"
        flow.media.moh = False
        await flow.media.hold_music(flow.moh_class())
        d = engine.directory
        department_id, agent_id, queue = flow.department_id, None, None
        if target is not None and target.kind == tm.AGENT:
            agent_id, department_id = d.by_intercom.get(target.value), None
        elif target is not None:
            kind, target_id = d.by_transfer_code[target.value]
            queue = target.queue
            if kind == "ivr":
                engine.routing.call_ended(call_id)  # the IVR's choice routes it afresh
                from engine.routing import ivr

                await flow.media.stop()
                await ivr.enter(flow, target_id)
                return
            department_id = target_id
            flow.department_id = department_id
            flow.write(records.update_call, call_id, department_id=department_id)
        try:
            if department_id is None and agent_id is None:
                raise RoutingError("no department to route back to")
            engine.routing.reroute(call_id, department_id, agent_id=agent_id, queue=queue)
        except RoutingError as exc:
            self.log.warning("reroute_refused", error=str(exc))
            try:
                engine.routing.call_ended(call_id)
                engine.routing.call_arrived(call_id, department_id, agent_id=agent_id)
            except RoutingError:
                await flow.overflow("voicemail")

    def _leave_consultation_behind(self) -> None:
        """C left while A consulted R: A and R keep talking; a small actor cleans up after."""
        flow = self.flow
        channels = [c for c in (self.agent_channel, self.recipient) if c]
        bridge = self.consult_bridge
        if flow.agent_channel == self.agent_channel:
            flow.agent_channel = None
        self.agent_channel = self.recipient = self.consult_bridge = None
        if not channels:
            return
        leftover = _Leftover(self.engine, channels, bridge)
        self.engine.dispatcher.spawn(f"consult-{flow.call.id}", leftover.handle, channels)

    def _record(self, kind: str, detail: dict) -> None:
        detail = {"transfer_id": self.transfer_id, "agent_id": self.agent_id,
                  "recipient_agent_id": self.recipient_agent, **detail}
        self.flow.write(records.add_event, self.flow.call.id, kind, detail)
        self.engine.bus.publish({"type": "transfer", "call_id": self.flow.call.id, "kind": kind, **detail})

    async def refer_progress(self, state: str) -> None:
        if self.refer is not None:
            from .refer import progress

            await progress(self, state)

class _Leftover:
    """A and R after the caller left a consultation: when either hangs up, end the other."""

    def __init__(self, engine, channels: list[str], bridge: str | None):
        self.engine, self.channels, self.bridge = engine, set(channels), bridge

    async def handle(self, event: dict) -> bool:
        channel = (event.get("channel") or {}).get("id")
        if event.get("type") not in ("StasisEnd", "ChannelDestroyed") or channel not in self.channels:
            return False
        self.channels.discard(channel)
        for other in list(self.channels):
            try:
                await self.engine.ari.request("DELETE", f"channels/{other}")
            except AriError:
                pass
        if self.bridge:
            try:
                await self.engine.ari.request("DELETE", f"bridges/{self.bridge}")
            except AriError:
                pass
        return True
