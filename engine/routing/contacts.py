"""Associating an active inbound call with a contact ID (account number), or re-associating it.

The agent on the call gives an account number: an existing contact is associated, an
unknown one is created with the caller's number. The record keeps both: `contact_id` is
the contact now associated, `original_contact_id` the one the number lookup matched first
(or the first association when there was no single match). Each change is a
`contact_associated` timeline entry, and the updated screen pop is published.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import select

from engine.agents import state as st
from engine.store import models as m
from engine.store.session import session_scope

from .connect import publish_screen_pop

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime.engine import Engine


class ContactAssociationError(ValueError):
    """Refused: the call is not an active inbound call of this agent, or the number is bad."""


async def associate_contact(engine: Engine, call_id: str, account_number: str, agent_id: int,
                            first_name: str = "", last_name: str = "") -> dict:
    call = engine.calls.get(call_id)
    if call is None or call.ended:
        raise ContactAssociationError(f"call {call_id} is not active")
    if call.direction != "inbound":
        raise ContactAssociationError("only inbound calls are associated with contacts")
    agent = engine.routing.dispatcher.agents.get(agent_id)
    if agent is None or agent.state.call_id != call_id or agent.state.state != st.IN_CALL:
        raise ContactAssociationError(f"agent {agent_id} is not on call {call_id}")
    account = (account_number or "").strip()
    if not account:
        raise ContactAssociationError("an account number is required")
    result = await engine.writer.submit(_associate, engine.settings.database_url, call_id, account, agent_id,
                                        first_name, last_name)
    flow = getattr(call, "flow", None)
    await publish_screen_pop(engine, call_id, agent_id, flow.department_id if flow else None)
    return result


def _associate(db_url: str, call_id: str, account: str, agent_id: int, first_name: str, last_name: str) -> dict:
    with session_scope(db_url) as session:
        record = session.get(m.CallRecord, call_id)
        if record is None:
            raise ContactAssociationError(f"call {call_id} has no record")
        contact = session.exec(select(m.Contact).where(m.Contact.account_number == account)).first()
        created = contact is None
        if created:
            agent = session.get(m.Agent, agent_id)
            contact = m.Contact(account_number=account, first_name=first_name, last_name=last_name,
                                region=agent.region if agent else "US")
            session.add(contact)
            session.flush()
            if record.caller_number:
                session.add(m.ContactPhone(contact_id=contact.id, number=record.caller_number, label="caller"))
        previous = record.contact_id
        if previous != contact.id:
            if record.original_contact_id is None:
                record.original_contact_id = previous if previous is not None else contact.id
            record.contact_id = contact.id
            session.add(record)
            session.add(m.CallEvent(call_id=call_id, kind="contact_associated", detail={
                "contact_id": contact.id, "account_number": account, "previous_contact_id": previous,
                "created_contact": created, "agent_id": agent_id}))
        return {"call_id": call_id, "contact_id": contact.id, "original_contact_id": record.original_contact_id,
                "previous_contact_id": previous, "created_contact": created, "changed": previous != contact.id}
