"""The main window: arrangement in the centre, form editor and generate panel on the right, mixer and jobs
below, transport on top; menus carry every command with its keyboard shortcut."""

from __future__ import annotations

import functools
import gc
import os
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.batch_queue import BatchQueue
from app.itemmodels.tracks import TrackListModel
from app.prefs import Preferences
from app.session import Session
from app.views.arrangement import ArrangementView
from app.views.automix_bar import AutoMixBar, add_mix_menu
from app.views.generate_panel import GeneratePanel
from app.views.lane_menu import build_lane_menu
from app.views.mixer import MixerView
from app.views.panels import JobPanel, TransportBar
from app.views.preferences import PreferencesDialog
from app.views.queue_panel import QueuePanel, add_panel_toggles
from app.views.ssm_editor import FormEditor
from app.workers import Job
from engine.audio_io import AUDIO_SUFFIXES
from engine.errors import UserError
from engine.midi import MIDI_SUFFIXES
from engine.project import discard_autosave, find_recovery, is_project_file

ICON = Path(__file__).resolve().parents[1] / "packaging" / "refrain.svg"
TRACK_FILTER = "Tracks (" + " ".join(f"*{s}" for s in AUDIO_SUFFIXES + MIDI_SUFFIXES) + ")"
PROJECT_FILTER = "Refrain projects (*.refrain *.json)"
Btn = QMessageBox.StandardButton
EXPORT_FORMATS = {  # file-dialog filter -> (sample format, suffix)
    "WAV 24-bit (*.wav)": ("24", ".wav"),
    "WAV 16-bit (*.wav)": ("16", ".wav"),
    "WAV 32-bit float (*.wav)": ("float", ".wav"),
    "FLAC 24-bit (*.flac)": ("24", ".flac"),
    "FLAC 16-bit (*.flac)": ("16", ".flac"),
}


STEM_FORMATS = {  # Export Stems menu label -> (file type, sample format)
    "WAV 24-bit": ("wav", "24"),
    "WAV 16-bit": ("wav", "16"),
    "WAV 32-bit float": ("wav", "float"),
    "FLAC 24-bit": ("flac", "24"),
    "FLAC 16-bit": ("flac", "16"),
}


