"""Demo log-ins: admin, supervisor, and one agent log-in per agent.

admin / admin-pass-1, supervisor / super-pass-1, and <agent.username> / agent-pass-1 linked
to its agent. Idempotent: existing usernames are left as they are.
"""

from __future__ import annotations

from sqlmodel import Session, select

from engine.store import models as m

from .auth import hash_password

ADMIN = ("admin", "admin-pass-1")
SUPERVISOR = ("supervisor", "super-pass-1")
AGENT_PASSWORD = "agent-pass-1"


def seed_demo_users(session: Session) -> list[str]:
    """Create the demo log-ins that do not exist yet; return the usernames created."""
    existing = set(session.exec(select(m.WebUser.username)).all())
    created: list[str] = []

    def add(username: str, password: str, role: str, agent_id: int | None = None) -> None:
        if username in existing:
            return
        session.add(m.WebUser(username=username, password_hash=hash_password(password), role=role, agent_id=agent_id))
        existing.add(username)
        created.append(username)

    add(*ADMIN, "admin")
    add(*SUPERVISOR, "supervisor")
    linked = set(session.exec(select(m.WebUser.agent_id).where(m.WebUser.agent_id.is_not(None))).all())
    for agent in session.exec(select(m.Agent).order_by(m.Agent.id)).all():
        if agent.id not in linked:
            add(agent.username, AGENT_PASSWORD, "agent", agent.id)
    session.flush()
    return created
