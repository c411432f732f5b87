"""The screen pop: what the agent desktop shows when a call connects. Pure: rows in, dict out.

Follows the agent desktop guide:
- the agent's status and the service (department) the call came through;
- the caller: first and last name, account number, phone number formatted for the agent
  (national format for the agent's own country, E.164 otherwise); a blocked or anonymous
  caller ID shows "Unknown" for both customer and phone;
- the caller name from SIP when present;
- the inbound number and its description ("" when the Phone Numbers editor has none);
- the termination codes for wrap-up;
- Multi-Match: every contact with the caller's number when there is more than one; the
  selected contact is the one associated with the call, else the only match.
`clipboard_fields` (a manager's list, see engine.store.users.CLIPBOARD_FIELDS) gives the
text "copy to clipboard" copies: one `Label: value` line per field.
"""

from __future__ import annotations

from engine.store.phone import format_for_agent

UNKNOWN = "Unknown"
_WITHHELD = {"anonymous", "restricted", "unavailable", "private", "withheld", "unknown", "blocked"}
LABELS = {
    "caller_name": "Caller name", "first_name": "First name", "last_name": "Last name",
    "account_number": "Account number", "phone_number": "Phone number", "inbound_number": "Inbound number",
    "inbound_number_description": "Inbound number description", "department": "Service", "call_id": "Call ID",
}


def is_withheld(number: str | None) -> bool:
    if number is None or not str(number).strip():
        return True
    text = str(number).strip()
    return text.lower() in _WITHHELD or not any(ch.isdigit() for ch in text)


def _contact_dict(contact) -> dict:
    return {"id": contact.id, "account_number": contact.account_number, "first_name": contact.first_name,
            "last_name": contact.last_name}


def build_screen_pop(call_record, agent, contacts, inbound_number_row, termination_codes, department, *,
                     agent_state: str = "in_call", clipboard_fields: list[str] | tuple[str, ...] = ()) -> dict:
    """The dict the desktop shows for `call_record` answered by `agent`.

    `contacts`: the contacts whose phone matches the caller's number (plus the associated
    contact, if it is not among them); `termination_codes`: rows available to the agent's
    department; `department` and `inbound_number_row` may be None.
    """
    region = getattr(agent, "region", None)
    withheld = is_withheld(call_record.caller_number)
    by_id = {c.id: c for c in contacts}
    selected = by_id.get(call_record.contact_id) if call_record.contact_id is not None else None
    if selected is None and len(contacts) == 1 and not withheld:
        selected = contacts[0]
    multi = [_contact_dict(c) for c in sorted(contacts, key=lambda c: (c.last_name, c.first_name, c.id))] \
        if len(contacts) > 1 else []
    caller_name = (call_record.caller_name or "").strip()
    if withheld:
        caller_name = UNKNOWN
    inbound = inbound_number_row.number if inbound_number_row is not None else call_record.inbound_number
    fields = {
        "caller_name": caller_name,
        "first_name": selected.first_name if selected else (UNKNOWN if withheld else ""),
        "last_name": selected.last_name if selected else "",
        "account_number": selected.account_number if selected else "",
        "phone_number": UNKNOWN if withheld else format_for_agent(call_record.caller_number, region),
        "inbound_number": format_for_agent(inbound, region) if inbound else "",
        "inbound_number_description": (inbound_number_row.description or "") if inbound_number_row is not None else "",
        "department": department.name if department is not None else "",
        "call_id": call_record.id,
    }
    wanted = [name for name in clipboard_fields if name in fields]
    return {
        "call_id": call_record.id,
        "agent_status": agent_state,
        "service": fields["department"],
        "department_id": department.id if department is not None else None,
        "withheld": withheld,
        "fields": fields,
        "labels": {name: LABELS[name] for name in fields},
        "contact": _contact_dict(selected) if selected else None,
        "contact_id": call_record.contact_id,
        "original_contact_id": call_record.original_contact_id,
        "multi_match": multi,
        "termination_codes": [{"code": t.code, "name": t.name} for t in termination_codes],
        "clipboard_fields": wanted,
        "clipboard_text": "\n".join(f"{LABELS[name]}: {fields[name]}" for name in wanted),
        "answered_at": call_record.answered_at.isoformat() if call_record.answered_at else None,
        "started_at": call_record.started_at.isoformat() if call_record.started_at else None,
    }
