"""The engine against the real Asterisk 22 sandbox, with SIPp as the phones and the carrier.

Scenarios (each with its own SQLite DB seeded by seed_demo and the generated config):
- agent 1001's phone registers: the engine marks the extension registered within 2 s;
  it unregisters (Expires: 0): unregistered again;
- Asterisk restarts under the running engine: ARI and AMI reconnect by themselves, the
  time from Asterisk answering again to the engine being connected is printed, and a
  registration and a call afterwards are handled;
- a caller on the trunk dials +442071838750: the call reaches the engine's Stasis app, a
  CallRecord is written, and it is closed when the caller hangs up (on the default ARI
  transport, one websocket for events and REST, and on the asyncari one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp
import pytest
from sqlmodel import select

from engine.config.generator import generate, write
from engine.runtime.engine import Engine
from engine.settings import load_settings
from engine.store.calls import CallLeg, CallRecord
from engine.store.models import Agent
from engine.store.seed import DEMO_AGENT_PASSWORD, DEMO_INBOUND_NUMBER
from engine.store.session import session_scope
from tests.pbx_helpers import require_sandbox
from tests.sipp_helpers import run_sipp_async

pytestmark = pytest.mark.asterisk

AGENT = "agent1001"
AGENT_SIP_PORT = 5071  # the agent phone's SIPp port (rewrite_contact makes it the contact)


@pytest.fixture
def settings(demo_db):
    return dataclasses.replace(load_settings(), database_url=demo_db)


@pytest.fixture
def sandbox(settings, tmp_path):
    with session_scope(settings.database_url) as session:
        files = generate(session, settings)
    config_dir = write(files, tmp_path / "asterisk")
    return require_sandbox(config_dir, settings=settings)


@pytest.fixture
async def engine(settings, sandbox):
    engine = Engine(settings)
    await engine.start()
    try:
        await asyncio.wait_for(asyncio.gather(engine.ari_ready.wait(), engine.ami_ready.wait()), 15)
        yield engine
    finally:
        await engine.stop()


async def eventually(predicate, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(predicate) if not asyncio.iscoroutinefunction(predicate) else await predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


def extension_status(url: str, sip_username: str) -> str:
    with session_scope(url) as session:
        return session.exec(select(Agent.extension_status).where(Agent.sip_username == sip_username)).one()


def call_records(url: str, inbound_number: str) -> list[tuple[CallRecord, list[CallLeg]]]:
    with session_scope(url) as session:
        rows = session.exec(select(CallRecord).where(CallRecord.inbound_number == inbound_number)).all()
        return [(r, session.exec(select(CallLeg).where(CallLeg.call_id == r.id)).all()) for r in rows]


async def register(settings, tmp_path, scenario="register.xml", expires=300):
    keys = {"user": AGENT, "contact_port": AGENT_SIP_PORT}
    if scenario == "register.xml":
        keys["expires"] = expires
    return await run_sipp_async(scenario, local_port=AGENT_SIP_PORT, remote=f"127.0.0.1:{settings.sip_port}",
                                keys=keys, auth=(AGENT, DEMO_AGENT_PASSWORD), workdir=tmp_path / scenario)


async def assert_registration_tracked(engine, settings, tmp_path) -> tuple[float, float]:
    """REGISTER then Expires: 0; returns the seconds each took to reach the database."""
    url = settings.database_url
    result = await register(settings, tmp_path)
    assert result.ok, result.describe()
    done = time.monotonic()
    assert await eventually(lambda: extension_status(url, AGENT) == "registered", timeout=2.0), \
        "the REGISTER did not reach the database within 2 s"
    registered_after = time.monotonic() - done

    result = await register(settings, tmp_path, "unregister.xml")
    assert result.ok, result.describe()
    done = time.monotonic()
    assert await eventually(lambda: extension_status(url, AGENT) == "unregistered", timeout=2.0), \
        "the unREGISTER did not reach the database within 2 s"
    return registered_after, time.monotonic() - done


async def assert_inbound_call_reaches_stasis(engine, settings, tmp_path, hold_ms=3000):
    url = settings.database_url
    caller = asyncio.create_task(run_sipp_async(
        "uac_call.xml", local_port=settings.trunk_port, remote=f"127.0.0.1:{settings.sip_port}",
        keys={"number": DEMO_INBOUND_NUMBER, "caller": "+447911123458"}, extra=["-d", str(hold_ms)],
        workdir=tmp_path / f"uac-{time.monotonic_ns()}"))
    before = {r.id for r, _ in await asyncio.to_thread(call_records, url, DEMO_INBOUND_NUMBER)}

    def new_open_call():
        return [(r, legs) for r, legs in call_records(url, DEMO_INBOUND_NUMBER) if r.id not in before]

    rows = await eventually(new_open_call, timeout=5.0)
    assert rows, f"no CallRecord for {DEMO_INBOUND_NUMBER} while the call was up"
    record, legs = rows[0]
    assert record.direction == "inbound" and record.ended_at is None
    assert record.caller_number == "+447911123458"
    assert [leg.role for leg in legs] == ["caller"] and legs[0].endpoint == "trunk"
    assert record.id in engine.calls
    assert legs[0].channel_id in engine.live.channels

    result = await caller
    assert result.ok, result.describe()  # answered by the engine, then hung up by the caller

    def closed():
        return [r for r, _ in call_records(url, DEMO_INBOUND_NUMBER) if r.id == record.id and r.ended_at]

    closed_rows = await eventually(closed, timeout=2.0)
    assert closed_rows, "the CallRecord was not closed after the caller hung up"
    assert closed_rows[0].outcome == "abandoned"
    return record


async def test_agent_registration_is_tracked_in_the_database(engine, settings, tmp_path):
    reg, unreg = await assert_registration_tracked(engine, settings, tmp_path)
    print(f"\nregistration latency (SIPp done -> DB): register {reg * 1000:.0f} ms, unregister {unreg * 1000:.0f} ms")


async def test_inbound_call_reaches_the_engine_and_is_recorded(engine, settings, tmp_path):
    assert engine.ari.transport.rest_ready  # the default: REST on the event websocket (Asterisk 22.10)
    await assert_inbound_call_reaches_stasis(engine, settings, tmp_path)


async def test_the_asyncari_transport_carries_a_call_too(settings, sandbox, tmp_path):
    """SWITCHBOARD_ARI_TRANSPORT=asyncari: events through asyncari, REST over HTTP."""
    from engine.pbx.ari import AsyncariTransport

    engine = Engine(dataclasses.replace(settings, ari_transport="asyncari"))
    await engine.start()
    try:
        await asyncio.wait_for(asyncio.gather(engine.ari_ready.wait(), engine.ami_ready.wait()), 15)
        assert isinstance(engine.ari.transport, AsyncariTransport)
        assert engine.ari.asyncari is not None  # its model API is loaded
        await assert_inbound_call_reaches_stasis(engine, settings, tmp_path, hold_ms=1000)
    finally:
        await engine.stop()


async def test_engine_reconnects_after_an_asterisk_restart(engine, settings, sandbox, tmp_path):
    ari_before, ami_before = engine.ari.connect_count, engine.ami.connect_count
    back_at: list[float] = []

    async def watch_ari():
        """When does ARI answer again? Polled every 20 ms once the engine saw the drop."""
        while engine.ari.connected:
            await asyncio.sleep(0.005)
        auth = {"Authorization": aiohttp.encode_basic_auth(settings.ari_user, settings.ari_password)}
        async with aiohttp.ClientSession(headers=auth, timeout=aiohttp.ClientTimeout(total=0.5)) as session:
            while True:
                try:
                    async with session.get(f"{settings.ari_url}ari/asterisk/ping") as resp:
                        if resp.status == 200:
                            back_at.append(time.monotonic())
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch_ari())
    started = time.monotonic()
    await asyncio.to_thread(sandbox.restart)
    restart_took = time.monotonic() - started

    def reconnected():
        return (engine.ari.connect_count > ari_before and engine.ami.connect_count > ami_before
                and engine.ari.connected and engine.ami.connected)

    assert await eventually(reconnected, timeout=15.0), "the engine did not reconnect after the restart"
    await asyncio.wait_for(watcher, 5)
    engine_back = max(engine.ari.connected_at, engine.ami.connected_at)
    await asyncio.wait_for(asyncio.gather(engine.ari_ready.wait(), engine.ami_ready.wait()), 5)
    ready_back = time.monotonic()
    delay = engine_back - back_at[0]
    print(f"\nrestart took {restart_took:.2f} s; ARI answering -> engine connected (ARI+AMI): {delay * 1000:.0f} ms "
          f"(ARI {max(0.0, engine.ari.connected_at - back_at[0]) * 1000:.0f} ms, "
          f"AMI {max(0.0, engine.ami.connected_at - back_at[0]) * 1000:.0f} ms; "
          f"live view + contacts rebuilt {max(0.0, ready_back - back_at[0]) * 1000:.0f} ms)")
    assert delay < 2.0

    # And it keeps working: a registration and a call after the restart are handled.
    await assert_registration_tracked(engine, settings, tmp_path)
    await assert_inbound_call_reaches_stasis(engine, settings, tmp_path, hold_ms=1000)
