"""Shared HTTP plumbing: JSON errors, body validation, blocking database work off the loop.

Every error the API returns has one shape, `{"error": {"code", "message", "field"}}`, so a
form can put the message beside the field it names. Store `ValidationError`s (raised
before every flush) and routing `AgentActionError`s become 400/409 here, once, instead of
in every handler.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from engine.routing.service import AgentActionError
from engine.store.errors import ValidationError

from .keys import SETTINGS_KEY


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    return web.json_response(error_body(code, message, field), status=status)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} does not exist")


def forbidden(message: str = "your role may not do this") -> ApiError:
    return ApiError(403, "forbidden", message)


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


def _default(value: Any):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


async def db(request: web.Request, fn: Callable, *args: Any) -> Any:
    """Run blocking store work `fn(db_url, *args)` in a worker thread."""
    return await asyncio.to_thread(fn, request.app[SETTINGS_KEY].database_url, *args)


# ---- request bodies ----------------------------------------------------------------------
@dataclass(frozen=True)
class F:
    """One body field: JSON type ("string", "integer", "boolean", "array"), required, items."""

    type: str
    required: bool = False
    nullable: bool = False
    items: str | None = None
    enum: tuple[str, ...] | None = None
    description: str = ""

    def schema(self) -> dict:
        out: dict = {"type": [self.type, "null"] if self.nullable else self.type}
        if self.items:
            out["items"] = {"type": self.items}
        if self.enum:
            out["enum"] = list(self.enum)
        if self.description:
            out["description"] = self.description
        return out


_PY = {"string": (str,), "integer": (int,), "boolean": (bool,), "array": (list,), "object": (dict,)}


def _type_ok(value: Any, type_: str) -> bool:
    if type_ in ("integer",) and isinstance(value, bool):
        return False
    return isinstance(value, _PY[type_])


def check_body(data: Any, spec: dict[str, F], partial: bool = False) -> dict:
    """Refuse unknown fields, missing required ones and wrong JSON types, naming the field."""
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    for name in data:
        if name not in spec:
            raise ApiError(400, "unknown_field", f"{name!r} is not a field here (fields: {', '.join(spec)})", name)
    for name, field in spec.items():
        if name not in data:
            if field.required and not partial:
                raise ApiError(400, "required", f"{name} is required", name)
            continue
        value = data[name]
        if value is None:
            if field.nullable:
                continue
            raise ApiError(400, "invalid_type", f"{name} may not be null", name)
        if not _type_ok(value, field.type):
            raise ApiError(400, "invalid_type", f"{name} must be a JSON {field.type}", name)
        if field.items:
            for i, item in enumerate(value):
                if not _type_ok(item, field.items):
                    raise ApiError(400, "invalid_type", f"{name}[{i}] must be a JSON {field.items}", f"{name}[{i}]")
        if field.enum and value not in field.enum:
            raise ApiError(400, "invalid_choice", f"{value!r} is not one of {', '.join(field.enum)}", name)
    return data


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None


def int_param(value: str | None, name: str, minimum: int = 1, maximum: int = 10**9) -> int:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_type", f"{name} must be a whole number", name) from None
    if not minimum <= number <= maximum:
        raise ApiError(400, "out_of_range", f"{name} must be from {minimum} to {maximum}", name)
    return number


# ---- middleware --------------------------------------------------------------------------
@web.middleware
async def error_middleware(request: web.Request, handler):
    """Turn every refusal into the one JSON error shape (HTML pages keep aiohttp's)."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except ApiError as exc:
        response = error_response(exc.status, exc.code, exc.message, exc.field)
    except ValidationError as exc:
        message = f"{exc.record}: {exc.message}" if exc.record else exc.message
        response = error_response(400, "invalid", message, exc.field)
    except AgentActionError as exc:
        response = error_response(409, "refused", str(exc))
    except IntegrityError as exc:
        response = error_response(409, "conflict", f"the database refused this change ({exc.orig})")
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        response = error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    if not response.prepared:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        )
        response.headers.setdefault("Cache-Control", "no-store")
    return response
