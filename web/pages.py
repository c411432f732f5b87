"""The HTML pages: log-in, supervisor dashboard, agent desktop. Plain HTML + JS, no build.

Pages hold no data: they load it from the API with the session cookie, so the same role
checks protect them. A page request without a session redirects to /login; a role that
has no business on a page is sent to its own page.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .auth import current_user

STATIC = Path(__file__).parent / "static"
_PAGES = {name: (STATIC / f"{name}.html").read_text(encoding="utf-8") for name in ("login", "dashboard", "desktop")}
HOME = {"agent": "/desktop", "supervisor": "/dashboard", "admin": "/dashboard"}


def _html(name: str) -> web.Response:
    return web.Response(text=_PAGES[name], content_type="text/html", charset="utf-8")


async def index(request: web.Request) -> web.Response:
    """Send the user to their page (or to the log-in)."""
    user = await current_user(request)
    raise web.HTTPFound(HOME[user.role] if user else "/login")


async def login_page(request: web.Request) -> web.Response:
    """The log-in form."""
    return _html("login")


async def dashboard_page(request: web.Request) -> web.Response:
    """The supervisor dashboard (supervisors and admins)."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPFound("/login")
    if user.role == "agent":
        raise web.HTTPFound("/desktop")
    return _html("dashboard")


async def desktop_page(request: web.Request) -> web.Response:
    """The agent desktop (agents)."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPFound("/login")
    if user.role != "agent":
        raise web.HTTPFound("/dashboard")
    return _html("desktop")
