"""Transcribe to MIDI in the app: an audio lane becomes a MIDI lane under it, in one undo step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.main_window import MainWindow
from engine.errors import UserError
from engine.midi import read_midi_file
from tests.app.conftest import wait_jobs
from tests.app.test_app_window import load
from tests.engine.conftest import write_wav
from tests.models.test_features import tones


def test_transcribe_lane_adds_a_midi_lane_and_undoes(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = tones([69, 72, 76, 71], 0.5)  # A4 C5 E5 B4, half a second each
    wav = write_wav(tmp_path / "line.wav", np.stack([line, line]))
    load(qtbot, window, wav)
    s = window.session
    assert "Transcribe to MIDI" in [a.text() for a in window.build_lane_menu(0).actions()]
    s.transcriber.transcribe(0)
    wait_jobs(qtbot, s)
    names = [t.name for t in s.project.tracks]
    assert names == ["line", "line · MIDI"]
    clip = s.project.tracks[1].clips[0]
    assert clip.is_midi and not clip.follow_tempo  # stays on the audio whatever the project tempo
    notes = [n for ns in read_midi_file(clip.path).track_notes().values() for n in ns]
    assert [(n.pitch, round(n.start * 2) / 2) for n in notes] == [(69, 0.0), (72, 0.5), (76, 1.0), (71, 1.5)]
    assert len(s.bridge.engine.graph.tracks) == 2  # type: ignore[union-attr]
    s.undo.undo()
    assert [t.name for t in s.project.tracks] == ["line"]
    with pytest.raises(UserError):
        s.transcriber.transcribe(5)
