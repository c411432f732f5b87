"""The dashboard and the desktop in a real headless Chromium (Debian's), against the real
aiohttp server on 127.0.0.1.

Agent state changes are driven through RoutingService directly (sign_in, call_arrived,
offer_answered, call_ended), as the runtime does when Asterisk reports a call. The same
scenario with SIPp calling the real Asterisk belongs with the runtime's integration tests
once the runtime feeds the RoutingService; the browser side is identical.

Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import select

from engine.store import models as m
from engine.store.session import session_scope
from web.ws import extension_status_event

from .conftest import PASSWORDS

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
AMBER, GREEN, GREY = "rgb(255, 143, 0)", "rgb(30, 142, 62)", "rgb(128, 134, 139)"


async def open_page(browser, stack, username: str, width: int = 1500):
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    await page.goto(stack.url + "login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORDS[username])
    await page.click("#login-button")
    await page.wait_for_url("**/desktop" if username in ("alice", "bob", "carol") else "**/dashboard")
    await page.wait_for_selector("#live-text:text('live')")
    return page


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def ids(db_url):
    with session_scope(db_url) as s:
        agents = {a.username: a.id for a in s.exec(select(m.Agent)).all()}
        depts = {d.name: d.id for d in s.exec(select(m.Department)).all()}
    return agents, depts


def status_cell(page, agent_id):
    return page.locator(f"#agent-{agent_id} [data-testid=agent-status]")


async def wait_status(page, agent_id, label: str, timeout_ms: int = 1000) -> float:
    started = time.perf_counter()
    await page.wait_for_function(
        "([id, label]) => { const el = document.querySelector(`#agent-${id} [data-testid=agent-status]`);"
        " return el && el.textContent === label; }", arg=[agent_id, label], timeout=timeout_ms)
    return time.perf_counter() - started


async def test_log_in_and_role_refusals(stack, browser):
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(stack.url + "dashboard")
    await page.wait_for_url("**/login")
    await page.fill("#username", "supervisor")
    await page.fill("#password", "wrong-password")
    await page.click("#login-button")
    await page.wait_for_selector("#login-error:text('wrong username or password')")
    await shot(page, "login_refused")

    agent = await open_page(browser, stack, "alice")
    await agent.goto(stack.url + "dashboard")  # not for agents: sent to their desktop
    await agent.wait_for_url("**/desktop")
    refused = await agent.evaluate("fetch('/api/agents').then(r => r.json().then(b => [r.status, b]))")
    assert refused[0] == 403 and refused[1]["error"]["code"] == "forbidden"
    cookie = (await agent.context.cookies())[0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    no_csrf = await agent.evaluate("fetch('/api/agents/1/state', {method: 'POST', headers: {'Content-Type': "
                                   "'application/json'}, body: JSON.stringify({action: 'sign_in'})}).then(r => r.status)")
    assert no_csrf == 403

    sup = await open_page(browser, stack, "supervisor")
    assert await sup.locator("#agents-body tr").count() == 3
    assert await sup.locator("#add-agent").is_hidden()  # editing agents is for admins
    await sup.goto(stack.url + "desktop")
    await sup.wait_for_url("**/dashboard")


async def test_an_agent_on_a_call_turns_amber_on_an_open_dashboard_without_reload(stack, browser):
    agents, depts = ids(stack.db_url)
    alice = agents["alice"]
    page = await open_page(browser, stack, "supervisor")
    assert await status_cell(page, alice).text_content() == "Offline"
    assert await status_cell(page, alice).evaluate("e => getComputedStyle(e).backgroundColor") == GREY
    await page.evaluate("window.__noReload = true")

    stack.routing.sign_in(alice, depts["Sales"])  # Sales signs agents in Ready
    assert await wait_status(page, alice, "Active") < 1.0
    assert await status_cell(page, alice).evaluate("e => getComputedStyle(e).backgroundColor") == GREEN

    stack.routing.call_arrived("call-amber", depts["Sales"])   # offered to Alice: Ringing
    stack.routing.offer_answered("call-amber", alice)           # answered: In Call
    elapsed = await wait_status(page, alice, "Busy")
    assert elapsed < 1.0, f"the dashboard took {elapsed:.3f} s"
    assert await status_cell(page, alice).evaluate("e => getComputedStyle(e).backgroundColor") == AMBER
    assert await page.locator(f"#agent-{alice} [data-testid=agent-state]").text_content() == "In call"
    assert await page.locator(f"#agent-{alice} [data-testid=calls-answered]").text_content() == "1"

    stack.bus.publish(extension_status_event(alice, True))
    await page.wait_for_function(
        f"() => document.querySelector('#agent-{alice} [data-testid=extension-status]').textContent === 'Registered'",
        timeout=1000)
    assert await page.evaluate("window.__noReload") is True  # the page was never reloaded
    await shot(page, "dashboard_agent_busy_amber")

    # Blocked (red) and Disabled (yellow) from the Action column.
    bob = agents["bob"]
    page.on("dialog", lambda d: d.accept())
    await page.click(f"#agent-{bob} button[data-act=block]")
    await wait_status(page, bob, "Blocked")
    await page.click(f"#agent-{agents['carol']} button[data-act=disable]")
    await wait_status(page, agents["carol"], "Disabled")
    await shot(page, "dashboard_colour_codes")


async def _answered_call(db_url, call_id, agent_id, dept_id, caller, days_ago=0.0, ended=False):
    now = datetime.now(timezone.utc)
    with session_scope(db_url) as s:
        s.add(m.CallRecord(id=call_id, caller_number=caller, caller_name="JANE D", inbound_number="+442071838750",
                           department_id=dept_id, agent_id=agent_id, outcome="answered",
                           started_at=now - timedelta(days=days_ago, seconds=5),
                           answered_at=now - timedelta(days=days_ago),
                           ended_at=(now - timedelta(days=days_ago) + timedelta(minutes=2)) if ended else None))


async def test_the_desktop_shows_the_screen_pop_multi_match_and_wrap_up(stack, browser):
    agents, depts = ids(stack.db_url)
    alice = agents["alice"]
    await _answered_call(stack.db_url, "call-pop", alice, depts["Sales"], "+442079460001")
    page = await open_page(browser, stack, "alice", width=1300)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url.rstrip("/"))
    assert await page.locator("#call-timer").is_hidden()  # no call, no timer
    await page.select_option("#status-select", f"sign_in:{depts['Sales']}")
    await page.wait_for_selector("#status-badge:text('Ready')")
    await shot(page, "desktop_ready")

    stack.routing.call_arrived("call-pop", depts["Sales"])
    stack.routing.offer_answered("call-pop", alice)
    await page.wait_for_selector("[data-pop='Phone number']")
    pop = {k: await page.locator(f"[data-pop='{k}']").text_content() for k in (
        "Phone number", "Inbound number", "INBOUND_NUMBER_DESCRIPTION", "Caller name", "Service", "Status")}
    assert pop == {"Phone number": "020 7946 0001", "Inbound number": "020 7183 8750",
                   "INBOUND_NUMBER_DESCRIPTION": "Sales hotline", "Caller name": "JANE D", "Service": "Sales",
                   "Status": "In call"}
    assert await page.locator("#call-timer").is_visible()
    assert await page.locator("#multi-match tbody tr").count() == 2
    # Hold is live (the engine carries it out); this web stack runs without an engine: the
    # desktop shows the API's refusal.
    assert await page.locator("#controls button[data-cap=hold]").text_content() == "Hold"
    await page.click("#controls button[data-cap=hold]")
    await page.wait_for_selector("#controls-error:text('call control needs the engine')")
    await shot(page, "desktop_screen_pop_multi_match")

    await page.click("[data-choose='ACC-1002']")  # John Doe is the caller
    await page.wait_for_selector("[data-pop='Account number']:text('ACC-1002')")
    await page.click("#copy-button")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert "Account number: ACC-1002" in copied and "Phone number: 020 7946 0001" in copied
    with session_scope(stack.db_url) as s:
        record = s.get(m.CallRecord, "call-pop")
        kinds = [e.kind for e in s.exec(select(m.CallEvent).where(m.CallEvent.call_id == "call-pop")).all()]
    assert record.contact_id is not None and kinds == ["contact_associated"]
    await shot(page, "desktop_associated")

    stack.routing.call_ended("call-pop")
    await page.wait_for_selector("#wrapup-panel:not([hidden])")
    assert await page.locator("#call-timer").is_hidden()
    await page.click("#finish-wrapup")
    await page.wait_for_selector("#wrapup-error:text('Choose a termination code')")
    await page.select_option("#termination-code", "resolved")
    await shot(page, "desktop_wrap_up")
    await page.click("#finish-wrapup")
    await page.wait_for_selector("#status-badge:text('Ready')")
    await stack.routing.writer.drain()
    with session_scope(stack.db_url) as s:
        assert s.get(m.CallRecord, "call-pop").termination_code == "resolved"


async def test_a_withheld_caller_shows_unknown(stack, browser):
    agents, depts = ids(stack.db_url)
    bob = agents["bob"]
    await _answered_call(stack.db_url, "call-anon", bob, depts["Sales"], "anonymous")
    page = await open_page(browser, stack, "bob", width=1300)
    stack.routing.sign_in(bob, depts["Sales"])
    stack.routing.call_arrived("call-anon", None, agent_id=bob)
    stack.routing.offer_answered("call-anon", bob)
    await page.wait_for_selector("[data-pop='Phone number']:text('Unknown')")
    assert await page.locator("[data-pop='Customer']").text_content() == "Unknown"
    await shot(page, "desktop_withheld_caller")


async def test_the_desktop_shows_the_caller_once_the_history_is_written(stack, browser):
    """The engine writes a call's history after routing it, so a desktop can load the call
    before its record exists; the `screen_pop` event the engine pushes after the write
    makes the desktop show the caller (a real call on a busy engine did exactly this)."""
    agents, depts = ids(stack.db_url)
    carol = agents["carol"]
    page = await open_page(browser, stack, "carol", width=1300)
    stack.routing.sign_in(carol, depts["Sales"])
    stack.routing.call_arrived("call-late", None, agent_id=carol)
    stack.routing.offer_answered("call-late", carol)
    await page.wait_for_selector("text=no call record for this call yet")
    assert await page.locator("[data-pop='Phone number']").text_content() != "+442079460001"

    await _answered_call(stack.db_url, "call-late", carol, depts["Sales"], "+442079460001")
    stack.bus.publish({"type": "screen_pop", "agent_id": carol, "call_id": "call-late", "screen_pop": {}})
    await page.wait_for_selector("[data-pop='Phone number']:text('+442079460001')", timeout=2000)  # Carol reads E.164
    assert await page.locator("text=no call record for this call yet").count() == 0


async def test_agent_groups_add_edit_view_delete(stack, browser):
    page = await open_page(browser, stack, "supervisor")
    page.on("dialog", lambda d: d.accept())
    await page.click("#tabs button[data-tab=groups]")
    await page.wait_for_selector("#groups-body tr[data-group-id]")
    await page.click("#add-group")
    await page.click("#form-dialog [data-save]")  # empty name: refused, the field says why
    await page.wait_for_selector("#form-dialog [data-error=name]:text('is required')")
    await shot(page, "groups_add_refused")
    await page.fill("#f-name", "Night shift")
    await page.fill("#f-description", "After 18:00")
    await page.check("#f-agent_ids input[value='3']")
    await page.click("#form-dialog [data-save]")
    row = page.locator("#groups-body tr", has_text="Night shift")
    await row.wait_for()
    await row.locator("button[data-gact=view]").click()
    await page.locator("#form-dialog td", has_text="Carol Clark").wait_for(timeout=3000)
    await shot(page, "groups_view_agents")
    await page.click("#form-dialog button[type=submit]")
    await row.locator("button[data-gact=edit]").click()
    await page.fill("#f-name", "Late shift")
    await page.click("#form-dialog [data-save]")
    await page.locator("#groups-body tr", has_text="Late shift").wait_for()
    await shot(page, "groups_list")
    await page.locator("#groups-body tr", has_text="Late shift").locator("button[data-gact=delete]").click()
    await page.locator("#groups-body tr", has_text="Late shift").wait_for(state="detached")
    with session_scope(stack.db_url) as s:
        assert [g.name for g in s.exec(select(m.AgentGroup)).all()] == ["Day shift"]


async def test_calls_answered_filter_by_days_with_refresh(stack, browser):
    agents, depts = ids(stack.db_url)
    alice = agents["alice"]
    for i, days_ago in enumerate((0.5, 3, 20, 60)):
        await _answered_call(stack.db_url, f"old-{i}", alice, depts["Sales"], "+442079460001", days_ago, ended=True)
    page = await open_page(browser, stack, "supervisor")
    cell = page.locator(f"#agent-{alice} [data-testid=calls-answered]")
    for days, expected in (("1", "1"), ("7", "2"), ("30", "3"), ("90", "4")):
        await page.select_option("#answered-days", days)
        await page.click("#answered-refresh")
        await page.wait_for_function(
            f"() => document.querySelector('#agent-{alice} [data-testid=calls-answered]').textContent === '{expected}'",
            timeout=2000)
    await page.select_option("#answered-days", "7")
    await page.click("#answered-refresh")
    await page.wait_for_function(
        f"() => document.querySelector('#agent-{alice} [data-testid=calls-answered]').textContent === '2'", timeout=2000)
    assert await cell.text_content() == "2"
    await shot(page, "dashboard_calls_answered_7_days")


async def test_admin_forms_say_what_is_wrong(stack, browser):
    page = await open_page(browser, stack, "admin")
    await page.click("#tabs button[data-tab=admin]")
    section = page.locator("[data-resource=inbound_numbers]")
    await section.locator("button[data-ract=add]").click()
    await page.fill("#f-number", "12345")
    await page.fill("#f-target_id", "1")
    await page.click("#form-dialog [data-save]")
    await page.wait_for_selector("#form-dialog .field.invalid[data-field=number]")
    await shot(page, "admin_inbound_number_refused")
    await page.fill("#f-number", "+442071838799")
    await page.fill("#f-description", "Support line")
    await page.click("#form-dialog [data-save]")
    await section.locator("tr", has_text="Support line").wait_for()
    await page.click("#tabs button[data-tab=agents]")
    await page.click("#add-agent")
    await page.fill("#f-name", "Dave Dunn")
    await page.fill("#f-username", "dave")
    await page.fill("#f-intercom", "12")
    await page.fill("#f-sip_username", "agent1004")
    await page.fill("#f-sip_password", "demo-secret-1004")
    await page.click("#form-dialog [data-save]")
    await page.wait_for_selector("#form-dialog [data-error=intercom]:text('4-digit')")
    await shot(page, "admin_agent_refused")
    await page.fill("#f-intercom", "1004")
    await page.click("#form-dialog [data-save]")
    await page.locator("#agents-body tr", has_text="Dave Dunn").wait_for()
    await page.click("#tabs button[data-tab=admin]")
    await page.wait_for_selector("[data-resource=departments] tbody tr")
    await shot(page, "admin_configuration")


async def test_the_desktop_holds_resumes_and_answers_a_waiting_call(stack, browser):
    """Hold / Resume and call waiting on the desktop, with the engine's real call control over
    a fake call flow (tests/web/hold_fakes.py): the live events drive the page."""
    from engine.features.hold import CallControl

    from .hold_fakes import install

    engine = install(stack)
    agents, depts = ids(stack.db_url)
    alice, sales = agents["alice"], depts["Sales"]
    await _answered_call(stack.db_url, "call-one", alice, sales, "+442079460001")
    with session_scope(stack.db_url) as s:
        s.add(m.CallRecord(id="call-two", caller_number="+442079460002", caller_name="SECOND CALLER",
                           inbound_number="+442071838750", agent_id=alice))
    page = await open_page(browser, stack, "alice", width=1300)
    await page.select_option("#status-select", f"sign_in:{sales}")
    await page.wait_for_selector("#status-badge:text('Ready')")
    stack.routing.call_arrived("call-one", sales)
    stack.routing.offer_answered("call-one", alice)
    flow = engine.add_call("call-one", alice, sales)
    hold = page.locator("#controls button[data-cap=hold]")
    await page.wait_for_selector("#controls button[data-cap=hold]:text('Hold')")
    await hold.click()
    await page.wait_for_selector("#controls button[data-cap=hold]:text('Resume')")
    assert flow.hold.state.held and flow.hold.state.by == "desktop"
    assert await hold.get_attribute("aria-pressed") == "true"
    await shot(page, "desktop_on_hold")
    await hold.click()
    await page.wait_for_selector("#controls button[data-cap=hold]:text('Hold')")
    assert not flow.hold.state.held
    await flow.hold.phone(True)  # the phone's own hold: the page follows the `call_hold` event
    await page.wait_for_selector("#controls button[data-cap=hold]:text('Resume')")
    await flow.hold.phone(False)
    await page.wait_for_selector("#controls button[data-cap=hold]:text('Hold')")

    # A second call on alice's direct line while she talks: the waiting call shows live.
    assert await page.locator("#waiting-panel").is_hidden()
    stack.routing.call_arrived("call-two", None, agent_id=alice)
    assert stack.routing.dispatcher.waiting_for[alice] == "call-two"
    stack.bus.publish({"type": "call_waiting", "call_id": "call-two", "agent_id": alice,
                       "caller": "+442079460002", "caller_name": "SECOND CALLER"})
    await page.wait_for_selector("#waiting-panel:not([hidden])")
    assert await page.locator("#waiting-caller").text_content() == "SECOND CALLER"
    assert await page.locator("#waiting-number").text_content() == "020 7946 0002"
    await shot(page, "desktop_call_waiting")

    answered = []

    async def answer_waiting(call_id: str, agent_id: int) -> dict:  # what waiting.answer does, minus ARI
        answered.append((call_id, agent_id))
        await engine.control.hold("call-one", by="call_waiting")
        stack.routing.waiting_answered(call_id, agent_id)
        engine.add_call(call_id, agent_id, None)
        stack.bus.publish({"type": "call_waiting_ended", "call_id": call_id, "agent_id": agent_id,
                           "reason": "answered"})
        return {"call_id": call_id, "agent_id": agent_id, "held_call_id": "call-one"}

    engine.control.answer_waiting = answer_waiting
    assert isinstance(engine.control, CallControl)
    await page.click("#answer-waiting")
    await page.wait_for_selector("#held-panel:not([hidden])")
    assert answered == [("call-two", alice)]
    assert await page.locator("#waiting-panel").is_hidden()
    assert await page.locator("#held-caller").text_content() == "JANE D"
    await page.wait_for_selector("[data-pop='Caller name']:text('SECOND CALLER')")
    assert await hold.text_content() == "Hold"  # the second call is not on hold
    await shot(page, "desktop_second_call_first_on_hold")
