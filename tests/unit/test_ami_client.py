"""AMI: ContactStatus parsing, and AmiClient against a small fake AMI server.

The contact events below are what the Asterisk 22.10 sandbox sent (see
tests/integration/test_engine_connections.py): with qualify_frequency = 0 a REGISTER gives
`NonQualified`, `Expires: 0` gives `Removed`.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from engine.pbx.ami import (
    AmiClient,
    AmiError,
    AmiTimeout,
    AmiUnavailable,
    parse_contact_list,
    parse_contact_status,
)
from engine.pbx.backoff import Backoff
from engine.settings import Settings

REGISTERED = {"Event": "ContactStatus", "Privilege": "system,all", "URI": "sip:agent1001@127.0.0.1:5070",
              "ContactStatus": "NonQualified", "AOR": "agent1001", "EndpointName": "agent1001", "RoundtripUsec": "0"}
REMOVED = dict(REGISTERED, ContactStatus="Removed")
CONTACT_LIST = [
    {"Event": "ContactList", "ObjectType": "contact", "ObjectName": "agent1001;@fe789bd9", "Endpoint": "agent1001",
     "Uri": "sip:agent1001@127.0.0.1:5070", "Status": "NonQualified"},
    {"Event": "ContactList", "ObjectType": "contact", "ObjectName": "agent1002;@aa", "Endpoint": "agent1002",
     "Uri": "sip:agent1002@127.0.0.1:5072", "Status": "Unreachable"},
    {"Event": "ContactList", "ObjectType": "contact", "ObjectName": "agent1003;@bb", "Endpoint": "",
     "Uri": "sip:agent1003@127.0.0.1:5073", "Status": "Reachable"},
    {"Event": "ContactListComplete", "EventList": "Complete", "ListItems": "3"},
]


@pytest.mark.parametrize("status,registered", [
    ("NonQualified", True), ("Created", True), ("Updated", True), ("Reachable", True), ("Unknown", True),
    ("Removed", False), ("Unreachable", False), ("SomethingNew", None),
])
def test_contact_status_states(status, registered):
    change = parse_contact_status(dict(REGISTERED, ContactStatus=status))
    assert change.endpoint == "agent1001" and change.uri == "sip:agent1001@127.0.0.1:5070"
    assert change.registered is registered


def test_contact_status_falls_back_to_the_aor_and_ignores_nameless_events():
    event = dict(REGISTERED)
    del event["EndpointName"]
    assert parse_contact_status(event).endpoint == "agent1001"
    assert parse_contact_status({"Event": "ContactStatus", "ContactStatus": "Removed"}) is None


def test_contact_list_maps_endpoints_to_reachable_contacts():
    assert parse_contact_list(CONTACT_LIST) == {
        "agent1001": {"sip:agent1001@127.0.0.1:5070": "NonQualified"},
        "agent1003": {"sip:agent1003@127.0.0.1:5073": "Reachable"},  # named from ObjectName
    }


class FakeAmi:
    """Speaks enough AMI: banner, Login, Ping (unless muted), PJSIPShowContacts, events."""

    def __init__(self):
        self.answer_pings = True
        self.writers: list[asyncio.StreamWriter] = []
        self.logins = 0
        self.contacts = CONTACT_LIST

    async def handle(self, reader, writer):
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buf = b""
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                buf += data
                while b"\r\n\r\n" in buf:
                    block, buf = buf.split(b"\r\n\r\n", 1)
                    self.action(writer, dict(line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line))
                await writer.drain()
        except ConnectionError:
            pass

    def send(self, writer, fields: dict):
        writer.write("".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n")

    def action(self, writer, action):
        name, aid = action.get("Action"), action.get("ActionID")
        if name == "Login":
            self.logins += 1
            self.send(writer, {"Response": "Success", "ActionID": aid, "Message": "Authentication accepted"})
        elif name == "Ping":
            if self.answer_pings:
                self.send(writer, {"Response": "Success", "ActionID": aid, "Ping": "Pong"})
        elif name == "PJSIPShowContacts":
            self.send(writer, {"Response": "Success", "ActionID": aid, "EventList": "start",
                               "Message": "A listing of Contacts follows, presented as ContactList events"})
            for event in self.contacts:
                self.send(writer, {**event, "ActionID": aid})
        elif name == "Hang":
            pass  # never answered
        else:
            self.send(writer, {"Response": "Error", "ActionID": aid, "Message": "Invalid/unknown command"})

    def broadcast(self, event: dict):
        for writer in self.writers:
            if not writer.is_closing():
                self.send(writer, event)

    def drop_all(self):
        for writer in self.writers:
            writer.close()
        self.writers.clear()


@pytest.fixture
async def fake_ami():
    fake = FakeAmi()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fake.settings = Settings(database_url="sqlite://", ami_port=port, request_timeout=1.0)
    yield fake
    fake.drop_all()
    server.close()


async def wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def make_client(settings, **kwargs) -> tuple[AmiClient, list[str]]:
    hooks: list[str] = []
    client = AmiClient(settings, on_connected=lambda: hooks.append("up"), on_disconnected=lambda: hooks.append("down"),
                       backoff=Backoff(jitter=0), **kwargs)
    return client, hooks


async def test_logs_in_lists_contacts_and_delivers_events(fake_ami):
    client, hooks = make_client(fake_ami.settings)
    seen = []
    client.register_event("ContactStatus", seen.append)
    await client.start()
    try:
        await client.wait_connected(2)
        events = await client.list_action({"Action": "PJSIPShowContacts"})
        assert [e["Event"] for e in events] == ["ContactList"] * 3 + ["ContactListComplete"]
        fake_ami.broadcast(REGISTERED)
        await wait_for(lambda: seen)
        assert parse_contact_status(seen[0]).registered is True
        assert hooks == ["up"]
    finally:
        await client.stop()


async def test_an_empty_list_is_an_empty_result(fake_ami):
    fake_ami.contacts = [{"Event": "ContactListComplete", "EventList": "Complete", "ListItems": "0"}]
    client, _ = make_client(fake_ami.settings)
    await client.start()
    try:
        await client.wait_connected(2)
        assert [e["Event"] for e in await client.list_action({"Action": "PJSIPShowContacts"})] == ["ContactListComplete"]
    finally:
        await client.stop()


async def test_error_response_and_timeout(fake_ami):
    client, _ = make_client(fake_ami.settings)
    await client.start()
    try:
        await client.wait_connected(2)
        with pytest.raises(AmiError, match="Invalid/unknown command"):
            await client.action({"Action": "Bogus"})
        started = time.monotonic()
        with pytest.raises(AmiTimeout):
            await client.action({"Action": "Hang"}, timeout=0.2)
        assert time.monotonic() - started < 0.5
    finally:
        await client.stop()


async def test_action_while_disconnected_fails_at_once():
    settings = Settings(database_url="sqlite://", ami_port=1, request_timeout=1.0)
    client, _ = make_client(settings)
    await client.start()
    try:
        with pytest.raises(AmiUnavailable):
            await client.action({"Action": "Ping"})
    finally:
        await client.stop()


async def test_a_dropped_connection_reconnects_at_once_and_fails_pending_actions(fake_ami):
    client, hooks = make_client(fake_ami.settings)
    await client.start()
    try:
        await client.wait_connected(2)
        pending = asyncio.create_task(client.action({"Action": "Hang"}, timeout=5))
        await asyncio.sleep(0.05)
        dropped = time.monotonic()
        fake_ami.drop_all()
        with pytest.raises(AmiUnavailable):
            await pending
        assert time.monotonic() - dropped < 0.5
        await wait_for(lambda: client.connect_count == 2 and client.connected)
        assert time.monotonic() - dropped < 1.0
        assert hooks == ["up", "down", "up"]
        assert fake_ami.logins == 2
    finally:
        await client.stop()


async def test_an_unanswered_ping_drops_and_reconnects(fake_ami):
    client, hooks = make_client(fake_ami.settings, ping_interval=0.05, ping_timeout=0.1)
    await client.start()
    try:
        await client.wait_connected(2)
        fake_ami.answer_pings = False
        await wait_for(lambda: "down" in hooks, timeout=2)
        fake_ami.answer_pings = True
        await wait_for(lambda: client.connect_count >= 2 and client.connected, timeout=3)
    finally:
        await client.stop()
