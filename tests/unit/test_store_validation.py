"""Every refused value: the store refuses it with the record and field named, and changes nothing."""

import pytest
from sqlmodel import select

from engine.store import models as m
from engine.store.errors import ValidationError
from engine.store.session import session_scope


def _agent(**overrides):
    fields = dict(name="Dana Dent", intercom="1010", username="dana", sip_username="agent1010",
                  sip_password="long-enough-1", region="GB")
    fields.update(overrides)
    return m.Agent(**fields)


AGENT_REFUSALS = [
    ({"name": ""}, "name"),
    ({"name": "Dana\nDent"}, "name"),
    ({"intercom": "101"}, "intercom"),
    ({"intercom": "10101"}, "intercom"),
    ({"intercom": "1a01"}, "intercom"),
    ({"intercom": "1001"}, "intercom"),  # taken by a demo agent
    ({"username": "dana smith"}, "username"),
    ({"username": "alice"}, "username"),  # taken
    ({"sip_username": "agent;1010"}, "sip_username"),
    ({"sip_username": "[agent]"}, "sip_username"),
    ({"sip_username": "agent1001"}, "sip_username"),  # taken
    ({"sip_password": "short"}, "sip_password"),
    ({"sip_password": "has\nnewline"}, "sip_password"),
    ({"region": "XX"}, "region"),
    ({"call_forwarding_number": "not a number"}, "call_forwarding_number"),
    ({"call_forwarding_number": "0123"}, "call_forwarding_number"),
    ({"alternative_numbers": ["+442071838750", "nope"]}, "alternative_numbers[1]"),
    ({"alternative_numbers": ["+442071838750", "020 7183 8750"]}, "alternative_numbers[1]"),
    ({"alternative_numbers": "+442071838750"}, "alternative_numbers"),
    ({"extension_caller_id": "12;34"}, "extension_caller_id"),
    ({"admin_status": "sleeping"}, "admin_status"),
    ({"extension_status": "maybe"}, "extension_status"),
]


@pytest.mark.parametrize(("overrides", "field"), AGENT_REFUSALS)
def test_agent_refusals_name_the_field_and_store_nothing(demo_db, overrides, field):
    with pytest.raises(ValidationError) as err:
        with session_scope(demo_db) as session:
            session.add(_agent(**overrides))
    assert err.value.field == field
    assert err.value.record and err.value.record.startswith("agent")
    with session_scope(demo_db) as session:
        assert session.exec(select(m.Agent).where(m.Agent.username == "dana")).first() is None
        assert len(session.exec(select(m.Agent)).all()) == 3


def test_agent_numbers_are_normalised_to_e164(db_url):
    with session_scope(db_url) as session:
        session.add(_agent(call_forwarding_number="07911 123456", alternative_numbers=["020 7183 8750"],
                           extension_caller_id="+1 (202) 555-0143"))
    with session_scope(db_url) as session:
        agent = session.exec(select(m.Agent)).one()
    assert agent.call_forwarding_number == "+447911123456"
    assert agent.alternative_numbers == ["+442071838750"]
    assert agent.extension_caller_id == "+12025550143"


def test_an_update_that_breaks_a_field_is_refused_and_rolled_back(demo_db):
    with pytest.raises(ValidationError, match="intercom"):
        with session_scope(demo_db) as session:
            alice = session.exec(select(m.Agent).where(m.Agent.username == "alice")).one()
            alice.intercom = "1002"
            session.add(alice)
    with session_scope(demo_db) as session:
        alice = session.exec(select(m.Agent).where(m.Agent.username == "alice")).one()
    assert alice.intercom == "1001"


OTHER_REFUSALS = [
    (lambda: m.Department(name="Billing", strategy="random"), "strategy"),
    (lambda: m.Department(name="Billing", transfer_code="2001"), "transfer_code"),
    (lambda: m.Department(name="Billing", transfer_code="20001"), "transfer_code"),  # taken by Sales
    (lambda: m.Department(name="Billing", transfer_code="30001"), "transfer_code"),  # taken by the IVR
    (lambda: m.Department(name="Billing", ring_timeout=0), "ring_timeout"),
    (lambda: m.Department(name="Billing", overflow="sing"), "overflow"),
    (lambda: m.Department(name="Sales"), "name"),
    (lambda: m.Ivr(name="Second", transfer_code="20002"), "transfer_code"),  # taken by Support
    (lambda: m.Ivr(name="Second", greeting="../../etc/passwd"), "greeting"),
    (lambda: m.TimeGroup(name="Night", timezone="Mars/Olympus"), "timezone"),
    (lambda: m.TimeGroupRule(time_group_id=1, weekday=7, start="08:00", end="09:00"), "weekday"),
    (lambda: m.TimeGroupRule(time_group_id=1, weekday=1, start="8am", end="09:00"), "start"),
    (lambda: m.TimeGroupRule(time_group_id=1, weekday=1, start="10:00", end="09:00"), "end"),
    (lambda: m.InboundNumber(number="12345", target_id=1), "number"),
    (lambda: m.InboundNumber(number="+442071838750", target_id=1), "number"),  # taken
    (lambda: m.InboundNumber(number="+442071838799", target_type="queue", target_id=1), "target_type"),
    (lambda: m.InboundNumber(number="+442071838799", target_id=1, closed_action="sing"), "closed_action"),
    (lambda: m.BreakCode(code="lunch break", name="Lunch"), "code"),
    (lambda: m.TerminationCode(code="ok", name=""), "name"),
    (lambda: m.Contact(account_number="ACC-1001"), "account_number"),  # taken
    (lambda: m.Contact(account_number="ACC-9", region="ZZ"), "region"),
    (lambda: m.ContactPhone(contact_id=1, number="bad"), "number"),
    (lambda: m.IvrOption(ivr_id=1, digit="12", target_type="hangup"), "digit"),
    (lambda: m.IvrOption(ivr_id=1, digit="3", target_type="department"), "target_id"),
]


@pytest.mark.parametrize(("make", "field"), OTHER_REFUSALS)
def test_other_refusals_name_the_field(demo_db, make, field):
    with pytest.raises(ValidationError) as err:
        with session_scope(demo_db) as session:
            session.add(make())
    assert err.value.field == field


def test_contact_phone_uses_the_contacts_region(demo_db):
    with session_scope(demo_db) as session:
        jane = session.exec(select(m.Contact).where(m.Contact.account_number == "ACC-1001")).one()
        session.add(m.ContactPhone(contact_id=jane.id, number="020 7946 0002", label="work"))
    with session_scope(demo_db) as session:
        numbers = session.exec(select(m.ContactPhone.number).where(m.ContactPhone.label == "work")).all()
    assert numbers == ["+442079460002"]


def test_live_counter_updates_skip_revalidation_but_admin_fields_do_not(demo_db):
    from engine.store.session import _changed_keys  # noqa: F401  (the mechanism under test)

    with session_scope(demo_db) as session:
        alice = session.exec(select(m.Agent).where(m.Agent.username == "alice")).one()
        alice.calls_answered += 1
        session.add(alice)
    with pytest.raises(ValidationError, match="call_forwarding_number"):
        with session_scope(demo_db) as session:
            alice = session.exec(select(m.Agent).where(m.Agent.username == "alice")).one()
            alice.calls_answered += 1
            alice.call_forwarding_number = "not a number"
            session.add(alice)
    with session_scope(demo_db) as session:
        alice = session.exec(select(m.Agent).where(m.Agent.username == "alice")).one()
    assert alice.calls_answered == 1 and alice.call_forwarding_number == "+447911123456"
