"""Speed and memory of ``refrain separate`` on a long track: the whole CLI call in a subprocess.

Builds a stereo 44.1 kHz track of the requested length by tiling rendered test songs (or synthetic
tones when no render cache exists), runs ``refrain separate`` on it, and prints one JSON object with
the wall time, the real-time factor (audio seconds per wall second) and the child's peak RSS.

    .venv/bin/python benchmarks/separate_speed.py [--minutes 10] [--model separator] [--htdemucs-seconds 120]

``--htdemucs-seconds N`` also times the HTDemucs architecture (``demucs.htdemucs.HTDemucs`` with its
default layout, random weights: no hub download) through demucs's own ``apply_model`` on the first N
seconds of the same track, in the same run, and reports how many times faster the Refrain call is per
second of audio. demucs is a benchmark-only dependency, installed without its torchaudio requirement:

    .venv/bin/pip install --no-deps demucs==4.0.1 einops==0.8.2 julius==0.2.8 omegaconf==2.4.0 \\
        antlr4-python3-runtime==4.9.3 dora-search==0.1.13 treetable==0.2.6 retrying==1.4.2 submitit==1.5.4
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

    from models.data.synth import SAMPLE_RATE
    from models.separator.dataset import StemBank
    from models.separator.render import cache_dir

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


def htdemucs_seconds_per_second(src: Path, seconds: float) -> dict[str, float]:
    """Wall seconds per audio second of HTDemucs (default layout) through ``demucs.apply.apply_model``."""
    import soundfile as sf
    import torch

    from models.separator import umx_compat

    umx_compat.install()  # demucs imports openunmix, whose import wants torchaudio
    try:
        from demucs.apply import apply_model
        from demucs.htdemucs import HTDemucs
    except ImportError as exc:
        raise SystemExit(f"demucs is not installed ({exc}): see this script's docstring for the pip line") from exc
    sr = 44100
    x, _ = sf.read(src, frames=round(seconds * sr), dtype="float32", always_2d=True)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], samplerate=sr).eval()
    mix = torch.from_numpy(x.T.copy()).unsqueeze(0)
    t0 = time.perf_counter()
    with torch.no_grad():
        apply_model(model, mix, shifts=1, split=True, overlap=0.25, progress=False)
    wall = time.perf_counter() - t0
    return {
        "htdemucs_audio_s": round(len(x) / sr, 1),
        "htdemucs_params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "htdemucs_s_per_audio_s": round(wall / (len(x) / sr), 3),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--model", default="separator")
    ap.add_argument("--htdemucs-seconds", type=float, default=0.0, help="also time HTDemucs on this much audio")
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
        report = {
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
        if a.htdemucs_seconds > 0:
            ht = htdemucs_seconds_per_second(src, a.htdemucs_seconds)
            report |= ht | {
                "speedup_vs_htdemucs": round(ht["htdemucs_s_per_audio_s"] / (wall / audio_s), 1),
                "goal_speedup_vs_htdemucs": 20.0,
            }
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
