"""SIP packets on loopback with kernel timestamps (tcpdump), for the latency benches.

Why tcpdump: "the INVITE leaving Asterisk" is a packet on the wire; the kernel's timestamp
(µs) is the one clock that neither Asterisk's nor the engine's scheduling can bend. The
benches compare it with another packet (a feature code's last digit) or with an ARI event
time stamped by Asterisk on the same host clock.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

HEADER_RE = re.compile(r"^(\d+\.\d+) IP [\d.]+\.(\d+) > [\d.]+\.(\d+):")


@dataclass
class Packet:
    at: float  # seconds since the epoch (kernel timestamp)
    src_port: int
    dst_port: int
    text: str  # the payload as tcpdump -A shows it (the first line has header bytes in front)

    def is_request(self, method: str) -> bool:
        # The request line follows 28 bytes of IP and UDP header that tcpdump -A prints as
        # text, and those bytes may hold a newline: look a little further than line one.
        return f"{method} sip:" in self.text[:200]

    def header(self, name: str) -> str | None:
        match = re.search(rf"^{name}:\s*(.*)$", self.text, re.MULTILINE | re.IGNORECASE)
        return match.group(1).strip() if match else None


class SipCapture:
    """Captures UDP packets matching a tcpdump filter (e.g. "port 5060") until stopped."""

    def __init__(self, bpf: str):
        self.bpf = bpf
        self.complete: list[Packet] = []
        self._current: Packet | None = None  # the packet being read: its end shows only when the next begins
        self._lines: list[str] = []
        self.proc = None
        self._task = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "tcpdump", "-i", "lo", "-n", "-tt", "-l", "-A", "-s", "0", *f"udp and ({self.bpf})".split(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        self._task = asyncio.create_task(self._read())
        await asyncio.sleep(1.0)  # tcpdump needs a moment before it captures

    @property
    def packets(self) -> list[Packet]:
        """Every packet so far, the last one with the lines read of it (tcpdump prints a packet
        at once, so a moment after it was sent it is whole)."""
        if self._current is None:
            return self.complete
        last = Packet(self._current.at, self._current.src_port, self._current.dst_port, "\n".join(self._lines))
        return [*self.complete, last]

    async def _read(self) -> None:
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace").rstrip("\r\n")
            match = HEADER_RE.match(text)
            if match:
                self._finish()
                self._current = Packet(float(match.group(1)), int(match.group(2)), int(match.group(3)), "")
            elif self._current is not None:
                self._lines.append(text)
        self._finish()

    def _finish(self) -> None:
        if self._current is not None:
            self._current.text = "\n".join(self._lines)
            self.complete.append(self._current)
        self._current, self._lines = None, []

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 5)
        if self._task:
            await asyncio.wait_for(self._task, 5)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
