"""Database engine and sessions, with validation run before every flush.

Why a flush hook and not validation in each service: the tables are written from the REST
API, the CLI, seed scripts and the engine itself. Running each record's `check_fields()` in
`before_flush` means no path can store a value the generator would later refuse, and the
error names the record and field (`agent 'alice': intercom: '12' is not a 4-digit ...`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from . import models as m
from .errors import ValidationError

_engines: dict[str, Engine] = {}


def make_engine(url: str) -> Engine:
    """One Engine per URL per process. SQLite gets foreign keys on and a busy timeout."""
    if url in _engines:
        return _engines[url]
    kwargs: dict = {}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL stays consistent after a crash and skips an fsync per
            # commit (the engine commits on every agent state change).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
    _engines[url] = engine
    return engine


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(make_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_checked(conn, model, **values) -> None:
    """Insert one row of table model `model` with one SQL statement on `conn`, after the same
    check the flush hook runs (its `check_fields()`, errors naming the record). For the
    engine's hot history writes, which skip the ORM's unit of work (engine/calls/records.py).

    No model instance is built: SQLModel's validation of a table model cost more than the
    insert (about 0.5 ms of CPU a row). The fields' defaults are filled in, and
    `check_fields()` runs on a plain row object carrying the table's name for its errors.
    """
    row = _row_type(model)()
    for name, field in model.model_fields.items():
        if name in values:
            setattr(row, name, values.pop(name))
        elif not field.is_required():
            setattr(row, name, field.get_default(call_default_factory=True))
        else:
            raise ValidationError(name, "is required", model.__tablename__)
    if values:
        raise ValidationError(", ".join(sorted(values)), "is not a column", model.__tablename__)
    check = getattr(model, "check_fields", None)
    if check is not None:
        try:
            check(row)
        except ValidationError as exc:
            raise exc.for_record(record_label(row)) from None
    data = vars(row)
    for column in model.__table__.primary_key.columns:
        if data.get(column.key) is None:
            data.pop(column.key, None)  # the database numbers it
    conn.execute(insert(model.__table__).values(**data))


_ROW_TYPES: dict[type, type] = {}


def _row_type(model) -> type:
    """A plain attribute holder named like `model`'s table (what `record_label` reads)."""
    if model not in _ROW_TYPES:
        _ROW_TYPES[model] = type(f"{model.__name__}Row", (), {"__tablename__": model.__tablename__})
    return _ROW_TYPES[model]


def record_label(obj) -> str:
    """How an error names a record: its table and its most human identifier."""
    table = getattr(obj, "__tablename__", type(obj).__name__)
    for attr in ("username", "name", "number", "account_number", "code", "id"):
        value = getattr(obj, attr, None)
        if value not in (None, ""):
            return f"{table} {value!r}"
    return table


def _changed_keys(obj) -> set[str] | None:
    """The attributes this flush writes: None for a new record (every field counts)."""
    state = inspect(obj)
    if not state.has_identity:
        return None
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


@event.listens_for(Session, "before_flush")
def _validate_before_flush(session: Session, _ctx, _instances) -> None:
    """Validate what this flush writes.

    An update is checked only when it touches a field an admin or API sets: the engine
    bumps live counters (`LIVE_FIELDS`, such as calls answered) on the hot path of every
    call, and re-validating the whole record there (phone numbers, uniqueness queries)
    cost milliseconds per call for nothing. Uniqueness is queried only for the unique
    columns that change.
    """
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, m.ContactPhone) and not obj.region and obj.contact_id is not None:
            contact = session.get(m.Contact, obj.contact_id)
            obj.region = contact.region if contact else None
        check = getattr(obj, "check_fields", None)
        if check is None:
            continue
        changed = _changed_keys(obj)
        if changed is not None and not (changed - set(getattr(obj, "LIVE_FIELDS", ()))):
            continue
        try:
            check()
        except ValidationError as exc:
            raise exc.for_record(record_label(obj)) from None
        _check_unique_columns(session, obj, changed)
        if isinstance(obj, (m.Department, m.Ivr)) and obj.transfer_code and (
                changed is None or "transfer_code" in changed):
            _check_transfer_code_unique(session, obj)


def _unique_columns(table) -> list:
    cols = [c for c in table.columns if c.unique]
    for index in table.indexes:
        if index.unique and len(index.columns) == 1:
            cols.extend(index.columns)
    return cols


def _check_unique_columns(session: Session, obj, changed: set[str] | None = None) -> None:
    """Refuse a duplicate in a unique column with a ValidationError naming the field.

    The database would refuse it too, but with an IntegrityError that names neither the
    record nor the field in words an admin can act on.
    """
    table = getattr(type(obj), "__table__", None)
    if table is None:
        return
    pk_cols = list(table.primary_key.columns)
    for col in _unique_columns(table):
        if changed is not None and col.key not in changed:
            continue
        value = getattr(obj, col.key, None)
        if value is None:
            continue
        stmt = select(*pk_cols).where(col == value)
        if len(pk_cols) == 1 and getattr(obj, pk_cols[0].key, None) is not None:
            stmt = stmt.where(pk_cols[0] != getattr(obj, pk_cols[0].key))
        with session.no_autoflush:
            clash = session.execute(stmt).first()
        if clash:
            raise ValidationError(col.key, f"{value!r} is already in use", record_label(obj))


def _check_transfer_code_unique(session: Session, obj) -> None:
    """Departments and IVRs share one 5-digit transfer-code space (`#1`/`#2` + code)."""
    other = m.Ivr if isinstance(obj, m.Department) else m.Department
    with session.no_autoflush:
        clash = session.execute(select(other.id).where(other.transfer_code == obj.transfer_code)).first()
    if clash:
        kind = "an IVR" if other is m.Ivr else "a department"
        raise ValidationError("transfer_code", f"{obj.transfer_code} is already used by {kind}", record_label(obj))
