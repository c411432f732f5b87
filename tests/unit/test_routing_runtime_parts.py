"""The routing runtime's small parts without Asterisk: settling agents after a restart,
the configuration cache, dial targets, voicemail names, and the deferred, batched writer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlmodel import select

from engine.routing.directory import RoutingDirectory
from engine.routing.dispatcher import Offer
from engine.routing.offers import dial_targets
from engine.routing.service import RoutingService
from engine.routing.voicemail import recording_name
from engine.store import models as m
from engine.store.session import session_scope
from engine.store.writer import SerialWriter


def agent_ids(db):
    with session_scope(db) as s:
        return {a.username: a.id for a in s.exec(select(m.Agent)).all()}


async def test_agents_on_calls_that_vanished_are_settled(demo_db):
    executed = []
    svc = RoutingService(demo_db, executor=executed.append)
    svc.load()
    a = agent_ids(demo_db)
    svc.sign_in(a["alice"])
    svc.sign_in(a["bob"])
    svc.call_arrived("c1", None, agent_id=a["alice"])  # alice: Ringing for c1
    svc.call_arrived("c2", None, agent_id=a["bob"])
    svc.offer_answered("c2", a["bob"])  # bob: In Call on c2
    assert isinstance(executed[0], Offer)
    # The engine restarts: a new service loads the persisted states, and neither call is up.
    await svc.writer.drain()
    keep = RoutingService(demo_db)
    keep.load()
    assert keep.settle_orphans({"c2"}) == [a["alice"]]  # c2 is still up: bob stays In Call
    assert keep.dispatcher.agents[a["bob"]].state.state == "in_call"
    after = RoutingService(demo_db)
    after.load()
    assert after.dispatcher.agents[a["alice"]].state.state == "ringing"
    assert sorted(after.settle_orphans(set())) == sorted([a["alice"], a["bob"]])
    assert after.dispatcher.agents[a["alice"]].state.state == "ready"
    assert after.dispatcher.agents[a["bob"]].state.state == "wrap_up"
    assert after.settle_orphans(set()) == []  # nothing left to settle


def test_directory_caches_numbers_targets_and_hours(demo_db):
    d = RoutingDirectory.load(demo_db)
    sales = d.inbound["+442071838750"]
    assert sales.target_type == "department" and d.departments[sales.target_id].name == "Sales"
    ivr = d.inbound["+442071838751"]
    assert ivr.target_type == "ivr" and set(d.ivrs[ivr.target_id].options) == {"1", "2"}
    assert d.by_sip_username["agent1001"] == d.by_intercom["1001"]
    office = ivr.time_group_id
    monday_noon = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    sunday = datetime(2026, 1, 4, 12, 0, tzinfo=UTC)
    assert d.is_open(office, monday_noon) and not d.is_open(office, sunday)
    assert d.is_open(None, sunday) and d.is_open(9999, sunday)


def test_dial_targets_extension_then_forwarding_then_alternatives(demo_db):
    d = RoutingDirectory.load(demo_db)
    alice = d.agents[d.by_sip_username["agent1001"]]
    bob = d.agents[d.by_sip_username["agent1002"]]
    assert dial_targets(alice) == [("agent", "PJSIP/agent1001"), ("external", "PJSIP/+447911123456@trunk")]
    assert dial_targets(bob) == [("agent", "PJSIP/agent1002"), ("external", "PJSIP/+447911123457@trunk")]


def test_voicemail_recording_names_are_safe():
    assert recording_name("Sales", "abc") == "voicemail-Sales-abc"
    assert recording_name("T sales / UK", "x") == "voicemail-T_sales_UK-x"
    assert recording_name("///", "x") == "voicemail-general-x"


async def test_writer_keeps_order_under_defer_and_reports_each_failure():
    writer = SerialWriter(max_defer=0.2)
    done: list[int] = []
    writer.defer(0.05)
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    def boom():
        raise ValueError("bad row")

    futures = [writer.submit(done.append, 1), writer.submit(boom), writer.submit(done.append, 2)]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert done == [1, 2] and isinstance(results[1], ValueError)
    assert loop.time() - t0 >= 0.05  # held back while the hot path was busy
    await writer.stop()