class MainWindow(QMainWindow):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.setWindowTitle(session.title)
        if ICON.is_file():
            self.setWindowIcon(QIcon(str(ICON)))
        self.resize(QSize(1360, 860))
        self.setAcceptDrops(True)
        self._play_when_ready = False
        # centre
        self.arrangement = ArrangementView(session)
        self.setCentralWidget(self.arrangement)
        self.transport = TransportBar(session)
        bar = self.transport_bar = self.addToolBar("Transport")
        bar.setObjectName("transport")
        bar.setMovable(False)
        bar.addWidget(self.transport)
        # right: form + generate
        self.form = FormEditor(session, selected_track=lambda: self.arrangement.selected)
        self.generate_panel = GeneratePanel(session, self.form.selected_bars)
        right = QTabWidget()
        form_page = QWidget()
        fl = QVBoxLayout(form_page)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.form, 3)
        fl.addWidget(self.generate_panel, 2)
        right.addTab(form_page, "Form && Generate")
        self.track_table = QTableView()
        self.track_model = TrackListModel(session)
        self.track_table.setModel(self.track_model)
        self.track_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        right.addTab(self.track_table, "Tracks")
        self.right_dock = self._dock("Form", right, Qt.DockWidgetArea.RightDockWidgetArea)
        # bottom: mixer + jobs
        self.mixer = MixerView(session)
        self.automix_bar = AutoMixBar(session, lambda: [])  # a balance needs the set: every track
        self.mixer.top.addWidget(self.automix_bar)
        self.mixer_dock = self._dock("Mixer", self.mixer, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.jobs = JobPanel(session)
        self.jobs_dock = self._dock("Jobs", self.jobs, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.mixer_dock, self.jobs_dock, Qt.Orientation.Horizontal)
        self.queue = BatchQueue(session)
        self.queue_panel = QueuePanel(self.queue, lambda m: self.statusBar().showMessage(m, 10000))
        self.queue_dock = self._dock("Queue", self.queue_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.jobs_dock, self.queue_dock)
        self.jobs_dock.raise_()
        self.resizeDocks([self.right_dock], [560], Qt.Orientation.Horizontal)
        self.resizeDocks([self.mixer_dock, self.jobs_dock], [900, 360], Qt.Orientation.Horizontal)
        self.resizeDocks([self.mixer_dock], [330], Qt.Orientation.Vertical)
        self._actions()
        # wiring
        session.message.connect(lambda m: self.statusBar().showMessage(m, 10000))
        session.path_changed.connect(lambda: self.setWindowTitle(session.title))
        session.generated.connect(self._after_generation)
        session.document_reset.connect(self._document_reset)
        session.graph_ready.connect(self._graph_ready)
        self.arrangement.track_selected.connect(lambda i: self.mixer.chain.set_strip("track", i))
        self.arrangement.seek_requested.connect(self.seek_seconds)
        self.arrangement.context_requested.connect(self.lane_menu)
        self.arrangement.loop_changed.connect(self._loop_dragged)
        self.transport.play.clicked.connect(self.toggle_play)
        self.transport.stop.clicked.connect(self.stop)
        self.transport.to_start.clicked.connect(lambda: self.seek_seconds(0.0))
        self.transport.loop.toggled.connect(self._loop_toggled)
        self.generate_panel.generate_button.clicked.connect(lambda: self._guard(lambda: self.generate(False)))
        self.generate_panel.regen_button.clicked.connect(lambda: self._guard(lambda: self.generate(True)))
        self.generate_panel.export_midi.clicked.connect(lambda: self.export_midi())
        self.generate_panel.export_wav.clicked.connect(lambda: self.export_audio(only_generated=True))
        if session.bridge is not None:
            session.bridge.position.connect(self._position)
            session.bridge.xruns.connect(lambda n: self.statusBar().showMessage(f"audio dropouts: {n}", 5000))
        self.statusBar().showMessage("Load a track (Ctrl+I), shape the form on the right, then Generate (Ctrl+G).")
        # Everything built so far lives as long as the window: move it out of the garbage collector's sight,
        # so a full collection (triggered by any thread's allocations, holding the GIL) no longer walks the
        # whole Qt and numpy heap while the GUI thread waits (15-20 ms pauses during playback and jobs).
        gc.freeze()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(title.lower())
        d.setWidget(widget)
        f = QDockWidget.DockWidgetFeature
        d.setFeatures(f.DockWidgetMovable | f.DockWidgetFloatable | f.DockWidgetClosable)  # View menu brings it back
        self.addDockWidget(area, d)
        return d

    # -- menus ---------------------------------------------------------------------------------------------
    def _act(self, menu: Any, text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(lambda _checked=False: self._guard(slot))
        menu.addAction(a)
        self.addAction(a)  # shortcuts work even while the menu bar is hidden or a dock has focus
        return a

    def _actions(self) -> None:
        mb = self.menuBar()
        K = QKeySequence.StandardKey
        f = mb.addMenu("&File")
        self._act(f, "&New Project", self.new_project, K.New)
        self._act(f, "&Open Project…", self.open_dialog, K.Open)
        self.recent_menu = f.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._act(f, "&Save", self.save, K.Save)
        self._act(f, "Save &As…", self.save_as, K.SaveAs)
        f.addSeparator()
        self._act(f, "&Load Track…", self.load_track_dialog, "Ctrl+I", "Add an audio or MIDI file as a track")
        self._act(f, "Export &Mix…", lambda: self.export_audio(False), "Ctrl+E", "Render the whole project to WAV/FLAC")
        self._act(f, "Export Piece MIDI…", self.export_midi, "Ctrl+Shift+E")
        self._act(f, "Export Piece WAV…", lambda: self.export_audio(True))
        self._act(f, "Export S&tems…", self.export_stems, "Ctrl+Alt+E", "Each stem of a separation to its own file")
        self.lufs_action = self._act(f, "Loudness-Normalise Exports (−14 LUFS)", self._toggle_lufs)
        self.lufs_action.setCheckable(True)
        self.lufs_action.setChecked(self.session.prefs.export_lufs is not None)
        f.addSeparator()
        self._act(f, "&Preferences…", self.preferences, "Ctrl+,")
        self._act(f, "&Quit", self.close, K.Quit)
        e = mb.addMenu("&Edit")
        undo = self.session.undo.createUndoAction(self, "&Undo")
        undo.setShortcuts(K.Undo)
        redo = self.session.undo.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        e.addAction(undo)
        e.addAction(redo)
        self.addAction(undo)
        self.addAction(redo)
        e.addSeparator()
        self._act(e, "Remove Selected Track", self.remove_selected_track, "Ctrl+Backspace")
        self._act(e, "Split Clip at Playhead", self.arrangement.split_at_playhead, "S", "Cut the clip in two")
        self._act(
            e,
            "&Separate Selected Track into Stems",
            lambda: self.session.stems.separate(self.arrangement.selected),
            "Ctrl+Shift+D",
            "Drums, bass, vocals and other as new tracks under the source (the source is muted)",
        )
        self._act(
            e,
            "Sp&lit Selected Track into Voices",
            lambda: self.session.stems.split_voices(self.arrangement.selected),
            "Ctrl+Shift+V",
            "Two voices or instruments of one kind (a duet, a vocal stem) as new tracks under the source",
        )
        self._act(
            e,
            "&Transcribe Selected Track to MIDI",
            lambda: self.session.transcriber.transcribe(self.arrangement.selected),
            "Ctrl+Shift+M",
            "The notes of an audio track (best on one instrument or voice: a stem) as a new MIDI track under it",
        )
        self._act(
            e,
            "Play Everything but Selected Stem",
            lambda: self.session.stems.audition_without(self.arrangement.selected),
            "Ctrl+Shift+B",
            "Mute the selected stem and play its siblings (again: all stems)",
        )
        add_mix_menu(mb, self._act, self.automix_bar)
        t = mb.addMenu("&Transport")
        self.play_action = self._act(t, "Play / Pause", self.toggle_play, "Space")
        self._act(t, "Stop", self.stop, "Ctrl+Space")
        self._act(t, "Return to Start", lambda: self.seek_seconds(0.0), "Home")
        self._act(t, "Loop", lambda: self.transport.loop.toggle(), "L")
        v = mb.addMenu("&View")
        self._act(v, "Zoom In", self.arrangement.zoom_in, K.ZoomIn)
        self._act(v, "Zoom Out", self.arrangement.zoom_out, K.ZoomOut)
        self._act(v, "Zoom to Fit", self.arrangement.zoom_fit, "Ctrl+0")
        v.addSeparator()
        docks = [self.right_dock, self.mixer_dock, self.jobs_dock, self.queue_dock]
        add_panel_toggles(v, docks, self.transport_bar)
        g = mb.addMenu("&Generate")
        self._act(g, "&Generate", lambda: self.generate(False), "Ctrl+G")
        self._act(g, "&Regenerate Selected Bars", lambda: self.generate(True), "Ctrl+Shift+G")
        self._act(g, "Form from Selected Track", self.form.derive_from_track)
        self._act(g, "Load Form from File…", self.load_form, tip="A .npy, .csv or greyscale .png matrix")
        self._act(g, "Save Form As…", self.save_form)
        self._act(g, "Cancel All Jobs", self.session.jobs.cancel_all, "Esc")
        h = mb.addMenu("&Help")
        self._act(h, "Keyboard Shortcuts", self.show_shortcuts, "F1")
        self._act(h, "About Refrain", self.about)

    def _guard(self, slot: Any) -> None:
        """Run a command; a user error becomes a status-bar line, never a crash."""
        try:
            slot()
        except UserError as exc:
            self.statusBar().showMessage(str(exc), 10000)

    # -- dialogs (tests replace ``ask`` and the ``*_path`` choosers) ------------------------------------------
    def ask(self, title: str, text: str, buttons: Any, default: Any) -> Any:
        return QMessageBox.question(self, title, text, buttons, default)

    def open_path(self, title: str, filt: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, self._start_dir(), filt)
        return path

    def save_path(self, title: str, filt: str, suggested: str) -> str:
        # QFileDialog asks before overwriting an existing file.
        path, _ = QFileDialog.getSaveFileName(self, title, os.path.join(self._start_dir(), suggested), filt)
        return path

    def _start_dir(self) -> str:
        if self.session.path is not None:
            return str(self.session.path.parent)
        recent = self.session.prefs.recent
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    # -- files -------------------------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Offer to save unsaved changes; False means the user cancelled."""
        if not self.session.dirty:
            return True
        r = self.ask(
            "Unsaved changes",
            f"Save changes to {self.session.path.name if self.session.path else 'the untitled project'}?",
            Btn.Save | Btn.Discard | Btn.Cancel,
            Btn.Save,
        )
        if r == Btn.Cancel:
            return False
        if r == Btn.Save:
            return self.save()
        return True

    def new_project(self) -> None:
        if self.maybe_save():
            self.session.documents.new()

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path = self.open_path("Open project", PROJECT_FILTER)
        if path:
            self.open_file(path, prompt=False)

    def open_file(self, path: str, prompt: bool = True, on_failed: Any = None) -> Job | None:
        """A project opens (after the unsaved prompt); any other file is loaded as a track (the loading job;
        ``on_failed(message)`` hears if it fails)."""
        if is_project_file(path):
            if prompt and not self.maybe_save():
                return None
            self.session.documents.open(path)
            self.offer_recovery()
            return None
        return self.session.mixer.load_track(path, on_failed=on_failed)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.session.prefs.recent:
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _c=False, p=p: self._guard(lambda: self.open_file(p)))
            a.setEnabled(os.path.exists(p))
        if not self.session.prefs.recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        self.session.documents.save()
        return True

    def save_as(self) -> bool:
        path = self.save_path("Save project as", PROJECT_FILTER, "untitled.refrain")
        if not path:
            return False
        self.session.documents.save(path)
        return True

    def load_track_dialog(self) -> None:
        path = self.open_path("Load a track", TRACK_FILTER)
        if path:
            self.session.mixer.load_track(path)

    def export_midi(self, path: str | None = None) -> None:
        if self.session.generation.generated_track() is None:
            raise UserError("nothing to export yet: generate a piece first (Ctrl+G)")
        path = path or self.save_path("Export piece as MIDI", "MIDI (*.mid)", "piece.mid")
        if path:
            self.session.generation.export_midi(path if path.lower().endswith((".mid", ".midi")) else path + ".mid")

    def export_audio(self, only_generated: bool = False, path: str | None = None, bits: str = "24") -> None:
        if path is None:
            suggested = "piece.wav" if only_generated else "mix.wav"
            path, chosen = QFileDialog.getSaveFileName(
                self, "Export audio", os.path.join(self._start_dir(), suggested), ";;".join(EXPORT_FORMATS)
            )
            if not path:
                return
            bits, suffix = EXPORT_FORMATS.get(chosen, ("24", ".wav"))
            if not path.lower().endswith((".wav", ".flac")):
                path += suffix
        self.session.documents.export_audio(path, bits, only_generated, self.session.prefs.export_lufs)

    def _toggle_lufs(self) -> None:
        self.session.prefs.export_lufs = -14.0 if self.lufs_action.isChecked() else None
        self.session.documents.save_prefs()

    def load_form(self) -> None:
        from models.structure import load_template_file

        path = self.open_path("Load a form", "Form templates (*.npy *.csv *.png)")
        if path:
            self.session.generation.set_template(load_template_file(path), None, f"Form from {Path(path).name}")

    def save_form(self) -> None:
        from models.structure import save_template_file

        path = self.save_path("Save the form", "NumPy (*.npy);;CSV (*.csv);;Greyscale PNG (*.png)", "form.npy")
        if path:
            save_template_file(self.session.generation.template(), path)
            self.statusBar().showMessage(f"saved {Path(path).name}", 6000)

    def preferences(self) -> None:
        dlg = PreferencesDialog(self.session.prefs, self)
        if dlg.exec():
            self.apply_preferences(dlg.result_prefs())

    def apply_preferences(self, new: Preferences) -> None:
        """Validate and apply preferences: a new device or buffer restarts the engine, a SoundFont rebuilds."""
        if new.soundfont:
            from engine.soundfont import find_soundfont

            find_soundfont(new.soundfont)  # a bad path is refused before anything changes
        old = self.session.prefs
        audio_changed = (new.device, new.block) != (old.device, old.block)
        sf_changed = (new.soundfont, new.render_threads) != (old.soundfont, old.render_threads)  # a rebuild does
        for f in fields(Preferences):
            setattr(old, f.name, getattr(new, f.name))
        self.session.documents.save_prefs()
        self.session.autosave_timer.setInterval(new.autosave_seconds * 1000)
        if audio_changed:
            self.session.restart_engine()
        elif sf_changed:
            self.session.rebuild()
        self.transport.refresh()

    def offer_recovery(self, path: str | None = None, startup: bool = False) -> bool:
        """Offer an autosave newer than its saved project: for the open project, or (``startup``) the newest
        one any project left behind, so a plain start after a crash finds the work again."""
        if startup:
            pending = self.session.documents.pending_recovery()
            if pending is None:
                return False
            path = pending[0]
        elif self.session.path is not None:
            path = str(self.session.path)
        found = find_recovery(path)
        if found is None:
            return False
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(found.stat().st_mtime))
        name = Path(path).name if path is not None else "an untitled project"
        r = self.ask(
            "Recover unsaved work",
            f"Refrain found unsaved changes to {name} from {when} (it did not close cleanly). Recover them?",
            Btn.Yes | Btn.No,
            Btn.Yes,
        )
        if r == Btn.Yes:
            self.session.documents.recover(path)
            self.statusBar().showMessage("recovered unsaved changes; save to keep them", 10000)
            return True
        discard_autosave(path)
        return False

    # -- transport ------------------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        b = self.session.bridge
        if b is None:
            return
        if b.playing:
            b.pause()
        else:
            b.play()

    def stop(self) -> None:
        if self.session.bridge is not None:
            self.session.bridge.stop()
            self.arrangement.set_playhead(0.0, False)

    def seek_seconds(self, seconds: float) -> None:
        b = self.session.bridge
        if b is not None:
            b.seek(round(seconds * b.sample_rate))
            self.arrangement.set_playhead(seconds, b.playing)

    def _position(self, frame: int, playing: bool) -> None:
        b = self.session.bridge
        sr = b.sample_rate if b is not None else 44100
        self.arrangement.set_playhead(frame / sr, playing)
        self.transport.show_position(frame / sr, playing)

    def _loop_dragged(self, loop: Any) -> None:
        if not self.transport.loop.isChecked():
            self.transport.loop.setChecked(True)  # sends the loop
        else:
            self._loop_toggled(True)

    def _loop_toggled(self, on: bool) -> None:
        b = self.session.bridge
        loop = self.arrangement.loop
        if b is None:
            return
        if on and loop is not None:
            b.set_loop(round(loop[0] * b.sample_rate), round(loop[1] * b.sample_rate))
        else:
            b.set_loop(0, None)
            if on:
                self.statusBar().showMessage("drag on the ruler to choose the loop region", 6000)

    # -- generation -------------------------------------------------------------------------------------------
    def generate(self, regenerate: bool) -> None:
        self.generate_panel.request(regenerate)

    def _after_generation(self, _res: Any) -> None:
        if self.generate_panel.play_after.isChecked():
            self._play_when_ready = True

    def _document_reset(self) -> None:
        """Another document: nothing of the old one's transport or view state carries over."""
        self._play_when_ready = False
        self.stop()
        self.transport.loop.setChecked(False)

    def _graph_ready(self) -> None:
        if self._play_when_ready and self.session.bridge is not None:
            self._play_when_ready = False
            self.seek_seconds(0.0)
            self.session.bridge.play()

    def stem_format(self) -> str:
        """Ask for the stems' file format (tests replace this)."""
        item, ok = QInputDialog.getItem(self, "Export stems", "Format:", list(STEM_FORMATS), 0, False)
        return item if ok else ""

    def folder_path(self, title: str) -> str:
        return QFileDialog.getExistingDirectory(self, title, self._start_dir())

    def export_stems(self, index: int | None = None) -> None:
        i = self.arrangement.selected if index is None else index
        self.session.stems.group(i)  # a one-line error before any dialog when there is nothing to export
        choice = self.stem_format()
        if not choice:
            return
        folder = self.folder_path("Export stems to folder")
        if not folder:
            return
        fmt, bits = STEM_FORMATS[choice]
        labels = self.session.stems.file_names(i)  # exactly the names the export writes
        clash = [n for n in labels if os.path.exists(os.path.join(folder, f"{n}.{fmt}"))]
        if (
            clash
            and self.ask(
                "Replace files?",
                f"Replace {', '.join(f'{n}.{fmt}' for n in clash)} in {folder}?",
                Btn.Yes | Btn.No,
                Btn.No,
            )
            != Btn.Yes
        ):
            return
        self.session.stems.export(i, folder, fmt, bits)

    def lane_menu(self, lane: int, at: Any) -> None:
        """Right-click on a lane: the commands that act on that track."""
        self.build_lane_menu(lane).popup(at)

    def build_lane_menu(self, lane: int) -> QMenu:
        return build_lane_menu(self, lane)

    def remove_selected_track(self) -> None:
        i = self.arrangement.selected
        if 0 <= i < len(self.session.project.tracks):
            self.session.mixer.remove_track(i)

    # -- help ----------------------------------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        lines = []
        for a in self.actions():
            if a.shortcut().toString():
                lines.append(f"<tr><td>{a.text().replace('&', '')}</td><td><b>{a.shortcut().toString()}</b></td></tr>")
        QMessageBox.information(self, "Keyboard shortcuts", "<table>" + "".join(lines) + "</table>")

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About Refrain",
            "<b>Refrain</b> — structured music generation, stems and mixing.<br>"
            "Generator: SING (Hager, Hablutzel, Kinnaird, arXiv 2406.15647).",
        )

    # -- drag and drop, closing --------------------------------------------------------------------------------------
    def dragEnterEvent(self, ev: Any) -> None:
        own = ev.source() is not None  # a lane dragged out of this window is not a file to load again
        if not own and ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()

    def dropEvent(self, ev: Any) -> None:
        for url in ev.mimeData().urls():
            if url.isLocalFile():
                self._guard(functools.partial(self.open_file, url.toLocalFile()))
        ev.acceptProposedAction()

    def closeEvent(self, ev: QCloseEvent) -> None:
        if not self.maybe_save():
            ev.ignore()
            return
        discard_autosave(self.session.path)  # saved, or the user chose to discard
        self.session.close()
        ev.accept()
