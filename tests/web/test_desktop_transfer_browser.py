"""The desktop's Transfer, Consult, Conference and Hang up in a real headless Chromium
(Debian's), against the real aiohttp server, with the engine's real transfer code over a
fake call flow and a fake Asterisk (tests/web/transfer_fakes.py): the test plays the
recipient's phone (answer, busy, no answer), the engine publishes the real `transfer`
events and the page follows them.

Scenarios: alice (intercom 1001) talks to a Sales caller; bob (1002) is Ready; carol
(1003) is on her lunch break. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest

from engine.store import models as m
from engine.store.session import session_scope

from .test_browser import _answered_call, ids, open_page, shot
from .transfer_fakes import BUSY, install

pytestmark = pytest.mark.browser
CONSULT, TRANSFER = "#controls button[data-cap=attended_transfer]", "#controls button[data-cap=blind_transfer]"
HANG_UP = "#controls button[data-cap=hangup]"
PANEL, NOTICE, FORM_ERROR = "#transfer-panel", "#transfer-notice", "#xfer-error"


@pytest.fixture
async def engine(stack):
    fake = install(stack)
    yield fake
    await fake.close()


async def alice_on_a_call(stack, browser, engine, call_id: str = "call-x", department: str = "Sales"):
    """Alice's desktop with a connected Sales caller; bob Ready, carol on lunch."""
    agents, depts = ids(stack.db_url)
    await _answered_call(stack.db_url, call_id, agents["alice"], depts[department], "+442079460001")
    page = await open_page(browser, stack, "alice", width=1300)
    stack.routing.sign_in(agents["alice"], depts["Sales"])
    stack.routing.call_arrived(call_id, depts["Sales"])
    stack.routing.offer_answered(call_id, agents["alice"])
    stack.routing.sign_in(agents["bob"], depts["Sales"])
    stack.routing.sign_in(agents["carol"], depts["Sales"])
    stack.routing.set_not_ready(agents["carol"], "lunch")
    flow = engine.add_call(call_id, agents["alice"], depts[department])
    await page.wait_for_selector(f"{CONSULT}:not([disabled])")
    return page, flow, agents


async def choose(page, kind: str) -> None:
    """Click one of the form's target kinds (a segmented control: the label is what shows)."""
    await page.click(f".segmented label:has-text('{kind}')")


async def visible_caps(page) -> list[str]:
    return await page.locator("#controls button").evaluate_all("bs => bs.map(b => b.textContent)")


async def test_consult_a_ready_agent_from_the_picker_then_complete(stack, browser, engine):
    page, flow, agents = await alice_on_a_call(stack, browser, engine)
    assert await visible_caps(page) == ["Hold", "Transfer", "Consult", "Conference", "Hang up"]
    assert await page.locator("#controls button[data-cap=conference]").is_disabled()  # Consult first
    await page.click(CONSULT)
    await page.wait_for_selector("#xfer-agents button[data-intercom='1002']")
    assert await page.locator("#xfer-kind-code").is_hidden()  # a consultation is with a person
    bob, carol = page.locator("[data-intercom='1002']"), page.locator("[data-intercom='1003']")
    assert await bob.is_enabled() and await carol.is_disabled()
    assert "Ready" in await bob.text_content() and "Not ready" in await carol.text_content()
    await bob.click()
    assert await page.input_value("#xfer-intercom") == "1002"
    assert await bob.get_attribute("aria-selected") == "true"
    await shot(page, "desktop_consult_picker")

    await page.click("#xfer-submit")
    await page.wait_for_selector(f"{PANEL} #xfer-status:text('Ringing Bob Baker (1002)…')")
    assert await page.locator("#transfer-form").is_hidden()
    assert await visible_caps(page) == ["Hold", "Hang up"]  # the panel carries the rest
    assert await page.locator("#controls button[data-cap=hold]").is_disabled()
    assert await page.locator("#xfer-complete").is_disabled() and await page.locator("#xfer-cancel").is_enabled()
    await shot(page, "desktop_consult_ringing")

    await engine.answer("call-x")  # bob picks up
    await page.wait_for_selector("#xfer-status:text('Talking to Bob Baker (1002)')")
    assert await page.locator("#xfer-complete").is_enabled() and await page.locator("#xfer-merge").is_enabled()
    await shot(page, "desktop_consult_talking")
    await page.reload()  # a reload restores the panel from the current-call resource
    await page.wait_for_selector("#xfer-status:text('Talking to Bob Baker (1002)')")

    await page.click("#xfer-complete")
    await page.wait_for_selector("#wrapup-panel:not([hidden])")
    await page.wait_for_selector(".flash:text('Call transferred to Bob Baker (1002)')")
    assert flow.agent_id == agents["bob"] and await page.locator("#controls-panel").is_hidden()
    await shot(page, "desktop_consult_completed_wrap_up")


