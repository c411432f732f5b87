"""Configuration tables: who the agents are and where calls go.

Agents carry every field of the agent list in the administration guide. Their "Agent
Status" column mixes two things that are stored apart here: the administrative status an
admin sets (Active / Blocked / Disabled, `admin_status`) and the live presence (Busy while
on a call, Offline when signed out) that the agents capability derives from agent state.
`display_status()` joins them the way the list shows them.

Departments are the "services" agents sign into; they carry the routing strategy, "Use it as
Queue" and the 5-digit transfer code that feature codes `#1`/`#2` dial. IVRs share the
5-digit code space with departments (checked in `session.py`, across both tables).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Optional

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from . import fields as f
from .errors import ValidationError

ADMIN_STATUSES = ("active", "blocked", "disabled")
EXTENSION_STATUSES = ("registered", "unregistered")
STRATEGIES = ("longest_idle", "round_robin", "ring_all", "fixed_order")
OVERFLOWS = ("voicemail", "busy", "hangup")
CLOSED_ACTIONS = ("voicemail", "hangup")
TARGET_TYPES = ("department", "ivr", "agent")
IVR_OPTION_TARGETS = ("department", "ivr", "agent", "repeat", "hangup")


def _utc_column(nullable: bool = True) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class TimeGroup(SQLModel, table=True):
    """Working hours: weekly open intervals in one IANA time zone."""

    __tablename__ = "time_group"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    description: str = ""
    timezone: str = "UTC"

    def check_fields(self) -> None:
        self.name = f.require_text(self.name, "name", 80)
        self.description = f.require_text(self.description, "description", 400, required=False) or ""
        self.timezone = f.require_timezone(self.timezone, "timezone")


class TimeGroupRule(SQLModel, table=True):
    """One open interval: weekday 0 (Monday) to 6, local start and end times "HH:MM"."""

    __tablename__ = "time_group_rule"
    id: Optional[int] = Field(default=None, primary_key=True)
    time_group_id: int = Field(foreign_key="time_group.id", index=True, ondelete="CASCADE")
    weekday: int
    start: str
    end: str

    def check_fields(self) -> None:
        if isinstance(self.weekday, bool) or not isinstance(self.weekday, int) or not 0 <= self.weekday <= 6:
            raise ValidationError("weekday", f"{self.weekday!r} must be 0 (Monday) to 6 (Sunday)")
        self.start = f.require_pattern(self.start, "start", f.HHMM_RE, "a time HH:MM")
        self.end = f.require_pattern(self.end, "end", f.HHMM_RE, "a time HH:MM")
        if self.end <= self.start:
            raise ValidationError("end", f"{self.end} must be after start {self.start}")


class Department(SQLModel, table=True):
    """A service agents sign into, with its routing strategy and queue behaviour."""

    __tablename__ = "department"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    description: str = ""
    strategy: str = "longest_idle"
    use_as_queue: bool = True
    transfer_code: Optional[str] = Field(default=None, unique=True)
    ring_timeout: int = 20
    overflow: str = "voicemail"
    time_group_id: Optional[int] = Field(default=None, foreign_key="time_group.id", ondelete="SET NULL")
    moh_class: str = "default"
    hold_enabled: bool = True
    ready_after_sign_in: bool = False
    # Seconds an agent on a persistent audio path may stay not-Ready before it is dropped.
    not_ready_path_limit: int = 600

    def check_fields(self) -> None:
        self.name = f.require_text(self.name, "name", 80)
        self.description = f.require_text(self.description, "description", 400, required=False) or ""
        self.strategy = f.require_choice(self.strategy, "strategy", STRATEGIES)
        self.overflow = f.require_choice(self.overflow, "overflow", OVERFLOWS)
        if self.transfer_code not in (None, ""):
            self.transfer_code = f.require_pattern(self.transfer_code, "transfer_code", f.TRANSFER_CODE_RE, "a 5-digit transfer code")
        else:
            self.transfer_code = None
        f.require_positive_int(self.ring_timeout, "ring_timeout", 600)
        f.require_positive_int(self.not_ready_path_limit, "not_ready_path_limit")
        self.moh_class = f.require_pattern(self.moh_class, "moh_class", f.SIP_NAME_RE, "a music-on-hold class name")


class Agent(SQLModel, table=True):
    """An agent: every column of the agent list, plus SIP credentials and a region."""

    __tablename__ = "agent"
    # Written by the engine on every call or registration, never by an admin: an update
    # touching only these skips re-validation (see store/session.py).
    LIVE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"calls_answered", "extension_status_at", "extension_contact"})
    id: Optional[int] = Field(default=None, primary_key=True)  # "Agent ID"
    name: str
    call_forwarding_number: Optional[str] = None
    alternative_numbers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    intercom: str = Field(unique=True, index=True)
    time_group_id: Optional[int] = Field(default=None, foreign_key="time_group.id", ondelete="SET NULL")
    username: str = Field(unique=True, index=True)
    extension_caller_id: Optional[str] = None
    admin_status: str = "active"
    extension_status: str = "unregistered"
    extension_status_at: Optional[datetime] = Field(default=None, sa_column=_utc_column())
    extension_contact: Optional[str] = None
    calls_answered: int = 0
    sip_username: str = Field(unique=True, index=True)
    sip_password: str
    region: str = "US"
    hold_enabled: bool = True

    def check_fields(self) -> None:
        self.name = f.require_text(self.name, "name", 120)
        self.region = f.require_region(self.region, "region")
        self.call_forwarding_number = f.optional_phone(self.call_forwarding_number, "call_forwarding_number", self.region)
        self.alternative_numbers = f.phone_list(self.alternative_numbers, "alternative_numbers", self.region)
        self.extension_caller_id = f.optional_phone(self.extension_caller_id, "extension_caller_id", self.region)
        self.intercom = f.require_pattern(self.intercom, "intercom", f.INTERCOM_RE, "a 4-digit intercom number")
        self.username = f.require_pattern(self.username, "username", f.SIP_NAME_RE, "a username (letters, digits, . _ -)")
        self.sip_username = f.require_pattern(
            self.sip_username, "sip_username", f.SIP_NAME_RE, "a SIP user name (letters, digits, . _ -)"
        )
        self.sip_password = f.require_text(self.sip_password, "sip_password", 80)
        if len(self.sip_password) < 8:
            raise ValidationError("sip_password", "must be at least 8 characters")
        self.admin_status = f.require_choice(self.admin_status, "admin_status", ADMIN_STATUSES)
        self.extension_status = f.require_choice(self.extension_status, "extension_status", EXTENSION_STATUSES)


class AgentDepartment(SQLModel, table=True):
    """Agent <-> department membership; `position` orders the fixed-order strategy."""

    __tablename__ = "agent_department"
    agent_id: int = Field(foreign_key="agent.id", primary_key=True, ondelete="CASCADE")
    department_id: int = Field(foreign_key="department.id", primary_key=True, ondelete="CASCADE")
    position: int = 0


class AgentGroup(SQLModel, table=True):
    __tablename__ = "agent_group"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    description: str = ""

    def check_fields(self) -> None:
        self.name = f.require_text(self.name, "name", 80)
        self.description = f.require_text(self.description, "description", 400, required=False) or ""


class AgentGroupMember(SQLModel, table=True):
    __tablename__ = "agent_group_member"
    group_id: int = Field(foreign_key="agent_group.id", primary_key=True, ondelete="CASCADE")
    agent_id: int = Field(foreign_key="agent.id", primary_key=True, ondelete="CASCADE")


class Ivr(SQLModel, table=True):
    """A DTMF menu: a greeting, then one option per digit."""

    __tablename__ = "ivr"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    transfer_code: Optional[str] = Field(default=None, unique=True)
    greeting: str = "demo-congrats"
    timeout: int = 8
    max_retries: int = 2

    def check_fields(self) -> None:
        self.name = f.require_text(self.name, "name", 80)
        if self.transfer_code not in (None, ""):
            self.transfer_code = f.require_pattern(self.transfer_code, "transfer_code", f.TRANSFER_CODE_RE, "a 5-digit transfer code")
        else:
            self.transfer_code = None
        self.greeting = f.require_pattern(self.greeting, "greeting", f.SIP_NAME_RE, "a sound name")
        f.require_positive_int(self.timeout, "timeout", 120)
        f.require_positive_int(self.max_retries, "max_retries", 10)


class IvrOption(SQLModel, table=True):
    __tablename__ = "ivr_option"
    __table_args__ = (UniqueConstraint("ivr_id", "digit"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    ivr_id: int = Field(foreign_key="ivr.id", index=True, ondelete="CASCADE")
    digit: str
    target_type: str
    target_id: Optional[int] = None

    def check_fields(self) -> None:
        if self.digit not in tuple("0123456789*#"):
            raise ValidationError("digit", f"{self.digit!r} is not a single DTMF digit")
        self.target_type = f.require_choice(self.target_type, "target_type", IVR_OPTION_TARGETS)
        if self.target_type in TARGET_TYPES and self.target_id is None:
            raise ValidationError("target_id", f"a {self.target_type} option needs a target")


class InboundNumber(SQLModel, table=True):
    """A DID: where calls to it go, and what happens outside its time group's hours."""

    __tablename__ = "inbound_number"
    id: Optional[int] = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True)
    description: str = ""
    target_type: str = "department"
    target_id: int
    time_group_id: Optional[int] = Field(default=None, foreign_key="time_group.id", ondelete="SET NULL")
    closed_announcement: str = "vm-goodbye"
    closed_action: str = "hangup"

    def check_fields(self) -> None:
        self.number = f.to_e164(self.number, "number")
        self.description = f.require_text(self.description, "description", 200, required=False) or ""
        self.target_type = f.require_choice(self.target_type, "target_type", TARGET_TYPES)
        if self.target_id is None:
            raise ValidationError("target_id", "is required")
        self.closed_announcement = f.require_pattern(
            self.closed_announcement, "closed_announcement", f.SIP_NAME_RE, "a sound name"
        )
        self.closed_action = f.require_choice(self.closed_action, "closed_action", CLOSED_ACTIONS)


