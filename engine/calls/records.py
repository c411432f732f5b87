"""Call history writes for the live call model. Blocking (SQLAlchemy): run them with
`asyncio.to_thread` from the event loop, never directly in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from engine.store.calls import CallEvent, CallLeg, CallRecord
from engine.store.fields import utcnow
from engine.store.session import session_scope

from .model import LiveCall


@dataclass(frozen=True)
class NewCall:
    """What `create_call` writes, taken from the live call when it starts: plain values, so
    the job can cross to the writer process and later changes to the call do not leak in."""

    id: str
    direction: str
    caller_number: str | None
    caller_name: str | None
    inbound_number: str | None
    outcome: str
    started_at: datetime
    legs: tuple[tuple[str, str, str | None], ...]  # (channel id, role, endpoint)

    @classmethod
    def of(cls, call: LiveCall) -> NewCall:
        return cls(call.id, call.direction, call.caller_number, call.caller_name, call.inbound_number, call.outcome,
                   call.started_at, tuple((leg.channel_id, leg.role, leg.endpoint) for leg in call.legs.values()))


def create_call(db_url: str, call: NewCall) -> None:
    """Write the CallRecord and one CallLeg per known leg."""
    with session_scope(db_url) as session:
        session.add(CallRecord(
            id=call.id, direction=call.direction, caller_number=call.caller_number,
            caller_name=call.caller_name, inbound_number=call.inbound_number,
            outcome=call.outcome, started_at=call.started_at,
        ))
        session.flush()
        for channel_id, role, endpoint in call.legs:
            session.add(CallLeg(call_id=call.id, channel_id=channel_id, role=role,
                                endpoint=endpoint, started_at=call.started_at))


def close_call(db_url: str, call_id: str, *, ended_at: datetime | None = None, outcome: str = "abandoned",
               causes: dict[str, int | None] | None = None) -> bool:
    """Close a call and its open legs. A call already closed keeps its end time and
    outcome. Returns True when it changed something."""
    ended_at = ended_at or utcnow()
    causes = causes or {}
    changed = False
    with session_scope(db_url) as session:
        record = session.get(CallRecord, call_id)
        if record is None:
            return False
        if record.ended_at is None:
            record.ended_at = ended_at
            if record.outcome == "in_progress":
                record.outcome = outcome
            session.add(record)
            changed = True
        for leg in session.exec(select(CallLeg).where(CallLeg.call_id == call_id, CallLeg.ended_at.is_(None))):
            leg.ended_at = ended_at
            if causes.get(leg.channel_id) is not None:
                leg.hangup_cause = causes[leg.channel_id]
            session.add(leg)
            changed = True
    return changed


@dataclass(frozen=True)
class OpenCall:
    call_id: str
    caller_channel_id: str
    direction: str
    inbound_number: str | None
    caller_number: str | None
    caller_name: str | None
    started_at: datetime


def open_calls(db_url: str) -> list[OpenCall]:
    """Calls the history says are still up, with their caller leg's channel."""
    with session_scope(db_url) as session:
        rows = session.exec(
            select(CallRecord, CallLeg)
            .join(CallLeg, CallLeg.call_id == CallRecord.id)
            .where(CallRecord.ended_at.is_(None), CallLeg.role == "caller")
        ).all()
        return [OpenCall(r.id, leg.channel_id, r.direction, r.inbound_number, r.caller_number, r.caller_name,
                         r.started_at) for r, leg in rows]


# ---- routing writes (run through the engine's serial writer, in order) -------------------

def update_call(db_url: str, call_id: str, **fields) -> None:
    """Set columns of a CallRecord (agent_id, department_id, answered_at, ...)."""
    with session_scope(db_url) as session:
        record = session.get(CallRecord, call_id)
        if record is None:
            return
        for name, value in fields.items():
            setattr(record, name, value)
        session.add(record)


