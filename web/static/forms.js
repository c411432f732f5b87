// A small form builder for <dialog id="form-dialog">: fields in, JSON body out, and the
// API's error shown beside the field it names ({"error": {"field": ...}}).
"use strict";
const Forms = {
  // field: {name, label, type: text|password|number|checkbox|select|ref|multi|list|rules|textarea,
  //         options: [[value, label]], nullable, help, omitEmpty}
  open(title, fields, values, submit) {
    const dlg = document.getElementById("form-dialog");
    values = values || {};
    const rows = fields.map((f) => {
      const id = "f-" + f.name;
      const v = values[f.name];
      let input;
      if (f.type === "checkbox") {
        input = `<input type="checkbox" id="${id}" name="${f.name}" ${v ? "checked" : ""}>`;
      } else if (f.type === "select" || f.type === "ref") {
        const opts = (f.nullable ? [["", "(none)"]] : []).concat(f.options || []);
        input = `<select id="${id}" name="${f.name}">` + opts.map(([ov, ol]) =>
          `<option value="${SB.esc(ov)}" ${String(v ?? "") === String(ov) ? "selected" : ""}>${SB.esc(ol)}</option>`).join("") + "</select>";
      } else if (f.type === "multi") {
        const chosen = new Set((v || []).map(String));
        input = `<div class="checklist" id="${id}">` + (f.options || []).map(([ov, ol]) =>
          `<label><input type="checkbox" value="${SB.esc(ov)}" ${chosen.has(String(ov)) ? "checked" : ""}> ${SB.esc(ol)}</label>`).join("") + "</div>";
      } else if (f.type === "rules") {
        const text = (v || []).map((r) => `${r.weekday} ${r.start} ${r.end}`).join("\n");
        input = `<textarea id="${id}" name="${f.name}" rows="5" placeholder="0 09:00 17:00   (weekday 0=Mon … 6=Sun)">${SB.esc(text)}</textarea>`;
      } else if (f.type === "list") {
        input = `<input id="${id}" name="${f.name}" value="${SB.esc((v || []).join(", "))}" placeholder="comma-separated">`;
      } else {
        const type = f.type === "number" ? "number" : f.type === "password" ? "password" : "text";
        input = `<input id="${id}" name="${f.name}" type="${type}" value="${SB.esc(v ?? "")}" autocomplete="off">`;
      }
      return `<label for="${id}">${SB.esc(f.label)}</label><div class="field" data-field="${f.name}">${input}` +
        (f.help ? `<div class="sub">${SB.esc(f.help)}</div>` : "") + `<div class="error-text" data-error="${f.name}"></div></div>`;
    }).join("");
    dlg.innerHTML = `<form method="dialog" novalidate><h3>${SB.esc(title)}</h3><div class="form-grid">${rows}</div>
      <div class="error-text" data-error="_form" role="alert"></div>
      <div class="dialog-buttons"><button type="button" data-cancel>Cancel</button><button class="primary" type="submit" data-save>Save</button></div></form>`;
    const form = dlg.querySelector("form");
    dlg.querySelector("[data-cancel]").onclick = () => dlg.close();
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      form.querySelectorAll(".field").forEach((el) => el.classList.remove("invalid"));
      form.querySelectorAll(".error-text").forEach((el) => { el.textContent = ""; });
      let body;
      try { body = Forms.read(form, fields); } catch (err) { Forms.showError(form, err); return; }
      try {
        await submit(body);
        dlg.close();
      } catch (err) {
        Forms.showError(form, err);
      }
    };
    dlg.showModal();
    return dlg;
  },

  read(form, fields) {
    const body = {};
    for (const f of fields) {
      const el = form.querySelector("#f-" + f.name);
      if (f.type === "checkbox") { body[f.name] = el.checked; continue; }
      if (f.type === "multi") {
        body[f.name] = Array.from(el.querySelectorAll("input:checked")).map((c) => f.numeric === false ? c.value : Number(c.value));
        continue;
      }
      const raw = el.value.trim();
      if (f.type === "list") { body[f.name] = raw ? raw.split(",").map((s) => s.trim()).filter(Boolean) : []; continue; }
      if (f.type === "rules") {
        body[f.name] = raw ? raw.split("\n").map((line) => line.trim()).filter(Boolean).map((line, i) => {
          const [weekday, start, end] = line.split(/\s+/);
          if (!/^\d$/.test(weekday || "")) {
            throw Object.assign(new Error(`line ${i + 1}: start with a weekday 0 (Monday) to 6 (Sunday)`), { field: f.name });
          }
          return { weekday: Number(weekday), start, end };
        }) : [];
        continue;
      }
      if (raw === "") {
        if (f.omitEmpty) continue;
        if (f.nullable) { body[f.name] = null; continue; }
      }
      if (f.type === "number" || f.type === "ref") {
        if (raw === "" && f.type === "number") { body[f.name] = null; continue; }
        const n = Number(raw);
        if (!Number.isInteger(n)) throw Object.assign(new Error("must be a whole number"), { field: f.name });
        body[f.name] = n;
        continue;
      }
      body[f.name] = raw;
    }
    return body;
  },

  showError(form, err) {
    const field = (err.field || "").split(/[.[]/)[0];
    const slot = field && form.querySelector(`[data-error="${field}"]`);
    if (slot) {
      slot.textContent = (err.field !== field ? err.field + ": " : "") + err.message;
      slot.closest(".field").classList.add("invalid");
    } else {
      form.querySelector('[data-error="_form"]').textContent = err.message;
    }
  },
};
