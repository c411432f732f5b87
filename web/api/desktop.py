"""The agent desktop's one read: who I am, my live state, my break codes, my current call."""

from __future__ import annotations

from sqlmodel import select

from engine.store import models as m
from engine.store.queries import agent_departments
from engine.store.session import session_scope

from ..http import db, int_param, not_found, ok
from ..keys import ROUTING_KEY
from ..live import agent_live
from ..routes import EVERYONE, Route
from .calls import load_screen_pop


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
    """Everything the desktop draws: profile, live state, break codes, current call's screen pop."""
    agent_id = int_param(request.match_info["agent_id"], "agent_id")
    data = await db(request, profile, agent_id)
    live = agent_live(request.app[ROUTING_KEY], agent_id)
    data["live"] = live
    data["call"] = None
    if live["state"] in ("ringing", "in_call", "wrap_up") and live["call_id"]:
        data["call"] = await db(request, load_screen_pop, live["call_id"], agent_id, live["state"],
                                live["department_id"])
    return ok(data)


ROUTES = [Route("GET", "/api/agents/{agent_id:\\d+}/desktop", desktop, EVERYONE, "Read the agent desktop",
                tag="desktop", own_agent_only=True)]
