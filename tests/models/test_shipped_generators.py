"""The shipped generator weights: integrity, golden outputs and behaviour.

Golden values are regenerated after a new export with
``python -m tests.models.test_shipped_generators --update``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from models.generator.codec import STEPS_PER_BAR
from models.generator.dataset import song_conditions, song_grid
from models.generator.metrics import adherence_auc
from models.generator.piece import GenerateRequest, generate_pieces
from models.generator.sampler import Plan, StructuredGenerator
from models.platform.onnx import ASSETS, sha256_of
from models.structure import parse_structure, similar_pairs, template_from_structure
from tests.conftest import synthetic_song

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "generators.json"
FORM = "A4B4A4B4"


def golden_values(name: str) -> dict[str, object]:
    """Teacher-forced NLL of a fixed fixture song and the notes of a seeded 4-bar generation."""
    gen = StructuredGenerator(name)
    song = synthetic_song(FORM, 0)
    plan = Plan(template_from_structure(FORM), song_conditions(song))
    nll = gen.event_nll([song_grid(song)], [plan])["total"]
    piece = gen.generate([plan], seed=0)[0]
    return {"nll": round(nll, 5), "first_bar_accomp_onsets": piece.acc[:STEPS_PER_BAR].sum(axis=1).tolist()}


@pytest.mark.parametrize("name", ["sing", "lstm"])
def test_sidecar_and_size(name: str) -> None:
    d = ASSETS / name
    side = json.loads((d / "model.json").read_text())
    assert side["sha256"] == sha256_of(d / "model.onnx")
    assert (d / "model.onnx").stat().st_size < 50 * 1024 * 1024
    assert side["inputs"] and side["outputs"] and side["codec"]["steps_per_bar"] == STEPS_PER_BAR
    assert side["config"]["attention"] == (name == "sing")
    assert (ASSETS.parents[1] / "models" / "generator" / "CARD.md").is_file()


@pytest.mark.parametrize("name", ["sing", "lstm"])
def test_golden_outputs(name: str) -> None:
    golden = json.loads(GOLDEN.read_text())[name]
    got = golden_values(name)
    assert got["nll"] == pytest.approx(golden["nll"], rel=1e-4)
    assert got["first_bar_accomp_onsets"] == golden["first_bar_accomp_onsets"]


def test_sing_follows_the_template_and_the_baseline_does_not() -> None:
    """With free sampling (variation 1: no bar is copied), only the attention can make repeats alike."""
    form = "A4B4A4B4"
    sections = parse_structure(form)
    sim = similar_pairs(sections)
    t = template_from_structure(form)
    auc = {}
    for name in ("sing", "lstm"):
        reqs = [GenerateRequest(t, sections, model=name, seed=s, variation=1.0, tempo=90.0) for s in range(4)]
        pieces = generate_pieces(reqs, generator=StructuredGenerator(name))
        auc[name] = float(np.mean([adherence_auc(p.grid, sim) for p in pieces]))
    assert auc["sing"] >= 0.85
    assert auc["sing"] > auc["lstm"] + 0.15


def test_tampered_model_is_refused(tmp_path: Path) -> None:
    import shutil

    from engine.errors import UserError

    d = tmp_path / "m"
    shutil.copytree(ASSETS / "sing", d)
    data = bytearray((d / "model.onnx").read_bytes())
    data[-10] ^= 0xFF
    (d / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(UserError, match="checksum"):
        StructuredGenerator(str(d))


if __name__ == "__main__" and "--update" in sys.argv:
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({n: golden_values(n) for n in ("sing", "lstm")}, indent=1) + "\n")
    print(GOLDEN.read_text())