async def test_consult_then_conference_then_the_recipient_leaves(stack, browser, engine):
    page, flow, _ = await alice_on_a_call(stack, browser, engine)
    await page.click(CONSULT)
    await page.fill("#xfer-intercom", "1002")
    await page.press("#xfer-intercom", "Enter")  # Enter submits the form too
    await page.wait_for_selector("#xfer-status:text('Ringing Bob Baker (1002)…')")
    await engine.answer("call-x")
    await page.wait_for_selector("#xfer-merge:not([disabled])")
    await page.click("#xfer-merge")
    await page.wait_for_selector("#xfer-status:text('You, the caller and Bob Baker (1002)')")
    assert await page.locator("#xfer-actions").is_hidden()
    assert await page.locator(HANG_UP).get_attribute("title") == "you leave; the caller and the recipient stay connected"
    await shot(page, "desktop_conference")
    engine.post("call-x", {"type": "StasisEnd", "channel": {"id": flow.features.conference_channel}})
    await page.wait_for_selector(f"{NOTICE}:text('Bob Baker (1002) left the conference: you are back with the caller.')")
    await page.wait_for_selector(f"{CONSULT}:not([disabled])")
    assert await page.locator(PANEL).is_hidden()


@pytest.mark.parametrize("how,shown", [("busy", "busy"), ("no_answer", "no answer"), ("hung_up", "hung up")])
async def test_a_failed_consultation_shows_why_and_gives_the_controls_back(stack, browser, engine, how, shown):
    page, _, _ = await alice_on_a_call(stack, browser, engine)
    await page.click(CONSULT)
    await page.click("[data-intercom='1002']")
    await page.click("#xfer-submit")
    await page.wait_for_selector("#xfer-status:text('Ringing Bob Baker (1002)…')")
    if how == "busy":
        await engine.fail("call-x", BUSY)
    elif how == "no_answer":
        await engine.ring_timeout("call-x")
    else:
        await engine.answer("call-x")
        await page.wait_for_selector("#xfer-status:text('Talking to Bob Baker (1002)')")
        engine.post("call-x", {"type": "ChannelDestroyed", "channel": {"id": engine.recipient("call-x")}, "cause": 16})
    text = f"Transfer to Bob Baker (1002) failed: {shown}. You are back with the caller."
    await page.wait_for_selector(f"{NOTICE}.error:text('{text}')")
    await page.wait_for_selector(f"{CONSULT}:not([disabled])")
    assert await page.locator(PANEL).is_hidden()
    assert await visible_caps(page) == ["Hold", "Transfer", "Consult", "Conference", "Hang up"]
    if how == "busy":
        await shot(page, "desktop_consult_failed_busy")


async def test_cancel_a_consultation_while_it_rings(stack, browser, engine):
    page, _, agents = await alice_on_a_call(stack, browser, engine)
    await page.click(CONSULT)
    await page.click("[data-intercom='1002']")
    await page.click("#xfer-submit")
    await page.wait_for_selector("#xfer-cancel:not([disabled])")
    await page.click("#xfer-cancel")
    await page.wait_for_selector(f"{NOTICE}:text('Transfer cancelled: you are back with the caller.')")
    await page.wait_for_selector(f"{CONSULT}:not([disabled])")
    assert stack.routing.dispatcher.agents[agents["bob"]].state.state == "ready"


async def test_refusals_show_the_engines_message(stack, browser, engine):
    page, flow, agents = await alice_on_a_call(stack, browser, engine)
    await page.click(CONSULT)
    await page.click("#xfer-submit")  # nothing chosen: the form says what is missing
    await page.wait_for_selector(f"{FORM_ERROR}:text('Pick a Ready agent from the list')")
    await page.fill("#xfer-intercom", "1003")  # carol is typed in anyway: the engine refuses
    await page.click("#xfer-submit")
    await page.wait_for_selector(f"{FORM_ERROR}:text('is not Ready')")
    assert await page.text_content(FORM_ERROR) == "Agent 1003 is not Ready"  # the engine's words
    await shot(page, "desktop_consult_refused_not_ready")
    await page.fill("#xfer-intercom", "car")  # a name filters the list
    assert await page.locator("#xfer-agents button").count() == 1
    await page.fill("#xfer-intercom", "")
    stack.routing.set_not_ready(agents["bob"], "training")  # the picker follows live states
    await page.wait_for_selector("[data-intercom='1002'][disabled]", timeout=6000)
    assert "Not ready" in await page.locator("[data-intercom='1002']").text_content()

    await choose(page, "External number")
    await page.fill("#xfer-number", "12")
    await page.click("#xfer-submit")
    await page.wait_for_selector(f"{FORM_ERROR}:text(\"Number: '12' is not a valid phone number\")")
    await page.click(CONSULT)  # a second click closes the form
    assert await page.locator("#transfer-form").is_hidden()
    assert flow.features.machine.phase == "idle" and engine.ari.requests == []


