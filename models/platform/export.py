"""The one ONNX export: a torch module to ``model.onnx`` plus its JSON sidecar, checked against torch.

A family builds its network, picks example inputs and names, and describes its sidecar; this writes the
ONNX file (legacy exporter, opset 17: clean dynamic axes, weights inside the file), adds the sidecar's
platform fields (format, I/O names, sha256, size) and refuses to ship an export whose onnxruntime outputs
disagree with torch on fresh inputs.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.files import atomic_files
from models.platform.onnx import sha256_of

OPSET = 17


def export_onnx(
    net: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    check: tuple[torch.Tensor, ...],
    inputs: Sequence[str],
    outputs: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    out_dir: Path,
    sidecar: dict[str, Any],
    tolerance: float,
) -> dict[str, Any]:
    """Write ``out_dir/model.onnx`` and ``out_dir/model.json``; return the sidecar.

    ``example`` traces the graph; ``check`` (other shapes and values) runs through torch and onnxruntime,
    and a maximum absolute difference above ``tolerance`` raises RuntimeError (nothing is left behind).
    ``sidecar`` must hold ``format`` and ``name``; the I/O names, sha256 and size are added here."""
    if "format" not in sidecar or "name" not in sidecar:
        raise ValueError("a sidecar needs a 'format' and a 'name'")
    net = net.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    # model.onnx and model.json appear together or not at all: a new ONNX beside an old sidecar would fail
    # every load with a checksum error.
    with atomic_files([out_dir / "model.onnx", out_dir / "model.json"]) as (tmp_onnx, tmp_json):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net,
                example,
                str(tmp_onnx),
                input_names=list(inputs),
                output_names=list(outputs),
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                dynamo=False,
            )
        err = agreement(net, tmp_onnx, check, inputs, outputs)
        if err > tolerance:
            raise RuntimeError(f"ONNX export disagrees with torch (max abs error {err:.2e} > {tolerance:g})")
        side = {
            **sidecar,
            "inputs": list(inputs),
            "outputs": list(outputs),
            "sha256": sha256_of(tmp_onnx),
            "bytes": tmp_onnx.stat().st_size,
            "max_abs_error_vs_torch": err,
        }
        tmp_json.write_text(json.dumps(side, indent=2) + "\n")
    return side


def agreement(
    net: torch.nn.Module,
    onnx_path: Path,
    feeds: tuple[torch.Tensor, ...],
    inputs: Sequence[str],
    outputs: Sequence[str],
) -> float:
    """Max absolute difference between torch and onnxruntime outputs for ``feeds``."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = net(*feeds)
    refs = ref if isinstance(ref, tuple | list) else (ref,)
    got = sess.run(list(outputs), {k: v.numpy() for k, v in zip(inputs, feeds, strict=True)})
    return max(float(np.abs(r.numpy() - g).max()) for r, g in zip(refs, got, strict=True))
