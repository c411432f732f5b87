"""Ringing one agent for one call ("ring per call"): the extension, then fallbacks.

An `Offer` from the dispatcher names agents and a ring timeout. For each agent the engine
originates a channel to the agent's extension (`PJSIP/<sip user>`); when that leg fails
before it is answered (phone unregistered, busy, rejected), the agent's call forwarding
number and then the alternative numbers are tried through the trunk
(`PJSIP/<E.164>@trunk`: the trunk endpoint's AOR holds the carrier's address), all within
the same ring timeout. When the timeout passes, or every target failed, the dispatcher is
told `offer_failed` and picks the next agent.

Each originated channel gets an id chosen here and is bound to the call's actor *before*
the originate is sent, so its events (answer = StasisStart, failure = ChannelDestroyed)
can never reach the engine unowned. Everything here runs in the call's actor.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.calls import records
from engine.pbx.ari import AriError
from engine.store.fields import utcnow

from .dispatcher import Offer

if TYPE_CHECKING:  # pragma: no cover
    from .flow import CallFlow


@dataclass
class AgentOffer:
    agent_id: int
    targets: list[tuple[str, str]]  # (leg role, PJSIP dial string)
    deadline: float  # loop.time()
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    index: int = -1
    channel_id: str | None = None
    answered: bool = False


def dial_targets(agent) -> list[tuple[str, str]]:
    targets = [("agent", f"PJSIP/{agent.sip_username}")]
    numbers = ([agent.call_forwarding_number] if agent.call_forwarding_number else []) + list(agent.alternative_numbers)
    return targets + [("external", f"PJSIP/{number}@trunk") for number in numbers]


class Offers:
    def __init__(self, flow: CallFlow):
        self.flow = flow
        self.by_agent: dict[int, AgentOffer] = {}
        self.by_channel: dict[str, AgentOffer] = {}

    @property
    def active(self) -> bool:
        return bool(self.by_agent)

    async def start(self, command: Offer) -> None:
        loop = asyncio.get_running_loop()
        starts = []
        for agent_id in command.agent_ids:
            agent = self.flow.engine.directory.agents.get(agent_id)
            if agent is None:
                self.flow.log.warning("offer_unknown_agent", agent_id=agent_id)
                self.flow.routing_call("offer_failed", agent_id)
                continue
            offer = AgentOffer(agent_id, dial_targets(agent), loop.time() + command.timeout)
            self.by_agent[agent_id] = offer
            self.flow.timer(command.timeout, "offer", agent_id=agent_id, token=offer.token)
            starts.append(self._dial_next(offer))
        if starts:
            await asyncio.gather(*starts)
        if self.flow.media.answered:  # after an IVR: music, since ringback needs an unanswered channel
            await self.flow.media.hold_music(self.flow.moh_class())
        else:
            await self.flow.media.ring()

    async def _dial_next(self, offer: AgentOffer) -> None:
        """Originate to the offer's next target; fail the offer when none is left or time is up."""
        flow = self.flow
        loop = asyncio.get_running_loop()
        while offer.index + 1 < len(offer.targets) and self.by_agent.get(offer.agent_id) is offer:
            offer.index += 1
            remaining = offer.deadline - loop.time()
            if remaining < 1.0:
                break
            role, endpoint = offer.targets[offer.index]
            channel_id = f"sb-{uuid.uuid4().hex}"
            flow.engine.dispatcher.bind(channel_id, flow.call.id)
            self.by_channel[channel_id] = offer
            offer.channel_id = channel_id
            try:
                await flow.engine.ari.request(
                    "POST", f"channels/{channel_id}", endpoint=endpoint, app=flow.engine.settings.ari_app,
                    appArgs=f"offer,{flow.call.id},{offer.agent_id}", timeout=max(1, int(remaining)),
                    callerId=flow.caller_id_text(), originator=flow.call.caller_channel_id)
            except AriError as exc:
                flow.log.info("offer_originate_failed", agent_id=offer.agent_id, endpoint=endpoint, error=str(exc))
                self.by_channel.pop(channel_id, None)
                flow.engine.dispatcher.unbind(channel_id)
                offer.channel_id = None
                continue
            flow.log.info("offer_dialled", agent_id=offer.agent_id, endpoint=endpoint, channel_id=channel_id)
            flow.write(records.apply_steps, flow.call.id, [
                ("leg", {"channel_id": channel_id, "role": role, "endpoint": endpoint, "agent_id": offer.agent_id}),
                ("event", {"kind": "offered",
                           "detail": {"agent_id": offer.agent_id, "endpoint": endpoint, "channel_id": channel_id}})])
            return
        if self.by_agent.get(offer.agent_id) is offer:
            self._drop(offer)
            flow.write(records.add_event, flow.call.id, "no_answer", {"agent_id": offer.agent_id})
            flow.routing_call("offer_failed", offer.agent_id)

    def _drop(self, offer: AgentOffer) -> None:
        if self.by_agent.get(offer.agent_id) is offer:
            del self.by_agent[offer.agent_id]

    def take_answered(self, agent_id: int) -> str | None:
        """The answered channel of `agent_id`'s offer, handed over to the connected call."""
        offer = self.by_agent.pop(agent_id, None)
        if offer is None or not offer.answered:
            return None
        self.by_channel.pop(offer.channel_id, None)
        return offer.channel_id

    async def cancel(self, agent_id: int) -> None:
        offer = self.by_agent.pop(agent_id, None)
        if offer is not None and offer.channel_id:
            await self.flow.hangup_channel(offer.channel_id)

    async def cancel_all(self) -> None:
        for agent_id in list(self.by_agent):
            await self.cancel(agent_id)

    async def on_timeout(self, agent_id: int, token: str) -> None:
        offer = self.by_agent.get(agent_id)
        if offer is None or offer.token != token or offer.answered:
            return
        self._drop(offer)
        if offer.channel_id:
            await self.flow.hangup_channel(offer.channel_id)
        self.flow.write(records.add_event, self.flow.call.id, "no_answer", {"agent_id": agent_id, "reason": "timeout"})
        self.flow.routing_call("offer_failed", agent_id)

    async def on_event(self, event: dict) -> bool:
        """Handle an event of an offer leg; False when it is not one."""
        channel = event.get("channel") or {}
        offer = self.by_channel.get(channel.get("id"))
        if offer is None:
            return False
        kind = event.get("type")
        current = self.by_agent.get(offer.agent_id) is offer and offer.channel_id == channel["id"]
        if kind == "StasisStart":
            if not current:
                await self.flow.hangup_channel(channel["id"])  # a late answer after the offer ended
                return True
            offer.answered = True
            self.flow.write(records.apply_steps, self.flow.call.id, [
                ("leg_update", {"channel_id": channel["id"], "answered_at": utcnow()}),
                ("event", {"kind": "answered", "detail": {"agent_id": offer.agent_id, "channel_id": channel["id"]}})])
            self.flow.routing_call("offer_answered", offer.agent_id, hangup_on_error=channel["id"])
            return True
        if kind == "ChannelDestroyed":
            self.by_channel.pop(channel["id"], None)
            self.flow.write(records.update_leg, self.flow.call.id, channel["id"], ended_at=utcnow(),
                            hangup_cause=event.get("cause"))
            if current and not offer.answered:
                self.flow.log.info("offer_leg_failed", agent_id=offer.agent_id, cause=event.get("cause"))
                await self._dial_next(offer)
            return True
        return True
