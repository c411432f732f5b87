"""Time groups: working hours as weekly intervals in one time zone (`rules` replaces all)."""

from sqlmodel import select

from engine.store import models as m
from engine.store.errors import ValidationError

from ..http import F
from .crud import Crud, Resource

FIELDS = {
    "name": F("string", required=True), "description": F("string"), "timezone": F("string"),
    "rules": F("array", items="object", description="[{weekday 0-6, start HH:MM, end HH:MM}, ...]"),
}


def _rules(session, group) -> list[dict]:
    rows = session.exec(select(m.TimeGroupRule).where(m.TimeGroupRule.time_group_id == group.id)
                        .order_by(m.TimeGroupRule.weekday, m.TimeGroupRule.start)).all()
    return [{"weekday": r.weekday, "start": r.start, "end": r.end} for r in rows]


def to_dict(session, group) -> dict:
    return {**group.model_dump(), "rules": _rules(session, group)}


def on_write(session, group, extra: dict) -> None:
    if "rules" not in extra:
        return
    for old in session.exec(select(m.TimeGroupRule).where(m.TimeGroupRule.time_group_id == group.id)).all():
        session.delete(old)
    session.flush()
    for i, rule in enumerate(extra["rules"]):
        unknown = set(rule) - {"weekday", "start", "end"}
        if unknown:
            raise ValidationError(f"rules[{i}]", f"unknown key {sorted(unknown)[0]!r}")
        try:
            row = m.TimeGroupRule(time_group_id=group.id, weekday=rule.get("weekday"), start=rule.get("start"),
                                  end=rule.get("end"))
            row.check_fields()
        except ValidationError as exc:
            raise ValidationError(f"rules[{i}].{exc.field}", exc.message) from None
        session.add(row)


ROUTES = Crud(Resource("/api/time-groups", "time group", m.TimeGroup, FIELDS, "time groups",
                       extra_fields=("rules",), on_write=on_write, to_dict=to_dict)).routes()
