"""Agents: the supervisor's agent list (every column of the guide, live), the calls-answered
filter, the Action column (edit, block, delete, disable), and agent state changes.

State changes go through the RoutingService (the one place agent state changes); the
dashboard hears the result on the websocket like every other change. An agent may change
only their own state (`own_agent_only`); a supervisor may change anyone's or sign them out.
"""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web
from sqlalchemy import select as sa_select
from sqlmodel import select

from engine.agents import records as agent_records
from engine.store import models as m
from engine.store.directory import ADMIN_STATUSES
from engine.store.errors import ValidationError
from engine.store.session import session_scope

from ..auth import hash_password
from ..http import ApiError, F, check_body, db, int_param, not_found, ok, read_json
from ..keys import BUS_KEY, ROUTING_KEY
from ..live import agent_live
from ..routes import EVERYONE, SUPERVISORS, Route
from .crud import Crud, Resource

FIELDS = {
    "name": F("string", required=True), "call_forwarding_number": F("string", nullable=True),
    "alternative_numbers": F("array", items="string"), "intercom": F("string", required=True,
                                                                     description="4 digits"),
    "time_group_id": F("integer", nullable=True), "username": F("string", required=True),
    "extension_caller_id": F("string", nullable=True), "sip_username": F("string", required=True),
    "sip_password": F("string", required=True, description="at least 8 characters; never returned"),
    "region": F("string", description="ISO 3166 country, e.g. GB"), "hold_enabled": F("boolean"),
    "department_ids": F("array", items="integer", description="departments, in fixed-order position"),
    "login_password": F("string", description="creates or resets the agent's web log-in"),
}
HIDDEN = ("sip_password",)


def agent_rows(session) -> list[dict]:
    """Every agent as the list shows it. Core queries, not ORM objects: the list is read on
    every dashboard load and ORM instances for hundreds of rows cost tens of milliseconds."""
    agent_t, link_t = m.Agent.__table__, m.AgentDepartment.__table__
    agents = session.execute(sa_select(agent_t).order_by(agent_t.c.id)).mappings().all()
    depts = dict(session.execute(sa_select(m.Department.__table__.c.id, m.Department.__table__.c.name)).all())
    groups = dict(session.execute(sa_select(m.TimeGroup.__table__.c.id, m.TimeGroup.__table__.c.name)).all())
    links: dict[int, list] = {}
    for link in session.execute(sa_select(link_t).order_by(link_t.c.position)).mappings().all():
        links.setdefault(link["agent_id"], []).append(link["department_id"])
    rows = []
    for a in agents:
        data = {k: v for k, v in a.items() if k not in HIDDEN}
        ids = links.get(a["id"], [])
        data["department_ids"] = ids
        data["departments"] = [depts.get(d, "?") for d in ids]
        data["time_group"] = groups.get(a["time_group_id"], "") if a["time_group_id"] else ""
        rows.append(data)
    return rows


def _row(agent, depts, groups, links) -> dict:
    data = agent.model_dump(exclude=set(HIDDEN))
    data["department_ids"] = [link.department_id for link in links]
    data["departments"] = [depts.get(link.department_id, "?") for link in links]
    data["time_group"] = groups.get(agent.time_group_id, "") if agent.time_group_id else ""
    return data


def to_dict(session, agent) -> dict:
    depts = {d.id: d.name for d in session.exec(select(m.Department)).all()}
    groups = {g.id: g.name for g in session.exec(select(m.TimeGroup)).all()}
    links = session.exec(select(m.AgentDepartment).where(m.AgentDepartment.agent_id == agent.id)
                         .order_by(m.AgentDepartment.position)).all()
    return _row(agent, depts, groups, links)


def on_write(session, agent, extra: dict) -> None:
    if "department_ids" in extra:
        ids = extra["department_ids"]
        if len(set(ids)) != len(ids):
            raise ValidationError("department_ids", "lists a department twice")
        for i, dept_id in enumerate(ids):
            if session.get(m.Department, dept_id) is None:
                raise ValidationError(f"department_ids[{i}]", f"department {dept_id} does not exist")
        for old in session.exec(select(m.AgentDepartment).where(m.AgentDepartment.agent_id == agent.id)).all():
            session.delete(old)
        session.flush()
        for position, dept_id in enumerate(ids):
            session.add(m.AgentDepartment(agent_id=agent.id, department_id=dept_id, position=position))
    if extra.get("login_password") is not None:
        user = session.exec(select(m.WebUser).where(m.WebUser.agent_id == agent.id)).first()
        if user is None:
            user = m.WebUser(username=agent.username, role="agent", agent_id=agent.id, password_hash="")
        try:
            user.password_hash = hash_password(extra["login_password"])
        except ApiError as exc:
            raise ValidationError("login_password", exc.message) from None
        session.add(user)


class AgentCrud(Crud):
    async def list(self, request: web.Request) -> web.Response:
        rows = await db(request, lambda url: _in_session(url, agent_rows))
        routing = request.app[ROUTING_KEY]
        for row in rows:
            row["live"] = agent_live(routing, row["id"], row["admin_status"])
        return ok(rows)

    async def get(self, request: web.Request) -> web.Response:
        row = await db(request, self.get_row, int_param(request.match_info["id"], "id"))
        row["live"] = agent_live(request.app[ROUTING_KEY], row["id"], row["admin_status"])
        return ok(row)

    async def delete(self, request: web.Request) -> web.Response:
        agent_id = int_param(request.match_info["id"], "id")
        routing = request.app[ROUTING_KEY]
        if agent_live(routing, agent_id)["state"] != "offline":
            raise ApiError(409, "signed_in", "sign the agent out before deleting them")
        await db(request, self.delete_row, agent_id)
        routing.dispatcher.agents.pop(agent_id, None)
        request.app[BUS_KEY].publish({"type": "agent_changed", "agent_id": agent_id})
        return ok({"deleted": True})

    def _after_write(self, request: web.Request) -> None:
        super()._after_write(request)
        request.app[BUS_KEY].publish({"type": "agent_changed", "agent_id": None})


