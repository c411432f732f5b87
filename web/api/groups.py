"""Agent groups: list (ID, name, description), add with chosen agents, edit, delete, and
view the agents in a group. Supervisors and admins manage them."""

from __future__ import annotations

from sqlmodel import select

from engine.store import models as m
from engine.store.errors import ValidationError

from ..http import F
from ..keys import BUS_KEY
from ..routes import SUPERVISORS
from .crud import Crud, Resource

FIELDS = {"name": F("string", required=True), "description": F("string"),
          "agent_ids": F("array", items="integer", description="the agents in the group (replaces the list)")}


def to_dict(session, group) -> dict:
    members = session.exec(
        select(m.Agent).join(m.AgentGroupMember, m.AgentGroupMember.agent_id == m.Agent.id)
        .where(m.AgentGroupMember.group_id == group.id).order_by(m.Agent.name)).all()
    return {**group.model_dump(), "agent_ids": [a.id for a in members],
            "agents": [{"id": a.id, "name": a.name, "username": a.username, "intercom": a.intercom} for a in members]}


def on_write(session, group, extra: dict) -> None:
    if "agent_ids" not in extra:
        return
    ids = extra["agent_ids"]
    if len(set(ids)) != len(ids):
        raise ValidationError("agent_ids", "lists an agent twice")
    for i, agent_id in enumerate(ids):
        if session.get(m.Agent, agent_id) is None:
            raise ValidationError(f"agent_ids[{i}]", f"agent {agent_id} does not exist")
    for old in session.exec(select(m.AgentGroupMember).where(m.AgentGroupMember.group_id == group.id)).all():
        session.delete(old)
    session.flush()
    for agent_id in ids:
        session.add(m.AgentGroupMember(group_id=group.id, agent_id=agent_id))


class GroupCrud(Crud):
    def _after_write(self, request) -> None:
        request.app[BUS_KEY].publish({"type": "groups_changed"})


ROUTES = GroupCrud(Resource("/api/agent-groups", "agent group", m.AgentGroup, FIELDS, "agent groups",
                            extra_fields=("agent_ids",), on_write=on_write, to_dict=to_dict,
                            write_roles=SUPERVISORS, reload_routing=False)).routes()
