"""Training and evaluation examples for the balance controller: rendered songs' stems (the separator's
renders, :mod:`models.separator.render`), perturbed as stems arrive at a mixer, and the console settings that
restore the reference mix of measured practice (:mod:`models.automix.practice`).

A **perturbation** per stem is a console strip of its own: a gain (+/-12 dB), an EQ tilt (low shelf at
:data:`LOW_HZ` and high shelf at :data:`HIGH_HZ`, +/-6 dB each), a pan (+/-0.5) and, for half the stems, a
compressor. It runs through the engine's own plugins (:func:`perturb`).

The **target** strip undoes the perturbation where the console can (the shelves at the opposite gains, an
exact inverse; the opposite pan with the gain it costs; the gain) and sets the practice level; a perturbing
compressor is left in (the console's compressor cannot expand). The **reference mix** is the clean stems at
their practice levels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.console import StripSettings, neutral
from models.automix.practice import ROLES, role_targets
from models.automix.tracks import run_strip
from models.data.production import loudness

LOW_HZ, HIGH_HZ = 200.0, 4000.0
MIX_LUFS = -20.0  # the reference mix's level before mastering


@dataclass(frozen=True)
class Perturbation:
    gain_db: float
    pan: float
    low_db: float
    high_db: float
    comp_threshold_db: float | None  # relative to the stem's peak; None: no compressor
    comp_ratio: float

    def strip(self, peak_db: float) -> StripSettings:
        eq = neutral("eq") | {"low_hz": LOW_HZ, "low_db": self.low_db, "high_hz": HIGH_HZ, "high_db": self.high_db}
        comp = neutral("compressor")
        if self.comp_threshold_db is not None:
            comp |= {"threshold_db": max(-60.0, peak_db + self.comp_threshold_db), "ratio": self.comp_ratio}
        return StripSettings(self.gain_db, self.pan, eq, comp)


def draw_perturbation(rng: np.random.Generator) -> Perturbation:
    comp = bool(rng.random() < 0.5)
    return Perturbation(
        gain_db=float(rng.uniform(-12, 12)),
        pan=float(rng.uniform(-0.5, 0.5)),
        low_db=float(rng.uniform(-6, 6)),
        high_db=float(rng.uniform(-6, 6)),
        comp_threshold_db=float(rng.uniform(-24, -6)) if comp else None,
        comp_ratio=float(rng.uniform(1.5, 6.0)),
    )


def perturb(stem: np.ndarray, p: Perturbation, sr: int) -> np.ndarray:
    peak = 20 * math.log10(max(float(np.abs(stem).max()), 1e-6))
    return run_strip(stem, p.strip(peak), sr)


def reference_gains(stems: np.ndarray, roles: list[str], rng: np.random.Generator | None, sr: int) -> np.ndarray:
    """Gains (dB) that put clean ``stems`` (k, 2, n) at their roles' practice loudness in a mix at
    :data:`MIX_LUFS`; a silent stem gets 0."""
    targets = role_targets(roles, rng)
    out = np.zeros(len(roles))
    for i, s in enumerate(stems):
        lu = loudness(s, sr)
        out[i] = 0.0 if lu <= -70 else MIX_LUFS + targets[i] - lu
    return out


def target_strip(p: Perturbation, reference_gain_db: float) -> StripSettings:
    """The console strip that brings a stem perturbed by ``p`` back to its reference level and tone."""
    # Balance pan only attenuates: undoing pan p attenuates the other side as much, so both sides end
    # (1 - |p|) down, which the gain makes up.
    gain = reference_gain_db - p.gain_db - 20 * math.log10(max(1e-3, 1 - abs(p.pan)))
    eq = neutral("eq") | {"low_hz": LOW_HZ, "low_db": -p.low_db, "high_hz": HIGH_HZ, "high_db": -p.high_db}
    return StripSettings(gain, -p.pan, eq, neutral("compressor"))


def role_index(role: str) -> int:
    return ROLES.index(role)
