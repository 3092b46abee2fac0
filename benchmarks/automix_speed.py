"""Speed of ``refrain automix`` (balance mode, and reference mode with ``--reference``): the whole CLI call
in a subprocess on N stems of a given length, tiled from the separator's rendered test stems (or synthetic
stems when no render cache exists). Prints one JSON object: wall seconds per mode, and their ratio to the
issue's budgets (balance 10 s, reference 60 s for 8 three-minute stems).

    .venv/bin/python benchmarks/automix_speed.py [--stems 8] [--minutes 3] [--model automix]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RATE = 44100


def make_stems(folder: Path, count: int, minutes: float) -> tuple[list[Path], str]:
    import soundfile as sf

    from models.separator.render import cache_dir

    n = round(minutes * 60 * RATE)
    songs = sorted((cache_dir() / "test").glob("*.npy"))
    source = "rendered test stems" if songs else "synthetic stems"
    paths = []
    for k in range(count):
        if songs:
            audio = np.load(songs[k // 4 % len(songs)]).astype(np.float32)[k % 4] / 32767
        else:
            t = np.arange(30 * RATE) / RATE
            audio = np.stack([np.sin(2 * np.pi * (80 + 40 * k) * t)] * 2).astype(np.float32) * 0.2
        reps = -(-n // audio.shape[1])
        x = np.tile(audio, (1, reps))[:, :n]
        paths.append(folder / f"stem {k + 1:02d}.wav")
        sf.write(paths[-1], x.T, RATE, subtype="PCM_24")
    return paths, source


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stems", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--model", default="automix")
    args = ap.parse_args()
    out: dict[str, object] = {"stems": args.stems, "minutes": args.minutes}
    with tempfile.TemporaryDirectory() as tmp:
        paths, out["source"] = make_stems(Path(tmp), args.stems, args.minutes)
        ref = Path(tmp) / "reference.wav"
        base = [sys.executable, "-m", "app.cli", "automix", *map(str, paths), "--model", args.model]
        for mode, extra, budget in (("balance", [], 10.0), ("reference", ["--reference", str(ref)], 60.0)):
            t0 = time.monotonic()
            r = subprocess.run([*base, "--out", str(ref if mode == "balance" else Path(tmp) / "m2.wav"), *extra],
                               capture_output=True, text=True, cwd=ROOT)  # fmt: skip
            wall = time.monotonic() - t0
            if r.returncode != 0:
                raise SystemExit(f"{mode} failed: {r.stderr.strip()}")
            out[mode] = {"wall_s": round(wall, 2), "budget_s": budget, "ratio_to_budget": round(wall / budget, 3)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
