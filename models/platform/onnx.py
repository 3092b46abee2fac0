"""onnxruntime inference for shipped models: ``OnnxModel(path).predict(dict) -> dict``.

Each ``model.onnx`` has a JSON sidecar (``model.json``) with its ``format`` (which family's runtime reads
it), input/output names, settings and the sha256 of the ONNX file, which is checked on load so a damaged
or swapped file fails clearly. No torch here: inference commands start fast.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "models"


def sha256_of(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_sidecar(folder: Path) -> dict[str, Any]:
    """A model folder's ``model.json``; UserError when it is missing or not JSON."""
    side = folder / "model.json"
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"model files missing: need {side}") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {side}: {exc}") from None
    if not isinstance(meta, dict):
        raise UserError(f"{side} is not a model sidecar")
    return meta


class OnnxModel:
    """An ONNX model with its sidecar; ``predict`` maps input names to arrays and returns all outputs.

    ``formats``: the sidecar ``format`` values the caller can run; another format is a UserError that
    names it (a separator folder given to the generator, say)."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1, formats: tuple[str, ...] = ()) -> None:
        import onnxruntime as ort

        onnx_path = Path(path)
        if onnx_path.is_dir():
            onnx_path = onnx_path / "model.onnx"
        self.meta: dict[str, Any] = read_sidecar(onnx_path.parent)
        if formats and self.meta.get("format") not in formats:
            raise UserError(
                f"{onnx_path.parent} holds a {self.meta.get('format', 'model of unknown format')!r}; "
                f"this needs {' or '.join(formats)}"
            )
        if not onnx_path.is_file():
            raise UserError(f"model files missing: need {onnx_path}")
        if sha256_of(onnx_path) != self.meta.get("sha256"):
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

    def zero_feeds(self, batch: int = 1) -> dict[str, np.ndarray]:
        """Zero inputs of the declared shapes (dynamic axes of size ``batch``): a load for benchmarks."""
        return {
            i.name: np.zeros(
                [d if isinstance(d, int) else batch for d in i.shape],
                dtype=np.int64 if "int" in i.type else np.float32,
            )
            for i in self.session.get_inputs()
        }
