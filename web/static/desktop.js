// The agent desktop: status drop-down, call timer, screen pop, Multi-Match, association,
// copy to clipboard, wrap-up. Call controls are drawn from the call's capabilities (each
// available or not, with the reason, as the engine will accept it):
// - Hold / Resume: POST /api/calls/{id}/hold|resume (absent when a manager disabled hold).
// - Transfer (blind) and Consult (attended): an inline form to pick the target (an agent
//   with their live state from /api/calls/{id}/transfer-targets, only Ready ones
//   selectable, or a typed intercom; an external number; a department / IVR transfer
//   code with the queue choice), then POST /api/calls/{id}/transfers.
// - While a consultation is on: its state (ringing / talking to / conference) with
//   Complete, Conference and Cancel; restored after a reload from the current-call
//   resource (`transfer`), followed live from `transfer` events.
// - Hang up: POST /api/calls/{id}/hangup; the agent goes to wrap-up as when a caller hangs up.
// A second call waiting (call waiting) shows with an Answer button
// (POST /api/calls/{id}/answer-waiting), updated live from `call_waiting`,
// `call_waiting_ended` and `call_hold` events.
"use strict";
const A = { me: null, data: null, live: null, timer: null, lastCall: null, loading: null, reloadAgain: false,
            hangingUp: null };
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
    closeTransferForm();
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
  controls.hidden = call.agent_status !== "in_call";
  renderControls();
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

// One load at a time: a load asked for while one runs runs once more afterwards, so an
// older answer can never overwrite a newer one (events can arrive in quick bursts).
function load() {
  if (A.loading) { A.reloadAgain = true; return A.loading; }
  A.loading = (async () => {
    try {
      do { A.reloadAgain = false; await loadOnce(); } while (A.reloadAgain);
    } finally { A.loading = null; }
  })();
  return A.loading;
}

