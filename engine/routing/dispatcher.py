"""The dispatcher: which call goes to which agent, when. Pure: events in, commands out.

Why pure: the promises of inbound routing are properties of this one object, and they
are tested here exhaustively without Asterisk:
- no agent is ever offered two calls at once (an offer moves the agent Ready -> Ringing
  through the agent state machine, and only Ready agents are picked);
- no caller is lost: a call is always in exactly one of waiting (queued, with music),
  offering (ringing one or more agents) or connected, until it ends or overflows;
- queued calls are delivered oldest first as soon as an agent of their department becomes
  Ready;
- an agent who rejects or does not answer is not offered the same call again at once.

The runtime (engine/runtime) turns commands into ARI requests and feeds back what
Asterisk reports (answered, no answer, caller hung up). All times come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from ..agents import state as st
from .strategy import Candidate, order_candidates


# ---- commands the runtime carries out --------------------------------------------------
@dataclass(frozen=True)
class Offer:
    """Ring these agents for this call (ring-all: several); give up after `timeout` s."""

    call_id: str
    agent_ids: tuple[int, ...]
    timeout: int


@dataclass(frozen=True)
class CancelOffer:
    call_id: str
    agent_id: int


@dataclass(frozen=True)
class Connect:
    """Bridge the call with the agent who answered (or whose persistent path is open)."""

    call_id: str
    agent_id: int
    persistent: bool = False


@dataclass(frozen=True)
class Wait:
    """No agent now: keep the caller waiting with music on hold (queue on)."""

    call_id: str
    position: int


@dataclass(frozen=True)
class Overflow:
    """No agent and no queue: send the caller to the department's overflow."""

    call_id: str
    action: str  # voicemail | busy | hangup


@dataclass(frozen=True)
class CallWaiting:
    """Call waiting: the agent of a direct call is In Call. Beep to them (they alone hear
    it), tell their desktop, and give up after `timeout` s (`waiting_timed_out`)."""

    call_id: str
    agent_id: int
    timeout: int
    active_call_id: str | None = None  # the call the agent is talking on


@dataclass(frozen=True)
class AgentStateChanged:
    """Persist and publish the agent's new state (with its effects)."""

    agent_id: int
    state: st.AgentState
    effects: tuple[str, ...] = ()


# ---- what the dispatcher knows ---------------------------------------------------------
@dataclass
class DepartmentInfo:
    id: int
    strategy: str
    use_as_queue: bool
    ring_timeout: int
    overflow: str


@dataclass
class AgentInfo:
    id: int
    departments: dict[int, int]  # department id -> position
    state: st.AgentState = field(default_factory=st.AgentState)
    admin_status: str = "active"
    persistent_path: bool = False  # audio path open: connect straight in


@dataclass
class CallInfo:
    id: str
    department_id: int | None
    arrived_at: datetime
    status: str = "new"  # new | waiting | offering | connected | call_waiting | ended
    offered_to: set[int] = field(default_factory=set)
    declined_by: set[int] = field(default_factory=set)
    agent_id: int | None = None  # a direct call to one agent
    queue: bool | None = None  # a transfer's `#1`/`#2` choice; None: the department's setting


class RoutingError(ValueError):
    pass


