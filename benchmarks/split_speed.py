"""Speed and memory of ``refrain split`` on long duets: the whole CLI call in a subprocess, per length.

Builds a stereo 44.1 kHz duet of each requested length by tiling rendered test duets (or two synthetic
voices when no duet cache exists), runs ``refrain split`` on it, and prints one JSON object with, per
length, the wall time, the real-time factor (audio seconds per wall second) and the call's peak RSS.
Peak memory should not grow with the length (the runner streams in chunks).

    .venv/bin/python benchmarks/split_speed.py [--minutes 3,12] [--model splitter]
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
RATE = 44100


def make_duet(path: Path, minutes: float) -> str:
    import soundfile as sf
    import soxr

    from models.splitter.dataset import DuetBank
    from models.splitter.render import cache_dir

    n = round(minutes * 60 * RATE)
    try:
        bank: DuetBank | None = DuetBank(cache_dir() / "test")
        source = "rendered test duets"
    except FileNotFoundError:
        bank, source = None, "synthetic voices"
    with sf.SoundFile(path, "w", RATE, 2, "PCM_16") as f:
        done, k = 0, 0
        while done < n:
            if bank is not None:
                duet = bank.duet(k % len(bank))
                x = soxr.resample(duet.T, 22050, RATE)  # (n, 2): one voice a little left, one right
                x = np.stack([0.7 * x[:, 0] + 0.4 * x[:, 1], 0.4 * x[:, 0] + 0.7 * x[:, 1]], 1)
            else:
                t = np.arange(30 * RATE) / RATE
                a, b = np.sin(2 * np.pi * (200 + 5 * k) * t), np.sin(2 * np.pi * (300 + 7 * k) * t)
                x = np.stack([0.2 * a + 0.1 * b, 0.1 * a + 0.2 * b], 1)
            x = x[: n - done]
            f.write(np.clip(x, -1, 1))
            done += len(x)
            k += 1
    return source


def one(minutes: float, model: str) -> dict[str, float | str]:
    """Time one CLI call on a fresh duet of ``minutes``; this process's only child is that call."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "duet.wav"
        source = make_duet(src, minutes)
        cmd = [
            str(ROOT / ".venv" / "bin" / "refrain"),
            "split",
            str(src),
            "--out",
            str(Path(tmp) / "v"),
            "--model",
            model,
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(proc.stderr.strip())
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "minutes": minutes,
        "source": source,
        "wall_s": round(wall, 2),
        "realtime_factor": round(minutes * 60 / wall, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", default="3,12", help="duet lengths, comma-separated")
    ap.add_argument("--model", default="splitter")
    ap.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)  # internal: one length
    a = ap.parse_args()
    if a.one is not None:
        print(json.dumps(one(a.one, a.model)))
        return 0
    runs = []
    for m in (float(x) for x in a.minutes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(m), "--model", a.model], capture_output=True, text=True
        )
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        runs.append(json.loads(out.stdout))
    report = {
        "benchmark": "split_speed",
        "model": a.model,
        "runs": runs,
        "goal_realtime_factor": 10.0,
        "memory_growth": round(runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 2) if len(runs) > 1 else None,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
