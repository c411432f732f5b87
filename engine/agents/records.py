"""Agent state persistence: blocking writes, run through the serial writer."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, update
from sqlmodel import select

from ..store import models as m
from ..store.calls import CallRecord
from ..store.directory import AGENT_STATES
from ..store.fields import require_choice
from ..store.session import make_engine, session_scope
from . import state as st


def save_state_change(db_url: str, agent_id: int, from_state: str, new: st.AgentState, effects: tuple[str, ...],
                      department_id: int | None = None, reason: str = "",
                      termination_code: str | None = None, ended_call_id: str | None = None) -> None:
    """Store the agent's current state, append the change to its history, apply effects.

    In SQL statements, not through the ORM: this runs four or five times a call (Ringing,
    In Call, Wrap-up, Ready) and the ORM's load-modify-flush of the same rows cost about
    2 ms of CPU each time (bench/routing_latency.py). The values are checked as the
    records' own validation would (`check_state_values`), and only the engine writes here.
    """
    check_state_values(new.state, from_state)
    presence = m.AgentPresence.__table__
    values = {"state": new.state, "since": new.since, "break_code": new.break_code, "call_id": new.call_id}
    if department_id is not None:
        values["department_id"] = department_id
    if new.state == st.OFFLINE:
        values["department_id"] = None
    with make_engine(db_url).begin() as conn:
        updated = conn.execute(update(presence).where(presence.c.agent_id == agent_id).values(**values)).rowcount
        if not updated:
            conn.execute(insert(presence).values(agent_id=agent_id, **values))
        conn.execute(insert(m.AgentStateChange.__table__).values(
            agent_id=agent_id, at=new.since, from_state=from_state, state=new.state, break_code=new.break_code,
            call_id=new.call_id, reason=reason))
        if st.COUNT_ANSWERED in effects:
            agent = m.Agent.__table__
            conn.execute(update(agent).where(agent.c.id == agent_id).values(calls_answered=agent.c.calls_answered + 1))
        if st.RECORD_TERMINATION in effects and ended_call_id and termination_code:
            record = CallRecord.__table__
            conn.execute(update(record).where(record.c.id == ended_call_id).values(termination_code=termination_code))


def check_state_values(state: str, from_state: str) -> None:
    """What `AgentPresence` / `AgentStateChange.check_fields` would refuse."""
    require_choice(state, "state", AGENT_STATES)
    require_choice(from_state, "from_state", AGENT_STATES)


def calls_answered_since(db_url: str, days: int, now: datetime) -> dict[int, int]:
    """Calls answered per agent over the last `days` days (the dashboard's filter)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    cutoff = now - timedelta(days=days)
    with session_scope(db_url) as session:
        rows = session.exec(
            select(m.CallRecord.agent_id, func.count())
            .where(m.CallRecord.agent_id.is_not(None), m.CallRecord.answered_at.is_not(None),
                   m.CallRecord.answered_at >= cutoff)
            .group_by(m.CallRecord.agent_id)
        ).all()
    return {agent_id: count for agent_id, count in rows}


def time_in_state(db_url: str, agent_id: int, start: datetime, end: datetime) -> dict[str, float]:
    """Seconds spent in each state between `start` and `end`, from the history."""
    with session_scope(db_url) as session:
        before = session.exec(
            select(m.AgentStateChange).where(m.AgentStateChange.agent_id == agent_id, m.AgentStateChange.at < start)
            .order_by(m.AgentStateChange.at.desc(), m.AgentStateChange.id.desc())
        ).first()
        changes = session.exec(
            select(m.AgentStateChange).where(m.AgentStateChange.agent_id == agent_id,
                                             m.AgentStateChange.at >= start, m.AgentStateChange.at < end)
            .order_by(m.AgentStateChange.at, m.AgentStateChange.id)
        ).all()
    totals: dict[str, float] = {}
    current, since = (before.state if before else st.OFFLINE), start
    for change in changes:
        at = _aware(change.at)
        totals[current] = totals.get(current, 0.0) + (at - since).total_seconds()
        current, since = change.state, at
    totals[current] = totals.get(current, 0.0) + (end - since).total_seconds()
    return {k: v for k, v in totals.items() if v > 0}


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for stored UTC values: make them aware again."""
    from datetime import timezone

    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
