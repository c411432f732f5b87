"""The engine's Stasis entry and reconciliation, with fake ARI/AMI and a real per-test SQLite DB."""

from __future__ import annotations

import asyncio
import time

from sqlmodel import select

from engine.calls.actors import CallDispatcher, channel_ids_of
from engine.calls.model import normalize_caller_number
from engine.pbx.ami import parse_contact_status
from engine.pbx.ari import AriError
from engine.runtime.engine import Engine
from engine.settings import Settings
from engine.store.calls import CallLeg, CallRecord
from engine.store.models import Agent
from engine.store.session import session_scope


class FakeAri:
    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.snapshot = {"channels": [], "bridges": [], "app": {"channel_ids": []}}
        self.connected = True

    async def request(self, method, path, **params):
        self.calls.append((method, path, params))
        if path == "channels" and method == "GET":
            return self.snapshot["channels"]
        if path == "bridges":
            return self.snapshot["bridges"]
        if path.startswith("applications/"):
            return self.snapshot["app"]
        if path.endswith("/moh"):
            raise AriError("MOH class not found", status=500, method=method, path=path)
        return None

    async def start(self): ...
    async def stop(self): ...


class FakeAmi:
    def __init__(self, contacts=()):
        self.callbacks = {}
        self.contacts = list(contacts)

    def register_event(self, name, cb):
        self.callbacks.setdefault(name, []).append(cb)

    async def list_action(self, action, timeout=None):
        return self.contacts

    async def start(self): ...
    async def stop(self): ...


def stasis_start(channel_id="1700000000.1", number="07911 123458", name="Jane Doe", args=("inbound", "+442071838750")):
    return {"type": "StasisStart", "args": list(args), "channel": {
        "id": channel_id, "name": f"PJSIP/trunk-0000000{channel_id[-1]}", "state": "Ring",
        "caller": {"number": number, "name": name},
        "dialplan": {"app_name": "Stasis", "app_data": "switchboard," + ",".join(args)}}}


