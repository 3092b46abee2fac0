"""``refrain eval automix``: balance mode on held-out rendered songs whose stems were randomly perturbed
(:mod:`models.automix.examples`, test songs of the separator's split), against the reference mix of measured
practice and two baselines: the untouched sum of the perturbed stems, and the stems at equal loudness.

Per example (pre-master, so the figures compare balance and tone, not the limiter):
* ``mrstft``: multi-resolution STFT distance to the reference mix after loudness matching
  (:func:`models.automix.features.mrstft_distance`; lower is better);
* ``balance_lu``: mean absolute error of each stem's loudness relative to the mix, against the reference's
  (LU).
Reference mode: each of a few test songs' perturbed stems is matched to another song's mastered reference
mix; the feature distance before and after (:mod:`models.automix.reference`)."""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.automix.examples import draw_example, example_audio, load_song
from models.automix.features import mrstft_distance
from models.automix.runtime import DEFAULT_MODEL, Automixer
from models.automix.tracks import run_strip
from models.data.production import loudness
from models.data.recipe import STEMS
from models.data.synth import SAMPLE_RATE

EVAL_SEED = 1000  # examples never drawn in training (training uses seed 0)


def _balance_error(stems: np.ndarray, reference_stems: np.ndarray, sr: int) -> float:
    """Mean |relative loudness of each stem in its mix - the same in the reference| (LU)."""

    def rel(x: np.ndarray) -> np.ndarray:
        total = loudness(x.sum(0), sr)
        return np.array([loudness(s, sr) - total for s in x])

    a, b = rel(stems), rel(reference_stems)
    ok = (a > -60) & (b > -60)
    return float(np.mean(np.abs(a[ok] - b[ok]))) if ok.any() else float("nan")


def evaluate(
    folder: Path,
    model: str,
    limit: int = 0,
    per_song: int = 2,
    log: Callable[[str], None] | None = None,
    augment: bool = False,
) -> dict[str, Any]:
    """Balance-mode figures on the test songs' perturbed stems; with ``augment``, the stems also arrive as
    real ones do (some mono, some with the rest of the song bleeding in, as a separator's stems)."""
    mixer = Automixer(model)
    songs = sorted(p.stem for p in folder.glob("*.npy"))[: limit or None]
    if not songs:
        raise SystemExit(f"no rendered songs in {folder} (python -m models.separator.render --sets test)")
    rows: dict[str, list[float]] = {}
    roles_right = roles_total = 0
    for song in songs:
        audio = load_song(folder, song)
        for k in range(per_song):
            ex = draw_example(song, audio, EVAL_SEED, k, augment)
            perturbed, ref = example_audio(ex, audio)
            gains = (10 ** (np.array(ex.reference_db) / 20)).astype(np.float32)
            frames = perturbed.shape[-1]
            ref_stems = audio[list(ex.stems), :, ex.start : ex.start + frames] * gains[:, None, None]
            strips, roles = mixer.strips(list(perturbed), SAMPLE_RATE)
            auto = np.stack([run_strip(x, s, SAMPLE_RATE) for x, s in zip(perturbed, strips, strict=True)])
            target_lu = loudness(perturbed.sum(0), SAMPLE_RATE) - 6.0
            equal = np.stack([x * np.float32(10 ** ((target_lu - loudness(x, SAMPLE_RATE)) / 20)) for x in perturbed])
            for name, stems in (("automix", auto), ("sum", perturbed), ("equal_loudness", equal)):
                rows.setdefault(f"{name}.mrstft", []).append(mrstft_distance(stems.sum(0), ref, SAMPLE_RATE))
                rows.setdefault(f"{name}.balance_lu", []).append(_balance_error(stems, ref_stems, SAMPLE_RATE))
            roles_right += sum(r == STEMS[i] for r, i in zip(roles, ex.stems, strict=True))
            roles_total += len(roles)
        if log is not None:
            a, b = (np.mean(rows[f"{n}.mrstft"][-per_song:]) for n in ("automix", "sum"))
            log(f"{song}: MR-STFT automix {a:.3f}, sum {b:.3f}")
    out: dict[str, Any] = {
        "model": mixer.name,
        "songs": len(songs),
        "examples": len(rows["automix.mrstft"]),
        "role_accuracy": round(roles_right / max(1, roles_total), 3),
    }
    for key, vals in sorted(rows.items()):
        out[key] = round(float(np.nanmean(vals)), 4)
    best = min(out["sum.mrstft"], out["equal_loudness.mrstft"])
    out["mrstft_reduction_vs_best_baseline"] = round(1 - out["automix.mrstft"] / best, 4)
    return out


def evaluate_reference(folder: Path, model: str, songs: int = 12) -> dict[str, Any]:
    """Reference mode: song i's perturbed stems (as files in a project) matched to song i+1's reference mix,
    mastered to the practice loudness; the feature distance before (the balance proposal) and after."""
    import os
    import tempfile

    import soundfile as sf

    from engine.project import Project
    from models.automix.practice import MASTER_LUFS
    from models.automix.runtime import balance, fit_master
    from models.automix.tracks import run_master

    names = sorted(p.stem for p in folder.glob("*.npy"))[: songs + 1]
    before, after = [], []
    for a, b in itertools.pairwise(names):
        audio_a, audio_b = load_song(folder, a), load_song(folder, b)
        perturbed, _ = example_audio(draw_example(a, audio_a, EVAL_SEED, 0), audio_a)
        _, ref_pre = example_audio(draw_example(b, audio_b, EVAL_SEED, 0), audio_b)
        reference = run_master(ref_pre, fit_master(ref_pre, SAMPLE_RATE, MASTER_LUFS), SAMPLE_RATE)
        with tempfile.TemporaryDirectory() as tmp:
            paths: list[str | os.PathLike[str]] = []
            for k, x in enumerate(perturbed):
                paths.append(Path(tmp) / f"stem{k}.wav")
                sf.write(paths[-1], x.T, SAMPLE_RATE, subtype="FLOAT")
            prop = balance(Project.from_files(paths, SAMPLE_RATE), None, model, (reference, SAMPLE_RATE))
        rep = prop.report["reference"]
        before.append(rep["distance_before"])
        after.append(rep["distance_after"])
    return {
        "pairs": len(before),
        "distance_before": round(float(np.mean(before)), 3),
        "distance_after": round(float(np.mean(after)), 3),
        "reduction": round(1 - float(np.mean(after)) / float(np.mean(before)), 3),
    }


def run(a: argparse.Namespace) -> dict[str, Any]:
    """``refrain eval automix``: the eval command's options -> the figures."""
    from models.separator.render import cache_dir

    log = None if a.json else (lambda m: print(m, file=sys.stderr))
    folder = cache_dir(None) / a.split
    model = a.model or DEFAULT_MODEL
    out = evaluate(folder, model, a.limit, log=log)
    arriving = evaluate(folder, model, a.limit, augment=True)
    keys = (
        "automix.mrstft",
        "equal_loudness.mrstft",
        "sum.mrstft",
        "role_accuracy",
        "mrstft_reduction_vs_best_baseline",
    )
    out["mono_and_bleeding_stems"] = {k: arriving[k] for k in keys}
    out["reference_mode"] = evaluate_reference(folder, model)
    return out
