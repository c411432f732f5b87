"""`switchboard engine`: run the engine until SIGINT or SIGTERM.

A signal asks the engine to stop; it closes its ARI and AMI connections and ends its
tasks. Calls stay up in Asterisk: the next start rebuilds the live view and adopts them.
"""

from __future__ import annotations

import asyncio
import signal

from engine.log import configure_logging, get_logger
from engine.settings import Settings

from .engine import Engine
from .heap import settle_heap


async def serve(settings: Settings) -> None:
    """The engine and, in the same process, the web side (REST, websocket, pages): the
    dashboard sees every state change the moment the engine makes it, with no broker."""
    from web.app import start_web, web_port

    engine = Engine(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, engine.request_stop)
    runner = None
    try:
        await engine.start()
        runner = await start_web(settings, engine.routing, engine.bus)
        get_logger("engine.runtime.cli").info("web_started", url=f"http://127.0.0.1:{web_port(settings)}/",
                                              frozen_objects=settle_heap())
        await engine.run()
    finally:
        if runner is not None:
            await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_engine(settings: Settings, *, log_level: str = "INFO", json_logs: bool = True) -> int:
    """Entry point for `switchboard engine`. Returns the process exit code."""
    configure_logging(log_level, json=json_logs)
    get_logger("engine.runtime.cli").info("engine_starting", database=_redact(settings.database_url))
    asyncio.run(serve(settings))
    return 0


def _redact(url: str) -> str:
    """Hide a password in a database URL before logging it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
