"""Agent state persistence: blocking writes, run through the serial writer."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from ..store import models as m
from ..store.session import session_scope
from . import state as st


def save_state_change(db_url: str, agent_id: int, from_state: str, new: st.AgentState, effects: tuple[str, ...],
                      department_id: int | None = None, reason: str = "",
                      termination_code: str | None = None, ended_call_id: str | None = None) -> None:
    """Store the agent's current state, append the change to its history, apply effects."""
    with session_scope(db_url) as session:
        presence = session.get(m.AgentPresence, agent_id) or m.AgentPresence(agent_id=agent_id)
        presence.state = new.state
        presence.since = new.since
        presence.break_code = new.break_code
        presence.call_id = new.call_id
        if department_id is not None:
            presence.department_id = department_id
        if new.state == st.OFFLINE:
            presence.department_id = None
        session.add(presence)
        session.add(m.AgentStateChange(agent_id=agent_id, at=new.since, from_state=from_state, state=new.state,
                                       break_code=new.break_code, call_id=new.call_id, reason=reason))
        if st.COUNT_ANSWERED in effects:
            agent = session.get(m.Agent, agent_id)
            if agent is not None:
                agent.calls_answered += 1
                session.add(agent)
        if st.RECORD_TERMINATION in effects and ended_call_id and termination_code:
            record = session.get(m.CallRecord, ended_call_id)
            if record is not None:
                record.termination_code = termination_code
                session.add(record)


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
