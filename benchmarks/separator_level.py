"""Level invariance of ``refrain separate``: mean whole-clip SDR of a rendered set separated at -12, 0
and +12 dB input gain, through the runtime's file path. Prints JSON.

    .venv/bin/python benchmarks/separator_level.py [--model separator] [--set recorded] [--songs 24]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audio_io import read_audio, write_audio  # noqa: E402
from models.separator.dataset import StemBank  # noqa: E402
from models.separator.metrics import sdr_per_stem  # noqa: E402
from models.separator.render import cache_dir  # noqa: E402
from models.separator.runtime import Separator, separate_file  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="separator")
    ap.add_argument("--set", default="recorded")
    ap.add_argument("--songs", type=int, default=24)
    a = ap.parse_args()
    sep = Separator(a.model)
    bank = StemBank(cache_dir() / a.set, limit=a.songs)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for gain_db in (-12.0, 0.0, 12.0):
            k = np.float32(10 ** (gain_db / 20))
            scores = []
            for i in range(len(bank)):
                song = bank.song(i)
                write_audio(Path(tmp) / "mix.wav", song.sum(0) * k, 44100, "float")
                paths = separate_file(Path(tmp) / "mix.wav", Path(tmp) / "out", model=sep, bits="float")
                est = np.stack([read_audio(paths[s], max_channels=None)[0] for s in sep.stems])
                scores.append(np.mean(sdr_per_stem(song * k, est)))
            out[f"{gain_db:+.0f} dB"] = round(float(np.mean(scores)), 3)
    print(
        json.dumps(
            {"benchmark": "separator_level", "model": a.model, "set": a.set, "songs": len(bank), "mean_sdr": out}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
