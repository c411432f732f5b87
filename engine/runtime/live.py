"""The live view: every channel and bridge Asterisk has, as the engine last saw them.

Asterisk is the truth for live channels and bridges (DESIGN.md, principle 1). The view is
rebuilt from `GET /channels` and `GET /bridges` after every (re)connect, because an inbound
ARI websocket loses the events that happen while it is down, and kept current from events
in between.

A rebuild races with events: the websocket is open before the snapshot is read, so an
event can arrive before a snapshot that was taken earlier. `begin_rebuild()` starts
buffering events; `finish_rebuild(channels, bridges)` installs the snapshot and replays
the buffered events over it in order. Each event sets the state it describes, so
replaying one that the snapshot already reflects changes nothing, and one that happened
after the snapshot brings it up to date.
"""

from __future__ import annotations

from typing import Any


class LiveView:
    def __init__(self) -> None:
        self.channels: dict[str, dict[str, Any]] = {}
        self.bridges: dict[str, dict[str, Any]] = {}
        self._buffer: list[dict] | None = None
        self.rebuilds = 0

    @property
    def rebuilding(self) -> bool:
        return self._buffer is not None

    def begin_rebuild(self) -> None:
        self._buffer = []

    def finish_rebuild(self, channels: list[dict], bridges: list[dict]) -> None:
        buffered, self._buffer = self._buffer or [], None
        self.channels = {c["id"]: c for c in channels if c.get("id")}
        self.bridges = {b["id"]: _bridge_copy(b) for b in bridges if b.get("id")}
        for event in buffered:
            self._apply(event)
        self.rebuilds += 1

    def abort_rebuild(self) -> None:
        """The snapshot could not be read: keep the old view plus what was buffered."""
        buffered, self._buffer = self._buffer or [], None
        for event in buffered:
            self._apply(event)

    def apply(self, event: dict) -> None:
        if self._buffer is not None:
            self._buffer.append(event)
        else:
            self._apply(event)

    def _apply(self, event: dict) -> None:
        kind = event.get("type", "")
        channel = event.get("channel") if isinstance(event.get("channel"), dict) else None
        bridge = event.get("bridge") if isinstance(event.get("bridge"), dict) else None
        if kind == "ChannelDestroyed":
            if channel:
                self.channels.pop(channel.get("id"), None)
                for b in self.bridges.values():
                    _discard(b, channel.get("id"))
            return
        if kind == "BridgeDestroyed":
            if bridge:
                self.bridges.pop(bridge.get("id"), None)
            return
        if channel and channel.get("id") and kind != "StasisEnd":
            self.channels[channel["id"]] = channel
        if bridge and bridge.get("id"):
            self.bridges[bridge["id"]] = _bridge_copy(bridge)
        if kind == "ChannelLeftBridge" and bridge and channel:
            _discard(self.bridges.get(bridge.get("id"), {}), channel.get("id"))

    def channel_ids(self) -> set[str]:
        return set(self.channels)


def _bridge_copy(bridge: dict) -> dict:
    copy = dict(bridge)
    copy["channels"] = list(bridge.get("channels") or [])
    return copy


def _discard(bridge: dict, channel_id: str | None) -> None:
    channels = bridge.get("channels")
    if channels and channel_id in channels:
        channels.remove(channel_id)
