"""Make ``assets/models/basic-pitch`` from basic-pitch's PyPI wheel: its ONNX note model with the hidden
layers the booster uses exposed as named graph outputs, a sidecar, and the model's LICENSE and NOTICE.

    pip download --no-deps basic-pitch==0.4.0 -d /tmp/bp        # the wheel only: no TensorFlow
    python -m models.features.build --wheel /tmp/bp/basic_pitch-0.4.0-py2.py3-none-any.whl

Weights are never fetched at run time; this script is how the shipped copy was made (needs ``onnx``, in
the ``train`` extra)."""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

from engine.files import atomic_files
from models.features import FORMAT
from models.platform.onnx import ASSETS, sha256_of

MODEL_IN_WHEEL = "basic_pitch/saved_models/icassp_2022/nmp.onnx"
INPUT = "serving_default_input_2:0"
# named output -> tensor in the converted TensorFlow graph (checked against basic-pitch 0.4.0's
# inference.py for the three posteriorgrams and models.py for the layers)
OUTPUTS = {
    "note": "StatefulPartitionedCall:1",  # (batch, 172, 88) frame posteriors, A0..C8
    "onset": "StatefulPartitionedCall:2",  # (batch, 172, 88)
    "contour": "StatefulPartitionedCall:0",  # (batch, 172, 264) pitch at 3 bins per semitone
    "contour_hidden": "Relu__38:0",  # (batch, 8, 172, 264) the contour branch's second conv, after ReLU
    "note_hidden": "Relu__42:0",  # (batch, 32, 172, 88) the note branch's conv before its output layer
    "onset_hidden": "Relu__35:0",  # (batch, 32, 172, 88) the onset branch's conv
}


def expose(model_bytes: bytes) -> bytes:
    """The model with an Identity node per ``OUTPUTS`` entry, so each layer is a named graph output."""
    import onnx
    from onnx import helper

    m = onnx.load_from_string(model_bytes)
    known = {o for n in m.graph.node for o in n.output}
    del m.graph.output[:]
    for name, tensor in OUTPUTS.items():
        if tensor not in known:
            raise ValueError(f"{tensor} is not in this basic-pitch model; was it another version?")
        m.graph.node.append(helper.make_node("Identity", [tensor], [name], name=f"expose_{name}"))
        rank = 4 if name.endswith("_hidden") else 3
        shape = ["batch"] + [f"{name}_{k}" for k in range(1, rank)]
        m.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape))
    onnx.checker.check_model(m)
    return bytes(m.SerializeToString())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.features.build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, required=True, help="basic_pitch-0.4.0-py2.py3-none-any.whl")
    ap.add_argument("--out", type=Path, default=ASSETS / "basic-pitch")
    args = ap.parse_args(argv)
    with zipfile.ZipFile(args.wheel) as z:
        model = expose(z.read(MODEL_IN_WHEEL))
        dist = next(n.split("/")[0] for n in z.namelist() if n.endswith(".dist-info/LICENSE"))
        licence, notice = z.read(f"{dist}/LICENSE"), z.read(f"{dist}/NOTICE")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    names = ["model.onnx", "LICENSE", "NOTICE"]
    with atomic_files([out / n for n in names]) as (onnx_tmp, lic_tmp, notice_tmp):
        onnx_tmp.write_bytes(model)
        lic_tmp.write_bytes(licence)
        notice_tmp.write_bytes(notice)
    meta = {
        "name": "basic-pitch",
        "format": FORMAT,
        "description": "basic-pitch note model (Spotify, ICASSP 2022, Apache-2.0): booster features, transcription",
        "source": f"PyPI {args.wheel.name}: {MODEL_IN_WHEEL}, layers exposed by models/features/build.py",
        "licence": "Apache-2.0 (LICENSE and NOTICE in this folder)",
        "inputs": [INPUT],
        "outputs": list(OUTPUTS),
        "sample_rate": 22050,
        "window_samples": 43844,
        "window_frames": 172,
        "hop_samples": 256,
        "overlap_frames": 30,
        "lowest_midi_note": 21,
        "sha256": sha256_of(out / "model.onnx"),
        "bytes": (out / "model.onnx").stat().st_size,
    }
    with atomic_files([out / "model.json"]) as (tmp,):
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps({"out": str(out), "bytes": meta["bytes"], "sha256": meta["sha256"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
