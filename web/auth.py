"""Log-in, sessions and CSRF: who is asking, and may they.

- Passwords: `hashlib.scrypt` (n=2**14, r=8, p=1) with a 16-byte per-user salt, compared in
  constant time. The stored string names the algorithm and cost so they can be raised later.
- Sessions: a random 32-byte token in an HttpOnly, SameSite=Strict cookie; the server keeps
  only its SHA-256 (`web_session`), so logging out or deleting a user ends it at once.
- CSRF: every state-changing request must carry the session's token in `X-CSRF-Token` and a
  JSON body (a cross-site form cannot send either); an `Origin` header, when present, must
  name this host. The websocket checks the Origin too (cross-site websocket hijacking).
- Log-in throttling: five failures for one username within five minutes refuse further
  tries for that username until the window passes (429), so passwords cannot be guessed
  at speed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from aiohttp import web
from sqlmodel import select

from engine.store import models as m
from engine.store.session import session_scope

from .http import ApiError, check_body, F, db, ok, read_json
from .keys import USER_KEY

COOKIE = "sb_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_HOURS = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MAX_FAILURES, FAILURE_WINDOW = 5, 300.0
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


# ---- passwords ---------------------------------------------------------------------------
def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise ApiError(400, "invalid", "a password must be at least 8 characters", "password")
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


# Verifying against this when the username is unknown keeps the timing the same.
_DUMMY_HASH = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32


# ---- sessions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: str
    agent_id: int | None
    csrf_token: str
    token_hash: str

    def public(self) -> dict:
        return {"id": self.id, "username": self.username, "role": self.role, "agent_id": self.agent_id}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def authenticate(db_url: str, username: str, password: str) -> tuple[str, CurrentUser] | None:
    """Check the password; on success create a session and return (cookie token, user)."""
    with session_scope(db_url) as session:
        user = session.exec(select(m.WebUser).where(m.WebUser.username == username)).first()
        if not verify_password(password, user.password_hash if user else _DUMMY_HASH) or user is None:
            return None
        if user.disabled:
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        session.add(m.WebSession(token_hash=_token_hash(token), user_id=user.id, csrf_token=csrf,
                                 created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
        # Expired sessions of this user go at each log-in: the table does not grow forever.
        for old in session.exec(select(m.WebSession).where(m.WebSession.user_id == user.id)).all():
            if _aware(old.expires_at) < now:
                session.delete(old)
        return token, CurrentUser(user.id, user.username, user.role, user.agent_id, csrf, _token_hash(token))


def load_session(db_url: str, token: str) -> CurrentUser | None:
    token_hash = _token_hash(token)
    with session_scope(db_url) as session:
        row = session.get(m.WebSession, token_hash)
        if row is None:
            return None
        if _aware(row.expires_at) < _now():
            session.delete(row)
            return None
        user = session.get(m.WebUser, row.user_id)
        if user is None or user.disabled:
            return None
        return CurrentUser(user.id, user.username, user.role, user.agent_id, row.csrf_token, token_hash)


def end_session(db_url: str, token_hash: str) -> None:
    with session_scope(db_url) as session:
        row = session.get(m.WebSession, token_hash)
        if row is not None:
            session.delete(row)


async def current_user(request: web.Request) -> CurrentUser | None:
    """The signed-in user, looked up once per request (None when not signed in)."""
    if USER_KEY in request:
        return request[USER_KEY]
    token = request.cookies.get(COOKIE)
    user = await db(request, load_session, token) if token else None
    request[USER_KEY] = user
    return user


def check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if urlsplit(origin).netloc != request.host:
        raise ApiError(403, "bad_origin", "the request comes from another site")


def check_csrf(request: web.Request, user: CurrentUser) -> None:
    if request.method in SAFE_METHODS:
        return
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent, user.csrf_token):
        raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header (GET /api/session gives it)")


# ---- handlers ----------------------------------------------------------------------------
class Throttle:
    def __init__(self) -> None:
        self.failures: dict[str, list[float]] = {}

    def blocked(self, username: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self.failures.get(username, []) if now - t < FAILURE_WINDOW]
        self.failures[username] = recent
        return len(recent) >= MAX_FAILURES

    def failed(self, username: str) -> None:
        self.failures.setdefault(username, []).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        self.failures.pop(username, None)


LOGIN_BODY = {"username": F("string", required=True), "password": F("string", required=True)}


async def login(request: web.Request) -> web.Response:
    """Check a username and password; set the session cookie; return the user and CSRF token."""
    from .keys import AUTH_KEY

    check_origin(request)
    body = check_body(await read_json(request), LOGIN_BODY)
    throttle: Throttle = request.app[AUTH_KEY]
    username = body["username"].strip()
    if throttle.blocked(username):
        raise ApiError(429, "too_many_attempts", "too many failed log-ins: wait a few minutes")
    result = await db(request, authenticate, username, body["password"])
    if result is None:
        throttle.failed(username)
        raise ApiError(401, "bad_credentials", "wrong username or password", "password")
    throttle.succeeded(username)
    token, user = result
    response = ok({"user": user.public(), "csrf_token": user.csrf_token})
    secure = os.environ.get("SWITCHBOARD_WEB_SECURE_COOKIE", "") in ("1", "true", "yes")
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/", secure=secure,
                        max_age=SESSION_HOURS * 3600)
    return response


async def logout(request: web.Request) -> web.Response:
    """End the session (the cookie stops working at once, on every tab)."""
    user = request[USER_KEY]
    await db(request, end_session, user.token_hash)
    response = ok({"signed_out": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def session_info(request: web.Request) -> web.Response:
    """Who is signed in, and the CSRF token to send in X-CSRF-Token."""
    user = request[USER_KEY]
    return ok({"user": user.public(), "csrf_token": user.csrf_token})
