"""Balance-controller examples from the separator's stem renders (``<stem cache>/<set>/<song>.npy``, int16
(4, 2, n) at 44.1 kHz in :data:`models.data.recipe.STEMS` order): per example, an excerpt of a song, a random
subset of its stems (at least two), a perturbation per stem, the perturbed stems' features (and the booster's
summary of each, :func:`models.features.booster.summary`) and the target strips. Reproducible from the
seed and the song id; the audio is rebuilt from them on demand
(:func:`example_audio`), so only features and targets are stored.

    python -m models.automix.examples --set train --per-song 8     # -> <automix cache>/train.npz
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.files import atomic_path
from models.automix.data import Perturbation, draw_perturbation, perturb, reference_gains, role_index, target_strip
from models.automix.stemfeatures import stem_features
from models.data.cache import render_cache
from models.data.recipe import STEMS
from models.data.synth import SAMPLE_RATE
from models.features.basic_pitch import BasicPitch
from models.features.booster import stem_summary

EXAMPLES_VERSION = 3  # 2: the booster's summaries; 3: mono and bleeding stems
EXCERPT_SECONDS = 12.0


def cache_dir(root: str | None = None) -> Path:
    """``$REFRAIN_MIX_CACHE``, else the user cache folder; versioned."""
    return render_cache(root, "REFRAIN_MIX_CACHE", "automix-examples", EXAMPLES_VERSION)


MONO_SHARE = 0.2  # training stems collapsed to dual mono (stems often arrive mono)
BLEED_SHARE = 0.3  # training stems with the rest of the song bleeding in, as a separator's stems have
BLEED_DB = (-30.0, -12.0)  # the bleed's energy relative to the stem's


@dataclass(frozen=True)
class Example:
    song: str
    start: int  # frame of the excerpt in the render
    stems: tuple[int, ...]  # indices into STEMS
    perturbations: tuple[Perturbation, ...]
    reference_db: tuple[float, ...]  # practice gains of the clean stems
    mono: tuple[bool, ...] = ()  # per stem: arrives as dual mono (empty: none)
    bleed_db: tuple[float | None, ...] = ()  # per stem: the other stems bleeding in at this level (dB)


def draw_example(song: str, audio: np.ndarray, seed: int, index: int, augment: bool = False) -> Example:
    """The ``index``-th example of ``song`` (``audio``: (4, 2, n) float32 stems). With ``augment`` (training)
    some stems also arrive as real ones do: mono, or with the rest of the song bleeding in (a separator's
    stems); drawn after everything else, so the rest of the example is the same with or without."""
    rng = np.random.default_rng([seed, int(song) if song.isdigit() else zlib.crc32(song.encode()), index])
    n = audio.shape[-1]
    frames = min(n, int(EXCERPT_SECONDS * SAMPLE_RATE))
    start = int(rng.integers(0, n - frames + 1))
    sounding = [i for i in range(len(STEMS)) if np.abs(audio[i, :, start : start + frames]).max() > 1e-3]
    if len(sounding) < 2:
        sounding = list(range(len(STEMS)))
    keep = int(rng.integers(2, len(sounding) + 1))
    stems = tuple(sorted(rng.choice(sounding, keep, replace=False).tolist()))
    perts = tuple(draw_perturbation(rng) for _ in stems)
    clean = audio[list(stems), :, start : start + frames]
    ref = reference_gains(clean, [STEMS[i] for i in stems], rng, SAMPLE_RATE)
    ex = Example(song, start, stems, perts, tuple(float(g) for g in ref))
    if not augment:
        return ex
    mono = tuple(bool(rng.random() < MONO_SHARE) for _ in stems)
    bleed = tuple(float(rng.uniform(*BLEED_DB)) if rng.random() < BLEED_SHARE else None for _ in stems)
    return Example(song, start, stems, perts, ex.reference_db, mono, bleed)


def _arrive(ex: Example, audio: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """The clean stems (k, 2, n) as they arrive: mono, with bleed, per the example's draws."""
    out = np.array(clean, copy=True)
    frames = clean.shape[-1]
    song = audio[:, :, ex.start : ex.start + frames]
    for k, i in enumerate(ex.stems):
        if ex.bleed_db and ex.bleed_db[k] is not None:
            rest = song.sum(0) - song[i]
            own, other = float(np.mean(out[k] ** 2)), float(np.mean(rest**2))
            if own > 0 and other > 0:
                out[k] += rest * np.float32(np.sqrt(own / other) * 10 ** (float(ex.bleed_db[k] or 0.0) / 20))
        if ex.mono and ex.mono[k]:
            out[k] = out[k].mean(0, keepdims=True)
    return out


