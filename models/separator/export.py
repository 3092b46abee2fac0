"""Export a trained separator checkpoint to ONNX with its JSON sidecar, checked against torch.

python -m models.separator.export runs/sep-masknet/best.pt assets/models/separator
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from models.platform.checkpoint import load_checkpoint
from models.platform.export import export_onnx
from models.separator import FORMAT
from models.separator.model import SeparatorConfig, build

INPUTS = ["mag"]
OUTPUTS = ["masks"]


def load_net(ckpt_path: Path) -> tuple[torch.nn.Module, SeparatorConfig, dict[str, Any]]:
    ck = load_checkpoint(ckpt_path)
    cfg = SeparatorConfig.from_dict(ck["args"]["config"])
    net = build(cfg)
    net.load_state_dict(ck["state_dict"])
    return net.eval(), cfg, ck


def export(
    ckpt_path: Path,
    out_dir: Path,
    name: str | None = None,
    quantize: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Write ``out_dir/model.onnx`` and ``out_dir/model.json`` through the platform's export (checked
    against torch); returns the sidecar. ``quantize="int8"`` stores int8 weights (see
    :func:`models.platform.export.export_onnx`); the masks must then agree with torch within 0.01 in mean."""
    net, cfg, ck = load_net(ckpt_path)
    ts = ck.get("train_state", {})
    sidecar: dict[str, Any] = {
        "name": name or out_dir.name,
        "format": FORMAT,
        "description": description or f"{len(cfg.stems)} stems ({', '.join(cfg.stems)}), {cfg.arch}",
        "sample_rate": cfg.sample_rate,
        "n_fft": cfg.n_fft,
        "hop": cfg.hop,
        "window": "hann",
        "stems": list(cfg.stems),
        "input": "magnitude STFT (batch, 2, n_fft/2+1, frames), centred frames",
        "output": "masks (batch, stems, 2, bins, frames) that sum to one over stems",
        "config": cfg.to_dict(),
        "checkpoint": {
            "name": ck["name"],
            "versions": ck["versions"],
            "updates": int(ts.get("step", 0)),
            "valid_sdr": float(ts.get("best", float("nan"))),
        },
    }
    gen = torch.Generator().manual_seed(1)
    example: tuple[torch.Tensor, ...] = (torch.rand(1, cfg.channels, cfg.bins, 64),)
    check: tuple[torch.Tensor, ...] = (torch.rand(1, cfg.channels, cfg.bins, 150, generator=gen) * 3,)
    axes = {"mag": {0: "batch", 3: "frames"}, "masks": {0: "batch", 4: "frames"}}
    inputs = list(INPUTS)
    if cfg.booster:
        from models.features.basic_pitch import FEATURE_DIM
        from models.features.booster import BOOSTER_MODEL

        example += (torch.rand(1, 64, FEATURE_DIM),)
        check += (torch.rand(1, 150, FEATURE_DIM, generator=gen),)
        axes["feats"] = {0: "batch", 1: "frames"}
        inputs.append("feats")
        sidecar["booster"] = {"model": BOOSTER_MODEL, "feature_dim": FEATURE_DIM, "injection": cfg.booster}
        sidecar["input"] += "; feats: booster features (batch, frames, feature_dim) on the same frames"
    # Masks lie in [0, 1]; int8 weights move them by about 0.001 in mean (Open-Unmix; its whole-clip SDR
    # stayed within 0.04 dB of float32 on 8 songs per set), so a mean of 0.01 still catches a broken graph.
    tolerance = 1e-4 if quantize is None else 0.01
    return export_onnx(net, example, check, inputs, OUTPUTS, axes, out_dir, sidecar, tolerance, quantize)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export a separator checkpoint to ONNX + JSON sidecar.")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path, help="model folder, e.g. assets/models/separator")
    ap.add_argument("--name", default=None)
    ap.add_argument("--int8", action="store_true", help="store int8 weights (dynamic quantisation; about 4x smaller)")
    ap.add_argument("--description", default=None, help="what 'refrain models' says about it")
    args = ap.parse_args(argv)
    side = export(args.checkpoint, args.out, args.name, "int8" if args.int8 else None, args.description)
    print(json.dumps({k: side[k] for k in ("name", "sample_rate", "stems", "bytes", "sha256")}), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
