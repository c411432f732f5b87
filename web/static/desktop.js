// The agent desktop: status drop-down, call timer, screen pop, Multi-Match, association,
// copy to clipboard, wrap-up. Call controls are drawn from the call's capabilities: Hold /
// Resume: POST /api/calls/{id}/hold|resume (absent when a manager disabled hold). A second call waiting (call waiting) shows with an Answer
// button (POST /api/calls/{id}/answer-waiting), updated live from `call_waiting`,
// `call_waiting_ended` and `call_hold` events.
"use strict";
const A = { me: null, data: null, live: null, timer: null, lastCall: null };
const STATE_NAMES = { offline: "Signed out", ready: "Ready", not_ready: "Not ready", ringing: "Ringing",
                      in_call: "In call", wrap_up: "Wrap-up" };

function badgeClass(state) {
  return { ready: "status-active", not_ready: "status-disabled", ringing: "status-busy", in_call: "status-busy",
           wrap_up: "status-busy", offline: "status-offline" }[state] || "status-offline";
}

function renderStatus() {
  const live = A.live, d = A.data;
  const sel = document.getElementById("status-select");
  const opts = [];
  if (live.state === "offline") {
    opts.push(["", "Signed out"]);
    for (const dep of d.agent.departments) opts.push(["sign_in:" + dep.id, "Sign in: " + dep.name]);
  } else if (["ringing", "in_call", "wrap_up"].includes(live.state)) {
    opts.push(["", STATE_NAMES[live.state]]);
  } else {
    opts.push(["ready", "Ready"]);
    opts.push(["not_ready:", "Not ready"]);
    for (const b of d.break_codes) opts.push(["not_ready:" + b.code, b.name]);
    opts.push(["sign_out", "Sign out"]);
  }
  sel.innerHTML = opts.map(([v, l]) => `<option value="${SB.esc(v)}">${SB.esc(l)}</option>`).join("");
  sel.disabled = ["ringing", "in_call", "wrap_up"].includes(live.state);
  sel.value = live.state === "ready" ? "ready" : live.state === "not_ready" ? "not_ready:" + (live.break_code || "") : "";
  const badge = document.getElementById("status-badge");
  badge.className = "badge " + badgeClass(live.state);
  let label = STATE_NAMES[live.state] || live.state;
  if (live.state === "not_ready" && live.break_code) {
    const b = d.break_codes.find((x) => x.code === live.break_code);
    label += ": " + (b ? b.name : live.break_code);
  }
  badge.textContent = label;
  const dep = d.agent.departments.find((x) => x.id === live.department_id);
  document.getElementById("service").textContent = dep ? "Service: " + dep.name : "";
  // The timer shows only while on a call.
  const timer = document.getElementById("call-timer");
  clearInterval(A.timer);
  if (live.state === "in_call" && live.since) {
    const start = new Date(live.since).getTime();
    const tick = () => {
      const s = Math.max(0, Math.floor((Date.now() - start) / 1000));
      timer.textContent = `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
    };
    tick();
    A.timer = setInterval(tick, 1000);
    timer.hidden = false;
  } else {
    timer.hidden = true;
  }
}

function renderPop() {
  const call = A.data.call;
  const body = document.getElementById("pop-body");
  const controls = document.getElementById("controls-panel");
  const wrap = document.getElementById("wrapup-panel");
  const assoc = document.getElementById("assoc-panel");
  if (!call) {
    body.innerHTML = `<p class="empty">No call. ${A.live.state === "ready" ? "Waiting for a call…" : "Select Ready to take calls."}</p>`;
    controls.hidden = wrap.hidden = assoc.hidden = true;
    return;
  }
  const f = call.fields;
  const rows = [
    ["Status", STATE_NAMES[call.agent_status] || call.agent_status], ["Service", call.service || "—"],
    ["Customer", [f.first_name, f.last_name].filter(Boolean).join(" ") || "—"],
    ["Account number", f.account_number || "—"], ["Phone number", f.phone_number],
    ["Caller name", f.caller_name || "—"], ["Inbound number", f.inbound_number || "—"],
    ["Inbound number description", f.inbound_number_description, "INBOUND_NUMBER_DESCRIPTION"],
  ];
  let html = `<dl>${rows.map(([k, v, key]) => `<dt>${SB.esc(k)}</dt><dd data-pop="${SB.esc(key || k)}">${SB.esc(v)}</dd>`).join("")}</dl>`;
  if (call.multi_match.length) {
    html += `<h3>Multi-Match</h3><p class="muted">Several contacts share this number: choose the caller.</p>
      <table id="multi-match"><thead><tr><th>Contact ID</th><th>First name</th><th>Last name</th><th></th></tr></thead><tbody>` +
      call.multi_match.map((c) => `<tr><td>${SB.esc(c.account_number)}</td><td>${SB.esc(c.first_name)}</td><td>${SB.esc(c.last_name)}</td>
        <td>${call.contact && call.contact.id === c.id ? "<strong>selected</strong>" :
          `<button class="small" data-choose="${SB.esc(c.account_number)}" type="button">Select</button>`}</td></tr>`).join("") + "</tbody></table>";
  }
  html += `<div class="toolbar" style="margin-top:14px"><button id="copy-button" type="button" ${call.clipboard_fields.length ? "" : "disabled"}>Copy to clipboard</button>
    <span class="muted">${call.clipboard_fields.length ? "copies: " + SB.esc(call.clipboard_fields.map((n) => call.labels[n]).join(", ")) : "your manager has chosen no fields"}</span></div>`;
  if (!call.known) html += `<p class="note">The engine has no call record for this call yet: caller details are not known.</p>`;
  body.innerHTML = html;
  // Call controls, from the call's capabilities (Hold is absent when disabled for the service).
  controls.hidden = call.agent_status !== "in_call";
  document.getElementById("controls").innerHTML = call.capabilities.map((c) => {
    const held = c.name === "hold" && call.on_hold;
    const label = c.name === "hold" ? (held ? "Resume" : "Hold") : c.label;
    return `<button type="button" data-cap="${SB.esc(c.name)}" ${c.available ? "" : "disabled"} class="${held ? "on-hold" : ""}"
      aria-pressed="${held ? "true" : "false"}" title="${SB.esc(c.reason || "")}">${SB.esc(label)}</button>`;
  }).join("");
  document.getElementById("controls-note").textContent = call.call_control_note;
  // Wrap-up.
  wrap.hidden = call.agent_status !== "wrap_up";
  document.getElementById("termination-code").innerHTML = `<option value="">Choose…</option>` +
    call.termination_codes.map((t) => `<option value="${SB.esc(t.code)}">${SB.esc(t.name)}</option>`).join("");
  document.getElementById("after-wrapup").innerHTML = `<option value="ready">Ready</option>` +
    A.data.break_codes.map((b) => `<option value="${SB.esc(b.code)}">Not ready: ${SB.esc(b.name)}</option>`).join("");
  assoc.hidden = !["in_call", "ringing"].includes(call.agent_status);
  document.getElementById("assoc-button").textContent = call.contact ? "Re-associate" : "Associate";
}

function callerLine(c) {
  return c.caller_name || (c.caller_display === "Unknown" ? "Unknown" : "Caller");
}

// The second call waiting for me, and the call I put on hold to answer one.
function renderWaiting() {
  const w = A.data.waiting_call, h = A.data.held_call;
  const wp = document.getElementById("waiting-panel");
  wp.hidden = !w;
  if (w) {
    document.getElementById("waiting-caller").textContent = callerLine(w);
    document.getElementById("waiting-number").textContent = w.caller_display || "";
    document.getElementById("answer-waiting").disabled = false;
  }
  document.getElementById("held-panel").hidden = !h;
  if (h) {
    document.getElementById("held-caller").textContent = callerLine(h);
    document.getElementById("held-number").textContent = h.caller_display || "";
  }
}

async function load() {
  A.data = await SB.api("GET", `/api/agents/${A.me.agent_id}/desktop`);
  A.live = A.data.live;
  document.getElementById("who").textContent = `${A.data.agent.name} · ${A.data.agent.intercom}`;
  renderStatus();
  renderPop();
  renderWaiting();
}

async function toggleHold(button) {
  const call = A.data && A.data.call;
  const err = document.getElementById("controls-error");
  err.textContent = "";
  if (!call) return;
  button.disabled = true;
  const action = call.on_hold ? "resume" : "hold";
  try {
    const res = await SB.api("POST", `/api/calls/${encodeURIComponent(call.call_id)}/${action}`);
    call.on_hold = !!res.held;
    renderPop();
  } catch (e) {
    err.textContent = e.message;
    button.disabled = false;
    if (e.code === "already_on_hold" || e.code === "not_on_hold") load().catch(() => {});
  }
}

async function answerWaiting() {
  const w = A.data && A.data.waiting_call;
  const err = document.getElementById("waiting-error");
  err.textContent = "";
  if (!w) return;
  const button = document.getElementById("answer-waiting");
  button.disabled = true;
  try {
    await SB.api("POST", `/api/calls/${encodeURIComponent(w.call_id)}/answer-waiting`);
    await load();
  } catch (e) {
    err.textContent = e.message;
    load().catch(() => {});
  }
}

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.15);
  } catch (e) { /* audio not allowed: the screen pop still shows */ }
}

function onEvent(ev) {
  if (ev.type === "snapshot") {
    if (ev.agents.length && A.data) { A.live = ev.agents[0]; renderStatus(); }
    return;
  }
  if (ev.type === "agent_state") {
    const callChanged = !A.live || A.live.call_id !== ev.call_id || A.live.state !== ev.state;
    if (ev.state === "in_call" && (!A.live || A.live.state !== "in_call")) beep();
    A.live = ev;
    if (A.data) renderStatus();
    if (callChanged) load().catch((e) => SB.flash(e.message, true));
    return;
  }
  if (ev.type === "call_hold") {
    const call = A.data && A.data.call;
    if (call && call.call_id === ev.call_id && !ev.refused) { call.on_hold = !!ev.held; renderPop(); }
    if (ev.refused) SB.flash("Hold is disabled: " + ev.refused, true);
    return;
  }
  if (ev.type === "call_waiting" || ev.type === "call_waiting_ended" || ev.type === "call_changed") {
    load().catch(() => {});
  }
}

async function associate(account) {
  const err = document.getElementById("assoc-error");
  err.textContent = "";
  try {
    await SB.api("POST", `/api/calls/${encodeURIComponent(A.data.call.call_id)}/contact`, { account_number: account });
    await load();
    SB.flash(`Associated with ${account}`);
  } catch (e) {
    err.textContent = e.message;
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  A.me = await SB.session();
  document.getElementById("logout").onclick = () => SB.logout();
  document.getElementById("status-select").onchange = async (ev) => {
    const [action, arg] = ev.target.value.split(":");
    if (!action) return;
    const body = { action };
    if (action === "not_ready") body.break_code = arg || null;
    if (action === "sign_in") body.department_id = Number(arg);
    try { A.live = await SB.api("POST", `/api/agents/${A.me.agent_id}/state`, body); renderStatus(); }
    catch (e) { SB.flash(e.message, true); renderStatus(); }
  };
  document.getElementById("pop-body").addEventListener("click", async (ev) => {
    const choose = ev.target.closest("[data-choose]");
    if (choose) associate(choose.dataset.choose);
    if (ev.target.id === "copy-button") {
      try { await navigator.clipboard.writeText(A.data.call.clipboard_text); SB.flash("Copied to the clipboard"); }
      catch (e) { SB.flash("The browser refused clipboard access: allow it for this site", true); }
    }
  });
  document.getElementById("controls").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-cap=hold]");
    if (button && !button.disabled) toggleHold(button);
  });
  document.getElementById("answer-waiting").onclick = () => answerWaiting();
  document.getElementById("assoc-button").onclick = () => {
    const account = document.getElementById("assoc-account").value.trim();
    if (!account) { document.getElementById("assoc-error").textContent = "Enter a contact ID"; return; }
    associate(account);
  };
  document.getElementById("termination-code").onchange = () => { document.getElementById("wrapup-error").textContent = ""; };
  document.getElementById("finish-wrapup").onclick = async () => {
    const code = document.getElementById("termination-code").value;
    const after = document.getElementById("after-wrapup").value;
    const err = document.getElementById("wrapup-error");
    err.textContent = "";
    if (!code) { err.textContent = "Choose a termination code"; return; }
    const body = { termination_code: code, ready: after === "ready" };
    if (after !== "ready") body.break_code = after;
    try { await SB.api("POST", `/api/agents/${A.me.agent_id}/wrap-up`, body); await load(); }
    catch (e) { err.textContent = e.message; }
  };
  await load();
  SB.live(onEvent, (on) => {
    document.getElementById("live-dot").classList.toggle("on", on);
    document.getElementById("live-text").textContent = on ? "live" : "reconnecting…";
  });
});
