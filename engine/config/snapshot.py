"""The records the generator reads, loaded once in a fixed order.

`load_snapshot()` is the only part of the generator that touches the database. Rendering
works on a `Snapshot` of plain lists, so tests can render any set of records, including ones
the store would refuse (built in memory, never flushed), and check the generator refuses
them too.

Every list is ordered by a unique key: the same database gives the same files byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from engine.store import models as m


@dataclass
class Snapshot:
    agents: list[m.Agent] = field(default_factory=list)
    departments: list[m.Department] = field(default_factory=list)
    ivrs: list[m.Ivr] = field(default_factory=list)
    inbound_numbers: list[m.InboundNumber] = field(default_factory=list)


def load_snapshot(session: Session) -> Snapshot:
    return Snapshot(
        agents=list(session.exec(select(m.Agent).order_by(m.Agent.intercom, m.Agent.id)).all()),
        departments=list(session.exec(select(m.Department).order_by(m.Department.name, m.Department.id)).all()),
        ivrs=list(session.exec(select(m.Ivr).order_by(m.Ivr.name, m.Ivr.id)).all()),
        inbound_numbers=list(
            session.exec(select(m.InboundNumber).order_by(m.InboundNumber.number, m.InboundNumber.id)).all()
        ),
    )
