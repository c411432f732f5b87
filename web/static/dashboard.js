// The supervisor dashboard: the live agent list, agent groups, live calls, configuration.
"use strict";
const D = {
  agents: new Map(),      // id -> row from /api/agents
  live: new Map(),        // id -> live state (websocket snapshot and events win over the row)
  ext: new Map(),         // id -> extension status from events
  answered: null,         // {days, counts} when a filter is applied
  refs: { departments: [], time_groups: [], break_codes: [], ivrs: [] },
  isAdmin: false,
};

// ---------------------------------------------------------------- agent list
function agentStatus(id) {
  const live = D.live.get(id) || (D.agents.get(id) || {}).live;
  return live || { display_status: "Offline", state: "offline" };
}

function answeredCount(row) {
  if (!D.answered) return row.calls_answered;
  return D.answered.counts[String(row.id)] || 0;
}

function agentRowHtml(row) {
  const live = agentStatus(row.id);
  const ext = D.ext.get(row.id) || row.extension_status;
  const label = live.display_status;
  const admin = live.admin_status || row.admin_status;
  const stateOpts = [["", "State…"], ["sign_in", "Sign in"], ["ready", "Ready"], ["not_ready:", "Not ready"]]
    .concat(D.refs.break_codes.map((b) => ["not_ready:" + b.code, "Break: " + b.name]))
    .concat([["sign_out", "Sign out"]]);
  const actions = [];
  if (D.isAdmin) actions.push(`<button class="small" data-act="edit" type="button">Edit</button>`);
  actions.push(admin === "blocked"
    ? `<button class="small" data-act="activate" type="button">Unblock</button>`
    : `<button class="small" data-act="block" type="button">Block</button>`);
  actions.push(admin === "disabled"
    ? `<button class="small" data-act="activate" type="button">Enable</button>`
    : `<button class="small" data-act="disable" type="button">Disable</button>`);
  if (D.isAdmin) actions.push(`<button class="small danger" data-act="delete" type="button">Delete</button>`);
  actions.push(`<select class="small" data-act="state" aria-label="Change state">` +
    stateOpts.map(([v, l]) => `<option value="${SB.esc(v)}">${SB.esc(l)}</option>`).join("") + `</select>`);
  return `<td>${row.id}</td><td>${SB.esc(row.name)}</td><td>${SB.esc(row.call_forwarding_number || "")}</td>
    <td>${SB.esc((row.alternative_numbers || []).join(", "))}</td><td>${SB.esc(row.intercom)}</td>
    <td>${SB.esc(row.time_group)}</td><td>${SB.esc(row.departments.join(", "))}</td><td>${SB.esc(row.username)}</td>
    <td>${SB.esc(row.extension_caller_id || "")}</td>
    <td><span class="badge ${SB.statusClass(label)}" data-testid="agent-status">${SB.esc(label)}</span>
        <span class="sub" data-testid="agent-state">${SB.esc(SB.stateLabel(live))}</span></td>
    <td><span class="badge ext-${SB.esc(ext)}" data-testid="extension-status">${ext === "registered" ? "Registered" : "Unregistered"}</span></td>
    <td class="num" data-testid="calls-answered">${answeredCount(row)}</td>
    <td><div class="actions">${actions.join("")}</div></td>`;
}

function renderAgents() {
  const body = document.getElementById("agents-body");
  if (!D.agents.size) { body.innerHTML = `<tr><td colspan="13" class="empty">No agents yet.</td></tr>`; return; }
  body.innerHTML = Array.from(D.agents.values()).map((row) =>
    `<tr id="agent-${row.id}" data-agent-id="${row.id}">${agentRowHtml(row)}</tr>`).join("");
}

function renderAgent(id) {
  const row = D.agents.get(id);
  const tr = document.getElementById("agent-" + id);
  if (row && tr) tr.innerHTML = agentRowHtml(row);
}

async function loadAgents() {
  const rows = await SB.api("GET", "/api/agents");
  D.agents = new Map(rows.map((r) => [r.id, r]));
  renderAgents();
}

