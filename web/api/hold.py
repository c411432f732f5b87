"""Hold, resume and answering a waiting call from the desktop.

`POST /api/calls/{call_id}/hold` and `/resume`: music on hold to the caller (see
engine/features/hold.py). `POST /api/calls/{call_id}/answer-waiting`: answer the call waiting
for the agent (their current call goes on hold). An agent may act only on their own call
(the engine checks the call's agent in the call's actor); a supervisor may hold or resume
any connected call. Refusals come back as JSON errors: 403 `hold_disabled` (the manager
switched hold off for the department or the agent, with the reason), 409 `not_connected` /
`already_on_hold` / `not_on_hold` / `not_waiting`, 404 for a call that is not live, 503 when
the web runs without an engine.
"""

from __future__ import annotations

from engine.features.hold import CallControlError

from ..http import ApiError, ok
from ..keys import ROUTING_KEY, USER_KEY
from ..routes import EVERYONE, Route


def _control(request):
    control = getattr(request.app[ROUTING_KEY], "hold_control", None)
    if control is None:
        raise ApiError(503, "no_engine", "call control needs the engine (switchboard engine)")
    return control


def _agent_of(request) -> int | None:
    user = request[USER_KEY]
    if user.role == "agent":
        if not user.agent_id:
            raise ApiError(403, "forbidden", "this log-in is not linked to an agent")
        return user.agent_id
    return None


async def _run(request, action: str):
    call_id = request.match_info["call_id"]
    control = _control(request)
    agent_id = _agent_of(request)
    try:
        if action == "answer_waiting":
            if agent_id is None:
                raise ApiError(403, "forbidden", "only the agent can answer their waiting call")
            return ok(await control.answer_waiting(call_id, agent_id))
        return ok(await getattr(control, action)(call_id, agent_id=agent_id, by="desktop"))
    except CallControlError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


async def hold(request):
    """Put the call on hold: the caller hears the department's music on hold."""
    return await _run(request, "hold")


async def resume(request):
    """Take the call off hold."""
    return await _run(request, "resume")


async def answer_waiting(request):
    """Answer the call waiting for you: your current call goes on hold."""
    return await _run(request, "answer_waiting")


ROUTES = [
    Route("POST", "/api/calls/{call_id}/hold", hold, EVERYONE, "Hold a call", tag="calls"),
    Route("POST", "/api/calls/{call_id}/resume", resume, EVERYONE, "Resume a held call", tag="calls"),
    Route("POST", "/api/calls/{call_id}/answer-waiting", answer_waiting, EVERYONE, "Answer a waiting call",
          tag="calls"),
]
