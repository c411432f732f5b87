"""Cached routing configuration: what the call flow reads on every call, kept in memory.

Why a cache: the hot path (a caller's StasisStart -> the agent's INVITE) must not wait
for the database. Everything a call needs to be routed (inbound numbers, time groups,
IVR menus, departments' music and limits, agents' dial targets) is read once at start-up
and again on `reload()` (the web side calls it after an admin edits configuration). The
values are plain frozen dataclasses: the call actors read them without copying or locking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import select

from engine.store import models as m
from engine.store.session import session_scope

from .hours import Interval, is_open


@dataclass(frozen=True)
class InboundInfo:
    number: str
    description: str
    target_type: str  # department | ivr | agent
    target_id: int
    time_group_id: int | None
    closed_announcement: str
    closed_action: str  # voicemail | hangup


@dataclass(frozen=True)
class DepartmentConf:
    id: int
    name: str
    moh_class: str
    time_group_id: int | None
    not_ready_path_limit: int
    ring_timeout: int
    use_as_queue: bool = True
    transfer_code: str | None = None


@dataclass(frozen=True)
class AgentConf:
    id: int
    name: str
    sip_username: str
    intercom: str
    region: str
    call_forwarding_number: str | None
    alternative_numbers: tuple[str, ...]
    extension_caller_id: str | None
    admin_status: str = "active"


@dataclass(frozen=True)
class IvrConf:
    id: int
    name: str
    greeting: str
    timeout: int
    max_retries: int
    options: dict[str, tuple[str, int | None]]  # digit -> (target_type, target_id)
    transfer_code: str | None = None


@dataclass
class RoutingDirectory:
    inbound: dict[str, InboundInfo] = field(default_factory=dict)
    departments: dict[int, DepartmentConf] = field(default_factory=dict)
    agents: dict[int, AgentConf] = field(default_factory=dict)
    ivrs: dict[int, IvrConf] = field(default_factory=dict)
    time_groups: dict[int, tuple[str, tuple[Interval, ...]]] = field(default_factory=dict)
    by_sip_username: dict[str, int] = field(default_factory=dict)
    by_intercom: dict[str, int] = field(default_factory=dict)
    by_transfer_code: dict[str, tuple[str, int]] = field(default_factory=dict)  # code -> (department|ivr, id)

    @classmethod
    def load(cls, db_url: str) -> RoutingDirectory:
        """Read everything (blocking: run it in a thread)."""
        d = cls()
        d.reload(db_url)
        return d

    def reload(self, db_url: str) -> None:
        with session_scope(db_url) as s:
            inbound = {n.number: InboundInfo(n.number, n.description or "", n.target_type, n.target_id,
                                             n.time_group_id, n.closed_announcement, n.closed_action)
                       for n in s.exec(select(m.InboundNumber)).all()}
            departments = {d.id: DepartmentConf(d.id, d.name, d.moh_class, d.time_group_id, d.not_ready_path_limit,
                                                d.ring_timeout, d.use_as_queue, d.transfer_code or None)
                           for d in s.exec(select(m.Department)).all()}
            agents = {a.id: AgentConf(a.id, a.name, a.sip_username, a.intercom, a.region, a.call_forwarding_number,
                                      tuple(a.alternative_numbers or ()), a.extension_caller_id,
                                      a.admin_status)
                      for a in s.exec(select(m.Agent)).all()}
            options: dict[int, dict[str, tuple[str, int | None]]] = {}
            for o in s.exec(select(m.IvrOption)).all():
                options.setdefault(o.ivr_id, {})[o.digit] = (o.target_type, o.target_id)
            ivrs = {i.id: IvrConf(i.id, i.name, i.greeting, i.timeout, i.max_retries, options.get(i.id, {}),
                                  i.transfer_code or None)
                    for i in s.exec(select(m.Ivr)).all()}
            rules: dict[int, list[Interval]] = {}
            for r in s.exec(select(m.TimeGroupRule)).all():
                rules.setdefault(r.time_group_id, []).append(Interval(r.weekday, r.start, r.end))
            groups = {g.id: (g.timezone, tuple(rules.get(g.id, ()))) for g in s.exec(select(m.TimeGroup)).all()}
        # Swap in whole dicts: a reader never sees a half-loaded directory.
        self.inbound, self.departments, self.agents, self.ivrs, self.time_groups = (
            inbound, departments, agents, ivrs, groups)
        self.by_sip_username = {a.sip_username: a.id for a in agents.values()}
        self.by_intercom = {a.intercom: a.id for a in agents.values()}
        self.by_transfer_code = {**{i.transfer_code: ("ivr", i.id) for i in ivrs.values() if i.transfer_code},
                                 **{d.transfer_code: ("department", d.id) for d in departments.values()
                                    if d.transfer_code}}

    def is_open(self, time_group_id: int | None, at: datetime) -> bool:
        """No time group means always open; an unknown one (deleted meanwhile) too."""
        if time_group_id is None or time_group_id not in self.time_groups:
            return True
        tz, intervals = self.time_groups[time_group_id]
        return is_open(list(intervals), tz, at)
