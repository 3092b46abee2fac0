"""Speed and memory of ``refrain transcribe`` on a long track: the whole CLI call in a subprocess.

The track is made like ``separate_speed.py``'s (tiled rendered test mixtures, or tones without a render
cache). Prints one JSON object: wall time, real-time factor (audio seconds per wall second), the child's
peak RSS and the notes written.

    .venv/bin/python benchmarks/transcribe_speed.py [--minutes 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from separate_speed import ROOT, make_track


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=3.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "long.wav"
        source = make_track(src, a.minutes)
        cmd = [str(ROOT / ".venv" / "bin" / "refrain"), "transcribe", str(src), "--out", str(Path(tmp) / "t.mid")]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        report = {
            "benchmark": "transcribe_speed",
            "track_minutes": a.minutes,
            "source": source,
            "wall_s": round(wall, 2),
            "realtime_factor": round(a.minutes * 60 / wall, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            "notes": int(proc.stdout.split("\t")[1].split()[0]),
            "cpus": os.cpu_count(),
        }
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
