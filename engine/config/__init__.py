"""config capability: render the Asterisk configuration from the store; check; apply.

    files = generate(session, settings)      # filename -> content (load_snapshot + render)
    write(files, out_dir)                    # all-or-nothing into a directory
    report = check(settings, out_dir=None)   # boot a throw-away Asterisk on it (CheckReport)
    result = apply(settings, files, to_dir)  # write changed files into a live Asterisk, reload them

Every value reaches a template through `values.conf_value()`; a value that would break or
inject into a .conf file raises `ConfigValueError` naming the record and field, and nothing
is written.
"""

from .apply import ApplyResult, apply, apply_async
from .check import check
from .generator import TEMPLATES, generate, render, write
from .snapshot import Snapshot, load_snapshot
from .values import ConfigValueError, conf_value

__all__ = [
    "TEMPLATES",
    "ApplyResult",
    "ConfigValueError",
    "Snapshot",
    "apply",
    "apply_async",
    "check",
    "conf_value",
    "generate",
    "load_snapshot",
    "render",
    "write",
]
