"""``refrain separate`` and the separator's part of ``refrain eval``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_separate_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "separate",
        help="split a song into stems (drums, bass, vocals, other)",
        description="Write OUT/<stem>.wav for each stem at the input's sample rate and channel count. "
        "Nothing is written unless every stem completes.",
    )
    p.add_argument("input", help="audio file (WAV, FLAC, OGG, MP3, AIFF)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the stems")
    p.add_argument("--stems", default=None, help="comma-separated subset, e.g. vocals,drums (default: all)")
    p.add_argument("--without", metavar="STEM", help="also write no_STEM.wav: the sum of the other stems")
    p.add_argument("--model", default="separator", help="shipped model name or a model folder (ONNX + JSON)")
    p.add_argument("--bits", default="24", choices=["16", "24", "float"])
    p.set_defaults(func=cmd_separate)


def cmd_separate(a: argparse.Namespace) -> int:
    from app.cli import Progress
    from models.separator.runtime import separate_file

    stems = [s.strip() for s in a.stems.split(",") if s.strip()] if a.stems else None
    bar = Progress(f"separating {Path(a.input).name}")
    try:
        paths = separate_file(a.input, a.out, stems, a.without, a.model, a.bits, progress=bar)
    finally:
        bar.done()
    for name, path in paths.items():
        print(f"{name}\t{path}")
    return 0


def cmd_eval_separator(a: argparse.Namespace) -> int:
    from models.separator.evaluate import SETS, evaluate

    models = [m.strip() for m in (a.model or "separator").split(",") if m.strip()]
    log = None if a.json else (lambda m: print(m, file=sys.stderr))
    res = evaluate(models, SETS, a.limit, log=log)
    print(json.dumps(res, indent=None if a.json else 2))
    return 0