async function loadOnce() {
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

// ---- call controls: transfer, consult, conference, hang-up ----------------------------------
// The form and the panel are drawn from A.data.call (`capabilities`, `transfer`) and A.xfer;
// after every request or `transfer` event the desktop reloads, so what it shows is always
// what the engine last said.
const TRANSFER_CAPS = ["blind_transfer", "attended_transfer", "conference"];
const FAIL_REASONS = { busy: "busy", no_answer: "no answer", hangup: "hung up", declined: "declined",
                       failed: "could not be reached" };
const TARGETS_REFRESH_MS = 4000;  // the picker's agent states, while the form is open
const HANGUP_PATIENCE_MS = 10000;
// labels: how the agent reads a transfer's target, by "id:<transfer id>" and "to:<value>" (the
// intercom, E.164 number or code events carry), so event messages can name it.
A.xfer = { flow: null, callId: null, kind: "agent", targets: null, poll: null, busy: false, notice: null,
           labels: {}, pendingLabel: null, shownCallId: null };

function rememberLabel(transferId, value, label) {
  if (transferId) A.xfer.labels["id:" + transferId] = label;
  if (value) A.xfer.labels["to:" + value] = label;
}

function capitalised(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// The transfer the desktop shows a panel for: a consultation (attended) or a conference on
// the call I am In Call on. A blind transfer has no panel: I leave the call at once.
function shownTransfer(call) {
  const t = call && call.agent_status === "in_call" ? call.transfer : null;
  return t && (t.flow === "attended" || t.state === "conference") ? t : null;
}

function renderControls() {
  const call = A.data && A.data.call;
  if (!call) return;
  const t = shownTransfer(call);
  if (t) rememberLabel(t.id, t.target.value, t.target.label || t.target.value);
  if (A.hangingUp && (A.hangingUp !== call.call_id || call.agent_status !== "in_call")) A.hangingUp = null;
  if (A.xfer.flow && (t || A.xfer.callId !== call.call_id || call.agent_status !== "in_call")) closeTransferForm();
  if (A.xfer.notice && A.xfer.notice.callId !== call.call_id) A.xfer.notice = null;
  if (A.xfer.shownCallId !== call.call_id) {  // a new call: the last call's errors do not apply
    A.xfer.shownCallId = call.call_id;
    for (const id of ["controls-error", "xfer-panel-error"]) document.getElementById(id).textContent = "";
  }
  // While a consultation is on, its own panel carries Complete / Conference / Cancel.
  const caps = call.capabilities.filter((c) => !(t && TRANSFER_CAPS.includes(c.name)));
  document.getElementById("controls").innerHTML = caps.map((c) => controlButton(call, c)).join("");
  document.getElementById("controls-note").textContent = call.call_control_note;
  renderTransferPanel(call, t);
  const notice = document.getElementById("transfer-notice");
  notice.hidden = !A.xfer.notice;
  if (A.xfer.notice) {
    notice.textContent = A.xfer.notice.text;
    notice.className = "notice" + (A.xfer.notice.error ? " error" : "");
  }
}

function controlButton(call, c) {
  const held = c.name === "hold" && call.on_hold;
  const flow = { blind_transfer: "blind", attended_transfer: "attended" }[c.name];
  const pressed = held || (flow !== undefined && A.xfer.flow === flow);
  const hanging = c.name === "hangup" && A.hangingUp === call.call_id;
  const label = c.name === "hold" ? (held ? "Resume" : "Hold") : hanging ? "Hanging up…" : c.label;
  const classes = [held ? "on-hold" : "", c.name === "hangup" ? "hangup" : ""].join(" ").trim();
  return `<button type="button" data-cap="${SB.esc(c.name)}" ${c.available && !hanging ? "" : "disabled"}
    class="${classes}" aria-pressed="${pressed ? "true" : "false"}"
    title="${SB.esc(c.reason || c.hint || "")}">${SB.esc(label)}</button>`;
}

function renderTransferPanel(call, t) {
  const panel = document.getElementById("transfer-panel");
  panel.hidden = !t;
  if (!t) return;
  const who = t.target.label || t.target.value;
  const phase = document.getElementById("xfer-phase");
  const mine = t.role === "transferring";
  const view = {
    ringing: ["Ringing", "status-busy", `Ringing ${who}…`,
              "The caller is on hold, hearing music. Cancel takes you back to the caller."],
    consulting: ["Consulting", "status-active", `Talking to ${who}`,
                 `The caller is on hold. Complete hands the caller to ${who}; Conference brings the three of you ` +
                 "together; Cancel takes you back to the caller. Hanging up also completes the transfer."],
    conference: ["Conference", "status-active", `You, the caller and ${who}`,
                 `Hang up to leave: the caller stays with ${who}.`],
  }[t.state] || [t.state, "status-offline", who, ""];
  phase.textContent = view[0];
  phase.className = "badge " + view[1];
  document.getElementById("xfer-status").textContent = mine ? view[2]
    : t.state === "conference" ? `Conference with ${t.by} and the caller` : `${t.by} is transferring this call to you`;
  document.getElementById("xfer-hint").textContent = mine ? view[3]
    : `${t.by} controls the call until the transfer completes. To leave, hang up on your phone.`;
  document.getElementById("xfer-actions").hidden = !mine || t.state === "conference";
  const complete = document.getElementById("xfer-complete"), merge = document.getElementById("xfer-merge");
  const waiting = t.state !== "consulting" ? "the recipient has not answered yet" : "";
  complete.disabled = merge.disabled = A.xfer.busy || !!waiting;
  complete.title = merge.title = waiting;
  document.getElementById("xfer-cancel").disabled = A.xfer.busy;
}

function setNotice(text, error) {
  const call = A.data && A.data.call;
  A.xfer.notice = text && call ? { text, error: !!error, callId: call.call_id } : null;
  renderControls();
}

// -- the form ---------------------------------------------------------------------------
function toggleTransferForm(flow) {
  if (A.xfer.flow === flow) closeTransferForm();
  else openTransferForm(flow);
  renderControls();
}

function openTransferForm(flow) {
  const call = A.data.call;
  closeTransferForm();
  A.xfer.flow = flow;
  A.xfer.callId = call.call_id;
  if (flow === "attended" && A.xfer.kind === "code") A.xfer.kind = "agent";
  A.xfer.notice = null;
  document.getElementById("controls-error").textContent = "";
  document.getElementById("xfer-error").textContent = "";
  for (const id of ["xfer-intercom", "xfer-number", "xfer-code"]) document.getElementById(id).value = "";
  document.getElementById("xfer-queue").checked = true;
  document.getElementById("transfer-form").hidden = false;
  renderTransferForm();
  loadTargets();
  A.xfer.poll = setInterval(loadTargets, TARGETS_REFRESH_MS);
  focusTarget();
}

function closeTransferForm() {
  clearInterval(A.xfer.poll);
  A.xfer.poll = null;
  A.xfer.flow = null;
  A.xfer.targets = null;
  document.getElementById("transfer-form").hidden = true;
}

function focusTarget() {
  const id = { agent: "xfer-intercom", external: "xfer-number", code: "xfer-code" }[A.xfer.kind];
  const input = document.getElementById(id);
  if (!input.disabled) input.focus();
}

async function loadTargets() {
  const callId = A.xfer.callId;
  try {
    const targets = await SB.api("GET", `/api/calls/${encodeURIComponent(callId)}/transfer-targets`);
    // Redraw only on a change: a redraw every few seconds would take the keyboard focus away.
    if (A.xfer.flow && A.xfer.callId === callId && JSON.stringify(targets) !== JSON.stringify(A.xfer.targets)) {
      A.xfer.targets = targets;
      renderTargets();
    }
  } catch (e) {
    if (A.xfer.flow) document.getElementById("xfer-error").textContent = e.message;
  }
}

function renderTransferForm() {
  const flow = A.xfer.flow, attended = flow === "attended";
  document.getElementById("xfer-title").textContent = attended
    ? "Consult: talk to the recipient first, the caller waits on hold"
    : "Transfer: hand the caller over now (blind)";
  document.getElementById("xfer-kind-code").hidden = attended;  // a consultation is with a person
  for (const radio of document.querySelectorAll("input[name=xfer-kind]")) radio.checked = radio.value === A.xfer.kind;
  for (const kind of ["agent", "external", "code"]) {
    document.getElementById("xfer-pane-" + kind).hidden = kind !== A.xfer.kind;
  }
  const submit = document.getElementById("xfer-submit");
  submit.textContent = attended ? "Call to consult" : "Transfer now";
  renderTargets();
}

function stateBadge(agent) {
  const cls = { ready: "status-active", ringing: "status-busy", in_call: "status-busy", wrap_up: "status-busy",
                not_ready: "status-disabled", offline: "status-offline" }[agent.state] || "status-offline";
  const blocked = agent.state_label === "Blocked" ? "status-blocked" : agent.state_label === "Disabled" ? "status-disabled" : cls;
  return `<span class="badge ${blocked}">${SB.esc(agent.state_label)}</span>`;
}

// Typing filters the list (by intercom or name); a full intercom shows everyone, marked.
function matches(query, ...fields) {
  const q = query.trim().toLowerCase();
  return !q || fields.some((f) => String(f).toLowerCase().includes(q));
}

function renderTargets() {
  const t = A.xfer.targets;
  const agentsBox = document.getElementById("xfer-agents"), codesBox = document.getElementById("xfer-codes");
  if (!t) {
    agentsBox.innerHTML = codesBox.innerHTML = `<p class="pick-empty">Loading…</p>`;
    document.getElementById("xfer-submit").disabled = A.xfer.busy;
    return;
  }
  const typed = document.getElementById("xfer-intercom").value.trim();
  const whole = /^\d{4}$/.test(typed) ? "" : typed;
  const agents = t.agents.filter((a) => matches(whole, a.intercom, a.name));
  agentsBox.innerHTML = agents.length ? agents.map((a) => `<button type="button" class="pick" role="option"
      data-intercom="${SB.esc(a.intercom)}" aria-selected="${a.intercom === typed}" ${a.selectable ? "" : "disabled"}
      title="${SB.esc(a.selectable ? "Select " + a.name : a.name + " is " + a.state_label.toLowerCase() + ": only Ready agents can take a transfer")}">
      <span class="pick-main">${SB.esc(a.name)}</span><span class="pick-sub">${SB.esc(a.intercom)}</span>${stateBadge(a)}</button>`).join("")
    : `<p class="pick-empty">No agent matches “${SB.esc(typed)}”. You can still type a 4-digit intercom number.</p>`;
  const code = document.getElementById("xfer-code").value.trim();
  const wholeCode = /^\d{5}$/.test(code) ? "" : code;
  const codes = t.codes.filter((c) => matches(wholeCode, c.code, c.name));
  codesBox.innerHTML = codes.length ? codes.map((c) => `<button type="button" class="pick" role="option"
      data-code="${SB.esc(c.code)}" aria-selected="${c.code === code}">
      <span class="pick-main">${SB.esc(c.name)}</span><span class="pick-sub">${SB.esc(c.code)}</span>
      <span class="tag">${c.kind === "ivr" ? "IVR" : "Department"}</span></button>`).join("")
    : `<p class="pick-empty">No department or IVR matches “${SB.esc(code)}”.</p>`;
  const ivr = t.codes.find((c) => c.code === code && c.kind === "ivr");
  const queue = document.getElementById("xfer-queue");
  queue.disabled = !!ivr;  // an IVR asks the caller again: there is no queue to choose
  queue.closest("label").title = ivr ? "an IVR target asks the caller to choose again: no queue choice" : "";
  const number = document.getElementById("xfer-number");
  number.disabled = !t.external.available;
  document.getElementById("xfer-external-help").textContent = t.external.available
    ? "A national number (your region) or one in international format with +."
    : `Not available on this call: ${t.external.reason}.`;
  document.getElementById("xfer-external-help").classList.toggle("error-text", !t.external.available);
  document.getElementById("xfer-submit").disabled = A.xfer.busy || (A.xfer.kind === "external" && !t.external.available);
}

// The target the form describes, or an Error saying what is missing.
function formTarget() {
  const kind = A.xfer.kind;
  if (kind === "agent") {
    const typed = document.getElementById("xfer-intercom").value.trim();
    if (/^\d{4}$/.test(typed)) return { intercom: typed };
    const ready = ((A.xfer.targets && A.xfer.targets.agents) || []).filter((a) => a.selectable && matches(typed, a.intercom, a.name));
    if (typed && ready.length === 1) return { intercom: ready[0].intercom };
    throw new Error(typed ? `No single Ready agent matches “${typed}”: pick one from the list or type a 4-digit intercom number`
                          : "Pick a Ready agent from the list or type their 4-digit intercom number");
  }
  if (kind === "external") {
    const number = document.getElementById("xfer-number").value.trim();
    if (!number) throw new Error("Type the number to transfer to");
    return { number };
  }
  const code = document.getElementById("xfer-code").value.trim();
  if (!/^\d{5}$/.test(code)) throw new Error("A transfer code has 5 digits: pick a department or IVR, or type its code");
  return { code, queue: document.getElementById("xfer-queue").checked };
}

function targetLabel(target) {
  const t = A.xfer.targets;
  if (target.intercom) {
    const a = t && t.agents.find((x) => x.intercom === target.intercom);
    return a ? `${a.name} (${a.intercom})` : `intercom ${target.intercom}`;
  }
  if (target.code) {
    const c = t && t.codes.find((x) => x.code === target.code);
    return c ? `${c.name} (${c.code})` : `transfer code ${target.code}`;
  }
  return target.number;
}

async function submitTransfer(ev) {
  ev.preventDefault();
  const call = A.data && A.data.call, flow = A.xfer.flow;
  const err = document.getElementById("xfer-error");
  err.textContent = "";
  if (!call || !flow || A.xfer.busy) return;
  let target;
  try { target = formTarget(); } catch (e) { err.textContent = e.message; focusTarget(); return; }
  A.xfer.busy = true;
  renderTransferForm();
  let res;
  A.xfer.pendingLabel = targetLabel(target);  // its events may arrive before the answer
  try {
    res = await SB.api("POST", `/api/calls/${encodeURIComponent(call.call_id)}/transfers`, { flow, target });
  } catch (e) {
    err.textContent = capitalised(e.message);
    if (e.code === "agent_unavailable") loadTargets();
    return;
  } finally {
    A.xfer.busy = false;
    A.xfer.pendingLabel = null;
    if (A.xfer.flow) renderTransferForm();
  }
  rememberLabel(res.id, res.target.value, targetLabel(target));
  closeTransferForm();
  setNotice(null);
  await load().catch(() => {});
}

function wireTransferForm() {
  const form = document.getElementById("transfer-form");
  form.addEventListener("submit", submitTransfer);
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { closeTransferForm(); renderControls(); }
  });
  document.getElementById("xfer-close").onclick = () => { closeTransferForm(); renderControls(); };
  for (const radio of document.querySelectorAll("input[name=xfer-kind]")) {
    radio.onchange = () => {
      A.xfer.kind = radio.value;
      document.getElementById("xfer-error").textContent = "";
      renderTransferForm();
      focusTarget();
    };
  }
  for (const id of ["xfer-intercom", "xfer-code"]) {
    document.getElementById(id).addEventListener("input", () => {
      document.getElementById("xfer-error").textContent = "";
      renderTargets();
    });
  }
  document.getElementById("xfer-agents").addEventListener("click", (ev) => {
    const pick = ev.target.closest("button[data-intercom]");
    if (!pick || pick.disabled) return;
    document.getElementById("xfer-intercom").value = pick.dataset.intercom;
    document.getElementById("xfer-error").textContent = "";
    renderTargets();
  });
  document.getElementById("xfer-codes").addEventListener("click", (ev) => {
    const pick = ev.target.closest("button[data-code]");
    if (!pick) return;
    document.getElementById("xfer-code").value = pick.dataset.code;
    document.getElementById("xfer-error").textContent = "";
    renderTargets();
  });
  document.getElementById("xfer-complete").onclick = () => transferAction("complete");
  document.getElementById("xfer-merge").onclick = () => transferAction("merge");
  document.getElementById("xfer-cancel").onclick = () => transferAction("cancel");
}

