"""Generic list/get/create/update/delete for the configuration tables admins edit.

Why generic: departments, IVRs, time groups, inbound numbers, break codes and termination
codes differ only in their fields; the rules are the same for all of them. Bodies are
checked for unknown fields and JSON types (`check_body`), foreign keys are checked to name
the field (the database's IntegrityError would not), and the store validates every value
before the flush (its ValidationError becomes a 400 naming the field). After a write the
routing service reloads its configuration so the next call sees the change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from engine.store.errors import ValidationError
from engine.store.session import session_scope

from ..http import F, check_body, db, int_param, not_found, ok, read_json
from ..keys import ROUTING_KEY
from ..routes import ADMINS, SUPERVISORS, Route


@dataclass
class Resource:
    path: str                     # "/api/departments"
    label: str                    # "department"
    model: type
    fields: dict[str, F]
    tag: str
    extra_fields: tuple[str, ...] = ()   # body fields handled by `on_write`, not model columns
    on_write: Callable[[Session, Any, dict], None] | None = None
    to_dict: Callable[[Session, Any], dict] | None = None
    check: Callable[[Session, Any], None] | None = None
    read_roles: tuple[str, ...] = SUPERVISORS
    write_roles: tuple[str, ...] = ADMINS
    order_by: str = "id"
    reload_routing: bool = True
    hidden: tuple[str, ...] = field(default_factory=tuple)


def model_dict(obj, hidden: tuple[str, ...] = ()) -> dict:
    return {k: v for k, v in obj.model_dump().items() if k not in hidden}


def check_foreign_keys(session: Session, obj) -> None:
    """A foreign key that points nowhere: a 400 naming the field, before the database says 409."""
    for column in type(obj).__table__.columns:
        value = getattr(obj, column.key, None)
        if value is None:
            continue
        for fk in column.foreign_keys:
            target = fk.column
            with session.no_autoflush:
                found = session.execute(sa_select(target).where(target == value)).first()
            if found is None:
                raise ValidationError(column.key, f"{target.table.name} {value} does not exist")


class Crud:
    def __init__(self, res: Resource):
        self.res = res

    # blocking parts, run in a worker thread
    def _dict(self, session: Session, obj) -> dict:
        return self.res.to_dict(session, obj) if self.res.to_dict else model_dict(obj, self.res.hidden)

    def list_rows(self, db_url: str) -> list[dict]:
        with session_scope(db_url) as session:
            rows = session.exec(select(self.res.model).order_by(getattr(self.res.model, self.res.order_by))).all()
            return [self._dict(session, r) for r in rows]

    def get_row(self, db_url: str, row_id: int) -> dict:
        with session_scope(db_url) as session:
            obj = session.get(self.res.model, row_id)
            if obj is None:
                raise not_found(f"{self.res.label} {row_id}")
            return self._dict(session, obj)

    def write_row(self, db_url: str, row_id: int | None, body: dict) -> dict:
        extra = {k: body.pop(k) for k in self.res.extra_fields if k in body}
        with session_scope(db_url) as session:
            if row_id is None:
                obj = self.res.model(**body)
            else:
                obj = session.get(self.res.model, row_id)
                if obj is None:
                    raise not_found(f"{self.res.label} {row_id}")
                for key, value in body.items():
                    setattr(obj, key, value)
            check_foreign_keys(session, obj)
            if self.res.check:
                self.res.check(session, obj)
            session.add(obj)
            session.flush()
            if self.res.on_write:
                self.res.on_write(session, obj, extra)
                session.flush()
            return self._dict(session, obj)

    def delete_row(self, db_url: str, row_id: int) -> None:
        with session_scope(db_url) as session:
            obj = session.get(self.res.model, row_id)
            if obj is None:
                raise not_found(f"{self.res.label} {row_id}")
            session.delete(obj)

    # handlers
    async def list(self, request: web.Request) -> web.Response:
        return ok(await db(request, self.list_rows))

    async def get(self, request: web.Request) -> web.Response:
        return ok(await db(request, self.get_row, int_param(request.match_info["id"], "id")))

    async def create(self, request: web.Request) -> web.Response:
        body = check_body(await read_json(request), self.res.fields)
        row = await db(request, self.write_row, None, dict(body))
        self._after_write(request)
        return ok(row, status=201)

    async def update(self, request: web.Request) -> web.Response:
        row_id = int_param(request.match_info["id"], "id")
        body = check_body(await read_json(request), self.res.fields, partial=True)
        row = await db(request, self.write_row, row_id, dict(body))
        self._after_write(request)
        return ok(row)

    async def delete(self, request: web.Request) -> web.Response:
        await db(request, self.delete_row, int_param(request.match_info["id"], "id"))
        self._after_write(request)
        return ok({"deleted": True})

    def _after_write(self, request: web.Request) -> None:
        if self.res.reload_routing:
            request.app[ROUTING_KEY].load()

    def routes(self) -> list[Route]:
        r, label = self.res, self.res.label
        item = r.path + "/{id}"

        def doc(fn, text):
            async def handler(request):
                return await fn(request)
            handler.__doc__, handler.__name__ = text, fn.__name__ + "_" + label.replace(" ", "_")
            return handler

        return [
            Route("GET", r.path, doc(self.list, f"Every {label}."), r.read_roles, f"List {label}s", tag=r.tag),
            Route("POST", r.path, doc(self.create, f"Create a {label}; 400 names the first field at fault."),
                  r.write_roles, f"Create a {label}", body=r.fields, tag=r.tag),
            Route("GET", item, doc(self.get, f"One {label}."), r.read_roles, f"Read a {label}", tag=r.tag),
            Route("PATCH", item, doc(self.update, f"Change some fields of a {label}."), r.write_roles,
                  f"Update a {label}", body=r.fields, tag=r.tag),
            Route("DELETE", item, doc(self.delete, f"Delete a {label}."), r.write_roles, f"Delete a {label}",
                  tag=r.tag),
        ]
