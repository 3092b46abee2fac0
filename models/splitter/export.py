"""Export a trained splitter checkpoint to ONNX with its JSON sidecar, checked against torch.

python -m models.splitter.export runs/split-dsd-lo/best.pt assets/models/splitter
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
from models.splitter import FORMAT
from models.splitter.model import SplitterConfig, SplitterNet


def load_net(ckpt_path: Path) -> tuple[SplitterNet, dict[str, Any]]:
    ck = load_checkpoint(ckpt_path)
    net = SplitterNet(SplitterConfig.from_dict(ck["args"]["config"]))
    net.load_state_dict(ck["state_dict"])
    return net.eval(), ck


def export(ckpt_path: Path, out_dir: Path, name: str | None = None) -> dict[str, Any]:
    """Write ``out_dir/model.onnx`` (input ``mix`` (batch, 1, samples), output ``sources`` (batch, S,
    samples); samples a multiple of ``hop``) and ``out_dir/model.json``; returns the sidecar."""
    net, ck = load_net(ckpt_path)
    cfg = net.cfg
    ts = ck.get("train_state", {})
    sidecar: dict[str, Any] = {
        "name": name or out_dir.name,
        "format": FORMAT,
        "description": f"{cfg.sources} same-timbre sources, Conv-TasNet ({ck['args'].get('variant', 'pit')})",
        "sample_rate": cfg.sample_rate,
        "sources": cfg.sources,
        "hop": net.hop,
        "receptive_field_seconds": round(net.receptive_field(), 3),
        "input": "mono waveform (batch, 1, samples), samples a multiple of hop; any level",
        "output": "sources (batch, sources, samples) in no fixed order",
        "config": cfg.to_dict(),
        "checkpoint": {
            "name": ck["name"],
            "versions": ck["versions"],
            "variant": ck["args"].get("variant", ""),
            "updates": int(ts.get("step", 0)),
            "valid_si_sdri": float(ts.get("best", float("nan"))),
        },
    }
    gen = torch.Generator().manual_seed(1)
    example = (torch.randn(1, 1, net.hop * 400) * 0.1,)
    check = (torch.randn(2, 1, net.hop * 731, generator=gen) * 0.3,)
    axes = {"mix": {0: "batch", 2: "samples"}, "sources": {0: "batch", 2: "samples"}}
    return export_onnx(net, example, check, ["mix"], ["sources"], axes, out_dir, sidecar, 1e-3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export a splitter checkpoint to ONNX + JSON sidecar.")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path, help="model folder, e.g. assets/models/splitter")
    ap.add_argument("--name", default=None)
    args = ap.parse_args(argv)
    side = export(args.checkpoint, args.out, args.name)
    print(json.dumps({k: side[k] for k in ("name", "sample_rate", "sources", "bytes", "sha256")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
