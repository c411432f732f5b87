"""Transfers and conference for one call: a pure state machine, events in, commands out.

Parties: the caller (C), the transferring agent (A), the recipient (R). The call's main
bridge holds C and A. One transfer at a time per call: a second `start` is refused.

Blind (`#1` intercom, `#4` external, `#1`/`#2` transfer code, or REST flow=blind): A leaves
at once and C is handed to the target. To an agent or a department the call re-enters
routing (the dispatcher rings, queues or overflows it, so a caller is never stranded); to
an external number C hears ringing until the far end answers.

Attended (`*2` intercom, `*4` external, or REST flow=attended):
    ringing     C on hold with music in the main bridge; A in a consultation bridge
                while R rings.
    consulting  R answered: A and R talk.
    Then:
      A hangs up / complete  -> R joins C in the main bridge, A leaves: done.
      R busy / no answer / R hangs up / cancel -> C is taken off hold and A is back with C.
      *3 / merge (consulting only) -> A and R join C: a three-way conference.
      C hangs up -> A and R stay connected (an internal call), the transfer ends.
      A hangs up while R still rings -> R keeps ringing for C; if R fails, the call goes
      back to routing (its department) so the caller is not lost.

Everything here is decided without I/O; `engine/features/` runtime code turns the
commands into ARI requests and feeds ARI events back as events.
"""

from __future__ import annotations

from dataclasses import dataclass

BLIND, ATTENDED = "blind", "attended"
AGENT, EXTERNAL, DEPARTMENT, IVR = "agent", "external", "department", "ivr"

IDLE, RINGING, CONSULTING = "idle", "ringing", "consulting"
DONE, CANCELLED, CONFERENCE, FAILED = "done", "cancelled", "conference", "failed"


class TransferError(ValueError):
    """The request is not allowed now; nothing changed."""


@dataclass(frozen=True)
class Target:
    kind: str  # agent | external | department | ivr
    value: str  # intercom, E.164 number, or transfer code
    queue: bool = True  # for department/ivr codes: `#2` (queue on) vs `#1` (queue off)


# ---- commands --------------------------------------------------------------------------
@dataclass(frozen=True)
class HoldCaller:
    pass


@dataclass(frozen=True)
class UnholdCaller:
    pass


@dataclass(frozen=True)
class DialRecipient:
    target: Target


@dataclass(frozen=True)
class HangupRecipient:
    pass


@dataclass(frozen=True)
class AgentToConsultation:
    """Move A out of the main bridge into the consultation bridge (with R)."""


@dataclass(frozen=True)
class AgentBackToCaller:
    pass


@dataclass(frozen=True)
class RecipientToCaller:
    """Move R into the main bridge with C (transfer complete)."""


@dataclass(frozen=True)
class ReleaseAgent:
    """A leaves the call (hang up the leg, or back to the persistent audio path)."""


@dataclass(frozen=True)
class Reroute:
    """Hand C back to routing: a department/IVR target, or the call's own department."""

    target: Target | None


@dataclass(frozen=True)
class MergeAll:
    """A and R join C in the main bridge: a three-way conference."""


@dataclass(frozen=True)
class EndConsultationCall:
    """C has gone: A and R stay connected as an internal call until either hangs up."""


@dataclass(frozen=True)
class Record:
    """A timeline entry for the call record."""

    kind: str
    detail: dict


