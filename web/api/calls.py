"""Calls: the live-call list with its timeline, the agent's screen pop, associating a call
with a contact ID (account number), and call control (transfers, consult, conference,
hang-up) for the desktop.

What is shown is what is known: CallRecord rows without `ended_at` and their CallEvent
timeline, written by the engine's call actors. The screen pop lists the call's
capabilities, each available or not with the reason, so the desktop draws only what the
engine will accept. The current-call resource also carries the call's live transfer
(`transfer`, read from the engine's call control) so a reloaded desktop shows it again.
Transfer, conference and hang-up requests become messages to the call's actor
(engine/features/control.py); a refusal comes back as `{code, message}` with its status.
"""

from __future__ import annotations

from sqlmodel import select

from engine.routing import contacts, screenpop_data
from engine.routing.screenpop import is_withheld
from engine.store import models as m
from engine.store.errors import ValidationError
from engine.store.fields import INTERCOM_RE, TRANSFER_CODE_RE
from engine.store.phone import format_for_agent
from engine.store.session import session_scope
from engine.store.users import CLIPBOARD_FIELDS

from ..http import (
    ApiError,
    F,
    check_body,
    db,
    forbidden,
    int_param,
    not_found,
    ok,
    read_json,
)
from ..keys import BUS_KEY, ROUTING_KEY, SETTINGS_KEY, USER_KEY
from ..live import agent_live
from ..routes import EVERYONE, SUPERVISORS, Route

CALL_CONTROL_NOTE = ("Transfers, consult, conference and hang-up work from here or from your phone "
                     "(#1 / #4 / *2 / *4 transfer, *3 conference).")


CONSULT_FIRST = "a conference starts from an answered consultation: Consult first"
TRANSFER_BUSY = "a transfer is in progress on this call"
IN_CONFERENCE = "the call is a conference"
HANGUP_HINTS = {  # what hanging up does while a transfer is on (engine/features/transfer.py)
    "ringing": "you leave; the recipient keeps ringing for the caller",
    "consulting": "you leave and the recipient takes the caller: the transfer completes",
    "conference": "you leave; the caller and the recipient stay connected",
}


def capabilities(agent, department, connected: bool = True) -> list[dict]:
    """What the desktop's call-control area offers, before any transfer is known. Hold,
    transfers and hang-up are available while the call is connected; a conference only
    ever starts from an answered consultation (`during_transfer` turns it on then)."""
    hold = (agent is None or agent.hold_enabled) and (department is None or department.hold_enabled)
    reason = None if connected else "only while the call is connected"
    # Hold / Resume: POST /api/calls/{id}/hold|resume (web/api/hold.py); absent when a manager
    # disabled hold for the agent or the department.
    caps = [{"name": "hold", "label": "Hold", "available": connected, "reason": reason}] if hold else []
    for name, label in [("blind_transfer", "Transfer"), ("attended_transfer", "Consult")]:
        caps.append({"name": name, "label": label, "available": connected, "reason": reason})
    caps.append({"name": "conference", "label": "Conference", "available": False, "reason": reason or CONSULT_FIRST})
    caps.append({"name": "hangup", "label": "Hang up", "available": connected, "reason": reason})
    return caps


def during_transfer(caps: list[dict], transfer: dict | None, connected: bool = True) -> list[dict]:
    """The capabilities while a transfer or conference is on, as the engine will accept them.

    Only the transferring agent controls the call (the engine refuses anyone else but the
    recipient's own hang-up); they
    may not hold or start a second transfer, may merge only once the recipient answered,
    and may always hang up (`hint` says what that does now)."""
    if transfer is None or not connected:
        return caps
    if transfer["role"] != "transferring":
        # The recipient may only leave (the engine hangs up their leg: a consultation goes
        # back to the transferring agent, a conference goes on without them).
        reason = f"{transfer['by']} is transferring this call: only they can control it until the transfer completes"
        recipient = transfer["role"] == "recipient"
        return [{**c, "available": False, "reason": reason} if not (recipient and c["name"] == "hangup")
                else {**c, "hint": "leaves the call; the caller stays with " + transfer["by"]} for c in caps]
    state, out = transfer["state"], []
    for cap in caps:
        cap = dict(cap)
        if cap["name"] in ("hold", "blind_transfer", "attended_transfer"):
            cap["available"], cap["reason"] = False, IN_CONFERENCE if state == "conference" else TRANSFER_BUSY
        elif cap["name"] == "conference":
            cap["available"] = state == "consulting"
            cap["reason"] = None if cap["available"] else (
                IN_CONFERENCE if state == "conference" else "the recipient has not answered yet")
        elif cap["name"] == "hangup":
            cap["hint"] = HANGUP_HINTS.get(state)
        out.append(cap)
    return out


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
    """The agent's current call (Ringing, In Call or Wrap-up) as a screen pop, or null. The
    pop carries `on_hold`, the live `transfer` (or null) and capabilities that know it."""
    agent_id = int_param(request.match_info["agent_id"], "agent_id")
    routing = request.app[ROUTING_KEY]
    live = agent_live(routing, agent_id)
    if live["state"] not in ("ringing", "in_call", "wrap_up") or not live["call_id"]:
        return ok({"call": None, "live": live})
    return ok({"call": await call_view(request, agent_id, live), "live": live})


