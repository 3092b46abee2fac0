"""Two experiments built in, each at one compute budget per run, on a few and on all training songs; each
run is exported and scored through the app's own separation path on every evaluation set. Prints JSON.

* ``--study random-mix``: the random-mixing experiment of Jeon et al. (arXiv 2402.18407): p = 0 (coherent
  mixes only) against p > 0 (random cross-song mixes);
* ``--study booster``: the SoniDo booster (Liao et al., arXiv 2411.01135): BandNet without and with
  basic-pitch's features injected (``--booster film`` or ``concat``), at p > 0;
* ``--study arch``: BandNet, MaskNet and Open-Unmix at the same budget on all songs, at p > 0.

All studies share run names, so one ``--out`` folder serves them all and a run two studies need is trained
once. ``--runs a,b --only-train`` trains a subset, so two processes can share the arms of one folder.

    python -m models.separator.ablation --out runs/sep-ablation --minutes 10 --few 30
    python -m models.separator.ablation --study booster --arch bandnet --few 24 --minutes 60 --out runs/sep-booster

Each finished run leaves OUT/<run>/done.json, so a second call skips it and an interrupted one resumes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.files import atomic_path
from models.data.recipe import STEMS

ARCHS = ("bandnet", "masknet", "umx")


def run_name(songs: int, p: float, booster: str = "", arch: str = "") -> str:
    """The arm's folder name; ``arch`` is named only where it differs from the study's ``--arch``."""
    return f"songs{songs or 'all'}-p{p:g}" + "".join(f"-{x}" for x in (booster, arch) if x)


def train_run(out: Path, songs: int, p: float, args: argparse.Namespace, booster: str = "", arch: str = "") -> Path:
    """Train one arm to its budget (resuming a cut-off run); returns its exported model folder."""
    from models.separator.export import export
    from models.separator.train import main as train

    name = run_name(songs, p, booster, arch)
    arch = arch or args.arch
    folder = out / name
    done = folder / "done.json"
    if not done.exists():
        argv = [
            "--out", str(folder), "--songs", str(songs), "--p", str(p), "--loss", args.loss,
            "--minutes", str(args.minutes), "--threads", str(args.threads), "--seed", str(args.seed),
            "--valid-every", "100000", "--valid-songs", "6", "--resume", "--arch", arch,
            "--master", str(args.master),
        ]  # fmt: skip
        if arch == "bandnet":
            argv += ["--hidden", "64", "--layers", "1"]
        if args.level:
            argv.append("--level")
        if booster:
            argv += ["--booster", booster]
        if args.data is not None:
            argv += ["--data", str(args.data)]
        train(argv)
        export(folder / "last.pt", folder / "onnx", name=name)
        with atomic_path(done) as tmp:
            meta = {"songs": songs, "p": p, "booster": booster, "arch": arch, "minutes": args.minutes}
            tmp.write_text(json.dumps(meta))
    return folder / "onnx"


def _diff(scores: dict[str, Any], a: str, b: str) -> dict[str, float]:
    return {k: round(scores[a][k] - scores[b][k], 2) for k in [*STEMS, "mean"]}


def summarise_booster(scores: dict[str, Any], few: int, p: float, booster: str) -> dict[str, Any]:
    """The booster's gain at each song count, and more songs with and without it."""
    return {
        f"booster_gain_{few}_songs": _diff(scores, run_name(few, p, booster), run_name(few, p)),
        "booster_gain_all_songs": _diff(scores, run_name(0, p, booster), run_name(0, p)),
        f"all_vs_{few}_songs": _diff(scores, run_name(0, p), run_name(few, p)),
    }


def summarise_arch(scores: dict[str, Any], p: float, arch: str) -> dict[str, Any]:
    """``arch`` (the study's network) over each other network at the same budget."""
    base = run_name(0, p)
    return {f"{arch}_vs_{other}": _diff(scores, base, run_name(0, p, arch=other)) for other in ARCHS if other != arch}


def summarise(scores: dict[str, Any], few: int, p: float) -> dict[str, Any]:
    """The two effects the study reports, per stem and overall: random mixing at each song count, and more
    songs at each p."""

    def diff(a: str, b: str) -> dict[str, float]:
        return _diff(scores, a, b)

    return {
        f"random_mix_gain_{few}_songs": diff(run_name(few, p), run_name(few, 0.0)),
        "random_mix_gain_all_songs": diff(run_name(0, p), run_name(0, 0.0)),
        f"all_vs_{few}_songs_p0": diff(run_name(0, 0.0), run_name(few, 0.0)),
        f"all_vs_{few}_songs_p{p:g}": diff(run_name(0, p), run_name(few, p)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Random mixing, the booster or the network; same budget per run.")
    ap.add_argument("--study", choices=["random-mix", "booster", "arch"], default="random-mix")
    ap.add_argument("--arch", choices=list(ARCHS), default="masknet", help="the network (the arch study: the baseline)")
    ap.add_argument("--booster", choices=["film", "concat"], default="film", help="the booster arms' injection")
    ap.add_argument("--master", type=float, default=0.0, help="share of examples mastered (see train --master)")
    ap.add_argument("--level", action="store_true", help="train at the runtime's input level (see train --level)")
    ap.add_argument("--sets", default="test", help="evaluation sets, comma-separated (test,heldout,recorded)")
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
    ap.add_argument("--runs", default="", help="train only these arms (comma-separated run names; with --only-train)")
    args = ap.parse_args(argv)

    from models.separator.evaluate import evaluate

    if args.study == "booster" and args.arch != "bandnet":
        raise SystemExit("the booster study needs --arch bandnet")
    if args.study == "random-mix":
        arms = [(songs, p, "", "") for songs in (args.few, 0) for p in (0.0, args.p)]
    elif args.study == "booster":
        arms = [(songs, args.p, b, "") for songs in (args.few, 0) for b in ("", args.booster)]
    else:
        arms = [(0, args.p, "", a if a != args.arch else "") for a in ARCHS]
    wanted = {x.strip() for x in args.runs.split(",") if x.strip()}
    unknown = wanted - {run_name(*arm) for arm in arms}
    if unknown:
        ap.error(f"--runs: no such arm in this study: {', '.join(sorted(unknown))}")
    if wanted and not args.only_train:
        ap.error("--runs needs --only-train (scoring compares every arm)")
    arms = [arm for arm in arms if not wanted or run_name(*arm) in wanted]
    models = {run_name(*arm): train_run(args.out, arm[0], arm[1], args, arm[2], arm[3]) for arm in arms}
    if args.only_train:
        return 0
    sets = tuple(x.strip() for x in args.sets.split(",") if x.strip())
    res = evaluate([str(m) for m in models.values()], sets=sets, limit=args.limit, cache=args.data)
    report: dict[str, Any] = {
        "metric": res["metric"],
        "study": args.study,
        "arch": args.arch,
        "minutes_per_run": args.minutes,
        "loss": args.loss,
        "sets": {},
    }
    for name in sets:
        entry = res["sets"][name]
        scores = {run: entry[str(path)] for run, path in models.items()}
        if args.study == "random-mix":
            effects = summarise(scores, args.few, args.p)
        elif args.study == "booster":
            effects = summarise_booster(scores, args.few, args.p, args.booster)
        else:
            effects = summarise_arch(scores, args.p, args.arch)
        report["sets"][name] = {"songs": entry["songs"], "runs": scores, "mixture": entry["mixture"],
                                "scaled mixture": entry["scaled mixture"], "effects": effects}  # fmt: skip
    text = json.dumps(report, indent=2)
    with atomic_path(args.out / f"ablation-{args.study}.json") as tmp:
        tmp.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
