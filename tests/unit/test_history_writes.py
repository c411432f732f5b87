"""The engine's history writes (SQL statements, not the ORM's unit of work) on a real SQLite
database and a real PostgreSQL (a throw-away cluster on loopback, as production runs it):
what they store, and that a bad value is still refused by the record's own check and writes
nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from engine.agents import records as agent_records
from engine.agents import state as st
from engine.calls import records
from engine.calls.model import LiveCall, LiveLeg
from engine.store import models as m
from engine.store.errors import ValidationError
from engine.store.migrate import upgrade
from engine.store.seed import seed_demo
from engine.store.session import session_scope
from tests.pg_helpers import postgres_cluster

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres():
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def demo_db(request, db_url):
    """The demo data set in a fresh database of each kind."""
    if request.param == "postgresql":
        import psycopg

        server = request.getfixturevalue("postgres")
        name = f"history_{request.node.name.split('[')[0][-40:]}".lower()
        with psycopg.connect(server.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        db_url = server.rsplit("/", 1)[0] + f"/{name}"
        upgrade(db_url)
    with session_scope(db_url) as session:
        seed_demo(session)
    return db_url


def utc(value: datetime | None) -> datetime | None:
    """A stored time as UTC without its zone: SQLite drops the zone, PostgreSQL keeps it."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def at(seconds: int) -> datetime:
    """T0 + seconds, UTC without the zone (compare with `utc(value)`)."""
    return (T0 + timedelta(seconds=seconds)).replace(tzinfo=None)


def first_agent(url: str) -> int:
    with session_scope(url) as s:
        return s.exec(select(m.Agent.id).order_by(m.Agent.id)).first()


def new_call(url: str, call_id: str = "c1") -> None:
    call = LiveCall(id=call_id, direction="inbound", caller_channel_id="ch-caller", caller_number="+447911123458",
                    caller_name="Ann", inbound_number="+442071838750", started_at=T0)
    call.legs["ch-caller"] = LiveLeg("ch-caller", "caller", endpoint="trunk")
    records.create_call(url, records.NewCall.of(call))


def test_a_call_history_written_with_statements_reads_back_whole(demo_db):
    agent = first_agent(demo_db)
    new_call(demo_db)
    records.apply_steps(demo_db, "c1", [
        ("leg", {"channel_id": "ch-agent", "role": "agent", "agent_id": agent, "started_at": T0}),
        ("event", {"kind": "offered", "detail": {"agent_id": agent}, "at": T0}),
        ("leg_update", {"channel_id": "ch-agent", "answered_at": T0 + timedelta(seconds=3)}),
        ("connected", {"agent_id": agent, "department_id": None, "answered_at": T0 + timedelta(seconds=3)}),
    ])
    records.update_leg(demo_db, "c1", "ch-agent", answered_at=T0 + timedelta(seconds=9))  # kept: already set
    records.add_event(demo_db, "c1", "hold", {"by": "desktop"}, at=T0 + timedelta(seconds=5))
    records.add_event(demo_db, "nope", "hold")  # an unknown call: nothing written
    assert records.close_call(demo_db, "c1", ended_at=T0 + timedelta(seconds=60), outcome="answered",
                              causes={"ch-agent": 16}) is True
    assert records.close_call(demo_db, "c1", ended_at=T0 + timedelta(seconds=99)) is False  # closed stays closed
    with session_scope(demo_db) as s:
        rec = s.get(m.CallRecord, "c1")
        assert (rec.agent_id, rec.outcome, utc(rec.ended_at), utc(rec.answered_at)) == (
            agent, "answered", at(60), at(3))
        legs = {leg.channel_id: leg for leg in s.exec(select(m.CallLeg).where(m.CallLeg.call_id == "c1"))}
        assert legs["ch-caller"].endpoint == "trunk" and utc(legs["ch-caller"].ended_at) == at(60)
        assert utc(legs["ch-agent"].answered_at) == at(3) and legs["ch-agent"].hangup_cause == 16
        events = s.exec(select(m.CallEvent).where(m.CallEvent.call_id == "c1").order_by(m.CallEvent.at)).all()
        assert [(e.kind, e.detail) for e in events] == [("offered", {"agent_id": agent}), ("hold", {"by": "desktop"})]
        assert s.exec(select(m.CallEvent).where(m.CallEvent.call_id == "nope")).all() == []


def test_a_bad_value_is_refused_by_the_records_check_and_nothing_is_written(demo_db):
    new_call(demo_db)
    with pytest.raises(ValidationError) as info:
        records.apply_steps(demo_db, "c1", [("event", {"kind": "fine"}), ("leg", {"channel_id": "x", "role": "boss"})])
    assert info.value.field == "role" and "call_leg" in str(info.value)
    with pytest.raises(ValueError, match="no column colour"):
        records.update_call(demo_db, "c1", colour="red")
    with session_scope(demo_db) as s:  # the step before the bad one was rolled back with it
        assert s.exec(select(m.CallEvent).where(m.CallEvent.call_id == "c1")).all() == []
        assert len(s.exec(select(m.CallLeg).where(m.CallLeg.call_id == "c1")).all()) == 1


def test_state_changes_keep_presence_history_and_counters(demo_db):
    agent = first_agent(demo_db)
    new_call(demo_db)
    ringing = st.AgentState(state=st.RINGING, since=T0, call_id="c1")
    agent_records.save_state_change(demo_db, agent, st.READY, ringing, (), department_id=None, reason="offer")
    in_call = st.AgentState(state=st.IN_CALL, since=T0 + timedelta(seconds=3), call_id="c1")
    agent_records.save_state_change(demo_db, agent, st.RINGING, in_call, (st.COUNT_ANSWERED,), reason="answer")
    ready = st.AgentState(state=st.READY, since=T0 + timedelta(seconds=90))
    agent_records.save_state_change(demo_db, agent, st.WRAP_UP, ready, (st.RECORD_TERMINATION,), reason="wrap_up",
                                    termination_code="resolved", ended_call_id="c1")
    with pytest.raises(ValidationError) as info:
        agent_records.save_state_change(demo_db, agent, st.READY, st.AgentState(state="napping", since=T0), ())
    assert info.value.field == "state"
    with session_scope(demo_db) as s:
        presence = s.get(m.AgentPresence, agent)
        assert (presence.state, utc(presence.since), presence.call_id) == (st.READY, at(90), None)
        history = s.exec(select(m.AgentStateChange).where(m.AgentStateChange.agent_id == agent)
                         .order_by(m.AgentStateChange.at)).all()
        assert [(h.from_state, h.state, h.reason) for h in history] == [
            (st.READY, st.RINGING, "offer"), (st.RINGING, st.IN_CALL, "answer"), (st.WRAP_UP, st.READY, "wrap_up")]
        assert s.get(m.Agent, agent).calls_answered == 1
        assert s.get(m.CallRecord, "c1").termination_code == "resolved"
