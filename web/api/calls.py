"""Calls: the live-call list with its timeline, the agent's screen pop, and associating a
call with a contact ID (account number).

What is shown is what is known: CallRecord rows without `ended_at` and their CallEvent
timeline, written by the engine's call actors. Call control (hold, transfers, conference,
hang-up) is NOT offered here yet: the screen pop lists the call's capabilities so the
desktop draws the control area, each marked unavailable with the reason. The endpoints
that carry them out belong to the call-control work (engine/features + engine/calls).
"""

from __future__ import annotations

from sqlmodel import select

from engine.store import models as m
from engine.store.errors import ValidationError
from engine.store.phone import format_for_agent
from engine.store.session import session_scope
from engine.store.users import CLIPBOARD_FIELDS

from ..http import ApiError, F, check_body, db, forbidden, int_param, not_found, ok, read_json
from ..keys import USER_KEY, BUS_KEY, ROUTING_KEY
from ..live import agent_live
from ..routes import EVERYONE, SUPERVISORS, Route
from ..screenpop import build_screen_pop, is_withheld

DEFAULT_CLIPBOARD = ("first_name", "last_name", "account_number", "phone_number")
CALL_CONTROL_NOTE = ("Call control from the desktop is not wired yet: use your phone's feature codes "
                     "(#1 / *2 transfer, *3 conference).")


def contacts_for_number(session, number: str | None) -> list[m.Contact]:
    if not number:
        return []
    return list(session.exec(
        select(m.Contact).join(m.ContactPhone, m.ContactPhone.contact_id == m.Contact.id)
        .where(m.ContactPhone.number == number).order_by(m.Contact.id)).unique().all())


def clipboard_fields(session, department_id: int | None) -> list[str]:
    rows = {s.department_id: s.fields for s in session.exec(select(m.ClipboardSetting)).all()}
    if department_id in rows:
        return list(rows[department_id])
    return list(rows.get(None, DEFAULT_CLIPBOARD))


def capabilities(agent, department) -> list[dict]:
    hold = (agent is None or agent.hold_enabled) and (department is None or department.hold_enabled)
    names = ([("hold", "Hold")] if hold else []) + [
        ("blind_transfer", "Transfer"), ("attended_transfer", "Consult"), ("conference", "Conference"),
        ("hangup", "Hang up")]
    return [{"name": n, "label": label, "available": False, "reason": CALL_CONTROL_NOTE} for n, label in names]


def load_screen_pop(db_url: str, call_id: str, agent_id: int, agent_state: str, department_id: int | None) -> dict:
    with session_scope(db_url) as session:
        record = session.get(m.CallRecord, call_id) or m.CallRecord(id=call_id)
        agent = session.get(m.Agent, agent_id)
        if agent is None:
            raise not_found(f"agent {agent_id}")
        contacts = contacts_for_number(session, record.caller_number) if not is_withheld(record.caller_number) else []
        if record.contact_id is not None and record.contact_id not in {c.id for c in contacts}:
            associated = session.get(m.Contact, record.contact_id)
            if associated is not None:
                contacts.append(associated)
        inbound = session.exec(select(m.InboundNumber).where(m.InboundNumber.number == record.inbound_number)).first() \
            if record.inbound_number else None
        dept_id = record.department_id or department_id
        department = session.get(m.Department, dept_id) if dept_id else None
        codes = session.exec(select(m.TerminationCode).where(
            (m.TerminationCode.department_id.is_(None)) | (m.TerminationCode.department_id == dept_id))
            .order_by(m.TerminationCode.name)).all()
        pop = build_screen_pop(record, agent, contacts, inbound, codes, department, agent_state=agent_state,
                               clipboard_fields=clipboard_fields(session, dept_id))
        pop["capabilities"] = capabilities(agent, department)
        pop["call_control_note"] = CALL_CONTROL_NOTE
        pop["known"] = session.get(m.CallRecord, call_id) is not None
        return pop


