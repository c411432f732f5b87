"""Routing decisions without I/O: strategies and working hours."""

from datetime import datetime, timedelta, timezone

import pytest

from engine.routing.hours import Interval, is_open
from engine.routing.strategy import Candidate, order_candidates

T = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday


def cands():
    # agent 1 ready longest ago, agent 3 most recently; positions 0,1,2 in id order
    return [
        Candidate(agent_id=1, position=0, ready_since=T - timedelta(minutes=5)),
        Candidate(agent_id=2, position=1, ready_since=T - timedelta(minutes=10)),
        Candidate(agent_id=3, position=2, ready_since=T - timedelta(minutes=1)),
    ]


def test_longest_idle_offers_the_agent_ready_longest_first():
    assert order_candidates("longest_idle", cands()) == [[2], [1], [3]]


def test_fixed_order_follows_department_positions():
    assert order_candidates("fixed_order", cands()) == [[1], [2], [3]]


@pytest.mark.parametrize(("last", "expected"), [(None, [[1], [2], [3]]), (1, [[2], [3], [1]]),
                                                (3, [[1], [2], [3]]), (99, [[1], [2], [3]])])
def test_round_robin_continues_after_the_previous_agent(last, expected):
    assert order_candidates("round_robin", cands(), last_agent_id=last) == expected


def test_ring_all_rings_everybody_at_once():
    assert order_candidates("ring_all", cands()) == [[1, 2, 3]]


@pytest.mark.parametrize("strategy", ["longest_idle", "fixed_order", "round_robin"])
def test_an_agent_who_just_declined_is_tried_last(strategy):
    steps = order_candidates(strategy, cands(), skip={2})
    assert steps[-1] == [2] and len(steps) == 3


def test_ring_all_leaves_out_agents_who_declined_while_others_remain():
    assert order_candidates("ring_all", cands(), skip={1}) == [[2, 3]]
    assert order_candidates("ring_all", cands(), skip={1, 2, 3}) == [[1, 2, 3]]


@pytest.mark.parametrize("admin", ["blocked", "disabled"])
@pytest.mark.parametrize("strategy", ["longest_idle", "fixed_order", "round_robin", "ring_all"])
def test_blocked_and_disabled_agents_are_never_offered(strategy, admin):
    pool = cands()
    pool[1] = Candidate(agent_id=2, position=1, ready_since=pool[1].ready_since, admin_status=admin)
    offered = [a for step in order_candidates(strategy, pool) for a in step]
    assert 2 not in offered and sorted(offered) == [1, 3]


def test_no_candidates_no_steps_and_unknown_strategy_refused():
    assert order_candidates("longest_idle", []) == []
    with pytest.raises(ValueError, match="unknown routing strategy"):
        order_candidates("random", cands())


OFFICE = [Interval(d, "08:00", "18:00") for d in range(5)]


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc), True),   # Monday 08:00 London (GMT)
        (datetime(2026, 1, 5, 7, 59, tzinfo=timezone.utc), False),
        (datetime(2026, 1, 5, 18, 0, tzinfo=timezone.utc), False),  # end is exclusive
        (datetime(2026, 7, 6, 7, 30, tzinfo=timezone.utc), True),  # Monday 08:30 BST
        (datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc), False),  # Saturday
    ],
)
def test_office_hours_in_london(utc, expected):
    assert is_open(OFFICE, "Europe/London", utc) is expected


def test_all_day_and_empty_groups():
    always = [Interval(d, "00:00", "24:00") for d in range(7)]
    assert is_open(always, "UTC", datetime(2026, 1, 10, 23, 59, tzinfo=timezone.utc))
    assert not is_open([], "UTC", T)
    with pytest.raises(ValueError):
        is_open(always, "UTC", datetime(2026, 1, 10, 12, 0))
