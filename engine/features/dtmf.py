"""Feature codes typed on the agent's phone during a connected call, at run time.

Why a module of its own: the parsing is pure (`codes.py`, exhaustively tested); this file
only feeds it the agent channel's `ChannelDtmfReceived` digits, arms the inter-digit
timeout (a flow TIMER message, so it is handled in the call's actor like every other
event), resolves what was dialled into a transfer target, and plays the error tone.

The agent's channel joins the call's bridge with `absorbDTMF=true`: the caller does not
hear the digits, and Asterisk still reports each one to the app (ChannelDtmfReceived).

Each key press reaches the engine twice: AMI `DTMFBegin` as the key goes down
(`DTMF_BEGIN` messages, posted by the engine's AMI handler) and ARI `ChannelDtmfReceived`
when the digit ends. ARI alone would put the whole key press in front of every action:
Asterisk emits the end only once the digit's duration has passed (a SIP INFO digit with
Duration=100 is held back 100 ms and more). The engine acts on whichever of the two comes
first and drops its pair (`KeyPresses`), so a late or missing AMI still works, only slower.

Error tone: any refusal (unknown intercom or code, agent not Ready, external transfer
while the department's "Use it as Queue" is off, an invalid number, `*3` outside a
consultation, the inter-digit timeout) plays `ERROR_TONE` on the agent's channel only and
changes nothing else. Playing on a bridged channel suspends that channel's bridge audio
for the playback, so only the agent hears it and the caller hears a short silence.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from engine.pbx.ari import AriError

from . import codes
from . import transfer as tm

if TYPE_CHECKING:  # pragma: no cover
    from .transfers import CallFeatures

DTMF_BEGIN = "SwitchboardDtmfBegin"  # {"type", "channel_id", "digit"}: AMI DTMFBegin, received
ERROR_TONE = "tone:errortone"  # indications.conf: three short 480 Hz pips, played once
ERROR_TONE_SECONDS = 0.6  # the tone's elements play once; the playback is stopped after this

# Feature code -> (transfer flow, target kind, queue)
ACTIONS = {
    codes.BLIND: (tm.BLIND, tm.AGENT, True),
    codes.ATTENDED: (tm.ATTENDED, tm.AGENT, True),
    codes.EXTERNAL_BLIND: (tm.BLIND, tm.EXTERNAL, True),
    codes.EXTERNAL_ATTENDED: (tm.ATTENDED, tm.EXTERNAL, True),
    codes.CODE_QUEUE_OFF: (tm.BLIND, "code", False),
    codes.CODE_QUEUE_ON: (tm.BLIND, "code", True),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


class KeyPresses:
    """Pairs the two reports of each key press ("begin" from AMI, "end" from ARI) so a
    digit is fed to the parser once, on whichever report comes first. Pure."""

    LIMIT = 32  # reports kept unpaired per channel (AMI down: every end stays unpaired)

    def __init__(self) -> None:
        self._ahead: dict[str, deque[tuple[str, str]]] = {}

    def first(self, channel_id: str, source: str, digit: str) -> bool:
        """True when this report is the first of its key press (act on it)."""
        queue = self._ahead.setdefault(channel_id, deque(maxlen=self.LIMIT))
        if queue and queue[0][0] != source:
            if queue[0][1] == digit:
                queue.popleft()  # the other report of a key press already acted on
                return False
            queue.clear()  # out of step (a report was lost): start pairing afresh
        queue.append((source, digit))
        return True


class FeatureDigits:
    def __init__(self, features: CallFeatures):
        self.features = features
        self.parser = codes.FeatureCodeParser()
        self.token: str | None = None
        self.presses = KeyPresses()

    def reset(self) -> None:
        self.parser.reset()
        self.token = None

    async def on_digit(self, channel_id: str, digit: str, source: str = "end") -> None:
        """One report of a key press on the code channel: `source` "begin" (AMI) or "end" (ARI)."""
        if not self.presses.first(channel_id, source, digit):
            return
        outcome = self.parser.feed(digit, _now())
        await self._outcome(outcome)

    async def on_timeout(self, token: str | None) -> None:
        if token is None or token != self.token:
            return
        self.token = None
        outcome = self.parser.expire(_now())
        if outcome is not None:
            await self._outcome(outcome)

    async def _outcome(self, outcome) -> None:
        flow = self.features.flow
        if isinstance(outcome, codes.Pending):
            self.token = uuid.uuid4().hex
            delay = max(0.0, (outcome.deadline - _now()).total_seconds()) + 0.02
            flow.timer(delay, "feature_code", token=self.token)
            return
        self.token = None
        if isinstance(outcome, codes.Ignored) or outcome is None:
            return
        if isinstance(outcome, codes.Invalid):
            flow.log.info("feature_code_invalid", digits=outcome.digits, reason=outcome.reason)
            self.features._record("feature_code_refused", {"digits": outcome.digits, "reason": outcome.reason})
            await self.error_tone()
            return
        await self._act(outcome)

    async def _act(self, action: codes.Action) -> None:
        from .transfers import ControlError

        features = self.features
        try:
            if action.kind == codes.CONFERENCE:
                try:
                    commands = features.machine.merge()
                except tm.TransferError as exc:
                    raise ControlError(409, "conference_refused", str(exc)) from None
                await features.run(commands, via="feature_code")
                return
            flow_kind, target_kind, queue = ACTIONS[action.kind]
            target = features.new_target(target_kind, action.target or "", queue)
            await features.start(flow_kind, target, via="feature_code")
        except ControlError as exc:
            features.flow.log.info("feature_code_refused", digits=action.digits, reason=exc.message)
            features._record("feature_code_refused", {"digits": action.digits, "reason": exc.message})
            await self.error_tone()

    async def error_tone(self) -> None:
        """A short error tone to the agent alone; the call is otherwise left as it was."""
        channel = self.features.code_channel() or self.features.flow.agent_channel
        if not channel:
            return
        engine = self.features.engine
        playback_id = f"pb-err-{uuid.uuid4().hex[:12]}"
        try:
            await engine.ari.request("POST", f"channels/{channel}/play/{playback_id}", media=ERROR_TONE)
        except AriError as exc:
            self.features.flow.log.info("error_tone_failed", error=str(exc))
            return

        async def stop():
            await asyncio.sleep(ERROR_TONE_SECONDS)
            try:
                await engine.ari.request("DELETE", f"playbacks/{playback_id}")
            except AriError:
                pass  # already finished

        asyncio.get_running_loop().create_task(stop())
