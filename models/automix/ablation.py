"""The booster ablation for the auto-mixer (SoniDo: Liao et al., arXiv 2411.01135, where a frozen music
model's features help most when task data is scarce): the balance controller trained without and with the
booster's per-stem summaries (:func:`models.features.booster.summary`), on all training songs and on the
first ``--few``, each at the same number of updates, over several seeds; every arm is exported and scored
by ``refrain eval automix``'s balance figures on the held-out test songs.

    python -m models.automix.examples --set train --per-song 16
    python -m models.automix.ablation --out runs/automix-booster --json models/automix/ablation.json

Prints (and with ``--json`` writes) per arm the mean and spread over seeds of the MR-STFT distance, the
stem balance error and the role accuracy, and the booster's effect at each song count (negative distance
and error changes are improvements)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from engine.files import atomic_path

METRICS = ("automix.mrstft", "automix.balance_lu", "role_accuracy")


def arm_name(songs: int, booster: bool, seed: int) -> str:
    return f"songs{songs or 'all'}-{'booster' if booster else 'plain'}-seed{seed}"


def train_arm(out: Path, songs: int, booster: bool, seed: int, args: argparse.Namespace) -> Path:
    """Train and export one arm (skipped when its export exists); returns the model folder."""
    from models.automix.export import export
    from models.automix.train import main as train

    folder = out / arm_name(songs, booster, seed)
    model = folder / "onnx"
    if not (model / "model.json").exists():
        argv = [
            "--out", str(folder), "--updates", str(args.updates), "--valid-every", "500", "--threads", "1",
            "--seed", str(seed), "--songs", str(songs), "--resume",
        ]  # fmt: skip
        if booster:
            argv.append("--booster")
        if args.data is not None:
            argv += ["--data", str(args.data)]
        train(argv)
        export(folder / "best.pt", model, name=folder.name)
    return model


def summarise(scores: dict[str, dict[str, float]], songs: list[int], seeds: int) -> dict[str, Any]:
    """Mean and standard deviation over seeds per (songs, booster) arm; the booster's effect per song count."""
    arms: dict[str, Any] = {}
    for n in songs:
        for booster in (False, True):
            runs = [scores[arm_name(n, booster, s)] for s in range(seeds)]
            key = arm_name(n, booster, 0).rsplit("-seed", 1)[0]
            values = {m: [r[m] for r in runs] for m in METRICS}
            arms[key] = {
                m: {"mean": round(float(np.mean(v)), 4), "std": round(float(np.std(v)), 4)} for m, v in values.items()
            }
    effects = {}
    for n in songs:
        on, off = arms[f"songs{n or 'all'}-booster"], arms[f"songs{n or 'all'}-plain"]
        effects[f"booster_effect_songs{n or 'all'}"] = {m: round(on[m]["mean"] - off[m]["mean"], 4) for m in METRICS}
    return {"arms": arms, "effects": effects}


def main(argv: list[str] | None = None) -> int:
    from models.automix.evaluate import evaluate
    from models.separator.render import cache_dir as stem_cache

    ap = argparse.ArgumentParser(description="Auto-mixer booster ablation: on/off, all and few songs, equal updates.")
    ap.add_argument("--out", type=Path, default=Path("runs/automix-booster"))
    ap.add_argument("--updates", type=int, default=4000, help="updates per arm (the shipped recipe's)")
    ap.add_argument("--few", type=int, default=8, help="the low-data arm: the first N training songs (10 %%)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--data", type=Path, default=None, help="example cache (default: the automix cache)")
    ap.add_argument("--per-song", type=int, default=2, help="held-out examples per test song")
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = ap.parse_args(argv)
    folder = stem_cache(None) / "test"
    songs = [0, args.few]
    scores: dict[str, dict[str, float]] = {}
    baselines: dict[str, Any] = {}
    for n in songs:
        for booster in (False, True):
            for seed in range(args.seeds):
                name = arm_name(n, booster, seed)
                model = train_arm(args.out, n, booster, seed, args)
                res = evaluate(folder, str(model), per_song=args.per_song)
                scores[name] = {m: float(res[m]) for m in METRICS}
                baselines = {k: res[k] for k in ("songs", "examples", "sum.mrstft", "equal_loudness.mrstft")}
                print(json.dumps({"arm": name, **scores[name]}), file=sys.stderr)
    report = {
        "updates_per_arm": args.updates,
        "few_songs": args.few,
        "seeds": args.seeds,
        "held_out": baselines,
        **summarise(scores, songs, args.seeds),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        with atomic_path(args.json) as tmp:
            tmp.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
