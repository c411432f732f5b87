"""Call waiting in the pure dispatcher, and the hold policy (no Asterisk)."""

import pytest

from engine.agents import state as st
from engine.features.hold import hold_refusal
from engine.routing.dispatcher import CallWaiting, Offer, Overflow, RoutingError
from tests.unit.test_dispatcher import at, make, only, ready


def in_call(d, agent_id, call_id="c1", t=2):
    ready(d, agent_id, 1)
    d.call_arrived(call_id, 1, at(t))
    d.offer_answered(call_id, agent_id, at(t + 1))
    assert d.agents[agent_id].state.state == st.IN_CALL


def test_direct_call_to_an_agent_in_call_waits_instead_of_overflowing():
    d = make(agents=1)
    in_call(d, 1)
    cmds = d.call_arrived("d1", None, at(5), agent_id=1)
    assert cmds == [CallWaiting("d1", 1, 15, "c1")]
    assert d.waiting_for == {1: "d1"} and d.agents[1].state.call_id == "c1"  # nothing offered, still In Call


def test_one_waiting_call_per_agent_and_department_calls_never_wait():
    d = make(agents=1)
    in_call(d, 1)
    d.call_arrived("d1", None, at(5), agent_id=1)
    assert only(d.call_arrived("d2", None, at(6), agent_id=1), Overflow) == [Overflow("d2", "voicemail")]
    assert not only(d.call_arrived("q1", 1, at(7)), CallWaiting)  # queued, not waiting


def test_unanswered_waiting_call_overflows_to_voicemail_once():
    d = make(agents=1)
    in_call(d, 1)
    d.call_arrived("d1", None, at(5), agent_id=1)
    assert only(d.waiting_timed_out("d1", at(20)), Overflow) == [Overflow("d1", "voicemail")]
    assert d.waiting_for == {} and "d1" not in d.calls
    assert d.waiting_timed_out("d1", at(21)) == []


def test_waiting_call_times_out_to_an_offer_when_the_agent_became_ready():
    d = make(agents=1)
    in_call(d, 1)
    d.call_arrived("d1", None, at(5), agent_id=1)
    d.call_ended("c1", at(6), wrap_up=False)
    assert only(d.waiting_timed_out("d1", at(20)), Offer) == [Offer("d1", (1,), 20)]


def test_answering_switches_the_agent_and_ending_the_second_returns_to_the_held_call():
    d = make(agents=1)
    in_call(d, 1)
    d.call_arrived("d1", None, at(5), agent_id=1)
    d.waiting_answered("d1", 1, at(6))
    assert d.agents[1].state.state == st.IN_CALL and d.agents[1].state.call_id == "d1"
    assert d.held_for == {1: "c1"}
    # No second waiting call while one is held.
    assert only(d.call_arrived("d2", None, at(7), agent_id=1), Overflow)
    d.call_ended("d1", at(8))
    assert d.agents[1].state.state == st.IN_CALL and d.agents[1].state.call_id == "c1"
    d.call_ended("c1", at(9))
    assert d.agents[1].state.state == st.WRAP_UP and d.held_for == {}


def test_held_caller_leaving_releases_the_hold_and_the_agent_stays_on_the_second():
    d = make(agents=1)
    in_call(d, 1)
    d.call_arrived("d1", None, at(5), agent_id=1)
    d.waiting_answered("d1", 1, at(6))
    d.call_ended("c1", at(7))
    assert d.held_for == {} and d.agents[1].state.call_id == "d1"
    d.call_ended("d1", at(8))
    assert d.agents[1].state.state == st.WRAP_UP


def test_answering_a_call_that_is_not_waiting_is_refused():
    d = make(agents=2)
    in_call(d, 1)
    d.call_arrived("d1", None, at(5), agent_id=1)
    with pytest.raises(RoutingError):
        d.waiting_answered("d1", 2, at(6))
    d.call_ended("d1", at(7))
    assert d.waiting_for == {}
    with pytest.raises(RoutingError):
        d.waiting_answered("d1", 1, at(8))


def test_hold_policy():
    assert hold_refusal(True, True) is None and hold_refusal(None, None) is None
    assert "department" in hold_refusal(True, False)
    assert "agent" in hold_refusal(False, True)


def test_agent_gone_during_the_second_call_requeues_the_held_call_and_it_comes_back_when_ready():
    """waiting.agent_gone: the held call is routed again (Dispatcher.reroute) before the
    second call ends; the agent is not switched back to it, goes to wrap-up, and gets the
    queued call once Ready."""
    from engine.routing.dispatcher import Wait

    d = make(agents=1)
    in_call(d, 1)
    d.call_arrived("d1", None, at(5), agent_id=1)
    d.waiting_answered("d1", 1, at(6))
    cmds = d.reroute("c1", 1, at(7))
    assert d.held_for == {} and only(cmds, Wait)  # the agent is In Call on d1: c1 queues
    d.call_ended("d1", at(8))
    assert d.agents[1].state.state == st.WRAP_UP and d.agents[1].state.call_id == "d1"
    assert only(d.agent_event(1, st.finish_wrap_up("resolved"), at(9)), Offer) == [Offer("c1", (1,), 15)]
