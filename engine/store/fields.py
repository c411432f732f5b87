"""Field checks shared by the tables: one place that says what a valid value is.

The tables call these from their `check_fields()` methods, which the session runs before every
flush (see `session.py`): no code path can store an invalid record, whether it comes from
the REST API, the CLI or a seed script.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .errors import ValidationError
from .phone import is_valid_region, to_e164

INTERCOM_RE = re.compile(r"^\d{4}$")
TRANSFER_CODE_RE = re.compile(r"^\d{5}$")
# SIP user names become PJSIP section names and dialplan extensions: keep them plain.
SIP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
# Control characters and the characters that end or start a line/section in a .conf file.
_UNSAFE_TEXT_RE = re.compile(r"[\x00-\x1f\x7f]")


def utcnow() -> datetime:
    """Timezone-aware UTC now; every timestamp Switchboard stores is UTC."""
    return datetime.now(timezone.utc)


def require_text(value: str | None, field: str, max_len: int = 200, required: bool = True) -> str | None:
    """Trimmed single-line text, or a ValidationError naming the field."""
    if value is None or str(value).strip() == "":
        if required:
            raise ValidationError(field, "is required")
        return None if value is None else ""
    text = str(value).strip()
    if _UNSAFE_TEXT_RE.search(text):
        raise ValidationError(field, "must be a single line without control characters")
    if len(text) > max_len:
        raise ValidationError(field, f"is longer than {max_len} characters")
    return text


def require_pattern(value: str | None, field: str, pattern: re.Pattern, what: str) -> str:
    text = "" if value is None else str(value).strip()
    if not pattern.match(text):
        raise ValidationError(field, f"{text!r} is not {what}")
    return text


def require_choice(value: str | None, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValidationError(field, f"{value!r} is not one of {', '.join(choices)}")
    return value


def require_positive_int(value, field: str, maximum: int = 86400) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value > maximum:
        raise ValidationError(field, f"{value!r} must be a whole number from 1 to {maximum}")
    return value


def optional_phone(value: str | None, field: str, region: str | None) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    return to_e164(value, field, region)


def phone_list(values, field: str, region: str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        raise ValidationError(field, "must be a list of phone numbers")
    out: list[str] = []
    for i, v in enumerate(values):
        number = to_e164(v, f"{field}[{i}]", region)
        if number in out:
            raise ValidationError(f"{field}[{i}]", f"{number} is listed twice")
        out.append(number)
    return out


def require_region(value: str | None, field: str) -> str:
    region = (value or "").strip().upper()
    if not is_valid_region(region):
        raise ValidationError(field, f"{value!r} is not an ISO 3166 country code known to phonenumbers")
    return region


def require_timezone(value: str | None, field: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = (value or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(field, f"{value!r} is not an IANA time zone (such as Europe/London)") from None
    return name
