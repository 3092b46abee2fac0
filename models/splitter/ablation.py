"""The splitter's built-in ablation (Gao, Gu and Marsic, arXiv 2311.12199): the same network, data and
compute budget per run, trained as plain PIT, PIT + DSD (drop mode), PIT + DSD (re-order mode) and
PIT + DSD + LO; each run is exported and scored through ``refrain split``'s own path on every set.
Prints JSON (SI-SDRi per set and kind, and the label-switch rate per epoch) and draws the switch-rate
curves to OUT/switch-rate.png.

    python -m models.splitter.ablation --out runs/split-ablation --minutes 20
    python -m models.splitter.ablation --out runs/split-ablation --minutes 20 --runs pit,dsd-drop --only-train

Each finished run leaves OUT/<run>/done.json, so a second call skips it and an interrupted one resumes;
``--runs a,b --only-train`` trains a subset, so two processes can share the arms."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.files import atomic_path

ARMS: dict[str, list[str]] = {
    "pit": ["--dsd", "off"],
    "dsd-drop": ["--dsd", "drop"],
    "dsd-reorder": ["--dsd", "reorder"],
    "dsd-drop-lo": ["--dsd", "drop", "--lo"],
}


def train_arm(out: Path, arm: str, args: argparse.Namespace) -> Path:
    """Train one arm to its budget (resuming a cut-off run); returns its exported model folder."""
    from models.splitter.export import export
    from models.splitter.train import main as train

    folder = out / arm
    done = folder / "done.json"
    if not done.exists():
        argv = [
            "--out", str(folder), "--minutes", str(args.minutes), "--threads", str(args.threads),
            "--seed", str(args.seed), "--resume", "--pool", str(args.pool), "--valid-every", str(args.valid_every),
            "--valid-songs", "4",
            *ARMS[arm],
        ]  # fmt: skip
        if args.songs:
            argv += ["--songs", str(args.songs)]
        if args.data is not None:
            argv += ["--data", str(args.data)]
        train(argv + args.train_args.split())
        export(folder / "last.pt", folder / "onnx", name=arm)
        with atomic_path(done) as tmp:
            tmp.write_text(json.dumps({"arm": arm, "minutes": args.minutes, "songs": args.songs}))
    return folder / "onnx"


def switch_rates(folder: Path) -> list[float | None]:
    """The run's label-switch rate per epoch (None for the first: nothing revisited yet)."""
    log = folder / "epochs.jsonl"
    if not log.exists():
        return []
    return [json.loads(line)["switch_rate"] for line in log.read_text().splitlines() if line.strip()]


def plot(rates: dict[str, list[float | None]], path: Path) -> None:
    """Switch rate per epoch, one line per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    for arm, r in rates.items():
        pts = [(e, v) for e, v in enumerate(r) if v is not None]
        if pts:
            ax.plot([e for e, _ in pts], [100 * v for _, v in pts], marker="o", ms=3, label=arm)
    ax.set_xlabel("epoch")
    ax.set_ylabel("label-switch rate (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="PIT, + DSD (drop, re-order), + DSD + LO at one budget each.")
    ap.add_argument("--out", type=Path, default=Path("runs/split-ablation"))
    ap.add_argument("--minutes", type=float, default=20.0, help="compute budget per run (see train --minutes)")
    ap.add_argument("--songs", type=int, default=0, help="only the first N training songs (0: all)")
    ap.add_argument("--pool", type=int, default=1200, help="training examples per run (see train --pool)")
    ap.add_argument("--sets", default="test,heldout", help="evaluation sets, comma-separated (test,heldout,long)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--valid-every", type=int, default=100, help="checkpoint (and validate) this often")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=None, help="duet cache (default: models.splitter.render.cache_dir)")
    ap.add_argument("--limit", type=int, default=0, help="score on the first N songs of each set (0: all)")
    ap.add_argument("--seconds", type=float, default=30.0, help="score on at most this much of each duet")
    ap.add_argument("--only-train", action="store_true", help="train the runs, score nothing")
    ap.add_argument("--train-args", default="", help="more train options for every arm, e.g. '--segment 4'")
    ap.add_argument("--runs", default="", help=f"train only these arms (comma-separated: {', '.join(ARMS)})")
    args = ap.parse_args(argv)
    wanted = [x.strip() for x in args.runs.split(",") if x.strip()]
    unknown = [x for x in wanted if x not in ARMS]
    if unknown:
        ap.error(f"--runs: no such arm: {', '.join(unknown)} (arms: {', '.join(ARMS)})")
    if wanted and not args.only_train:
        ap.error("--runs needs --only-train (scoring compares every arm)")
    models = {arm: train_arm(args.out, arm, args) for arm in (wanted or list(ARMS))}
    if args.only_train:
        return 0
    from models.splitter.evaluate import evaluate

    sets = tuple(x.strip() for x in args.sets.split(",") if x.strip())
    res = evaluate([str(m) for m in models.values()], sets, args.limit, cache=args.data, seconds=args.seconds)
    rates = {arm: switch_rates(args.out / arm) for arm in models}
    report: dict[str, Any] = {
        "metric": res["metric"],
        "minutes_per_run": args.minutes,
        "seconds_per_duet": args.seconds,
        "sets": {},
        "switch_rate": rates,
    }
    for name, entry in res["sets"].items():
        report["sets"][name] = {arm: entry[str(path)] for arm, path in models.items()} | {
            k: entry[k] for k in ("duets", "mixture", "ideal ratio mask")
        }
        for arm, path in models.items():
            if f"{path} order kept" in entry:
                report["sets"][name][f"{arm} order kept"] = entry[f"{path} order kept"]
    plot(rates, args.out / "switch-rate.png")
    text = json.dumps(report, indent=2)
    with atomic_path(args.out / "ablation.json") as tmp:
        tmp.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
