"""The transfer state machine: every path, including every failure, without Asterisk."""

import pytest

from engine.features import transfer as t

INTERCOM = t.Target(t.AGENT, "1002")
EXTERNAL = t.Target(t.EXTERNAL, "+12025550143")
SALES = t.Target(t.DEPARTMENT, "20001", queue=True)


def kinds(cmds):
    return [type(c).__name__ for c in cmds if not isinstance(c, t.Record)]


def records(cmds):
    return [c.kind for c in cmds if isinstance(c, t.Record)]


def attended(answered=True):
    tr = t.Transfer()
    assert kinds(tr.start(t.ATTENDED, INTERCOM)) == ["HoldCaller", "AgentToConsultation", "DialRecipient"]
    if answered:
        assert records(tr.recipient_answered()) == ["transfer_answered"]
        assert tr.phase == t.CONSULTING
    return tr


def test_blind_to_agent_or_department_reroutes_and_releases_the_agent():
    for target in (INTERCOM, SALES):
        tr = t.Transfer()
        cmds = tr.start(t.BLIND, target)
        assert kinds(cmds) == ["ReleaseAgent", "Reroute"]
        assert cmds[2] == t.Reroute(target)
        assert not tr.active


def test_blind_external_rings_then_connects_or_goes_back_to_routing():
    tr = t.Transfer()
    assert kinds(tr.start(t.BLIND, EXTERNAL)) == ["ReleaseAgent", "DialRecipient"]
    assert kinds(tr.recipient_answered()) == ["UnholdCaller", "RecipientToCaller"]
    tr = t.Transfer()
    tr.start(t.BLIND, EXTERNAL)
    assert kinds(tr.recipient_failed("busy")) == ["UnholdCaller", "Reroute"]


def test_attended_agent_hangs_up_completes():
    tr = attended()
    cmds = tr.agent_hung_up()
    assert kinds(cmds) == ["RecipientToCaller", "UnholdCaller"] and tr.phase == t.DONE


def test_attended_complete_by_request():
    tr = attended()
    assert kinds(tr.complete()) == ["RecipientToCaller", "UnholdCaller", "ReleaseAgent"]


@pytest.mark.parametrize("reason", ["busy", "no_answer", "rejected"])
def test_recipient_failing_returns_the_caller_to_the_agent(reason):
    tr = attended(answered=False)
    cmds = tr.recipient_failed(reason)
    assert kinds(cmds) == ["AgentBackToCaller", "UnholdCaller"]
    assert cmds[0].detail["reason"] == reason and tr.phase == t.FAILED


def test_recipient_hanging_up_during_consultation_returns_the_caller():
    tr = attended()
    assert kinds(tr.recipient_failed("hangup")) == ["AgentBackToCaller", "UnholdCaller"]


def test_cancel_hangs_up_the_recipient_and_returns_the_caller():
    for answered in (False, True):
        tr = attended(answered)
        assert kinds(tr.cancel()) == ["HangupRecipient", "AgentBackToCaller", "UnholdCaller"]


def test_conference_only_during_an_answered_consultation():
    with pytest.raises(t.TransferError, match="attended transfer"):
        t.Transfer().merge()
    tr = attended(answered=False)
    with pytest.raises(t.TransferError):
        tr.merge()
    tr.recipient_answered()
    assert kinds(tr.merge()) == ["MergeAll", "UnholdCaller"] and tr.phase == t.CONFERENCE
    with pytest.raises(t.TransferError, match="conference"):
        tr.start(t.BLIND, SALES)
    tr.reset()
    tr.start(t.BLIND, SALES)


def test_caller_hanging_up_during_consultation_leaves_agent_and_recipient_talking():
    tr = attended()
    assert kinds(tr.caller_hung_up()) == ["EndConsultationCall"] and tr.phase == t.CANCELLED


def test_caller_hanging_up_while_recipient_rings():
    tr = attended(answered=False)
    assert kinds(tr.caller_hung_up()) == ["HangupRecipient", "AgentBackToCaller"]


def test_agent_leaving_while_recipient_rings_hands_the_caller_on_answer_or_to_routing():
    tr = attended(answered=False)
    assert records(tr.agent_hung_up()) == ["transfer_agent_left"]
    assert kinds(tr.recipient_answered()) == ["UnholdCaller", "RecipientToCaller"]
    tr = attended(answered=False)
    tr.agent_hung_up()
    assert kinds(tr.recipient_failed("no_answer")) == ["UnholdCaller", "Reroute"]


def test_one_transfer_at_a_time():
    tr = attended(answered=False)
    with pytest.raises(t.TransferError, match="already in progress"):
        tr.start(t.BLIND, SALES)
    tr.cancel()
    tr.start(t.BLIND, SALES)


def test_refusals():
    with pytest.raises(t.TransferError, match="attended transfer goes to"):
        t.Transfer().start(t.ATTENDED, SALES)
    with pytest.raises(t.TransferError, match="unknown transfer flow"):
        t.Transfer().start("sideways", INTERCOM)
    with pytest.raises(t.TransferError, match="no attended transfer"):
        t.Transfer().cancel()
    with pytest.raises(t.TransferError, match="answered consultation"):
        attended(answered=False).complete()


def test_late_answer_after_cancel_is_hung_up():
    tr = attended(answered=False)
    tr.cancel()
    assert kinds(tr.recipient_answered()) == ["HangupRecipient"]