async function refreshAnswered() {
  const days = document.getElementById("answered-days").value;
  const note = document.getElementById("answered-note");
  if (!days) {
    D.answered = null;
    await loadAgents();
    note.textContent = "";
  } else {
    D.answered = await SB.api("GET", "/api/agents/calls-answered?days=" + encodeURIComponent(days));
    note.textContent = `counted ${new Date().toLocaleTimeString()}`;
    renderAgents();
  }
}

async function agentAction(id, act, value) {
  const row = D.agents.get(id);
  try {
    if (act === "edit") return editAgent(row);
    if (act === "delete") {
      if (!confirm(`Delete agent ${row.name}? This cannot be undone.`)) return;
      await SB.api("DELETE", `/api/agents/${id}`);
      D.agents.delete(id);
      renderAgents();
      SB.flash(`Deleted ${row.name}`);
      return;
    }
    if (act === "block" || act === "disable" || act === "activate") {
      const status = { block: "blocked", disable: "disabled", activate: "active" }[act];
      const live = await SB.api("POST", `/api/agents/${id}/admin-status`, { admin_status: status });
      row.admin_status = status;
      D.live.set(id, live);
      renderAgent(id);
      SB.flash(`${row.name}: ${live.display_status}`);
      return;
    }
    if (act === "state" && value) {
      const [action, code] = value.split(":");
      const body = { action };
      if (action === "not_ready") body.break_code = code || null;
      await SB.api("POST", `/api/agents/${id}/state`, body);
    }
  } catch (err) {
    SB.flash(`${row ? row.name + ": " : ""}${err.message}`, true);
    renderAgent(id);
  }
}

function agentFields(isNew) {
  return [
    { name: "name", label: "Name" },
    { name: "username", label: "Username" },
    { name: "intercom", label: "Intercom Number", help: "4 digits" },
    { name: "call_forwarding_number", label: "Call Forwarding Number", nullable: true, help: "E.164, e.g. +447911123456" },
    { name: "alternative_numbers", label: "Alternative Numbers", type: "list" },
    { name: "extension_caller_id", label: "Extension Caller ID", nullable: true },
    { name: "region", label: "Region", help: "country code, e.g. GB" },
    { name: "time_group_id", label: "Time Group", type: "ref", nullable: true,
      options: D.refs.time_groups.map((t) => [t.id, t.name]) },
    { name: "department_ids", label: "Departments", type: "multi", options: D.refs.departments.map((d) => [d.id, d.name]) },
    { name: "sip_username", label: "SIP user name" },
    { name: "sip_password", label: "SIP password", type: "password", omitEmpty: !isNew,
      help: isNew ? "at least 8 characters" : "leave empty to keep" },
    { name: "hold_enabled", label: "Hold button", type: "checkbox" },
    { name: "login_password", label: "Desktop log-in password", type: "password", omitEmpty: true,
      help: "sets the agent's web log-in (username above)" },
  ];
}

function editAgent(row) {
  Forms.open(`Edit agent ${row.name}`, agentFields(false), row, async (body) => {
    await SB.api("PATCH", `/api/agents/${row.id}`, body);
    await loadAgents();
    SB.flash(`Saved ${body.name}`);
  });
}

function addAgent() {
  Forms.open("Add agent", agentFields(true), { region: "GB", hold_enabled: true, alternative_numbers: [] }, async (body) => {
    await SB.api("POST", "/api/agents", body);
    await loadAgents();
    SB.flash(`Added ${body.name}`);
  });
}

// ---------------------------------------------------------------- live events
function onEvent(ev) {
  if (ev.type === "snapshot") {
    D.live = new Map(ev.agents.map((a) => [a.agent_id, a]));
    renderAgents();
    return;
  }
  if (ev.type === "agent_state") {
    const prev = D.live.get(ev.agent_id);
    D.live.set(ev.agent_id, ev);
    const row = D.agents.get(ev.agent_id);
    if (row && ev.from_state === "ringing" && ev.state === "in_call") {
      row.calls_answered += 1;
      if (D.answered) D.answered.counts[String(row.id)] = (D.answered.counts[String(row.id)] || 0) + 1;
    }
    if (row) row.admin_status = ev.admin_status || row.admin_status;
    renderAgent(ev.agent_id);
    if (!prev || prev.call_id !== ev.call_id) scheduleCalls();
    return;
  }
  if (ev.type === "extension_status") {
    D.ext.set(ev.agent_id, ev.status);
    renderAgent(ev.agent_id);
    return;
  }
  if (ev.type === "agent_changed") { loadAgents(); return; }
  if (ev.type === "groups_changed") { loadGroups(); return; }
  if (ev.type === "call_changed") { scheduleCalls(); }
}

