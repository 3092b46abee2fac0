"""App logic without widgets: item models, undo snapshots, live engine commands, form operations,
preferences, jobs."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app import form
from app.itemmodels.tracks import ChainModel, TrackListModel
from app.prefs import Preferences
from app.session import Session
from engine import commands as c
from engine.build import live_commands, skeleton
from engine.project import Clip, PluginSpec, Project, TrackSpec
from tests.app.conftest import wait_jobs
from tests.engine.conftest import tone, write_midi, write_wav


def two_tracks(tmp_path: Path) -> Project:
    wav = write_wav(tmp_path / "a.wav", tone(1.0))
    mid = write_midi(tmp_path / "b.mid")
    return Project(
        tracks=[
            TrackSpec("a", [Clip(str(wav))], chain=[PluginSpec("eq")]),
            TrackSpec("b", [Clip(str(mid))], chain=[PluginSpec("reverb")]),
        ]
    )


def test_live_edits_become_commands_and_structure_edits_do_not(tmp_path: Path) -> None:
    import copy

    old = two_tracks(tmp_path)
    new = copy.deepcopy(old)
    new.tracks[0].gain_db = -6.0
    new.tracks[1].mute = True
    new.tracks[1].chain[0].params["wet"] = 0.5  # MIDI track: the synth is slot 0, so the reverb is slot 1
    new.tracks[0].chain[0].bypass = True
    new.master.gain_db = -1.0
    assert skeleton(old) == skeleton(new)
    cmds = live_commands(old, new)
    assert c.SetParam(0, -1, "gain_db", -6.0) in cmds
    assert c.SetStrip(1, mute=True, solo=False) in cmds
    assert c.SetParam(1, 1, "wet", 0.5) in cmds
    assert c.SetBypass(0, 0, True) in cmds
    assert c.SetParam(-1, -1, "gain_db", -1.0) in cmds
    assert len(cmds) == 5
    new.tracks[0].chain.append(PluginSpec("delay"))
    assert skeleton(old) != skeleton(new)


def test_track_model_reads_and_edits_through_undo(qtbot, session: Session, tmp_path: Path) -> None:
    session.edit("setup", lambda p: p.tracks.extend(two_tracks(tmp_path).tracks))
    model = TrackListModel(session)
    assert model.rowCount() == 2 and model.columnCount() == 6
    assert model.data(model.index(0, TrackListModel.KIND)) == "Audio"
    assert model.data(model.index(1, TrackListModel.KIND)) == "MIDI"
    assert model.setData(model.index(0, TrackListModel.GAIN), -12.5)
    assert session.project.tracks[0].gain_db == -12.5
    assert model.setData(model.index(1, TrackListModel.SOLO), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert session.project.tracks[1].solo
    assert not model.setData(model.index(0, TrackListModel.NAME), "   ")  # an empty name is refused
    assert model.setData(model.index(0, TrackListModel.GAIN), 99.0)
    assert session.project.tracks[0].gain_db == 24.0  # clamped to the project's range
    session.undo.undo()
    session.undo.undo()
    assert not session.project.tracks[1].solo
    assert session.project.tracks[0].gain_db == -12.5
    assert model.data(model.index(0, TrackListModel.GAIN)) == -12.5


def test_chain_model_bypass_is_the_check_state(qtbot, session: Session, tmp_path: Path) -> None:
    session.edit("setup", lambda p: p.tracks.extend(two_tracks(tmp_path).tracks))
    model = ChainModel(session, "track", 0)
    assert model.rowCount() == 1
    assert model.data(model.index(0)) == "1. eq"
    assert model.data(model.index(0), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    model.setData(model.index(0), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert session.project.tracks[0].chain[0].bypass
    model.set_strip("master", 0)
    assert model.rowCount() == 0


def test_merged_edits_are_one_undo_step(qtbot, session: Session) -> None:
    session.edit("a", lambda p: setattr(p, "tempo", 100.0), merge="drag1")
    session.edit("b", lambda p: setattr(p, "tempo", 110.0), merge="drag1")
    session.edit("c", lambda p: setattr(p, "tempo", 90.0), merge="drag2")
    assert session.undo.count() == 2
    session.undo.undo()
    assert session.project.tempo == 110.0
    session.undo.undo()
    assert session.project.tempo == 120.0
    assert not session.edit("noop", lambda p: None)  # no change: no undo step


def test_paint_is_symmetric_and_keeps_the_diagonal() -> None:
    m = np.eye(6, dtype=np.float32)
    m = form.paint(m, 1, 4, 0.7)
    assert m[1, 4] == m[4, 1] == pytest.approx(0.7)
    m2 = form.paint(m, 3, 3, 0.0)
    assert m2[3, 3] == 1.0


def test_assign_section_links_equal_offsets_of_the_same_letter() -> None:
    m, labels = form.assign_section(np.eye(12, dtype=np.float32), [""] * 12, 0, 3, "A")
    m, labels = form.assign_section(m, labels, 4, 7, "B")
    m, labels = form.assign_section(m, labels, 8, 11, "A")
    assert labels == list("AAAABBBBAAAA")
    for k in range(4):
        assert m[k, 8 + k] == m[8 + k, k] == 1.0
    assert m[0, 4] == 0.0 and m[0, 9] == 0.0
    # relabelling clears the old similarity; "x" repeats nothing
    m, labels = form.assign_section(m, labels, 8, 11, "x")
    assert float(m[:4, 8:].sum()) == 0.0
    np.testing.assert_array_equal(np.diag(m), np.ones(12))
    assert form.structure_text(labels) == "A4B4x4"


def test_resize_keeps_labels_in_proportion() -> None:
    from models.structure import template_from_structure

    m = template_from_structure("A4B4")
    r, labels = form.resize(m, list("AAAABBBB"), 16)
    assert r.shape == (16, 16)
    assert labels == list("A" * 8 + "B" * 8)


def test_preferences_round_trip_and_broken_files_give_defaults(tmp_path: Path) -> None:
    p = Preferences(device="null", block=512, soundfont="/x.sf2", threads=2)
    p.add_recent(tmp_path / "a.refrain")
    p.add_recent(tmp_path / "b.wav")
    p.add_recent(tmp_path / "a.refrain")
    p.save()
    q = Preferences.load()
    assert (q.device, q.block, q.soundfont, q.threads) == ("null", 512, "/x.sf2", 2)
    assert q.recent == [str(tmp_path / "a.refrain"), str(tmp_path / "b.wav")]
    Preferences.path().write_text('{"block": 333, "threads": "many", "recent": 5}')
    r = Preferences.load()
    assert (r.block, r.threads, r.recent) == (512, 1, [])
    Preferences.path().write_text("not json")
    assert Preferences.load() == Preferences()


def test_jobs_report_progress_cancel_and_errors_on_the_gui_thread(qtbot, session: Session) -> None:
    from engine.errors import UserError

    gui = threading.get_ident()
    seen: dict[str, object] = {}
    release = threading.Event()

    def slow(job):  # type: ignore[no-untyped-def]
        for k in range(1000):
            job.progress(k / 1000)
            release.wait(0.01)
        return "never"

    job = session.jobs.submit("slow", slow, on_done=lambda r: seen.update(done=r))
    qtbot.waitUntil(lambda: job.fraction > 0.03, timeout=5000)
    assert job.eta_seconds() is not None
    job.cancel()
    qtbot.waitUntil(lambda: job.settled, timeout=5000)
    assert job.state == "cancelled" and "done" not in seen

    def bad(job):  # type: ignore[no-untyped-def]
        raise UserError("broken input")

    session.jobs.submit("bad", bad, on_error=lambda m: seen.update(error=(m, threading.get_ident())))
    ok = session.jobs.submit("ok", lambda job: 42, on_done=lambda r: seen.update(ok=(r, threading.get_ident())))
    wait_jobs(qtbot, session)
    assert seen["error"] == ("broken input", gui)
    assert seen["ok"] == (42, gui)
    assert ok.state == "done"


def test_bar_letters_become_sections_split_where_a_run_repeats_itself() -> None:
    from app.tasks import sections_of
    from models.structure import template_from_structure

    t = template_from_structure("A8A8B4")
    secs = sections_of(["A"] * 16 + ["B"] * 4, t)
    assert secs is not None and [(s.letter, s.bars) for s in secs] == [("A", 8), ("A", 8), ("B", 4)]
    assert sections_of(["A", ""], template_from_structure("A2")) is None
