"""Gathering what the screen pop shows, from the database. Blocking: run it in a thread
(the engine runs it on its serial writer, after the call's own writes).

The dict itself is built by `web.screenpop.build_screen_pop` (pure, owned by the web
side), so the pushed event and the REST resource can never disagree on its shape.
"""

from __future__ import annotations

from sqlmodel import select

from engine.store import models as m
from engine.store.session import session_scope


def contacts_for_number(session, number: str | None) -> list[m.Contact]:
    if not number:
        return []
    return list(session.exec(
        select(m.Contact).join(m.ContactPhone, m.ContactPhone.contact_id == m.Contact.id)
        .where(m.ContactPhone.number == number).order_by(m.Contact.id)).unique().all())


def load(db_url: str, call_id: str, agent_id: int, agent_state: str, department_id: int | None) -> dict:
    from web.screenpop import build_screen_pop, is_withheld

    with session_scope(db_url) as session:
        record = session.get(m.CallRecord, call_id)
        agent = session.get(m.Agent, agent_id)
        if record is None or agent is None:
            raise LookupError(f"call {call_id} or agent {agent_id} not found")
        contacts = [] if is_withheld(record.caller_number) else contacts_for_number(session, record.caller_number)
        if record.contact_id is not None and record.contact_id not in {c.id for c in contacts}:
            associated = session.get(m.Contact, record.contact_id)
            if associated is not None:
                contacts.append(associated)
        inbound = session.exec(select(m.InboundNumber).where(m.InboundNumber.number == record.inbound_number)
                               ).first() if record.inbound_number else None
        dept_id = record.department_id or department_id
        department = session.get(m.Department, dept_id) if dept_id else None
        codes = session.exec(select(m.TerminationCode).where(
            (m.TerminationCode.department_id.is_(None)) | (m.TerminationCode.department_id == dept_id))
            .order_by(m.TerminationCode.name)).all()
        pop = build_screen_pop(record, agent, contacts, inbound, codes, department, agent_state=agent_state)
        pop["agent_id"] = agent_id
        pop["direction"] = record.direction
        return pop