function setLive(on) {
  document.getElementById("live-dot").classList.toggle("on", on);
  document.getElementById("live-text").textContent = on ? "live" : "reconnecting…";
  if (on) loadAgents().catch(() => {});
}

// ---------------------------------------------------------------- groups
let groups = [];
async function loadGroups() {
  groups = await SB.api("GET", "/api/agent-groups");
  const body = document.getElementById("groups-body");
  body.innerHTML = groups.length ? groups.map((g) => `<tr data-group-id="${g.id}"><td>${g.id}</td><td>${SB.esc(g.name)}</td>
    <td>${SB.esc(g.description)}</td><td><div class="actions">
    <button class="small" data-gact="view" type="button">View agents</button>
    <button class="small" data-gact="edit" type="button">Edit</button>
    <button class="small danger" data-gact="delete" type="button">Delete</button></div></td></tr>`).join("")
    : `<tr><td colspan="4" class="empty">No agent groups yet.</td></tr>`;
}

function groupFields() {
  return [
    { name: "name", label: "Name" },
    { name: "description", label: "Description" },
    { name: "agent_ids", label: "Agents", type: "multi",
      options: Array.from(D.agents.values()).map((a) => [a.id, `${a.name} (${a.intercom})`]) },
  ];
}

async function groupAction(id, act) {
  const g = groups.find((x) => x.id === id);
  if (act === "view") {
    const dlg = document.getElementById("form-dialog");
    dlg.innerHTML = `<form method="dialog"><h3>Agents in ${SB.esc(g.name)}</h3>` +
      (g.agents.length ? `<table><thead><tr><th>Agent ID</th><th>Name</th><th>Username</th><th>Intercom</th><th>Agent Status</th></tr></thead><tbody>` +
        g.agents.map((a) => { const s = agentStatus(a.id); return `<tr><td>${a.id}</td><td>${SB.esc(a.name)}</td><td>${SB.esc(a.username)}</td><td>${SB.esc(a.intercom)}</td>
          <td><span class="badge ${SB.statusClass(s.display_status)}">${SB.esc(s.display_status)}</span></td></tr>`; }).join("") + "</tbody></table>"
        : `<p class="empty">No agents in this group.</p>`) +
      `<div class="dialog-buttons"><button type="submit">Close</button></div></form>`;
    dlg.showModal();
    return;
  }
  if (act === "edit") {
    Forms.open(`Edit agent group ${g.name}`, groupFields(), g, async (body) => {
      await SB.api("PATCH", `/api/agent-groups/${id}`, body);
      await loadGroups();
      SB.flash(`Saved ${body.name}`);
    });
    return;
  }
  if (act === "delete") {
    if (!confirm(`Delete agent group ${g.name}?`)) return;
    try { await SB.api("DELETE", `/api/agent-groups/${id}`); await loadGroups(); SB.flash(`Deleted ${g.name}`); }
    catch (err) { SB.flash(err.message, true); }
  }
}

// ---------------------------------------------------------------- live calls
let callsTimer = null;
function scheduleCalls() {
  clearTimeout(callsTimer);
  callsTimer = setTimeout(() => loadCalls().catch(() => {}), 150);
}

