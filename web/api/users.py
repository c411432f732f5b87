"""Web log-ins (admins only): list, create, reset a password, disable, delete."""

from __future__ import annotations

from sqlmodel import select

from engine.store import models as m
from engine.store.errors import ValidationError
from engine.store.session import session_scope
from engine.store.users import ROLES

from ..auth import hash_password
from ..http import F, check_body, db, int_param, not_found, ok, read_json, ApiError
from ..keys import USER_KEY
from ..routes import ADMINS, Route

CREATE_BODY = {"username": F("string", required=True), "password": F("string", required=True),
               "role": F("string", required=True, enum=ROLES), "agent_id": F("integer", nullable=True)}
UPDATE_BODY = {"password": F("string"), "disabled": F("boolean")}


def _public(user) -> dict:
    return {"id": user.id, "username": user.username, "role": user.role, "agent_id": user.agent_id,
            "disabled": user.disabled}


def list_users(db_url: str) -> list[dict]:
    with session_scope(db_url) as session:
        return [_public(u) for u in session.exec(select(m.WebUser).order_by(m.WebUser.username)).all()]


def _hash(password: str) -> str:
    try:
        return hash_password(password)
    except ApiError as exc:
        raise ValidationError("password", exc.message) from None


def create_user(db_url: str, body: dict) -> dict:
    with session_scope(db_url) as session:
        if body.get("agent_id") is not None and session.get(m.Agent, body["agent_id"]) is None:
            raise ValidationError("agent_id", f"agent {body['agent_id']} does not exist")
        user = m.WebUser(username=body["username"], role=body["role"], agent_id=body.get("agent_id"),
                         password_hash=_hash(body["password"]))
        session.add(user)
        session.flush()
        return _public(user)


def update_user(db_url: str, user_id: int, body: dict) -> dict:
    with session_scope(db_url) as session:
        user = session.get(m.WebUser, user_id)
        if user is None:
            raise not_found(f"user {user_id}")
        if "password" in body:
            user.password_hash = _hash(body["password"])
        if "disabled" in body:
            user.disabled = body["disabled"]
        if "password" in body or body.get("disabled"):
            for s in session.exec(select(m.WebSession).where(m.WebSession.user_id == user_id)).all():
                session.delete(s)
        session.add(user)
        session.flush()
        return _public(user)


def delete_user(db_url: str, user_id: int) -> None:
    with session_scope(db_url) as session:
        user = session.get(m.WebUser, user_id)
        if user is None:
            raise not_found(f"user {user_id}")
        for s in session.exec(select(m.WebSession).where(m.WebSession.user_id == user_id)).all():
            session.delete(s)
        session.delete(user)


async def get_users(request):
    """Every log-in (never the password hash)."""
    return ok(await db(request, list_users))


async def post_user(request):
    """Create a log-in; an agent log-in names its agent_id."""
    return ok(await db(request, create_user, check_body(await read_json(request), CREATE_BODY)), status=201)


async def patch_user(request):
    """Reset a password or (dis)able a log-in; either ends the user's sessions."""
    user_id = int_param(request.match_info["id"], "id")
    return ok(await db(request, update_user, user_id, check_body(await read_json(request), UPDATE_BODY)))


async def remove_user(request):
    """Delete a log-in (you cannot delete your own)."""
    user_id = int_param(request.match_info["id"], "id")
    if user_id == request[USER_KEY].id:
        raise ApiError(409, "refused", "you cannot delete your own log-in")
    await db(request, delete_user, user_id)
    return ok({"deleted": True})


ROUTES = [
    Route("GET", "/api/users", get_users, ADMINS, "List log-ins", tag="users"),
    Route("POST", "/api/users", post_user, ADMINS, "Create a log-in", body=CREATE_BODY, tag="users"),
    Route("PATCH", "/api/users/{id:\\d+}", patch_user, ADMINS, "Update a log-in", body=UPDATE_BODY, tag="users"),
    Route("DELETE", "/api/users/{id:\\d+}", remove_user, ADMINS, "Delete a log-in", tag="users"),
]
