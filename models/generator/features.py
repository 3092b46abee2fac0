"""Per-bar features of a grid: for feature SSMs (templates) and for the structure-adherence metric."""

from __future__ import annotations

import numpy as np

from models.generator.codec import ACC_LO, HELD, MEL_LO, ONSET, STEPS_PER_BAR, Grid


def sounding_pitch_classes(g: Grid) -> np.ndarray:
    """(T, 12) count of sounding notes per pitch class (both parts)."""
    T = g.steps
    pc = np.zeros((T, 12), np.float32)
    on = g.mel >= 2
    # Melody: carry the pitch of the last onset through holds.
    pitch = np.where(on, g.mel - 2 + MEL_LO, -1)
    idx = np.where(on | (g.mel == 0), np.arange(T), 0)
    np.maximum.accumulate(idx, out=idx)
    mel_p = pitch[idx]
    sounding = (g.mel != 0) & (mel_p >= 0)
    pc[np.nonzero(sounding)[0], mel_p[sounding] % 12] += 1.0
    t, k = np.nonzero((g.acc == ONSET) | (g.acc == HELD))
    np.add.at(pc, (t, (k + ACC_LO) % 12), 1.0)
    return pc


def template_features(g: Grid) -> np.ndarray:
    """(bars, 96) sounding pitch class at each 8th note: what feature SSMs compare."""
    pc = sounding_pitch_classes(g)
    bars = g.steps // STEPS_PER_BAR
    return np.asarray(pc[: bars * STEPS_PER_BAR].reshape(bars, 8, 2, 12).sum(2).reshape(bars, 96))


def onset_features(g: Grid) -> np.ndarray:
    """(bars, 192) onsets by pitch class x 16th position: the alikeness of the adherence metric."""
    T = g.bars * STEPS_PER_BAR
    f = np.zeros((T, 12), np.float32)
    t = np.nonzero(g.mel[:T] >= 2)[0]
    np.add.at(f, (t, (g.mel[t] - 2 + MEL_LO) % 12), 1.0)
    t, k = np.nonzero(g.acc[:T] == ONSET)
    np.add.at(f, (t, (k + ACC_LO) % 12), 1.0)
    return np.minimum(f, 1.0).reshape(g.bars, STEPS_PER_BAR * 12)