async def eventually(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def records(url):
    with session_scope(url) as s:
        return [(r, s.exec(select(CallLeg).where(CallLeg.call_id == r.id)).all())
                for r in s.exec(select(CallRecord)).all()]


def make_engine(url, ari=None, ami=None, **kw):
    return Engine(Settings(database_url=url), ari=ari or FakeAri(), ami=ami or FakeAmi(), **kw)


async def test_inbound_stasis_start_records_the_call_and_holds_it(demo_db):
    engine = make_engine(demo_db)
    await engine.start()
    try:
        engine._on_ari_event(stasis_start())
        rows = await eventually(lambda: records(demo_db))
        record, legs = rows[0]
        assert record.direction == "inbound" and record.inbound_number == "+442071838750"
        assert record.caller_number == "+447911123458" and record.caller_name == "Jane Doe"
        assert [(leg.channel_id, leg.role, leg.endpoint) for leg in legs] == [("1700000000.1", "caller", "trunk")]
        await eventually(lambda: ("POST", "channels/1700000000.1/moh", {"mohClass": "default"}) in engine.ari.calls)
        assert engine.ari.calls[0][:2] == ("POST", "channels/1700000000.1/answer")
        assert record.id in engine.calls  # a failed MOH did not end the call

        engine._on_ari_event({"type": "ChannelHangupRequest", "cause": 16, "channel": {"id": "1700000000.1"}})
        engine._on_ari_event({"type": "StasisEnd", "channel": {"id": "1700000000.1"}})
        await eventually(lambda: records(demo_db)[0][0].ended_at is not None)
        record, legs = records(demo_db)[0]
        assert record.outcome == "abandoned" and legs[0].ended_at is not None and legs[0].hangup_cause == 16
        await eventually(lambda: not engine.dispatcher.actors)
    finally:
        await engine.stop()


async def test_router_hook_gets_the_new_call(demo_db):
    seen = []

    async def router(ctx):
        seen.append((ctx.call.inbound_number, ctx.call.caller_channel_id, ctx.adopted))

    engine = make_engine(demo_db, router=router)
    await engine.start()
    try:
        engine._on_ari_event(stasis_start())
        await eventually(lambda: seen)
        assert seen == [("+442071838750", "1700000000.1", False)]
        assert engine.ari.calls == []  # the router decides; the default hold is not run
    finally:
        await engine.stop()


async def test_unknown_stasis_entry_is_hung_up(demo_db):
    engine = make_engine(demo_db)
    await engine.start()
    try:
        engine._on_ari_event(stasis_start(args=("mystery",)))
        await eventually(lambda: ("DELETE", "channels/1700000000.1", {}) in engine.ari.calls)
        assert records(demo_db) == []
    finally:
        await engine.stop()


async def test_reconnect_rebuilds_closes_vanished_calls_and_adopts_survivors(demo_db):
    # A first engine takes two calls, then "crashes" (its actors are dropped, rows stay open).
    first = make_engine(demo_db)
    await first.start()
    first._on_ari_event(stasis_start("1700000000.1"))
    first._on_ari_event(stasis_start("1700000000.2"))
    await eventually(lambda: len(records(demo_db)) == 2)
    await first.stop()

    # The new engine connects: channel .2 still exists in Stasis, .1 was hung up meanwhile,
    # and .3 entered Stasis while the websocket was down (its StasisStart was lost).
    survivor = stasis_start("1700000000.2")["channel"]
    lost = stasis_start("1700000000.3")["channel"]
    ari = FakeAri()
    ari.snapshot = {"channels": [survivor, lost], "bridges": [{"id": "b1", "channels": []}],
                    "app": {"channel_ids": [survivor["id"], lost["id"]]}}
    adopted = []

    async def router(ctx):
        adopted.append((ctx.call.caller_channel_id, ctx.adopted))

    second = make_engine(demo_db, ari=ari, router=router)
    await second.start()
    try:
        await second._on_ari_connected()
        assert set(second.live.channels) == {survivor["id"], lost["id"]} and set(second.live.bridges) == {"b1"}
        await eventually(lambda: len(adopted) == 2)
        assert sorted(adopted) == [("1700000000.2", True), ("1700000000.3", False)]
        await second.writer.drain()  # the record is written after routing starts, not before
        rows = {legs[0].channel_id: r for r, legs in records(demo_db)}
        assert rows["1700000000.1"].ended_at is not None and rows["1700000000.1"].outcome == "abandoned"
        assert rows["1700000000.2"].ended_at is None
        assert rows["1700000000.3"].inbound_number == "+442071838750"

        # Another reconnect after the survivor hung up while we were away: closed too.
        ari.snapshot = {"channels": [lost], "bridges": [], "app": {"channel_ids": [lost["id"]]}}
        await second._on_ari_connected()
        await eventually(lambda: {legs[0].channel_id: r for r, legs in records(demo_db)}["1700000000.2"].ended_at)
    finally:
        await second.stop()


def agent_status(url, sip):
    with session_scope(url) as s:
        agent = s.exec(select(Agent).where(Agent.sip_username == sip)).one()
        return agent.extension_status, agent.extension_contact


async def test_contact_status_events_and_snapshot_update_the_database(demo_db):
    ami = FakeAmi(contacts=[
        {"Event": "ContactList", "ObjectName": "agent1002;@x", "Endpoint": "agent1002",
         "Uri": "sip:agent1002@127.0.0.1:5072", "Status": "NonQualified"},
        {"Event": "ContactListComplete", "EventList": "Complete"},
    ])
    engine = make_engine(demo_db, ami=ami)
    await engine.start()
    try:
        await engine._on_ami_connected()
        await eventually(lambda: engine.ami_ready.is_set())
        assert agent_status(demo_db, "agent1002") == ("registered", "sip:agent1002@127.0.0.1:5072")
        assert agent_status(demo_db, "agent1001") == ("unregistered", None)
        event = {"Event": "ContactStatus", "URI": "sip:agent1001@127.0.0.1:5070", "ContactStatus": "NonQualified",
                 "AOR": "agent1001", "EndpointName": "agent1001"}
        for cb in ami.callbacks["ContactStatus"]:
            cb(event)
        await eventually(lambda: agent_status(demo_db, "agent1001")[0] == "registered")
        for cb in ami.callbacks["ContactStatus"]:
            cb(dict(event, ContactStatus="Removed"))
        await eventually(lambda: agent_status(demo_db, "agent1001")[0] == "unregistered")
        assert parse_contact_status(event).registered
    finally:
        await engine.stop()


async def test_dispatcher_keeps_one_calls_events_in_order_and_isolates_calls():
    seen: dict[str, list[int]] = {"a": [], "b": []}
    release = asyncio.Event()

    async def slow(msg):
        await release.wait()
        seen["a"].append(msg["n"])

    async def fast(msg):
        seen["b"].append(msg["n"])

    d = CallDispatcher()
    d.spawn("a", slow, ["ch-a"])
    d.spawn("b", fast, ["ch-b"])
    for n in range(5):
        d.route({"type": "X", "n": n, "channel": {"id": "ch-a"}})
        d.route({"type": "X", "n": n, "channel": {"id": "ch-b"}})
    await eventually(lambda: len(seen["b"]) == 5)
    assert seen["a"] == []  # call a's slow handler did not hold call b up
    release.set()
    await eventually(lambda: len(seen["a"]) == 5)
    assert seen["a"] == seen["b"] == [0, 1, 2, 3, 4]
    await d.stop()


def test_channel_ids_and_caller_numbers():
    assert channel_ids_of({"channel": {"id": "1"}, "peer": {"id": "2"}}) == ["1", "2"]
    # A phone's REFER (ChannelTransfer) belongs to the phone's channel, the referrer.
    assert channel_ids_of({"type": "ChannelTransfer", "refer_to": {"requested_destination": {"destination": "2007"}},
                           "referred_by": {"source_channel": {"id": "a"}, "connected_channel": {"id": "c"}}}) == ["a"]
    assert normalize_caller_number("+447911123458") == "+447911123458"
    assert normalize_caller_number("07911 123458", "+442071838750") == "+447911123458"
    assert normalize_caller_number("anonymous", "+442071838750") is None
    assert normalize_caller_number("12", "+442071838750") is None
    assert normalize_caller_number("", None) is None
