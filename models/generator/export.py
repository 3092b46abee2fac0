"""Export a trained generator checkpoint to ONNX (one step, LSTM state in and out) + JSON sidecar.

python -m models.generator.export runs/sing/best.pt assets/models/sing
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from models.generator import DESCRIPTIONS, FORMAT
from models.generator.codec import (
    ACC_LO,
    ACC_N,
    BASS_LO,
    BASS_N,
    DURATIONS,
    FRAME_DIM,
    MEL_LO,
    MEL_N,
    STEPS_PER_BAR,
    VEL_BINS,
)
from models.generator.conditions import COND_DIM
from models.generator.model import HEADS, Generator, StepWrapper
from models.generator.train import config_from_args
from models.platform.checkpoint import load_checkpoint
from models.platform.export import export_onnx

INPUTS = ["prev", "ctx", "conf", "cond", "h", "c"]
OUTPUTS = [*HEADS, "h_out", "c_out"]


def dummy_inputs(net: Generator, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    cfg = net.cfg
    prev = (torch.rand(batch, FRAME_DIM, generator=g) > 0.9).float()
    ctx = torch.rand(batch, FRAME_DIM, generator=g)
    conf = torch.rand(batch, 1, generator=g)
    cond = (torch.rand(batch, COND_DIM, generator=g) > 0.8).float()
    h = torch.randn(cfg.layers, batch, cfg.hidden, generator=g) * 0.5
    c = torch.randn(cfg.layers, batch, cfg.hidden, generator=g) * 0.5
    return prev, ctx, conf, cond, h, c


def export(ckpt_path: Path, out_dir: Path, name: str | None = None) -> dict[str, Any]:
    """Write ``out_dir/model.onnx`` and ``out_dir/model.json`` through the platform's export (checked
    against torch); returns the sidecar."""
    ck = load_checkpoint(ckpt_path)
    cfg = config_from_args(ck["args"])
    net = Generator(cfg)
    net.load_state_dict(ck["state_dict"])
    step = StepWrapper(net.eval()).eval()
    axes = {n: {0: "batch"} for n in ["prev", "ctx", "conf", "cond", *HEADS]}
    axes.update({n: {1: "batch"} for n in ["h", "c", "h_out", "c_out"]})
    model_name = name or str(ck["args"]["model"])
    sidecar: dict[str, Any] = {
        "name": model_name,
        "format": FORMAT,
        "description": DESCRIPTIONS.get(model_name, "a structured generator"),
        "config": cfg.to_dict(),
        "codec": {
            "version": 2,
            "steps_per_bar": STEPS_PER_BAR,
            "frame_dim": FRAME_DIM,
            "cond_dim": COND_DIM,
            "durations": DURATIONS.tolist(),
            "melody": [MEL_LO, MEL_N],
            "bass": [BASS_LO, BASS_N],
            "accompaniment": [ACC_LO, ACC_N],
            "vel_bins": VEL_BINS,
            "time_signature": "4/4",
        },
        "checkpoint": {
            "name": ck["name"],
            "versions": ck["versions"],
            "updates": int(ck.get("train_state", {}).get("step", 0)),
        },
    }
    return export_onnx(
        step, dummy_inputs(net, 2), dummy_inputs(net, 3, seed=1), INPUTS, OUTPUTS, axes, out_dir, sidecar, 1e-3
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export a generator checkpoint to ONNX.")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--name", default=None)
    a = ap.parse_args(argv)
    side = export(a.checkpoint, a.out_dir, a.name)
    print(json.dumps({"name": side["name"], "sha256": side["sha256"], "bytes": side["bytes"]}), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
