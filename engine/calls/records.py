"""Call history writes for the live call model. Blocking (SQLAlchemy): run them with
`asyncio.to_thread` from the event loop, never directly in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from engine.store.calls import CallLeg, CallRecord
from engine.store.fields import utcnow
from engine.store.session import session_scope

from .model import LiveCall


def create_call(db_url: str, call: LiveCall) -> None:
    """Write the CallRecord and one CallLeg per known leg."""
    with session_scope(db_url) as session:
        session.add(CallRecord(
            id=call.id, direction=call.direction, caller_number=call.caller_number,
            caller_name=call.caller_name, inbound_number=call.inbound_number,
            outcome=call.outcome, started_at=call.started_at,
        ))
        session.flush()
        for leg in call.legs.values():
            session.add(CallLeg(call_id=call.id, channel_id=leg.channel_id, role=leg.role,
                                endpoint=leg.endpoint, started_at=call.started_at))


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
