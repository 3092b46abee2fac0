"""``refrain eval separator``: whole-clip SDR per stem on rendered held-out songs, through the same
file-to-file path as ``refrain separate``, beside two trivial baselines: the mixture as every stem's
estimate, and the **best-scaled mixture** (each stem estimated as the mixture times the constant that
minimises its error; a separator must beat it to have separated anything).

Sets: ``test`` (test songs, training SoundFonts), ``heldout`` (the same songs through the SoundFont kept
out of training) and ``recorded`` (the test songs with recorded drum kits and loops and sampled
instruments kept out of training, sung vocals, mixed and mastered). Evaluation renders are mastered."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from models.data.recipe import STEMS
from models.data.synth import SAMPLE_RATE
from models.separator.dataset import StemBank
from models.separator.metrics import sdr_per_stem
from models.separator.render import cache_dir

SETS = ("test", "heldout", "recorded")


def _bank(root: Path, name: str, limit: int) -> StemBank:
    try:
        return StemBank(root / name, limit=limit)
    except FileNotFoundError as exc:
        raise UserError(
            f"no rendered {name} songs in {root}: render them with 'python -m models.separator.render "
            f"--sets {name}' (needs ../shared/data/pop909 and the SoundFonts in models/separator/CARD.md)"
        ) from exc


def evaluate(
    models: list[str],
    sets: tuple[str, ...] = SETS,
    limit: int = 0,
    cache: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Mean SDR (dB) per stem and overall, per set, for each model and for the mixture baseline."""
    from engine.audio_io import read_audio, write_audio
    from models.separator.runtime import Separator, separate_file

    root = cache_dir(cache)
    seps = {m: Separator(m) for m in models}
    result: dict[str, Any] = {"metric": "whole-clip SDR (dB), mean over songs", "sets": {}}
    for name in sets:
        bank = _bank(root, name, limit)
        scores: dict[str, list[list[float]]] = {k: [] for k in ["mixture", "scaled mixture", *models]}
        with tempfile.TemporaryDirectory() as tmp:
            for i, sid in enumerate(bank.ids):
                song = bank.song(i)
                mix = song.sum(0)
                scores["mixture"].append(sdr_per_stem(song, np.broadcast_to(mix, song.shape)))
                scores["scaled mixture"].append(sdr_per_stem(song, best_scaled_mixture(song, mix)))
                wav = Path(tmp) / "mix.wav"
                write_audio(wav, mix, SAMPLE_RATE, "float")
                for m, sep in seps.items():
                    out = Path(tmp) / "out"
                    paths = separate_file(wav, out, model=sep, bits="float")
                    est = np.stack([read_audio(paths[s], max_channels=None)[0] for s in sep.stems])
                    order = [sep.stems.index(s) for s in STEMS]
                    scores[m].append(sdr_per_stem(song, est[order]))
                if log is not None:
                    log(
                        f"{name} {i + 1}/{len(bank)} {sid}: "
                        + ", ".join(f"{k} {np.mean(v[-1]):.2f}" for k, v in scores.items())
                    )
        entry: dict[str, Any] = {"songs": len(bank)}
        for k, v in scores.items():
            per = np.mean(np.array(v), 0)
            entry[k] = {s: round(float(x), 2) for s, x in zip(STEMS, per, strict=True)} | {
                "mean": round(float(per.mean()), 2)
            }
        for m in models:
            entry[m]["over scaled mixture"] = round(entry[m]["mean"] - entry["scaled mixture"]["mean"], 2)
        result["sets"][name] = entry
    return result


def best_scaled_mixture(stems: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """(stems, channels, n): each stem's estimate as the mixture times its least-squares constant."""
    mm = float(np.sum(mix.astype(np.float64) ** 2)) + 1e-12
    alpha = [float(np.sum(s.astype(np.float64) * mix)) / mm for s in stems]
    return np.stack([a * mix for a in alpha]).astype(np.float32)


def run(a: argparse.Namespace) -> dict[str, Any]:
    """``refrain eval separator``: the options of the eval command -> the figures."""
    models = [m.strip() for m in (a.model or "separator").split(",") if m.strip()]
    log = None if a.json else (lambda m: print(m, file=sys.stderr))
    return evaluate(models, SETS, a.limit, log=log)
