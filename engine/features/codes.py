"""DTMF feature codes during a connected call: parsing only, pure, time passed in.

Asterisk does not arm features.conf codes on channels in ARI bridges, so the engine reads
each `ChannelDtmfReceived` digit and feeds it here. The codes (agent administration guide;
table in DESIGN.md):

    #1 + 4-digit intercom      blind transfer to an agent
    #1 + 5-digit code          transfer to an IVR or department, queue off
    #2 + 5-digit code          transfer to an IVR or department, queue on
    #4 + external number       external blind transfer
    *2 + 4-digit intercom      attended transfer
    *4 + external number       external attended transfer
    *3                         conference (valid only during a consultation: checked by
                               the caller, which knows the call's state)

`#1` followed by 4 digits is ambiguous until the inter-digit timeout passes (a 5th digit
makes it a transfer code); a trailing `#` ends any code at once, so a quick agent need
not wait. External numbers end with `#` or the timeout.

The parser never acts: it returns what was dialled, and the caller decides whether the
target exists (unknown intercom -> error tone, call unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

BLIND = "blind_transfer"
ATTENDED = "attended_transfer"
EXTERNAL_BLIND = "external_blind_transfer"
EXTERNAL_ATTENDED = "external_attended_transfer"
CODE_QUEUE_OFF = "code_transfer_queue_off"
CODE_QUEUE_ON = "code_transfer_queue_on"
CONFERENCE = "conference"

DEFAULT_TIMEOUT = timedelta(seconds=3)
EXTERNAL_MIN, EXTERNAL_MAX = 3, 15


@dataclass(frozen=True)
class Pending:
    """More digits expected; call `expire` at `deadline` if none comes."""

    digits: str
    deadline: datetime


@dataclass(frozen=True)
class Action:
    kind: str
    target: str | None
    digits: str


@dataclass(frozen=True)
class Invalid:
    digits: str
    reason: str


@dataclass(frozen=True)
class Ignored:
    """A digit outside any code (the agent keyed something into an IVR, say)."""

    digit: str


class FeatureCodeParser:
    def __init__(self, timeout: timedelta = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.buffer = ""
        self.deadline: datetime | None = None

    @property
    def active(self) -> bool:
        return bool(self.buffer)

    def reset(self) -> None:
        self.buffer = ""
        self.deadline = None

    def feed(self, digit: str, now: datetime):
        if digit not in "0123456789*#" or len(digit) != 1:
            return self._finish(Invalid(self.buffer + digit, f"{digit!r} is not a DTMF digit"))
        if not self.buffer:
            if digit not in "*#":
                return Ignored(digit)
            return self._pending(digit, now)
        if self.deadline is not None and now > self.deadline:
            # The previous code timed out unnoticed: settle it before this digit.
            self.expire(now)
            return self.feed(digit, now)
        return self._step(self.buffer + digit, now)

    def expire(self, now: datetime):
        """The inter-digit timeout passed: complete what can be completed, else invalid."""
        if not self.buffer or self.deadline is None or now < self.deadline:
            return None
        return self._finish(self._complete(self.buffer, terminated=True) or
                            Invalid(self.buffer, "incomplete feature code (inter-digit timeout)"))

    # -- internals --------------------------------------------------------------------
    def _pending(self, digits: str, now: datetime) -> Pending:
        self.buffer = digits
        self.deadline = now + self.timeout
        return Pending(digits, self.deadline)

    def _finish(self, outcome):
        self.reset()
        return outcome

    def _step(self, digits: str, now: datetime):
        prefix = digits[:2]
        if len(digits) == 2:
            if prefix == "*3":
                return self._finish(Action(CONFERENCE, None, digits))
            if prefix in ("#1", "#2", "#4", "*2", "*4"):
                return self._pending(digits, now)
            return self._finish(Invalid(digits, f"{prefix} is not a feature code"))
        body, last = digits[2:], digits[-1]
        if last == "#":
            return self._finish(self._complete(digits[:-1], terminated=True) or
                                Invalid(digits, "incomplete feature code"))
        if last == "*":
            return self._finish(Invalid(digits, "'*' cannot appear inside a feature code"))
        done = self._complete(digits, terminated=False)
        if done is not None:
            return self._finish(done)
        if prefix in ("#4", "*4") and len(body) > EXTERNAL_MAX:
            return self._finish(Invalid(digits, "external number too long"))
        return self._pending(digits, now)

    @staticmethod
    def _complete(digits: str, terminated: bool):
        """What `digits` means if it ends here, or None when more digits are needed."""
        prefix, body = digits[:2], digits[2:]
        if prefix == "#1":
            if len(body) == 5:
                return Action(CODE_QUEUE_OFF, body, digits)
            if len(body) == 4 and terminated:
                return Action(BLIND, body, digits)
            return None
        if prefix == "#2":
            return Action(CODE_QUEUE_ON, body, digits) if len(body) == 5 else None
        if prefix == "*2":
            return Action(ATTENDED, body, digits) if len(body) == 4 else None
        if prefix in ("#4", "*4"):
            if terminated and EXTERNAL_MIN <= len(body) <= EXTERNAL_MAX:
                return Action(EXTERNAL_BLIND if prefix == "#4" else EXTERNAL_ATTENDED, body, digits)
            return None
        return None
