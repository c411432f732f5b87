"""The live view and the registration tracker: rebuild from a snapshot, replay what came meanwhile."""

from engine.pbx.ami import ContactChange
from engine.runtime.live import LiveView
from engine.runtime.registrations import RegistrationTracker


def ch(cid, state="Up"):
    return {"id": cid, "name": f"PJSIP/trunk-{cid}", "state": state}


def test_events_keep_the_view_current():
    view = LiveView()
    view.apply({"type": "StasisStart", "channel": ch("1", "Ring")})
    view.apply({"type": "ChannelStateChange", "channel": ch("1", "Up")})
    view.apply({"type": "BridgeCreated", "bridge": {"id": "b", "channels": []}})
    view.apply({"type": "ChannelEnteredBridge", "channel": ch("1"), "bridge": {"id": "b", "channels": ["1"]}})
    assert view.channels["1"]["state"] == "Up" and view.bridges["b"]["channels"] == ["1"]
    view.apply({"type": "StasisEnd", "channel": ch("1")})  # left the app, still exists
    assert "1" in view.channels
    view.apply({"type": "ChannelDestroyed", "channel": ch("1")})
    assert view.channels == {} and view.bridges["b"]["channels"] == []
    view.apply({"type": "BridgeDestroyed", "bridge": {"id": "b"}})
    assert view.bridges == {}


def test_rebuild_replaces_the_view_with_the_snapshot():
    view = LiveView()
    view.apply({"type": "StasisStart", "channel": ch("stale")})
    view.begin_rebuild()
    view.finish_rebuild([ch("1"), ch("2")], [{"id": "b", "channels": ["1", "2"]}])
    assert set(view.channels) == {"1", "2"} and set(view.bridges) == {"b"}
    assert view.rebuilds == 1


def test_events_during_a_rebuild_are_replayed_over_the_snapshot():
    view = LiveView()
    view.begin_rebuild()
    # These arrive on the websocket while GET /channels is in flight; the snapshot
    # was taken before them and still shows channel 2.
    view.apply({"type": "ChannelDestroyed", "channel": ch("2")})
    view.apply({"type": "StasisStart", "channel": ch("3", "Ring")})
    assert view.rebuilding and view.channels == {}
    view.finish_rebuild([ch("1"), ch("2")], [])
    assert set(view.channels) == {"1", "3"}
    assert not view.rebuilding


def test_a_failed_rebuild_keeps_the_old_view_plus_buffered_events():
    view = LiveView()
    view.apply({"type": "StasisStart", "channel": ch("1")})
    view.begin_rebuild()
    view.apply({"type": "StasisStart", "channel": ch("2")})
    view.abort_rebuild()
    assert set(view.channels) == {"1", "2"}


def change(endpoint, uri, status, registered):
    return ContactChange(endpoint=endpoint, aor=endpoint, uri=uri, status=status, registered=registered)


def test_tracker_registered_while_any_contact_is():
    t = RegistrationTracker()
    assert t.apply(change("a", "sip:a@1", "NonQualified", True)).registered
    assert t.apply(change("a", "sip:a@2", "NonQualified", True)).registered
    assert t.apply(change("a", "sip:a@1", "Removed", False)).registered  # one left
    state = t.apply(change("a", "sip:a@2", "Removed", False))
    assert not state.registered and state.contact is None
    assert t.apply(change("a", "sip:a@3", "Whatever", None)).registered is False


def test_tracker_snapshot_with_replayed_changes():
    t = RegistrationTracker()
    t.apply(change("gone", "sip:gone@1", "NonQualified", True))
    t.begin_snapshot()
    assert t.apply(change("b", "sip:b@1", "Removed", False)) is None  # buffered
    assert t.apply(change("c", "sip:c@1", "NonQualified", True)) is None
    t.finish_snapshot({"a": {"sip:a@1": "NonQualified"}, "b": {"sip:b@1": "NonQualified"}})
    assert t.registered_contacts() == {"a": "sip:a@1", "c": "sip:c@1"}
