"""The compressor's level detector, shared by the console's twin and its analysis: a peak follower with
separate attack and release one-pole constants, as JUCE's ``dsp::BallisticsFilter`` (peak mode), which the
engine's compressor and limiter (pedalboard) run. Per channel, from a zero state:

    level = |x[t]|;  c = attack if level > y[t-1] else release;  y[t] = level + c * (y[t-1] - level)

with ``c = exp(-2 pi 1000 / (sample_rate * time_ms))`` (0 for times under 1 microsecond)."""

from __future__ import annotations

import math

import numba
import numpy as np


def time_constant(time_ms: float, sample_rate: float) -> float:
    """The one-pole coefficient of a ballistics time (ms) at ``sample_rate`` (Hz)."""
    if time_ms < 1e-3:
        return 0.0
    return math.exp(-2.0 * math.pi * 1000.0 / sample_rate / time_ms)


@numba.njit(cache=True)
def _follow(x: np.ndarray, attack: float, release: float) -> np.ndarray:
    out = np.empty_like(x)
    for ch in range(x.shape[0]):
        y = 0.0
        for t in range(x.shape[1]):
            level = abs(x[ch, t])
            c = attack if level > y else release
            y = level + c * (y - level)
            out[ch, t] = y
    return out


def peak_envelope(x: np.ndarray, attack_ms: float, release_ms: float, sample_rate: float) -> np.ndarray:
    """(channels, n) audio -> (channels, n) float64 peak envelope (linear, same scale as ``x``)."""
    a = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float64)
    out: np.ndarray = _follow(a, time_constant(attack_ms, sample_rate), time_constant(release_ms, sample_rate))
    return out