async def call_view(request, agent_id: int, live: dict) -> dict:
    """The agent's current call as the desktop draws it (this resource and the desktop's
    one read): the screen pop, `on_hold`, the live `transfer` and capabilities that know it."""
    routing = request.app[ROUTING_KEY]
    pop = await db(request, load_screen_pop, live["call_id"], agent_id, live["state"], live["department_id"])
    control = getattr(routing, "hold_control", None)
    pop["on_hold"] = bool(control is not None and control.on_hold(live["call_id"]))
    pop["transfer"] = await live_transfer(request, live["call_id"], agent_id)
    pop["capabilities"] = during_transfer(pop["capabilities"], pop["transfer"], connected=live["state"] == "in_call")
    return pop


async def live_transfer(request, call_id: str, agent_id: int) -> dict | None:
    """The call's attended transfer or conference as `agent_id` sees it, or None.

    `role`: "transferring" (the agent who started it, the only one who may act on it),
    "recipient", or "other"; `by`: the transferring agent's name; `target.label`: who is
    being called, as the agent reads it (name and intercom, a number in the agent's own
    format, or the department / IVR name)."""
    control = getattr(request.app[ROUTING_KEY], "call_control", None)
    transfer = control.transfer_of(call_id) if control is not None else None
    if transfer is None:
        return None
    role = ("transferring" if transfer.get("agent_id") == agent_id
            else "recipient" if transfer.get("recipient_agent_id") == agent_id else "other")
    names = await db(request, _transfer_names, transfer, agent_id)
    return {**transfer, "role": role, "by": names["by"], "target": {**(transfer["target"] or {}), "label": names["label"]}}


def _transfer_names(db_url: str, transfer: dict, viewer_id: int) -> dict:
    with session_scope(db_url) as session:
        by = session.get(m.Agent, transfer["agent_id"]) if transfer.get("agent_id") else None
        viewer = session.get(m.Agent, viewer_id)
        return {"by": by.name if by else "another agent",
                "label": target_label(session, transfer.get("target") or {}, viewer.region if viewer else None)}


def target_label(session, target: dict, region: str | None) -> str:
    """A transfer target as an agent reads it: "Bob Baker (1002)", "07911 123459", "Sales (20001)"."""
    kind, value = target.get("kind"), target.get("value") or ""
    if kind == "agent":
        agent = session.exec(select(m.Agent).where(m.Agent.intercom == value)).first()
        return f"{agent.name} ({value})" if agent else f"intercom {value}"
    if kind == "external":
        return format_for_agent(value, region)
    if kind in ("department", "ivr"):
        model = m.Department if kind == "department" else m.Ivr
        row = session.exec(select(model).where(model.transfer_code == value)).first()
        return f"{row.name} ({value})" if row else f"transfer code {value}"
    return value


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
TARGET_KINDS = {"intercom": "agent", "number": "external", "code": "code"}  # body key -> engine kind
TARGET_FORMATS = {"intercom": (INTERCOM_RE, "a 4-digit intercom number"),
                  "code": (TRANSFER_CODE_RE, "a 5-digit transfer code")}


