"""Associating an active inbound call with a contact ID (account number), or re-associating it.

The agent on the call (or a supervisor) gives an account number: an existing contact is
associated, an unknown one is created with the caller's number. The record keeps both:
`contact_id` is the contact now associated, `original_contact_id` the one it had before
the first change (the single lookup match; with several matches or none, the first
association resolves the Multi-Match and a later one keeps it as the original). Each change
is a `contact_associated` timeline entry, and the updated screen pop is published.

One implementation for the engine and the REST API: writes go through the routing
service's serial writer, so they land after the call's own history writes.
"""

from __future__ import annotations

from sqlmodel import select

from engine.agents import state as st
from engine.store import models as m
from engine.store.session import session_scope

from . import screenpop_data
from .screenpop import is_withheld


class ContactAssociationError(ValueError):
    """Refused. `code`: not_found | forbidden | call_ended | invalid; `field` when one is at fault."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field

    def __reduce__(self):
        # Raised in the engine's database writer process and re-raised here.
        return (type(self), (self.code, self.message, self.field))


async def associate_contact(routing, bus, db_url: str, call_id: str, account_number: str, *, by: str,
                            agent_id: int | None = None, first_name: str = "", last_name: str = "") -> dict:
    """Associate the call; `agent_id` set means an agent asks: it must be on this call now."""
    if agent_id is not None:
        agent = routing.dispatcher.agents.get(agent_id)
        if agent is None or agent.state.call_id != call_id or agent.state.state != st.IN_CALL:
            raise ContactAssociationError("forbidden", f"agent {agent_id} is not on call {call_id}")
    account = (account_number or "").strip()
    if not account:
        raise ContactAssociationError("invalid", "an account number is required", "account_number")
    result = await routing.writer.submit(associate_in_db, db_url, call_id, account, by, agent_id,
                                         first_name, last_name)
    owner = result["agent_id"]
    if owner is not None:
        await screenpop_data.publish(routing, bus, db_url, call_id, owner, routing.department_of_agent.get(owner))
    return result


def associate_in_db(db_url: str, call_id: str, account: str, by: str, agent_id: int | None,
                    first_name: str, last_name: str) -> dict:
    with session_scope(db_url) as session:
        record = session.get(m.CallRecord, call_id)
        if record is None:
            raise ContactAssociationError("not_found", f"call {call_id} not found")
        if agent_id is not None and record.agent_id not in (None, agent_id):
            raise ContactAssociationError("forbidden", "an agent may associate only their own calls")
        if record.ended_at is not None:
            raise ContactAssociationError("call_ended", "the call has ended: association is for active calls",
                                          "account_number")
        if record.direction != "inbound":
            raise ContactAssociationError("invalid", "only inbound calls are associated with contacts")
        contact = session.exec(select(m.Contact).where(m.Contact.account_number == account)).first()
        created = contact is None
        if created:
            owner = session.get(m.Agent, record.agent_id) if record.agent_id else None
            contact = m.Contact(account_number=account, first_name=first_name, last_name=last_name,
                                region=owner.region if owner else "US")
            session.add(contact)
            session.flush()
            if not is_withheld(record.caller_number):
                session.add(m.ContactPhone(contact_id=contact.id, number=record.caller_number, label="caller"))
        previous = record.contact_id
        result = {"call_id": call_id, "contact_id": contact.id, "agent_id": record.agent_id,
                  "previous_contact_id": previous, "created_contact": created, "changed": previous != contact.id}
        if previous == contact.id:
            return {**result, "original_contact_id": record.original_contact_id}
        if record.original_contact_id is None:
            first = previous
            if first is None:
                matches = [c for c in screenpop_data.contacts_for_number(session, record.caller_number)
                           if not (created and c.id == contact.id)]
                first = matches[0].id if len(matches) == 1 else None
            record.original_contact_id = first
        record.contact_id = contact.id
        session.add(record)
        session.add(m.CallEvent(call_id=call_id, kind="contact_associated", detail={
            "contact_id": contact.id, "account_number": account, "previous_contact_id": previous,
            "created_contact": created, "by": by}))
        return {**result, "original_contact_id": record.original_contact_id}
