"""Per-bar features of a grid: for feature SSMs (templates) and for the structure-adherence metric."""

from __future__ import annotations

import numpy as np

from models.generator.codec import ACC_LO, BASS_LO, MEL_LO, STEPS_PER_BAR, Grid, Notes, parts_from_grid


def sounding_pitch_classes(
    parts: tuple[Notes, ...], steps: int, weights: tuple[float, ...] = (1.0, 1.0, 1.0)
) -> np.ndarray:
    """(steps, 12) sounding notes per pitch class and step, each part's notes counted with its weight."""
    pc = np.zeros((steps, 12), np.float32)
    for notes, weight in zip(parts, weights, strict=True):
        for s, d, p in zip(notes.start.tolist(), notes.dur.tolist(), notes.pitch.tolist(), strict=True):
            if s < steps:
                pc[s : s + d, p % 12] += weight
    return pc


def notes_chroma(parts: tuple[Notes, Notes, Notes], steps: int) -> np.ndarray:
    """(steps / 8, 12) sounding time per pitch class in each half bar of (melody, bass, accompaniment), the
    bass weighted double (it defines the chord's root) and the melody half."""
    w = sounding_pitch_classes(parts, steps, (0.5, 2.0, 1.0))
    return np.asarray(w.reshape(-1, STEPS_PER_BAR // 2, 12).sum(axis=1), np.float64)


def half_bar_chroma(g: Grid) -> np.ndarray:
    """(2 * bars, 12) sounding time per pitch class in each half bar of a grid (see ``notes_chroma``)."""
    mel, bass, acc = parts_from_grid(g)
    return notes_chroma((mel, bass, acc), g.steps)


def template_features(g: Grid) -> np.ndarray:
    """(bars, 96) sounding pitch class at each 8th note: what feature SSMs compare."""
    pc = sounding_pitch_classes(parts_from_grid(g), g.steps)
    bars = g.bars
    return np.asarray(pc[: bars * STEPS_PER_BAR].reshape(bars, 8, 2, 12).sum(2).reshape(bars, 96))


def onset_features(g: Grid) -> np.ndarray:
    """(bars, 192) onsets by pitch class x 16th position: the alikeness of the adherence metric."""
    T = g.bars * STEPS_PER_BAR
    f = np.zeros((T, 12), np.float32)
    for on, lo in ((g.mel[:T], MEL_LO), (g.bass[:T], BASS_LO)):
        t = np.nonzero(on)[0]
        np.add.at(f, (t, (on[t] - 1 + lo) % 12), 1.0)
    t, k = np.nonzero(g.acc[:T])
    np.add.at(f, (t, (k + ACC_LO) % 12), 1.0)
    return np.minimum(f, 1.0).reshape(g.bars, STEPS_PER_BAR * 12)
