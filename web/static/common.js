// Shared helpers: the API (session cookie + CSRF header), the live websocket, small DOM tools.
"use strict";
const SB = {
  csrf: null,
  user: null,

  async session() {
    const res = await fetch("/api/session", { credentials: "same-origin" });
    if (res.status === 401) { location.href = "/login"; throw new Error("not signed in"); }
    const data = await res.json();
    SB.csrf = data.csrf_token;
    SB.user = data.user;
    return data.user;
  },

  // Every call returns the parsed body; a refusal throws an Error carrying {code, message, field}.
  async api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") {
      opts.headers["X-CSRF-Token"] = SB.csrf;
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body === undefined ? {} : body);
    }
    const res = await fetch(path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401) { location.href = "/login"; }
    if (!res.ok) {
      const err = new Error((data && data.error && data.error.message) || res.statusText);
      Object.assign(err, (data && data.error) || {}, { status: res.status });
      throw err;
    }
    return data;
  },

  async logout() {
    try { await SB.api("POST", "/api/logout"); } finally { location.href = "/login"; }
  },

  // The live socket: reconnects with backoff; onMessage gets every event (a snapshot first).
  live(onMessage, onStatus) {
    let delay = 250;
    const connect = () => {
      const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
      ws.onopen = () => { delay = 250; onStatus && onStatus(true); };
      ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
      ws.onclose = () => {
        onStatus && onStatus(false);
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 5000);
      };
    };
    connect();
  },

  esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  },

  flash(message, isError) {
    let box = document.getElementById("flash");
    if (!box) { box = document.createElement("div"); box.id = "flash"; document.body.appendChild(box); }
    box.className = "flash" + (isError ? " error" : "");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(SB._flashTimer);
    SB._flashTimer = setTimeout(() => { box.hidden = true; }, isError ? 6000 : 2500);
  },

  statusClass(label) { return "status-" + String(label || "offline").toLowerCase(); },

  stateLabel(live) {
    if (!live) return "Offline";
    const names = { offline: "Signed out", ready: "Ready", not_ready: "Not ready", ringing: "Ringing",
                    in_call: "In call", wrap_up: "Wrap-up" };
    let text = names[live.state] || live.state;
    if (live.state === "not_ready" && live.break_code) text += ": " + live.break_code;
    return text;
  },
};
