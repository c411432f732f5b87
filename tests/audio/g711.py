"""G.711 mu-law and A-law, both ways, in pure Python (no audioop: gone in Python 3.13)."""

from __future__ import annotations

import math

_BIAS = 0x84
_CLIP = 32635


def _ulaw_decode_byte(u: int) -> int:
    u = ~u & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    sample = ((mantissa << 3) + _BIAS) << exponent
    sample -= _BIAS
    return -sample if sign else sample


def _alaw_decode_byte(a: int) -> int:
    a ^= 0x55
    sign, exponent, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
    if exponent == 0:
        sample = (mantissa << 4) + 8
    else:
        sample = ((mantissa << 4) + 0x108) << (exponent - 1)
    return sample if sign else -sample


ULAW_TABLE = [_ulaw_decode_byte(i) for i in range(256)]
ALAW_TABLE = [_alaw_decode_byte(i) for i in range(256)]


def ulaw_encode_sample(sample: int) -> int:
    sample = max(-_CLIP, min(_CLIP, int(sample)))
    sign = 0x80 if sample < 0 else 0
    if sign:
        sample = -sample
    sample += _BIAS
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def decode(payload: bytes, payload_type: int) -> list[int]:
    table = ULAW_TABLE if payload_type == 0 else ALAW_TABLE
    return [table[b] for b in payload]


def tone_ulaw(freq: float, seconds: float, rate: int = 8000, amplitude: float = 8000.0, phase0: int = 0) -> bytes:
    n = int(seconds * rate)
    return bytes(ulaw_encode_sample(amplitude * math.sin(2 * math.pi * freq * (i + phase0) / rate)) for i in range(n))
