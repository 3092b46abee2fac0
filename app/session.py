"""Session: the seam between the GUI and the engine/models, and the home of the feature controllers.

The session owns the project, the undo stack, the engine bridge, the job runner and the clip drawings.
Every edit goes through :meth:`Session.edit`, which snapshots the project before and after, so each edit is
one undoable step. Applying a snapshot either sends live commands to the running graph (gain, pan, mute,
solo, parameters, bypass: no rebuild, no gap) or, when the graph's structure changed, rebuilds it on a
worker and swaps it in whole (:func:`engine.build.live_commands` decides).

The features live in their own controllers, reached from the session:

* ``session.documents``: new, open, save, autosave and recovery, exports of the mix (:mod:`app.documents`);
* ``session.mixer``: tracks, strips and plugin chains (:mod:`app.mixer`);
* ``session.stems``: separation into stems, stem groups, auditioning and stem export (:mod:`app.stems`);
* ``session.generation``: the form template and generated pieces (:mod:`app.generation`).
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.engine_bridge import EngineBridge
from app.media import Overview, clip_seconds, overview
from app.prefs import Preferences
from app.workers import Job, JobRunner
from engine.build import has_midi, live_commands
from engine.project import PluginSpec, Project

DEFAULT_FORM = "verse-chorus"
MAX_BLOCK = 2048


class SnapshotCommand(QUndoCommand):
    """Undo/redo by swapping whole project snapshots. Consecutive edits with the same merge key (one slider
    drag, one paint stroke) collapse into a single step."""

    ID = 1

    def __init__(self, session: Session, text: str, before: Project, after: Project, merge: object) -> None:
        super().__init__(text)
        self.session, self.before, self.after, self.merge = session, before, after, merge

    def id(self) -> int:
        return self.ID if self.merge is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SnapshotCommand) or other.merge is None or other.merge != self.merge:
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        self.session._apply(self.after)

    def undo(self) -> None:
        self.session._apply(self.before)


class Session(QObject):
    changed = Signal()  # the project changed (any field)
    structure_changed = Signal()  # tracks, clips or plugin chains changed (views rebuild their rows)
    path_changed = Signal()
    media_changed = Signal()  # a clip overview arrived
    message = Signal(str)  # one line for the status bar
    generated = Signal(object)  # GenerationResult of a new piece (``piece_restored`` for a reopened one)
    piece_restored = Signal(object)  # GenerationResult of a project's piece, read again after opening
    form_derived = Signal(float, str)  # tempo (BPM) and key name ("" unknown) of a track the form was taken from
    document_reset = Signal()  # another document replaced this one (new, open, recover): views forget state
    graph_ready = Signal()

    def __init__(self, prefs: Preferences | None = None, engine: bool = True) -> None:
        from app.automix import AutoMix
        from app.documents import Documents
        from app.generation import Generation
        from app.mixer import Mixer
        from app.stems import Stems
        from app.transcription import Transcriber

        super().__init__()
        self.prefs = prefs or Preferences.load()
        self.project = new_project()
        self.path: Path | None = None
        self.undo = QUndoStack(self)
        # Leave a core for the GUI and render threads: on a 2-core machine jobs run one at a time.
        self.jobs = JobRunner(threads=max(1, (os.cpu_count() or 2) - 1))
        self.jobs.warned.connect(self.message)
        self.media: dict[str, Overview] = {}
        self._build_serial = 0
        self._built_serial = 0
        self._building: Job | None = None
        self.bridge: EngineBridge | None = None
        if engine:
            self.bridge = EngineBridge(self.project.sample_rate, self.prefs.block, self.prefs.device)
            self.bridge.message.connect(self.message)
        self.documents = Documents(self)
        self.mixer = Mixer(self)
        self.stems = Stems(self)
        self.transcriber = Transcriber(self)
        self.automix = AutoMix(self)
        self.generation = Generation(self)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.documents.autosave)
        self.autosave_timer.start(self.prefs.autosave_seconds * 1000)
        self.undo.cleanChanged.connect(self._clean_changed)
        self.rebuild()
        if engine:
            self.jobs.warm_process()

    # -- editing -----------------------------------------------------------------------------------------
    def edit(self, text: str, fn: Callable[[Project], None], merge: object = None) -> bool:
        """Apply ``fn`` to a copy of the project as one undoable step. ``fn`` raises UserError to refuse."""
        after = clone(self.project)
        fn(after)
        if after == self.project:
            return False
        self.undo.push(SnapshotCommand(self, text, clone(self.project), after, merge))
        return True

    def _apply(self, new: Project) -> None:
        old = self.project
        self.project = clone(new)
        commands = live_commands(old, new)
        if commands is None:
            self.rebuild()
            self.structure_changed.emit()
        elif self.bridge is not None and self._built_serial == self._build_serial:
            for cmd in commands:
                self.bridge.send(cmd)
        elif self.bridge is not None:
            self.rebuild()  # a build is in flight from an older snapshot: build again from this one
        self.changed.emit()

    def replace(self, project: Project, path: Path | None, clean: bool) -> None:
        """Start over on another document (new, open, recovered): no undo history, views reset."""
        self.project = project
        self.path = path
        self.media.clear()
        self.undo.clear()
        if not clean:
            self.undo.resetClean()  # a recovered project has unsaved changes
        self.document_reset.emit()
        self.rebuild()
        self.ensure_overviews()
        self.structure_changed.emit()
        self.changed.emit()
        self.path_changed.emit()

    def _clean_changed(self, _clean: bool) -> None:
        self.path_changed.emit()

    @property
    def dirty(self) -> bool:
        return not self.undo.isClean()

    @property
    def title(self) -> str:
        name = self.path.name if self.path is not None else "Untitled"
        return f"{name}{' *' if self.dirty else ''} — Refrain"

    def track_index(self, track_id: str) -> int:
        """The index of the track with ``track_id`` (-1 when it is gone)."""
        return next((i for i, t in enumerate(self.project.tracks) if t.id == track_id), -1)

    # -- the engine graph ----------------------------------------------------------------------------
    def rebuild(self) -> Job | None:
        """Build the graph for the current project on a worker; the newest build wins."""
        if self.bridge is None:
            return None
        from engine.build import build_graph

        self._build_serial += 1
        serial = self._build_serial
        snapshot = self.playable(self.project)
        sr = self.bridge.sample_rate
        block = max(MAX_BLOCK, self.bridge.block)

        workers = self.prefs.render_threads

        def work(job: Job) -> Any:
            return build_graph(snapshot, sr, block, workers)

        def done(graph: Any) -> None:
            if serial != self._build_serial or self.bridge is None:
                graph.close()  # superseded by a newer edit
                return
            self.bridge.load(graph)
            self._built_serial = serial
            self.graph_ready.emit()

        def failed(msg: str) -> None:
            if serial == self._build_serial:
                self._built_serial = serial
                self.message.emit(f"cannot play the project: {msg}")

        self._building = self.jobs.submit("Preparing playback", work, done, failed)
        return self._building

    def playable(self, p: Project) -> Project:
        """A copy of ``p`` as the engine should play it: MIDI tracks without an instrument get the synth with
        the SoundFont chosen in Preferences."""
        out = clone(p)
        sf2 = self.prefs.soundfont
        if sf2:
            for t in out.tracks:
                if has_midi(t) and t.instrument is None:
                    t.instrument = PluginSpec("fluidsynth", options={"soundfont": sf2})
        return out

    @property
    def graph_current(self) -> bool:
        """Whether the render thread runs a graph built from the current project."""
        return self._built_serial == self._build_serial and (self.bridge is None or self.bridge.swapped)

    def restart_engine(self) -> None:
        """Apply new audio preferences (device, block size)."""
        if self.bridge is None:
            return
        self.bridge.open(self.prefs.block, self.prefs.device)
        self.rebuild()

    # -- clip drawings ---------------------------------------------------------------------------------------
    def failed(self, what: str) -> Callable[[str], None]:
        """A job error handler that reports ``what: message`` in the status bar."""
        return lambda msg: self.message.emit(f"{what}: {msg}")

    def ensure_overviews(self) -> None:
        """Compute drawings for clips not seen yet (after opening a project or adding tracks)."""
        sr = self.project.sample_rate
        for t in self.project.tracks:
            for cl in t.clips:
                if cl.path in self.media or not os.path.isfile(cl.path):
                    continue
                path = cl.path
                self.media[path] = overview_placeholder()

                def done(ov: Overview, path: str = path) -> None:
                    self.media[path] = ov
                    self.media_changed.emit()

                self.jobs.submit(
                    f"Reading {Path(path).name}",
                    functools.partial(_overview_job, path, sr),
                    done,
                    self.failed(f"cannot read {Path(path).name}"),
                )

    def seconds(self) -> float:
        """Where the last clip ends on the timeline (MIDI clips at the project's tempo)."""
        return max(
            (cl.start + clip_seconds(cl, self.media.get(cl.path), self.project.tempo)
             for t in self.project.tracks for cl in t.clips),
            default=0.0,
        )  # fmt: skip

    def close(self) -> None:
        """Stop jobs and the engine (app exit, test teardown)."""
        self.autosave_timer.stop()
        self.jobs.close(60000)
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None


# -- helpers ----------------------------------------------------------------------------------------------------
def clone(p: Project) -> Project:
    """A deep copy that copies the template's rows by slicing: deepcopy of a 64 x 64 list of floats alone
    takes tens of milliseconds, and every edit clones the project."""
    template = p.template
    p.template = None
    try:
        out = copy.deepcopy(p)
    finally:
        p.template = template
    out.template = None if template is None else [row[:] for row in template]
    return out


def new_project() -> Project:
    from models.structure import parse_structure, preset_template
    from models.structure.presets import PRESET_STRINGS

    t = preset_template(DEFAULT_FORM)
    letters: list[str] = []
    for sec in parse_structure(PRESET_STRINGS[DEFAULT_FORM]):
        letters += [sec.letter] * sec.bars
    return Project(template=t.astype(np.float64).tolist(), template_labels=letters)


def _overview_job(path: str, sr: int, job: Job) -> Overview:
    return overview(path, sr)


def overview_placeholder() -> Overview:
    from app.media import AudioOverview

    z = np.zeros(1, np.float32)
    return AudioOverview(0.0, z, z)


def unique_name(base: str, taken: list[str]) -> str:
    if base not in taken:
        return base
    k = 2
    while f"{base} {k}" in taken:
        k += 1
    return f"{base} {k}"


def plugin_label(spec: PluginSpec) -> str:
    if spec.plugin == "lv2":
        return spec.options.get("name") or spec.options.get("uri", "LV2").rsplit("/", 1)[-1]
    if spec.plugin == "vst3":
        return Path(spec.options.get("path", "VST3")).stem
    return spec.plugin
