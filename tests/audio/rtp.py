"""RTP on loopback: capture what a phone receives (tcpdump) and read it back from the pcap.

Why capture and not an Asterisk recording: the question a call-waiting test asks is what
the agent's phone *hears*, which is exactly the RTP Asterisk sends to the phone's media
port. A `spy` snoop recording was all zeros when no RTP flowed (DESIGN.md).

Also writes pcaps of RTP for SIPp's `play_pcap_audio` (a caller who talks continuously, a
softphone's RFC 4733 key presses).
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import g711

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_RAW = 101


@dataclass(frozen=True)
class RtpPacket:
    arrival: float  # capture time, seconds
    src_port: int
    dst_port: int
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def read_pcap(path: Path) -> list[RtpPacket]:
    data = Path(path).read_bytes()
    if len(data) < 24:
        return []
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    out: list[RtpPacket] = []
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16: offset + 16 + incl]
        offset += 16 + incl
        arrival = sec + frac / (1e9 if nano else 1e6)
        packet = _parse_frame(frame, linktype, arrival)
        if packet is not None:
            out.append(packet)
    return out


def _parse_frame(frame: bytes, linktype: int, arrival: float) -> RtpPacket | None:
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14 or frame[12:14] != b"\x08\x00":
            return None
        ip = frame[14:]
    elif linktype == LINKTYPE_LINUX_SLL:
        ip = frame[16:]
    elif linktype == LINKTYPE_RAW:
        ip = frame
    else:
        return None
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 0x0F) * 4
    udp = ip[ihl:]
    if len(udp) < 8:
        return None
    src_port, dst_port, length = struct.unpack("!HHH", udp[:6])
    rtp = udp[8:length]
    if len(rtp) < 12 or rtp[0] >> 6 != 2:
        return None
    cc = rtp[0] & 0x0F
    marker, pt = bool(rtp[1] & 0x80), rtp[1] & 0x7F
    seq, ts, ssrc = struct.unpack("!HII", rtp[2:12])
    return RtpPacket(arrival, src_port, dst_port, pt, seq, ts, ssrc, marker, rtp[12 + 4 * cc:])


def audio_samples(packets: list[RtpPacket]) -> tuple[list[int], list[float]]:
    """Decoded G.711 audio in arrival order, and the arrival time of each 20 ms packet."""
    samples: list[int] = []
    arrivals: list[float] = []
    for p in packets:
        if p.payload_type in (0, 8):
            samples.extend(g711.decode(p.payload, p.payload_type))
            arrivals.append(p.arrival)
    return samples, arrivals


def largest_gap(arrivals: list[float]) -> float:
    """The longest time between two consecutive audio packets, in seconds."""
    return max((b - a for a, b in zip(arrivals, arrivals[1:])), default=0.0)


def write_rtp_pcap(path: Path, payload: bytes, payload_type: int = 0, ptime_ms: int = 20,
                   src_port: int = 6000, dst_port: int = 6002) -> None:
    """A pcap of one RTP stream carrying `payload` (already G.711-encoded), for SIPp."""
    samples_per_packet = 8 * ptime_ms
    packets = []
    for i in range(0, len(payload) - samples_per_packet + 1, samples_per_packet):
        n = i // samples_per_packet
        packets.append((n * ptime_ms / 1000, payload_type, n == 0, n * samples_per_packet,
                        payload[i:i + samples_per_packet]))
    _write_pcap(path, packets, src_port, dst_port)


DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def write_dtmf_pcap(path: Path, digits: str, *, duration_ms: int = 100, gap_ms: int = 200,
                    payload_type: int = 101, src_port: int = 6000, dst_port: int = 6002) -> float:
    """A pcap of RFC 4733 telephone-events, one key press per digit, for SIPp's
    `play_pcap_audio`: what a softphone sends (dtmf_mode=rfc4733). Returns its length (s).

    Why not the captures Debian ships (/usr/share/sip-tester/dtmf_2833_*.pcap): they all
    reuse one RTP timestamp, so two played back to back reach Asterisk as one digit. Here
    each press has its own timestamp and sequence numbers run on: a packet every 20 ms
    while the key is down (marker bit on the first), then the end packet three times."""
    packets, t, ts = [], 0.0, 0
    for digit in digits:
        event = DTMF_EVENTS[digit]
        steps = max(1, duration_ms // 20)
        for k in range(steps):
            duration = (k + 1) * 160
            packets.append((t + k * 0.02, payload_type, k == 0, ts, struct.pack("!BBH", event, 10, duration)))
        end = struct.pack("!BBH", event, 0x80 | 10, steps * 160)
        packets += [(t + steps * 0.02, payload_type, False, ts, end)] * 3
        t += (duration_ms + gap_ms) / 1000
        ts += (duration_ms + gap_ms) * 8
    _write_pcap(path, packets, src_port, dst_port)
    return t


def _write_pcap(path: Path, packets: list[tuple[float, int, bool, int, bytes]], src_port: int,
                dst_port: int) -> None:
    """(time s, payload type, marker, RTP timestamp, payload) -> an Ethernet pcap, one SSRC."""
    frames = []
    ssrc = 0x5B0A12D5
    for seq, (t, payload_type, marker, timestamp, payload) in enumerate(packets):
        rtp = struct.pack("!BBHII", 0x80, payload_type | (0x80 if marker else 0), seq & 0xFFFF,
                          timestamp & 0xFFFFFFFF, ssrc) + payload
        udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(rtp), 0) + rtp
        total = 20 + len(udp)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, seq & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        eth = b"\x00" * 12 + b"\x08\x00" + ip
        frames.append(struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)) % 1000000, len(eth), len(eth)) + eth)
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET)
    Path(path).write_bytes(header + b"".join(frames))


class Capture:
    """tcpdump on loopback of the UDP packets sent to one port, for the `with` block."""

    def __init__(self, port: int, out: Path):
        self.port = port
        self.out = Path(out)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Capture":
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-U", "-n", "-w", str(self.out), f"udp and dst port {self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        # tcpdump says "listening on lo" on stderr once it captures.
        deadline = time.monotonic() + 5
        os.set_blocking(self.proc.stderr.fileno(), False)
        seen = b""
        while time.monotonic() < deadline and b"listening" not in seen:
            chunk = self.proc.stderr.read() or b""
            seen += chunk
            if self.proc.poll() is not None:
                raise RuntimeError(f"tcpdump failed: {seen.decode(errors='replace')}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            time.sleep(0.1)  # let the last packets land
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def packets(self) -> list[RtpPacket]:
        return read_pcap(self.out)
