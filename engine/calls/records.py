"""Call history writes for the live call model. Blocking (SQLAlchemy): run them through the
engine's serial writer (engine/store/writer.py), never directly in the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as sql_select
from sqlalchemy import update
from sqlmodel import select

from engine.store.calls import CallEvent, CallLeg, CallRecord
from engine.store.fields import utcnow
from engine.store.session import insert_checked, make_engine, session_scope

from .model import LiveCall


RECORD, LEG = CallRecord.__table__, CallLeg.__table__


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
    with make_engine(db_url).begin() as conn:
        insert_checked(conn, CallRecord,
                       id=call.id, direction=call.direction, caller_number=call.caller_number,
                       caller_name=call.caller_name, inbound_number=call.inbound_number,
                       outcome=call.outcome, started_at=call.started_at)
        for channel_id, role, endpoint in call.legs:
            insert_checked(conn, CallLeg, call_id=call.id, channel_id=channel_id, role=role,
                           endpoint=endpoint, started_at=call.started_at)


def close_call(db_url: str, call_id: str, *, ended_at: datetime | None = None, outcome: str = "abandoned",
               causes: dict[str, int | None] | None = None) -> bool:
    """Close a call and its open legs. A call already closed keeps its end time and
    outcome. Returns True when it changed something."""
    ended_at = ended_at or utcnow()
    causes = causes or {}
    changed = False
    with make_engine(db_url).begin() as conn:
        record = conn.execute(sql_select(RECORD.c.ended_at, RECORD.c.outcome).where(RECORD.c.id == call_id)).first()
        if record is None:
            return False
        if record.ended_at is None:
            conn.execute(update(RECORD).where(RECORD.c.id == call_id).values(
                ended_at=ended_at, outcome=outcome if record.outcome == "in_progress" else record.outcome))
            changed = True
        open_legs = conn.execute(sql_select(LEG.c.id, LEG.c.channel_id)
                                 .where(LEG.c.call_id == call_id, LEG.c.ended_at.is_(None))).all()
        for leg_id, channel_id in open_legs:
            values = {"ended_at": ended_at}
            if causes.get(channel_id) is not None:
                values["hangup_cause"] = causes[channel_id]
            conn.execute(update(LEG).where(LEG.c.id == leg_id).values(**values))
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
# In SQL statements on one connection, not through the ORM's unit of work: a call makes
# about ten of these, and load-modify-flush cost about 2 ms of CPU each (the writer process
# was busier than Asterisk; bench/routing_latency.py). New rows still pass their record's
# own `check_fields()` (`insert_checked`).

def update_call(db_url: str, call_id: str, **fields) -> None:
    """Set columns of a CallRecord (agent_id, department_id, answered_at, ...)."""
    unknown = set(fields) - set(RECORD.c.keys())
    if unknown:
        raise ValueError(f"call_record has no column {', '.join(sorted(unknown))}")
    with make_engine(db_url).begin() as conn:
        conn.execute(update(RECORD).where(RECORD.c.id == call_id).values(**fields))


def add_event(db_url: str, call_id: str, kind: str, detail: dict | None = None, at: datetime | None = None) -> None:
    """Append one entry to the call's timeline."""
    with make_engine(db_url).begin() as conn:
        if _exists(conn, call_id):
            _event(conn, call_id, kind, detail, at)


def apply_steps(db_url: str, call_id: str, steps: list[tuple[str, dict]]) -> None:
    """Several writes of one call in one transaction (one commit instead of one each).

    `steps` are (function name, keyword arguments) of the writers below that take a
    connection: `event`, `leg`, `leg_update`, `connected`. Used for the writes that happen
    together (an offer: its leg and its timeline entry), since each commit costs more
    than the rows it writes.
    """
    with make_engine(db_url).begin() as conn:
        if not _exists(conn, call_id):
            return
        for name, kwargs in steps:
            _STEPS[name](conn, call_id, **kwargs)


def _exists(conn, call_id: str) -> bool:
    return conn.execute(sql_select(RECORD.c.id).where(RECORD.c.id == call_id)).first() is not None


def _event(conn, call_id, kind, detail=None, at=None):
    insert_checked(conn, CallEvent, call_id=call_id, kind=kind, detail=detail or {}, at=at or utcnow())


def _leg(conn, call_id, channel_id, role, endpoint=None, agent_id=None, started_at=None):
    insert_checked(conn, CallLeg, call_id=call_id, channel_id=channel_id, role=role, endpoint=endpoint,
                   agent_id=agent_id, started_at=started_at or utcnow())


def _leg_update(conn, call_id, channel_id, answered_at=None, ended_at=None, hangup_cause=None):
    """Fill in when a leg was answered / ended; a time already set is kept."""
    this_leg = (LEG.c.call_id == call_id) & (LEG.c.channel_id == channel_id)
    if answered_at is not None:
        conn.execute(update(LEG).where(this_leg, LEG.c.answered_at.is_(None)).values(answered_at=answered_at))
    if ended_at is not None:
        conn.execute(update(LEG).where(this_leg, LEG.c.ended_at.is_(None)).values(ended_at=ended_at,
                                                                                  hangup_cause=hangup_cause))


def _connected(conn, call_id, agent_id, department_id, answered_at):
    _connect(conn, call_id, agent_id, department_id, answered_at)


_STEPS = {"event": _event, "leg": _leg, "leg_update": _leg_update, "connected": _connected}


def add_leg(db_url: str, call_id: str, channel_id: str, role: str, *, endpoint: str | None = None,
            agent_id: int | None = None, started_at: datetime | None = None) -> None:
    with make_engine(db_url).begin() as conn:
        if _exists(conn, call_id):
            _leg(conn, call_id, channel_id, role, endpoint, agent_id, started_at)


def update_leg(db_url: str, call_id: str, channel_id: str, *, answered_at: datetime | None = None,
               ended_at: datetime | None = None, hangup_cause: int | None = None) -> None:
    with make_engine(db_url).begin() as conn:
        _leg_update(conn, call_id, channel_id, answered_at, ended_at, hangup_cause)


def connect_call(db_url: str, call_id: str, agent_id: int, department_id: int | None, answered_at: datetime) -> None:
    """The call was answered by `agent_id`: who, when, and the contact the number matches.

    A number with exactly one contact is associated at once (`contact_id` and
    `original_contact_id`); several matches stay unassociated (the desktop's Multi-Match
    list); the agent may associate or re-associate later (`engine.routing.contacts`).
    """
    with make_engine(db_url).begin() as conn:
        _connect(conn, call_id, agent_id, department_id, answered_at)


def _connect(conn, call_id: str, agent_id: int, department_id: int | None, answered_at: datetime) -> None:
    from engine.store.contacts import ContactPhone

    record = conn.execute(sql_select(RECORD.c.department_id, RECORD.c.answered_at, RECORD.c.contact_id,
                                 RECORD.c.caller_number).where(RECORD.c.id == call_id)).first()
    if record is None:
        return
    values = {"agent_id": agent_id, "answered_at": record.answered_at or answered_at,
              "department_id": department_id if department_id is not None else record.department_id}
    if record.contact_id is None and record.caller_number:
        phones = ContactPhone.__table__
        ids = sorted(set(conn.execute(sql_select(phones.c.contact_id)
                                      .where(phones.c.number == record.caller_number)).scalars()))
        if len(ids) == 1:
            values["contact_id"] = values["original_contact_id"] = ids[0]
    conn.execute(update(RECORD).where(RECORD.c.id == call_id).values(**values))
