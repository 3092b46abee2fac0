"""Project files: round trip, relative media, version and error handling, autosave and recovery."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from engine.build import build_graph
from engine.errors import UserError
from engine.project import (
    VERSION,
    BusSpec,
    Clip,
    MasterSpec,
    PluginSpec,
    Project,
    TrackSpec,
    find_recovery,
    load_project,
    load_recovery,
    save_project,
    write_autosave,
)


def _project(media: dict[str, Path]) -> Project:
    return Project(
        sample_rate=44100,
        tempo=96.0,
        tracks=[
            TrackSpec(
                "audio",
                [Clip(str(media["stereo"]), start=0.5, gain_db=-2.0)],
                chain=[PluginSpec("eq", {"low_db": 3.0}), PluginSpec("compressor", bypass=True)],
                gain_db=-1.5,
                pan=-0.25,
                output="verb",
            ),
            TrackSpec(
                "keys", [Clip(str(media["midi"]))], instrument=PluginSpec("fluidsynth", {"gain": 0.7}), solo=True
            ),
            TrackSpec(
                "mono",
                [Clip(str(media["mono48"]), offset=0.1, length=0.5)],
                mute=True,
                group="audio",
                chain=[PluginSpec("lv2", {"gain": -3.0}, options={"uri": "http://plugin.org.uk/swh-plugins/amp"})],
            ),
        ],
        buses=[BusSpec("verb", [PluginSpec("reverb", {"wet": 0.4})], gain_db=-3.0)],
        master=MasterSpec([PluginSpec("limiter")], gain_db=-1.0),
        template=[[1.0, 0.0], [0.0, 1.0]],
        generation={"model": "sing", "seed": 3, "temperature": 0.9},
    )


def test_round_trip_and_relative_media(tmp_path: Path, media: dict[str, Path]) -> None:
    p = _project(media)
    path = tmp_path / "song.refrain"
    save_project(p, path)
    stored = json.loads(path.read_text())
    assert stored["version"] == VERSION
    assert stored["tracks"][0]["clips"][0]["path"] == "stereo.wav"  # relative to the project
    assert load_project(path) == p
    # Moving the whole folder keeps the media found.
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.copytree(tmp_path, moved)
    q = load_project(moved / "song.refrain")
    assert Path(q.tracks[0].clips[0].path) == moved / "stereo.wav"
    graph = build_graph(q, 44100, 256)
    try:
        assert len(graph.tracks) == 3 and graph.tracks[0].output == 0
        assert graph.tracks[1].chain.slots[0].plugin.kind == "fluidsynth"
        assert graph.tracks[0].chain.slots[1].bypass
    finally:
        graph.close()


def test_newer_and_broken_files_give_clear_errors(tmp_path: Path, media: dict[str, Path]) -> None:
    path = tmp_path / "song.refrain"
    save_project(_project(media), path)
    before = path.read_bytes()
    data = json.loads(before)
    cases = {
        "newer Refrain": {**data, "version": VERSION + 1},
        "not a Refrain project": {"tracks": []},
        r"tracks\[0\].name": {**data, "tracks": [{"clips": []}]},
        r"tracks\[0\].pan": {**data, "tracks": [{**data["tracks"][0], "pan": 3}]},
        "square matrix": {**data, "template": [[1.0, 0.5]]},
    }
    for msg, content in cases.items():
        bad = tmp_path / "bad.refrain"
        bad.write_text(json.dumps(content))
        with pytest.raises(UserError, match=msg):
            load_project(bad)
    bad.write_text("{ not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_project(bad)
    with pytest.raises(UserError, match="no such project"):
        load_project(tmp_path / "missing.refrain")
    assert path.read_bytes() == before


def test_build_errors(tmp_path: Path, media: dict[str, Path]) -> None:
    with pytest.raises(UserError, match="missing media"):
        build_graph(Project(tracks=[TrackSpec("t", [Clip(str(tmp_path / "gone.wav"))])]))
    with pytest.raises(UserError, match="unknown plugin"):
        build_graph(Project(tracks=[TrackSpec("t", [Clip(str(media["stereo"]))], chain=[PluginSpec("nope")])]))
    with pytest.raises(UserError, match="unknown bus"):
        build_graph(Project(tracks=[TrackSpec("t", [Clip(str(media["stereo"]))], output="drums")]))


def test_autosave_and_recovery(tmp_path: Path, media: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFRAIN_STATE_DIR", str(tmp_path / "state"))
    path = tmp_path / "song.refrain"
    p = _project(media)
    save_project(p, path)
    assert find_recovery(path) is None
    p.tempo = 140.0  # an unsaved edit, then a crash
    auto = write_autosave(p, path)
    os.utime(path, (auto.stat().st_mtime - 10, auto.stat().st_mtime - 10))
    assert find_recovery(path) == auto
    recovered = load_recovery(path)
    assert recovered.tempo == 140.0
    assert Path(recovered.tracks[0].clips[0].path) == media["stereo"]
    assert load_project(path).tempo == 96.0  # the saved project is untouched
    save_project(recovered, path)  # saving makes the autosave stale
    assert find_recovery(path) is None
