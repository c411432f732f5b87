"""The routing service: the dispatcher, fed from the database, its commands carried out.

It is the one place where agent state changes: agent and supervisor actions (sign in,
Ready, break, sign out, wrap-up) and call events (offered, answered, no answer, hung up)
all go through `Dispatcher`, synchronously, on the event loop, so they are totally
ordered without locks. Each resulting command is handed on:
- `AgentStateChanged` -> stored through the serial writer (history in order) and published;
- call commands (`Offer`, `Connect`, `Wait`, `Overflow`, `CancelOffer`) -> `executor`,
  which the runtime sets to post them to the owning call's actor.

Loading at start-up restores agents' persisted states; states that referred to a call
(Ringing, In Call) are settled by the runtime once it has re-read the live channels.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from sqlmodel import select

from ..agents import records as agent_records
from ..agents import state as st
from ..log import get_logger
from ..store import models as m
from ..store.session import session_scope
from ..store.writer import SerialWriter
from .dispatcher import AgentInfo, AgentStateChanged, DepartmentInfo, Dispatcher, RoutingError

log = get_logger("engine.routing.service")

Publisher = Callable[[dict], None]
Executor = Callable[[object], None]


class AgentActionError(ValueError):
    """An agent action was refused (unknown agent, break code, invalid transition)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class RoutingService:
    def __init__(self, db_url: str, writer: SerialWriter | None = None,
                 publish: Publisher | None = None, executor: Executor | None = None,
                 clock: Callable[[], datetime] = _now):
        self.db_url = db_url
        self.writer = writer or SerialWriter()
        self.publish = publish or (lambda event: None)
        self.executor = executor or (lambda command: None)
        self.clock = clock
        self.dispatcher = Dispatcher()
        self.break_codes: set[str] = set()
        self.termination_codes: dict[str, int | None] = {}
        self.department_of_agent: dict[int, int | None] = {}
        self.ready_after_sign_in: dict[int, bool] = {}
        self._seen_state: dict[int, str] = {}  # last state handed on, per agent
        # Called after every `load()`: caches elsewhere (the engine's routing directory)
        # that must see the same configuration change.
        self.reload_hooks: list[Callable[[], None]] = []
        # The engine's call control (engine/features/control.py) for the web side; None
        # when the web runs without an engine (then call-control endpoints answer 503).
        self.call_control = None

    # -- loading -----------------------------------------------------------------------
    def load(self) -> None:
        """Read configuration and persisted agent states (blocking; call at start-up)."""
        with session_scope(self.db_url) as session:
            departments = session.exec(select(m.Department)).all()
            agents = session.exec(select(m.Agent)).all()
            links = session.exec(select(m.AgentDepartment)).all()
            presences = {p.agent_id: p for p in session.exec(select(m.AgentPresence)).all()}
            self.break_codes = set(session.exec(select(m.BreakCode.code)).all())
            self.termination_codes = {t.code: t.department_id for t in session.exec(select(m.TerminationCode)).all()}
        for dept in departments:
            self.dispatcher.set_department(DepartmentInfo(dept.id, dept.strategy, dept.use_as_queue,
                                                          dept.ring_timeout, dept.overflow))
            self.ready_after_sign_in[dept.id] = dept.ready_after_sign_in
        memberships: dict[int, dict[int, int]] = {}
        for link in links:
            memberships.setdefault(link.agent_id, {})[link.department_id] = link.position
        for agent in agents:
            known = self.dispatcher.agents.get(agent.id)
            presence = presences.get(agent.id)
            state = known.state if known else (
                st.AgentState(presence.state, _aware(presence.since), presence.break_code, presence.call_id)
                if presence else st.AgentState())
            self.dispatcher.set_agent(AgentInfo(agent.id, memberships.get(agent.id, {}), state, agent.admin_status,
                                                known.persistent_path if known else False))
            if presence is not None:
                self.department_of_agent[agent.id] = presence.department_id
            self._seen_state[agent.id] = state.state
        for hook in self.reload_hooks:
            hook()

    # -- agent actions -----------------------------------------------------------------
    def sign_in(self, agent_id: int, department_id: int | None = None) -> st.AgentState:
        agent = self._agent(agent_id)
        if department_id is None:
            department_id = min(agent.departments, key=agent.departments.get) if agent.departments else None
        elif department_id not in agent.departments:
            raise AgentActionError(f"agent {agent_id} is not a member of department {department_id}")
        self.department_of_agent[agent_id] = department_id
        ready = self.ready_after_sign_in.get(department_id, False) if department_id else False
        return self._agent_event(agent_id, st.sign_in(ready), reason="sign_in")

    def set_ready(self, agent_id: int) -> st.AgentState:
        return self._agent_event(agent_id, st.set_ready(), reason="ready")

    def set_not_ready(self, agent_id: int, break_code: str | None) -> st.AgentState:
        if break_code is not None and break_code not in self.break_codes:
            raise AgentActionError(f"unknown break code {break_code!r}")
        return self._agent_event(agent_id, st.set_not_ready(break_code), reason="break")

    def sign_out(self, agent_id: int) -> st.AgentState:
        return self._agent_event(agent_id, st.sign_out(), reason="sign_out")

    def finish_wrap_up(self, agent_id: int, termination_code: str, ready: bool = True,
                       break_code: str | None = None) -> st.AgentState:
        if termination_code not in self.termination_codes:
            raise AgentActionError(f"unknown termination code {termination_code!r}")
        scope = self.termination_codes[termination_code]
        if scope is not None and scope != self.department_of_agent.get(agent_id):
            raise AgentActionError(f"termination code {termination_code!r} belongs to another department")
        if break_code is not None and break_code not in self.break_codes:
            raise AgentActionError(f"unknown break code {break_code!r}")
        call_id = self._agent(agent_id).state.call_id
        return self._agent_event(agent_id, st.finish_wrap_up(termination_code, ready, break_code),
                                 reason="wrap_up", termination_code=termination_code, ended_call_id=call_id)

    def set_admin_status(self, agent_id: int, admin_status: str) -> None:
        self._agent(agent_id)
        self.handle(self.dispatcher.set_admin_status(agent_id, admin_status, self.clock()), reason="admin")

    # -- call events (from the runtime) ------------------------------------------------
    def call_arrived(self, call_id: str, department_id: int | None, agent_id: int | None = None) -> None:
        self.handle(self.dispatcher.call_arrived(call_id, department_id, self.clock(), agent_id=agent_id),
                    reason="call")

    def offer_answered(self, call_id: str, agent_id: int) -> None:
        self.handle(self.dispatcher.offer_answered(call_id, agent_id, self.clock()), reason="answer")

    def offer_failed(self, call_id: str, agent_id: int) -> None:
        self.handle(self.dispatcher.offer_failed(call_id, agent_id, self.clock()), reason="no_answer")

    def call_ended(self, call_id: str, wrap_up: bool = True) -> None:
        self.handle(self.dispatcher.call_ended(call_id, self.clock(), wrap_up=wrap_up), reason="call_end")

    # -- transfers (see Dispatcher.reroute / reserve) ----------------------------------
    def reroute(self, call_id: str, department_id: int | None, agent_id: int | None = None,
                queue: bool | None = None) -> None:
        self.handle(self.dispatcher.reroute(call_id, department_id, self.clock(), agent_id=agent_id, queue=queue),
                    reason="transfer")

    def release_agent(self, call_id: str, agent_id: int) -> None:
        self.handle(self.dispatcher.release_agent(call_id, agent_id, self.clock()), reason="transfer")

    def take_over(self, from_call: str, to_call: str, agent_id: int) -> None:
        self.handle(self.dispatcher.take_over(from_call, to_call, agent_id, self.clock()), reason="transfer")

    def reserve(self, call_id: str, agent_id: int) -> None:
        self.handle(self.dispatcher.reserve(call_id, agent_id, self.clock()), reason="transfer")

    def reserve_answered(self, call_id: str, agent_id: int) -> None:
        self.handle(self.dispatcher.reserve_answered(call_id, agent_id, self.clock()), reason="transfer")

    def reserve_failed(self, call_id: str, agent_id: int, wrap_up: bool = False) -> None:
        self.handle(self.dispatcher.reserve_failed(call_id, agent_id, self.clock(), wrap_up), reason="transfer")

    def set_persistent_path(self, agent_id: int, is_open: bool) -> None:
        self.handle(self.dispatcher.set_persistent_path(agent_id, is_open, self.clock()), reason="audio_path")

    def waiting_timed_out(self, call_id: str) -> None:
        """Call waiting: the agent did not answer the waiting call in time."""
        self.handle(self.dispatcher.waiting_timed_out(call_id, self.clock()), reason="call_waiting_timeout")

    def waiting_answered(self, call_id: str, agent_id: int) -> None:
        """Call waiting: the agent answers it (their current call goes on hold)."""
        self.handle(self.dispatcher.waiting_answered(call_id, agent_id, self.clock()), reason="call_waiting")

    def settle_call(self, call_id: str) -> None:
        """Agents the database says are Ringing for / In Call on `call_id`, a call the
        dispatcher does not know (it ended while the engine was down, or it was adopted
        after a restart and has now ended): Ringing -> Ready, In Call -> Wrap-up."""
        for agent in list(self.dispatcher.agents.values()):
            if agent.state.call_id != call_id or call_id in self.dispatcher.calls:
                continue
            if agent.state.state == st.RINGING:
                event = st.offer_failed(call_id)
            elif agent.state.state == st.IN_CALL:
                event = st.call_ended(call_id, wrap_up=True)
            else:
                continue
            self.handle(self.dispatcher.agent_event(agent.id, event, self.clock()), reason="settled")

    def settle_orphans(self, live_call_ids: set[str]) -> list[int]:
        """After a restart: settle every agent whose call is no longer live. Returns them."""
        settled = []
        for agent in list(self.dispatcher.agents.values()):
            call_id = agent.state.call_id
            if agent.state.state in (st.RINGING, st.IN_CALL) and call_id and call_id not in live_call_ids:
                self.settle_call(call_id)
                settled.append(agent.id)
        return settled

    # -- plumbing ----------------------------------------------------------------------
    def _agent(self, agent_id: int) -> AgentInfo:
        agent = self.dispatcher.agents.get(agent_id)
        if agent is None:
            raise AgentActionError(f"unknown agent {agent_id}")
        return agent

    def _agent_event(self, agent_id: int, event: st.Event, reason: str, **extra) -> st.AgentState:
        self._agent(agent_id)
        try:
            commands = self.dispatcher.agent_event(agent_id, event, self.clock())
        except (st.InvalidTransition, RoutingError) as exc:
            raise AgentActionError(str(exc)) from None
        self.handle(commands, reason=reason, **extra)
        return self.dispatcher.agents[agent_id].state

    def handle(self, commands: list, reason: str = "", termination_code: str | None = None,
               ended_call_id: str | None = None) -> None:
        for command in commands:
            if isinstance(command, AgentStateChanged):
                # The dispatcher has already moved on: the state before is what we last saw.
                from_state = self._seen_state.get(command.agent_id, st.OFFLINE)
                self._seen_state[command.agent_id] = command.state.state
                self.writer.submit(agent_records.save_state_change, self.db_url, command.agent_id, from_state,
                                   command.state, command.effects, self.department_of_agent.get(command.agent_id),
                                   reason, termination_code, ended_call_id)
                self.publish(agent_state_event(command.agent_id, command.state, from_state,
                                               self.department_of_agent.get(command.agent_id)))
            else:
                try:
                    self.executor(command)
                except Exception:  # noqa: BLE001 - one failed command must not stop the others
                    log.exception("command_failed", command=repr(command))



def agent_state_event(agent_id: int, state: st.AgentState, from_state: str, department_id: int | None) -> dict:
    """The event the web side receives on every agent state change."""
    return {
        "type": "agent_state",
        "agent_id": agent_id,
        "state": state.state,
        "from_state": from_state,
        "since": state.since.isoformat() if state.since else None,
        "break_code": state.break_code,
        "call_id": state.call_id,
        "department_id": department_id,
    }


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