async function loadCalls() {
  const calls = await SB.api("GET", "/api/calls/live");
  const body = document.getElementById("calls-body");
  body.innerHTML = calls.length ? calls.map((c) => {
    const live = c.agent_id ? agentStatus(c.agent_id) : null;
    const timeline = c.timeline.map((e) => `<li>${new Date(e.at).toLocaleTimeString()} ${SB.esc(e.kind)}</li>`).join("");
    const act = c.agent_id ? `<div class="actions" data-agent-id="${c.agent_id}">
        <button class="small" data-cact="ready" type="button">Ready</button>
        <button class="small" data-cact="not_ready" type="button">Not ready</button>
        <button class="small" data-cact="sign_out" type="button">Sign out</button></div>` : "";
    return `<tr data-call-id="${SB.esc(c.id)}"><td>${new Date(c.started_at).toLocaleTimeString()}</td>
      <td>${SB.esc(c.caller)}${c.caller_name ? `<span class="sub">${SB.esc(c.caller_name)}</span>` : ""}</td>
      <td>${SB.esc(c.inbound_number)}</td><td>${SB.esc(c.department)}</td><td>${SB.esc(c.agent || "—")}</td>
      <td>${live ? `<span class="badge ${SB.statusClass(live.display_status)}">${SB.esc(live.display_status)}</span><span class="sub">${SB.esc(SB.stateLabel(live))}</span>` : "waiting"}</td>
      <td>${SB.esc(c.contact)}</td><td><ul class="timeline">${timeline || "<li>no events yet</li>"}</ul></td><td>${act}</td></tr>`;
  }).join("") : `<tr><td colspan="9" class="empty">No live calls.</td></tr>`;
}

// ---------------------------------------------------------------- configuration (admins)
const RESOURCES = [
  { key: "departments", path: "/api/departments", title: "Departments",
    columns: [["id", "ID"], ["name", "Name"], ["description", "Description"], ["strategy", "Strategy"],
              ["use_as_queue", "Use it as Queue"], ["transfer_code", "Transfer code"], ["hold_enabled", "Hold button"]],
    fields: () => [
      { name: "name", label: "Name" }, { name: "description", label: "Description" },
      { name: "strategy", label: "Strategy", type: "select", options: [["longest_idle", "Longest idle"], ["round_robin", "Round robin"], ["ring_all", "Ring all"], ["fixed_order", "Fixed order"]] },
      { name: "use_as_queue", label: "Use it as Queue", type: "checkbox" },
      { name: "transfer_code", label: "Transfer code", nullable: true, help: "5 digits (#1/#2 + code)" },
      { name: "ring_timeout", label: "Ring timeout (s)", type: "number" },
      { name: "overflow", label: "Overflow", type: "select", options: [["voicemail", "Voicemail"], ["busy", "Busy"], ["hangup", "Hang up"]] },
      { name: "time_group_id", label: "Time group", type: "ref", nullable: true, options: D.refs.time_groups.map((t) => [t.id, t.name]) },
      { name: "hold_enabled", label: "Hold button", type: "checkbox" },
      { name: "ready_after_sign_in", label: "Ready after sign-in", type: "checkbox" }],
    defaults: { strategy: "longest_idle", use_as_queue: true, ring_timeout: 20, overflow: "voicemail", hold_enabled: true } },
  { key: "ivrs", path: "/api/ivrs", title: "IVR transfer codes",
    columns: [["id", "ID"], ["name", "Name"], ["transfer_code", "Transfer code"], ["greeting", "Greeting"], ["timeout", "Timeout"]],
    fields: () => [{ name: "name", label: "Name" }, { name: "transfer_code", label: "Transfer code", nullable: true, help: "5 digits" },
      { name: "greeting", label: "Greeting sound" }, { name: "timeout", label: "Timeout (s)", type: "number" },
      { name: "max_retries", label: "Retries", type: "number" }],
    defaults: { greeting: "demo-congrats", timeout: 8, max_retries: 2 } },
  { key: "time_groups", path: "/api/time-groups", title: "Time groups",
    columns: [["id", "ID"], ["name", "Name"], ["description", "Description"], ["timezone", "Time zone"], ["rules", "Hours"]],
    fields: () => [{ name: "name", label: "Name" }, { name: "description", label: "Description" },
      { name: "timezone", label: "Time zone", help: "IANA, e.g. Europe/London" },
      { name: "rules", label: "Open hours", type: "rules", help: "one line each: weekday start end" }],
    defaults: { timezone: "UTC", rules: [] } },
  { key: "inbound_numbers", path: "/api/inbound-numbers", title: "Inbound numbers",
    columns: [["id", "ID"], ["number", "Number"], ["description", "Description"], ["target_type", "Target"], ["target_id", "Target ID"]],
    fields: () => [{ name: "number", label: "Number", help: "E.164, e.g. +442071838750" }, { name: "description", label: "Description" },
      { name: "target_type", label: "Target type", type: "select", options: [["department", "Department"], ["ivr", "IVR"], ["agent", "Agent"]] },
      { name: "target_id", label: "Target ID", type: "number" },
      { name: "time_group_id", label: "Time group", type: "ref", nullable: true, options: D.refs.time_groups.map((t) => [t.id, t.name]) },
      { name: "closed_action", label: "When closed", type: "select", options: [["hangup", "Hang up"], ["voicemail", "Voicemail"]] }],
    defaults: { target_type: "department", closed_action: "hangup" } },
  { key: "break_codes", path: "/api/break-codes", title: "Break codes",
    columns: [["id", "ID"], ["code", "Code"], ["name", "Name"], ["paid", "Paid"]],
    fields: () => [{ name: "code", label: "Code" }, { name: "name", label: "Name" }, { name: "paid", label: "Paid", type: "checkbox" }],
    defaults: { paid: true } },
  { key: "termination_codes", path: "/api/termination-codes", title: "Termination codes",
    columns: [["id", "ID"], ["code", "Code"], ["name", "Name"], ["department_id", "Department"]],
    fields: () => [{ name: "code", label: "Code" }, { name: "name", label: "Name" },
      { name: "department_id", label: "Department", type: "ref", nullable: true, options: D.refs.departments.map((d) => [d.id, d.name]) }],
    defaults: {} },
];

