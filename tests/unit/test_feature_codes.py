"""Feature-code parsing: every code, every way it can go wrong, the inter-digit timeout."""

from datetime import datetime, timedelta, timezone

import pytest

from engine.features import codes as c

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def dial(digits, gap=0.2, parser=None):
    parser = parser or c.FeatureCodeParser()
    t = T0
    out = None
    for d in digits:
        out = parser.feed(d, t)
        t += timedelta(seconds=gap)
    return parser, out, t


@pytest.mark.parametrize(
    ("digits", "kind", "target"),
    [
        ("#111025", c.CODE_QUEUE_OFF, "11025"),
        ("#220001", c.CODE_QUEUE_ON, "20001"),
        ("*21002", c.ATTENDED, "1002"),
        ("*3", c.CONFERENCE, None),
        ("#11002#", c.BLIND, "1002"),
        ("#4442071838750#", c.EXTERNAL_BLIND, "442071838750"),
        ("*4442071838750#", c.EXTERNAL_ATTENDED, "442071838750"),
    ],
)
def test_complete_codes(digits, kind, target):
    parser, out, _ = dial(digits)
    assert out == c.Action(kind, target, digits.rstrip("#") if digits.endswith("#") and kind != c.CONFERENCE
                           else digits)
    assert not parser.active


def test_hash1_with_four_digits_waits_for_the_timeout_then_is_a_blind_transfer():
    parser, out, t = dial("#11002")
    assert isinstance(out, c.Pending)
    assert parser.expire(t) is None  # not yet
    assert parser.expire(out.deadline) == c.Action(c.BLIND, "1002", "#11002")


def test_external_number_completes_on_timeout():
    parser, out, _ = dial("#412025550143")
    assert parser.expire(out.deadline) == c.Action(c.EXTERNAL_BLIND, "12025550143", "#412025550143")


@pytest.mark.parametrize(
    ("digits", "reason"),
    [("#3", "not a feature code"), ("*1", "not a feature code"), ("**", "not a feature code"),
     ("#1*", "'*' cannot"), ("#4#", "incomplete"), ("#41#", "incomplete"), ("*2100#", "incomplete"),
     ("#4" + "1" * 16, "too long")],
)
def test_invalid_codes(digits, reason):
    parser, out, _ = dial(digits)
    assert isinstance(out, c.Invalid) and reason in out.reason
    assert not parser.active


@pytest.mark.parametrize("digits", ["#1", "#110", "#2200", "*210", "*4", "#41"])
def test_inter_digit_timeout_on_an_incomplete_code_is_invalid(digits):
    parser, out, _ = dial(digits)
    assert isinstance(out, c.Pending)
    result = parser.expire(out.deadline)
    assert isinstance(result, c.Invalid) and "timeout" in result.reason
    assert not parser.active


def test_digits_outside_a_code_are_ignored():
    parser = c.FeatureCodeParser()
    assert parser.feed("5", T0) == c.Ignored("5")
    assert not parser.active


def test_a_late_digit_after_an_unnoticed_timeout_settles_the_old_code_first():
    parser, out, _ = dial("#11002")
    late = out.deadline + timedelta(seconds=5)
    # The old "#11002" is settled (blind transfer lost: nobody called expire); the new
    # digit starts a fresh code.
    assert isinstance(parser.feed("*", late), c.Pending)
    assert parser.buffer == "*"


def test_bad_digit_is_refused():
    parser = c.FeatureCodeParser()
    parser.feed("#", T0)
    out = parser.feed("A", T0)
    assert isinstance(out, c.Invalid) and not parser.active


def test_each_key_press_is_acted_on_once_whichever_report_comes_first():
    from engine.features.dtmf import KeyPresses

    k = KeyPresses()
    # AMI's begin first (the usual case), then ARI's end of the same digit.
    assert k.first("a", "begin", "*") and not k.first("a", "end", "*")
    assert k.first("a", "begin", "2") and k.first("a", "begin", "0")  # two presses ahead
    assert not k.first("a", "end", "2") and not k.first("a", "end", "0")
    # AMI late: the end acts, the late begin is dropped.
    assert k.first("a", "end", "7") and not k.first("a", "begin", "7")
    # AMI lost a begin: out of step, pairing starts afresh and no digit is dropped.
    assert k.first("a", "end", "1") and k.first("a", "begin", "3") and not k.first("a", "end", "3")
    # Channels are paired separately; the same digit pressed twice counts twice.
    assert k.first("b", "begin", "5") and k.first("a", "begin", "5") and k.first("a", "begin", "5")
    assert not k.first("a", "end", "5") and not k.first("a", "end", "5") and not k.first("b", "end", "5")


def test_with_ami_silent_every_end_acts_and_memory_stays_bounded():
    from engine.features.dtmf import KeyPresses

    k = KeyPresses()
    assert all(k.first("a", "end", d) for d in "0123456789" * 10)
    assert len(k._ahead["a"]) == KeyPresses.LIMIT


def test_a_refer_with_replaces_is_told_apart_from_a_blind_one():
    from engine.features.refer import _destination, is_attended

    blind = {"type": "ChannelTransfer", "refer_to": {"requested_destination": {"destination": "2007"}},
             "referred_by": {"source_channel": {"id": "a"}}}
    assert not is_attended(blind) and _destination(blind) == "2007"
    sip_uri = {"refer_to": {"requested_destination": {"destination": "sip:2007@127.0.0.1"}}}
    assert _destination(sip_uri) == "2007"
    attended = {"refer_to": {"requested_destination": {"protocol_id": "consult-1@127.0.0.1"},
                             "destination_channel": {"id": "a2"}, "connected_channel": {"id": "r"}}}
    assert is_attended(attended)
    assert is_attended({"refer_to": {"requested_destination": {"protocol_id": "x@y"}}})  # unknown to Asterisk
