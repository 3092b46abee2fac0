"""Split into Voices in the app: an audio lane (a duet, a vocal stem) becomes voice lanes under it, like
stems, in one undo step; a stem can be split too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.main_window import MainWindow
from engine.errors import UserError
from tests.app.conftest import wait_jobs
from tests.app.test_app_window import load
from tests.engine.conftest import write_wav


def _duet(seconds: float = 2.0, rate: int = 44100) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    a = 0.3 * np.sin(2 * np.pi * 220 * t)
    b = 0.2 * np.sin(2 * np.pi * 277 * t) * (t > 0.5)
    return np.stack([a + 0.5 * b, 0.5 * a + b]).astype(np.float32)


def test_split_lane_adds_voice_lanes_and_undoes(qtbot, window: MainWindow, tmp_path: Path, tiny_splitter: Path) -> None:  # type: ignore[no-untyped-def]
    wav = write_wav(tmp_path / "duet.wav", _duet())
    load(qtbot, window, wav)
    s = window.session
    assert "Split into Voices" in [a.text() for a in window.build_lane_menu(0).actions()]
    s.stems.split_voices(0, model=str(tiny_splitter))
    wait_jobs(qtbot, s)
    assert [t.name for t in s.project.tracks] == ["duet", "duet · voice 1", "duet · voice 2"]
    assert s.project.tracks[0].mute and [s.stems.label(i) for i in (1, 2)] == ["voice 1", "voice 2"]
    voices = [sf.read(t.clips[0].path, dtype="float32", always_2d=True)[0] for t in s.project.tracks[1:]]
    src = sf.read(str(wav), dtype="float32", always_2d=True)[0]
    assert voices[0].shape == src.shape and np.abs(voices[0] + voices[1] - src).max() < 1e-4
    assert s.stems.group(1) == (0, [1, 2])  # exported and auditioned like stems
    assert len(window.mixer.strips) == 3
    s.undo.undo()
    assert [t.name for t in s.project.tracks] == ["duet"] and not s.project.tracks[0].mute
    with pytest.raises(UserError):
        s.stems.split_voices(9)


def test_a_separated_stem_splits_under_itself(
    qtbot, window: MainWindow, tmp_path: Path, tiny_separator: Path, tiny_splitter: Path
) -> None:  # type: ignore[no-untyped-def]
    load(qtbot, window, write_wav(tmp_path / "song.wav", _duet()))
    s = window.session
    s.stems.separate(0, model=str(tiny_separator))
    wait_jobs(qtbot, s)
    vocals = next(i for i, t in enumerate(s.project.tracks) if t.name == "song · vocals")
    s.stems.split_voices(vocals, model=str(tiny_splitter))
    wait_jobs(qtbot, s)
    tracks = s.project.tracks
    under = [t.name for t in tracks if t.group == tracks[vocals].id]
    assert under == ["song · vocals · voice 1", "song · vocals · voice 2"] and tracks[vocals].mute


def test_voices_and_stems_of_one_track_coexist(
    qtbot, window: MainWindow, tmp_path: Path, tiny_separator: Path, tiny_splitter: Path
) -> None:  # type: ignore[no-untyped-def]
    load(qtbot, window, write_wav(tmp_path / "duet.wav", _duet()))
    s = window.session
    s.stems.split_voices(0, model=str(tiny_splitter))
    wait_jobs(qtbot, s)
    s.stems.separate(0, model=str(tiny_separator))
    wait_jobs(qtbot, s)
    s.stems.split_voices(0, model=str(tiny_splitter))  # again: replaces the voices, keeps the stems
    wait_jobs(qtbot, s)
    labels = sorted(s.stems.label(i) for i in range(1, len(s.project.tracks)))
    assert labels == ["bass", "drums", "other", "vocals", "voice 1", "voice 2"]
