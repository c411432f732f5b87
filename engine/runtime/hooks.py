"""The Engine's routing glue: how routing commands, media waits and events reach the rest.

Kept apart from engine.py (connections, live view, reconciliation) so each file reads in
one sitting. `RoutingHooks` is a mixin: it uses the Engine's `ari`, `dispatcher`,
`directory`, `bus`, `registrations` and `settings`.
"""

from __future__ import annotations

import asyncio

import structlog

from engine.pbx.ari import AriError
from engine.routing.flow import COMMAND

log = structlog.get_logger("engine.runtime")
# Events nothing in the engine reads; Asterisk is asked not to send them.
UNUSED_EVENTS = ("ChannelVarset", "ChannelDialplan")


class RoutingHooks:
    def _execute(self, command) -> None:
        """The routing service's executor: each call command goes to its call's actor."""
        if not self.dispatcher.post(command.call_id, {"type": COMMAND, "command": command}):
            log.warning("command_for_unknown_call", command=repr(command))

    def expect_playback(self, playback_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._playbacks[playback_id] = future
        return future

    def forget_playback(self, playback_id: str) -> None:
        self._playbacks.pop(playback_id, None)

    async def reload_directory(self) -> None:
        """Re-read routing configuration (after an admin changed it)."""
        await asyncio.to_thread(self.directory.reload, self.settings.database_url)

    async def associate_contact(self, call_id: str, account_number: str, agent_id: int, **names) -> dict:
        """The agent on the call associates it with a contact ID (see routing/contacts.py)."""
        from engine.routing.contacts import associate_contact

        return await associate_contact(self.routing, self.bus, self.settings.database_url, call_id,
                                       account_number, by=f"agent {agent_id}", agent_id=agent_id, **names)

    async def _filter_events(self) -> None:
        """Ask Asterisk not to send events nothing here reads.

        `ChannelVarset` alone is most of a call's events (a dozen or more per leg), and each
        one costs websocket framing and JSON parsing on the event loop: under 20
        simultaneous calls that delayed StasisStart by tens of milliseconds.
        """
        body = {"disallowed": [{"type": t} for t in UNUSED_EVENTS]}
        try:
            await self.ari.request("PUT", f"applications/{self.settings.ari_app}/eventFilter", json=body)
        except AriError as exc:
            log.info("event_filter_unavailable", error=str(exc))

    def _publish_registrations(self) -> None:
        """`extension_status` events for agents whose registration changed."""
        now = set(self.registrations.registered_contacts())
        for endpoint in sorted(now ^ self._published_registered):
            agent_id = self.directory.by_sip_username.get(endpoint)
            if agent_id is not None:
                self.bus.publish({"type": "extension_status", "agent_id": agent_id,
                                  "status": "registered" if endpoint in now else "unregistered"})
        self._published_registered = now
