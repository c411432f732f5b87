"""Break codes (Not Ready reasons) and termination codes (wrap-up outcomes).

Agents read both (their status drop-down and wrap-up list); admins edit them.
"""

from engine.store import models as m

from ..http import F
from ..routes import EVERYONE
from .crud import Crud, Resource

BREAK_FIELDS = {"code": F("string", required=True), "name": F("string", required=True), "paid": F("boolean")}
TERMINATION_FIELDS = {"code": F("string", required=True), "name": F("string", required=True),
                      "department_id": F("integer", nullable=True, description="null: every department")}

ROUTES = (
    Crud(Resource("/api/break-codes", "break code", m.BreakCode, BREAK_FIELDS, "codes", read_roles=EVERYONE)).routes()
    + Crud(Resource("/api/termination-codes", "termination code", m.TerminationCode, TERMINATION_FIELDS, "codes",
                    read_roles=EVERYONE)).routes()
)
