"""``refrain eval generator``: NLL, structure adherence and musical statistics on held-out songs.

For every song of the split: its first human labelling gives the template. SING and the baseline
are scored (teacher-forced frame NLL) on the real song, and each generates a piece of the same
length from the same template; adherence (ROC AUC) and statistics of the generated pieces are
reported beside those of the real songs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import UserError
from models.generator.codec import STEPS_PER_BAR, Grid, grid_from_notes
from models.generator.features import template_features
from models.generator.metrics import adherence_auc, mean_stats
from models.generator.piece import DEFAULT_TEMPERATURE
from models.generator.sampler import Plan, StructuredGenerator
from models.structure import parse_structure, similar_pairs, ssm_from_features, template_from_structure


def load_eval_songs(split: str, limit: int = 0) -> list[tuple[str, Grid, str]]:
    """(song id, grid, first labelling) for the aligned songs of a split."""
    from models.data.pop909 import data_root, load_split
    from models.generator.pop909 import Song, load_song

    ids = load_split().get(split)
    if ids is None:
        raise UserError(f"unknown split {split!r}: use train, valid or test")
    root = data_root()
    out = []
    for sid in ids:
        s = load_song(sid, root)
        if isinstance(s, Song):
            g = grid_from_notes(s.melody, s.accomp, s.bars * STEPS_PER_BAR)
            out.append((sid, g, s.labels[0]))
        if limit and len(out) >= limit:
            break
    return out


def _rel(a: dict[str, float], ref: dict[str, float]) -> dict[str, float]:
    return {k: (a[k] - ref[k]) / ref[k] if ref[k] else float("nan") for k in ref if k != "empty_bar_rate"}


def evaluate(
    split: str = "test",
    limit: int = 0,
    seed: int = 0,
    temperature: float = DEFAULT_TEMPERATURE,
    models: tuple[str, ...] = ("sing", "lstm"),
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the whole evaluation and return the metrics as one JSON-ready dict."""
    t0 = time.monotonic()
    songs = load_eval_songs(split, limit)
    if not songs:
        raise UserError(f"no aligned songs in split {split!r}")
    grids = [g for _, g, _ in songs]
    sections = [parse_structure(lab) for _, _, lab in songs]
    label_t = [template_from_structure(s) for s in sections]
    similar = [similar_pairs(s) for s in sections]
    own_t = [ssm_from_features(template_features(g)) for g in grids]
    real_auc = [adherence_auc(g, s) for g, s in zip(grids, similar, strict=True)]
    data_stats = mean_stats(grids)
    res: dict[str, Any] = {
        "split": split,
        "songs": len(songs),
        "bars": int(sum(g.bars for g in grids)),
        "seed": seed,
        "temperature": temperature,
        "data": {"adherence_auc": float(np.nanmean(real_auc)), **data_stats},
    }
    for name in models:
        gen = StructuredGenerator(name)
        if log:
            log(f"{name}: scoring NLL")
        nll, nll_m, nll_a = gen.frame_nll(grids, label_t)
        entry: dict[str, Any] = {"nll": nll, "nll_melody": nll_m, "nll_accomp": nll_a}
        if gen.attention:
            entry["nll_own_ssm"] = gen.frame_nll(grids, own_t)[0]
        if log:
            log(f"{name}: generating {len(songs)} pieces")
        pieces = gen.generate([Plan(t) for t in label_t], seed=seed, temperature=temperature)
        auc = [adherence_auc(p, s) for p, s in zip(pieces, similar, strict=True)]
        st = mean_stats(pieces)
        entry["adherence_auc"] = float(np.nanmean(auc))
        entry.update(st)
        entry["stats_rel_to_data"] = _rel(st, data_stats)
        res[name] = entry
    res["seconds"] = round(time.monotonic() - t0, 1)
    return res


def run(a: argparse.Namespace) -> dict[str, Any]:
    """``refrain eval generator``: the options of the eval command -> the figures."""
    temp = DEFAULT_TEMPERATURE if a.temperature is None else a.temperature
    log = None if a.json else (lambda m: print(m, file=sys.stderr))
    return evaluate(a.split, a.limit, a.seed, temp, log=log)
