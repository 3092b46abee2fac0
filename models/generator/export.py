"""Export a trained generator checkpoint to ONNX (one step, LSTM state in and out) + JSON sidecar.

python -m models.generator.export runs/sing/best.pt assets/models/sing
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.checkpoint import load_checkpoint
from models.generator.codec import (
    ACC_LO,
    ACC_N,
    FRAME_DIM,
    MEL_LO,
    MEL_N,
    STEPS_PER_BAR,
    VEL_BINS,
)
from models.generator.model import Generator, StepWrapper
from models.generator.train import config_from_args
from models.runtime import sha256_of

INPUTS = ["prev", "ctx", "conf", "pos", "h", "c"]
OUTPUTS = ["mel_logits", "acc_logits", "vel_m_logits", "vel_a_logits", "h_out", "c_out"]


def dummy_inputs(net: Generator, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    cfg = net.cfg
    prev = (torch.rand(batch, FRAME_DIM, generator=g) > 0.9).float()
    ctx = torch.rand(batch, FRAME_DIM, generator=g)
    conf = torch.rand(batch, 1, generator=g)
    pos = torch.nn.functional.one_hot(torch.randint(0, STEPS_PER_BAR, (batch,), generator=g), STEPS_PER_BAR).float()
    h = torch.randn(cfg.layers, batch, cfg.hidden, generator=g) * 0.5
    c = torch.randn(cfg.layers, batch, cfg.hidden, generator=g) * 0.5
    return prev, ctx, conf, pos, h, c


def export(ckpt_path: Path, out_dir: Path, name: str | None = None) -> dict[str, Any]:
    """Write ``out_dir/model.onnx`` and ``out_dir/model.json``; returns the sidecar."""
    ck = load_checkpoint(ckpt_path)
    cfg = config_from_args(ck["args"])
    net = Generator(cfg)
    net.load_state_dict(ck["state_dict"])
    net.eval()
    step = StepWrapper(net).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "model.onnx"
    tmp = out_dir / "model.part.onnx"
    axes = {n: {0: "batch"} for n in ["prev", "ctx", "conf", "pos"]}
    axes.update({n: {1: "batch"} for n in ["h", "c", "h_out", "c_out"]})
    axes.update({n: {0: "batch"} for n in ["mel_logits", "acc_logits", "vel_m_logits", "vel_a_logits"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            step,
            dummy_inputs(net, 2),
            str(tmp),
            input_names=INPUTS,
            output_names=OUTPUTS,
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    tmp.replace(onnx_path)
    model_name = name or str(ck["args"]["model"])
    side: dict[str, Any] = {
        "name": model_name,
        "format": "refrain-generator-step",
        "inputs": INPUTS,
        "outputs": OUTPUTS,
        "config": cfg.to_dict(),
        "codec": {
            "steps_per_bar": STEPS_PER_BAR,
            "frame_dim": FRAME_DIM,
            "mel_lo": MEL_LO,
            "mel_n": MEL_N,
            "acc_lo": ACC_LO,
            "acc_n": ACC_N,
            "vel_bins": VEL_BINS,
            "time_signature": "4/4",
        },
        "checkpoint": {
            "name": ck["name"],
            "versions": ck["versions"],
            "updates": int(ck.get("train_state", {}).get("step", 0)),
        },
        "sha256": sha256_of(onnx_path),
        "bytes": onnx_path.stat().st_size,
    }
    (out_dir / "model.json").write_text(json.dumps(side, indent=2) + "\n")
    # Agreement check, so a broken export never ships.
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = dummy_inputs(net, 3, seed=1)
    with torch.no_grad():
        ref = step(*feeds)
    got = sess.run(OUTPUTS, {k: v.numpy() for k, v in zip(INPUTS, feeds, strict=True)})
    err = max(float(np.abs(r.numpy() - g).max()) for r, g in zip(ref, got, strict=True))
    if err > 1e-3:
        raise RuntimeError(f"ONNX export disagrees with torch (max abs error {err:.2e})")
    return side


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
