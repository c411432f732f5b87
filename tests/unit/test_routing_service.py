"""The routing service with a real database: agent actions are validated, stored in order
with timestamps, counted, and published; call commands reach the executor."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from engine.agents import records as agent_records
from engine.routing.dispatcher import Connect, Offer, Wait
from engine.routing.service import AgentActionError, RoutingService
from engine.store import models as m
from engine.store.session import session_scope


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now

    def tick(self, seconds):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def svc(demo_db):
    clock = Clock()
    published, executed = [], []
    service = RoutingService(demo_db, publish=published.append, executor=executed.append, clock=clock)
    service.load()
    service.published, service.executed, service.clock_ = published, executed, clock
    return service


def ids(db):
    with session_scope(db) as s:
        agents = {a.username: a.id for a in s.exec(select(m.Agent)).all()}
        depts = {d.name: d.id for d in s.exec(select(m.Department)).all()}
    return agents, depts


async def test_sign_in_follows_the_departments_setting_and_is_stored(svc, demo_db):
    agents, depts = ids(demo_db)
    assert svc.sign_in(agents["alice"], depts["Sales"]).state == "ready"  # Sales signs in Ready
    assert svc.sign_in(agents["carol"], depts["Support"]).state == "not_ready"  # Support does not
    await svc.writer.drain()
    with session_scope(demo_db) as s:
        presence = s.get(m.AgentPresence, agents["alice"])
        history = s.exec(select(m.AgentStateChange).order_by(m.AgentStateChange.id)).all()
    assert presence.state == "ready" and presence.department_id == depts["Sales"]
    assert [(h.from_state, h.state) for h in history] == [("offline", "ready"), ("offline", "not_ready")]
    assert svc.published[0]["type"] == "agent_state" and svc.published[0]["state"] == "ready"


async def test_refused_actions_change_nothing(svc, demo_db):
    agents, depts = ids(demo_db)
    with pytest.raises(AgentActionError, match="sign in first"):
        svc.set_ready(agents["bob"])
    svc.sign_in(agents["bob"])
    with pytest.raises(AgentActionError, match="unknown break code"):
        svc.set_not_ready(agents["bob"], "nap")
    with pytest.raises(AgentActionError, match="not a member"):
        svc.sign_in(agents["carol"], 999)
    with pytest.raises(AgentActionError, match="unknown agent"):
        svc.set_ready(424242)
    await svc.writer.drain()
    with session_scope(demo_db) as s:
        assert len(s.exec(select(m.AgentStateChange)).all()) == 1


async def test_blocked_agent_cannot_sign_in(svc, demo_db):
    agents, _ = ids(demo_db)
    svc.set_admin_status(agents["alice"], "blocked")
    with pytest.raises(AgentActionError, match="blocked"):
        svc.sign_in(agents["alice"])


async def test_a_call_answered_counts_and_wrap_up_records_the_termination_code(svc, demo_db):
    agents, depts = ids(demo_db)
    alice = agents["alice"]
    with session_scope(demo_db) as s:
        s.add(m.CallRecord(id="call-1", caller_number="+442079460001"))
    svc.sign_in(alice, depts["Sales"])
    svc.call_arrived("call-1", depts["Sales"])
    assert [c for c in svc.executed if isinstance(c, Offer)][0].agent_ids == (alice,)
    svc.clock_.tick(3)
    svc.offer_answered("call-1", alice)
    assert Connect("call-1", alice) in svc.executed
    svc.clock_.tick(60)
    svc.call_ended("call-1")
    with pytest.raises(AgentActionError, match="unknown termination code"):
        svc.finish_wrap_up(alice, "nope")
    svc.clock_.tick(10)
    svc.finish_wrap_up(alice, "resolved")
    await svc.writer.drain()
    with session_scope(demo_db) as s:
        assert s.get(m.Agent, alice).calls_answered == 1
        assert s.get(m.CallRecord, "call-1").termination_code == "resolved"
        states = [h.state for h in s.exec(select(m.AgentStateChange).order_by(m.AgentStateChange.id)).all()]
    assert states == ["ready", "ringing", "in_call", "wrap_up", "ready"]
    spent = agent_records.time_in_state(demo_db, alice, datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc),
                                        svc.clock_.now)
    assert spent == {"ringing": 3.0, "in_call": 60.0, "wrap_up": 10.0}


async def test_queued_call_goes_to_the_first_agent_who_turns_ready(svc, demo_db):
    agents, depts = ids(demo_db)
    svc.call_arrived("call-q", depts["Sales"])
    assert Wait("call-q", 1) in svc.executed
    svc.sign_in(agents["bob"], depts["Sales"])
    assert [c for c in svc.executed if isinstance(c, Offer)][-1].agent_ids == (agents["bob"],)


async def test_state_survives_a_reload(svc, demo_db):
    agents, depts = ids(demo_db)
    svc.sign_in(agents["alice"], depts["Sales"])
    svc.set_not_ready(agents["alice"], "lunch")
    await svc.writer.drain()
    again = RoutingService(demo_db)
    again.load()
    state = again.dispatcher.agents[agents["alice"]].state
    assert (state.state, state.break_code) == ("not_ready", "lunch")
