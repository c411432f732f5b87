"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  const body = { username: document.getElementById("username").value, password: document.getElementById("password").value };
  const res = await fetch("/api/login", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    error.textContent = (data && data.error && data.error.message) || "Sign-in failed";
    return;
  }
  location.href = data.user.role === "agent" ? "/desktop" : "/dashboard";
});
