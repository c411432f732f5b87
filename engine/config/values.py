"""The validation layer between the store and the templates.

Every value that reaches a generated .conf file goes through `conf_value()`, which checks it
against what is dangerous in the place it is written (a PJSIP option value, a section name,
a caller ID name, a dialplan extension or application argument, a comment) and returns a
`ConfValue`. The Jinja2 environment's `finalize` hook (`refuse_unvalidated`) refuses anything
else, so a template that prints a raw database value fails loudly instead of writing it.

Why refuse instead of escape: Asterisk's config parser has escapes for some characters
(`\\;`) but not for others (a newline, `[` at the start of a line, `,` inside an
application argument depends on the application), and a PBX admin reading the file should
see the value exactly as the database holds it. The store already refuses most of these at
flush time; this layer is the last line of defence for anything that bypassed it (a
hand-edited database, a migration, a future field) and for the settings, which come from the
environment.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["KINDS", "ConfValue", "ConfigValueError", "conf_value", "refuse_unvalidated"]


class ConfigValueError(ValueError):
    """A value would break or inject into a generated file. Names the record and field."""

    def __init__(self, record: str, field: str, problem: str, file: str | None = None):
        self.record = record
        self.field = field
        self.problem = problem
        self.file = file
        super().__init__(f"{record} field {field!r}: {problem}")


class ConfValue(str):
    """A string that has passed `conf_value()`: the only kind the templates may print."""

    __slots__ = ()


def refuse_unvalidated(value):
    """Jinja2 `finalize` hook: only validated values (and nothing None) reach the output."""
    if isinstance(value, ConfValue):
        return value
    raise ConfigValueError(
        "template", repr(value)[:60],
        f"a {type(value).__name__} reached a template without passing conf_value() (a generator bug)",
    )


# What each special character would do, for the error message.
_WHY = {
    ";": "would start a comment",
    "[": "would start a section header",
    "]": "would end a section header",
    "=": "would split an option into name and value",
    ">": "would end the caller ID number or read as '=>'",
    "<": "would start the caller ID number",
    '"': "would end the quoted caller ID name",
    "\\": "is an escape character",
    ",": "would split the application's arguments",
    "(": "would open an application's argument list",
    ")": "would close the application's argument list",
    "$": "would start a dialplan variable or function",
    "|": "is an old argument separator",
    "&": "would split a dialplan list",
    "^": "is a dialplan escape",
    "#": "would start an #include/#exec directive",
    "'": "is a quote character",
    "`": "is a quote character",
    " ": "is whitespace",
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_E164_RE = re.compile(r"^\+[1-9][0-9]{1,14}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_ZONE_RE = re.compile(r"^[a-z]{2}$")
_DIGITS_RE = re.compile(r"^[0-9]{1,20}$")


class _Kind:
    """What is allowed for one kind of value, and a phrase for where it is written."""

    def __init__(self, forbidden: str, where: str, pattern: re.Pattern | None = None, what: str = "",
                 max_len: int = 200, strip_matters: bool = True):
        self.forbidden = forbidden
        self.where = where
        self.pattern = pattern
        self.what = what
        self.max_len = max_len
        self.strip_matters = strip_matters


# The kinds of place a value can be written. `forbidden` are refused anywhere in the value;
# `pattern` (when set) is the whole-value shape, checked after the forbidden characters so the
# error says which character is the problem when one is.
KINDS: dict[str, _Kind] = {
    # A section name or an identifier that also appears in other objects' options
    # (endpoint, aor and auth names, ARI/AMI user names, music-on-hold classes).
    "name": _Kind(";[]=,\\\"'`$#<>()|&^ ", "a section name", _NAME_RE,
                  "a name of letters, digits, '.', '_' and '-' starting with a letter or digit", 40),
    # The value of an `option = value` line (a password, a description in a value).
    "value": _Kind(";[]=\\\"", "an option value", max_len=200),
    # The display name inside `callerid = "Name" <number>`.
    "callerid_name": _Kind(";[]=\\\"<>", "a caller ID name", max_len=80),
    # A phone number in E.164: caller ID numbers, inbound numbers.
    "e164": _Kind(";[]=,\\\"'`$#<>()|&^ ", "a phone number", _E164_RE, "a number in E.164 such as +442071838750", 16),
    # Plain digits: an intercom number used as a caller ID number or extension.
    "digits": _Kind(";[]=,\\\"'`$#<>()|&^ ", "a digit string", _DIGITS_RE, "a string of digits", 20),
    # A dialplan extension (literal digits) or a Stasis() application argument.
    "dialplan_arg": _Kind(";[]=,\\\"'`$#<>()|&^ ", "a dialplan application argument", max_len=80),
    # A host name or IPv4 address.
    "host": _Kind(";[]=,\\\"'`$#<>()|&^ ", "a host name", _HOST_RE, "a host name or IPv4 address", 253),
    # An indications zone (two lower-case letters).
    "zone": _Kind(";[]=,\\\"'`$#<>()|&^ ", "an indications zone", _ZONE_RE, "a two-letter zone such as uk", 2),
    # Free text in a `; comment` line: only a line break (or a block-comment marker) breaks out.
    "comment": _Kind("", "a comment", max_len=400, strip_matters=False),
    # A whole number (ports, counts).
    "port": _Kind("", "a port number"),
}


def _bad_control(text: str) -> str | None:
    """The first control / line-separator / format character, if any."""
    for ch in text:
        if ch in "\n\r":
            return "a line break"
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            return f"the control character U+{ord(ch):04X}"
    return None


def conf_value(value, record: str, field: str, kind: str, file: str) -> ConfValue:
    """Check `value` for the place `kind` in `file`; return it as a ConfValue or raise.

    `record` names the record ("agent 'alice'") and `field` its field, so the error reads
    `agent 'alice' field 'name': contains ';' which would start a comment in pjsip.conf`.
    """
    spec = KINDS[kind]

    def fail(problem: str) -> ConfigValueError:
        return ConfigValueError(record, field, problem, file)

    if kind == "port":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise fail(f"{value!r} is not a port number from 1 to 65535 (in {file})")
        return ConfValue(str(value))
    if value is None:
        raise fail(f"is missing, and {file} needs it")
    if not isinstance(value, str):
        raise fail(f"{value!r} is a {type(value).__name__}, not text (in {file})")
    if value == "" and kind != "comment":
        raise fail(f"is empty, and {file} needs a value")
    control = _bad_control(value)
    if control:
        raise fail(f"contains {control}, which would break the line structure of {file}")
    if kind == "comment":
        if ";--" in value or "--;" in value:
            raise fail(f"contains a ';--' / '--;' marker, which would open or close a block comment in {file}")
    elif spec.strip_matters and value != value.strip():
        raise fail(f"{value!r} has leading or trailing whitespace, which {file}'s parser would drop")
    for ch in value:
        if ch in spec.forbidden:
            why = _WHY.get(ch, "is not allowed")
            raise fail(f"contains {ch!r} which {why} in {spec.where} in {file}")
    if spec.pattern is not None and not spec.pattern.match(value):
        raise fail(f"{value!r} is not {spec.what} (in {file})")
    if len(value) > spec.max_len:
        raise fail(f"is longer than {spec.max_len} characters (in {file})")
    return ConfValue(value)
