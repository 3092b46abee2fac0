"""Reference mode on synthetic stems: matching a reference rendered from the same stems with other console
settings must cut the feature distance (measured on the engine's own bounce) at least in half."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.bounce import bounce_graph
from engine.build import build_graph
from engine.console import ConsoleSettings, MasterSettings, StripSettings, apply_console, neutral
from engine.errors import Cancelled
from engine.project import Project
from models.automix.features import mix_features
from models.automix.reference import match_reference

SR = 22050


def _project(folder: Path) -> Project:
    """A kick-like low track, a bright noisy track and a tonal mid track, 8 s each."""
    rng = np.random.default_rng(3)
    t = np.arange(8 * SR) / SR
    beat = np.exp(-((t % 0.5) * 25))
    low = np.sin(2 * np.pi * 55 * t) * beat
    bright = rng.standard_normal(t.size) * np.exp(-((t % 0.25) * 40)) * 0.3
    bright = np.diff(bright, prepend=0.0)  # tilted to the highs
    mid = 0.3 * np.sign(np.sin(2 * np.pi * 330 * t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    paths = []
    for name, x in (("low", low), ("bright", bright), ("mid", mid)):
        paths.append(folder / f"{name}.wav")
        sf.write(paths[-1], (0.3 * x).astype(np.float32), SR, subtype="FLOAT")
    return Project.from_files(paths, SR)


def test_reference_mode_halves_the_feature_distance(tmp_path: Path) -> None:
    project = _project(tmp_path)
    eq = neutral("eq") | {"low_db": -8.0, "high_db": 6.0}
    target = ConsoleSettings(
        [StripSettings(-6.0, -0.6, eq), StripSettings(4.0, 0.7, eq), StripSettings(0.0, 0.0, eq)],
        MasterSettings(limiter={"threshold_db": -8.0, "release_ms": 100.0}),
    )
    graph = build_graph(apply_console(project, target), SR)
    reference = bounce_graph(graph)
    steps: list[float] = []
    m = match_reference(project, reference, SR, progress=lambda f, _s: steps.append(f))
    assert m.distance_after <= 0.5 * m.distance_before, m.report()
    assert steps[-1] == 1.0 and steps == sorted(steps)
    # the report's "after" is the engine's bounce of the settings it returns
    again = mix_features(bounce_graph(build_graph(apply_console(project, m.settings), SR)), SR)
    assert abs(again.lufs - m.after.lufs) < 0.5


def test_reference_mode_cancels(tmp_path: Path) -> None:
    project = _project(tmp_path)
    cancel = threading.Event()

    def progress(f: float, _s: str) -> None:
        if f > 0.3:
            cancel.set()

    reference = np.random.default_rng(0).standard_normal((2, 5 * SR)).astype(np.float32) * 0.1
    with pytest.raises(Cancelled):
        match_reference(project, reference, SR, progress=progress, cancel=cancel)


def test_the_report_measures_the_mix_written_at_the_amount(tmp_path: Path) -> None:
    """``after`` is the full proposal; at ``--amount`` 0.5 the report also measures the file written (on the
    same excerpt), and the master stays under the practice's peak ceiling."""
    from models.automix.features import feature_distance
    from models.automix.practice import MASTER_CEILING_DB
    from models.automix.runtime import automix_files

    project = _project(tmp_path)
    target = ConsoleSettings([StripSettings(-6.0, -0.6), StripSettings(4.0, 0.7), StripSettings(0.0, 0.0)])
    reference = bounce_graph(build_graph(apply_console(project, target), SR))
    sf.write(tmp_path / "ref.wav", reference.T, SR, subtype="FLOAT")
    stems = [tmp_path / f"{n}.wav" for n in ("low", "bright", "mid")]
    report = automix_files(stems, tmp_path / "mix.wav", tmp_path / "ref.wav", amount=0.5)
    written = report["reference"]["written"]
    mix, _ = sf.read(tmp_path / "mix.wav", always_2d=True, dtype="float32")
    start, length = report["reference"]["excerpt_seconds"]
    excerpt = mix.T[:, round(start * SR) : round((start + length) * SR)]
    again = feature_distance(mix_features(excerpt, SR), mix_features(reference, SR))
    assert written["amount"] == 0.5 and abs(written["distance"] - again) < 0.01
    after = report["reference"]["after"]
    moved = max(abs(a - b) for a, b in zip(written["bands"], after["bands"], strict=True))
    assert moved > 0.1 or abs(written["width"] - after["width"]) > 0.1  # not the full proposal's figures
    assert np.abs(mix).max() <= 10 ** (MASTER_CEILING_DB / 20) + 1e-3
