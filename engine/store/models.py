"""Every table, importable from one place (Alembic's env.py imports this module)."""

from .calls import CallEvent, CallLeg, CallRecord
from .contacts import Contact, ContactPhone
from .users import ClipboardSetting, WebSession, WebUser
from .directory import (
    Agent,
    AgentDepartment,
    AgentGroup,
    AgentGroupMember,
    AgentPresence,
    AgentStateChange,
    BreakCode,
    Department,
    InboundNumber,
    Ivr,
    IvrOption,
    TerminationCode,
    TimeGroup,
    TimeGroupRule,
)

__all__ = [
    "Agent", "AgentDepartment", "AgentGroup", "AgentGroupMember", "AgentPresence", "AgentStateChange", "BreakCode", "CallEvent", "CallLeg",
    "CallRecord", "Contact", "ContactPhone", "Department", "InboundNumber", "Ivr", "IvrOption",
    "TerminationCode", "TimeGroup", "TimeGroupRule",
    "ClipboardSetting", "WebSession", "WebUser",
]