function cell(value, key) {
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (key === "rules") return (value || []).map((r) => `${["Mon","Tue","Wed","Thu","Fri","Sat","Sun"][r.weekday]} ${r.start}-${r.end}`).join(", ");
  if (key === "department_id") { const d = D.refs.departments.find((x) => x.id === value); return d ? d.name : "All"; }
  return value ?? "";
}

async function loadRefs() {
  const [departments, timeGroups, breakCodes] = await Promise.all([
    SB.api("GET", "/api/departments"), SB.api("GET", "/api/time-groups"), SB.api("GET", "/api/break-codes")]);
  D.refs.departments = departments; D.refs.time_groups = timeGroups; D.refs.break_codes = breakCodes;
}

async function renderAdmin() {
  const panel = document.getElementById("admin-panel");
  const lists = await Promise.all(RESOURCES.map((r) => SB.api("GET", r.path)));
  const clip = await SB.api("GET", "/api/settings/clipboard");
  panel.innerHTML = RESOURCES.map((r, i) => `<section class="panel" data-resource="${r.key}">
    <h2>${SB.esc(r.title)}<span class="spacer"></span><button class="primary small" data-ract="add" type="button">Add</button></h2>
    <table><thead><tr>${r.columns.map(([, l]) => `<th>${SB.esc(l)}</th>`).join("")}<th>Action</th></tr></thead><tbody>` +
    (lists[i].length ? lists[i].map((row) => `<tr data-id="${row.id}">${r.columns.map(([k]) => `<td>${SB.esc(cell(row[k], k))}</td>`).join("")}
      <td><div class="actions"><button class="small" data-ract="edit" type="button">Edit</button>
      <button class="small danger" data-ract="delete" type="button">Delete</button></div></td></tr>`).join("")
      : `<tr><td colspan="${r.columns.length + 1}" class="empty">None yet.</td></tr>`) + `</tbody></table></section>`).join("") +
    `<section class="panel" data-resource="clipboard"><h2>Copy to clipboard: fields<span class="spacer"></span>
      <button class="small" data-ract="clipboard" type="button">Edit</button></h2>
      <p>Everyone: <strong>${SB.esc(clip.global.join(", ") || "(nothing)")}</strong></p>` +
      Object.entries(clip.departments).map(([id, fields]) => { const d = D.refs.departments.find((x) => String(x.id) === id);
        return `<p>${SB.esc(d ? d.name : id)}: <strong>${SB.esc(fields.join(", "))}</strong></p>`; }).join("") + `</section>`;
  panel._lists = lists;
  panel._clip = clip;
}

