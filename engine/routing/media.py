"""What the caller hears while the call is routed: ringback, music on hold, announcements.

The caller's channel is not answered while agents ring (the caller hears ringback, as with
a plain Dial); it is answered when an agent answers, when the call must wait in a queue
(music on hold needs an answered channel to carry audio), or for announcements and
voicemail. `CallerMedia` remembers what it started so each state change stops exactly
what is playing, once.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from engine.pbx.ari import AriError

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime.engine import Engine


async def play_and_wait(engine: Engine, channel_id: str, media: str, timeout: float = 30.0) -> bool:
    """Play `media` on a channel and wait for ARI's PlaybackFinished. False if it failed.

    The waiter is registered before the request so a very short sound cannot finish
    before anyone listens.
    """
    playback_id = f"pb-{uuid.uuid4().hex[:16]}"
    done = engine.expect_playback(playback_id)
    try:
        await engine.ari.request("POST", f"channels/{channel_id}/play/{playback_id}", media=media)
    except AriError:
        engine.forget_playback(playback_id)
        return False
    try:
        await asyncio.wait_for(done, timeout)
        return True
    except TimeoutError:
        engine.forget_playback(playback_id)
        return False


class CallerMedia:
    def __init__(self, engine: Engine, channel_id: str, log):
        self.engine = engine
        self.channel_id = channel_id
        self.log = log
        self.answered = False
        self.ringing = False
        self.moh = False

    async def _post(self, path: str, method: str = "POST", **params) -> bool:
        try:
            await self.engine.ari.request(method, f"channels/{self.channel_id}/{path}", **params)
            return True
        except AriError as exc:
            self.log.info("caller_media_failed", action=f"{method} {path}", error=str(exc))
            return False

    async def answer(self) -> None:
        if not self.answered:
            await self.stop()
            self.answered = await self._post("answer") or self.answered

    async def ring(self) -> None:
        """Ringback while agents ring (only before the caller is answered)."""
        if not self.answered and not self.ringing:
            self.ringing = await self._post("ring")

    async def hold_music(self, moh_class: str) -> None:
        await self.answer()
        if not self.moh:
            self.moh = await self._post("moh", mohClass=moh_class or "default")

    async def stop(self) -> None:
        """Stop ringback and music (before bridging, an announcement or voicemail)."""
        if self.ringing:
            self.ringing = False
            await self._post("ring", method="DELETE")
        if self.moh:
            self.moh = False
            await self._post("moh", method="DELETE")

    async def hangup(self, reason: str = "normal") -> None:
        try:
            await self.engine.ari.request("DELETE", f"channels/{self.channel_id}", reason=reason)
        except AriError as exc:
            if exc.status != 404:  # already gone: nothing to do
                self.log.info("caller_hangup_failed", error=str(exc))
