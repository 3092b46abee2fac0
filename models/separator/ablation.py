"""The random-mixing experiment of Jeon et al. (arXiv 2402.18407), built in: the same network and the
same compute budget, trained with p = 0 (coherent mixes only) and p > 0 (random cross-song mixes), on a
few and on all training songs; each run is exported and scored on the test songs through the app's own
separation path. Prints JSON.

    python -m models.separator.ablation --out runs/sep-ablation --minutes 10 --few 30

Each finished run leaves OUT/<run>/done.json, so a second call skips it and an interrupted one resumes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.files import atomic_path
from models.data.recipe import STEMS


def run_name(songs: int, p: float) -> str:
    return f"songs{songs or 'all'}-p{p:g}"


def train_run(out: Path, songs: int, p: float, args: argparse.Namespace) -> Path:
    """Train one arm to its budget (resuming a cut-off run); returns its exported model folder."""
    from models.separator.export import export
    from models.separator.train import main as train

    folder = out / run_name(songs, p)
    done = folder / "done.json"
    if not done.exists():
        argv = [
            "--out", str(folder), "--songs", str(songs), "--p", str(p), "--loss", args.loss,
            "--minutes", str(args.minutes), "--threads", str(args.threads), "--seed", str(args.seed),
            "--valid-every", "100000", "--valid-songs", "6", "--resume",
        ]  # fmt: skip
        if args.data is not None:
            argv += ["--data", str(args.data)]
        train(argv)
        export(folder / "last.pt", folder / "onnx", name=run_name(songs, p))
        with atomic_path(done) as tmp:
            tmp.write_text(json.dumps({"songs": songs, "p": p, "minutes": args.minutes}))
    return folder / "onnx"


def summarise(scores: dict[str, Any], few: int, p: float) -> dict[str, Any]:
    """The two effects the study reports, per stem and overall: random mixing at each song count, and more
    songs at each p."""

    def diff(a: str, b: str) -> dict[str, float]:
        return {k: round(scores[a][k] - scores[b][k], 2) for k in [*STEMS, "mean"]}

    return {
        f"random_mix_gain_{few}_songs": diff(run_name(few, p), run_name(few, 0.0)),
        "random_mix_gain_all_songs": diff(run_name(0, p), run_name(0, 0.0)),
        f"all_vs_{few}_songs_p0": diff(run_name(0, 0.0), run_name(few, 0.0)),
        f"all_vs_{few}_songs_p{p:g}": diff(run_name(0, p), run_name(few, p)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Random mixing (p = 0 vs p > 0) x few vs all songs, same budget.")
    ap.add_argument("--out", type=Path, default=Path("runs/sep-ablation"))
    ap.add_argument("--minutes", type=float, default=10.0, help="compute budget per run (see train --minutes)")
    ap.add_argument("--few", type=int, default=30, help="the 'few songs' arm: the first N training songs")
    ap.add_argument("--p", type=float, default=0.5, help="random-mix probability of the p > 0 arms")
    ap.add_argument("--loss", choices=["l1", "sdr"], default="sdr")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=None, help="render cache (default: models.separator.render.cache_dir)")
    ap.add_argument("--limit", type=int, default=0, help="score on the first N test songs (0: all)")
    ap.add_argument("--only-train", action="store_true", help="train the runs, score nothing")
    args = ap.parse_args(argv)

    from models.separator.evaluate import evaluate

    arms = [(songs, p) for songs in (args.few, 0) for p in (0.0, args.p)]
    models = {run_name(s, p): train_run(args.out, s, p, args) for s, p in arms}
    if args.only_train:
        return 0
    res = evaluate([str(m) for m in models.values()], sets=("test",), limit=args.limit, cache=args.data)
    entry = res["sets"]["test"]
    scores = {name: entry[str(path)] for name, path in models.items()}
    report = {
        "metric": res["metric"],
        "test_songs": entry["songs"],
        "minutes_per_run": args.minutes,
        "loss": args.loss,
        "runs": scores,
        "mixture": entry["mixture"],
        "effects": summarise(scores, args.few, args.p),
    }
    text = json.dumps(report, indent=2)
    with atomic_path(args.out / "ablation.json") as tmp:
        tmp.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
