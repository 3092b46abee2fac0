"""Load every installed LV2 plugin, process 4096 frames of stereo noise in 256-frame blocks, and count
what works: loaded and finite, refused with a message, failed to instantiate, or produced NaN/inf.

    .venv/bin/python benchmarks/lv2_sweep.py [--verbose]

Prints one JSON object. Run it in its own process: a crashing third-party plugin takes the process down.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from engine.errors import UserError
from engine.plugins.lv2 import Lv2Plugin, installed_plugins


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    x = np.random.default_rng(0).standard_normal((2, 4096)).astype(np.float32) * 0.1
    counts = {"ok": 0, "refused": 0, "failed_to_instantiate": 0, "non_finite": 0}
    per_block_us: list[float] = []
    for uri, _name in installed_plugins():
        try:
            p = Lv2Plugin(uri)
        except UserError as exc:
            counts["refused"] += 1
            if a.verbose:
                print("refused", uri, exc)
            continue
        try:
            p.prepare(44100, 256, 2)
        except UserError:
            counts["failed_to_instantiate"] += 1
            continue
        b = x.copy()
        t0 = time.perf_counter()
        for i in range(0, b.shape[1], 256):
            p.process(b[:, i : i + 256])
        per_block_us.append((time.perf_counter() - t0) / 16 * 1e6)
        counts["ok" if np.isfinite(b).all() else "non_finite"] += 1
        p.close()
    print(
        json.dumps(
            {
                "installed": sum(counts.values()),
                **counts,
                "median_us_per_256_block": round(float(np.median(per_block_us)), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