async def current_call(request):
    """The agent's current call (Ringing, In Call or Wrap-up) as a screen pop, or null."""
    agent_id = int_param(request.match_info["agent_id"], "agent_id")
    live = agent_live(request.app[ROUTING_KEY], agent_id)
    if live["state"] not in ("ringing", "in_call", "wrap_up") or not live["call_id"]:
        return ok({"call": None, "live": live})
    pop = await db(request, load_screen_pop, live["call_id"], agent_id, live["state"], live["department_id"])
    return ok({"call": pop, "live": live})


# ---- association -------------------------------------------------------------------------
ASSOCIATE_BODY = {"account_number": F("string", required=True, description="the contact ID"),
                  "first_name": F("string", description="for a new contact"),
                  "last_name": F("string", description="for a new contact")}


def associate(db_url: str, call_id: str, body: dict, username: str, agent_id: int | None) -> dict:
    with session_scope(db_url) as session:
        record = session.get(m.CallRecord, call_id)
        if record is None:
            raise not_found(f"call {call_id}")
        if agent_id is not None and record.agent_id not in (None, agent_id):
            raise forbidden("an agent may associate only their own calls")
        if record.ended_at is not None:
            raise ApiError(409, "call_ended", "the call has ended: association is for active calls", "account_number")
        account = (body["account_number"] or "").strip()
        if not account:
            raise ValidationError("account_number", "is required")
        contact = session.exec(select(m.Contact).where(m.Contact.account_number == account)).first()
        created = contact is None
        if created:
            contact = m.Contact(account_number=account, first_name=body.get("first_name", ""),
                                last_name=body.get("last_name", ""), region=_region(session, record))
            session.add(contact)
            session.flush()
            if not is_withheld(record.caller_number):
                session.add(m.ContactPhone(contact_id=contact.id, number=record.caller_number, label="caller"))
        previous = record.contact_id
        if previous == contact.id:
            return {"call_id": call_id, "contact_id": contact.id, "changed": False}
        if record.original_contact_id is None:
            first = previous
            if first is None:
                matches = [c for c in contacts_for_number(session, record.caller_number)
                           if not (created and c.id == contact.id)]
                first = matches[0].id if len(matches) == 1 else None
            record.original_contact_id = first
        record.contact_id = contact.id
        session.add(record)
        session.add(m.CallEvent(call_id=call_id, kind="contact_associated", detail={
            "contact_id": contact.id, "account_number": contact.account_number, "previous_contact_id": previous,
            "created_contact": created, "by": username}))
        return {"call_id": call_id, "contact_id": contact.id, "original_contact_id": record.original_contact_id,
                "previous_contact_id": previous, "created_contact": created, "changed": True}


def _region(session, record) -> str:
    if record.agent_id:
        agent = session.get(m.Agent, record.agent_id)
        if agent is not None:
            return agent.region
    return "US"


async def associate_contact(request):
    """Associate (or re-associate) an active call with a contact ID; a new ID creates the contact."""
    call_id = request.match_info["call_id"]
    body = check_body(await read_json(request), ASSOCIATE_BODY)
    user = request[USER_KEY]
    if user.role == "agent":
        live = agent_live(request.app[ROUTING_KEY], user.agent_id)
        if live["call_id"] != call_id:
            raise forbidden("an agent may associate only the call they are on")
    result = await db(request, associate, call_id, body, user.username, user.agent_id if user.role == "agent" else None)
    request.app[BUS_KEY].publish({"type": "call_changed", "call_id": call_id,
                                  "agent_id": user.agent_id if user.role == "agent" else None})
    return ok(result)