class Dispatcher:
    def __init__(self) -> None:
        self.departments: dict[int, DepartmentInfo] = {}
        self.agents: dict[int, AgentInfo] = {}
        self.calls: dict[str, CallInfo] = {}
        self.last_agent: dict[int, int] = {}  # department -> agent who got its last call
        # Call waiting (see `_call_waiting`): agent -> the direct call waiting for them, and
        # agent -> the call they put on hold to answer it.
        self.waiting_for: dict[int, str] = {}
        self.held_for: dict[int, str] = {}

    # -- configuration -----------------------------------------------------------------
    def set_department(self, dept: DepartmentInfo) -> None:
        self.departments[dept.id] = dept

    def set_agent(self, agent: AgentInfo) -> None:
        self.agents[agent.id] = agent

    # -- queries -----------------------------------------------------------------------
    def waiting_calls(self, department_id: int | None = None) -> list[str]:
        """Calls waiting for an agent, oldest first."""
        calls = [c for c in self.calls.values() if c.status == "waiting"
                 and (department_id is None or c.department_id == department_id)]
        return [c.id for c in sorted(calls, key=lambda c: (c.arrived_at, c.id))]

    # -- events ------------------------------------------------------------------------
    def call_arrived(self, call_id: str, department_id: int | None, now: datetime,
                     agent_id: int | None = None) -> list:
        """A new call for a department (or, with `agent_id`, for one agent directly)."""
        if call_id in self.calls:
            raise RoutingError(f"call {call_id} is already being routed")
        if agent_id is None and department_id not in self.departments:
            raise RoutingError(f"unknown department {department_id}")
        if agent_id is not None and agent_id not in self.agents:
            raise RoutingError(f"unknown agent {agent_id}")
        self.calls[call_id] = CallInfo(call_id, department_id, now, agent_id=agent_id)
        return self._route(self.calls[call_id], now)

    def offer_answered(self, call_id: str, agent_id: int, now: datetime) -> list:
        call = self._call(call_id)
        if call.status != "offering" or agent_id not in call.offered_to:
            # A late answer after the offer was withdrawn: the runtime hangs that leg up.
            return [CancelOffer(call_id, agent_id)]
        cmds: list = []
        for other in sorted(call.offered_to - {agent_id}):
            cmds += self._withdraw(call, other, now)
        call.offered_to = set()
        call.status = "connected"
        agent = self.agents[agent_id]
        cmds += self._transition(agent, st.answer(call_id), now)
        if call.department_id is not None:
            self.last_agent[call.department_id] = agent_id
        cmds.append(Connect(call_id, agent_id))
        return cmds

    def offer_failed(self, call_id: str, agent_id: int, now: datetime) -> list:
        """The agent rejected, did not answer in time, or their phone failed."""
        call = self._call(call_id)
        if agent_id not in call.offered_to:
            return []
        call.offered_to.discard(agent_id)
        call.declined_by.add(agent_id)
        cmds = self._transition(self.agents[agent_id], st.offer_failed(call_id), now)
        if not call.offered_to and call.status == "offering":
            call.status = "new"
            cmds += self._route(call, now)
        # The agent is Ready again: a waiting call (not this one) may go to them.
        return cmds + self._deliver_waiting(self.agents[agent_id], now, exclude=call_id)

    def call_ended(self, call_id: str, now: datetime, wrap_up: bool = True) -> list:
        """The caller hung up (or the call ended after being connected)."""
        call = self.calls.pop(call_id, None)
        if call is None:
            return []
        cmds: list = self._waiting_call_ended(call, now)
        if cmds:
            return cmds
        for agent_id in sorted(call.offered_to):
            cmds += self._withdraw(call, agent_id, now)
        call.status = "ended"
        for agent in self.agents.values():
            if agent.state.state == st.IN_CALL and agent.state.call_id == call_id:
                cmds += self._transition(agent, st.call_ended(call_id, wrap_up=wrap_up), now)
                if agent.state.state == st.READY:
                    cmds += self._deliver_waiting(agent, now)
        return cmds

    def agent_event(self, agent_id: int, event: st.Event, now: datetime) -> list:
        """An agent (or a supervisor) changes the agent's state: sign in, Ready, break..."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise RoutingError(f"unknown agent {agent_id}")
        if event.name == "sign_in":
            event = st.Event("sign_in", ready_after=event.ready_after, admin_status=agent.admin_status)
        offered_call = agent.state.call_id if agent.state.state == st.RINGING else None
        cmds = self._transition(agent, event, now)
        if offered_call and agent.state.state != st.RINGING:
            # The agent left mid-offer: withdraw it and make sure the caller is not lost.
            call = self.calls.get(offered_call)
            if call is not None:
                call.offered_to.discard(agent_id)
                cmds.append(CancelOffer(offered_call, agent_id))
                if not call.offered_to and call.status == "offering":
                    call.status = "new"
                    cmds += self._route(call, now)
        if agent.state.state == st.READY:
            cmds += self._deliver_waiting(agent, now)
        return cmds

    def set_admin_status(self, agent_id: int, admin_status: str, now: datetime) -> list:
        """Blocking or disabling signs a signed-in agent out (they may not take calls)."""
        agent = self.agents[agent_id]
        agent.admin_status = admin_status
        if admin_status != "active" and agent.state.state not in (st.OFFLINE, st.IN_CALL):
            return self.agent_event(agent_id, st.sign_out(), now)
        return []

    def set_persistent_path(self, agent_id: int, is_open: bool, now: datetime) -> list:
        agent = self.agents[agent_id]
        agent.persistent_path = is_open
        return self._deliver_waiting(agent, now) if is_open and agent.state.state == st.READY else []

    # -- internals ---------------------------------------------------------------------
    def _call(self, call_id: str) -> CallInfo:
        call = self.calls.get(call_id)
        if call is None:
            raise RoutingError(f"unknown call {call_id}")
        return call

    def _transition(self, agent: AgentInfo, event: st.Event, now: datetime) -> list:
        agent.state, effects = st.apply(agent.state, event, now)
        return [AgentStateChanged(agent.id, agent.state, tuple(effects))]

    def _withdraw(self, call: CallInfo, agent_id: int, now: datetime) -> list:
        agent = self.agents[agent_id]
        cmds: list = [CancelOffer(call.id, agent_id)]
        if agent.state.state == st.RINGING and agent.state.call_id == call.id:
            cmds += self._transition(agent, st.offer_failed(call.id), now)
            cmds += self._deliver_waiting(agent, now, exclude=call.id)
        return cmds

    def _ready_candidates(self, call: CallInfo) -> list[Candidate]:
        out = []
        for agent in self.agents.values():
            if agent.state.state != st.READY or agent.admin_status != "active":
                continue
            if call.agent_id is not None:
                if agent.id != call.agent_id:
                    continue
                position = 0
            elif call.department_id in agent.departments:
                position = agent.departments[call.department_id]
            else:
                continue
            out.append(Candidate(agent.id, position, agent.state.since or call.arrived_at, agent.admin_status))
        return out

    def _route(self, call: CallInfo, now: datetime) -> list:
        dept = self.departments.get(call.department_id) if call.department_id is not None else None
        strategy = dept.strategy if dept else "fixed_order"
        candidates = self._ready_candidates(call)
        # Not again at once: an agent who declined is offered only when nobody else is Ready.
        fresh = [c for c in candidates if c.agent_id not in call.declined_by]
        if fresh:
            candidates = fresh
        steps = order_candidates(strategy, candidates, call.declined_by,
                                 self.last_agent.get(call.department_id) if dept else None)
        if steps:
            step = steps[0]
            persistent = [a for a in step if self.agents[a].persistent_path]
            if persistent:
                agent = self.agents[persistent[0]]
                call.status = "connected"
                if dept:
                    self.last_agent[dept.id] = agent.id
                return self._transition(agent, st.connect(call.id), now) + [Connect(call.id, agent.id, True)]
            cmds: list = []
            for agent_id in step:
                cmds += self._transition(self.agents[agent_id], st.offer(call.id), now)
            call.offered_to = set(step)
            call.status = "offering"
            timeout = dept.ring_timeout if dept else 20
            return cmds + [Offer(call.id, tuple(step), timeout)]
        # Nobody Ready.
        if call.status == "waiting":
            return []
        waiting = self._call_waiting(call)
        if waiting:
            return waiting
        queue_on = call.queue if call.queue is not None else (dept.use_as_queue if dept else False)
        if queue_on:
            call.status = "waiting"
            return [Wait(call.id, self.waiting_calls(call.department_id).index(call.id) + 1)]
        self.calls.pop(call.id, None)
        call.status = "ended"
        return [Overflow(call.id, dept.overflow if dept else "voicemail")]

    def _deliver_waiting(self, agent: AgentInfo, now: datetime, exclude: str | None = None) -> list:
        """The agent is Ready: give them the oldest waiting call of their departments."""
        if agent.state.state != st.READY or agent.admin_status != "active":
            return []
        waiting = [c for c in self.calls.values() if c.status == "waiting" and c.id != exclude and (
            c.department_id in agent.departments or c.agent_id == agent.id)]
        for call in sorted(waiting, key=lambda c: (c.arrived_at, c.id)):
            if agent.id in call.declined_by and any(
                    a.state.state == st.READY for a in self.agents.values() if a.id != agent.id
                    and call.department_id in a.departments):
                continue
            call.status = "new"
            return self._route(call, now)
        return []

    # -- transfers (engine/features/transfers.py) ----------------------------------------
    # A connected call keeps its CallInfo (status "connected") until `call_ended`. A blind
    # transfer to an agent or department *re-routes* that same CallInfo: the transferring
    # agent is released (wrap-up, as after any call end), the call keeps its arrival time
    # (its place among waiting calls) and is routed again, so "no caller lost" and the
    # agent state rules hold exactly as for a new call. An attended transfer to an agent
    # *reserves* the recipient (Ready -> Ringing -> In Call) so no other call is offered
    # to them while they are consulted.
    def reroute(self, call_id: str, department_id: int | None, now: datetime, agent_id: int | None = None,
                queue: bool | None = None) -> list:
        call = self._call(call_id)
        if agent_id is None and department_id not in self.departments:
            raise RoutingError(f"unknown department {department_id}")
        if agent_id is not None and agent_id not in self.agents:
            raise RoutingError(f"unknown agent {agent_id}")
        cmds: list = []
        for other in sorted(call.offered_to):
            cmds += self._withdraw(call, other, now)
        released = [a for a in self.agents.values() if a.state.state == st.IN_CALL and a.state.call_id == call_id]
        for agent in released:
            cmds += self._transition(agent, st.call_ended(call_id, wrap_up=True), now)
        for held_agent, held in list(self.held_for.items()):
            if held == call_id:  # a held call routed again (its agent left: waiting.agent_gone)
                del self.held_for[held_agent]
        call.department_id, call.agent_id, call.queue = department_id, agent_id, queue
        call.offered_to, call.declined_by, call.status = set(), set(), "new"
        cmds += self._route(call, now)
        for agent in released:
            if agent.state.state == st.READY:
                cmds += self._deliver_waiting(agent, now)
        return cmds

    def release_agent(self, call_id: str, agent_id: int, now: datetime, wrap_up: bool = True) -> list:
        """One agent leaves a call that goes on (attended transfer completed, conference left)."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.state.state != st.IN_CALL or agent.state.call_id != call_id:
            return []
        cmds = self._transition(agent, st.call_ended(call_id, wrap_up=wrap_up), now)
        return cmds + (self._deliver_waiting(agent, now) if agent.state.state == st.READY else [])

    def take_over(self, from_call: str, to_call: str, agent_id: int, now: datetime) -> list:
        """An agent's call is joined to another (a phone's attended transfer): the agent,
        In Call on `from_call`, is In Call on `to_call` from now on. `from_call` then ends
        without them (no wrap-up for it)."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.state.state != st.IN_CALL or agent.state.call_id != from_call:
            raise RoutingError(f"agent {agent_id} is not on call {from_call}")
        self._call(to_call)
        return self._transition(agent, st.take_over(to_call, from_call), now)

    def reserve(self, call_id: str, agent_id: int, now: datetime) -> list:
        """The recipient of an attended transfer: Ready -> Ringing for this call."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise RoutingError(f"unknown agent {agent_id}")
        if agent.state.state != st.READY or agent.admin_status != "active":
            raise RoutingError(f"agent {agent_id} is not available")
        self._call(call_id)
        return self._transition(agent, st.offer(call_id), now)

    def reserve_answered(self, call_id: str, agent_id: int, now: datetime) -> list:
        agent = self.agents.get(agent_id)
        if agent is None or agent.state.state != st.RINGING or agent.state.call_id != call_id:
            return []
        return self._transition(agent, st.answer(call_id), now)

    def reserve_failed(self, call_id: str, agent_id: int, now: datetime, wrap_up: bool = False) -> list:
        """The recipient did not answer, was busy or hung up the consultation.

        A consultation is agent to agent: the recipient goes straight back to Ready. After a
        conference (`wrap_up`), they talked with the customer, so they wrap up like anyone."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.state.call_id != call_id:
            return []
        if agent.state.state == st.RINGING:
            cmds = self._transition(agent, st.offer_failed(call_id), now)
        elif agent.state.state == st.IN_CALL:
            cmds = self._transition(agent, st.call_ended(call_id, wrap_up=wrap_up), now)
        else:
            return []
        return cmds + (self._deliver_waiting(agent, now) if agent.state.state == st.READY else [])

    # -- call waiting (the one exception to "one call per agent") -----------------------
    # An agent In Call may have ONE more call waiting, and only a direct call (their direct
    # line, or an agent dialling their intercom): department calls have other agents and a
    # queue. The waiting call is not an offer (the agent stays In Call, nothing rings); the
    # agent hears a double beep and may answer it, which puts the first call on hold. An
    # agent with a call already on hold gets no second waiting call (it overflows).
    direct_ring_timeout = 20  # seconds, when the agent has no department

    def _call_waiting(self, call: CallInfo) -> list:
        agent = self.agents.get(call.agent_id) if call.agent_id is not None else None
        if agent is None or agent.state.state != st.IN_CALL or agent.admin_status != "active" \
                or agent.id in self.waiting_for or agent.id in self.held_for or agent.id in call.declined_by:
            return []
        timeouts = [self.departments[d].ring_timeout for d in agent.departments if d in self.departments]
        call.status = "call_waiting"
        self.waiting_for[agent.id] = call.id
        return [CallWaiting(call.id, agent.id, min(timeouts) if timeouts else self.direct_ring_timeout,
                            agent.state.call_id)]

    def waiting_timed_out(self, call_id: str, now: datetime) -> list:
        """Nobody answered the waiting call in time: the direct call's overflow (voicemail)."""
        call = self.calls.get(call_id)
        if call is None or call.status != "call_waiting":
            return []
        self.waiting_for.pop(call.agent_id, None)
        call.declined_by.add(call.agent_id)  # not waiting a second time
        call.status = "new"
        return self._route(call, now)  # Ready by now: offered; else overflow (or waiting again)

    def waiting_answered(self, call_id: str, agent_id: int, now: datetime) -> list:
        """The agent answers their waiting call: the current one goes on hold."""
        call = self._call(call_id)
        agent = self.agents.get(agent_id)
        if call.status != "call_waiting" or self.waiting_for.get(agent_id) != call_id or agent is None:
            raise RoutingError(f"call {call_id} is not waiting for agent {agent_id}")
        del self.waiting_for[agent_id]
        call.status = "connected"
        if agent.state.state == st.READY:  # the first call ended meanwhile: a plain connect
            return self._transition(agent, st.connect(call_id), now)
        if agent.state.state != st.IN_CALL:
            call.status = "call_waiting"
            self.waiting_for[agent_id] = call_id
            raise RoutingError(f"agent {agent_id} is {agent.state.state}, not in a call")
        self.held_for[agent_id] = agent.state.call_id
        return self._switch(agent, call_id, now)

    def _switch(self, agent: AgentInfo, call_id: str, now: datetime) -> list:
        """The agent, still In Call, now talks on `call_id` (the state machine has no event
        for this: In Call stays In Call, only the call changes)."""
        agent.state = replace(agent.state, call_id=call_id)
        return [AgentStateChanged(agent.id, agent.state, ("call_switched",))]

    def _waiting_call_ended(self, call: CallInfo, now: datetime) -> list:
        """Call-waiting bookkeeping when `call` ends; commands when it settled the agent."""
        for agent_id, waiting in list(self.waiting_for.items()):
            if waiting == call.id:
                del self.waiting_for[agent_id]
        for agent_id, held in list(self.held_for.items()):
            agent = self.agents[agent_id]
            if held == call.id:  # the held caller left
                del self.held_for[agent_id]
            elif agent.state.state == st.IN_CALL and agent.state.call_id == call.id and held in self.calls:
                del self.held_for[agent_id]  # back to the held call (still on hold)
                return self._switch(agent, held, now)
        return []
