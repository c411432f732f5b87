"""The websocket: live agent state and extension status pushed to open pages.

On connect: check the session and the Origin, subscribe to the EventBus, then send a
snapshot of every live agent state the user may see, then every event as it happens.
Subscribing before the snapshot (with no await between) means no change falls between
the two. Supervisors and admins see every agent; an agent sees only their own events.

Events a page receives (JSON text frames):
- `{"type": "snapshot", "agents": [live state, ...]}` once, first;
- `{"type": "agent_state", "agent_id", "state", "from_state", "since", "break_code",
   "call_id", "department_id", "admin_status", "display_status", "seq"}`;
- `{"type": "extension_status", "agent_id", "status": "registered"|"unregistered", "seq"}`
  (published by the runtime when AMI reports a registration change);
- `{"type": "agent_changed", "agent_id"}` / `{"type": "groups_changed"}` after an admin edit;
- `{"type": "call_changed", "call_id"}` after a contact association;
- `{"type": "call_hold", "call_id", "agent_id", "held", "by", "at"}` (and `"refused"` when a
  phone's hold was refused by the manager's setting), engine/features/hold.py;
- `{"type": "call_waiting" | "call_waiting_ended", "call_id", "agent_id", "caller",
   "caller_name", ...}` for the agent a second call is waiting for (engine/features/waiting.py).
- `{"type": "transfer", "call_id", "kind", "transfer_id", "agent_id", "recipient_agent_id", ...}`
  for each step of a transfer or conference (engine/features/transfers.py), to both agents.
- `{"type": "screen_pop", "agent_id", "call_id", "screen_pop"}` once the call's history is
  written (engine/routing/screenpop_data.py); a desktop that loaded earlier reloads then.
Call events carry the agent's id, so an agent's socket receives those of their own calls only
(and a transfer's recipient those of the transfer).
A page that falls too far behind is closed with code 4000 ("lagging"); it reconnects and
gets a fresh snapshot, instead of the server buffering without bound.

Each event is encoded once, however many sockets send it (`_encode` caches by seq).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from aiohttp import WSMsgType, web

from .auth import check_origin, current_user
from .http import ApiError, dumps
from .keys import BUS_KEY, ROUTING_KEY, SOCKETS_KEY
from .live import enrich, snapshot

EXTENSION_STATUS = "extension_status"
LAGGING_CLOSE_CODE = 4000
_cache: "OrderedDict[tuple[int, int], str]" = OrderedDict()


def extension_status_event(agent_id: int, registered: bool) -> dict:
    """The event shape the runtime publishes when an agent's extension (un)registers."""
    return {"type": EXTENSION_STATUS, "agent_id": agent_id, "status": "registered" if registered else "unregistered"}


def _encode(routing, event: dict) -> str:
    key = (id(routing), event.get("seq", -1))
    text = _cache.get(key) if key[1] != -1 else None
    if text is None:
        text = dumps(enrich(routing, event))
        if key[1] != -1:
            _cache[key] = text
            if len(_cache) > 4096:
                _cache.popitem(last=False)
    return text


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Live updates for the dashboard and the desktop (see the module docstring)."""
    user = await current_user(request)
    if user is None:
        raise ApiError(401, "not_signed_in", "sign in first")
    check_origin(request)
    routing, bus = request.app[ROUTING_KEY], request.app[BUS_KEY]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await ws.prepare(request)
    own = user.agent_id if user.role == "agent" else None
    predicate = None if own is None else (lambda event: own in (event.get("agent_id"), event.get("recipient_agent_id")))
    sub = bus.subscribe(maxsize=2000, predicate=predicate)
    agents = snapshot(routing)
    if own is not None:
        agents = [a for a in agents if a["agent_id"] == own]
    request.app[SOCKETS_KEY].add(ws)
    reader = asyncio.create_task(_drain_incoming(ws))
    try:
        await ws.send_str(dumps({"type": "snapshot", "agents": agents}))
        while not ws.closed:
            if sub.lagging:
                await ws.close(code=LAGGING_CLOSE_CODE, message=b"lagging")
                break
            getter = asyncio.ensure_future(sub.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            await ws.send_str(_encode(routing, getter.result()))
    except ConnectionResetError:
        pass
    finally:
        sub.close()
        reader.cancel()
        request.app[SOCKETS_KEY].discard(ws)
        if not ws.closed:
            await ws.close()
    return ws


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """Pages send nothing but pings; reading is how a closed socket is noticed."""
    async for msg in ws:
        if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break
