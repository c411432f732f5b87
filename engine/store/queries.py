"""Queries the engine and the CLI share. Small functions, one purpose each."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from . import models as m
from .fields import utcnow


def agent_by_sip_username(session: Session, sip_username: str) -> m.Agent | None:
    return session.exec(select(m.Agent).where(m.Agent.sip_username == sip_username)).first()


def set_extension_status(
    session: Session, sip_username: str, registered: bool, contact: str | None = None, at: datetime | None = None
) -> bool:
    """Record an agent extension's registration state. Returns True when it changed.

    Unknown endpoints (a trunk, a test phone) are ignored: only agents have an
    extension status column.
    """
    agent = agent_by_sip_username(session, sip_username)
    if agent is None:
        return False
    status = "registered" if registered else "unregistered"
    new_contact = contact if registered else None
    if agent.extension_status == status and agent.extension_contact == new_contact:
        return False
    agent.extension_status = status
    agent.extension_contact = new_contact
    agent.extension_status_at = at or utcnow()
    session.add(agent)
    return True


def set_all_extension_status(session: Session, registered_contacts: dict[str, str]) -> int:
    """Make the table match a full registration snapshot (after a (re)connect to AMI).

    `registered_contacts` maps sip_username -> contact URI for every reachable contact;
    every other agent is marked unregistered. Returns the number of agents changed.
    """
    changed = 0
    for agent in session.exec(select(m.Agent)).all():
        contact = registered_contacts.get(agent.sip_username)
        if set_extension_status(session, agent.sip_username, contact is not None, contact):
            changed += 1
    return changed


def agent_departments(session: Session, agent_id: int) -> list[m.Department]:
    stmt = (
        select(m.Department)
        .join(m.AgentDepartment, m.AgentDepartment.department_id == m.Department.id)
        .where(m.AgentDepartment.agent_id == agent_id)
        .order_by(m.AgentDepartment.position, m.Department.id)
    )
    return list(session.exec(stmt).all())
