"""IVRs and their 5-digit transfer codes (the codes `#1`/`#2` + code dial)."""

from engine.store import models as m

from ..http import F
from .crud import Crud, Resource

FIELDS = {
    "name": F("string", required=True),
    "transfer_code": F("string", nullable=True, description="5 digits, unique across IVRs and departments"),
    "greeting": F("string"), "timeout": F("integer"), "max_retries": F("integer"),
}
ROUTES = Crud(Resource("/api/ivrs", "IVR", m.Ivr, FIELDS, "ivrs")).routes()
