"""What the booster (basic-pitch features, SoniDo idea) costs a separator at run time: on the same 20 s
stereo chunk, in the same run, the time of the shipped separators' analysis half (STFT + network) and of
the booster's feature extraction (basic-pitch's ONNX model at 22.05 kHz, resampled to the separator's
frames), which a boosted separator adds to every chunk. Prints one JSON object; ratios are within the run.

    .venv/bin/python benchmarks/booster_cost.py [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.features.booster import booster_features, load_booster
from models.separator.runtime import Separator

RATE = 44100
CHUNK_S = 20.0


def _seconds(fn: object, repeats: int) -> float:
    assert callable(fn)
    fn()  # warm-up: ONNX sessions allocate on the first run
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    t = np.arange(round(CHUNK_S * RATE)) / RATE
    # a tonal chunk with noise: basic-pitch's cost does not depend on content, the decoding does not run here
    x = (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)
    chunk = np.stack([x, np.roll(x, 100)])
    booster = load_booster(a.threads)
    feat_s = _seconds(lambda: booster_features(booster, chunk, RATE, 512), a.repeats)
    report: dict[str, object] = {
        "benchmark": "booster_cost",
        "chunk_seconds": CHUNK_S,
        "threads": a.threads,
        "booster_s_per_chunk": round(feat_s, 4),
        "booster_realtime_factor": round(CHUNK_S / feat_s, 1),
    }
    for name in ("separator", "separator-fast"):
        sep = Separator(name, a.threads)
        net_s = _seconds(lambda sep=sep: sep.analyse(chunk), a.repeats)
        report[f"{name}_analyse_s_per_chunk"] = round(net_s, 4)
        report[f"{name}_slowdown_with_booster"] = round((net_s + feat_s) / net_s, 2)
    report["cpus"] = os.cpu_count()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
