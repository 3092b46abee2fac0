"""``refrain play``, ``render``, ``plugins`` and ``bench engine`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.cli import main
from engine.audio_io import read_audio
from engine.project import Clip, PluginSpec, Project, TrackSpec, save_project
from tests.engine.conftest import tone, write_midi, write_wav

FIL4 = "http://gareus.org/oss/lv2/fil4#stereo"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "a": write_wav(tmp_path / "a.wav", tone(1.0, seed=1)),
        "b": write_wav(tmp_path / "b.wav", tone(0.7, channels=1, seed=2, freq=440)),
        "mid": write_midi(tmp_path / "m.mid"),
    }


def test_render_tracks_is_the_plain_sum(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "sum.wav"
    assert main(["render", "--tracks", str(files["a"]), str(files["b"]), "--out", str(out), "--bits", "float"]) == 0
    got, sr = sf.read(str(out), dtype="float32")
    a, _ = read_audio(files["a"])
    b, _ = read_audio(files["b"])
    expect = a.copy()
    expect[:, : b.shape[1]] += b
    assert sr == 44100
    np.testing.assert_array_equal(got.T, expect)


def test_play_equals_render_for_a_project(tmp_path: Path, files: dict[str, Path]) -> None:
    """MIDI through the synth and audio through an LV2 chain, played in real time and rendered."""
    project = Project(
        tracks=[
            TrackSpec("keys", [Clip(str(files["mid"]))], chain=[PluginSpec("reverb")]),
            TrackSpec("audio", [Clip(str(files["a"]), start=0.2)], chain=[PluginSpec("lv2", options={"uri": FIL4})]),
        ]
    )
    proj = tmp_path / "p.refrain"
    save_project(project, proj)
    played, rendered = tmp_path / "played.wav", tmp_path / "rendered.wav"
    assert main(["play", str(proj), "--device", "null", "--capture", str(played)]) == 0
    assert main(["render", str(proj), "--out", str(rendered), "--bits", "float"]) == 0
    p, _ = sf.read(str(played), dtype="float32")
    r, _ = sf.read(str(rendered), dtype="float32")
    assert p.shape == r.shape and np.abs(r).max() > 0.05
    np.testing.assert_array_equal(p, r)


def test_play_and_render_an_audio_file_through_an_lv2_chain(tmp_path: Path, files: dict[str, Path]) -> None:
    chain = ["--plugin", f"{FIL4}@gain=4", "--plugin", "compressor@threshold_db=-30,makeup_db=6"]
    played, rendered, dry = tmp_path / "played.wav", tmp_path / "rendered.wav", tmp_path / "dry.wav"
    assert main(["play", str(files["a"]), "--device", "null", "--capture", str(played), *chain]) == 0
    assert main(["render", "--tracks", str(files["a"]), "--out", str(rendered), "--bits", "float", *chain]) == 0
    assert main(["render", "--tracks", str(files["a"]), "--out", str(dry), "--bits", "float"]) == 0
    p, r, d = (sf.read(str(x), dtype="float32")[0] for x in (played, rendered, dry))
    np.testing.assert_array_equal(p, r)
    assert np.abs(r - d).max() > 0.01, "the chain did nothing"
    assert main(["render", "--tracks", str(files["a"]), "--out", str(dry), "--plugin", "eq@low_db"]) == 2


def test_bad_input_is_one_line_and_leaves_nothing(
    tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    five = write_wav(tmp_path / "five.wav", tone(0.2, channels=5))
    out = tmp_path / "out.wav"
    cases = [
        (["render", "--tracks", str(five), "--out", str(out)], "5 channels"),
        (["render", "--tracks", str(tmp_path / "missing.wav"), "--out", str(out)], "no such file"),
        (["render", str(tmp_path / "x.refrain"), "--tracks", str(files["a"]), "--out", str(out)], "not both"),
        (["render", "--tracks", str(files["a"]), "--out", str(tmp_path / "no" / "o.wav")], "folder does not exist"),
        (["play", str(tmp_path / "missing.mid"), "--device", "null"], "no such file"),
        (["play", str(files["a"]), "--device", "null", "--start", "99"], "past the end"),
        (["play", str(files["a"]), "--device", "null", "--rate", "1"], "out of range"),
        (["play", str(files["a"]), "--device", "null", "--rate", "0"], "out of range"),
        (["render", "--tracks", str(files["a"]), "--out", str(out), "--rate", "-5"], "out of range"),
        (["play", str(tmp_path), "--device", "null"], "is a folder"),
        (["play", "--device", "null"], "needs a FILE_OR_PROJECT"),
        # a bad capture is refused before the take is played, and never overwrites the input
        (["play", str(files["a"]), "--device", "null", "--capture", str(tmp_path / "no" / "c.wav")], "folder"),
        (["play", str(files["mid"]), "--device", "null", "--capture", str(tmp_path / "c.mid")], ".wav or .flac"),
        (["play", str(files["a"]), "--device", "null", "--capture", str(files["a"])], "being played"),
        (["plugins", "--params", "http://example.org/none"], "not installed"),
    ]
    for argv, msg in cases:
        assert main(argv) == 2, argv
        said = capsys.readouterr()
        err = said.err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("refrain: error:") and msg in err[0], err
        assert "played" not in said.out, argv  # refused before any playback
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav", "five.wav", "m.mid"]


def test_plugins_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--params", "compressor"]) == 0
    assert "threshold_db" in capsys.readouterr().out
    assert main(["plugins", "--params", FIL4]) == 0
    assert "latency 0 frames" in capsys.readouterr().out
    assert main(["plugins", "--lv2"]) == 0
    assert FIL4 in capsys.readouterr().out


def test_bench_engine_prints_one_json_object() -> None:
    """A short run in its own process (it may start its own JACK dummy server)."""
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "bench",
            "engine",
            "--tracks",
            "2",
            "--seconds",
            "1",
            "--load",
            "numpy",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert {"xruns", "callback_load", "render_load", "start_ms", "goals_met"} <= set(result)
    assert result["callbacks"] > 100 and result["background_iterations"] > 0
    assert 0 < result["render_load"] < 1


def test_bench_engine_prints_a_summary_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "engine", "--tracks", "1", "--seconds", "0.3", "--device", "null", "--load", "none"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 tracks x eq + compressor, 256 frames at 44100 Hz") and "xruns " in out
    assert "goals met" in out and not out.lstrip().startswith("{")
