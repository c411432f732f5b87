"""Hold and resume: music on hold to the held caller, from the desktop or the phone's own hold.

Hold = the caller hears the department's music on hold (`POST /channels/{caller}/moh`)
and the agent stops hearing the caller (`POST /channels/{caller}/mute?direction=in`); the
caller stays in the call's bridge, so resume is the two DELETEs and nothing is re-bridged.

Who may hold: a manager can switch hold off for a department (`Department.hold_enabled`)
or an agent (`Agent.hold_enabled`). The flags are read from the database at each request
(not from the routing directory's cache), so a manager's change applies at once.
- Desktop: the API refuses with 403 `hold_disabled` (the desktop hides the button: see
  web/api/calls.py `capabilities`).
- Phone (re-INVITE sendonly/inactive -> ARI `ChannelHold` on the agent's leg): the engine
  does NOT start music and records a `hold_refused` timeline event (by=phone). Why: the
  manager's rule is about what the customer hears; the phone's own hold cannot be
  refused at the SIP level, but the engine decides whether music plays.

Every hold and resume runs in the call's actor (messages of type `HOLD`), in order with the
call's events, and is recorded as a CallEvent `hold` / `resume` with by=desktop|phone|
call_waiting, the agent, and the held channel.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING


from engine.calls import records
from engine.pbx.ari import AriError
from engine.store import models as m
from engine.store.fields import utcnow
from engine.store.session import session_scope

if TYPE_CHECKING:  # pragma: no cover
    from engine.routing.flow import CallFlow

HOLD = "SwitchboardHold"  # {"type": HOLD, "action": ..., "reply": Future, ...}


class CallControlError(Exception):
    """A refused call-control request: `status` is the HTTP status the API returns."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def hold_refusal(agent_enabled: bool | None, department_enabled: bool | None) -> str | None:
    """Why hold is not allowed (None: allowed). Pure."""
    if department_enabled is False:
        return "hold is disabled for this department"
    if agent_enabled is False:
        return "hold is disabled for this agent"
    return None


def read_hold_flags(db_url: str, agent_id: int | None, department_id: int | None) -> tuple[bool | None, bool | None]:
    with session_scope(db_url) as session:
        agent = session.get(m.Agent, agent_id) if agent_id else None
        dept = session.get(m.Department, department_id) if department_id else None
        return (agent.hold_enabled if agent else None, dept.hold_enabled if dept else None)


@dataclass
class HoldState:
    held: bool = False
    by: str | None = None
    since: object = None


