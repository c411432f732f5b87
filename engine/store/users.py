"""Web users, their sessions, and the screen-pop clipboard setting.

Why a user table apart from `agent`: supervisors and admins are not agents, and an agent's
log-in (password hash, role) is web security data an admin rotates without touching the
agent's telephony configuration. An agent user links to its agent row (`agent_id`), which
is what limits it to its own state and calls.

Sessions are server-side rows keyed by the SHA-256 of the cookie token: logging out or
deleting a user ends the session at once, and a copy of the table does not hand out
working cookies. Each session carries its own CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

from . import fields as f
from .errors import ValidationError

ROLES = ("agent", "supervisor", "admin")
# Screen-pop fields a manager may put on the agent's clipboard (see engine/routing/screenpop.py).
CLIPBOARD_FIELDS = (
    "caller_name", "first_name", "last_name", "account_number", "phone_number", "inbound_number",
    "inbound_number_description", "department", "call_id",
)


def _utc(nullable: bool = True) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class WebUser(SQLModel, table=True):
    __tablename__ = "web_user"
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True)
    # "scrypt$n$r$p$salt_hex$hash_hex": algorithm, cost and a per-user salt travel with it.
    password_hash: str
    role: str = "agent"
    agent_id: Optional[int] = Field(default=None, foreign_key="agent.id", unique=True, ondelete="CASCADE")
    disabled: bool = False

    def check_fields(self) -> None:
        self.username = f.require_pattern(self.username, "username", f.SIP_NAME_RE,
                                          "a username (letters, digits, . _ -)")
        self.role = f.require_choice(self.role, "role", ROLES)
        if not str(self.password_hash or "").startswith("scrypt$"):
            raise ValidationError("password_hash", "must be a scrypt hash, never a plain password")
        if self.role == "agent" and self.agent_id is None:
            raise ValidationError("agent_id", "an agent log-in must be linked to an agent")
        if self.role != "agent" and self.agent_id is not None:
            raise ValidationError("agent_id", f"a {self.role} log-in is not linked to an agent")


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"
    token_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="web_user.id", index=True, ondelete="CASCADE")
    csrf_token: str
    created_at: datetime = Field(default_factory=f.utcnow, sa_column=_utc(nullable=False))
    expires_at: datetime = Field(sa_column=_utc(nullable=False))


class ClipboardSetting(SQLModel, table=True):
    """Which screen-pop fields "copy to clipboard" copies: per department, or global (NULL)."""

    __tablename__ = "clipboard_setting"
    id: Optional[int] = Field(default=None, primary_key=True)
    department_id: Optional[int] = Field(default=None, foreign_key="department.id", unique=True, ondelete="CASCADE")
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))

    def check_fields(self) -> None:
        if not isinstance(self.fields, list):
            raise ValidationError("fields", "must be a list of field names")
        for i, name in enumerate(self.fields):
            if name not in CLIPBOARD_FIELDS:
                raise ValidationError(f"fields[{i}]", f"{name!r} is not one of {', '.join(CLIPBOARD_FIELDS)}")
        if len(set(self.fields)) != len(self.fields):
            raise ValidationError("fields", "lists a field twice")