// -- an active consultation: complete, conference, cancel ------------------------------------
async function transferAction(action) {
  const call = A.data && A.data.call, t = call && call.transfer;
  const err = document.getElementById(t ? "xfer-panel-error" : "controls-error");
  err.textContent = "";
  if (!call || A.xfer.busy) return;
  const base = `/api/calls/${encodeURIComponent(call.call_id)}`;
  const path = action === "merge" ? `${base}/conference` : `${base}/transfers/${encodeURIComponent(t ? t.id : "")}/${action}`;
  A.xfer.busy = true;
  renderControls();
  try {
    await SB.api("POST", path);
    A.xfer.busy = false;
    if (action === "cancel") setNotice("Transfer cancelled: you are back with the caller.");
  } catch (e) {
    err.textContent = capitalised(e.message);
  } finally {
    A.xfer.busy = false;
  }
  await load().catch(() => {});
  renderControls();
}

// -- hang-up ---------------------------------------------------------------------------------
async function hangUp() {
  const call = A.data && A.data.call;
  const err = document.getElementById("controls-error");
  err.textContent = "";
  if (!call || A.hangingUp) return;
  A.hangingUp = call.call_id;
  renderControls();
  try {
    await SB.api("POST", `/api/calls/${encodeURIComponent(call.call_id)}/hangup`);
    // The agent_state event (wrap-up) follows; if the call is somehow still up, say so.
    setTimeout(() => {
      const now = A.data && A.data.call;
      if (A.hangingUp === call.call_id && now && now.call_id === call.call_id && now.agent_status === "in_call") {
        A.hangingUp = null;
        renderControls();
        document.getElementById("controls-error").textContent = "The call is still up: try again, or hang up on your phone.";
      }
    }, HANGUP_PATIENCE_MS);
  } catch (e) {
    A.hangingUp = null;
    err.textContent = capitalised(e.message);
    renderControls();
  }
}

