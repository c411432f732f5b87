"""Call control for the web side: a REST request becomes a message in the call's actor.

Why a message and not a direct call: the call's actor is the one owner of the call
(DESIGN.md principle 2). The request waits for the actor's answer (a future) with a
timeout, so the web never hangs on a call that is busy or gone.
"""

from __future__ import annotations

import asyncio

from .transfer import CONFERENCE
from .transfers import CONTROL, ControlError

REQUEST_TIMEOUT = 8.0


class CallControl:
    def __init__(self, engine):
        self.engine = engine

    async def request(self, call_id: str, action: str, agent_id: int | None = None, **args) -> dict:
        """Run `action` in the call's actor; ControlError(404/403/409/422/503) when refused."""
        call = self.engine.calls.get(call_id)
        if call is None or call.flow is None or getattr(call.flow, "features", None) is None:
            raise ControlError(404, "not_found", f"no live call {call_id}")
        future = asyncio.get_running_loop().create_future()
        message = {"type": CONTROL, "action": action, "agent_id": agent_id, "args": args, "future": future}
        if not self.engine.dispatcher.post(call_id, message):
            raise ControlError(404, "not_found", f"no live call {call_id}")
        try:
            return await asyncio.wait_for(future, REQUEST_TIMEOUT)
        except TimeoutError:
            raise ControlError(409, "call_busy", "the call did not take the request (it may have ended)") from None

    def transfer_of(self, call_id: str) -> dict | None:
        """The call's attended transfer or conference as the desktop shows it, or None.

        Read directly, without a message to the call's actor: the web handler runs on the
        event loop like the actor, and the machine's phase, flow and target are set together
        between two awaits, so this snapshot is never half-updated. The desktop follows every
        later change from the `transfer` events. `agent_id` (the transferring agent) and
        `recipient_agent_id` let the web tell who controls the call: only the transferring
        agent may complete, cancel or merge.
        """
        call = self.engine.calls.get(call_id)
        features = getattr(getattr(call, "flow", None), "features", None)
        if features is None:
            return None
        machine = features.machine
        if not (machine.active or machine.phase == CONFERENCE):
            return None
        return {**features.describe(), "agent_id": features.agent_id, "recipient_agent_id": features.recipient_agent}
