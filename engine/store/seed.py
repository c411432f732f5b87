"""The demo data set: a few agents, two departments, an IVR and an inbound number.

Used by `switchboard demo` and as the fixture for the generator's golden files, so it is
fixed data (no random passwords) and the same call gives the same database.
"""

from __future__ import annotations

from sqlmodel import Session

from . import models as m

DEMO_INBOUND_NUMBER = "+442071838750"
DEMO_AGENT_PASSWORD = "demo-secret-1001"


def seed_demo(session: Session) -> dict:
    """Fill an empty database with the demo set. Returns the key records by name."""
    always = m.TimeGroup(name="Always open", description="24/7", timezone="UTC")
    office = m.TimeGroup(name="Office hours", description="Weekdays 08:00-18:00 London", timezone="Europe/London")
    session.add_all([always, office])
    session.flush()
    for day in range(7):
        session.add(m.TimeGroupRule(time_group_id=always.id, weekday=day, start="00:00", end="24:00"))
    for day in range(5):
        session.add(m.TimeGroupRule(time_group_id=office.id, weekday=day, start="08:00", end="18:00"))

    sales = m.Department(
        name="Sales", description="New customers", strategy="longest_idle", use_as_queue=True,
        transfer_code="20001", ring_timeout=15, overflow="voicemail", time_group_id=always.id,
        ready_after_sign_in=True,
    )
    support = m.Department(
        name="Support", description="Existing customers", strategy="round_robin", use_as_queue=False,
        transfer_code="20002", ring_timeout=20, overflow="voicemail", time_group_id=office.id,
    )
    session.add_all([sales, support])
    session.flush()

    agents = [
        m.Agent(name="Alice Archer", intercom="1001", username="alice", sip_username="agent1001",
                sip_password=DEMO_AGENT_PASSWORD, region="GB", call_forwarding_number="+447911123456",
                extension_caller_id="+442071838750", time_group_id=always.id),
        m.Agent(name="Bob Baker", intercom="1002", username="bob", sip_username="agent1002",
                sip_password="demo-secret-1002", region="GB", alternative_numbers=["+447911123457"],
                extension_caller_id="+442071838750", time_group_id=always.id),
        m.Agent(name="Carol Clark", intercom="1003", username="carol", sip_username="agent1003",
                sip_password="demo-secret-1003", region="US", extension_caller_id="+12025550143",
                time_group_id=office.id),
    ]
    session.add_all(agents)
    session.flush()
    for position, agent in enumerate(agents):
        session.add(m.AgentDepartment(agent_id=agent.id, department_id=sales.id, position=position))
    session.add(m.AgentDepartment(agent_id=agents[2].id, department_id=support.id, position=0))

    group = m.AgentGroup(name="Day shift", description="Agents on the London day shift")
    session.add(group)
    session.flush()
    for agent in agents[:2]:
        session.add(m.AgentGroupMember(group_id=group.id, agent_id=agent.id))

    menu = m.Ivr(name="Main menu", transfer_code="30001", greeting="demo-congrats", timeout=8)
    session.add(menu)
    session.flush()
    session.add(m.IvrOption(ivr_id=menu.id, digit="1", target_type="department", target_id=sales.id))
    session.add(m.IvrOption(ivr_id=menu.id, digit="2", target_type="department", target_id=support.id))

    session.add(m.InboundNumber(number=DEMO_INBOUND_NUMBER, description="Sales hotline", target_type="department",
                                target_id=sales.id, time_group_id=always.id))
    session.add(m.InboundNumber(number="+442071838751", description="", target_type="ivr", target_id=menu.id,
                                time_group_id=office.id, closed_action="voicemail"))
    for code, name in [("lunch", "Lunch"), ("training", "Training"), ("meeting", "Meeting")]:
        session.add(m.BreakCode(code=code, name=name))
    for code, name in [("resolved", "Resolved"), ("callback", "Call back"), ("escalated", "Escalated")]:
        session.add(m.TerminationCode(code=code, name=name))

    jane = m.Contact(account_number="ACC-1001", first_name="Jane", last_name="Doe", region="GB")
    john = m.Contact(account_number="ACC-1002", first_name="John", last_name="Doe", region="GB")
    session.add_all([jane, john])
    session.flush()
    # One shared household number: a Multi-Match.
    session.add(m.ContactPhone(contact_id=jane.id, number="+442079460001", label="home"))
    session.add(m.ContactPhone(contact_id=john.id, number="+442079460001", label="home"))
    session.add(m.ContactPhone(contact_id=jane.id, number="+447911123458", label="mobile"))
    session.flush()
    return {"agents": agents, "sales": sales, "support": support, "ivr": menu}
