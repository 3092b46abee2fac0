"""The one ONNX export: a torch module to ``model.onnx`` plus its JSON sidecar, checked against torch.

A family builds its network, picks example inputs and names, and describes its sidecar; this writes the
ONNX file (legacy exporter, opset 17: clean dynamic axes, weights inside the file), adds the sidecar's
platform fields (format, I/O names, sha256, size) and refuses to ship an export whose onnxruntime outputs
disagree with torch on fresh inputs.

``quantize="int8"`` stores the weights of MatMul, Conv, LSTM and Gather nodes as int8 with one scale per
tensor (onnxruntime's dynamic quantisation: activations are quantised per call, so no calibration data is
needed; Gemm and GRU weights stay float32). It is what lets a recurrent network such as Open-Unmix (113 MB
in float32) ship under the 50 MB limit. The agreement check runs on the quantised file and bounds the
*mean* absolute error: int8 weights flip a few near-tied outputs outright (0.1 % of Open-Unmix's mask
entries move by ~1 on random input), which a maximum would reject although whole-clip SDR moves by 0.01
dB. Validated on Open-Unmix only: one scale per tensor suits weights of one scale, not a batched weight
whose slices differ widely (BandNet's per-band maps), which the mean check would then reject.
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
QUANTIZE_MODES = ("int8",)


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
    quantize: str | None = None,
) -> dict[str, Any]:
    """Write ``out_dir/model.onnx`` and ``out_dir/model.json``; return the sidecar.

    ``example`` traces the graph; ``check`` (other shapes and values) runs through torch and onnxruntime,
    and an absolute difference above ``tolerance`` (the maximum; for a quantised export the mean, with the
    maximum only recorded) or a NaN raises RuntimeError (nothing is left behind).
    ``sidecar`` must hold ``format`` and ``name``; the I/O names, sha256 and size are added here.
    ``quantize``: None (float32) or ``"int8"`` (dynamic weight quantisation; the sidecar's
    ``quantization`` records it with the float32 size). Raises ValueError for another mode."""
    if "format" not in sidecar or "name" not in sidecar:
        raise ValueError("a sidecar needs a 'format' and a 'name'")
    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise ValueError(f"unknown quantisation {quantize!r}; choose from {', '.join(QUANTIZE_MODES)}")
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
        float32_bytes = tmp_onnx.stat().st_size
        if quantize is not None:
            quantize_int8(tmp_onnx)
        err, mean_err = agreement(net, tmp_onnx, check, inputs, outputs)
        kind, checked = ("mean", mean_err) if quantize is not None else ("max", err)
        if not checked <= tolerance:  # written so that NaN fails too
            raise RuntimeError(f"ONNX export disagrees with torch ({kind} abs error {checked:.2e} > {tolerance:g})")
        errors: dict[str, Any] = {"max_abs_error_vs_torch": err}
        if quantize is not None:  # checked on the mean; the max is kept, explained, inside "quantization"
            errors = {
                "quantization": {
                    "method": "onnxruntime dynamic quantisation (weights int8, activations per call)",
                    "float32_bytes": float32_bytes,
                    "max_abs_error_vs_torch": err,
                    "note": "checked on the mean: int8 weights flip a few near-tied outputs",
                },
                "mean_abs_error_vs_torch": mean_err,
            }
        side = {
            **sidecar,
            **errors,
            "inputs": list(inputs),
            "outputs": list(outputs),
            "sha256": sha256_of(tmp_onnx),
            "bytes": tmp_onnx.stat().st_size,
        }
        tmp_json.write_text(json.dumps(side, indent=2) + "\n")
    return side


def quantize_int8(path: Path) -> None:
    """Replace the ONNX file at ``path`` by its dynamically int8-quantised version (in place)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # beside the atomic writer's temporary (same folder and prefix), so its clean-up covers this one too
    tmp = path.with_name(path.name + ".int8")
    before = logging.root.manager.disable
    logging.disable(logging.WARNING)  # onnxruntime logs advice on pre-processing to the root logger
    try:
        quantize_dynamic(str(path), str(tmp), weight_type=QuantType.QInt8)
        tmp.replace(path)
    finally:
        logging.disable(before)
        tmp.unlink(missing_ok=True)


def agreement(
    net: torch.nn.Module,
    onnx_path: Path,
    feeds: tuple[torch.Tensor, ...],
    inputs: Sequence[str],
    outputs: Sequence[str],
) -> tuple[float, float]:
    """(maximum, largest per-output mean) absolute difference between torch and onnxruntime outputs for
    ``feeds``; NaN when either side gives NaN."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = net(*feeds)
    refs = ref if isinstance(ref, tuple | list) else (ref,)
    got = sess.run(list(outputs), {k: v.numpy() for k, v in zip(inputs, feeds, strict=True)})
    diffs = [np.abs(r.numpy() - g) for r, g in zip(refs, got, strict=True)]
    # numpy's reductions keep a NaN (Python's max() would drop one that is not first)
    return float(np.max([d.max() for d in diffs])), float(np.max([d.mean() for d in diffs]))
