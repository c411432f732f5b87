"""The agent desktop's one read: who I am, my live state, my break codes, my current call."""

from __future__ import annotations

from sqlmodel import select

from engine.routing.screenpop import is_withheld
from engine.store import models as m
from engine.store.phone import format_for_agent
from engine.store.queries import agent_departments
from engine.store.session import session_scope

from ..http import db, int_param, not_found, ok
from ..keys import ROUTING_KEY
from ..live import agent_live
from ..routes import EVERYONE, Route
from .calls import call_view


def profile(db_url: str, agent_id: int) -> dict:
    with session_scope(db_url) as session:
        agent = session.get(m.Agent, agent_id)
        if agent is None:
            raise not_found(f"agent {agent_id}")
        return {
            "agent": {"id": agent.id, "name": agent.name, "username": agent.username, "intercom": agent.intercom,
                      "region": agent.region, "departments": [
                          {"id": d.id, "name": d.name} for d in agent_departments(session, agent_id)]},
            "break_codes": [{"code": b.code, "name": b.name}
                            for b in session.exec(select(m.BreakCode).order_by(m.BreakCode.name)).all()],
        }


async def desktop(request):
    """Everything the desktop draws: profile, live state, break codes, the current call (screen
    pop, hold, live transfer, capabilities: the same view as `GET /api/agents/{id}/call`)."""
    agent_id = int_param(request.match_info["agent_id"], "agent_id")
    data = await db(request, profile, agent_id)
    live = agent_live(request.app[ROUTING_KEY], agent_id)
    data["live"] = live
    data["call"] = None
    if live["state"] in ("ringing", "in_call", "wrap_up") and live["call_id"]:
        data["call"] = await call_view(request, agent_id, live)
    data["waiting_call"] = await waiting_call(request, agent_id)
    data["held_call"] = await held_call(request, agent_id)
    return ok(data)


async def waiting_call(request, agent_id: int) -> dict | None:
    """The call waiting for the agent (call waiting, engine/features/waiting.py), or None."""
    return await _call_summary(request, request.app[ROUTING_KEY].dispatcher.waiting_for.get(agent_id), agent_id)


async def held_call(request, agent_id: int) -> dict | None:
    """The call the agent put on hold to answer a waiting call (it comes back to them when
    the current call ends), or None."""
    return await _call_summary(request, request.app[ROUTING_KEY].dispatcher.held_for.get(agent_id), agent_id)


async def _call_summary(request, call_id: str | None, agent_id: int) -> dict | None:
    """Caller and number of a call, the number formatted for the agent's region."""
    if not call_id:
        return None

    def read(db_url: str) -> dict:
        with session_scope(db_url) as session:
            rec = session.get(m.CallRecord, call_id)
            agent = session.get(m.Agent, agent_id)
            number = rec.caller_number if rec else None
            return {"call_id": call_id, "caller": number,
                    "caller_display": "Unknown" if is_withheld(number) else format_for_agent(number, agent.region if agent else None),
                    "caller_name": rec.caller_name if rec else None,
                    "inbound_number": rec.inbound_number if rec else None}

    return await db(request, read)


ROUTES = [Route("GET", "/api/agents/{agent_id:\\d+}/desktop", desktop, EVERYONE, "Read the agent desktop",
                tag="desktop", own_agent_only=True)]
