"""The agent state machine: pure, no I/O, every transition explicit.

States (what the desktop's status shows and what routing reads):

    offline    signed out
    ready      available: routing may offer a call
    not_ready  signed in but out of the pool, with a break code (or none straight after
               sign-in, when the service does not put agents Ready at once)
    ringing    reserved for one offered call; no other call is offered meanwhile
    in_call    talking (answered an offer, or connected straight in on a persistent path)
    wrap_up    after-call work, closed with a termination code

Why a table of transitions and not methods on an object: the table is the whole truth, it
can be printed for the docs and walked exhaustively by the tests (every state x every
event, valid and invalid), and an invalid event raises without touching anything.

`apply(state, event, now)` returns a new `AgentState` and the list of effects the caller
must carry out (count an answered call, withdraw an offer). The caller persists the change
and records it with its timestamp so time in each state can be reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

OFFLINE, READY, NOT_READY, RINGING, IN_CALL, WRAP_UP = (
    "offline", "ready", "not_ready", "ringing", "in_call", "wrap_up",
)
STATES = (OFFLINE, READY, NOT_READY, RINGING, IN_CALL, WRAP_UP)

# Effects the caller carries out after a transition.
COUNT_ANSWERED = "count_answered"
WITHDRAW_OFFER = "withdraw_offer"
RECORD_TERMINATION = "record_termination"


class InvalidTransition(ValueError):
    """The event is not allowed in the current state. Nothing changed."""

    def __init__(self, state: str, event: str, reason: str):
        self.state = state
        self.event = event
        self.reason = reason
        super().__init__(f"cannot {event.replace('_', ' ')} while {state.replace('_', ' ')}: {reason}")


@dataclass(frozen=True)
class AgentState:
    state: str = OFFLINE
    since: datetime | None = None
    break_code: str | None = None
    call_id: str | None = None

    @property
    def available(self) -> bool:
        return self.state == READY


@dataclass(frozen=True)
class Event:
    """An event with its arguments; build them with the helpers below."""

    name: str
    break_code: str | None = None
    call_id: str | None = None
    termination_code: str | None = None
    ready_after: bool = False
    admin_status: str = "active"
    wrap_up: bool = True
    from_call: str | None = None  # take_over: the call the agent was on
    extra: dict = field(default_factory=dict)


def sign_in(ready_after_sign_in: bool, admin_status: str = "active") -> Event:
    return Event("sign_in", ready_after=ready_after_sign_in, admin_status=admin_status)


def sign_out() -> Event:
    return Event("sign_out")


def set_ready() -> Event:
    return Event("set_ready")


def set_not_ready(break_code: str | None) -> Event:
    return Event("set_not_ready", break_code=break_code)


def offer(call_id: str) -> Event:
    return Event("offer", call_id=call_id)


def offer_failed(call_id: str) -> Event:
    return Event("offer_failed", call_id=call_id)


def answer(call_id: str) -> Event:
    return Event("answer", call_id=call_id)


def connect(call_id: str) -> Event:
    """A call connected straight in on a persistent audio path: Ready -> In Call at once."""
    return Event("connect", call_id=call_id)


def call_ended(call_id: str, wrap_up: bool = True) -> Event:
    return Event("call_ended", call_id=call_id, wrap_up=wrap_up)


def take_over(call_id: str, from_call: str) -> Event:
    """The agent's call is joined to another call and goes on there (a phone's attended
    transfer: the agent's far end takes the transferring agent's caller): In Call stays
    In Call, on `call_id`."""
    return Event("take_over", call_id=call_id, from_call=from_call)


def finish_wrap_up(termination_code: str | None, ready: bool = True, break_code: str | None = None) -> Event:
    return Event("finish_wrap_up", termination_code=termination_code, ready_after=ready, break_code=break_code)


EVENTS = ("sign_in", "sign_out", "set_ready", "set_not_ready", "offer", "offer_failed", "answer", "connect",
          "call_ended", "take_over", "finish_wrap_up")


def apply(current: AgentState, event: Event, now: datetime) -> tuple[AgentState, list[str]]:
    """Return (new state, effects) or raise InvalidTransition without changing anything."""
    handler = _HANDLERS.get(event.name)
    if handler is None:
        raise InvalidTransition(current.state, event.name, "unknown event")
    return handler(current, event, now)


def _to(current: AgentState, state: str, now: datetime, **changes) -> AgentState:
    return replace(current, state=state, since=now, break_code=changes.get("break_code"),
                   call_id=changes.get("call_id"))


def _refuse(current: AgentState, event: Event, reason: str):
    raise InvalidTransition(current.state, event.name, reason)


def _sign_in(cur, ev, now):
    if cur.state != OFFLINE:
        _refuse(cur, ev, "already signed in")
    if ev.admin_status != "active":
        _refuse(cur, ev, f"the agent is {ev.admin_status}")
    return _to(cur, READY if ev.ready_after else NOT_READY, now), []


def _sign_out(cur, ev, now):
    if cur.state == OFFLINE:
        _refuse(cur, ev, "not signed in")
    if cur.state == IN_CALL:
        _refuse(cur, ev, "hang up the call first")
    effects = [WITHDRAW_OFFER] if cur.state == RINGING else []
    return _to(cur, OFFLINE, now), effects


def _set_ready(cur, ev, now):
    if cur.state == READY:
        _refuse(cur, ev, "already ready")
    if cur.state not in (NOT_READY,):
        reason = {
            OFFLINE: "sign in first",
            RINGING: "a call is being offered",
            IN_CALL: "on a call",
            WRAP_UP: "close wrap-up with a termination code",
        }[cur.state]
        _refuse(cur, ev, reason)
    return _to(cur, READY, now), []


def _set_not_ready(cur, ev, now):
    if cur.state == OFFLINE:
        _refuse(cur, ev, "sign in first")
    if cur.state == IN_CALL:
        _refuse(cur, ev, "on a call")
    if cur.state == WRAP_UP:
        _refuse(cur, ev, "close wrap-up with a termination code")
    if cur.state == NOT_READY and cur.break_code == ev.break_code:
        _refuse(cur, ev, "already not ready with that break code")
    effects = [WITHDRAW_OFFER] if cur.state == RINGING else []
    return _to(cur, NOT_READY, now, break_code=ev.break_code), effects


def _offer(cur, ev, now):
    if not ev.call_id:
        _refuse(cur, ev, "no call given")
    if cur.state != READY:
        _refuse(cur, ev, "the agent is not ready")
    return _to(cur, RINGING, now, call_id=ev.call_id), []


def _offer_failed(cur, ev, now):
    if cur.state != RINGING or cur.call_id != ev.call_id:
        _refuse(cur, ev, "that call is not being offered to this agent")
    return _to(cur, READY, now), []


def _answer(cur, ev, now):
    if cur.state != RINGING or cur.call_id != ev.call_id:
        _refuse(cur, ev, "that call is not being offered to this agent")
    return _to(cur, IN_CALL, now, call_id=ev.call_id), [COUNT_ANSWERED]


def _connect(cur, ev, now):
    if not ev.call_id:
        _refuse(cur, ev, "no call given")
    if cur.state not in (READY, RINGING) or (cur.state == RINGING and cur.call_id != ev.call_id):
        _refuse(cur, ev, "the agent is not ready")
    return _to(cur, IN_CALL, now, call_id=ev.call_id), [COUNT_ANSWERED]


def _call_ended(cur, ev, now):
    if cur.state != IN_CALL or cur.call_id != ev.call_id:
        _refuse(cur, ev, "the agent is not on that call")
    if ev.wrap_up:
        return _to(cur, WRAP_UP, now, call_id=ev.call_id), []
    return _to(cur, READY, now), []


def _take_over(cur, ev, now):
    if cur.state != IN_CALL or cur.call_id != ev.from_call or not ev.call_id:
        _refuse(cur, ev, "the agent is not on that call")
    return _to(cur, IN_CALL, now, call_id=ev.call_id), []


def _finish_wrap_up(cur, ev, now):
    if cur.state != WRAP_UP:
        _refuse(cur, ev, "not in wrap-up")
    if not ev.termination_code:
        _refuse(cur, ev, "a termination code is required")
    effects = [RECORD_TERMINATION]
    if ev.ready_after:
        return _to(cur, READY, now), effects
    return _to(cur, NOT_READY, now, break_code=ev.break_code), effects


_HANDLERS = {
    "sign_in": _sign_in,
    "sign_out": _sign_out,
    "set_ready": _set_ready,
    "set_not_ready": _set_not_ready,
    "offer": _offer,
    "offer_failed": _offer_failed,
    "answer": _answer,
    "connect": _connect,
    "call_ended": _call_ended,
    "take_over": _take_over,
    "finish_wrap_up": _finish_wrap_up,
}