def _in_session(url, fn):
    with session_scope(url) as session:
        return fn(session)


CRUD = AgentCrud(Resource("/api/agents", "agent", m.Agent, FIELDS, "agents", extra_fields=(
    "department_ids", "login_password"), on_write=on_write, to_dict=to_dict, hidden=HIDDEN))


# ---- calls answered ----------------------------------------------------------------------
async def calls_answered(request: web.Request) -> web.Response:
    """Calls answered per agent over the last `days` days (the list's filter + Refresh)."""
    days = int_param(request.query.get("days"), "days", 1, 3660)
    counts = await db(request, agent_records.calls_answered_since, days, datetime.now(timezone.utc))
    return ok({"days": days, "counts": {str(k): v for k, v in counts.items()}})


# ---- admin status (Action column: block, disable, activate) ------------------------------
STATUS_BODY = {"admin_status": F("string", required=True, enum=ADMIN_STATUSES)}


def _set_admin_status(url: str, agent_id: int, status: str) -> None:
    with session_scope(url) as session:
        agent = session.get(m.Agent, agent_id)
        if agent is None:
            raise not_found(f"agent {agent_id}")
        agent.admin_status = status
        session.add(agent)


async def set_admin_status(request: web.Request) -> web.Response:
    """Block, disable or re-activate an agent; a signed-in agent who is not on a call is signed out."""
    agent_id = int_param(request.match_info["id"], "id")
    body = check_body(await read_json(request), STATUS_BODY)
    await db(request, _set_admin_status, agent_id, body["admin_status"])
    routing = request.app[ROUTING_KEY]
    if agent_id not in routing.dispatcher.agents:
        routing.load()
    routing.set_admin_status(agent_id, body["admin_status"])
    request.app[BUS_KEY].publish({"type": "agent_changed", "agent_id": agent_id})
    return ok(agent_live(routing, agent_id, body["admin_status"]))


# ---- agent state -------------------------------------------------------------------------
STATE_BODY = {
    "action": F("string", required=True, enum=("sign_in", "ready", "not_ready", "sign_out")),
    "break_code": F("string", nullable=True), "department_id": F("integer", nullable=True),
}
WRAP_UP_BODY = {"termination_code": F("string", required=True), "ready": F("boolean"),
                "break_code": F("string", nullable=True)}


async def change_state(request: web.Request) -> web.Response:
    """Sign in, Ready, Not Ready (with a break code) or sign out, through the routing service."""
    agent_id = int_param(request.match_info["agent_id"], "agent_id")
    body = check_body(await read_json(request), STATE_BODY)
    routing = request.app[ROUTING_KEY]
    action = body["action"]
    if action == "sign_in":
        routing.sign_in(agent_id, body.get("department_id"))
    elif action == "ready":
        routing.set_ready(agent_id)
    elif action == "not_ready":
        code = body.get("break_code")
        if code is not None and code not in routing.break_codes:
            raise ApiError(400, "invalid", f"unknown break code {code!r}", "break_code")
        routing.set_not_ready(agent_id, code)
    else:
        routing.sign_out(agent_id)
    return ok(agent_live(routing, agent_id))


async def wrap_up(request: web.Request) -> web.Response:
    """Close wrap-up with a termination code, then Ready (default) or a break code."""
    agent_id = int_param(request.match_info["agent_id"], "agent_id")
    body = check_body(await read_json(request), WRAP_UP_BODY)
    routing = request.app[ROUTING_KEY]
    if body["termination_code"] not in routing.termination_codes:
        raise ApiError(400, "invalid", f"unknown termination code {body['termination_code']!r}", "termination_code")
    routing.finish_wrap_up(agent_id, body["termination_code"], body.get("ready", True), body.get("break_code"))
    return ok(agent_live(routing, agent_id))


_crud = {r.method + r.path: r for r in CRUD.routes()}
ROUTES = [
    Route("GET", "/api/agents/calls-answered", calls_answered, SUPERVISORS, "Count calls answered",
          query={"days": F("integer", required=True)}, tag="agents"),
    _crud["GET/api/agents"], _crud["POST/api/agents"],
    Route("POST", "/api/agents/{id:\\d+}/admin-status", set_admin_status, SUPERVISORS, "Block disable or activate an agent",
          body=STATUS_BODY, tag="agents"),
    Route("POST", "/api/agents/{agent_id:\\d+}/state", change_state, EVERYONE, "Change an agent's state",
          body=STATE_BODY, tag="agents", own_agent_only=True),
    Route("POST", "/api/agents/{agent_id:\\d+}/wrap-up", wrap_up, EVERYONE, "Finish wrap-up",
          body=WRAP_UP_BODY, tag="agents", own_agent_only=True),
] + [Route(r.method, r.path.replace("{id}", "{id:\\d+}"), r.handler, r.roles, r.summary, r.body, r.query, r.tag)
     for key, r in _crud.items() if "{id}" in r.path]
