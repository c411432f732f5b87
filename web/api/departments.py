"""Departments (the services agents sign into): strategy, queue, transfer code, hold."""

from engine.store import models as m
from engine.store.directory import OVERFLOWS, STRATEGIES

from ..http import F
from .crud import Crud, Resource

FIELDS = {
    "name": F("string", required=True), "description": F("string"),
    "strategy": F("string", enum=STRATEGIES), "use_as_queue": F("boolean"),
    "transfer_code": F("string", nullable=True, description="5 digits, unique across departments and IVRs"),
    "ring_timeout": F("integer"), "overflow": F("string", enum=OVERFLOWS),
    "time_group_id": F("integer", nullable=True), "moh_class": F("string"), "hold_enabled": F("boolean"),
    "ready_after_sign_in": F("boolean"), "not_ready_path_limit": F("integer"),
}
ROUTES = Crud(Resource("/api/departments", "department", m.Department, FIELDS, "departments")).routes()
