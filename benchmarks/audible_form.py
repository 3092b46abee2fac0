"""Does the rendered audio follow its form? Generate a piece with ``refrain generate --wav``, derive
an SSM from the WAV alone (chroma on a tracked beat grid, as ``--from-track`` does), and report the
ROC AUC of that audio SSM for the bar pairs the template calls similar against all other pairs.

    .venv/bin/python benchmarks/audible_form.py [--preset verse-chorus] [--model sing] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.generator.metrics import roc_auc  # noqa: E402
from models.structure import (  # noqa: E402
    parse_structure,
    resample_template,
    similar_pairs,
    template_from_track,
)
from models.structure.presets import PRESET_STRINGS  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="verse-chorus")
    ap.add_argument("--model", default="sing")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tempo", type=float, default=120.0)
    a = ap.parse_args()
    sections = parse_structure(PRESET_STRINGS[a.preset])
    sim = similar_pairs(sections)
    n = sim.shape[0]
    iu = np.triu_indices(n, k=1)
    refrain = ROOT / ".venv" / "bin" / "refrain"
    aucs = []
    with tempfile.TemporaryDirectory() as d:
        for seed in range(a.seeds):
            wav = Path(d) / f"p{seed}.wav"
            subprocess.run(
                [
                    str(refrain),
                    "generate",
                    "--preset",
                    a.preset,
                    "--model",
                    a.model,
                    "--seed",
                    str(seed),
                    "--tempo",
                    str(a.tempo),
                    "--out",
                    f"{d}/p{seed}.mid",
                    "--wav",
                    str(wav),
                ],
                check=True,
                capture_output=True,
            )
            audio_ssm = template_from_track(wav)  # the render's tail may add a bar: compare the first n
            audio_ssm = audio_ssm[:n, :n] if audio_ssm.shape[0] >= n else resample_template(audio_ssm, n)
            aucs.append(roc_auc(audio_ssm[iu], sim[iu]))
    print(
        json.dumps(
            {
                "benchmark": "audible_form",
                "preset": a.preset,
                "model": a.model,
                "bars": n,
                "audio_ssm_auc_per_seed": [round(x, 3) for x in aucs],
                "audio_ssm_auc_mean": round(float(np.mean(aucs)), 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
