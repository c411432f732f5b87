"""Call history: one record per call, its legs, and a timeline of what happened.

Asterisk is the truth for live channels; these rows are the history the dashboard and
reports read. A call's `id` is the engine's own (a UUID string) so a record can be written
before Asterisk has answered anything; legs carry the ARI channel ids.

The timeline (`CallEvent`) is append-only: transfers, conferences, holds, contact
association, each with a timestamp and the parties involved, so a call's whole story can be
shown without reconstructing it from logs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

from . import fields as f

DIRECTIONS = ("inbound", "outbound", "internal")
OUTCOMES = ("in_progress", "answered", "abandoned", "voicemail", "busy", "closed", "failed", "transferred")
LEG_ROLES = ("caller", "agent", "external", "consult", "audio_path", "snoop")


def _utc(nullable: bool = True) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class CallRecord(SQLModel, table=True):
    __tablename__ = "call_record"
    id: str = Field(primary_key=True)
    direction: str = "inbound"
    caller_number: Optional[str] = None
    caller_name: Optional[str] = None
    inbound_number: Optional[str] = None
    department_id: Optional[int] = Field(default=None, foreign_key="department.id", ondelete="SET NULL")
    agent_id: Optional[int] = Field(default=None, foreign_key="agent.id", index=True, ondelete="SET NULL")
    contact_id: Optional[int] = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    # The contact the lookup matched before an agent re-associated the call.
    original_contact_id: Optional[int] = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    termination_code: Optional[str] = None
    outcome: str = "in_progress"
    started_at: datetime = Field(default_factory=f.utcnow, sa_column=_utc(nullable=False))
    answered_at: Optional[datetime] = Field(default=None, sa_column=_utc())
    ended_at: Optional[datetime] = Field(default=None, sa_column=_utc())

    def check_fields(self) -> None:
        self.direction = f.require_choice(self.direction, "direction", DIRECTIONS)
        self.outcome = f.require_choice(self.outcome, "outcome", OUTCOMES)


class CallLeg(SQLModel, table=True):
    __tablename__ = "call_leg"
    id: Optional[int] = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call_record.id", index=True, ondelete="CASCADE")
    channel_id: str = Field(index=True)
    role: str
    endpoint: Optional[str] = None
    agent_id: Optional[int] = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    started_at: datetime = Field(default_factory=f.utcnow, sa_column=_utc(nullable=False))
    answered_at: Optional[datetime] = Field(default=None, sa_column=_utc())
    ended_at: Optional[datetime] = Field(default=None, sa_column=_utc())
    hangup_cause: Optional[int] = None

    def check_fields(self) -> None:
        self.role = f.require_choice(self.role, "role", LEG_ROLES)


class CallEvent(SQLModel, table=True):
    __tablename__ = "call_event"
    id: Optional[int] = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call_record.id", index=True, ondelete="CASCADE")
    at: datetime = Field(default_factory=f.utcnow, sa_column=_utc(nullable=False))
    kind: str
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

    def check_fields(self) -> None:
        self.kind = f.require_text(self.kind, "kind", 40)
