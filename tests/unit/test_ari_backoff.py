"""Reconnect delays: 0.1 s doubling to 5 s, jittered, reset after a healthy connection."""

import random

import pytest

from engine.pbx.backoff import Backoff, looks_like_restart


def test_schedule_without_jitter_doubles_from_100ms_to_5s():
    b = Backoff(jitter=0)
    assert [round(b.next_delay(), 3) for _ in range(9)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]


def test_jitter_stays_within_20_percent_and_never_passes_the_cap():
    b = Backoff(rng=random.Random(7))
    for attempt in range(30):
        base = b.base_delay(attempt)
        delay = b.next_delay()
        assert 0.8 * base <= delay <= min(5.0, 1.2 * base)


def test_jitter_spreads_retries():
    delays = {round(Backoff(rng=random.Random(seed)).next_delay(), 4) for seed in range(20)}
    assert len(delays) > 10


def test_reset_starts_again_from_the_first_delay():
    b = Backoff(jitter=0)
    for _ in range(5):
        b.next_delay()
    b.reset()
    assert b.next_delay() == pytest.approx(0.1)


@pytest.mark.parametrize("kwargs", [{"initial": 0}, {"initial": 2, "maximum": 1}, {"factor": 0.5}, {"jitter": 1}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_restart_signs_are_recognised_through_groups_and_causes():
    assert looks_like_restart(ConnectionRefusedError(111, "Connection refused"))
    assert looks_like_restart(RuntimeError("AMI Login: Asterisk is shutting down"))
    assert looks_like_restart(BaseExceptionGroup("g", [ValueError("x"), ConnectionRefusedError()]))
    try:
        try:
            raise ConnectionRefusedError()
        except ConnectionRefusedError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert looks_like_restart(outer)
    assert not looks_like_restart(PermissionError("401 Unauthorized"))
    assert not looks_like_restart(None)