async function adminAction(section, act, id) {
  const panel = document.getElementById("admin-panel");
  if (section === "clipboard") {
    const clip = panel._clip;
    Forms.open("Copy to clipboard: fields", [
      { name: "department_id", label: "For", type: "ref", nullable: true, options: D.refs.departments.map((d) => [d.id, d.name]),
        help: "(none) = every department without its own list" },
      { name: "fields", label: "Fields", type: "multi", numeric: false, options: clip.available.map((f) => [f, f]) }],
      { fields: clip.global }, async (body) => { await SB.api("PUT", "/api/settings/clipboard", body); await renderAdmin(); SB.flash("Saved"); });
    return;
  }
  const i = RESOURCES.findIndex((r) => r.key === section);
  const r = RESOURCES[i];
  const row = id !== undefined ? panel._lists[i].find((x) => x.id === id) : null;
  const after = async (msg) => { await loadRefs(); await renderAdmin(); SB.flash(msg); };
  if (act === "add") {
    Forms.open(`Add: ${r.title}`, r.fields(), r.defaults, async (body) => { await SB.api("POST", r.path, body); await after("Added"); });
  } else if (act === "edit") {
    Forms.open(`Edit: ${r.title}`, r.fields(), row, async (body) => { await SB.api("PATCH", `${r.path}/${id}`, body); await after("Saved"); });
  } else if (act === "delete") {
    if (!confirm("Delete this record?")) return;
    try { await SB.api("DELETE", `${r.path}/${id}`); await after("Deleted"); } catch (err) { SB.flash(err.message, true); }
  }
}

// ---------------------------------------------------------------- wiring
function showTab(name) {
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll("[data-panel]").forEach((p) => { p.hidden = p.dataset.panel !== name; });
  if (name === "groups") loadGroups();
  if (name === "calls") loadCalls();
  if (name === "admin") renderAdmin();
}

document.addEventListener("DOMContentLoaded", async () => {
  const user = await SB.session();
  D.isAdmin = user.role === "admin";
  document.getElementById("who").textContent = `${user.username} (${user.role})`;
  document.querySelectorAll("[data-admin]").forEach((el) => { el.hidden = !D.isAdmin; });
  document.getElementById("logout").onclick = () => SB.logout();
  document.getElementById("tabs").onclick = (ev) => { if (ev.target.dataset.tab) showTab(ev.target.dataset.tab); };
  document.getElementById("answered-refresh").onclick = () => refreshAnswered().catch((e) => SB.flash(e.message, true));
  document.getElementById("add-agent").onclick = () => addAgent();
  document.getElementById("add-group").onclick = () => Forms.open("Add New Agent Group", groupFields(), {}, async (body) => {
    await SB.api("POST", "/api/agent-groups", body); await loadGroups(); SB.flash(`Added ${body.name}`); });
  document.getElementById("calls-refresh").onclick = () => loadCalls();
  document.getElementById("agents-body").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-act]");
    if (btn) agentAction(Number(btn.closest("tr").dataset.agentId), btn.dataset.act);
  });
  document.getElementById("agents-body").addEventListener("change", (ev) => {
    if (ev.target.dataset.act === "state") agentAction(Number(ev.target.closest("tr").dataset.agentId), "state", ev.target.value);
  });
  document.getElementById("groups-body").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-gact]");
    if (btn) groupAction(Number(btn.closest("tr").dataset.groupId), btn.dataset.gact);
  });
  document.getElementById("calls-body").addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button[data-cact]");
    if (!btn) return;
    try { await SB.api("POST", `/api/agents/${btn.parentElement.dataset.agentId}/state`, { action: btn.dataset.cact }); }
    catch (err) { SB.flash(err.message, true); }
  });
  document.getElementById("admin-panel").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-ract]");
    if (!btn) return;
    const section = btn.closest("[data-resource]").dataset.resource;
    const tr = btn.closest("tr");
    adminAction(section, btn.dataset.ract, tr ? Number(tr.dataset.id) : undefined);
  });
  await loadRefs();
  await loadAgents();
  SB.live(onEvent, setLive);
  setInterval(() => { if (!document.querySelector('[data-panel="calls"]').hidden) loadCalls().catch(() => {}); }, 5000);
});
