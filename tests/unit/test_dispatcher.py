"""The dispatcher's promises, without Asterisk: strategies, rollover, queue, no double offers."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from engine.agents import state as st
from engine.routing.dispatcher import (
    AgentInfo, AgentStateChanged, CancelOffer, Connect, DepartmentInfo, Dispatcher, Offer, Overflow, Wait,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def make(strategy="longest_idle", queue=True, agents=3, overflow="voicemail"):
    d = Dispatcher()
    d.set_department(DepartmentInfo(1, strategy, queue, 15, overflow))
    for i in range(1, agents + 1):
        d.set_agent(AgentInfo(i, {1: i - 1}))
    return d


def ready(d, agent_id, t):
    cmds = d.agent_event(agent_id, st.sign_in(True), at(t))
    return cmds


def only(cmds, kind):
    return [c for c in cmds if isinstance(c, kind)]


def test_longest_idle_offers_the_agent_ready_longest():
    d = make()
    ready(d, 2, 1)
    ready(d, 1, 2)
    cmds = d.call_arrived("c1", 1, at(10))
    assert only(cmds, Offer) == [Offer("c1", (2,), 15)]
    assert d.agents[2].state.state == st.RINGING


def test_no_answer_rolls_over_to_the_next_agent_and_not_back_at_once():
    d = make(strategy="fixed_order")
    for a in (1, 2):
        ready(d, a, a)
    assert only(d.call_arrived("c1", 1, at(10)), Offer) == [Offer("c1", (1,), 15)]
    cmds = d.offer_failed("c1", 1, at(25))
    assert only(cmds, Offer) == [Offer("c1", (2,), 15)]
    assert d.agents[1].state.state == st.READY
    # Agent 2 does not answer either: agent 1 is the only one left, offered again.
    cmds = d.offer_failed("c1", 2, at(40))
    assert only(cmds, Offer)[0].agent_ids in ((1,), (2,))


def test_round_robin_spreads_calls():
    d = make(strategy="round_robin")
    for a in (1, 2, 3):
        ready(d, a, a)
    got = []
    for n in range(3):
        offer = only(d.call_arrived(f"c{n}", 1, at(10 + n)), Offer)[0]
        d.offer_answered(f"c{n}", offer.agent_ids[0], at(11 + n))
        d.call_ended(f"c{n}", at(12 + n), wrap_up=False)
        got.append(offer.agent_ids[0])
    assert got == [1, 2, 3]


def test_ring_all_connects_the_first_to_answer_and_cancels_the_rest():
    d = make(strategy="ring_all")
    for a in (1, 2, 3):
        ready(d, a, a)
    assert only(d.call_arrived("c1", 1, at(10)), Offer) == [Offer("c1", (1, 2, 3), 15)]
    cmds = d.offer_answered("c1", 2, at(12))
    assert only(cmds, Connect) == [Connect("c1", 2)]
    assert sorted(c.agent_id for c in only(cmds, CancelOffer)) == [1, 3]
    assert [d.agents[a].state.state for a in (1, 2, 3)] == [st.READY, st.IN_CALL, st.READY]
    assert d.agents[2].state == d.agents[2].state  # frozen
    assert any(c.effects == (st.COUNT_ANSWERED,) for c in only(cmds, AgentStateChanged))


def test_queue_then_delivery_oldest_first_when_an_agent_turns_ready():
    d = make()
    assert only(d.call_arrived("old", 1, at(1)), Wait) == [Wait("old", 1)]
    assert only(d.call_arrived("new", 1, at(2)), Wait) == [Wait("new", 2)]
    assert d.waiting_calls(1) == ["old", "new"]
    cmds = ready(d, 3, 5)
    assert only(cmds, Offer) == [Offer("old", (3,), 15)]
    assert d.waiting_calls(1) == ["new"]


def test_queue_off_overflows():
    d = make(queue=False, overflow="busy")
    assert only(d.call_arrived("c1", 1, at(1)), Overflow) == [Overflow("c1", "busy")]
    assert "c1" not in d.calls


def test_blocked_and_disabled_agents_are_never_offered():
    d = make()
    for a in (1, 2, 3):
        ready(d, a, a)
    d.set_admin_status(1, "blocked", at(5))
    d.set_admin_status(2, "disabled", at(5))
    assert d.agents[1].state.state == st.OFFLINE
    offers = only(d.call_arrived("c1", 1, at(10)), Offer)
    assert offers == [Offer("c1", (3,), 15)]
    with pytest.raises(st.InvalidTransition, match="blocked"):
        d.agent_event(1, st.sign_in(True), at(11))


def test_agent_leaving_mid_offer_does_not_lose_the_caller():
    d = make(strategy="fixed_order")
    ready(d, 1, 1)
    ready(d, 2, 2)
    d.call_arrived("c1", 1, at(10))
    cmds = d.agent_event(1, st.set_not_ready("lunch"), at(11))
    assert CancelOffer("c1", 1) in cmds
    assert only(cmds, Offer) == [Offer("c1", (2,), 15)]
    cmds = d.agent_event(2, st.sign_out(), at(12))
    assert only(cmds, Wait) == [Wait("c1", 1)]


def test_persistent_path_connects_straight_in():
    d = make()
    ready(d, 1, 1)
    d.set_persistent_path(1, True, at(2))
    cmds = d.call_arrived("c1", 1, at(3))
    assert only(cmds, Connect) == [Connect("c1", 1, persistent=True)]
    assert d.agents[1].state.state == st.IN_CALL


def test_caller_hanging_up_while_ringing_frees_the_agent():
    d = make()
    ready(d, 1, 1)
    d.call_arrived("c1", 1, at(2))
    cmds = d.call_ended("c1", at(3))
    assert CancelOffer("c1", 1) in cmds and d.agents[1].state.state == st.READY


def test_direct_call_to_an_agent():
    d = make()
    ready(d, 2, 1)
    assert only(d.call_arrived("c1", None, at(2), agent_id=2), Offer) == [Offer("c1", (2,), 20)]
    assert only(d.call_arrived("c2", None, at(3), agent_id=1), Overflow) == [Overflow("c2", "voicemail")]


@pytest.mark.parametrize("seed", range(30))
def test_random_storms_keep_every_promise(seed):
    """20 calls, 10 agents, random answers/failures/hangups/state changes."""
    rng = random.Random(seed)
    d = Dispatcher()
    d.set_department(DepartmentInfo(1, rng.choice(["longest_idle", "round_robin", "ring_all", "fixed_order"]),
                                    True, 15, "voicemail"))
    for i in range(1, 11):
        d.set_agent(AgentInfo(i, {1: i}))
        d.agent_event(i, st.sign_in(True), at(0))
    outcomes = {}
    t = 1
    for n in range(20):
        d.call_arrived(f"c{n}", 1, at(t))
    for _ in range(400):
        t += 1
        calls = list(d.calls.values())
        roll = rng.random()
        if calls and roll < 0.35:
            call = rng.choice(calls)
            if call.status == "offering":
                agent = rng.choice(sorted(call.offered_to))
                if rng.random() < 0.7:
                    d.offer_answered(call.id, agent, at(t))
                else:
                    d.offer_failed(call.id, agent, at(t))
            elif call.status == "connected" and rng.random() < 0.5:
                d.call_ended(call.id, at(t), wrap_up=rng.random() < 0.5)
                outcomes[call.id] = "done"
        elif calls and roll < 0.4:
            call = rng.choice(calls)
            d.call_ended(call.id, at(t))
            outcomes[call.id] = "hung up"
        else:
            agent = d.agents[rng.randint(1, 10)]
            event = rng.choice([st.set_ready(), st.set_not_ready("lunch"), st.sign_out(), st.sign_in(True),
                                st.finish_wrap_up("resolved")])
            try:
                d.agent_event(agent.id, event, at(t))
            except st.InvalidTransition:
                pass
        # Invariants after every step.
        busy = {}
        for agent in d.agents.values():
            if agent.state.state in (st.RINGING, st.IN_CALL):
                assert agent.state.call_id not in busy.values() or agent.state.state == st.IN_CALL or \
                    d.departments[1].strategy == "ring_all"
                busy[agent.id] = agent.state.call_id
        for call in d.calls.values():
            assert call.status in ("waiting", "offering", "connected"), call
            if call.status == "offering":
                for a in call.offered_to:
                    assert d.agents[a].state.state == st.RINGING and d.agents[a].state.call_id == call.id
            if call.status == "connected":
                assert sum(1 for a in d.agents.values()
                           if a.state.state == st.IN_CALL and a.state.call_id == call.id) == 1
            if call.status == "waiting":
                # Nobody Ready may sit idle while a call waits.
                assert not any(a.state.state == st.READY for a in d.agents.values())
    # Every call is accounted for: still routed, or ended on purpose.
    for n in range(20):
        assert f"c{n}" in d.calls or f"c{n}" in outcomes


# ---- transfers: reroute / reserve / release (engine/features/transfers.py) ------------
def _connected(d, agent_id=1):
    ready(d, agent_id, 1)
    d.call_arrived("c1", 1, at(10))
    d.offer_answered("c1", agent_id, at(11))
    assert d.agents[agent_id].state.state == st.IN_CALL


def test_reroute_releases_the_agent_to_wrap_up_and_routes_the_same_call_again():
    d = make(agents=2)
    _connected(d, 1)
    ready(d, 2, 12)
    cmds = d.reroute("c1", None, at(20), agent_id=2)
    assert d.agents[1].state.state == st.WRAP_UP
    assert only(cmds, Offer) == [Offer("c1", (2,), 20)]
    assert d.calls["c1"].arrived_at == at(10)  # keeps its place among waiting calls


def test_reroute_with_queue_off_overflows_and_queue_on_waits():
    d = make(agents=1)
    _connected(d, 1)
    assert only(d.reroute("c1", 1, at(20), queue=False), Overflow) == [Overflow("c1", "voicemail")]
    d = make(agents=1, queue=False)
    _connected(d, 1)
    assert only(d.reroute("c1", 1, at(20), queue=True), Wait) == [Wait("c1", 1)]


def test_reserve_answer_release_for_an_attended_transfer():
    d = make(agents=2)
    _connected(d, 1)
    ready(d, 2, 12)
    d.reserve("c1", 2, at(20))
    assert d.agents[2].state.state == st.RINGING
    assert d.call_arrived("c2", 1, at(21)) and d.agents[2].state.call_id == "c1"  # not offered c2
    d.reserve_answered("c1", 2, at(22))
    d.release_agent("c1", 1, at(23))
    assert d.agents[1].state.state == st.WRAP_UP and d.agents[2].state.state == st.IN_CALL
    d.call_ended("c1", at(30))
    assert d.agents[2].state.state == st.WRAP_UP


def test_reserve_refuses_an_agent_who_is_not_ready_and_failure_frees_the_recipient():
    d = make(agents=2)
    _connected(d, 1)
    import pytest as _pytest

    from engine.routing.dispatcher import RoutingError
    with _pytest.raises(RoutingError):
        d.reserve("c1", 2, at(20))
    ready(d, 2, 21)
    d.reserve("c1", 2, at(22))
    d.reserve_failed("c1", 2, at(23))
    assert d.agents[2].state.state == st.READY


def test_a_recipient_who_hangs_up_a_consultation_is_ready_but_after_a_conference_wraps_up():
    d = make(agents=3)
    _connected(d, 1)
    ready(d, 2, 21)
    d.reserve("c1", 2, at(22))
    d.reserve_answered("c1", 2, at(23))
    assert d.agents[2].state.state == st.IN_CALL
    d.reserve_failed("c1", 2, at(24))  # the consultation ended: no customer was handed over
    assert d.agents[2].state.state == st.READY
    d.reserve("c1", 2, at(25))
    d.reserve_answered("c1", 2, at(26))
    d.reserve_failed("c1", 2, at(27), wrap_up=True)  # left a conference with the customer
    assert d.agents[2].state.state == st.WRAP_UP


def test_take_over_moves_an_agent_in_call_onto_another_call_and_the_first_ends_without_them():
    d = make(agents=3)
    _connected(d, 1)  # c1: the customer's call, agent 1
    ready(d, 2, 12)
    d.call_arrived("c2", None, at(13), agent_id=2)  # c2: agent 1's phone consults agent 2 directly
    d.offer_answered("c2", 2, at(14))
    assert d.agents[2].state.call_id == "c2"
    import pytest as _pytest

    from engine.routing.dispatcher import RoutingError
    with _pytest.raises(RoutingError):
        d.take_over("c2", "c1", 3, at(15))  # agent 3 is on no call: refused, nothing changes
    d.take_over("c2", "c1", 2, at(15))
    assert (d.agents[2].state.state, d.agents[2].state.call_id) == (st.IN_CALL, "c1")
    d.release_agent("c1", 1, at(16))  # the transferring agent leaves the customer's call
    d.call_ended("c2", at(17))  # the consultation ends: agent 2 is no longer on it
    assert (d.agents[2].state.state, d.agents[2].state.call_id) == (st.IN_CALL, "c1")
    assert d.agents[1].state.state == st.WRAP_UP
    d.call_ended("c1", at(30))
    assert d.agents[2].state.state == st.WRAP_UP
