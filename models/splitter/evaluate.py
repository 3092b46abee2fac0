"""``refrain eval splitter``: SI-SDR improvement (SI-SDRi, dB) on rendered held-out duets, through the same
file-to-file path as ``refrain split`` (chunks, alignment, channels), beside two references: the mixture
itself (SI-SDRi 0 by definition; its SI-SDR is given) and an ideal ratio mask computed from the true
sources (an oracle; time-domain separators can beat it).

Sets: ``test`` (test songs, training SoundFonts and voices), ``heldout`` (the same songs on the held-out
SoundFont and speech voice), and ``long`` (70-second duets) for **order**: the share of 5-second windows
whose best source order is the whole file's (1.0: the sources never swap mid-file). Every figure is a
mean over duets, with a breakdown by duet kind."""

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
from models.platform.stft import istft, stft
from models.splitter.data import RATE
from models.splitter.dataset import DuetBank, usable_clip
from models.splitter.render import cache_dir

SETS = ("test", "heldout")
WINDOW = 5.0  # seconds per window of the order check


def si_sdr_pit(est: np.ndarray, ref: np.ndarray) -> tuple[float, list[int]]:
    """Mean SI-SDR (dB) of (S, n) estimates against (S, n) references under the best order, and that order."""
    import torch

    from models.platform.pit import best_permutation, si_sdr_matrix

    m = si_sdr_matrix(torch.from_numpy(est[None].astype(np.float64)), torch.from_numpy(ref[None].astype(np.float64)))
    score, perm = best_permutation(m)
    return float(score[0]), [int(p) for p in perm[0]]


def mixture_si_sdr(ref: np.ndarray) -> float:
    return si_sdr_pit(np.repeat(ref.sum(0, keepdims=True), len(ref), 0), ref)[0]


def ideal_ratio_mask(ref: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """The oracle: each source's magnitude share applied to the mixture's STFT; (S, n) -> (S, n)."""
    spec = stft(ref.astype(np.float32), n_fft, hop)  # (S, f, t)
    mags = np.abs(spec)
    masks = mags / (mags.sum(0, keepdims=True) + 1e-8)
    out: np.ndarray = istft(masks * spec.sum(0, keepdims=True), n_fft, hop, ref.shape[-1])
    return out


def order_kept(est: np.ndarray, ref: np.ndarray, window: int, usable: np.ndarray | None = None) -> float:
    """Share of ``window``-sample windows whose best order is the whole file's, over the windows where both
    sources sound and (with ``usable``, one flag per second) no second is doubled: there the order is
    arbitrary for any method."""
    _, whole = si_sdr_pit(est, ref)
    same, total = 0, 0
    for s in range(0, ref.shape[-1] - window + 1, window):
        r = ref[:, s : s + window]
        if (np.sqrt(np.mean(r**2, axis=1)) < 1e-3).any():
            continue
        if usable is not None and not usable[s // RATE : -(-(s + window) // RATE)].all():
            continue
        total += 1
        same += int(si_sdr_pit(est[:, s : s + window], r)[1] == whole)
    return same / total if total else float("nan")


def _bank(root: Path, name: str, limit: int) -> DuetBank:
    try:
        return DuetBank(root / name, limit=limit)
    except FileNotFoundError as exc:
        raise UserError(
            f"no rendered {name} duets in {root}: render them with 'python -m models.splitter.render --sets {name}'"
        ) from exc


def evaluate(
    models: list[str],
    sets: tuple[str, ...] = SETS,
    limit: int = 0,
    cache: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = None,
    seconds: float = 30.0,
) -> dict[str, Any]:
    """SI-SDRi per set (and per kind) for each model and the oracle; the mixture's SI-SDR; order on ``long``."""
    from engine.audio_io import read_audio, write_audio
    from models.splitter.runtime import Splitter, split_file

    root = cache_dir(cache)
    splitters = {m: Splitter(m) for m in models}
    result: dict[str, Any] = {"metric": "SI-SDRi (dB) under the best source order, mean over duets", "sets": {}}
    for name in sets:
        bank = _bank(root, name, limit)
        rows: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory() as tmp:
            for i, dname in enumerate(bank.names):
                long_set = name == "long"
                ref = bank.duet(i) if long_set else usable_clip(bank, i, seconds, 1)
                if ref is None:
                    continue
                mix_sdr = mixture_si_sdr(ref)
                row: dict[str, Any] = {"kind": bank.kind[i], "mixture": mix_sdr}
                row["ideal ratio mask"] = si_sdr_pit(ideal_ratio_mask(ref), ref)[0] - mix_sdr
                wav = Path(tmp) / "mix.wav"
                write_audio(wav, ref.sum(0, keepdims=True), RATE, "float")
                for m, sp in splitters.items():
                    paths = split_file(wav, Path(tmp) / "out", model=sp, bits="float")
                    est = np.stack([read_audio(p, max_channels=None)[0][0] for p in paths.values()])
                    row[m] = si_sdr_pit(est, ref)[0] - mix_sdr
                    if long_set:
                        row[f"{m} order kept"] = order_kept(est, ref, round(WINDOW * RATE), bank.usable[i])
                rows.append(row)
                if log is not None:
                    log(
                        f"{name} {i + 1}/{len(bank)} {dname}: "
                        + ", ".join(f"{k} {v:.2f}" for k, v in row.items() if k != "kind")
                    )
        result["sets"][name] = summarise(
            rows, ["mixture", "ideal ratio mask", *models], models if name == "long" else []
        )
    return result


def summarise(rows: list[dict[str, Any]], keys: list[str], order_models: list[str]) -> dict[str, Any]:
    """Means over duets, overall and per kind."""
    entry: dict[str, Any] = {"duets": len(rows)}
    kinds = sorted({r["kind"] for r in rows})
    for k in keys + [f"{m} order kept" for m in order_models]:
        vals = [r[k] for r in rows if k in r and np.isfinite(r[k])]
        entry[k] = {"mean": round(float(np.mean(vals)), 2) if vals else None} | {
            kind: round(float(np.nanmean([r[k] for r in rows if r["kind"] == kind and k in r] or [np.nan])), 2)
            for kind in kinds
        }
    entry["mixture"]["note"] = "the mixture's own SI-SDR (its SI-SDRi is 0)"
    return entry


def run(a: argparse.Namespace) -> dict[str, Any]:
    """``refrain eval splitter``: the options of the eval command -> the figures."""
    models = [m.strip() for m in (a.model or "splitter").split(",") if m.strip()]
    log = None if a.json else (lambda m: print(m, file=sys.stderr))
    root = cache_dir(None)
    sets = SETS + (("long",) if (root / "long").is_dir() else ())
    return evaluate(models, sets, a.limit, log=log)
