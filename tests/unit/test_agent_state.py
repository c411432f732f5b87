"""The agent state machine, walked exhaustively: every state x every event, valid or not.

The expectations are written out here independently of the implementation's table, so a
change to either shows up as a failure.
"""

from datetime import datetime, timezone

import pytest

from engine.agents import state as s

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 1, 5, 9, 1, tzinfo=timezone.utc)
CALL = "call-1"

# A starting AgentState for every state.
START = {
    s.OFFLINE: s.AgentState(s.OFFLINE, T0),
    s.READY: s.AgentState(s.READY, T0),
    s.NOT_READY: s.AgentState(s.NOT_READY, T0, break_code="lunch"),
    s.RINGING: s.AgentState(s.RINGING, T0, call_id=CALL),
    s.IN_CALL: s.AgentState(s.IN_CALL, T0, call_id=CALL),
    s.WRAP_UP: s.AgentState(s.WRAP_UP, T0, call_id=CALL),
}

EVENTS = {
    "sign_in_ready": s.sign_in(True),
    "sign_in_not_ready": s.sign_in(False),
    "sign_out": s.sign_out(),
    "set_ready": s.set_ready(),
    "break_training": s.set_not_ready("training"),
    "offer": s.offer(CALL),
    "offer_failed": s.offer_failed(CALL),
    "answer": s.answer(CALL),
    "connect": s.connect(CALL),
    "call_ended": s.call_ended(CALL),
    "call_ended_no_wrap": s.call_ended(CALL, wrap_up=False),
    "take_over": s.take_over("call-2", CALL),
    "take_over_other": s.take_over("call-3", "call-2"),
    "wrap_ready": s.finish_wrap_up("resolved", ready=True),
    "wrap_break": s.finish_wrap_up("resolved", ready=False, break_code="lunch"),
}

# (state, event) -> (new state, break code, call id, effects); anything missing is invalid.
VALID = {
    (s.OFFLINE, "sign_in_ready"): (s.READY, None, None, []),
    (s.OFFLINE, "sign_in_not_ready"): (s.NOT_READY, None, None, []),
    (s.READY, "sign_out"): (s.OFFLINE, None, None, []),
    (s.NOT_READY, "sign_out"): (s.OFFLINE, None, None, []),
    (s.RINGING, "sign_out"): (s.OFFLINE, None, None, [s.WITHDRAW_OFFER]),
    (s.WRAP_UP, "sign_out"): (s.OFFLINE, None, None, []),
    (s.NOT_READY, "set_ready"): (s.READY, None, None, []),
    (s.READY, "break_training"): (s.NOT_READY, "training", None, []),
    (s.NOT_READY, "break_training"): (s.NOT_READY, "training", None, []),
    (s.RINGING, "break_training"): (s.NOT_READY, "training", None, [s.WITHDRAW_OFFER]),
    (s.READY, "offer"): (s.RINGING, None, CALL, []),
    (s.RINGING, "offer_failed"): (s.READY, None, None, []),
    (s.RINGING, "answer"): (s.IN_CALL, None, CALL, [s.COUNT_ANSWERED]),
    (s.READY, "connect"): (s.IN_CALL, None, CALL, [s.COUNT_ANSWERED]),
    (s.RINGING, "connect"): (s.IN_CALL, None, CALL, [s.COUNT_ANSWERED]),
    (s.IN_CALL, "call_ended"): (s.WRAP_UP, None, CALL, []),
    (s.IN_CALL, "call_ended_no_wrap"): (s.READY, None, None, []),
    (s.IN_CALL, "take_over"): (s.IN_CALL, None, "call-2", []),
    (s.WRAP_UP, "wrap_ready"): (s.READY, None, None, [s.RECORD_TERMINATION]),
    (s.WRAP_UP, "wrap_break"): (s.NOT_READY, "lunch", None, [s.RECORD_TERMINATION]),
}

ALL = [(state, event) for state in START for event in EVENTS]


@pytest.mark.parametrize(("state", "event"), ALL)
def test_every_state_and_event(state, event):
    current = START[state]
    if (state, event) in VALID:
        new_state, break_code, call_id, effects = VALID[(state, event)]
        result, got_effects = s.apply(current, EVENTS[event], T1)
        assert (result.state, result.break_code, result.call_id, got_effects) == (new_state, break_code, call_id, effects)
        assert result.since == T1
    else:
        with pytest.raises(s.InvalidTransition) as err:
            s.apply(current, EVENTS[event], T1)
        assert err.value.state == state
        assert str(err.value).startswith("cannot ")
        # Refused: the state object is untouched (frozen) and still the same.
        assert current == START[state]


def test_the_table_covers_every_event():
    assert {e.name for e in EVENTS.values()} == set(s.EVENTS)


@pytest.mark.parametrize("admin", ["blocked", "disabled"])
def test_blocked_and_disabled_agents_cannot_sign_in(admin):
    with pytest.raises(s.InvalidTransition, match=admin):
        s.apply(START[s.OFFLINE], s.sign_in(True, admin_status=admin), T1)


def test_offers_and_answers_must_name_the_offered_call():
    ringing = START[s.RINGING]
    for event in (s.answer("other"), s.offer_failed("other"), s.connect("other")):
        with pytest.raises(s.InvalidTransition):
            s.apply(ringing, event, T1)
    with pytest.raises(s.InvalidTransition):
        s.apply(START[s.IN_CALL], s.call_ended("other"), T1)


def test_wrap_up_needs_a_termination_code():
    with pytest.raises(s.InvalidTransition, match="termination code"):
        s.apply(START[s.WRAP_UP], s.finish_wrap_up(None), T1)


def test_only_ready_is_available():
    assert [st for st, v in START.items() if v.available] == [s.READY]