# ---- live calls --------------------------------------------------------------------------
def live_calls(db_url: str) -> list[dict]:
    with session_scope(db_url) as session:
        records = session.exec(select(m.CallRecord).where(m.CallRecord.ended_at.is_(None))
                               .order_by(m.CallRecord.started_at)).all()
        ids = [r.id for r in records]
        events = session.exec(select(m.CallEvent).where(m.CallEvent.call_id.in_(ids))
                              .order_by(m.CallEvent.at, m.CallEvent.id)).all() if ids else []
        agents = {a.id: a for a in session.exec(select(m.Agent)).all()}
        depts = {d.id: d.name for d in session.exec(select(m.Department)).all()}
        contacts = {c.id: c for c in session.exec(select(m.Contact).where(
            m.Contact.id.in_([r.contact_id for r in records if r.contact_id]))).all()} if records else {}
        by_call: dict[str, list] = {}
        for e in events:
            by_call.setdefault(e.call_id, []).append({"at": e.at, "kind": e.kind, "detail": e.detail})
        out = []
        for r in records:
            agent = agents.get(r.agent_id)
            contact = contacts.get(r.contact_id)
            out.append({
                "id": r.id, "direction": r.direction, "outcome": r.outcome,
                "caller": "Unknown" if is_withheld(r.caller_number) else format_for_agent(r.caller_number, None),
                "caller_name": r.caller_name or "", "inbound_number": r.inbound_number or "",
                "department": depts.get(r.department_id, ""), "agent_id": r.agent_id,
                "agent": agent.name if agent else "", "started_at": r.started_at, "answered_at": r.answered_at,
                "contact": f"{contact.account_number} {contact.first_name} {contact.last_name}".strip() if contact else "",
                "timeline": by_call.get(r.id, []),
            })
        return out


async def list_live_calls(request):
    """Calls not yet ended (CallRecord.ended_at is null) with their timeline and agent state."""
    calls = await db(request, live_calls)
    routing = request.app[ROUTING_KEY]
    for call in calls:
        call["agent_live"] = agent_live(routing, call["agent_id"]) if call["agent_id"] else None
    return ok(calls)


# ---- clipboard setting -------------------------------------------------------------------
CLIPBOARD_BODY = {"department_id": F("integer", nullable=True, description="null: the global default"),
                  "fields": F("array", required=True, items="string", enum=None,
                              description=f"any of {', '.join(CLIPBOARD_FIELDS)}")}


def read_clipboard(db_url: str) -> dict:
    with session_scope(db_url) as session:
        rows = session.exec(select(m.ClipboardSetting)).all()
        by_dept = {str(r.department_id): r.fields for r in rows if r.department_id is not None}
        glob = next((r.fields for r in rows if r.department_id is None), list(DEFAULT_CLIPBOARD))
        return {"available": list(CLIPBOARD_FIELDS), "global": glob, "departments": by_dept}


def write_clipboard(db_url: str, department_id: int | None, fields: list[str]) -> dict:
    with session_scope(db_url) as session:
        if department_id is not None and session.get(m.Department, department_id) is None:
            raise ValidationError("department_id", f"department {department_id} does not exist")
        row = session.exec(select(m.ClipboardSetting).where(
            m.ClipboardSetting.department_id.is_(None) if department_id is None
            else m.ClipboardSetting.department_id == department_id)).first()
        row = row or m.ClipboardSetting(department_id=department_id)
        row.fields = list(fields)
        session.add(row)
    return read_clipboard(db_url)


async def get_clipboard(request):
    """Which screen-pop fields "copy to clipboard" copies, globally and per department."""
    return ok(await db(request, read_clipboard))


async def put_clipboard(request):
    """Set the clipboard field list for one department (or the global default)."""
    body = check_body(await read_json(request), CLIPBOARD_BODY)
    return ok(await db(request, write_clipboard, body.get("department_id"), body["fields"]))


ROUTES = [
    Route("GET", "/api/calls/live", list_live_calls, SUPERVISORS, "List live calls", tag="calls"),
    Route("GET", "/api/agents/{agent_id:\\d+}/call", current_call, EVERYONE, "Read the agent's current call",
          tag="calls", own_agent_only=True),
    Route("POST", "/api/calls/{call_id}/contact", associate_contact, EVERYONE, "Associate a call with a contact",
          body=ASSOCIATE_BODY, tag="calls"),
    Route("GET", "/api/settings/clipboard", get_clipboard, EVERYONE, "Read the clipboard fields", tag="settings"),
    Route("PUT", "/api/settings/clipboard", put_clipboard, SUPERVISORS, "Set the clipboard fields",
          body=CLIPBOARD_BODY, tag="settings"),
]
