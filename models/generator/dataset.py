"""Training examples: aligned songs -> teacher-forcing windows with their template's attention and the
song's conditions (chords, key, roles, position in section, tempo), transposed over all 12 keys."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.generator.attention import bar_attention
from models.generator.codec import EVENTS, STEPS_PER_BAR, Grid, encode, grid_from_parts, transpose
from models.generator.conditions import Conditions, layout_from_sections
from models.generator.features import template_features
from models.generator.pop909 import Song
from models.structure.matrix import ssm_from_features
from models.structure.strings import parse_structure, template_from_structure

TARGETS = EVENTS  # the network predicts every event field
INPUTS = ("prev", "ctx", "conf", "cond")


def song_grid(song: Song) -> Grid:
    return grid_from_parts(song.melody, song.bass, song.accomp, song.bars * STEPS_PER_BAR)


def song_conditions(song: Song, label: int = 0) -> Conditions:
    """The song's annotated conditions, with sections from its ``label``-th human labelling."""
    lab = song.labels[min(label, len(song.labels) - 1)]
    return Conditions(list(song.chords), list(song.keys), layout_from_sections(parse_structure(lab)), song.tempo)


def feature_template(g: Grid) -> np.ndarray:
    """A piece's own SSM (cosine of per-bar pitch-class x 8th features)."""
    return ssm_from_features(template_features(g))


def context(w: np.ndarray, enc: np.ndarray, start_bar: int, stop_bar: int) -> np.ndarray:
    """Attended frames for bars ``start_bar..stop_bar``: ``ctx[i*16+p] = sum_j W[i, j] * enc[j*16+p]``."""
    f = enc[: stop_bar * STEPS_PER_BAR].reshape(stop_bar, -1)
    c = w[start_bar:stop_bar, :stop_bar] @ f
    return np.asarray(c.reshape(-1, enc.shape[1]), dtype=np.float32)


@dataclass
class Example:
    """Arrays for one window, all (T, ·): inputs ``INPUTS`` and targets ``TARGETS``."""

    arrays: dict[str, np.ndarray]


def make_example(g: Grid, cond: Conditions, w: np.ndarray, null: np.ndarray, start_bar: int, bars: int) -> Example:
    """Teacher-forcing arrays for ``bars`` bars from ``start_bar`` (attention sees the whole past)."""
    stop = start_bar + bars
    s, e = start_bar * STEPS_PER_BAR, stop * STEPS_PER_BAR
    enc = encode(g.slice_steps(0, e))
    prev = np.concatenate([np.zeros((1, enc.shape[1]), np.float32), enc[:-1]])[s:e]
    arrays = {
        "prev": prev,
        "ctx": context(w, enc, start_bar, stop),
        "conf": np.repeat(1.0 - null[start_bar:stop], STEPS_PER_BAR)[:, None].astype(np.float32),
        "cond": cond.vectors()[s:e],
    }
    for name in TARGETS:
        arrays[name] = getattr(g, name)[s:e].astype(np.float32 if name == "acc" else np.int64)
    return Example(arrays)


class TemplateCache:
    """Per song: its grid, conditions, and the attention of its label templates and its own feature SSM."""

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
    cache: TemplateCache,
    rng: np.random.Generator,
    batch: int,
    window_bars: int,
    augment: bool = True,
    no_template: float = 0.0,
) -> dict[str, np.ndarray]:
    """A random training batch: songs, templates (40 % label 1, 20 % label 2, 40 % own SSM; a share
    ``no_template`` of windows gets none, so attention has nothing to copy and the LSTM has to model the
    music on its own), transposition over all 12 keys (-6..+5 semitones), windows starting on a bar line."""
    out: list[Example] = []
    for _ in range(batch):
        i = int(rng.integers(len(cache.songs)))
        g = cache.grid(i)
        r = rng.random()
        kind = "label0" if r < 0.4 else ("label1" if r < 0.6 else "feature")
        w, null = cache.attention(i, kind)
        if rng.random() < no_template:
            w, null = np.zeros_like(w), np.ones_like(null)
        cond = song_conditions(cache.songs[i], 1 if kind == "label1" else 0)
        if augment:
            s = int(rng.integers(-6, 6))
            g, cond = transpose(g, s), cond.transposed(s)
        bars = min(window_bars, g.bars)
        start = int(rng.integers(0, g.bars - bars + 1))
        out.append(make_example(g, cond, w, null, start, bars))
    return collate(out, window_bars * STEPS_PER_BAR)


def collate(examples: list[Example], steps: int) -> dict[str, np.ndarray]:
    """Stack examples, zero-padding to ``steps``; ``mask`` marks real steps."""
    B = len(examples)
    ex0 = examples[0].arrays
    res: dict[str, np.ndarray] = {}
    for name, a in ex0.items():
        res[name] = np.zeros((B, steps, *a.shape[1:]), a.dtype)
    res["mask"] = np.zeros((B, steps), bool)
    for b, ex in enumerate(examples):
        n = ex.arrays["mel"].shape[0]
        for name, a in ex.arrays.items():
            res[name][b, :n] = a
        res["mask"][b, :n] = True
    return res
