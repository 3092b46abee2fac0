"""Metrics for generated pieces: structure adherence (ROC AUC) and what a listener hears (musicality).

Every figure is computed the same way for generated pieces and real songs (key and chords are estimated
from the notes for both, never read from annotations), so the two can be compared side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.generator.chords import MAJOR_SCALE, MINOR_SCALE, estimate_chords
from models.generator.codec import STEPS_PER_BAR, Grid, Notes, parts_from_grid
from models.generator.conditions import Layout
from models.generator.features import notes_chroma, onset_features
from models.structure.matrix import ssm_from_features


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


def best_scale(pcs: np.ndarray) -> np.ndarray:
    """(12,) bool: the major or minor scale holding most of the given pitch classes (the piece's key)."""
    hist = np.bincount(np.asarray(pcs, np.int64) % 12, minlength=12).astype(np.float64)
    best, mask = -1.0, np.ones(12, bool)
    for root in range(12):
        for scale in (MAJOR_SCALE, MINOR_SCALE):
            m = np.zeros(12, bool)
            m[[(root + i) % 12 for i in scale]] = True
            share = float(hist[m].sum())
            if share > best:
                best, mask = share, m
    return mask


@dataclass
class Musicality:
    """Per-piece figures (see ``FIGURES``); NaN where a piece has nothing to measure."""

    values: dict[str, float]


FIGURES = (
    "melody_step_share", "melody_leap_share", "melody_16th_share", "melody_quarter_plus_share",
    "acc_16th_share", "acc_half_plus_share", "bass_quarter_plus_share", "groove_similarity",
    "melody_in_instrumental_bars", "in_key_share", "key_window_share", "distinct_chords", "chord_tone_share",
    "section_end_long_share", "melody_velocities", "notes_per_bar",
)  # fmt: skip


def _bar_onsets(n: Notes, bars: int) -> np.ndarray:
    x = np.zeros((bars, STEPS_PER_BAR), np.float64)
    ok = n.start < bars * STEPS_PER_BAR
    x[n.start[ok] // STEPS_PER_BAR, n.start[ok] % STEPS_PER_BAR] = 1.0
    return x


def musicality(parts: tuple[Notes, Notes, Notes], bars: int, layout: Layout) -> dict[str, float]:
    """What a listener hears in a piece of ``bars`` bars with parts (melody, bass, accompaniment) in 16th
    steps, as played (real songs: their own notes; generated pieces: after dynamics)."""
    mel, bass, acc = parts
    bars = min(bars, layout.bars)
    nan = float("nan")
    out: dict[str, float] = {}
    iv = np.abs(np.diff(mel.pitch)) if len(mel) > 1 else np.zeros(0)
    out["melody_step_share"] = float((iv <= 2).mean()) if iv.size else nan
    out["melody_leap_share"] = float((iv >= 12).mean()) if iv.size else nan
    out["melody_16th_share"] = float((mel.dur == 1).mean()) if len(mel) else nan
    out["melody_quarter_plus_share"] = float((mel.dur >= 4).mean()) if len(mel) else nan
    out["acc_16th_share"] = float((acc.dur == 1).mean()) if len(acc) else nan
    out["acc_half_plus_share"] = float((acc.dur >= 8).mean()) if len(acc) else nan
    out["bass_quarter_plus_share"] = float((bass.dur >= 4).mean()) if len(bass) else nan
    pat = _bar_onsets(acc, bars)
    a, b = pat[:-1], pat[1:]
    both = (a.sum(1) > 0) & (b.sum(1) > 0)
    cos = (a * b).sum(1) / np.maximum(1e-9, np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    out["groove_similarity"] = float(cos[both].mean()) if both.any() else nan
    instr = ~layout.melody_on[:bars]
    mel_bars = _bar_onsets(mel, bars).sum(1) > 0
    out["melody_in_instrumental_bars"] = float(mel_bars[instr].mean()) if instr.any() else nan
    allp = np.concatenate([mel.pitch, bass.pitch, acc.pitch])
    starts = np.concatenate([mel.start, bass.start, acc.start])
    if allp.size:
        scale = best_scale(allp)
        inkey = scale[allp % 12]
        out["in_key_share"] = float(inkey.mean())
        win = []
        for w0 in range(0, max(1, bars - 7), 4):
            sel = (starts >= w0 * STEPS_PER_BAR) & (starts < (w0 + 8) * STEPS_PER_BAR)
            if sel.sum() >= 8:
                win.append(inkey[sel].mean() >= 0.95)
        out["key_window_share"] = float(np.mean(win)) if win else nan
    else:
        out["in_key_share"] = out["key_window_share"] = nan
    chroma = notes_chroma(parts, bars * STEPS_PER_BAR)
    chords = estimate_chords(chroma, min_energy=2.0)
    out["distinct_chords"] = float(len({c for c in chords if c is not None}))
    if len(mel):
        h = np.minimum(mel.start // (STEPS_PER_BAR // 2), len(chords) - 1)
        tones = [c is not None and int(p) % 12 in c.pcs for c, p in zip([chords[i] for i in h], mel.pitch, strict=True)]
        out["chord_tone_share"] = float(np.mean(tones))
    else:
        out["chord_tone_share"] = nan
    ends = []
    for k in range(int(layout.section.max()) + 1 if bars else 0):
        sb = layout.section_bars(k)
        sb = sb[sb < bars]
        if sb.size == 0 or not layout.melody_on[sb[0]]:
            continue
        lo, hi = sb[0] * STEPS_PER_BAR, (sb[-1] + 1) * STEPS_PER_BAR
        inside = np.nonzero((mel.start >= lo) & (mel.start < hi))[0]
        if inside.size:
            ends.append(mel.dur[inside[-1]] >= 4)
    out["section_end_long_share"] = float(np.mean(ends)) if ends else nan
    out["melody_velocities"] = float(len(np.unique(mel.vel))) if len(mel) else nan
    out["notes_per_bar"] = float(len(mel) + len(bass) + len(acc)) / max(1, bars)
    return out


def grid_musicality(g: Grid, layout: Layout) -> dict[str, float]:
    return musicality(parts_from_grid(g), g.bars, layout)


def mean_figures(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.nanmean([r[k] for r in rows])) if any(np.isfinite(r[k]) for r in rows) else float("nan")
            for k in FIGURES}  # fmt: skip


def real_vs_generated_accuracy(real: list[dict[str, float]], generated: list[dict[str, float]], seed: int = 0) -> float:
    """Cross-validated (5-fold, stratified) accuracy of a logistic regression telling real songs from
    generated pieces by their per-piece figures; 0.5 = it cannot tell them apart."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.array([[r[k] for k in FIGURES] for r in real + generated], np.float64)
    col_mean = np.nanmean(x, axis=0)
    x = np.where(np.isfinite(x), x, np.where(np.isfinite(col_mean), col_mean, 0.0))
    y = np.array([1] * len(real) + [0] * len(generated))
    folds = min(5, len(real), len(generated))
    if folds < 2:
        return float("nan")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, x, y, cv=cv, scoring="accuracy").mean())