class BreakCode(SQLModel, table=True):
    """A Not Ready reason an agent picks from the status drop-down."""

    __tablename__ = "break_code"
    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True)
    name: str
    paid: bool = True

    def check_fields(self) -> None:
        self.code = f.require_pattern(self.code, "code", f.SIP_NAME_RE, "a short code (letters, digits, . _ -)")
        self.name = f.require_text(self.name, "name", 80)


class TerminationCode(SQLModel, table=True):
    """A call outcome an agent picks in wrap-up; `department_id` None means every department."""

    __tablename__ = "termination_code"
    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True)
    name: str
    department_id: Optional[int] = Field(default=None, foreign_key="department.id", ondelete="CASCADE")

    def check_fields(self) -> None:
        self.code = f.require_pattern(self.code, "code", f.SIP_NAME_RE, "a short code (letters, digits, . _ -)")
        self.name = f.require_text(self.name, "name", 80)


def display_status(agent: Agent, signed_in: bool, on_call: bool) -> str:
    """The "Agent Status" column: admin status first, then Busy/Offline, else Active."""
    if agent.admin_status == "blocked":
        return "Blocked"
    if agent.admin_status == "disabled":
        return "Disabled"
    if on_call:
        return "Busy"
    if not signed_in:
        return "Offline"
    return "Active"


