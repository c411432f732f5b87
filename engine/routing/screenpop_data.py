"""Gathering what the screen pop shows, from the database. Blocking: run it in a thread
(the engine runs it on its serial writer, after the call's own writes).

One loader for both the pushed `screen_pop` event and the web's REST resource, so the two
can never disagree. The dict itself is built by the pure `screenpop.build_screen_pop`.
"""

from __future__ import annotations

import structlog
from sqlmodel import select

from engine.store import models as m
from engine.store.session import session_scope

from .screenpop import build_screen_pop, is_withheld

log = structlog.get_logger("engine.routing.screenpop")

# What "copy to clipboard" copies when a manager has chosen nothing.
DEFAULT_CLIPBOARD = ("first_name", "last_name", "account_number", "phone_number")


def contacts_for_number(session, number: str | None) -> list[m.Contact]:
    if not number:
        return []
    return list(session.exec(
        select(m.Contact).join(m.ContactPhone, m.ContactPhone.contact_id == m.Contact.id)
        .where(m.ContactPhone.number == number).order_by(m.Contact.id)).unique().all())


def clipboard_fields(session, department_id: int | None) -> list[str]:
    """The department's clipboard list, else the global one, else the default."""
    rows = {s.department_id: s.fields for s in session.exec(select(m.ClipboardSetting)).all()}
    if department_id in rows:
        return list(rows[department_id])
    return list(rows.get(None, DEFAULT_CLIPBOARD))


def load(db_url: str, call_id: str, agent_id: int, agent_state: str, department_id: int | None) -> dict:
    """The screen pop of `call_id` for `agent_id`.

    A call whose record is not written yet (the engine writes history after routing) is
    shown from what is known, with `known` False, rather than refused.
    """
    with session_scope(db_url) as session:
        stored = session.get(m.CallRecord, call_id)
        record = stored or m.CallRecord(id=call_id)
        agent = session.get(m.Agent, agent_id)
        if agent is None:
            raise LookupError(f"agent {agent_id} not found")
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
        pop = build_screen_pop(record, agent, contacts, inbound, codes, department, agent_state=agent_state,
                               clipboard_fields=clipboard_fields(session, dept_id))
        pop["agent_id"] = agent_id
        pop["direction"] = record.direction
        pop["known"] = stored is not None
        pop["hold_enabled"] = agent.hold_enabled and (department is None or department.hold_enabled)
        return pop


async def publish(routing, bus, db_url: str, call_id: str, agent_id: int, department_id: int | None) -> dict | None:
    """Load the screen pop after every queued write (so it sees them) and publish it.

    The REST resource (web/api/calls.py) loads the same dict with `load`, so the pushed
    event and the resource agree without a cache to keep in step.
    """
    agent = routing.dispatcher.agents.get(agent_id)
    state = agent.state.state if agent else "in_call"
    try:
        pop = await routing.writer.submit(load, db_url, call_id, agent_id, state, department_id)
    except Exception:  # noqa: BLE001 - a missing screen pop must not break the call
        log.exception("screen_pop_failed", call_id=call_id)
        return None
    bus.publish({"type": "screen_pop", "agent_id": agent_id, "call_id": call_id, "screen_pop": pop})
    return pop
