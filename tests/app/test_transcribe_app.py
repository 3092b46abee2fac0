"""Transcribe to MIDI in the app: an audio lane becomes a MIDI lane under it, in one undo step."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.main_window import MainWindow
from engine.errors import UserError
from engine.midi import read_midi_file
from tests.app.conftest import wait_jobs
from tests.app.test_app_window import load
from tests.engine.conftest import tone, write_wav


def test_transcribe_lane_adds_a_midi_lane_and_undoes(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wav = write_wav(tmp_path / "line.wav", tone(2.0, freq=440.0))  # A4, struck every half second
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
    assert notes and {n.pitch for n in notes} == {69}
    assert [round(n.start * 2) / 2 for n in notes] == [0.0, 0.5, 1.0, 1.5]
    assert len(s.bridge.engine.graph.tracks) == 2  # type: ignore[union-attr]
    s.undo.undo()
    assert [t.name for t in s.project.tracks] == ["line"]
    with pytest.raises(UserError):
        s.transcriber.transcribe(5)
