"""``refrain separate``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_separate_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "separate",
        help="split a song into stems (drums, bass, vocals, other)",
        description="Write OUT/<stem>.wav for each stem at the input's sample rate and channel count; the stems "
        "add up to the input. Nothing is written unless every stem completes.",
    )
    p.add_argument("input", help="audio file (WAV, FLAC, OGG, Opus, MP3, AIFF)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the stems (created if missing)")
    p.add_argument("--stems", default=None, help="comma-separated subset, e.g. vocals,drums (default: all)")
    p.add_argument("--without", metavar="STEM", help="also write no_STEM.wav: the input minus that stem")
    p.add_argument("--model", default="separator", help="a separator model ('refrain models') or a model folder")
    p.add_argument(
        "--bits",
        default=None,
        choices=["16", "24", "float"],
        help="sample format (default: float for a float input, which may lie beyond full scale; else 24)",
    )
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