def example_audio(ex: Example, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(perturbed stems (k, 2, n), reference mix (2, n)) of an example."""
    frames = min(audio.shape[-1], int(EXCERPT_SECONDS * SAMPLE_RATE))
    clean = np.asarray(audio[list(ex.stems), :, ex.start : ex.start + frames], np.float32)
    arriving = _arrive(ex, audio, clean) if ex.mono or ex.bleed_db else clean
    perturbed = np.stack([perturb(c, p, SAMPLE_RATE) for c, p in zip(arriving, ex.perturbations, strict=True)])
    gains = (10 ** (np.array(ex.reference_db) / 20)).astype(np.float32)
    return perturbed, (clean * gains[:, None, None]).sum(0)


def targets(ex: Example) -> np.ndarray:
    """(k, 5): gain (dB, relative to the set's mean), pan, low and high shelf dB, role index."""
    rows = []
    for i, p, g in zip(ex.stems, ex.perturbations, ex.reference_db, strict=True):
        s = target_strip(p, g)
        rows.append([s.gain_db, s.pan, s.eq["low_db"], s.eq["high_db"], role_index(STEMS[i])])
    out = np.array(rows, np.float32)
    out[:, 0] -= out[:, 0].mean()
    return out


def load_song(folder: Path, song: str) -> np.ndarray:
    out: np.ndarray = np.load(folder / f"{song}.npy").astype(np.float32) / 32767.0
    return out


def build(
    folder: Path, per_song: int, seed: int, booster: BasicPitch | None = None, augment: bool = True
) -> dict[str, np.ndarray]:
    """Features, booster summaries (only with ``booster``) and targets of ``per_song`` examples of every song
    in ``folder``."""
    from tqdm import tqdm

    feats, boosts, targs, sets, songs = [], [], [], [], []
    names = sorted(p.stem for p in folder.glob("*.npy"))
    for song in tqdm(names, desc=folder.name, file=sys.stderr):
        audio = load_song(folder, song)
        for k in range(per_song):
            ex = draw_example(song, audio, seed, k, augment)
            perturbed, _ = example_audio(ex, audio)
            feats.append(np.stack([stem_features(x, SAMPLE_RATE) for x in perturbed]))
            if booster is not None:
                boosts.append(np.stack([stem_summary(booster, x, SAMPLE_RATE) for x in perturbed]))
            targs.append(targets(ex))
            sets.append(len(ex.stems))
            songs.append([int(song) if song.isdigit() else 0, k])
    out = {
        "features": np.concatenate(feats),
        "targets": np.concatenate(targs),
        "counts": np.array(sets, np.int64),
        "ids": np.array(songs, np.int64),
    }
    if booster is not None:
        out["booster"] = np.concatenate(boosts)
    return out


def main(argv: list[str] | None = None) -> int:
    from models.separator.render import cache_dir as stem_cache

    ap = argparse.ArgumentParser(prog="python -m models.automix.examples", description=__doc__.split("\n\n")[0])
    ap.add_argument("--stems", type=Path, default=None, help="the separator's stem cache (default: its cache_dir)")
    ap.add_argument("--out", type=Path, default=None, help="example cache (default: see cache_dir)")
    ap.add_argument("--set", default="train")
    ap.add_argument("--per-song", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-booster", action="store_true", help="skip the booster's summaries (faster)")
    ap.add_argument("--threads", type=int, default=1, help="the booster's onnxruntime threads")
    args = ap.parse_args(argv)
    booster = None
    if not args.no_booster:
        from models.features.booster import load_booster

        booster = load_booster(args.threads)
    data = build(stem_cache(args.stems) / args.set, args.per_song, args.seed, booster)
    out = cache_dir(None if args.out is None else str(args.out))
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / f"{args.set}.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, allow_pickle=False, **data)
    print(json.dumps({"set": args.set, "examples": int(data["counts"].size), "stems": int(data["counts"].sum())}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
