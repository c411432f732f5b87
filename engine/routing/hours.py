"""Time groups: is a time group open at a given instant? Pure, time zone aware.

Rules are weekly intervals in the group's local time (`weekday`, "HH:MM" start and end,
end exclusive, "24:00" meaning midnight at the end of the day). A group with no rules is
never open: an admin who created an empty schedule meant "closed", and saying so beats
silently routing calls nobody staffs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Interval:
    weekday: int
    start: str
    end: str


def is_open(intervals: list[Interval], timezone: str, at: datetime) -> bool:
    if at.tzinfo is None:
        raise ValueError("is_open needs an aware datetime (UTC)")
    local = at.astimezone(ZoneInfo(timezone))
    hhmm = local.strftime("%H:%M")
    return any(i.weekday == local.weekday() and i.start <= hhmm < i.end for i in intervals)
