"""Which agent extensions are registered, from AMI `ContactStatus` and `PJSIPShowContacts`.

An endpoint is registered while it has at least one contact that is not known to be
unreachable (an AOR may allow several contacts; one `Removed` does not unregister the
others). The tracker is pure (no I/O): the engine feeds it events and writes the changes
it reports to the database.

After each AMI (re)connect the engine reads a full snapshot. Events that arrive while the
snapshot is being read are buffered and replayed over it, as in `live.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.pbx.ami import ContactChange


@dataclass(frozen=True)
class EndpointState:
    endpoint: str
    registered: bool
    contact: str | None  # one registered contact URI (the first seen), for display


class RegistrationTracker:
    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, str]] = {}  # endpoint -> {uri: status}
        self._buffer: list[ContactChange] | None = None

    def begin_snapshot(self) -> None:
        self._buffer = []

    def finish_snapshot(self, snapshot: dict[str, dict[str, str]]) -> list[ContactChange]:
        """Install a full snapshot; returns the buffered changes it replayed."""
        buffered, self._buffer = self._buffer or [], None
        self.contacts = {e: dict(uris) for e, uris in snapshot.items() if uris}
        for change in buffered:
            self._apply(change)
        return buffered

    def abort_snapshot(self) -> None:
        buffered, self._buffer = self._buffer or [], None
        for change in buffered:
            self._apply(change)

    def apply(self, change: ContactChange) -> EndpointState | None:
        """Apply one change. Returns the endpoint's new state, or None while buffering."""
        if self._buffer is not None:
            self._buffer.append(change)
            return None
        self._apply(change)
        return self.state(change.endpoint)

    def _apply(self, change: ContactChange) -> None:
        if change.registered is None:
            return
        uris = self.contacts.setdefault(change.endpoint, {})
        if change.registered:
            uris[change.uri] = change.status
        else:
            uris.pop(change.uri, None)
        if not uris:
            del self.contacts[change.endpoint]

    def state(self, endpoint: str) -> EndpointState:
        uris = self.contacts.get(endpoint) or {}
        contact = next(iter(uris), None)
        return EndpointState(endpoint, bool(uris), contact)

    def registered_contacts(self) -> dict[str, str]:
        """endpoint -> one contact URI, for every registered endpoint."""
        return {e: next(iter(uris)) for e, uris in self.contacts.items() if uris}
