"""The main window end to end on real widgets (offscreen) and the real engine on the clocked null device:
load, play and stop, paint the form, generate and regenerate, mix, undo, save and reopen, export,
autosave recovery, the unsaved-changes prompt, drag and drop, and ``refrain app --screenshot``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from app.generation import GENERATED_TRACK
from app.main_window import MainWindow
from app.session import Session
from engine.errors import UserError
from tests.app.conftest import wait_jobs
from tests.engine.conftest import tone, write_midi, write_wav

Btn = QMessageBox.StandardButton


def load(qtbot, w: MainWindow, path: Path) -> None:  # type: ignore[no-untyped-def]
    w.session.mixer.load_track(path)
    wait_jobs(qtbot, w.session)


def short_form(w: MainWindow) -> None:
    """An 8-bar A4A4 form keeps generation fast in tests."""
    w.form.structure.setText("A4A4")
    w.form.apply_structure()
    assert w.session.generation.template().shape == (8, 8)


def test_generate_panel_controls_reach_the_piece(qtbot, window: MainWindow) -> None:
    """Key box, chord lane, instruments, density and time signature in the Generate panel."""
    short_form(window)
    p = window.generate_panel
    p.play_after.setChecked(False)
    p.key.setCurrentText("D minor")
    p.chords.setText("Dm Bb F C")
    p.programs["melody"].setCurrentIndex(40)
    p.density["drums"].setValue(0.0)
    p.variation.setValue(0.0)
    qtbot.mouseClick(p.generate_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, window.session)
    res = window.session.generation.last
    assert res is not None
    piece = res.piece
    assert piece.key is not None and piece.key.name == "D minor" and piece.programs["melody"] == 40
    parts = piece.parts()
    assert len(parts["drums"]) == 0
    pitched = np.concatenate([parts[k].pitch for k in ("melody", "acc", "bass")])
    assert set((pitched % 12).tolist()) <= {2, 4, 5, 7, 9, 10, 0}
    assert [p.chord_lane.bar_text(b) for b in range(4)] == ["Dm", "Bb", "F", "C"]
    settings = window.session.project.generation
    assert settings is not None and settings["key"] == "D minor" and settings["chords"] == "Dm Bb F C"
    p.time_signature.setCurrentText("3/4")
    qtbot.mouseClick(p.generate_button, Qt.MouseButton.LeftButton)
    assert "not supported" in window.statusBar().currentMessage()
    p.time_signature.setCurrentText("4/4")
    p.key.setCurrentText("H major")
    qtbot.mouseClick(p.generate_button, Qt.MouseButton.LeftButton)
    assert "unknown key" in window.statusBar().currentMessage()


def test_form_from_a_track_brings_its_key(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from models.generator.chords import Key
    from models.generator.codec import STEPS_PER_BAR, grid_from_parts
    from models.generator.midi import Piece
    from models.generator.midi import write_midi as write_piece
    from tests.conftest import synthetic_song

    song = synthetic_song("A4B4A4", 2)
    src = tmp_path / "song.mid"
    g = grid_from_parts(song.melody, song.bass, song.accomp, song.bars * STEPS_PER_BAR)
    write_piece(Piece(g, tempo=100.0, key=Key(7, False)), src)
    window.session.generation.template_from_track(str(src), 12)
    wait_jobs(qtbot, window.session)
    assert window.generate_panel.key.currentText() == "G major"
    assert window.session.generation.template().shape == (12, 12)


def test_load_play_meters_and_stop(qtbot, window: MainWindow, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "take.wav", tone(3.0))
    load(qtbot, window, wav)
    s = window.session
    assert [t.name for t in s.project.tracks] == ["take"]
    assert s.media[str(wav)].seconds == pytest.approx(3.0)
    assert s.bridge is not None and len(s.bridge.engine.graph.tracks) == 1  # type: ignore[union-attr]
    window.toggle_play()
    qtbot.waitUntil(lambda: s.bridge.last_frame > 4410, timeout=5000)  # type: ignore[union-attr]
    strip = window.mixer.strips[0]
    qtbot.waitUntil(lambda: strip.meter.peak.max() > -20.0, timeout=5000)
    assert window.mixer.master is not None and window.mixer.master.meter.rms.max() > -40.0
    assert window.arrangement.playhead > 0.1
    window.stop()
    qtbot.waitUntil(lambda: not s.bridge.engine.playing, timeout=2000)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: s.bridge.last_frame == 0, timeout=2000)  # type: ignore[union-attr]  # the position event follows
    assert window.transport.position.text().split()[0] == "1.1"


def test_space_toggles_playback(qtbot, window: MainWindow, tmp_path: Path) -> None:
    load(qtbot, window, write_wav(tmp_path / "t.wav", tone(2.0)))
    window.activateWindow()
    window.arrangement.setFocus()
    qtbot.keyClick(window.arrangement, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.session.bridge.engine.playing, timeout=3000)  # type: ignore[union-attr]
    qtbot.keyClick(window.arrangement, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.session.bridge.engine.playing, timeout=3000)  # type: ignore[union-attr]


def test_paint_the_template_with_the_mouse_and_undo_the_stroke(qtbot, window: MainWindow) -> None:
    short_form(window)
    canvas = window.form.canvas
    canvas.resize(320, 336)
    x0, y0, cell = canvas._geometry()

    def at(i: int, j: int) -> QPoint:
        return QPoint(int(x0 + (j + 0.5) * cell), int(y0 + (i + 0.5) * cell))

    before = window.session.generation.template().copy()
    assert before[0, 2] == 0.0 and before[0, 3] == 0.0
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(0, 2))
    qtbot.mouseMove(canvas, at(0, 3))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(0, 3))
    m = window.session.generation.template()
    assert m[0, 2] == m[2, 0] == 1.0 and m[0, 3] == m[3, 0] == 1.0
    assert np.array_equal(m, m.T)
    # erase with the right button; the diagonal cannot be erased
    qtbot.mousePress(canvas, Qt.MouseButton.RightButton, pos=at(5, 5))
    qtbot.mouseRelease(canvas, Qt.MouseButton.RightButton, pos=at(5, 5))
    assert window.session.generation.template()[5, 5] == 1.0
    window.session.undo.undo()  # the whole stroke is one step
    np.testing.assert_array_equal(window.session.generation.template(), before)
    window.session.undo.redo()
    assert window.session.generation.template()[0, 3] == 1.0


def test_select_bars_on_the_letter_band_and_name_a_section(qtbot, window: MainWindow) -> None:
    window.form.clear()
    window.form.resize_to(8)
    canvas = window.form.canvas
    canvas.resize(320, 336)
    x0, _, cell = canvas._geometry()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(x0 + 0.5 * cell), 5))
    qtbot.mouseMove(canvas, QPoint(int(x0 + 3.5 * cell), 5))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(x0 + 3.5 * cell), 5))
    assert window.form.selected_bars() == [0, 1, 2, 3]
    window.form.letter.setCurrentText("A")
    window.form.assign.click()
    canvas.selection = (4, 7)
    window.form.assign.click()
    assert window.session.generation.labels() == list("AAAAAAAA")
    m = window.session.generation.template()
    assert all(m[k, 4 + k] == 1.0 for k in range(4))
    assert window.form.structure.text() == "A8"


def test_generate_regenerate_bars_and_show_adherence(qtbot, window: MainWindow) -> None:
    short_form(window)
    window.generate_panel.play_after.setChecked(False)
    window.generate_panel.seed.setValue(3)
    window.generate(False)
    wait_jobs(qtbot, window.session)
    s = window.session
    res = s.generation.last
    assert res is not None and res.piece.grid.bars == 8
    assert [t.name for t in s.project.tracks] == [GENERATED_TRACK]
    assert Path(s.project.tracks[0].clips[0].path).is_file()
    assert res.adherence > 0.6
    assert "Adherence" in window.form.adherence.text()
    assert window.form.generated.matrix.shape == (8, 8) and not window.form.generated.placeholder
    assert s.project.generation is not None and s.project.generation["seed"] == 3
    # regenerate bars 5-8 only: bars 1-4 stay exactly as they were
    window.form.canvas.selection = (4, 7)
    window.generate_panel.seed.setValue(4)
    window.generate(True)
    wait_jobs(qtbot, window.session)
    new = s.generation.last
    assert new is not None and new is not res
    steps = 4 * 16
    np.testing.assert_array_equal(new.piece.grid.mel[:steps], res.piece.grid.mel[:steps])
    np.testing.assert_array_equal(new.piece.grid.acc[:steps], res.piece.grid.acc[:steps])
    assert not np.array_equal(new.piece.grid.mel[steps:], res.piece.grid.mel[steps:])
    # one undo step brings the first piece back
    s.undo.undo()
    assert s.project.tracks[0].clips[0].path == res.midi_path


def test_regenerate_without_a_piece_is_a_clear_error(qtbot, window: MainWindow) -> None:
    window.form.canvas.selection = (0, 1)
    with pytest.raises(UserError, match="generate a piece first"):
        window.generate(True)


def test_mixer_and_plugin_edits_reach_the_engine_and_undo(qtbot, window: MainWindow, tmp_path: Path) -> None:
    load(qtbot, window, write_wav(tmp_path / "t.wav", tone(2.0)))
    s = window.session
    graph = s.bridge.engine.graph  # type: ignore[union-attr]
    strip = window.mixer.strips[0]
    strip.gain.setValue(-6.0)
    assert s.project.tracks[0].gain_db == -6.0
    qtbot.waitUntil(lambda: graph.tracks[0].fader.get_param("gain_db") == -6.0, timeout=2000)
    assert s.bridge.engine.graph is graph  # a live edit does not rebuild the graph  # type: ignore[union-attr]
    strip.mute.click()
    qtbot.waitUntil(lambda: graph.tracks[0].mute, timeout=2000)
    # plugin chain: add an EQ and edit a parameter through the generated editor
    window.mixer.chain.set_strip("track", 0)
    window.mixer.chain.add_kind("eq")
    wait_jobs(qtbot, s)
    editor = window.mixer.chain.params
    assert "low_db" in editor.editors
    editor.editors["low_db"].widget.setValue(6.0)
    assert s.project.tracks[0].chain[0].params["low_db"] == 6.0
    eng = s.bridge.engine  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: eng.graph.tracks[0].chain.slots[0].plugin.get_param("low_db") == 6.0, timeout=3000)
    window.mixer.chain.model.setData(
        window.mixer.chain.model.index(0), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole
    )
    qtbot.waitUntil(lambda: eng.graph.tracks[0].chain.slots[0].bypass, timeout=2000)
    # undo everything, step by step, back to the plain track
    while s.undo.canUndo() and s.project.tracks:
        s.undo.undo()
        if len(s.project.tracks) == 1 and not s.project.tracks[0].chain and s.project.tracks[0].gain_db == 0.0:
            break
    t = s.project.tracks[0]
    assert (t.gain_db, t.mute, t.chain) == (0.0, False, [])
    wait_jobs(qtbot, s)
    qtbot.waitUntil(lambda: s.bridge.engine.graph.tracks[0].fader.get_param("gain_db") == 0.0, timeout=2000)  # type: ignore[union-attr]
    assert s.bridge.engine.graph.tracks[0].chain.slots == []  # type: ignore[union-attr]


def test_save_reopen_and_export(qtbot, window: MainWindow, tmp_path: Path) -> None:
    import soundfile as sf

    short_form(window)
    window.generate_panel.play_after.setChecked(False)
    load(qtbot, window, write_wav(tmp_path / "drums.wav", tone(2.0)))
    window.generate(False)
    wait_jobs(qtbot, window.session)
    s = window.session
    s.mixer.set_track(0, gain_db=-3.0)
    folder = tmp_path / "song"
    folder.mkdir()
    window.save_path = lambda *a: str(folder / "song.refrain")  # type: ignore[method-assign]
    assert window.save_as()
    assert not s.dirty and s.path == folder / "song.refrain"
    gen_path = Path(s.generation.generated_track().clips[0].path)  # type: ignore[union-attr]
    assert gen_path.parent == folder / "song-media"  # media generated before the first save moved in
    saved = s.project
    # reopen in a fresh session
    s2 = Session(s.prefs)
    try:
        s2.documents.open(folder / "song.refrain")
        wait_jobs(qtbot, s2)
        assert s2.project == saved
        assert s2.generation.last is not None and s2.generation.last.piece.grid.bars == 8
    finally:
        s2.close()
    # export the piece as MIDI and WAV, and the mix; then overwrite an existing file atomically
    mid, wav, mix = tmp_path / "piece.mid", tmp_path / "piece.wav", tmp_path / "mix.flac"
    window.export_midi(str(mid))
    assert mid.read_bytes() == gen_path.read_bytes()
    window.export_audio(True, str(wav))
    window.export_audio(False, str(mix))
    wait_jobs(qtbot, s)
    info = sf.info(str(wav))
    assert info.samplerate == 44100 and info.channels == 2 and info.duration > 8 * 2.0 * 0.9
    assert sf.info(str(mix)).duration >= info.duration
    mix.write_bytes(b"old")
    window.export_audio(False, str(mix))
    wait_jobs(qtbot, s)
    assert sf.info(str(mix)).duration >= info.duration
    assert not list(tmp_path.glob(".*.part*"))


def test_loudness_normalised_flac_export_and_form_files(qtbot, window: MainWindow, tmp_path: Path) -> None:
    import pyloudnorm
    import soundfile as sf

    load(qtbot, window, write_wav(tmp_path / "t.wav", tone(3.0)))
    window.lufs_action.trigger()
    assert window.session.prefs.export_lufs == -14.0
    out = tmp_path / "mix.flac"
    window.export_audio(False, str(out), bits="16")
    wait_jobs(qtbot, window.session)
    audio, rate = sf.read(str(out))
    assert sf.info(str(out)).subtype == "PCM_16"
    assert pyloudnorm.Meter(rate).integrated_loudness(audio) == pytest.approx(-14.0, abs=0.5)
    # the form round-trips through a file
    short_form(window)
    window.save_path = lambda *a: str(tmp_path / "form.npy")  # type: ignore[method-assign]
    window.open_path = lambda *a: str(tmp_path / "form.npy")  # type: ignore[method-assign]
    window.save_form()
    saved = window.session.generation.template().copy()
    window.form.apply_preset("aaba")
    assert window.session.generation.template().shape == (32, 32)
    window.load_form()
    np.testing.assert_array_equal(window.session.generation.template(), saved)


def test_cancelled_export_leaves_nothing(qtbot, window: MainWindow, tmp_path: Path) -> None:
    """Cancel in the middle of the real export (the worker process is rendering: progress has moved), not
    before it starts: no file, no temporary file."""
    load(qtbot, window, write_wav(tmp_path / "t.wav", tone(90.0)))
    s = window.session
    out = tmp_path / "mix.wav"
    job = s.documents.export_audio(str(out))
    qtbot.waitUntil(lambda: 0.05 < job.fraction < 0.9, timeout=30000)
    job.cancel()
    wait_jobs(qtbot, s)
    assert job.state == "cancelled"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".wav" or ".part" in p.name) == ["t.wav"]


def test_bad_tracks_give_one_line_errors_and_change_nothing(qtbot, window: MainWindow, tmp_path: Path) -> None:
    s = window.session
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="not a track"):
        s.mixer.load_track(tmp_path / "notes.txt")
    with pytest.raises(UserError, match="no such file"):
        s.mixer.load_track(tmp_path / "missing.wav")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF" + bytes(200))
    with qtbot.waitSignal(s.message, timeout=10000) as sig:
        s.mixer.load_track(broken)
    wait_jobs(qtbot, s)
    assert "cannot load broken.wav" in sig.args[0] and "\n" not in sig.args[0]
    assert s.project.tracks == [] and not s.dirty


def test_drop_files_loads_tracks(qtbot, window: MainWindow, tmp_path: Path) -> None:
    mid = write_midi(tmp_path / "riff.mid")
    wav = write_wav(tmp_path / "pad.wav", tone(1.0))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(mid)), QUrl.fromLocalFile(str(wav))])
    ev = QDropEvent(
        QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(ev)
    wait_jobs(qtbot, window.session)
    assert sorted(t.name for t in window.session.project.tracks) == ["pad", "riff"]
    assert str(mid) in window.session.prefs.recent[:2]


def test_autosave_is_offered_at_the_next_start(qtbot, window: MainWindow, prefs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = window.session
    load(qtbot, window, write_wav(tmp_path / "t.wav", tone(1.0)))
    s.mixer.set_track(0, gain_db=-9.0)
    assert s.documents.autosave() is not None
    # "crash": a new window at the next start finds the autosave
    s2 = Session(prefs)
    w2 = MainWindow(s2)
    try:
        asked = []
        w2.ask = lambda *a: asked.append(a[0]) or Btn.Yes  # type: ignore[method-assign]
        assert w2.offer_recovery()
        assert asked == ["Recover unsaved work"]
        assert s2.project.tracks[0].gain_db == -9.0 and s2.dirty
        wait_jobs(qtbot, s2)
    finally:
        s2.undo.setClean()
        w2.close()


def test_unsaved_changes_prompt_on_quit(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.session.edit("tempo", lambda p: setattr(p, "tempo", 99.0))
    answers = [Btn.Cancel]
    window.ask = lambda *a: answers.pop(0)  # type: ignore[method-assign]
    assert not window.close()
    assert window.isVisible()
    answers.append(Btn.Save)
    window.save_path = lambda *a: str(tmp_path / "q.refrain")  # type: ignore[method-assign]
    assert window.close()
    assert (tmp_path / "q.refrain").is_file()


def test_preferences_restart_the_engine_and_persist(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from app.prefs import Preferences
    from app.views.preferences import PreferencesDialog

    load(qtbot, window, write_wav(tmp_path / "t.wav", tone(1.0)))
    dlg = PreferencesDialog(window.session.prefs, window)
    dlg.block.setCurrentIndex(dlg.block.findData(1024))
    dlg.device.setCurrentIndex(dlg.device.findData("null"))
    dlg.threads.setValue(1)
    new = dlg.result_prefs()
    window.apply_preferences(new)
    wait_jobs(qtbot, window.session)
    eng = window.session.bridge.engine  # type: ignore[union-attr]
    assert eng.block == 1024 and len(eng.graph.tracks) == 1  # the new engine got the project's graph
    assert "1024 frames" in window.transport.device.text()
    assert Preferences.load().block == 1024
    bad = Preferences(**{**new.to_dict(), "soundfont": str(tmp_path / "missing.sf2")})
    with pytest.raises(UserError):
        window.apply_preferences(bad)
    assert window.session.prefs.soundfont is None  # refused before anything changed
    load(qtbot, window, write_wav(tmp_path / "t2.wav", tone(1.0)))  # two tracks: two threads can share them
    dlg2 = PreferencesDialog(window.session.prefs, window)
    dlg2.render_threads.setValue(2)
    window.apply_preferences(dlg2.result_prefs())
    qtbot.waitUntil(lambda: eng.graph.workers == 2 and window.session.graph_current, timeout=10000)
    assert Preferences.load().render_threads == 2  # the tracks now render on two threads


def test_bars_in_the_generate_panel_resize_the_form(qtbot, window: MainWindow) -> None:
    short_form(window)
    window.generate_panel.bars.setValue(16)
    window.generate_panel.bars.editingFinished.emit()
    assert window.session.generation.template().shape == (16, 16)
    assert window.session.generation.labels() == list("A" * 16)


def test_refrain_app_screenshot(tmp_path: Path) -> None:
    import os

    mid = write_midi(tmp_path / "song.mid", notes=12)
    png = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "app", str(mid), "--screenshot", str(png), "--quit-after", "60"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    from PIL import Image

    img = Image.open(png)
    assert img.size[0] >= 1000 and img.size[1] >= 600
    assert len(np.unique(np.asarray(img.convert("L")))) > 20  # a drawn window, not a blank one
    bad = subprocess.run(
        [sys.executable, "-m", "app.cli", "app", str(tmp_path / "missing.wav"), "--screenshot", str(png)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "no such file" in bad.stderr


def test_separate_track_adds_stem_lanes_and_undoes(qtbot, window: MainWindow, tmp_path: Path, tiny_separator) -> None:  # type: ignore[no-untyped-def]
    import soundfile as sf

    wav = write_wav(tmp_path / "song.wav", tone(2.0))
    load(qtbot, window, wav)
    s = window.session
    s.stems.separate(0, model=str(tiny_separator))
    wait_jobs(qtbot, s)
    names = [t.name for t in s.project.tracks]
    assert names == ["song", "song · drums", "song · bass", "song · vocals", "song · other"]
    assert s.project.tracks[0].mute and not any(t.mute for t in s.project.tracks[1:])
    stems = [sf.read(t.clips[0].path, dtype="float32")[0] for t in s.project.tracks[1:]]
    src = sf.read(str(wav), dtype="float32", always_2d=True)[0]
    assert np.abs(sum(stems) - src).max() < 1e-3  # the stems add up to the source
    assert len(s.bridge.engine.graph.tracks) == 5  # type: ignore[union-attr]
    assert len(window.mixer.strips) == 5
    s.undo.undo()
    assert [t.name for t in s.project.tracks] == ["song"] and not s.project.tracks[0].mute
    with pytest.raises(UserError):
        s.stems.separate(7)


def test_stems_group_audition_export_and_drag_out(qtbot, window: MainWindow, tmp_path: Path, tiny_separator) -> None:  # type: ignore[no-untyped-def]
    import soundfile as sf

    from app.views.arrangement import lane_colours

    wav = write_wav(tmp_path / "song.wav", tone(2.0))
    load(qtbot, window, wav)
    s = window.session
    with pytest.raises(UserError, match="no stems"):
        window.export_stems(0)
    s.stems.separate(0, model=str(tiny_separator))
    wait_jobs(qtbot, s)
    tracks = s.project.tracks
    source_id = tracks[0].id
    assert [t.group for t in tracks] == ["", *[source_id] * 4]  # grouped by the source's id, not its name
    assert [window.session.stems.label(i) for i in range(1, 5)] == ["drums", "bass", "vocals", "other"]
    colours = lane_colours(tracks)
    assert all(c == colours[0] for c in colours[1:])  # the stems wear their source's colour
    assert s.stems.group(0) == (0, [1, 2, 3, 4]) == s.stems.group(3)

    # Everything but the vocals: one undoable step; the same command again brings every stem back.
    s.mixer.set_track(4, solo=True)
    s.stems.audition_without(3)
    assert [t.mute for t in s.project.tracks] == [True, False, False, True, False]
    assert not any(t.solo for t in s.project.tracks)
    s.stems.audition_without(3)
    assert [t.mute for t in s.project.tracks] == [True, False, False, False, False]
    s.undo.undo()
    assert [t.mute for t in s.project.tracks] == [True, False, False, True, False]
    with pytest.raises(UserError, match="select a stem"):
        s.stems.audition_without(0)

    # The same commands from a right-click on the lane.
    from app.views.arrangement import LANE, RULER

    seen: list[int] = []
    window.arrangement.context_requested.connect(lambda lane, at: seen.append(lane))
    y = RULER + 4 * LANE + LANE // 2 - window.arrangement.verticalScrollBar().value()
    qtbot.mouseClick(window.arrangement.viewport(), Qt.MouseButton.RightButton, pos=QPoint(40, y))
    assert seen == [4] and window.arrangement.selected == 4
    menu = window.build_lane_menu(4)
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts == [
        "Solo",
        "Mute",
        "Separate into Stems",
        "Split into Voices",
        "Transcribe to MIDI",
        "Play Everything but This Stem",
        "Export Stems…",
        "Remove Track",
    ]
    next(a for a in menu.actions() if a.text() == "Play Everything but This Stem").trigger()
    assert [t.mute for t in s.project.tracks] == [True, False, False, False, True]
    s.undo.undo()

    # Renaming the source keeps the group (by id) and renames the stems; removing it leaves ordinary tracks.
    s.mixer.set_track(0, name="take")
    assert [t.group for t in s.project.tracks[1:]] == [source_id] * 4
    assert [t.name for t in s.project.tracks[1:]] == [f"take · {n}" for n in ("drums", "bass", "vocals", "other")]
    s.mixer.set_track(2, gain_db=-6.0)

    # Export all stems through their strips (gain applies, mute does not), in every format the menu offers.
    out = tmp_path / "stems"
    out.mkdir()
    for choice, subtype in (("WAV 24-bit", "PCM_24"), ("WAV 32-bit float", "FLOAT"), ("FLAC 16-bit", "PCM_16")):
        window.stem_format = lambda choice=choice: choice  # type: ignore[method-assign]
        window.folder_path = lambda title: str(out)  # type: ignore[method-assign]
        window.ask = lambda *a: Btn.Yes  # type: ignore[method-assign]
        window.export_stems(1)
        wait_jobs(qtbot, s)
        ext = "flac" if choice.startswith("FLAC") else "wav"
        files = sorted(p.name for p in out.glob(f"*.{ext}"))
        assert files == [f"{n}.{ext}" for n in ("bass", "drums", "other", "vocals")]
        assert sf.info(str(out / f"drums.{ext}")).subtype == subtype
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no part files left
    stem_files = {t.name.split(" · ")[1]: t.clips[0].path for t in s.project.tracks[1:]}
    raw = sf.read(stem_files["bass"], dtype="float32", always_2d=True)[0]
    rendered = sf.read(str(out / "bass.wav"), dtype="float32", always_2d=True)[0]
    n = min(len(raw), len(rendered))
    peak = np.abs(raw[:n]).max()
    assert peak > 1e-3 and np.abs(rendered[:n]).max() == pytest.approx(peak * 10 ** (-6 / 20), rel=0.05)

    # A stem lane drags its file out; a MIDI or empty lane drags nothing.
    from app.views.arrangement import file_mime

    assert window.arrangement.drag_path(1) == stem_files["drums"]
    assert file_mime(stem_files["drums"]).urls()[0].toLocalFile() == stem_files["drums"]
    assert window.arrangement.drag_path(9) is None

    s.mixer.remove_track(0)
    assert [t.group for t in s.project.tracks] == [""] * 4
    with pytest.raises(UserError, match="select a stem"):
        s.stems.audition_without(0)


def test_cancelled_stem_export_leaves_no_file(qtbot, window: MainWindow, tmp_path: Path, tiny_separator) -> None:  # type: ignore[no-untyped-def]
    load(qtbot, window, write_wav(tmp_path / "song.wav", tone(60.0)))
    s = window.session
    s.stems.separate(0, model=str(tiny_separator))
    wait_jobs(qtbot, s)
    out = tmp_path / "stems"
    out.mkdir()
    job = s.stems.export(1, out, "wav", "24")
    qtbot.waitUntil(lambda: job.fraction > 0.05, timeout=20000)
    job.cancel()
    wait_jobs(qtbot, s)
    assert list(out.iterdir()) == []
    with pytest.raises(UserError):
        s.stems.export(1, out, "flac", "float")
    with pytest.raises(UserError):
        s.stems.export(1, tmp_path / "missing", "wav", "24")
