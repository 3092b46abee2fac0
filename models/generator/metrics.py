"""Metrics for generated pieces: structure adherence (ROC AUC) and musical statistics."""

from __future__ import annotations

import numpy as np

from models.generator.codec import HELD, ONSET, STEPS_PER_BAR, Grid, notes_from_grid
from models.generator.features import onset_features
from models.structure.matrix import ssm_from_features

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR = np.array([0, 2, 3, 5, 7, 8, 10])


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(x.shape[0], np.float64)
    i = 0
    while i < xs.shape[0]:
        j = i
        while j + 1 < xs.shape[0] and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count one half)."""
    pos = positive.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = _average_ranks(np.asarray(scores, np.float64))
    return float((r[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def adherence_auc(g: Grid, similar: np.ndarray) -> float:
    """Structure adherence: ROC AUC of bar-pair alikeness for pairs the template calls similar
    (``similar[i, j]``) against all other pairs; alikeness is the cosine similarity of per-bar
    pitch-class x onset-position features. 0.5 = no structure, 1 = perfect."""
    n = similar.shape[0]
    sim = ssm_from_features(onset_features(g)[:n])
    iu = np.triu_indices(n, k=1)
    return roc_auc(sim[iu], similar[iu])


def music_stats(g: Grid) -> dict[str, float]:
    """Pitch-class entropy (bits), scale consistency, polyphony, notes per bar, empty-bar rate."""
    mel, acc = notes_from_grid(g)
    pitches = np.concatenate([mel.pitch, acc.pitch])
    bars = max(1, g.bars)
    out: dict[str, float] = {"notes_per_bar": float(pitches.shape[0]) / bars}
    if pitches.shape[0]:
        hist = np.bincount(pitches % 12, minlength=12).astype(np.float64)
        p = hist / hist.sum()
        nz = p[p > 0]
        out["pitch_class_entropy"] = float(-(nz * np.log2(nz)).sum())
        best = 0.0
        for root in range(12):
            for scale in (MAJOR, MINOR):
                best = max(best, float(hist[(scale + root) % 12].sum() / hist.sum()))
        out["scale_consistency"] = best
    else:
        out["pitch_class_entropy"] = 0.0
        out["scale_consistency"] = 0.0
    sounding = ((g.acc == ONSET) | (g.acc == HELD)).sum(axis=1) + (g.mel != 0)
    active = sounding > 0
    out["polyphony"] = float(sounding[active].mean()) if active.any() else 0.0
    per_bar = sounding[: bars * STEPS_PER_BAR].reshape(bars, STEPS_PER_BAR).sum(axis=1)
    out["empty_bar_rate"] = float((per_bar == 0).mean())
    return out


def mean_stats(grids: list[Grid]) -> dict[str, float]:
    rows = [music_stats(g) for g in grids]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
