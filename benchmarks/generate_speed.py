"""Speed of ``refrain generate`` for a 64-bar piece, the whole CLI call (process start included).

Prints one JSON object. The figure is a ratio: playing time of the piece / wall time of the call
(goal: at least 50, i.e. under 1/50 of the playing time). Run on an otherwise idle machine:

    .venv/bin/python benchmarks/generate_speed.py [--runs 5] [--bars 64] [--tempo 120] [--wav]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bars", type=int, default=64)
    ap.add_argument("--tempo", type=float, default=120.0)
    ap.add_argument("--preset", default="verse-chorus")
    ap.add_argument("--model", default="sing")
    ap.add_argument("--wav", action="store_true", help="also render audio in the same call")
    a = ap.parse_args()
    refrain = ROOT / ".venv" / "bin" / "refrain"
    cmd0 = [str(refrain)] if refrain.exists() else [sys.executable, "-m", "app.cli"]
    playing = a.bars * 4 * 60.0 / a.tempo
    times = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        for k in range(a.runs + 1):  # the first run warms the file cache and is not counted
            cmd = [
                *cmd0,
                "generate",
                "--preset",
                a.preset,
                "--bars",
                str(a.bars),
                "--tempo",
                str(a.tempo),
                "--model",
                a.model,
                "--seed",
                str(k),
                "--out",
                f"{d}/p.mid",
            ]
            if a.wav:
                cmd += ["--wav", f"{d}/p.wav"]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=d)
            if k:
                times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(
        json.dumps(
            {
                "benchmark": "generate_cli",
                "model": a.model,
                "bars": a.bars,
                "tempo": a.tempo,
                "wav": a.wav,
                "playing_seconds": playing,
                "cli_seconds_median": round(med, 3),
                "cli_seconds_min": round(min(times), 3),
                "realtime_factor": round(playing / med, 1),
                "goal_realtime_factor": 50,
                "meets_goal": playing / med >= 50,
                "runs": a.runs,
                "load_avg_before": round(load_before, 2),
                "cpus": os.cpu_count(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