AGENT_STATES = ("offline", "ready", "not_ready", "ringing", "in_call", "wrap_up")


class AgentPresence(SQLModel, table=True):
    """An agent's live state, persisted so the engine rebuilds it after a restart.

    One row per agent (created at first sign-in). Kept apart from `agent` because it
    changes many times a minute while `agent` is configuration an admin edits.
    """

    __tablename__ = "agent_presence"
    agent_id: int = Field(foreign_key="agent.id", primary_key=True, ondelete="CASCADE")
    state: str = "offline"
    since: Optional[datetime] = Field(default=None, sa_column=_utc_column())
    break_code: Optional[str] = None
    call_id: Optional[str] = None
    department_id: Optional[int] = Field(default=None, foreign_key="department.id", ondelete="SET NULL")

    def check_fields(self) -> None:
        self.state = f.require_choice(self.state, "state", AGENT_STATES)


class AgentStateChange(SQLModel, table=True):
    """Every transition with its timestamp: the source for time-in-state reports."""

    __tablename__ = "agent_state_change"
    id: Optional[int] = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_column=_utc_column(nullable=False))
    from_state: str
    state: str
    break_code: Optional[str] = None
    call_id: Optional[str] = None
    reason: str = ""

    def check_fields(self) -> None:
        self.state = f.require_choice(self.state, "state", AGENT_STATES)
        self.from_state = f.require_choice(self.from_state, "from_state", AGENT_STATES)
