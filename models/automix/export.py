"""Export a trained balance controller to ONNX with its JSON sidecar, checked against torch.

python -m models.automix.export runs/automix/best.pt assets/models/automix
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from models.automix import FORMAT
from models.automix.controller import SETTINGS, Controller, ControllerConfig
from models.automix.data import HIGH_HZ, LOW_HZ
from models.automix.practice import MASTER_LUFS, ROLES
from models.automix.stemfeatures import NAMES
from models.features.booster import BOOSTER_MODEL
from models.platform.checkpoint import load_checkpoint
from models.platform.export import export_onnx


def export(ckpt_path: Path, out_dir: Path, name: str | None = None) -> dict[str, Any]:
    """Write ``out_dir/model.onnx`` (inputs ``features`` (batch, stems, F) and ``mask`` (batch, stems);
    output ``settings`` (batch, stems, outputs)) and ``out_dir/model.json``; returns the sidecar."""
    ck = load_checkpoint(ckpt_path)
    net = Controller(ControllerConfig.from_dict(ck["args"]["config"]))
    net.load_state_dict(ck["state_dict"])
    net.eval()
    ts = ck.get("train_state", {})
    sidecar: dict[str, Any] = {
        "name": name or out_dir.name,
        "format": FORMAT,
        "description": "auto-mix balance controller (Deep Sets over stem audio features)",
        "features": list(NAMES),
        "settings": list(SETTINGS),
        "roles": list(ROLES),
        "shelves_hz": [LOW_HZ, HIGH_HZ],
        "master_lufs": MASTER_LUFS,
        "config": net.cfg.to_dict(),
        "booster": BOOSTER_MODEL if net.cfg.booster else None,
        "checkpoint": {"name": ck["name"], "versions": ck["versions"], "updates": int(ts.get("step", 0))},
    }
    f = net.cfg.features
    gen = torch.Generator().manual_seed(1)
    example = (torch.randn(1, 4, f), torch.ones(1, 4))
    check = (torch.randn(2, 7, f, generator=gen) * 3, torch.ones(2, 7))
    axes = {
        "features": {0: "batch", 1: "stems"},
        "mask": {0: "batch", 1: "stems"},
        "settings": {0: "batch", 1: "stems"},
    }
    return export_onnx(net, example, check, ["features", "mask"], ["settings"], axes, out_dir, sidecar, 1e-3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export an auto-mix controller checkpoint to ONNX + JSON sidecar.")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path, help="model folder, e.g. assets/models/automix")
    ap.add_argument("--name", default=None)
    args = ap.parse_args(argv)
    side = export(args.checkpoint, args.out, args.name)
    print(json.dumps({k: side[k] for k in ("name", "bytes", "sha256")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