class HoldControl:
    """The call's hold (and call-waiting) listener: one per CallFlow, run in the call's actor."""

    def __init__(self, flow: CallFlow):
        self.flow = flow
        self.state = HoldState()
        self.muted = False

    # -- messages ------------------------------------------------------------------------
    async def on_message(self, message: dict) -> None:
        from . import waiting  # waiting imports this module

        kind = message.get("type")
        if self.flow.phase == "ended":
            reply = message.get("reply")
            if reply is not None and not reply.done():
                reply.set_exception(CallControlError(409, "call_ended", "the call has ended"))
            return
        if kind == HOLD:
            await self._request(message)
        elif kind in ("ChannelHold", "ChannelUnhold"):
            channel = (message.get("channel") or {}).get("id")
            if channel and channel == self.flow.agent_channel:
                await self.phone(kind == "ChannelHold")
        else:
            await waiting.on_message(self.flow, message)

    async def _request(self, message: dict) -> None:
        from . import waiting

        reply: asyncio.Future = message["reply"]
        action = message["action"]
        try:
            if action == "hold":
                result = await self.hold(message.get("by", "desktop"), message.get("agent_id"))
            elif action == "resume":
                result = await self.resume(message.get("by", "desktop"), message.get("agent_id"))
            else:
                result = await waiting.on_request(self.flow, action, message)
        except CallControlError as exc:
            if not reply.done():
                reply.set_exception(exc)
            return
        except Exception as exc:  # noqa: BLE001 - the requester must hear back
            if not reply.done():
                reply.set_exception(CallControlError(500, "failed", str(exc)))
            raise
        if not reply.done():
            reply.set_result(result)

    # -- hold / resume -------------------------------------------------------------------
    def department_id(self) -> int | None:
        flow = self.flow
        if flow.department_id is not None:
            return flow.department_id
        return flow.engine.routing.department_of_agent.get(flow.agent_id)

    def check_agent(self, agent_id: int | None) -> None:
        flow = self.flow
        if flow.phase != "connected" or flow.agent_channel is None or flow.bridge_id is None:
            raise CallControlError(409, "not_connected", "the call is not connected to an agent")
        if agent_id is not None and agent_id != flow.agent_id:
            raise CallControlError(403, "forbidden", "an agent may hold only their own call")

    async def refusal(self) -> str | None:
        flow = self.flow
        flags = await asyncio.to_thread(read_hold_flags, flow.engine.settings.database_url, flow.agent_id,
                                        self.department_id())
        return hold_refusal(*flags)

    async def hold(self, by: str, agent_id: int | None = None, check_policy: bool = True) -> dict:
        self.check_agent(agent_id)
        if self.state.held:
            raise CallControlError(409, "already_on_hold", "the call is already on hold")
        if check_policy:
            why = await self.refusal()
            if why:
                raise CallControlError(403, "hold_disabled", why)
        await self.start_music()
        return self._record("hold", by)

    async def resume(self, by: str, agent_id: int | None = None) -> dict:
        self.check_agent(agent_id)
        if not self.state.held:
            raise CallControlError(409, "not_on_hold", "the call is not on hold")
        await self.stop_music()
        return self._record("resume", by)

    async def phone(self, hold: bool) -> None:
        """The agent's phone put the call on hold (re-INVITE sendonly) or took it off."""
        try:
            if hold:
                why = await self.refusal()
                if why:
                    self.flow.write(records.add_event, self.flow.call.id, "hold_refused",
                                    {"by": "phone", "agent_id": self.flow.agent_id, "reason": why})
                    self.flow.engine.bus.publish({"type": "call_hold", "call_id": self.flow.call.id,
                                                  "agent_id": self.flow.agent_id, "held": False, "by": "phone",
                                                  "refused": why})
                    return
                await self.hold("phone", check_policy=False)
            elif self.state.held:
                await self.resume("phone")
        except CallControlError as exc:
            self.flow.log.info("phone_hold_ignored", hold=hold, reason=exc.code)

    async def start_music(self) -> None:
        flow = self.flow
        caller = flow.call.caller_channel_id
        try:
            await flow.engine.ari.request("POST", f"channels/{caller}/mute", direction="in")
            self.muted = True
            await flow.engine.ari.request("POST", f"channels/{caller}/moh", mohClass=flow.moh_class() or "default")
        except AriError as exc:
            raise CallControlError(409, "hold_failed", f"Asterisk refused: {exc}") from None

    async def stop_music(self) -> None:
        flow = self.flow
        caller = flow.call.caller_channel_id
        for path in ("moh", "mute"):
            try:
                await flow.engine.ari.request("DELETE", f"channels/{caller}/{path}",
                                              **({"direction": "in"} if path == "mute" else {}))
            except AriError as exc:
                flow.log.info("resume_step_failed", step=path, error=str(exc))
        self.muted = False

    def _record(self, kind: str, by: str) -> dict:
        flow = self.flow
        now = utcnow()
        detail = {"by": by, "agent_id": flow.agent_id, "agent_channel": flow.agent_channel,
                  "held_channel": flow.call.caller_channel_id}
        if kind == "resume" and self.state.since is not None:
            detail["held_seconds"] = round((now - self.state.since).total_seconds(), 3)
        self.state = HoldState(True, by, now) if kind == "hold" else HoldState()
        flow.write(records.add_event, flow.call.id, kind, detail, at=now)
        flow.log.info(f"call_{kind}", by=by, agent_id=flow.agent_id)
        event = {"type": "call_hold", "call_id": flow.call.id, "agent_id": flow.agent_id,
                 "held": kind == "hold", "by": by, "at": now.isoformat()}
        flow.engine.bus.publish(event)
        return event


def attach(flow: CallFlow) -> HoldControl:
    """Make the flow's hold control and register it as one more listener of the call."""
    control = HoldControl(flow)
    flow.hold = control
    flow.call.listeners.append(control.on_message)
    return control


class CallControl:
    """What the web side calls: each request becomes a message to the call's actor, and the
    answer comes back on a future (so requests and the call's events never interleave)."""

    def __init__(self, engine):
        self.engine = engine

    async def ask(self, call_id: str, action: str, timeout: float = 8.0, **data) -> dict:
        reply = asyncio.get_running_loop().create_future()
        if not self.engine.dispatcher.post(call_id, {"type": HOLD, "action": action, "reply": reply, **data}):
            raise CallControlError(404, "not_found", f"call {call_id} is not live")
        try:
            return await asyncio.wait_for(reply, timeout)
        except TimeoutError:
            raise CallControlError(504, "timeout", f"call {call_id} did not answer in time") from None

    def on_hold(self, call_id: str | None) -> bool:
        """Whether the live call is on hold now (read on the event loop, for the desktop)."""
        live = self.engine.calls.get(call_id or "")
        control = getattr(getattr(live, "flow", None), "hold", None)
        return bool(control and control.state.held)

    async def hold(self, call_id: str, agent_id: int | None = None, by: str = "desktop") -> dict:
        return await self.ask(call_id, "hold", agent_id=agent_id, by=by)

    async def resume(self, call_id: str, agent_id: int | None = None, by: str = "desktop") -> dict:
        return await self.ask(call_id, "resume", agent_id=agent_id, by=by)

    async def answer_waiting(self, call_id: str, agent_id: int) -> dict:
        return await self.ask(call_id, "answer_waiting", timeout=15.0, agent_id=agent_id)
