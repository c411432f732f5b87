"""The live call: what the engine knows about one call while it is up.

Deliberately small for now (issue 6): who called which number, the caller's channel and
the call's legs. Routing, agents and features extend it as they arrive. A LiveCall is owned
by its actor (see `actors.py`): only that actor's task changes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers

from engine.store.fields import utcnow

EventListener = Callable[[dict], Awaitable[None]]


@dataclass
class LiveLeg:
    channel_id: str
    role: str  # caller, agent, external, ... (engine.store.calls.LEG_ROLES)
    endpoint: str | None = None
    state: str | None = None
    answered: bool = False
    hangup_cause: int | None = None


@dataclass
class LiveCall:
    id: str
    direction: str
    caller_channel_id: str
    inbound_number: str | None = None
    caller_number: str | None = None
    caller_name: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    ended_at: datetime | None = None
    outcome: str = "in_progress"
    adopted: bool = False  # re-taken after an engine or ARI restart
    legs: dict[str, LiveLeg] = field(default_factory=dict)
    # Later capabilities (routing, features) subscribe here to see the call's events,
    # in order, inside the call's own task.
    listeners: list[EventListener] = field(default_factory=list)
    # The routing flow driving this call (engine/routing/flow.py), when there is one.
    flow: Any = None

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


def normalize_caller_number(raw: str | None, inbound_number: str | None = None) -> str | None:
    """The caller's number in E.164, or None for anonymous or unparseable caller IDs.

    A number without a leading `+` is read in the country of the number dialled (a UK
    carrier presents UK callers as `020...`), since the trunk gives no other hint.
    """
    text = (raw or "").strip()
    if not text or text.lower() in ("anonymous", "unknown", "restricted", "withheld"):
        return None
    region = None
    if not text.startswith("+") and inbound_number:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(inbound_number, None))
        except phonenumbers.NumberParseException:
            region = None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def stasis_args(event: dict[str, Any]) -> list[str]:
    args = event.get("args") or []
    return [str(a) for a in args]
