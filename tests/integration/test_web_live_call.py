"""A real call, a real browser: SIPp calls the real Asterisk, the engine routes it to a SIPp
agent, and the supervisor's open dashboard turns that agent amber within 1 s, with no
reload; the agent's desktop shows the screen pop, holds and resumes the call (the caller's
RTP is captured: music only while held), and blind-transfers it to another agent.

This is the end-to-end version of tests/web/test_browser.py (which drives the routing
service directly): here the state change comes from Asterisk through the engine.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from engine.store.session import session_scope
from tests.audio import rtp
from tests.integration.routing_env import eventually
from tests.web.conftest import chromium_or_skip
from web.app import create_app
from web.users_seed import AGENT_PASSWORD, SUPERVISOR, seed_demo_users

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
INTERCOM = 2010
OTHER = 2009  # the blind transfer's recipient
CALLER_MEDIA = 6640


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _serve(world):
    from aiohttp import web

    with session_scope(world.url) as session:
        seed_demo_users(session)
    runner = web.AppRunner(create_app(world.engine.settings, world.engine.routing, world.engine.bus),
                           access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/"


async def _login(browser, base: str, username: str, password: str, landing: str):
    context = await browser.new_context(viewport={"width": 1500, "height": 900})
    page = await context.new_page()
    await page.goto(base + "login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-button")
    await page.wait_for_url(f"**/{landing}")
    await page.wait_for_selector("#live-text:text('live')")
    return page


def _energy(packets, t0: float, t1: float) -> float:
    samples, _ = rtp.audio_samples([p for p in packets if t0 <= p.arrival < t1])
    return sum(x * x for x in samples) / max(1, len(samples))


async def test_a_sipp_call_turns_the_agent_amber_on_an_open_dashboard(world, tmp_path):
    path = chromium_or_skip()
    from playwright.async_api import async_playwright

    runner, base = await _serve(world)
    agent_id = world.agent(INTERCOM)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=path, args=ARGS, headless=True)
            dashboard = await _login(browser, base, *SUPERVISOR, "dashboard")
            desktop = await _login(browser, base, f"t{INTERCOM}", AGENT_PASSWORD, "desktop")

            await world.sipp.phone(INTERCOM, calls=1, timeout=40)
            world.ready(INTERCOM)
            status = dashboard.locator(f"#agent-{agent_id} [data-testid=agent-status]")
            await dashboard.wait_for_function(
                "([id]) => document.querySelector(`#agent-${id} [data-testid=agent-status]`)"
                ".textContent === 'Active'", arg=[agent_id], timeout=2000)

            navigations = []
            dashboard.on("framenavigated", lambda frame: navigations.append(frame.url))
            caller = await world.sipp.call("longest_idle", 5799, caller="+442079460001", name="Jane Doe",
                                           extra=["-mp", str(CALLER_MEDIA)])
            in_call = await eventually(lambda: next(
                (e for e in world.events if e.get("type") == "agent_state" and e["agent_id"] == agent_id
                 and e["state"] == "in_call"), None), 10)
            assert in_call, "the agent never went In Call"
            seen_at = time.monotonic()
            await dashboard.wait_for_function(
                "([id]) => document.querySelector(`#agent-${id} [data-testid=agent-status]`)"
                ".textContent === 'Busy'", arg=[agent_id], timeout=1000)
            delay = time.monotonic() - seen_at
            colour = await status.evaluate("el => getComputedStyle(el).backgroundColor")
            assert colour == "rgb(255, 143, 0)"  # amber
            assert navigations == [], "the page reloaded"
            SHOTS.mkdir(parents=True, exist_ok=True)
            await dashboard.screenshot(path=str(SHOTS / "e2e_dashboard_busy_from_sipp.png"), full_page=True)

            # The agent's desktop shows the screen pop of the real call.
            await desktop.wait_for_selector("text=020 7946 0001", timeout=3000)
            await desktop.wait_for_selector("text=ACC-1001", timeout=3000)  # Multi-Match list
            await desktop.screenshot(path=str(SHOTS / "e2e_desktop_screen_pop_from_sipp.png"), full_page=True)

            # Hold and Resume from the desktop: the caller hears music only while held.
            call_id = in_call["call_id"]
            flow = world.engine.calls[call_id].flow
            hold = desktop.locator("#controls button[data-cap=hold]")
            with rtp.Capture(CALLER_MEDIA, tmp_path / "caller.pcap") as cap:
                await asyncio.sleep(0.5)
                t_hold = time.time()
                await hold.click()
                await desktop.wait_for_selector("#controls button[data-cap=hold]:text('Resume')", timeout=3000)
                assert flow.hold.state.held and flow.hold.state.by == "desktop"
                await desktop.screenshot(path=str(SHOTS / "e2e_desktop_on_hold_from_sipp.png"), full_page=True)
                await asyncio.sleep(2.0)
                t_resume = time.time()
                await hold.click()
                await desktop.wait_for_selector("#controls button[data-cap=hold]:text('Hold')", timeout=3000)
                assert not flow.hold.state.held
                await asyncio.sleep(1.0)
            packets = cap.packets()
            assert _energy(packets, t_hold + 0.3, t_resume) > 100 * max(1.0, _energy(packets, t_resume + 0.5,
                                                                                       t_resume + 1.0))

            # A blind transfer from the desktop's Transfer form to another Ready agent.
            phone2 = await world.sipp.phone(OTHER, calls=1, timeout=40)
            world.ready(OTHER)
            await desktop.click("#controls button[data-cap=blind_transfer]")
            await desktop.wait_for_selector(f"#xfer-agents button[data-intercom='{OTHER}']:not([disabled])",
                                            timeout=5000)
            await desktop.click(f"[data-intercom='{OTHER}']")
            await desktop.click("#xfer-submit")
            assert await eventually(lambda: world.state(OTHER) == "in_call", 10), world.states_of(OTHER)
            assert world.state(INTERCOM) == "wrap_up"
            await desktop.wait_for_selector("#wrapup-panel:not([hidden])", timeout=3000)
            await desktop.screenshot(path=str(SHOTS / "e2e_desktop_wrap_up_after_transfer.png"), full_page=True)

            await world.ari("DELETE", f"channels/{world.engine.calls[call_id].caller_channel_id}")
            await caller.wait()
            await asyncio.wait_for(phone2.wait(), 10)
            await dashboard.wait_for_function(
                "([id]) => document.querySelector(`#agent-${id} [data-testid=agent-status]`)"
                ".textContent !== 'Busy'", arg=[agent_id], timeout=3000)
            await browser.close()
        print(f"dashboard turned amber {delay * 1000:.0f} ms after the engine's In Call event")
        assert delay < 1.0
    finally:
        await runner.cleanup()
