"""Phone numbers: parse and validate into E.164, format for display.

Every number Switchboard stores is E.164 (`+441632960001`): one spelling per number, so
contact lookup is an exact match and the generated dialplan never sees a formatting
variant. Input may be national (`01632 960001`) when a default region is known.

Display follows the agent desktop guide: a number from the agent's own country is shown in
that country's national format, any other in E.164.
"""

from __future__ import annotations

import phonenumbers

from .errors import ValidationError


def to_e164(value: str, field: str, region: str | None = None) -> str:
    """Parse `value` and return it in E.164, or raise ValidationError naming `field`.

    `region` is an ISO 3166 country code used for numbers written without a `+` prefix.
    """
    if value is None or not str(value).strip():
        raise ValidationError(field, "a phone number is required")
    raw = str(value).strip()
    try:
        parsed = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        hint = "" if raw.startswith("+") or region else " (write it in E.164 with a leading +, or give a region)"
        raise ValidationError(field, f"{raw!r} is not a phone number: {exc._msg}{hint}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(field, f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_valid_region(region: str) -> bool:
    return (region or "").upper() in phonenumbers.SUPPORTED_REGIONS


def format_for_agent(e164: str | None, agent_region: str | None) -> str:
    """National format when the number is in the agent's country, E.164 otherwise.

    Anything that does not parse (an anonymous or withheld caller ID) is "Unknown".
    """
    if not e164:
        return "Unknown"
    try:
        parsed = phonenumbers.parse(e164, None if e164.startswith("+") else (agent_region or None))
    except phonenumbers.NumberParseException:
        return "Unknown"
    if not phonenumbers.is_possible_number(parsed):
        return "Unknown"
    number_region = phonenumbers.region_code_for_number(parsed)
    if agent_region and number_region == agent_region.upper():
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
