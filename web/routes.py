"""The route table: one list that registers the handlers AND generates /api/openapi.json.

Why one table: the OpenAPI description, the role each endpoint allows and the body it
accepts are read from the same `Route` rows that aiohttp is given, so the description cannot
drift from what the server does. `guard()` wraps every handler with the role check and the
CSRF check before the handler runs; the handler never sees a request its role may not make.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from aiohttp import web

from .auth import check_csrf, current_user
from .http import ApiError, F

AGENT, SUPERVISOR, ADMIN = "agent", "supervisor", "admin"
EVERYONE = (AGENT, SUPERVISOR, ADMIN)
SUPERVISORS = (SUPERVISOR, ADMIN)
ADMINS = (ADMIN,)
PUBLIC: tuple[str, ...] = ()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: tuple[str, ...]
    summary: str
    body: dict[str, F] | None = None
    query: dict[str, F] = field(default_factory=dict)
    tag: str = ""
    # An agent may call it only for their own agent id ({agent_id} in the path).
    own_agent_only: bool = False


def guard(route: Route) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if route.roles:
            user = await current_user(request)
            if user is None:
                raise ApiError(401, "not_signed_in", "sign in first")
            if user.role not in route.roles:
                raise ApiError(403, "forbidden", f"a {user.role} may not {route.summary.lower()}")
            check_csrf(request, user)
            if route.own_agent_only and user.role == AGENT:
                if str(user.agent_id) != request.match_info.get("agent_id"):
                    raise ApiError(403, "forbidden", "an agent may act only on their own state and calls")
        return await route.handler(request)

    guarded.__name__ = route.handler.__name__
    guarded.__doc__ = route.handler.__doc__
    return guarded


def register(app: web.Application, routes: list[Route]) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, guard(route))


_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def openapi(routes: list[Route]) -> dict:
    paths: dict[str, dict] = {}
    for route in routes:
        if not route.path.startswith("/api/"):
            continue
        path = _PARAM.sub(r"{\1}", route.path)
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PARAM.findall(route.path)]
        params += [{"name": name, "in": "query", "required": f.required, "schema": f.schema()}
                   for name, f in route.query.items()]
        doc = (route.handler.__doc__ or "").strip()
        op: dict = {
            "summary": route.summary,
            "description": doc + ("\n\n" if doc else "") + (
                f"Roles: {', '.join(route.roles)}" if route.roles else "Public (no session needed)")
            + (". An agent may use it only for their own agent id." if route.own_agent_only else "."),
            "operationId": f"{route.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
            "tags": [route.tag] if route.tag else [],
            "x-roles": list(route.roles),
            "responses": {
                "200": {"description": "OK"},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
            },
        }
        if params:
            op["parameters"] = params
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {name: f.schema() for name, f in route.body.items()},
                "required": [name for name, f in route.body.items() if f.required],
            }}}}
        if route.method not in ("GET", "HEAD") and route.roles:
            op["parameters"] = op.get("parameters", []) + [
                {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}]
        paths.setdefault(path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard API", "version": "1",
                 "description": "Sessions: POST /api/login sets an HttpOnly SameSite=Strict cookie; every "
                                "state-changing request needs the session's X-CSRF-Token header and a JSON "
                                "body. Live updates: websocket /ws."},
        "paths": paths,
        "components": {"responses": {"Error": {"description": "A refusal", "content": {"application/json": {
            "schema": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "field": {"type": ["string", "null"]}}}}}}}}}},
    }
