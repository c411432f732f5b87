"""structlog set-up: JSON lines on stderr, with call and channel ids bound by callers.

Why JSON: a contact centre's engine is read by log shippers, not humans tailing a console;
every line carries its context (`call_id`, `channel_id`, `agent`) so one call's story can
be filtered out of thousands. `configure_logging(json=False)` gives readable console lines
for development.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Configure structlog and the stdlib root logger once for the process."""
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (asyncari, panoramisk, httpx) log through the stdlib: keep them quieter.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def get_logger(name: str, **bound):
    """A lazy logger: safe to create at import time, before `configure_logging()` runs.

    The bound values are handed to structlog as initial values, so nothing resolves the
    configuration until the first log call.
    """
    return structlog.get_logger(name, **bound)