def parse_target(target: dict) -> tuple[str, str, bool]:
    """The body's `target` as (engine kind, value, queue); a ValidationError names the field.

    Checked here so a typo is a 400 on its field before the call's actor is bothered;
    whether the target exists and may take the call is the engine's answer (422/409)."""
    for key in target:
        if key not in TARGET_KINDS and key != "queue":
            raise ValidationError(f"target.{key}", "is not a target field (give one of intercom, number or code)")
    given = [key for key in TARGET_KINDS if key in target]
    if len(given) != 1:
        raise ValidationError("target", "give exactly one of intercom, number or code")
    key = given[0]
    raw = target[key]
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError(f"target.{key}", "must be a non-empty string")
    value = raw.strip()
    if key in TARGET_FORMATS and not TARGET_FORMATS[key][0].match(value):
        raise ValidationError(f"target.{key}", f"{value!r} is not {TARGET_FORMATS[key][1]}")
    if "queue" in target and key != "code":
        raise ValidationError("target.queue", "applies only to a transfer code")
    queue = target.get("queue", True)
    if not isinstance(queue, bool):
        raise ValidationError("target.queue", "must be true or false")
    return TARGET_KINDS[key], value, queue


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
    kind, value, queue = parse_target(body["target"])
    result = await _control(request, "transfer", flow=body["flow"], kind=kind, value=value, queue=queue)
    return ok(result, status=201)


# ---- transfer targets (the desktop's picker) ---------------------------------------------
STATE_LABELS = {"ready": "Ready", "not_ready": "Not ready", "ringing": "Ringing", "in_call": "In call",
                "wrap_up": "Wrap-up", "offline": "Signed out"}


def _target_rows(db_url: str, call_id: str, department_id: int | None) -> dict:
    """Agents, transfer codes and the call's department's queue setting, from the database.
    `department_id` stands in while the engine has not written the call's record yet (as
    the screen pop does)."""
    with session_scope(db_url) as session:
        record = session.get(m.CallRecord, call_id)
        dept_id = (record.department_id if record else None) or department_id
        department = session.get(m.Department, dept_id) if dept_id else None
        agents = [{"agent_id": a.id, "name": a.name, "intercom": a.intercom}
                  for a in session.exec(select(m.Agent).order_by(m.Agent.name)).all()]
        codes = [{"code": d.transfer_code, "name": d.name, "kind": "department"}
                 for d in session.exec(select(m.Department).where(m.Department.transfer_code.is_not(None))).all()]
        codes += [{"code": i.transfer_code, "name": i.name, "kind": "ivr"}
                  for i in session.exec(select(m.Ivr).where(m.Ivr.transfer_code.is_not(None))).all()]
        return {"known": record is not None, "call_agent_id": record.agent_id if record else None,
                "agents": agents, "codes": sorted(codes, key=lambda c: c["code"]),
                "external": {"available": bool(department and department.use_as_queue),
                             "reason": None if department and department.use_as_queue else
                             "external transfers need the department's \"Use it as Queue\" on"}}


def agent_choice(row: dict, live: dict) -> dict:
    """One agent in the picker: only a Ready, active agent can take a transfer (the engine
    refuses the rest with "agent N is not Ready"); the label says why the others cannot."""
    admin = live["admin_status"]
    label = admin.capitalize() if admin != "active" else STATE_LABELS.get(live["state"], live["state"])
    return {"agent_id": row["agent_id"], "name": row["name"], "intercom": row["intercom"], "state": live["state"],
            "state_label": label, "selectable": admin == "active" and live["state"] == "ready"}


async def transfer_targets(request):
    """Who and where the call can be transferred to: agents with their live state (Ready
    ones selectable), department and IVR transfer codes, and whether external numbers are
    allowed (the department's "Use it as Queue"). An agent may ask about their own call only."""
    call_id = request.match_info["call_id"]
    user, routing = request[USER_KEY], request.app[ROUTING_KEY]
    own = agent_live(routing, user.agent_id) if user.role == "agent" else None
    mine = own is not None and own["call_id"] == call_id
    if own is not None and not mine:
        raise ApiError(404, "not_found", f"call {call_id} is not your current call")
    rows = await db(request, _target_rows, call_id, own["department_id"] if mine else None)
    if not rows["known"] and not mine:
        raise not_found(f"call {call_id}")
    exclude = user.agent_id if mine else rows["call_agent_id"]
    agents = [agent_choice(row, agent_live(routing, row["agent_id"]))
              for row in rows["agents"] if row["agent_id"] != exclude]
    agents.sort(key=lambda a: not a["selectable"])  # Ready first, each part by name
    return ok({"agents": agents, "codes": rows["codes"], "external": rows["external"]})


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
    Route("GET", "/api/calls/{call_id}/transfer-targets", transfer_targets, EVERYONE, "List transfer targets",
          tag="calls"),
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