class Transfer:
    def __init__(self) -> None:
        self.phase = IDLE
        self.flow: str | None = None
        self.target: Target | None = None
        self.agent_present = True

    @property
    def active(self) -> bool:
        return self.phase in (RINGING, CONSULTING)

    def start(self, flow: str, target: Target) -> list:
        if self.active:
            raise TransferError("a transfer is already in progress on this call")
        if self.phase == CONFERENCE:
            raise TransferError("the call is a conference: transfer once it is back to two parties")
        if flow not in (BLIND, ATTENDED):
            raise TransferError(f"unknown transfer flow {flow!r}")
        if flow == ATTENDED and target.kind not in (AGENT, EXTERNAL):
            raise TransferError("an attended transfer goes to an agent or an external number")
        self.flow, self.target, self.agent_present = flow, target, True
        info = {"flow": flow, "target": target.kind, "to": target.value}
        if flow == BLIND:
            self.phase = DONE
            cmds: list = [Record("transfer_started", info), ReleaseAgent()]
            if target.kind in (DEPARTMENT, IVR, AGENT):
                return cmds + [Reroute(target), Record("transfer_completed", info)]
            self.phase = RINGING  # external: C waits for the far end
            return cmds + [DialRecipient(target)]
        self.phase = RINGING
        return [Record("transfer_started", info), HoldCaller(), AgentToConsultation(), DialRecipient(target)]

    # -- events from the runtime ---------------------------------------------------------
    def recipient_answered(self) -> list:
        if self.phase != RINGING:
            return [HangupRecipient()] if self.phase in (IDLE, DONE, CANCELLED, FAILED) else []
        info = self._info()
        if self.flow == BLIND or not self.agent_present:
            self.phase = DONE
            return [UnholdCaller(), RecipientToCaller(), Record("transfer_completed", info)]
        self.phase = CONSULTING
        return [Record("transfer_answered", info)]

    def recipient_failed(self, reason: str) -> list:
        """Busy, no answer, rejected, or R hung up (before completion)."""
        if self.phase not in (RINGING, CONSULTING):
            return []
        info = {**self._info(), "reason": reason}
        if self.flow == BLIND or not self.agent_present:
            # Nobody to hand the caller back to: routing takes the call again.
            self.phase = FAILED
            return [Record("transfer_failed", info), UnholdCaller(), Reroute(None)]
        self.phase = FAILED
        return [Record("transfer_failed", info), AgentBackToCaller(), UnholdCaller()]

    def agent_hung_up(self) -> list:
        if self.phase == CONSULTING:
            self.phase = DONE
            self.agent_present = False
            return [RecipientToCaller(), UnholdCaller(), Record("transfer_completed", self._info())]
        if self.phase == RINGING and self.flow == ATTENDED:
            self.agent_present = False
            return [Record("transfer_agent_left", self._info())]
        return []

    def caller_hung_up(self) -> list:
        if self.phase == CONSULTING:
            self.phase = CANCELLED
            return [Record("transfer_caller_left", self._info()), EndConsultationCall()]
        if self.phase == RINGING:
            self.phase = CANCELLED
            cmds: list = [Record("transfer_caller_left", self._info()), HangupRecipient()]
            return cmds + ([AgentBackToCaller()] if self.flow == ATTENDED and self.agent_present else [])
        return []

    # -- agent requests (feature codes or REST) ------------------------------------------
    def complete(self) -> list:
        if self.phase != CONSULTING:
            raise TransferError("complete needs an answered consultation")
        self.phase = DONE
        self.agent_present = False
        return [RecipientToCaller(), UnholdCaller(), ReleaseAgent(), Record("transfer_completed", self._info())]

    def cancel(self) -> list:
        if self.phase not in (RINGING, CONSULTING) or self.flow != ATTENDED:
            raise TransferError("there is no attended transfer to cancel")
        self.phase = CANCELLED
        return [HangupRecipient(), AgentBackToCaller(), UnholdCaller(), Record("transfer_cancelled", self._info())]

    def merge(self) -> list:
        if self.phase != CONSULTING:
            raise TransferError("a conference needs an answered attended transfer (*2 first)")
        self.phase = CONFERENCE
        return [MergeAll(), UnholdCaller(), Record("conference_started", self._info())]

    def reset(self) -> None:
        """The runtime calls this when a conference is back to two parties."""
        self.phase, self.flow, self.target, self.agent_present = IDLE, None, None, True

    def _info(self) -> dict:
        return {"flow": self.flow, "target": self.target.kind if self.target else None,
                "to": self.target.value if self.target else None}
