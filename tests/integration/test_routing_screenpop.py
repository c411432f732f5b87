"""The screen pop against the real Asterisk: published as an event and kept as a resource
when the call connects; the caller's number formatted for the agent's region (GB agent:
national for a UK number, E.164 for a US one, "Unknown" for a withheld caller ID); the
SIP caller name; Multi-Match for a shared number; association and re-association with a
contact ID during the call, with the record keeping both."""

from __future__ import annotations

import pytest
from sqlmodel import select

from engine.routing import screenpop_data
from engine.routing.contacts import ContactAssociationError
from engine.store import models as m
from engine.store.session import session_scope
from tests.integration.routing_env import N, count_is, eventually
from tests.integration.test_routing_strategies import finished

pytestmark = pytest.mark.asterisk


async def connected_pop(world, caller_number: str, name: str, port: int):
    seen = len(world.events)
    caller = await world.sipp.call("longest_idle", port, caller=caller_number, name=name)

    def pop_event():
        return next((e for e in world.events[seen:] if e.get("type") == "screen_pop"), None)

    event = await eventually(pop_event, 8)
    assert event, "no screen_pop event"
    assert event["agent_id"] == world.agent(2005)
    # The REST resource loads the same dict the event carried.
    agent = world.engine.routing.dispatcher.agents[world.agent(2005)]
    loaded = screenpop_data.load(world.url, event["call_id"], world.agent(2005), agent.state.state,
                                 world.engine.routing.department_of_agent.get(world.agent(2005)))
    assert loaded == event["screen_pop"]
    return caller, event


async def hang_up(world, caller, call_id: str):
    await world.ari("DELETE", f"channels/{world.engine.calls[call_id].caller_channel_id}")
    assert await finished(caller) == 0
    await eventually(lambda: world.state(2005) == "ready", 5)


async def test_screen_pop_formats_and_multi_match_and_association(world):
    world.auto_wrap_up = True
    await world.sipp.phone(2005, calls=3, timeout=60, extra=["-trace_msg"])
    world.ready(2005)

    # A UK caller whose number two contacts share (Jane and John Doe): Multi-Match.
    caller, event = await connected_pop(world, "+442079460001", "Jane Doe", 5701)
    pop, call_id = event["screen_pop"], event["call_id"]
    assert pop["agent_status"] == "in_call" and pop["service"] == "T longest_idle"
    assert pop["fields"]["phone_number"] == "020 7946 0001"  # national: same country as the agent
    assert pop["fields"]["caller_name"] == "Jane Doe"
    assert pop["fields"]["inbound_number"] == "020 7183 8760"
    assert pop["fields"]["inbound_number_description"] == "Test longest_idle"
    assert pop["contact"] is None and [c["account_number"] for c in pop["multi_match"]] == ["ACC-1001", "ACC-1002"]
    assert {t["code"] for t in pop["termination_codes"]} >= {"resolved", "callback", "escalated"}
    call_events = [e for e in world.events if e.get("type") == "call" and e["call_id"] == call_id]
    assert call_events and call_events[0]["state"] == "connected"

    # Associate with Jane, then re-associate with a new contact ID (created on the fly).
    before = len(world.events)
    await world.engine.associate_contact(call_id, "ACC-1001", world.agent(2005))
    await world.engine.associate_contact(call_id, "ACC-7777", world.agent(2005), first_name="New", last_name="Person")
    pops = await eventually(lambda: count_is(2, [e["screen_pop"] for e in world.events[before:] if e.get("type") == "screen_pop"]), 3)
    assert [p["fields"]["account_number"] for p in pops] == ["ACC-1001", "ACC-7777"]
    assert pops[-1]["contact"]["first_name"] == "New"
    with pytest.raises(ContactAssociationError):
        await world.engine.associate_contact(call_id, "ACC-1002", world.agent(2001))  # not on the call
    with session_scope(world.url) as s:
        rec = s.get(m.CallRecord, call_id)
        jane = s.exec(select(m.Contact).where(m.Contact.account_number == "ACC-1001")).one()
        new = s.exec(select(m.Contact).where(m.Contact.account_number == "ACC-7777")).one()
        assert (rec.contact_id, rec.original_contact_id) == (new.id, jane.id)
        phones = s.exec(select(m.ContactPhone.number).where(m.ContactPhone.contact_id == new.id)).all()
        assert phones == ["+442079460001"]
        kinds = [e.kind for e in s.exec(select(m.CallEvent).where(m.CallEvent.call_id == call_id))]
        assert kinds.count("contact_associated") == 2
    await hang_up(world, caller, call_id)
    with pytest.raises(ContactAssociationError):
        await world.engine.associate_contact(call_id, "ACC-1001", world.agent(2005))  # the call has ended

    # A foreign (US) number: E.164 for a GB agent; no contact.
    caller, event = await connected_pop(world, "+12025550143", "Sam Smith", 5702)
    assert event["screen_pop"]["fields"]["phone_number"] == "+12025550143"
    assert event["screen_pop"]["fields"]["caller_name"] == "Sam Smith"
    assert event["screen_pop"]["multi_match"] == [] and event["screen_pop"]["contact"] is None
    await hang_up(world, caller, event["call_id"])

    # A withheld caller ID: "Unknown" for the customer and the phone.
    caller, event = await connected_pop(world, "anonymous", "Anonymous", 5703)
    fields = event["screen_pop"]["fields"]
    assert fields["phone_number"] == "Unknown" and fields["caller_name"] == "Unknown"
    assert fields["first_name"] == "Unknown"
    await hang_up(world, caller, event["call_id"])
    assert N["longest_idle"] == "+442071838760"
