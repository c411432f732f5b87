"""`check`: boot a throw-away Asterisk on a generated configuration and report what it rejected.

The checking itself is the sandbox's (`Sandbox.check_config`, engine/pbx/sandbox.py): it
starts Asterisk 22 in its own network namespace on the candidate files and collects ERRORs,
config-parser WARNINGs, missing required modules and dangling PJSIP references.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from engine.settings import Settings


def generate_from_database(settings: Settings) -> dict[str, str]:
    """Open the settings' database and render every file."""
    from engine.store.session import session_scope

    from .generator import generate

    with session_scope(settings.database_url) as session:
        return generate(session, settings)


def check(settings: Settings, out_dir: Path | str | None = None):
    """Check `out_dir`, or (when None) a fresh generation from the database. Returns a CheckReport.

    Raises ConfigValueError when the database holds a value that cannot be written, and
    SandboxError when no Asterisk can be started to check with.
    """
    from engine.pbx.sandbox import Sandbox

    from .files import write_all

    if out_dir is not None:
        return Sandbox(settings).check_config(Path(out_dir))
    files = generate_from_database(settings)
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-config-check-"))
    try:
        write_all(files, tmp / "asterisk")
        return Sandbox(settings).check_config(tmp / "asterisk")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