async def test_external_numbers_are_unavailable_when_the_department_has_no_queue(stack, browser, engine):
    page, _, _ = await alice_on_a_call(stack, browser, engine, department="Support")
    await page.click(TRANSFER)
    await choose(page, "External number")
    await page.wait_for_selector("#xfer-number[disabled]")
    assert await page.locator("#xfer-submit").is_disabled()
    help_text = await page.text_content("#xfer-external-help")
    assert help_text == "Not available on this call: external transfers need the department's \"Use it as Queue\" on."
    await shot(page, "desktop_transfer_external_unavailable")


async def test_blind_transfer_by_department_code_without_queue(stack, browser, engine):
    page, flow, _ = await alice_on_a_call(stack, browser, engine)
    await page.click(TRANSFER)
    await choose(page, "Department / IVR")
    await page.wait_for_selector("#xfer-codes button[data-code='20002']")
    assert await page.locator("#xfer-codes button").count() == 3  # Sales, Support, Main menu (IVR)
    await page.click("#xfer-codes button[data-code='30001']")
    assert await page.locator("#xfer-queue").is_disabled()  # an IVR has no queue choice
    await page.click("#xfer-codes button[data-code='20002']")
    await page.uncheck("#xfer-queue")
    await shot(page, "desktop_transfer_by_code")
    await page.click("#xfer-submit")
    await page.wait_for_selector(".flash:text('Call transferred to Support (20002)')")
    await page.wait_for_selector("#wrapup-panel:not([hidden])")
    await engine.settle("call-x")
    with session_scope(stack.db_url) as s:
        support = s.get(m.Department, 2)
    assert flow.department_id == support.id and flow.phase == "routing"
    assert "call-x" not in stack.routing.dispatcher.calls  # nobody in Support, queue off: overflowed
    await shot(page, "desktop_transfer_by_code_wrap_up")


async def test_blind_transfer_to_an_external_number(stack, browser, engine):
    page, _, _ = await alice_on_a_call(stack, browser, engine)
    await page.click(TRANSFER)
    await choose(page, "External number")
    await page.fill("#xfer-number", "07911 123459")
    await page.click("#xfer-submit")
    await page.wait_for_selector("#wrapup-panel:not([hidden])")
    await page.wait_for_selector(".flash:text('Transferring the call to 07911 123459')")
    originate = [p for _, path, p in engine.ari.requests if path.startswith("channels/sb-")]
    assert originate[0]["endpoint"] == "PJSIP/+447911123459@trunk"


async def test_the_recipient_sees_who_is_transferring_and_takes_over_on_completion(stack, browser, engine):
    """Bob's own desktop while alice consults him: the caller's screen pop, no controls of
    his but Hang up until the transfer completes (the engine refuses them), then his call in full."""
    page, _, _ = await alice_on_a_call(stack, browser, engine)
    bob = await open_page(browser, stack, "bob", width=820)  # a narrow window: one column
    await page.click(CONSULT)
    await page.click("[data-intercom='1002']")
    await page.click("#xfer-submit")
    await page.wait_for_selector("#xfer-status:text('Ringing Bob Baker (1002)…')")
    await engine.answer("call-x")
    await bob.wait_for_selector("#xfer-status:text('Alice Archer is transferring this call to you')")
    assert await bob.locator("#xfer-actions").is_hidden()
    assert await bob.locator("#controls button:not([disabled])").all_text_contents() == ["Hang up"]
    await shot(bob, "desktop_recipient_during_consultation_narrow")
    await page.wait_for_selector("#xfer-complete:not([disabled])")
    await page.click("#xfer-complete")
    await bob.wait_for_selector(f"{PANEL}[hidden]", state="attached")
    await bob.wait_for_selector(f"{TRANSFER}:not([disabled])")
    assert await visible_caps(bob) == ["Hold", "Transfer", "Consult", "Conference", "Hang up"]


async def test_hang_up_goes_to_wrap_up(stack, browser, engine):
    page, flow, _ = await alice_on_a_call(stack, browser, engine)
    await shot(page, "desktop_call_controls")
    await page.click(HANG_UP)
    await page.wait_for_selector("#wrapup-panel:not([hidden])")
    assert flow.hung_up == ["agent-call-x"] and flow.phase == "ended"
    assert await page.locator("#controls-panel").is_hidden()
