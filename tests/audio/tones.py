"""Find tones in decoded audio: Goertzel power per 10 ms frame, grouped into bursts."""

from __future__ import annotations

import math
from dataclasses import dataclass


def goertzel_power(samples: list[int], freq: float, rate: int = 8000) -> float:
    """Normalised power of `freq` in `samples` (about 0.25 * amplitude^2 for a pure tone)."""
    n = len(samples)
    if n == 0:
        return 0.0
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + k * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    return power / (n * n)


def frame_energy(samples: list[int]) -> float:
    return sum(x * x for x in samples) / max(1, len(samples))


@dataclass(frozen=True)
class Burst:
    start: float  # seconds from the start of the audio
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


def tone_bursts(samples: list[int], freq: float, rate: int = 8000, frame_ms: int = 10,
                ratio: float = 0.6, min_power: float = 1e4, min_ms: int = 40) -> list[Burst]:
    """Stretches where `freq` carries at least `ratio` of the frame's energy.

    `ratio` is relative to the frame's total energy, so a beep on top of other audio (the
    customer talking) is still found, and loud audio at other frequencies is not taken for
    a beep.
    """
    step = rate * frame_ms // 1000
    flags = []
    for i in range(0, len(samples) - step + 1, step):
        frame = samples[i:i + step]
        energy = frame_energy(frame)
        power = goertzel_power(frame, freq, rate)
        # A pure tone of amplitude A has energy A^2/2 and Goertzel power A^2/4.
        flags.append(power > min_power and energy > 0 and 2 * power / energy >= ratio)
    bursts: list[Burst] = []
    start = None
    for idx, on in enumerate(flags + [False]):
        if on and start is None:
            start = idx
        elif not on and start is not None:
            if (idx - start) * frame_ms >= min_ms:
                bursts.append(Burst(start * frame_ms / 1000, idx * frame_ms / 1000))
            start = None
    return bursts
