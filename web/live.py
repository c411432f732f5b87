"""Live agent state as the web shows it, read from the routing service's dispatcher.

Read on the event loop (the dispatcher lives there and changes only there), so a snapshot
taken here and the events published after it are strictly ordered: the websocket sends
this snapshot right after subscribing, and every event it then sends is newer.
"""

from __future__ import annotations

from types import SimpleNamespace

from engine.store.directory import display_status

ON_CALL_STATES = ("ringing", "in_call")


def agent_live(routing, agent_id: int, admin_status: str | None = None) -> dict:
    info = routing.dispatcher.agents.get(agent_id)
    state = info.state if info else None
    name = state.state if state else "offline"
    admin = admin_status or (info.admin_status if info else "active")
    signed_in, on_call = name != "offline", name in ON_CALL_STATES
    return {
        "agent_id": agent_id,
        "state": name,
        "since": state.since.isoformat() if state and state.since else None,
        "break_code": state.break_code if state else None,
        "call_id": state.call_id if state else None,
        "admin_status": admin,
        "display_status": display_status(SimpleNamespace(admin_status=admin), signed_in, on_call),
        "department_id": routing.department_of_agent.get(agent_id) if signed_in else None,
    }


def snapshot(routing) -> list[dict]:
    return [agent_live(routing, agent_id) for agent_id in sorted(routing.dispatcher.agents)]


def enrich(routing, event: dict) -> dict:
    """An `agent_state` event plus what the dashboard shows (display status, admin status)."""
    if event.get("type") != "agent_state":
        return event
    info = routing.dispatcher.agents.get(event["agent_id"])
    admin = info.admin_status if info else "active"
    state = event["state"]
    return {**event, "admin_status": admin, "display_status": display_status(
        SimpleNamespace(admin_status=admin), state != "offline", state in ON_CALL_STATES)}
