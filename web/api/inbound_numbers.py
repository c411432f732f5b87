"""Inbound numbers (DIDs) with their descriptions, targets and out-of-hours behaviour."""

from engine.store import models as m
from engine.store.directory import CLOSED_ACTIONS, TARGET_TYPES
from engine.store.errors import ValidationError

from ..http import F
from .crud import Crud, Resource

FIELDS = {
    "number": F("string", required=True, description="E.164, e.g. +442071838750"),
    "description": F("string", description="shown on the screen pop as INBOUND_NUMBER_DESCRIPTION"),
    "target_type": F("string", enum=TARGET_TYPES), "target_id": F("integer", required=True),
    "time_group_id": F("integer", nullable=True), "closed_announcement": F("string"),
    "closed_action": F("string", enum=CLOSED_ACTIONS),
}
_TARGETS = {"department": m.Department, "ivr": m.Ivr, "agent": m.Agent}


def check(session, row) -> None:
    model = _TARGETS.get(row.target_type)
    if model is not None and row.target_id is not None and session.get(model, row.target_id) is None:
        raise ValidationError("target_id", f"{row.target_type} {row.target_id} does not exist")


ROUTES = Crud(Resource("/api/inbound-numbers", "inbound number", m.InboundNumber, FIELDS, "inbound numbers",
                       check=check)).routes()
