"""Training examples: aligned songs -> (inputs, targets) windows with their templates' attention."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.generator.attention import bar_attention, step_context
from models.generator.codec import ONSET, STEPS_PER_BAR, Grid, encode, grid_from_notes, transpose
from models.generator.features import template_features
from models.generator.pop909 import Song
from models.structure.matrix import ssm_from_features
from models.structure.strings import template_from_structure


def song_grid(song: Song) -> Grid:
    return grid_from_notes(song.melody, song.accomp, song.bars * STEPS_PER_BAR)


def feature_template(g: Grid) -> np.ndarray:
    """A piece's own SSM (cosine of per-bar pitch-class x 8th features)."""
    return ssm_from_features(template_features(g))


POS_ONEHOT = np.eye(STEPS_PER_BAR, dtype=np.float32)


@dataclass
class Example:
    """Arrays for one window; all (T, ·)."""

    prev: np.ndarray
    ctx: np.ndarray
    conf: np.ndarray
    pos: np.ndarray
    mel: np.ndarray
    acc: np.ndarray
    vel_m: np.ndarray
    vel_a: np.ndarray


def make_example(g: Grid, w: np.ndarray, null: np.ndarray, start_bar: int, bars: int) -> Example:
    """Teacher-forcing arrays for ``bars`` bars from ``start_bar`` (attention sees the whole past)."""
    enc = encode(g)
    ctx = step_context(w, enc)
    prev = np.concatenate([np.zeros((1, enc.shape[1]), np.float32), enc[:-1]])
    conf = np.repeat(1.0 - null, STEPS_PER_BAR)[:, None].astype(np.float32)
    s, e = start_bar * STEPS_PER_BAR, (start_bar + bars) * STEPS_PER_BAR
    T = g.steps
    pos = POS_ONEHOT[np.arange(T) % STEPS_PER_BAR]
    return Example(
        prev[s:e], ctx[s:e], conf[s:e], pos[s:e], g.mel[s:e], g.acc[s:e].astype(np.int64), g.vel_m[s:e], g.vel_a[s:e]
    )


class TemplateCache:
    """Per song: its grid and the attention of its label templates and its own feature SSM."""

    def __init__(self, songs: list[Song], beta: float, null_score: float) -> None:
        self.songs = songs
        self.beta = beta
        self.null_score = null_score
        self._grids: dict[int, Grid] = {}
        self._att: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}

    def grid(self, i: int) -> Grid:
        if i not in self._grids:
            self._grids[i] = song_grid(self.songs[i])
        return self._grids[i]

    def attention(self, i: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """``kind``: 'label0', 'label1' (the human labelings) or 'feature'."""
        key = (i, kind)
        if key not in self._att:
            if kind == "feature":
                t = feature_template(self.grid(i))
            else:
                labels = self.songs[i].labels
                t = template_from_structure(labels[min(int(kind[-1]), len(labels) - 1)])
            self._att[key] = bar_attention(t, self.beta, self.null_score)
        return self._att[key]


def sample_batch(
    cache: TemplateCache, rng: np.random.Generator, batch: int, window_bars: int, augment: bool = True
) -> dict[str, np.ndarray]:
    """A random training batch: songs, templates (40 % label 1, 20 % label 2, 40 % own SSM),
    transposition in [-5, 6] semitones, windows starting on a bar line."""
    out: list[Example] = []
    for _ in range(batch):
        i = int(rng.integers(len(cache.songs)))
        g = cache.grid(i)
        r = rng.random()
        kind = "label0" if r < 0.4 else ("label1" if r < 0.6 else "feature")
        w, null = cache.attention(i, kind)
        if augment:
            g = transpose(g, int(rng.integers(-5, 7)))
        bars = min(window_bars, g.bars)
        start = int(rng.integers(0, g.bars - bars + 1))
        out.append(make_example(g, w, null, start, bars))
    return collate(out, window_bars * STEPS_PER_BAR)


def collate(examples: list[Example], steps: int) -> dict[str, np.ndarray]:
    """Stack examples, zero-padding to ``steps``; ``mask`` marks real steps."""
    B = len(examples)
    ex0 = examples[0]
    res: dict[str, np.ndarray] = {}
    for name in ("prev", "ctx", "conf", "pos", "mel", "acc", "vel_m", "vel_a"):
        a = getattr(ex0, name)
        res[name] = np.zeros((B, steps, *a.shape[1:]), a.dtype)
    res["mask"] = np.zeros((B, steps), bool)
    for b, ex in enumerate(examples):
        n = ex.mel.shape[0]
        for name in ("prev", "ctx", "conf", "pos", "mel", "acc", "vel_m", "vel_a"):
            res[name][b, :n] = getattr(ex, name)
        res["mask"][b, :n] = True
    res["vm_mask"] = res["mask"] & (res["mel"] >= 2)
    res["va_mask"] = res["mask"] & np.any(res["acc"] == ONSET, axis=-1)
    return res
