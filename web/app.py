"""The aiohttp application: `create_app(settings, routing, bus)` and `start_web(...)`.

Listens on 127.0.0.1 only. The port is `settings.web_port` when the settings carry one,
else the environment variable SWITCHBOARD_WEB_PORT, else 8080.
"""

from __future__ import annotations

import os

from aiohttp import WSCloseCode, web

from . import auth, pages, ws
from .api import agents, calls, codes, departments, desktop, groups, hold, inbound_numbers, ivrs, time_groups, users
from .http import error_middleware, ok
from .keys import AUTH_KEY, BUS_KEY, ROUTING_KEY, SETTINGS_KEY, SOCKETS_KEY
from .routes import EVERYONE, PUBLIC, Route, openapi, register

DEFAULT_WEB_PORT = 8080


def web_port(settings) -> int:
    port = getattr(settings, "web_port", None)
    if port:
        return int(port)
    raw = os.environ.get("SWITCHBOARD_WEB_PORT", "")
    try:
        return int(raw) if raw else DEFAULT_WEB_PORT
    except ValueError:
        raise ValueError(f"SWITCHBOARD_WEB_PORT must be an integer, got {raw!r}") from None


async def openapi_json(request: web.Request) -> web.Response:
    """This description, generated from the route table the server runs."""
    return ok(openapi(route_table()))


def route_table() -> list[Route]:
    """Every route the server has, in one list: registered and described from here."""
    return [
        Route("GET", "/", pages.index, PUBLIC, "Home"),
        Route("GET", "/login", pages.login_page, PUBLIC, "Log-in page"),
        Route("GET", "/dashboard", pages.dashboard_page, PUBLIC, "Supervisor dashboard"),
        Route("GET", "/desktop", pages.desktop_page, PUBLIC, "Agent desktop"),
        Route("GET", "/ws", ws.websocket, PUBLIC, "Live updates (websocket)"),
        Route("GET", "/api/openapi.json", openapi_json, PUBLIC, "Describe the API", tag="meta"),
        Route("POST", "/api/login", auth.login, PUBLIC, "Log in", body=auth.LOGIN_BODY, tag="session"),
        Route("POST", "/api/logout", auth.logout, EVERYONE, "Log out", tag="session"),
        Route("GET", "/api/session", auth.session_info, EVERYONE, "Read the session", tag="session"),
        *agents.ROUTES, *desktop.ROUTES, *calls.ROUTES, *groups.ROUTES, *departments.ROUTES, *ivrs.ROUTES,
        *time_groups.ROUTES, *inbound_numbers.ROUTES, *codes.ROUTES, *users.ROUTES,
        *hold.ROUTES,  # hold, resume, answer a waiting call
    ]


async def _close_sockets(app: web.Application) -> None:
    for sock in list(app[SOCKETS_KEY]):
        await sock.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def create_app(settings, routing, bus) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=256 * 1024)
    app[SETTINGS_KEY] = settings
    app[ROUTING_KEY] = routing
    app[BUS_KEY] = bus
    app[AUTH_KEY] = auth.Throttle()
    app[SOCKETS_KEY] = set()
    register(app, route_table())
    app.router.add_static("/static/", pages.STATIC, name="static", append_version=False)
    app.on_shutdown.append(_close_sockets)
    return app


async def start_web(settings, routing, bus) -> web.AppRunner:
    """Start serving on 127.0.0.1:<web port>; `await runner.cleanup()` stops it."""
    runner = web.AppRunner(create_app(settings, routing, bus), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", web_port(settings)).start()
    return runner
