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

from engine.routing import contacts, screenpop_data
from engine.routing.screenpop import is_withheld
from engine.store import models as m
from engine.store.errors import ValidationError
from engine.store.phone import format_for_agent
from engine.store.session import session_scope
from engine.store.users import CLIPBOARD_FIELDS

from ..http import ApiError, F, check_body, db, forbidden, int_param, not_found, ok, read_json
from ..keys import BUS_KEY, ROUTING_KEY, SETTINGS_KEY, USER_KEY
from ..live import agent_live
from ..routes import EVERYONE, SUPERVISORS, Route

CALL_CONTROL_NOTE = ("Transfers, consult, conference and hang-up work from here or from your phone "
                     "(#1 / #4 / *2 / *4 transfer, *3 conference).")


def capabilities(agent, department, connected: bool = True) -> list[dict]:
    """What the desktop's call-control area offers. Hold, transfers, conference and hang-up
    are available while the call is connected."""
    hold = (agent is None or agent.hold_enabled) and (department is None or department.hold_enabled)
    reason = None if connected else "only while the call is connected"
    # Hold / Resume: POST /api/calls/{id}/hold|resume (web/api/hold.py); absent when a manager
    # disabled hold for the agent or the department.
    caps = [{"name": "hold", "label": "Hold", "available": connected, "reason": reason}] if hold else []
    for name, label in [("blind_transfer", "Transfer"), ("attended_transfer", "Consult"),
                        ("conference", "Conference"), ("hangup", "Hang up")]:
        caps.append({"name": name, "label": label, "available": connected, "reason": reason})
    return caps


def load_screen_pop(db_url: str, call_id: str, agent_id: int, agent_state: str, department_id: int | None) -> dict:
    """The engine's screen pop (one loader for the pushed event and this resource), plus
    the call-control capabilities the desktop draws."""
    try:
        pop = screenpop_data.load(db_url, call_id, agent_id, agent_state, department_id)
    except LookupError:
        raise not_found(f"agent {agent_id}") from None
    with session_scope(db_url) as session:
        agent = session.get(m.Agent, agent_id)
        department = session.get(m.Department, pop["department_id"]) if pop.get("department_id") else None
        pop["capabilities"] = capabilities(agent, department, connected=agent_state == "in_call")
    pop["call_control_note"] = CALL_CONTROL_NOTE
    return pop


async def current_call(request):
    """The agent's current call (Ringing, In Call or Wrap-up) as a screen pop, or null."""
    agent_id = int_param(request.match_info["agent_id"], "agent_id")
    live = agent_live(request.app[ROUTING_KEY], agent_id)
    if live["state"] not in ("ringing", "in_call", "wrap_up") or not live["call_id"]:
        return ok({"call": None, "live": live})
    pop = await db(request, load_screen_pop, live["call_id"], agent_id, live["state"], live["department_id"])
    control = getattr(request.app[ROUTING_KEY], "hold_control", None)
    pop["on_hold"] = bool(control is not None and control.on_hold(live["call_id"]))
    return ok({"call": pop, "live": live})


# ---- association -------------------------------------------------------------------------
ASSOCIATE_BODY = {"account_number": F("string", required=True, description="the contact ID"),
                  "first_name": F("string", description="for a new contact"),
                  "last_name": F("string", description="for a new contact")}


async def associate_contact(request):
    """Associate (or re-associate) an active call with a contact ID; a new ID creates the contact."""
    call_id = request.match_info["call_id"]
    body = check_body(await read_json(request), ASSOCIATE_BODY)
    user = request[USER_KEY]
    agent_id = user.agent_id if user.role == "agent" else None
    try:
        result = await contacts.associate_contact(
            request.app[ROUTING_KEY], request.app[BUS_KEY], request.app[SETTINGS_KEY].database_url, call_id,
            body["account_number"], by=user.username, agent_id=agent_id,
            first_name=body.get("first_name") or "", last_name=body.get("last_name") or "")
    except contacts.ContactAssociationError as exc:
        if exc.code == "not_found":
            raise not_found(f"call {call_id}") from None
        if exc.code == "forbidden":
            raise forbidden(exc.message) from None
        if exc.code == "invalid" and exc.field:
            raise ValidationError(exc.field, exc.message) from None
        raise ApiError(409 if exc.code == "call_ended" else 400, exc.code, exc.message, exc.field) from None
    request.app[BUS_KEY].publish({"type": "call_changed", "call_id": call_id, "agent_id": agent_id})
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
        glob = next((r.fields for r in rows if r.department_id is None), list(screenpop_data.DEFAULT_CLIPBOARD))
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


