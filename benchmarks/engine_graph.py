"""The render graph's own cost, without a device: N stereo tracks with EQ + compressor (the engine bench's
graph), processed block after block on this thread; CPU time per block against the block's period.

    .venv/bin/python benchmarks/engine_graph.py [--tracks 64] [--block 128] [--blocks 2000]

Prints one JSON object: CPU ms per block, as a share of the period ("cpu_load"), and per track (us). Thread
CPU time, so another process on the machine changes it less than wall time would; the device-level
figures (xruns, render load beside a background job) are ``refrain bench engine``'s.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from engine.bench import bench_graph


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=64)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--blocks", type=int, default=2000)
    ap.add_argument("--rate", type=int, default=44100)
    a = ap.parse_args()
    seconds = (a.blocks + 200) * a.block / a.rate + 1.0
    graph = bench_graph(a.tracks, seconds, a.rate, a.block)
    graph.reset()
    out = np.zeros((2, a.block), np.float32)
    for k in range(200):  # warm-up: first calls, caches
        graph.process(k * a.block, out)
    t0 = time.thread_time()
    for k in range(200, 200 + a.blocks):
        graph.process(k * a.block, out)
    cpu_ms = (time.thread_time() - t0) / a.blocks * 1000
    period_ms = a.block / a.rate * 1000
    graph.close()
    print(
        json.dumps(
            {
                "benchmark": "engine_graph",
                "tracks": a.tracks,
                "block": a.block,
                "plugins_per_track": ["eq", "compressor"],
                "cpu_ms_per_block": round(cpu_ms, 3),
                "period_ms": round(period_ms, 3),
                "cpu_load": round(cpu_ms / period_ms, 3),
                "us_per_track": round(cpu_ms * 1000 / a.tracks, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
