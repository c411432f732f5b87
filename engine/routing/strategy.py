"""Which Ready agent gets the next call: the department's routing strategy, pure.

Input is a list of `Candidate`s (the department's members with their live state); output is
the order to offer in. Ring-all returns one group of everybody; the other strategies return
one agent per step, and the router walks the list on no-answer.

Rules common to every strategy:
- only Ready agents (the caller filters agent state; admin status is checked here too,
  so a blocked or disabled agent is never offered a call whatever the live state says);
- an agent who just rejected or did not answer this call is tried last, not again at once
  (`skip` holds those agent ids; they come back only when nobody else is left).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

LONGEST_IDLE, ROUND_ROBIN, RING_ALL, FIXED_ORDER = "longest_idle", "round_robin", "ring_all", "fixed_order"


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    position: int  # order within the department (fixed order)
    ready_since: datetime  # when the agent last became Ready (longest idle)
    admin_status: str = "active"


def order_candidates(
    strategy: str,
    candidates: list[Candidate],
    skip: frozenset[int] | set[int] = frozenset(),
    last_agent_id: int | None = None,
) -> list[list[int]]:
    """Return offer steps: each step a list of agent ids to ring at once.

    `last_agent_id` is the agent the department's previous call went to (round robin
    continues after it).
    """
    pool = [c for c in candidates if c.admin_status == "active"]
    if not pool:
        return []
    if strategy == RING_ALL:
        fresh = [c.agent_id for c in sorted(pool, key=lambda c: (c.position, c.agent_id)) if c.agent_id not in skip]
        return [fresh] if fresh else [[c.agent_id for c in sorted(pool, key=lambda c: (c.position, c.agent_id))]]
    if strategy == LONGEST_IDLE:
        ordered = sorted(pool, key=lambda c: (c.ready_since, c.position, c.agent_id))
    elif strategy == FIXED_ORDER:
        ordered = sorted(pool, key=lambda c: (c.position, c.agent_id))
    elif strategy == ROUND_ROBIN:
        by_position = sorted(pool, key=lambda c: (c.position, c.agent_id))
        ids = [c.agent_id for c in by_position]
        # Continue after the agent who had the previous call; from the top when unknown.
        start = ids.index(last_agent_id) + 1 if last_agent_id in ids else 0
        ordered = by_position[start:] + by_position[:start]
    else:
        raise ValueError(f"unknown routing strategy {strategy!r}")
    fresh = [c.agent_id for c in ordered if c.agent_id not in skip]
    tried = [c.agent_id for c in ordered if c.agent_id in skip]
    return [[agent_id] for agent_id in fresh + tried]