# ---- call control: transfers, conference, hang-up (engine/features/control.py) -------------
TRANSFER_BODY = {"flow": F("string", required=True, enum=("blind", "attended"), description="blind or attended"),
                 "target": F("object", required=True,
                             description="one of {intercom}, {number}, {code}; with a code, queue (bool)")}


async def _control(request, action: str, **args):
    from engine.features.transfers import ControlError

    control = getattr(request.app[ROUTING_KEY], "call_control", None)
    if control is None:
        raise ApiError(503, "no_engine", "call control needs the engine running in this process")
    user = request[USER_KEY]
    agent_id = user.agent_id if user.role == "agent" else None
    try:
        return await control.request(request.match_info["call_id"], action, agent_id=agent_id, **args)
    except ControlError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


async def start_transfer(request):
    """Start a blind or attended transfer. One at a time per call (a second: 409)."""
    body = check_body(await read_json(request), TRANSFER_BODY)
    target = body["target"] if isinstance(body["target"], dict) else {}
    if "intercom" in target:
        kind, value = "agent", str(target["intercom"])
    elif "number" in target:
        kind, value = "external", str(target["number"])
    elif "code" in target:
        kind, value = "code", str(target["code"])
    else:
        raise ValidationError("target", "give one of intercom, number or code")
    result = await _control(request, "transfer", flow=body["flow"], kind=kind, value=value,
                            queue=bool(target.get("queue", True)))
    return ok(result, status=201)


async def complete_transfer(request):
    """Complete an answered attended transfer: the recipient takes the caller, the agent leaves."""
    return ok(await _control(request, "complete", transfer_id=request.match_info["transfer_id"]))


async def cancel_transfer(request):
    """Cancel an attended transfer: the recipient is hung up, the agent is back with the caller."""
    return ok(await _control(request, "cancel", transfer_id=request.match_info["transfer_id"]))


async def merge_conference(request):
    """Merge the consultation into a three-way conference."""
    return ok(await _control(request, "merge"))


async def hangup_call(request):
    """Hang up: the agent leaves (during a consultation this completes the transfer)."""
    return ok(await _control(request, "hangup"))


ROUTES = [
    Route("POST", "/api/calls/{call_id}/transfers", start_transfer, EVERYONE, "Start a transfer",
          body=TRANSFER_BODY, tag="calls"),
    Route("POST", "/api/calls/{call_id}/transfers/{transfer_id}/complete", complete_transfer, EVERYONE,
          "Complete a transfer", tag="calls"),
    Route("POST", "/api/calls/{call_id}/transfers/{transfer_id}/cancel", cancel_transfer, EVERYONE,
          "Cancel a transfer", tag="calls"),
    Route("POST", "/api/calls/{call_id}/conference", merge_conference, EVERYONE, "Merge into a conference",
          tag="calls"),
    Route("POST", "/api/calls/{call_id}/hangup", hangup_call, EVERYONE, "Hang up the call", tag="calls"),
    Route("GET", "/api/calls/live", list_live_calls, SUPERVISORS, "List live calls", tag="calls"),
    Route("GET", "/api/agents/{agent_id:\\d+}/call", current_call, EVERYONE, "Read the agent's current call",
          tag="calls", own_agent_only=True),
    Route("POST", "/api/calls/{call_id}/contact", associate_contact, EVERYONE, "Associate a call with a contact",
          body=ASSOCIATE_BODY, tag="calls"),
    Route("GET", "/api/settings/clipboard", get_clipboard, EVERYONE, "Read the clipboard fields", tag="settings"),
    Route("PUT", "/api/settings/clipboard", put_clipboard, SUPERVISORS, "Set the clipboard fields",
          body=CLIPBOARD_BODY, tag="settings"),
]
