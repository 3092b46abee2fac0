"""Bugs a producer hit in the app, each tested where it was fixed: the click at the start of an export,
MIDI that ignored the tempo, a project that started playing when opened, state that survived New Project,
recovery at a plain start, dropouts counted on an idle device, stale mixer strips, toggles that looked the
same on and off, clipped strip names, duplicate stems on a second separation, and the File menu order."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from app.main_window import MainWindow
from app.views.mixer import StripWidget
from engine.build import build_graph
from engine.project import Clip, Project, TrackSpec, autosave_path, save_project, write_autosave
from tests import smf
from tests.app.conftest import wait_jobs
from tests.engine.conftest import tone, write_wav

Btn = QMessageBox.StandardButton


def test_a_bounce_starts_at_the_set_values_with_no_click(tmp_path: Path) -> None:
    """A muted track (the source after Separate) was audible for the first block: its fader glided down
    from unmuted. A parameter moved on the running graph must not glide at the next start either."""
    from engine.bounce import bounce_graph

    loud = write_wav(tmp_path / "loud.wav", np.full((2, 44100), 0.9, np.float32))
    quiet = write_wav(tmp_path / "quiet.wav", tone(1.0))
    p = Project(tracks=[TrackSpec("source", [Clip(str(loud))], mute=True), TrackSpec("stem", [Clip(str(quiet))])])
    out = bounce_graph(build_graph(p, 44100, 512), frames=4096, block=512)
    alone = bounce_graph(build_graph(Project(tracks=[p.tracks[1]]), 44100, 512), frames=4096, block=512)
    assert np.array_equal(out, alone)  # not one sample of the muted track, from sample 0
    g = build_graph(Project(tracks=[TrackSpec("t", [Clip(str(loud))])]), 44100, 512)
    g.tracks[0].fader.set_param("gain_db", -20.0)  # as a live edit sets it, after the graph was prepared
    first = bounce_graph(g, frames=512, block=512)
    assert np.allclose(first, 0.9 * 10 ** (-20 / 20), atol=1e-6)


def test_midi_follows_the_project_tempo(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from engine.bounce import bounce_graph

    mid = smf.write(tmp_path / "q.mid", 0, smf.ppq(480), [smf.tempo(120.0) + smf.notes_track([60, 64, 67, 72], 480)])
    s = window.session
    s.mixer.load_track(mid)
    wait_jobs(qtbot, s)
    assert s.project.tempo == pytest.approx(120.0) and s.seconds() == pytest.approx(2.0)
    window.transport.tempo.setValue(60.0)  # the transport's tempo box: one undoable edit
    wait_jobs(qtbot, s)
    assert s.seconds() == pytest.approx(4.0)  # the arrangement draws the clip twice as long
    graph = s.bridge.engine.graph  # type: ignore[union-attr]
    sr = graph.sample_rate
    assert graph.tracks[0].midi.frames[-1] == pytest.approx(4.0 * sr, abs=2)  # playback: the last note-off at 4 s
    played = bounce_graph(build_graph(s.playable(s.project), sr, 512))
    assert played.shape[1] == pytest.approx((4.0 + 1.5) * sr, abs=2)  # the export renders the same graph
    onsets = np.nonzero(np.abs(played[0]) > 1e-3)[0]
    assert onsets[0] < 0.01 * sr
    out = tmp_path / "mix.wav"
    job = s.documents.export_audio(str(out), "float")
    wait_jobs(qtbot, s)
    assert job.state == "done"
    import soundfile as sf

    assert sf.info(str(out)).duration == pytest.approx(5.5, abs=1e-3)


def test_opening_a_project_never_starts_playback(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from models.generator.midi import read_midi

    s = window.session
    window.form.structure.setText("A2A2")
    window.form.apply_structure()
    window.generate_panel.play_after.setChecked(True)
    window.generate(False)
    wait_jobs(qtbot, s)
    qtbot.waitUntil(lambda: s.bridge.engine.playing, timeout=5000)  # type: ignore[union-attr]  # a new piece plays
    window.stop()
    window.transport.tempo.setValue(90.0)  # the piece's MIDI export follows the tempo set after generating
    s.generation.export_midi(tmp_path / "piece.mid")
    assert read_midi(tmp_path / "piece.mid").tempo == pytest.approx(90.0, abs=0.01)
    path = tmp_path / "p.refrain"
    s.documents.save(path)
    window.open_file(str(path), prompt=False)
    wait_jobs(qtbot, s)
    assert s.generation.last is not None  # the piece was read again for the form view ...
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # ... and nothing plays, now or a moment later
        qtbot.wait(50)
        assert not s.bridge.engine.playing  # type: ignore[union-attr]


def test_new_project_forgets_the_old_one(qtbot, window: MainWindow, tmp_path: Path) -> None:
    s = window.session
    window.form.structure.setText("A2A2")
    window.form.apply_structure()
    window.generate(False)
    wait_jobs(qtbot, s)
    window.arrangement.set_zoom(300.0)
    window.arrangement.loop = (1.0, 2.0)
    window.transport.loop.setChecked(True)
    window.form.canvas.selection = (0, 1)
    window.form.letter.setCurrentIndex(3)
    assert window.form.generated.placeholder == "" and "Adherence" in window.form.adherence.text()
    s.undo.setClean()
    window.new_project()
    wait_jobs(qtbot, s)
    assert window.form.generated.placeholder and "Adherence" not in window.form.adherence.text()
    assert window.arrangement.loop is None and window.arrangement.pps == 40.0 and window.arrangement.selected == -1
    assert not window.transport.loop.isChecked() and window.form.canvas.selection is None
    assert window.form.letter.currentIndex() == 0 and s.generation.last is None


def test_a_plain_start_offers_what_a_crash_left(qtbot, window: MainWindow, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "t.wav", tone(0.5))
    path = tmp_path / "song.refrain"
    save_project(Project(tracks=[TrackSpec("t", [Clip(str(wav))])]), path)
    crashed = Project(tracks=[TrackSpec("t", [Clip(str(wav))]), TrackSpec("t2", [Clip(str(wav))])])
    write_autosave(crashed, path)
    os.utime(path, (time.time() - 60, time.time() - 60))  # the autosave is newer than the saved project
    asked: list[str] = []
    window.ask = lambda title, text, *a: asked.append(text) or Btn.Yes  # type: ignore[method-assign]
    assert window.offer_recovery(startup=True)
    wait_jobs(qtbot, window.session)
    assert "song.refrain" in asked[0]
    s = window.session
    assert s.path == path.resolve() and [t.name for t in s.project.tracks] == ["t", "t2"] and s.dirty
    s.documents.save()
    assert not autosave_path(path).exists() and not window.offer_recovery(startup=True)


def test_dropouts_count_only_while_playing() -> None:
    """A late or empty callback while the transport is stopped is silence either way: no dropout."""
    from engine.ring import AudioRing
    from engine.stream import _Output

    ring = AudioRing(2, 64, 4)
    out = _Output(ring, 2)
    buf = np.zeros((64, 2), np.float32)
    out._fill(buf, 64, underflow=True)  # nothing written, device late: stopped, so not a dropout
    assert out.stats.xruns == 0
    ring.write(np.zeros((2, 64), np.float32), 0)  # a block of the timeline: playing
    out._fill(buf, 64, underflow=False)
    out._fill(buf, 64, underflow=True)  # now the ring is dry while playing: that is a dropout
    assert out.stats.xruns == 2


def test_reopening_leaves_no_stale_strip_and_names_elide_in_the_middle(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    s = window.session
    wav = write_wav(tmp_path / "t.wav", tone(0.5))
    names = ["a long song title · drums", "a long song title · bass"]
    path = tmp_path / "p.refrain"
    save_project(Project(tracks=[TrackSpec(n, [Clip(str(wav))]) for n in names]), path)
    for _ in range(2):
        window.open_file(str(path), prompt=False)
        wait_jobs(qtbot, s)
    strips = [w for w in window.mixer.strip_holder.findChildren(StripWidget) if w.isVisible()]
    assert len(strips) == 3 and strips == [*window.mixer.strips, window.mixer.master]
    xs = [w.geometry().x() for w in strips]
    assert xs == sorted(xs) and len(set(xs)) == 3  # the master to the right of the tracks, over none of them
    shown = [w.name.text() for w in window.mixer.strips]
    assert all("…" in t for t in shown) and shown[0] != shown[1]
    assert shown[0].startswith("a") and shown[0].endswith("ums") and shown[1].endswith("ass")  # both ends kept
    assert names[0] in window.mixer.strips[0].name.toolTip()


def rgb(image: object) -> np.ndarray:
    """(h, w, 3) colours of a QImage."""
    w, h = image.width(), image.height()  # type: ignore[attr-defined]
    px = [[image.pixelColor(x, y) for x in range(w)] for y in range(h)]  # type: ignore[attr-defined]
    return np.array([[(c.red(), c.green(), c.blue()) for c in row] for row in px], np.float64)


def test_mute_solo_and_loop_look_different_when_on(qtbot, window: MainWindow, tmp_path: Path) -> None:
    load_wav = write_wav(tmp_path / "t.wav", tone(0.5))
    window.session.mixer.load_track(load_wav)
    wait_jobs(qtbot, window.session)
    s = window.session

    def flip(button: object, on: bool) -> None:  # through the real paths: the project for strips, a click for Loop
        if button is window.transport.loop:
            window.transport.loop.setChecked(on)
        else:
            s.mixer.set_track(0, **{"mute" if button is window.mixer.strips[0].mute else "solo": on})

    picks = (lambda: window.mixer.strips[0].mute, lambda: window.mixer.strips[0].solo, lambda: window.transport.loop)
    for pick in picks:
        button = pick()
        off = button.grab().toImage()
        flip(button, True)
        wait_jobs(qtbot, s)
        button = pick()  # the mixer may have rebuilt its strips
        assert button.isChecked()
        on = button.grab().toImage()
        flip(button, False)
        chroma_off = float(np.ptp(rgb(off), axis=2).mean())  # how coloured (not grey) the button looks
        chroma_on = float(np.ptp(rgb(on), axis=2).mean())
        assert chroma_off < 20 < 60 < chroma_on, (button.toolTip(), chroma_off, chroma_on)


def test_separating_again_replaces_the_stems_and_a_stem_nests(
    qtbot, window: MainWindow, tmp_path: Path, tiny_separator: Path
) -> None:
    from app.stems import depth

    s = window.session
    s.mixer.load_track(write_wav(tmp_path / "song.wav", tone(2.0)))
    wait_jobs(qtbot, s)
    s.stems.separate(0, model=str(tiny_separator))
    wait_jobs(qtbot, s)
    first = [t.name for t in s.project.tracks]
    s.stems.separate(0, model=str(tiny_separator))
    wait_jobs(qtbot, s)
    assert [t.name for t in s.project.tracks] == first  # replaced, not "song · drums 2" beside the old set
    assert "Separate Again" in [a.text() for a in window.build_lane_menu(0).actions()][2]
    s.undo.undo()
    assert len(s.project.tracks) == 5
    other = next(i for i, t in enumerate(s.project.tracks) if t.name == "song · other")
    s.stems.separate(other, model=str(tiny_separator))
    wait_jobs(qtbot, s)
    tracks = s.project.tracks
    nested = [i for i, t in enumerate(tracks) if t.group == tracks[other].id]
    assert len(nested) == 4 and all(depth(tracks, i) == 2 for i in nested)
    assert tracks[nested[0]].name == "song · other · drums" and s.stems.label(nested[0]) == "drums"
    assert s.stems.group(other) == (other, nested)


def test_export_stems_sits_with_the_exports_above_quit(window: MainWindow) -> None:
    file_menu = window.menuBar().actions()[0].menu()
    texts = [a.text().replace("&", "") for a in file_menu.actions() if a.text()]  # type: ignore[union-attr]
    assert texts.index("Export Stems…") < texts.index("Preferences…") < texts.index("Quit")
    assert texts.index("Export Piece WAV…") < texts.index("Export Stems…")


def test_a_capture_keeps_what_it_recorded_after_it_is_replaced() -> None:
    """The callback records into the capture it loaded for the period; stopping or replacing the capture
    keeps what was recorded, and nothing more is written into it."""
    from engine.ring import AudioRing, Capture
    from engine.stream import _Output

    ring = AudioRing(2, 64, 4)
    out = _Output(ring, 2)
    buf = np.zeros((64, 2), np.float32)
    first = Capture(1000, 2)
    ring.capture = first
    ring.write(np.full((2, 64), 0.5, np.float32), 0)
    out._fill(buf, 64, underflow=False)
    ring.capture = None
    ring.write(np.full((2, 64), 0.25, np.float32), 64)
    out._fill(buf, 64, underflow=False)
    assert first.last == 64 and first.result().shape == (2, 64) and (first.result() == 0.5).all()
    second = Capture(1000, 2)
    ring.capture = second
    ring.write(np.full((2, 64), 0.75, np.float32), 128)
    out._fill(buf, 64, underflow=False)
    assert first.last == 64 and second.last == 192 and (second.audio[128:192] == 0.75).all()
    assert not second.audio[:128].any()  # frames played before it was set are not in it