def add_event(db_url: str, call_id: str, kind: str, detail: dict | None = None, at: datetime | None = None) -> None:
    """Append one entry to the call's timeline."""
    with session_scope(db_url) as session:
        if session.get(CallRecord, call_id) is None:
            return
        session.add(CallEvent(call_id=call_id, kind=kind, detail=detail or {}, at=at or utcnow()))


def apply_steps(db_url: str, call_id: str, steps: list[tuple[str, dict]]) -> None:
    """Several writes of one call in one transaction (one commit instead of one each).

    `steps` are (function name, keyword arguments) of the writers below that take a
    session: `event`, `leg`, `leg_update`, `connected`. Used for the writes that happen
    together (an offer: its leg and its timeline entry), since each commit costs more
    than the rows it writes.
    """
    with session_scope(db_url) as session:
        if session.get(CallRecord, call_id) is None:
            return
        for name, kwargs in steps:
            _STEPS[name](session, call_id, **kwargs)


def _event(session, call_id, kind, detail=None, at=None):
    session.add(CallEvent(call_id=call_id, kind=kind, detail=detail or {}, at=at or utcnow()))


def _leg(session, call_id, channel_id, role, endpoint=None, agent_id=None, started_at=None):
    session.add(CallLeg(call_id=call_id, channel_id=channel_id, role=role, endpoint=endpoint, agent_id=agent_id,
                        started_at=started_at or utcnow()))


def _leg_update(session, call_id, channel_id, answered_at=None, ended_at=None, hangup_cause=None):
    for leg in session.exec(select(CallLeg).where(CallLeg.call_id == call_id, CallLeg.channel_id == channel_id)):
        if answered_at is not None and leg.answered_at is None:
            leg.answered_at = answered_at
        if ended_at is not None and leg.ended_at is None:
            leg.ended_at = ended_at
            leg.hangup_cause = hangup_cause
        session.add(leg)


def _connected(session, call_id, agent_id, department_id, answered_at):
    _connect(session, session.get(CallRecord, call_id), agent_id, department_id, answered_at)


_STEPS = {"event": _event, "leg": _leg, "leg_update": _leg_update, "connected": _connected}


def add_leg(db_url: str, call_id: str, channel_id: str, role: str, *, endpoint: str | None = None,
            agent_id: int | None = None, started_at: datetime | None = None) -> None:
    with session_scope(db_url) as session:
        if session.get(CallRecord, call_id) is None:
            return
        _leg(session, call_id, channel_id, role, endpoint, agent_id, started_at)


def update_leg(db_url: str, call_id: str, channel_id: str, *, answered_at: datetime | None = None,
               ended_at: datetime | None = None, hangup_cause: int | None = None) -> None:
    with session_scope(db_url) as session:
        _leg_update(session, call_id, channel_id, answered_at, ended_at, hangup_cause)


def connect_call(db_url: str, call_id: str, agent_id: int, department_id: int | None, answered_at: datetime) -> None:
    """The call was answered by `agent_id`: who, when, and the contact the number matches.

    A number with exactly one contact is associated at once (`contact_id` and
    `original_contact_id`); several matches stay unassociated (the desktop's Multi-Match
    list); the agent may associate or re-associate later (`engine.routing.contacts`).
    """
    with session_scope(db_url) as session:
        record = session.get(CallRecord, call_id)
        if record is not None:
            _connect(session, record, agent_id, department_id, answered_at)


def _connect(session, record: CallRecord, agent_id: int, department_id: int | None, answered_at: datetime) -> None:
    from engine.store.contacts import ContactPhone

    record.agent_id = agent_id
    record.department_id = department_id if department_id is not None else record.department_id
    record.answered_at = record.answered_at or answered_at
    if record.contact_id is None and record.caller_number:
        ids = sorted(set(session.exec(select(ContactPhone.contact_id)
                                      .where(ContactPhone.number == record.caller_number)).all()))
        if len(ids) == 1:
            record.contact_id = record.original_contact_id = ids[0]
    session.add(record)
