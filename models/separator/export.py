"""Export a trained separator checkpoint to ONNX with its JSON sidecar, checked against torch.

python -m models.separator.export runs/sep-masknet/best.pt assets/models/separator
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
from models.runtime import sha256_of
from models.separator.model import SeparatorConfig, build

INPUTS = ["mag"]
OUTPUTS = ["masks"]


def load_net(ckpt_path: Path) -> tuple[torch.nn.Module, SeparatorConfig, dict[str, Any]]:
    ck = load_checkpoint(ckpt_path)
    cfg = SeparatorConfig.from_dict(ck["args"]["config"])
    net = build(cfg)
    net.load_state_dict(ck["state_dict"])
    return net.eval(), cfg, ck


def export(ckpt_path: Path, out_dir: Path, name: str | None = None) -> dict[str, Any]:
    """Write ``out_dir/model.onnx`` and ``out_dir/model.json``; returns the sidecar."""
    net, cfg, ck = load_net(ckpt_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "model.onnx"
    tmp = out_dir / "model.part.onnx"
    dummy = torch.rand(1, cfg.channels, cfg.bins, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (dummy,),
            str(tmp),
            input_names=INPUTS,
            output_names=OUTPUTS,
            dynamic_axes={"mag": {0: "batch", 3: "frames"}, "masks": {0: "batch", 4: "frames"}},
            opset_version=17,
            dynamo=False,
        )
    tmp.replace(onnx_path)
    ts = ck.get("train_state", {})
    side: dict[str, Any] = {
        "name": name or out_dir.name,
        "format": "refrain-separator-masks",
        "inputs": INPUTS,
        "outputs": OUTPUTS,
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
        "sha256": sha256_of(onnx_path),
        "bytes": onnx_path.stat().st_size,
    }
    (out_dir / "model.json").write_text(json.dumps(side, indent=2) + "\n")
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = torch.rand(1, cfg.channels, cfg.bins, 150, generator=torch.Generator().manual_seed(1)) * 3
    with torch.no_grad():
        ref = net(x).numpy()
    got = sess.run(OUTPUTS, {"mag": x.numpy()})[0]
    err = float(np.abs(ref - got).max())
    if err > 1e-4:
        raise RuntimeError(f"ONNX export disagrees with torch (max abs error {err:.2e})")
    return side


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export a separator checkpoint to ONNX + JSON sidecar.")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path, help="model folder, e.g. assets/models/separator")
    ap.add_argument("--name", default=None)
    args = ap.parse_args(argv)
    side = export(args.checkpoint, args.out, args.name)
    print(json.dumps({k: side[k] for k in ("name", "sample_rate", "stems", "bytes", "sha256")}), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
