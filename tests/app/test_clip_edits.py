"""Clip edits: move, trim and split as project edits (a split clip bounces to the same audio), and with the
mouse on the real arrangement widget, each one undo step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from app.clip_edits import move_clip, split_clip, trim_clip
from app.main_window import MainWindow
from app.views.arrangement import HEADER, LANE, RULER
from engine.bounce import bounce_graph
from engine.build import build_graph
from engine.errors import UserError
from engine.project import Clip, Project, TrackSpec
from tests.app.test_app_window import load
from tests.engine.conftest import RATE, tone, write_wav


def test_split_plays_the_same_audio_and_trims_stay_inside_the_file(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "take.wav", tone(2.0))
    p = Project(tracks=[TrackSpec("take", [Clip(str(path), start=0.5)])])
    whole = bounce_graph(build_graph(p, RATE, 256))
    split_clip(p, 0, 0, 0.5 + 12345 / RATE, 2.0)
    a, b = p.tracks[0].clips
    assert (a.start, a.offset) == (0.5, 0.0) and b.start == pytest.approx(0.5 + 12345 / RATE)
    np.testing.assert_allclose(bounce_graph(build_graph(p, RATE, 256)), whole, atol=1e-7)
    trim_clip(p, 0, 1, "right", 99.0, 2.0)  # past the file's end: stops at it
    assert b.start + p.tracks[0].clips[1].length == pytest.approx(2.5)
    trim_clip(p, 0, 0, "left", -5.0, 2.0)  # before the file's start: stops at it
    assert p.tracks[0].clips[0].start == 0.5 and p.tracks[0].clips[0].offset == 0.0
    trim_clip(p, 0, 0, "left", 0.75, 2.0)  # the audio stays put on the timeline
    c = p.tracks[0].clips[0]
    assert (c.start, c.offset) == (0.75, 0.25)
    move_clip(p, 0, 0, -3.0)
    assert p.tracks[0].clips[0].start == 0.0
    with pytest.raises(UserError, match="inside the clip"):
        split_clip(p, 0, 1, 9.0, 2.0)
    midi = Project(tracks=[TrackSpec("m", [Clip(str(tmp_path / "x.mid"))])])
    with pytest.raises(UserError, match="MIDI clips cannot be split"):
        split_clip(midi, 0, 0, 0.5, 2.0)


def test_mouse_moves_and_trims_clips_and_s_splits_them(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s, view = window.session, window.arrangement
    load(qtbot, window, write_wav(tmp_path / "take.wav", tone(4.0)))
    qtbot.waitUntil(lambda: s.media.get(s.project.tracks[0].clips[0].path) is not None, timeout=10000)
    s.project.tempo = 120.0  # beats of 0.5 s
    view.pps = 100.0
    view.horizontalScrollBar().setValue(0)
    vp = view.viewport()
    y = RULER + LANE // 2
    steps = s.undo.count()

    def drag(x0: float, x1: float, shift: bool = False) -> None:
        mods = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
        qtbot.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(int(x0), y))
        qtbot.mouseMove(vp, QPoint(int((x0 + x1) / 2), y))
        qtbot.mouseMove(vp, QPoint(int(x1), y))
        qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, mods, QPoint(int(x1), y))

    drag(HEADER + 100, HEADER + 170)  # grab the body 1 s in, drag 0.7 s right: snaps to the 0.5 s beat
    clip = s.project.tracks[0].clips[0]
    assert clip.start == pytest.approx(0.5) and s.undo.count() == steps + 1
    right = view.x_of(clip.start + 4.0)
    drag(right - 1, right - 100)  # the right edge: trim 1 s off
    clip = s.project.tracks[0].clips[0]
    assert clip.length == pytest.approx(3.0) and clip.start == pytest.approx(0.5) and s.undo.count() == steps + 2
    view.playhead = 2.0
    view.selected = 0
    split = next(a for a in window.findChildren(type(window.play_action)) if a.text() == "Split Clip at Playhead")
    split.trigger()
    a, b = s.project.tracks[0].clips
    assert (a.start, a.length, b.start, b.offset) == pytest.approx((0.5, 1.5, 2.0, 1.5))
    assert s.undo.count() == steps + 3
    for _ in range(3):
        s.undo.undo()
    clip = s.project.tracks[0].clips[0]
    assert (clip.start, clip.length, len(s.project.tracks[0].clips)) == (0.0, None, 1)