// -- `transfer` events (engine/features/transfers.py, one per timeline entry) -----------------
function onTransferEvent(ev) {
  const call = A.data && A.data.call;
  if (!call || call.call_id !== ev.call_id) return;
  if (ev.kind === "transfer_started" && A.xfer.pendingLabel) rememberLabel(ev.transfer_id, ev.to, A.xfer.pendingLabel);
  const who = A.xfer.labels["id:" + ev.transfer_id] || A.xfer.labels["to:" + ev.to] || ev.to || "the recipient";
  const attended = ev.flow === "attended";
  switch (ev.kind) {
    case "transfer_started":
      A.xfer.notice = null;
      if (!attended) SB.flash(`Transferring the call to ${who}`);
      break;
    case "conference_started":
      A.xfer.notice = null;
      break;
    case "transfer_failed": {
      const why = FAIL_REASONS[ev.reason] || ev.reason || "failed";
      if (attended) setNotice(`Transfer to ${who} failed: ${why}. You are back with the caller.`, true);
      else SB.flash(`Transfer to ${who} failed: ${why}. The call went back to its department.`, true);
      break;
    }
    case "transfer_cancelled":
      setNotice("Transfer cancelled: you are back with the caller.");
      break;
    case "transfer_completed":
      SB.flash(`Call transferred to ${who}`);
      break;
    case "conference_ended":
      if (ev.left === "recipient") setNotice(`${capitalised(who)} left the conference: you are back with the caller.`);
      break;
    case "transfer_caller_left":
      SB.flash("The caller hung up during the transfer.", true);
      break;
    default:
      break;
  }
  load().catch(() => {});
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
  if (ev.type === "transfer") {
    onTransferEvent(ev);
    return;
  }
  if (ev.type === "screen_pop") {
    // The engine pushes the pop once the call's history is written. A desktop that loaded
    // before then (or is loading now) shows "no call record yet": this is when it can show
    // the caller. A load in flight runs once more (see load()), so it cannot miss this.
    const call = A.data && A.data.call;
    if (A.loading || !call || call.call_id !== ev.call_id || !call.known) load().catch(() => {});
    return;
  }
  if (ev.type === "call") {  // the call changed hands (a transfer to me completed)
    const call = A.data && A.data.call;
    if (call && call.call_id === ev.call_id) load().catch(() => {});
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
    const button = ev.target.closest("button[data-cap]");
    if (!button || button.disabled) return;
    const cap = button.dataset.cap;
    if (cap === "hold") toggleHold(button);
    else if (cap === "blind_transfer") toggleTransferForm("blind");
    else if (cap === "attended_transfer") toggleTransferForm("attended");
    else if (cap === "conference") transferAction("merge");
    else if (cap === "hangup") hangUp();
  });
  wireTransferForm();
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
