"""The REST API through a real aiohttp server: every endpoint's role refusals and its
validation errors, each a JSON error naming the field."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlmodel import select

from engine.store import models as m
from engine.store.session import session_scope
from web.app import route_table
from web.routes import PUBLIC

SAMPLE = {"id": "1", "agent_id": "1", "call_id": "nope", "transfer_id": "nope"}


def fill(path: str) -> str:
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda mt: SAMPLE[mt.group(1)], path)


API_ROUTES = [r for r in route_table() if r.path.startswith("/api/") and r.roles != PUBLIC]


def err(status_data, status, code=None, field=None):
    got_status, data = status_data
    assert got_status == status, data
    if code:
        assert data["error"]["code"] == code, data
    if field is not None:
        assert data["error"]["field"] == field, data
    return data["error"]


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_every_endpoint_refuses_anonymous_and_roles_it_does_not_allow(stack, route):
    anon = await stack.client()
    err(await anon.call(route.method, fill(route.path)), 401, "not_signed_in")
    for username, role in (("alice", "agent"), ("supervisor", "supervisor"), ("admin", "admin")):
        client = await stack.client(username)
        status, data = await client.call(route.method, fill(route.path))
        if role not in route.roles:
            err((status, data), 403, "forbidden")
        else:
            assert status != 403 or data["error"]["code"] != "forbidden" or route.own_agent_only, (role, data)


@pytest.mark.parametrize("route", [r for r in API_ROUTES if r.own_agent_only], ids=lambda r: r.path)
async def test_an_agent_acts_only_on_their_own_agent(stack, route):
    bob = await stack.client("bob")  # bob is agent 2; SAMPLE asks for agent 1
    err(await bob.call(route.method, fill(route.path), {}), 403, "forbidden")


async def test_openapi_describes_every_api_route_from_the_one_table(stack):
    client = await stack.client()
    status, spec = await client.call("GET", "/api/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    for r in route_table():
        if r.path.startswith("/api/"):
            path = re.sub(r"\{(\w+)(?::[^}]*)?\}", r"{\1}", r.path)
            assert r.method.lower() in spec["paths"][path], (r.method, path)
    body = spec["paths"]["/api/agent-groups"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["name"] and body["additionalProperties"] is False


# ---- session, log-in, CSRF -----------------------------------------------------------
async def test_log_in_refusals_and_throttle(stack):
    c = await stack.client()
    err(await c.call("POST", "/api/login", {"username": "admin"}), 400, "required", "password")
    err(await c.call("POST", "/api/login", {"username": "admin", "password": 5}), 400, "invalid_type", "password")
    err(await c.call("POST", "/api/login", {"username": "admin", "password": "x", "role": "admin"}), 400,
        "unknown_field", "role")
    res = await c.raw.post("/api/login", data="username=admin")
    assert res.status == 415
    for _ in range(5):
        err(await c.call("POST", "/api/login", {"username": "admin", "password": "wrong-pass"}), 401,
            "bad_credentials", "password")
    err(await c.call("POST", "/api/login", {"username": "admin", "password": "admin-pass-1"}), 429, "too_many_attempts")
    err(await c.call("POST", "/api/login", {"username": "nobody", "password": "whatever1"}), 401, "bad_credentials")


async def test_sessions_cookie_csrf_origin_and_logout(stack):
    c = await stack.client()
    res = await c.raw.post("/api/login", json={"username": "supervisor", "password": "super-pass-1"})
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    csrf = (await res.json())["csrf_token"]
    c.csrf = csrf
    with session_scope(stack.db_url) as s:
        stored = s.exec(select(m.WebSession)).all()
        user = s.exec(select(m.WebUser).where(m.WebUser.username == "supervisor")).one()
    assert user.password_hash.startswith("scrypt$") and "super-pass-1" not in user.password_hash
    assert all(len(r.token_hash) == 64 for r in stored)  # only hashes of tokens are stored
    err(await c.call("POST", "/api/agent-groups", {"name": "x"}, csrf=False), 403, "csrf")
    res = await c.raw.post("/api/agent-groups", json={"name": "x"},
                           headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert res.status == 403 and (await res.json())["error"]["code"] == "bad_origin"
    status, data = await c.call("GET", "/api/session")
    assert status == 200 and data["user"]["role"] == "supervisor"
    assert (await c.call("POST", "/api/logout"))[0] == 200
    err(await c.call("GET", "/api/session"), 401, "not_signed_in")


async def test_pages_redirect_by_role(stack):
    anon = await stack.client()
    res = await anon.raw.get("/dashboard", allow_redirects=False)
    assert res.status == 302 and res.headers["Location"] == "/login"
    alice = await stack.client("alice")
    res = await alice.raw.get("/dashboard", allow_redirects=False)
    assert res.headers["Location"] == "/desktop"
    res = await alice.raw.get("/desktop")
    assert res.status == 200 and "default-src 'self'" in res.headers["Content-Security-Policy"]


# ---- agents --------------------------------------------------------------------------
NEW_AGENT = {"name": "Dave Dunn", "intercom": "1004", "username": "dave", "sip_username": "agent1004",
             "sip_password": "demo-secret-1004", "region": "GB", "department_ids": [1], "login_password": "dave-pass-1"}


@pytest.mark.parametrize("change,field", [
    ({"intercom": "12"}, "intercom"), ({"intercom": "1001"}, "intercom"), ({"username": "bad name"}, "username"),
    ({"sip_password": "short"}, "sip_password"), ({"region": "XX"}, "region"),
    ({"call_forwarding_number": "12"}, "call_forwarding_number"),
    ({"alternative_numbers": ["+447911123456", "nope"]}, "alternative_numbers[1]"),
    ({"department_ids": [99]}, "department_ids[0]"), ({"time_group_id": 99}, "time_group_id"),
    ({"department_ids": "1"}, "department_ids"), ({"colour": "red"}, "colour"), ({"name": None}, "name"),
    ({"login_password": "short"}, "login_password"),
])
async def test_agent_create_refusals_name_the_field(stack, change, field):
    admin = await stack.client("admin")
    err(await admin.call("POST", "/api/agents", {**NEW_AGENT, **change}), 400, field=field)
    with session_scope(stack.db_url) as s:
        assert s.exec(select(m.Agent).where(m.Agent.username == "dave")).first() is None  # nothing changed


async def test_agent_create_edit_block_delete(stack):
    admin = await stack.client("admin")
    status, agent = await admin.call("POST", "/api/agents", NEW_AGENT)
    assert status == 201 and agent["departments"] == ["Sales"] and "sip_password" not in agent
    assert agent["id"] in stack.routing.dispatcher.agents  # routing knows the new agent
    dave = await stack.client()
    await dave.login("dave", "dave-pass-1")
    status, data = await admin.call("PATCH", f"/api/agents/{agent['id']}", {"name": "David Dunn", "intercom": "99"})
    err((status, data), 400, field="intercom")
    status, data = await admin.call("PATCH", f"/api/agents/{agent['id']}", {"name": "David Dunn"})
    assert status == 200 and data["name"] == "David Dunn"
    err(await admin.call("PATCH", "/api/agents/999", {"name": "x"}), 404, "not_found")
    err(await admin.call("POST", f"/api/agents/{agent['id']}/admin-status", {"admin_status": "gone"}), 400,
        "invalid_choice", "admin_status")
    stack.routing.sign_in(agent["id"])
    err(await admin.call("DELETE", f"/api/agents/{agent['id']}"), 409, "signed_in")
    status, live = await admin.call("POST", f"/api/agents/{agent['id']}/admin-status", {"admin_status": "blocked"})
    assert live["display_status"] == "Blocked" and live["state"] == "offline"  # blocking signs out
    assert (await admin.call("DELETE", f"/api/agents/{agent['id']}"))[0] == 200
    assert agent["id"] not in stack.routing.dispatcher.agents
    err(await dave.call("GET", "/api/session"), 401)  # the agent's log-in went with the agent


async def test_agent_state_changes_and_refusals(stack):
    alice = await stack.client("alice")
    me = alice.user["agent_id"]
    err(await alice.call("POST", f"/api/agents/{me}/state", {"action": "dance"}), 400, "invalid_choice", "action")
    err(await alice.call("POST", f"/api/agents/{me}/state", {"action": "ready"}), 409, "refused")
    err(await alice.call("POST", f"/api/agents/{me}/state", {"action": "sign_in", "department_id": 2}), 409, "refused")
    status, live = await alice.call("POST", f"/api/agents/{me}/state", {"action": "sign_in", "department_id": 1})
    assert status == 200 and live["state"] == "ready" and live["display_status"] == "Active"
    err(await alice.call("POST", f"/api/agents/{me}/state", {"action": "not_ready", "break_code": "nap"}), 400,
        "invalid", "break_code")
    status, live = await alice.call("POST", f"/api/agents/{me}/state", {"action": "not_ready", "break_code": "lunch"})
    assert live["state"] == "not_ready" and live["break_code"] == "lunch"
    err(await alice.call("POST", f"/api/agents/{me}/wrap-up", {"termination_code": "resolved"}), 409, "refused")
    err(await alice.call("POST", f"/api/agents/{me}/wrap-up", {"termination_code": "zzz"}), 400, "invalid",
        "termination_code")
    sup = await stack.client("supervisor")
    status, live = await sup.call("POST", f"/api/agents/{me}/state", {"action": "sign_out"})
    assert status == 200 and live["state"] == "offline"


async def test_calls_answered_filter(stack):
    sup = await stack.client("supervisor")
    err(await sup.call("GET", "/api/agents/calls-answered?days=0"), 400, "out_of_range", "days")
    err(await sup.call("GET", "/api/agents/calls-answered?days=abc"), 400, "invalid_type", "days")
    err(await sup.call("GET", "/api/agents/calls-answered"), 400, "invalid_type", "days")
    now = datetime.now(timezone.utc)
    with session_scope(stack.db_url) as s:
        s.add(m.CallRecord(id="a1", agent_id=1, answered_at=now, outcome="answered"))
    status, data = await sup.call("GET", "/api/agents/calls-answered?days=7")
    assert status == 200 and data == {"days": 7, "counts": {"1": 1}}


# ---- groups and configuration ---------------------------------------------------------
@pytest.mark.parametrize("path,body,field", [
    ("/api/agent-groups", {"name": ""}, "name"),
    ("/api/agent-groups", {"name": "Day shift"}, "name"),
    ("/api/agent-groups", {"name": "G", "agent_ids": [1, 1]}, "agent_ids"),
    ("/api/agent-groups", {"name": "G", "agent_ids": [42]}, "agent_ids[0]"),
    ("/api/agent-groups", {"name": "G", "agent_ids": ["1"]}, "agent_ids[0]"),
    ("/api/departments", {"name": "D", "transfer_code": "123"}, "transfer_code"),
    ("/api/departments", {"name": "D", "transfer_code": "30001"}, "transfer_code"),  # the IVR's code
    ("/api/departments", {"name": "D", "strategy": "random"}, "strategy"),
    ("/api/departments", {"name": "D", "ring_timeout": 0}, "ring_timeout"),
    ("/api/ivrs", {"name": "I", "transfer_code": "20001"}, "transfer_code"),
    ("/api/ivrs", {"name": "I", "greeting": "../../etc/passwd"}, "greeting"),
    ("/api/time-groups", {"name": "T", "timezone": "Mars/Base"}, "timezone"),
    ("/api/time-groups", {"name": "T", "rules": [{"weekday": 0, "start": "18:00", "end": "09:00"}]}, "rules[0].end"),
    ("/api/time-groups", {"name": "T", "rules": [{"weekday": 9, "start": "08:00", "end": "09:00"}]}, "rules[0].weekday"),
    ("/api/inbound-numbers", {"number": "12345", "target_id": 1}, "number"),
    ("/api/inbound-numbers", {"number": "+442071838799", "target_id": 77}, "target_id"),
    ("/api/inbound-numbers", {"number": "+442071838750", "target_id": 1}, "number"),
    ("/api/inbound-numbers", {"number": "+442071838799", "description": "a\nb", "target_id": 1}, "description"),
    ("/api/break-codes", {"code": "with space", "name": "X"}, "code"),
    ("/api/break-codes", {"code": "lunch", "name": "X"}, "code"),
    ("/api/termination-codes", {"code": "t1", "name": "T", "department_id": 9}, "department_id"),
    ("/api/termination-codes", {"code": "t1"}, "name"),
    ("/api/users", {"username": "u1", "password": "short", "role": "supervisor"}, "password"),
    ("/api/users", {"username": "u1", "password": "long-enough", "role": "agent"}, "agent_id"),
    ("/api/users", {"username": "u1", "password": "long-enough", "role": "boss"}, "role"),
    ("/api/users", {"username": "admin", "password": "long-enough", "role": "admin"}, "username"),
])
async def test_configuration_refusals_name_the_field(stack, path, body, field):
    admin = await stack.client("admin")
    error = err(await admin.call("POST", path, body), 400, field=field)
    assert error["message"]


async def test_configuration_crud_round_trip(stack):
    admin = await stack.client("admin")
    status, tg = await admin.call("POST", "/api/time-groups", {"name": "Late", "timezone": "Europe/London", "rules": [
        {"weekday": 0, "start": "18:00", "end": "22:00"}]})
    assert status == 201 and tg["rules"] == [{"weekday": 0, "start": "18:00", "end": "22:00"}]
    status, dept = await admin.call("POST", "/api/departments", {"name": "Billing", "transfer_code": "20003",
                                                                 "time_group_id": tg["id"]})
    assert status == 201 and dept["id"] in stack.routing.dispatcher.departments
    status, num = await admin.call("POST", "/api/inbound-numbers", {"number": "020 7183 8799", "target_id": dept["id"]})
    err((status, num), 400, field="number")  # national format needs a region: E.164 please
    status, num = await admin.call("POST", "/api/inbound-numbers", {"number": "+442071838799", "target_id": dept["id"],
                                                                     "description": "Billing line"})
    assert status == 201 and num["description"] == "Billing line"
    status, code = await admin.call("POST", "/api/break-codes", {"code": "coffee", "name": "Coffee"})
    assert status == 201 and "coffee" in stack.routing.break_codes
    assert (await admin.call("PATCH", f"/api/departments/{dept['id']}", {"use_as_queue": False}))[1]["use_as_queue"] is False
    assert (await admin.call("DELETE", f"/api/inbound-numbers/{num['id']}"))[0] == 200
    err(await admin.call("DELETE", f"/api/inbound-numbers/{num['id']}"), 404, "not_found")
    err(await admin.call("GET", "/api/departments/abc"), 400, "invalid_type", "id")


async def test_agent_groups_round_trip(stack):
    sup = await stack.client("supervisor")
    status, g = await sup.call("POST", "/api/agent-groups", {"name": "Night", "description": "late", "agent_ids": [3, 1]})
    assert status == 201 and sorted(g["agent_ids"]) == [1, 3]
    status, g = await sup.call("PATCH", f"/api/agent-groups/{g['id']}", {"agent_ids": [2]})
    assert [a["name"] for a in g["agents"]] == ["Bob Baker"]
    assert (await sup.call("DELETE", f"/api/agent-groups/{g['id']}"))[0] == 200


async def test_users_and_clipboard_settings(stack):
    admin = await stack.client("admin")
    status, u = await admin.call("POST", "/api/users", {"username": "sup2", "password": "sup2-pass-1", "role": "supervisor"})
    assert status == 201 and "password_hash" not in u
    err(await admin.call("DELETE", f"/api/users/{admin.user['id']}"), 409, "refused")
    status, data = await admin.call("PATCH", f"/api/users/{u['id']}", {"disabled": True})
    assert data["disabled"] is True
    err(await admin.call("PUT", "/api/settings/clipboard", {"fields": ["first_name", "shoe_size"]}), 400,
        field="fields[1]")
    err(await admin.call("PUT", "/api/settings/clipboard", {"department_id": 9, "fields": []}), 400,
        field="department_id")
    status, clip = await admin.call("PUT", "/api/settings/clipboard", {"department_id": 1, "fields": ["account_number"]})
    assert clip["departments"] == {"1": ["account_number"]}


# ---- calls: screen pop and association ------------------------------------------------
def _call(db_url, call_id, agent_id, caller="+442079460001", ended=False):
    with session_scope(db_url) as s:
        s.add(m.CallRecord(id=call_id, caller_number=caller, inbound_number="+442071838750", department_id=1,
                           agent_id=agent_id, answered_at=datetime.now(timezone.utc),
                           ended_at=datetime.now(timezone.utc) if ended else None))


async def test_screen_pop_and_association(stack):
    _call(stack.db_url, "c1", 1)
    alice, bob = await stack.client("alice"), await stack.client("bob")
    stack.routing.sign_in(1, 1)
    stack.routing.call_arrived("c1", 1)
    stack.routing.offer_answered("c1", 1)
    status, data = await alice.call("GET", "/api/agents/1/desktop")
    pop = data["call"]
    assert pop["fields"]["phone_number"] == "020 7946 0001" and len(pop["multi_match"]) == 2
    assert pop["fields"]["inbound_number_description"] == "Sales hotline"
    assert [c["name"] for c in pop["capabilities"]][0] == "hold" and pop["capabilities"][0]["available"]  # in call, hold allowed
    err(await bob.call("POST", "/api/calls/c1/contact", {"account_number": "ACC-1001"}), 403, "forbidden")
    err(await alice.call("POST", "/api/calls/c1/contact", {}), 400, "required", "account_number")
    err(await alice.call("POST", "/api/calls/c1/contact", {"account_number": "  "}), 400, field="account_number")
    status, r = await alice.call("POST", "/api/calls/c1/contact", {"account_number": "ACC-1001"})
    assert status == 200 and r["changed"] and r["original_contact_id"] is None  # two matched: no first match
    status, r = await alice.call("POST", "/api/calls/c1/contact", {"account_number": "ACC-1002"})
    assert r["previous_contact_id"] is not None and r["original_contact_id"] == r["previous_contact_id"]
    status, r = await alice.call("POST", "/api/calls/c1/contact", {"account_number": "NEW-77", "first_name": "Neo"})
    assert r["created_contact"] is True
    with session_scope(stack.db_url) as s:
        record = s.get(m.CallRecord, "c1")
        events = s.exec(select(m.CallEvent).where(m.CallEvent.call_id == "c1")).all()
        new = s.exec(select(m.Contact).where(m.Contact.account_number == "NEW-77")).one()
    assert record.contact_id == new.id and len(events) == 3 and all(e.kind == "contact_associated" for e in events)
    sup = await stack.client("supervisor")
    status, calls = await sup.call("GET", "/api/calls/live")
    assert [c["id"] for c in calls] == ["c1"] and len(calls[0]["timeline"]) == 3
    _call(stack.db_url, "c-ended", 1, ended=True)
    err(await sup.call("POST", "/api/calls/c-ended/contact", {"account_number": "ACC-1001"}), 409, "call_ended")
    err(await sup.call("POST", "/api/calls/nope/contact", {"account_number": "ACC-1001"}), 404, "not_found")


# ---- websocket ------------------------------------------------------------------------
async def test_websocket_snapshot_then_events_and_agents_see_only_their_own(stack):
    anon = await stack.client()
    res = await anon.raw.get("/ws")
    assert res.status == 401
    sup, bob = await stack.client("supervisor"), await stack.client("bob")
    sws, bws = await sup.raw.ws_connect("/ws"), await bob.raw.ws_connect("/ws")
    snap = await sws.receive_json(timeout=2)
    assert snap["type"] == "snapshot" and len(snap["agents"]) == 3
    bsnap = await bws.receive_json(timeout=2)
    assert [a["agent_id"] for a in bsnap["agents"]] == [2]
    stack.routing.sign_in(1, 1)
    stack.routing.sign_in(2, 1)
    first = await sws.receive_json(timeout=2)
    assert first["agent_id"] == 1 and first["display_status"] == "Active"
    mine = await bws.receive_json(timeout=2)
    assert mine["agent_id"] == 2  # alice's change never reached bob
    bad = await sup.raw.get("/ws", headers={"Origin": "http://evil.example"})
    assert bad.status == 403
    await sws.close()
    await bws.close()
