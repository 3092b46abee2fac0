"""Speed and memory of ``refrain separate`` on a long track: the whole CLI call in a subprocess.

Builds a stereo 44.1 kHz track of the requested length by tiling rendered test songs (or synthetic
tones when no render cache exists), runs ``refrain separate`` on it, and prints one JSON object with
the wall time, the real-time factor (audio seconds per wall second) and the child's peak RSS.

    .venv/bin/python benchmarks/separate_speed.py [--minutes 10] [--model separator]
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_track(path: Path, minutes: float) -> str:
    import soundfile as sf

    from models.separator.dataset import StemBank
    from models.separator.render import SAMPLE_RATE, cache_dir

    n = round(minutes * 60 * SAMPLE_RATE)
    try:
        bank = StemBank(cache_dir() / "test")
        source = "rendered test songs"
    except FileNotFoundError:
        bank, source = None, "synthetic tones"
    with sf.SoundFile(path, "w", SAMPLE_RATE, 2, "PCM_16") as f:
        done, k = 0, 0
        while done < n:
            if bank is not None:
                x = bank.song(k % len(bank)).sum(0).T
            else:
                t = np.arange(30 * SAMPLE_RATE) / SAMPLE_RATE
                x = np.stack([0.2 * np.sin(2 * np.pi * (110 + 10 * k) * t)] * 2, 1)
            x = x[: n - done]
            f.write(np.clip(x, -1, 1))
            done += len(x)
            k += 1
    return source


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--model", default="separator")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "long.wav"
        source = make_track(src, a.minutes)
        exe = ROOT / ".venv" / "bin" / "refrain"
        cmd = [str(exe), "separate", str(src), "--out", str(Path(tmp) / "stems"), "--model", a.model]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        audio_s = a.minutes * 60
        print(
            json.dumps(
                {
                    "benchmark": "separate_speed",
                    "track_minutes": a.minutes,
                    "source": source,
                    "model": a.model,
                    "wall_s": round(wall, 2),
                    "realtime_factor": round(audio_s / wall, 2),
                    "goal_realtime_factor": 15.0,
                    "peak_rss_mb": round(peak_kb / 1024, 1),
                    "goal_peak_mb": 1536,
                    "cpus": os.cpu_count(),
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
