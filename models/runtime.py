"""onnxruntime inference for shipped models: ``OnnxModel(path).predict(dict) -> dict``.

Each ``model.onnx`` has a JSON sidecar (``model.json``) with its input/output names, settings and the
sha256 of the ONNX file, which is checked on load so a damaged or swapped file fails clearly.
No torch here: inference commands start fast.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import UserError

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "models"


def sha256_of(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_dir(name: str) -> Path:
    """Folder of a shipped model by name, or a folder path given directly."""
    p = Path(name)
    if p.is_dir():
        return p
    d = ASSETS / name
    if not d.is_dir():
        known = sorted(x.name for x in ASSETS.iterdir() if (x / "model.json").is_file()) if ASSETS.is_dir() else []
        raise UserError(f"unknown model {name!r}; shipped models: {', '.join(known) or 'none'}")
    return d


class OnnxModel:
    """An ONNX model with its sidecar; ``predict`` maps input names to arrays and returns all outputs."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        import onnxruntime as ort

        onnx_path = Path(path)
        if onnx_path.is_dir():
            onnx_path = onnx_path / "model.onnx"
        side = onnx_path.with_suffix(".json")
        if not onnx_path.is_file() or not side.is_file():
            raise UserError(f"model files missing: need {onnx_path} and {side}")
        self.meta: dict[str, Any] = json.loads(side.read_text())
        digest = sha256_of(onnx_path)
        if digest != self.meta.get("sha256"):
            raise UserError(f"{onnx_path}: checksum does not match its sidecar (damaged or replaced file)")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model; inputs the graph does not use are ignored."""
        feed = {k: inputs[k] for k in self.input_names}
        outs = self.session.run(self.output_names, feed)
        return dict(zip(self.output_names, outs, strict=True))
