"""Engine goals: 16 stereo tracks with EQ + compressor at 256-frame blocks, 44.1 kHz, on a clocked device
(a JACK dummy server when there is no sound card) while a background onnxruntime job runs.

    .venv/bin/python benchmarks/engine_realtime.py [--seconds 30] [--load onnx|numpy|none]

Prints one JSON object: the engine figures plus the goals and whether each is met.
"""

from __future__ import annotations

import argparse
import json

from app.cli_engine import bench_load
from engine.bench import GOALS, run_engine_bench


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--block", type=int, default=256)
    ap.add_argument("--load", default="onnx", choices=["onnx", "numpy", "none"])
    ap.add_argument("--workers", type=int, default=1, help="threads rendering the tracks")
    a = ap.parse_args()
    r = run_engine_bench(a.tracks, a.seconds, a.block, 44100, None, bench_load(a.load), a.workers)
    r["goals"] = {k: f"< {v}" if k != "xruns" else "0" for k, v in GOALS.items()}
    print(json.dumps(r))


if __name__ == "__main__":
    main()
