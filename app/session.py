"""Session: the single seam between the GUI and the engine/models.

It owns the project, the undo stack, the engine bridge and the job runner. Every edit goes through
``edit()``, which snapshots the project before and after, so each edit is one undoable step. Applying a
snapshot either sends live commands (gain, pan, mute, solo, parameters, bypass: no rebuild, no gap) or,
when the structure changed (tracks, clips, plugins), rebuilds the graph on a worker and swaps it in whole.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.engine_bridge import EngineBridge
from app.media import Overview, check_media, overview
from app.prefs import Preferences
from app.tasks import (
    GenerationResult,
    export_stems_task,
    export_task,
    form_task,
    generate_task,
    read_generation_task,
    separate_task,
    stamp,
)
from app.workers import Job, JobRunner
from engine import commands as c
from engine.errors import UserError
from engine.project import (
    Clip,
    PluginSpec,
    Project,
    TrackSpec,
    discard_autosave,
    load_project,
    save_project,
    state_dir,
    write_autosave,
)
from models.generator.piece import DEFAULT_TEMPERATURE, TEMPO_RANGE

GENERATED_TRACK = "Generated"
DEFAULT_FORM = "verse-chorus"
MAX_BLOCK = 2048


# -- undo --------------------------------------------------------------------------------------------------
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


# -- what needs a rebuild ------------------------------------------------------------------------------------
def _plugin_key(p: PluginSpec) -> tuple[str, tuple[tuple[str, str], ...]]:
    return p.plugin, tuple(sorted(p.options.items()))


def skeleton(p: Project) -> tuple[object, ...]:
    """Everything that needs a new graph when it changes. Gains, pans, mute/solo, plugin parameters and
    bypass are sent to the running graph instead; names, tempo and the template do not touch audio."""
    tracks = tuple(
        (
            tuple((cl.path, cl.start, cl.offset, cl.length, cl.gain_db) for cl in t.clips),
            None if t.instrument is None else (*_plugin_key(t.instrument), tuple(sorted(t.instrument.params.items()))),
            tuple(_plugin_key(s) for s in t.chain),
            t.output,
        )
        for t in p.tracks
    )
    buses = tuple((b.name, tuple(_plugin_key(s) for s in b.chain)) for b in p.buses)
    return p.sample_rate, tracks, buses, tuple(_plugin_key(s) for s in p.master.chain)


def live_commands(old: Project, new: Project) -> list[c.Command]:
    """Commands that take a graph built from ``old`` to ``new`` (same skeleton)."""
    out: list[c.Command] = []

    def chain(strip: int, a: list[PluginSpec], b: list[PluginSpec], offset: int) -> None:
        for k, (pa, pb) in enumerate(zip(a, b, strict=True)):
            for name, v in pb.params.items():
                if pa.params.get(name) != v:
                    out.append(c.SetParam(strip, k + offset, name, v))
            if pa.bypass != pb.bypass:
                out.append(c.SetBypass(strip, k + offset, pb.bypass))

    for i, (a, b) in enumerate(zip(old.tracks, new.tracks, strict=True)):
        if a.gain_db != b.gain_db:
            out.append(c.SetParam(i, -1, "gain_db", b.gain_db))
        if a.pan != b.pan:
            out.append(c.SetParam(i, -1, "pan", b.pan))
        if (a.mute, a.solo) != (b.mute, b.solo):
            out.append(c.SetStrip(i, mute=b.mute, solo=b.solo))
        chain(i, a.chain, b.chain, 1 if has_midi(b) else 0)
    nt = len(new.tracks)
    for j, (a2, b2) in enumerate(zip(old.buses, new.buses, strict=True)):
        if a2.gain_db != b2.gain_db:
            out.append(c.SetParam(nt + j, -1, "gain_db", b2.gain_db))
        if a2.pan != b2.pan:
            out.append(c.SetParam(nt + j, -1, "pan", b2.pan))
        if a2.mute != b2.mute:
            out.append(c.SetStrip(nt + j, mute=b2.mute))
        chain(nt + j, a2.chain, b2.chain, 0)
    if old.master.gain_db != new.master.gain_db:
        out.append(c.SetParam(-1, -1, "gain_db", new.master.gain_db))
    chain(-1, old.master.chain, new.master.chain, 0)
    return out


def has_midi(t: TrackSpec) -> bool:
    return any(cl.is_midi for cl in t.clips)


def project_seconds(p: Project, media: dict[str, Overview]) -> float:
    end = 0.0
    for t in p.tracks:
        for cl in t.clips:
            ov = media.get(cl.path)
            length = cl.length if cl.length is not None else (ov.seconds - cl.offset if ov is not None else 0.0)
            end = max(end, cl.start + max(0.0, length))
    return end


# -- the session -----------------------------------------------------------------------------------------------
class Session(QObject):
    changed = Signal()  # the project changed (any field)
    structure_changed = Signal()  # tracks, clips or plugin chains changed (views rebuild their rows)
    path_changed = Signal()
    media_changed = Signal()  # a clip overview arrived
    message = Signal(str)  # one line for the status bar
    generated = Signal(object)  # GenerationResult
    graph_ready = Signal()

    def __init__(self, prefs: Preferences | None = None, engine: bool = True) -> None:
        super().__init__()
        self.prefs = prefs or Preferences.load()
        self.project = new_project()
        self.path: Path | None = None
        self.undo = QUndoStack(self)
        # Leave a core for the GUI and render threads: on a 2-core machine jobs run one at a time.
        self.jobs = JobRunner(threads=max(1, (os.cpu_count() or 2) - 1))
        self.media: dict[str, Overview] = {}
        self.last_generation: GenerationResult | None = None
        self._build_serial = 0
        self._built_serial = 0
        self._building: Job | None = None
        self.bridge: EngineBridge | None = None
        if engine:
            self.bridge = EngineBridge(self.project.sample_rate, self.prefs.block, self.prefs.device)
            self.bridge.message.connect(self.message)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
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
        if skeleton(old) != skeleton(new):
            self.rebuild()
            self.structure_changed.emit()
        elif self.bridge is not None and self._built_serial == self._build_serial:
            for cmd in live_commands(old, new):
                self.bridge.send(cmd)
        elif self.bridge is not None:
            self.rebuild()  # a build is in flight from an older snapshot: build again from this one
        self.changed.emit()

    def _clean_changed(self, _clean: bool) -> None:
        self.path_changed.emit()

    @property
    def dirty(self) -> bool:
        return not self.undo.isClean()

    @property
    def title(self) -> str:
        name = self.path.name if self.path is not None else "Untitled"
        return f"{name}{' *' if self.dirty else ''} — Refrain"

    # -- the engine graph ----------------------------------------------------------------------------
    def rebuild(self) -> Job | None:
        """Build the graph for the current project on a worker; the newest build wins."""
        if self.bridge is None:
            return None
        from engine.build import build_graph

        self._build_serial += 1
        serial = self._build_serial
        snapshot = clone(self.project)
        self._apply_soundfont(snapshot)
        sr = self.bridge.sample_rate
        block = max(MAX_BLOCK, self.bridge.block)

        def work(job: Job) -> Any:
            return build_graph(snapshot, sr, block)

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

    def _apply_soundfont(self, p: Project) -> None:
        sf2 = self.prefs.soundfont
        if not sf2:
            return
        for t in p.tracks:
            if has_midi(t) and t.instrument is None:
                t.instrument = PluginSpec("fluidsynth", options={"soundfont": sf2})

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

    # -- tracks --------------------------------------------------------------------------------------------
    def load_track(self, path: str | os.PathLike[str], on_loaded: Callable[[int], None] | None = None) -> Job:
        """Decode on a worker; on success add a track playing the file (one undoable step)."""
        ap = check_media(path)
        sr = self.project.sample_rate

        def work(job: Job) -> Overview:
            return overview(ap, sr)

        def done(ov: Overview) -> None:
            self.media[ap] = ov
            name = unique_name(Path(ap).stem, [t.name for t in self.project.tracks])

            def add(p: Project) -> None:
                p.tracks.append(TrackSpec(name=name, clips=[Clip(ap)]))

            self.edit(f"Load {Path(ap).name}", add)
            self.prefs.add_recent(ap)
            self._save_prefs()
            self.media_changed.emit()
            self.message.emit(f"loaded {Path(ap).name} ({ov.seconds:.1f} s)")
            if on_loaded is not None:
                on_loaded(len(self.project.tracks) - 1)

        return self.jobs.submit(f"Loading {Path(ap).name}", work, done, self._failed(f"cannot load {Path(ap).name}"))

    def _failed(self, what: str) -> Callable[[str], None]:
        return lambda msg: self.message.emit(f"{what}: {msg}")

    def ensure_overviews(self) -> None:
        """Compute drawings for clips not seen yet (after opening a project)."""
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
                    self._failed(f"cannot read {Path(path).name}"),
                )

    def remove_track(self, index: int) -> None:
        name = self.project.tracks[index].name

        def fn(p: Project) -> None:
            del p.tracks[index]
            for t in p.tracks:  # its stems stay, as ordinary tracks
                if t.group == name:
                    t.group = ""

        self.edit(f"Remove track {name}", fn)

    def separate_track(self, index: int, model: str = "separator") -> Job:
        """Split an audio track into stems on the worker process; the stems land as tracks right after the
        source (named ``<source> · <stem>``), and the source is muted so the mix sounds the same."""
        if not 0 <= index < len(self.project.tracks):
            raise UserError("select an audio track to separate")
        src = self.project.tracks[index]
        audio = [c for c in src.clips if not c.is_midi]
        if len(audio) != 1:
            raise UserError(f"{src.name} must hold one audio clip to separate")
        clip = audio[0]
        out_dir = self.media_dir() / f"stems-{Path(clip.path).stem}-{stamp()}"
        source_name = src.name

        def done(paths: dict[str, str]) -> None:
            def fn(p: Project) -> None:
                at = next((i for i, t in enumerate(p.tracks) if t.name == source_name), None)
                if at is None:
                    raise UserError(f"{source_name} was removed while separating")
                p.tracks[at].mute = True
                names = [t.name for t in p.tracks]
                for k, (stem, path) in enumerate(paths.items()):
                    name = unique_name(stem_name(source_name, stem), names)
                    names.append(name)
                    stem_clip = Clip(path, clip.start, clip.offset, clip.length, clip.gain_db)
                    p.tracks.insert(at + 1 + k, TrackSpec(name=name, clips=[stem_clip], group=source_name))

            self.edit(f"Separate {source_name}", fn)
            self.ensure_overviews()
            self.message.emit(f"separated {source_name} into {', '.join(paths)}")

        return self.jobs.submit_process(
            f"Separating {source_name}",
            separate_task,
            (clip.path, os.fspath(out_dir), model),
            done,
            self._failed(f"cannot separate {source_name}"),
        )

    def stem_group(self, index: int) -> tuple[int, list[int]]:
        """(source index, stem indices) of the separation that track ``index`` belongs to (as source or stem)."""
        tracks = self.project.tracks
        if not 0 <= index < len(tracks):
            raise UserError("select a separated track or one of its stems")
        source = tracks[index].group or tracks[index].name
        stems = [i for i, t in enumerate(tracks) if t.group == source]
        at = next((i for i, t in enumerate(tracks) if t.name == source), -1)
        if not stems:
            raise UserError(f"{tracks[index].name} has no stems: separate it first (Ctrl+Shift+D)")
        return at, stems

    def audition_without(self, index: int) -> None:
        """Hear everything but stem ``index``: its siblings play, it and the source are muted (one step).
        On a stem that is already the only one left out, every stem plays again."""
        at, stems = self.stem_group(index)
        if index not in stems:
            raise UserError("select a stem (a track under a separated source) to leave out")
        tracks = self.project.tracks
        again = tracks[index].mute and not any(tracks[i].mute for i in stems if i != index)
        name = tracks[index].name

        def fn(p: Project) -> None:
            if at >= 0:
                p.tracks[at].mute = True
            for i in stems:
                p.tracks[i].mute = False if again else i == index
                p.tracks[i].solo = False

        self.edit("Play all stems" if again else f"Play everything but {name}", fn)

    def export_stems(self, index: int, folder: str | os.PathLike[str], fmt: str = "wav", bits: str = "24") -> Job:
        """Render each stem of the separation that track ``index`` belongs to through its own strip (gain,
        pan, plugins; mute and solo ignored) to ``folder/<stem>.<fmt>`` on the worker: all files or none."""
        from engine.audio_io import SUBTYPES

        at, stems = self.stem_group(index)
        if fmt not in ("wav", "flac"):
            raise UserError("stems export as wav or flac")
        if bits not in SUBTYPES or (fmt == "flac" and bits == "float"):
            raise UserError(f"cannot write {fmt} with {bits} bits")
        if not os.path.isdir(folder):
            raise UserError(f"no such folder: {os.fspath(folder)}")
        jobs: list[tuple[str, Project]] = []
        labels: list[str] = []
        for i in stems:
            snapshot = clone(self.project)
            t = snapshot.tracks[i]
            t.mute, t.solo, t.output = False, False, "master"
            snapshot.tracks, snapshot.buses, snapshot.master = [t], [], type(snapshot.master)()
            labels.append(unique_name(re.sub(r'[\\/:*?"<>|]', "_", stem_label(t)) or "stem", labels))
            jobs.append((os.path.join(os.fspath(folder), f"{labels[-1]}.{fmt}"), snapshot))
        source = self.project.tracks[at].name if at >= 0 else self.project.tracks[stems[0]].group
        return self.jobs.submit_process(
            f"Exporting stems of {source}",
            export_stems_task,
            (jobs, bits),
            lambda paths: self.message.emit(f"exported {len(paths)} stems to {os.fspath(folder)}"),
            self._failed("stem export failed"),
        )

    def set_track(self, index: int, merge: object = None, **values: Any) -> None:
        """Set fields of one track (gain_db, pan, mute, solo, name) as one step."""

        def fn(p: Project) -> None:
            old = p.tracks[index].name
            for k, v in values.items():
                setattr(p.tracks[index], k, v)
            new = p.tracks[index].name
            if new != old:  # its stems follow: "old · drums" becomes "new · drums"
                for t in p.tracks:
                    if t.group == old:
                        label = stem_label(t)
                        t.group = new
                        if label != t.name:
                            t.name = unique_name(stem_name(new, label), [x.name for x in p.tracks])

        what = ", ".join(values)
        self.edit(f"Set {what} of {self.project.tracks[index].name}", fn, merge)

    def set_master_gain(self, db: float, merge: object = None) -> None:
        self.edit("Set master gain", lambda p: setattr(p.master, "gain_db", db), merge)

    # -- plugin chains (strip: "track", i / "master", 0) -------------------------------------------------------
    def chain_of(self, p: Project, kind: str, index: int) -> list[PluginSpec]:
        if kind == "track":
            return p.tracks[index].chain
        if kind == "bus":
            return p.buses[index].chain
        return p.master.chain

    def add_plugin(self, kind: str, index: int, spec: PluginSpec) -> None:
        from engine.plugins import plugin_params

        plugin_params(spec.plugin, spec.options)  # a bad plugin fails here, not in the build; the editor reuses it
        spec = copy.deepcopy(spec)
        self.edit(f"Add {plugin_label(spec)}", lambda p: self.chain_of(p, kind, index).append(spec))

    def remove_plugin(self, kind: str, index: int, slot: int) -> None:

        def fn(p: Project) -> None:
            del self.chain_of(p, kind, index)[slot]

        self.edit("Remove plugin", fn)

    def move_plugin(self, kind: str, index: int, slot: int, to: int) -> None:
        def fn(p: Project) -> None:
            ch = self.chain_of(p, kind, index)
            if 0 <= to < len(ch):
                ch.insert(to, ch.pop(slot))

        self.edit("Reorder plugins", fn)

    def set_bypass(self, kind: str, index: int, slot: int, bypass: bool) -> None:
        self.edit(
            "Bypass plugin" if bypass else "Enable plugin",
            lambda p: setattr(self.chain_of(p, kind, index)[slot], "bypass", bypass),
        )

    def set_plugin_param(self, kind: str, index: int, slot: int, name: str, value: float, merge: object = None) -> None:
        def fn(p: Project) -> None:
            self.chain_of(p, kind, index)[slot].params[name] = float(value)

        self.edit(f"Set {name}", fn, merge)

    # -- template --------------------------------------------------------------------------------------------
    def template(self) -> np.ndarray:
        t = self.project.template
        if t is None:
            from models.structure import preset_template

            return preset_template(DEFAULT_FORM)
        return np.asarray(t, np.float32)

    def labels(self) -> list[str]:
        n = len(self.project.template) if self.project.template is not None else self.template().shape[0]
        lab = self.project.template_labels
        return list(lab) if lab is not None and len(lab) == n else [""] * n

    def set_template(
        self, matrix: np.ndarray, labels: list[str] | None = None, text: str = "Edit form", merge: object = None
    ) -> None:
        from models.structure import validate_template

        m = validate_template(np.asarray(matrix, np.float32))
        lab = labels if labels is not None and len(labels) == m.shape[0] else [""] * m.shape[0]

        def fn(p: Project) -> None:
            p.template = np.round(m.astype(np.float64), 4).tolist()
            p.template_labels = list(lab)

        self.edit(text, fn, merge)

    def template_from_track(self, path: str, bars: int) -> Job:
        def done(m: np.ndarray) -> None:
            self.set_template(m, None, f"Form from {Path(path).name}")

        return self.jobs.submit_process(
            f"Analysing {Path(path).name}", form_task, (path, bars), done, self._failed("cannot derive a form")
        )

    # -- generation --------------------------------------------------------------------------------------------
    def generate(
        self,
        model: str = "sing",
        seed: int = 0,
        temperature: float | None = None,
        tempo: float | None = None,
        primer: str | None = None,
        regenerate: list[int] | None = None,
    ) -> Job:
        """Generate a piece following the current template on a worker; it lands as the Generated track."""
        template = self.template()
        temp = DEFAULT_TEMPERATURE if temperature is None else float(temperature)
        bpm = float(tempo if tempo is not None else self.project.tempo)
        if not TEMPO_RANGE[0] <= bpm <= TEMPO_RANGE[1]:
            raise UserError(f"tempo must be between {TEMPO_RANGE[0]:g} and {TEMPO_RANGE[1]:g} BPM")
        if regenerate and primer is None:
            gen_track = self.generated_track()
            if gen_track is None:
                raise UserError("nothing to regenerate yet: generate a piece first")
            primer = gen_track.clips[0].path
        out_dir = self.media_dir()
        sr = self.project.sample_rate
        settings = {
            "model": model,
            "seed": int(seed),
            "temperature": temp,
            "tempo": bpm,
            "bars": int(template.shape[0]),
            "primer": primer,
            "regenerate": list(regenerate or []),
        }

        def done(res: GenerationResult) -> None:
            self.last_generation = res
            if res.overview is not None:
                self.media[res.midi_path] = res.overview

            def fn(p: Project) -> None:
                p.tempo = bpm
                p.generation = {**settings, "adherence": res.adherence}
                for t in p.tracks:
                    if t.name == GENERATED_TRACK:
                        t.clips = [Clip(res.midi_path)]
                        return
                p.tracks.append(TrackSpec(name=GENERATED_TRACK, clips=[Clip(res.midi_path)]))

            self.edit("Regenerate bars" if regenerate else "Generate", fn)
            self.generated.emit(res)
            self.message.emit(f"generated {template.shape[0]} bars ({model}), adherence {res.adherence:.3f}")

        title = "Regenerating bars" if regenerate else f"Generating {template.shape[0]} bars"
        args = (template, settings, self.prefs.threads, out_dir, sr)
        return self.jobs.submit_process(title, generate_task, args, done, self._failed("generation failed"))

    def generated_track(self) -> TrackSpec | None:
        return next((t for t in self.project.tracks if t.name == GENERATED_TRACK and t.clips), None)

    def restore_generation(self) -> None:
        """After opening a project: re-analyse its generated piece so the form view shows it again."""
        t = self.generated_track()
        if t is None or not os.path.isfile(t.clips[0].path) or self.project.template is None:
            return
        path, template = t.clips[0].path, self.template()
        settings = dict(self.project.generation or {})

        def done(res: GenerationResult) -> None:
            self.last_generation = res
            self.generated.emit(res)

        self.jobs.submit_process(
            "Reading generated piece",
            read_generation_task,
            (path, template, settings),
            done,
            self._failed("cannot read the generated piece"),
        )

    def media_dir(self) -> Path:
        """Where generated media go: beside a saved project, else in the user's data folder."""
        if self.path is not None:
            return self.path.parent / f"{self.path.stem}-media"
        return untitled_media_dir()

    # -- export ---------------------------------------------------------------------------------------------
    def export_midi(self, target: str | os.PathLike[str]) -> None:
        """Copy the generated piece's MIDI to ``target`` atomically."""
        from engine.files import atomic_path

        t = self.generated_track()
        if t is None:
            raise UserError("nothing to export: generate a piece first")
        if not os.fspath(target).lower().endswith((".mid", ".midi")):
            raise UserError("MIDI export must end with .mid")
        with atomic_path(target) as tmp:
            shutil.copyfile(t.clips[0].path, tmp)
        self.message.emit(f"exported {Path(target).name}")

    def export_audio(
        self, target: str | os.PathLike[str], bits: str = "24", only_generated: bool = False, lufs: float | None = None
    ) -> Job:
        """Bounce the mix (or the generated piece alone) to WAV/FLAC on a worker; atomic, cancellable."""
        snapshot = clone(self.project)
        if only_generated:
            t = self.generated_track()
            if t is None:
                raise UserError("nothing to export: generate a piece first")
            snapshot.tracks = [TrackSpec(name=t.name, clips=list(t.clips), instrument=t.instrument)]
            snapshot.buses, snapshot.master = [], type(snapshot.master)()
        if not snapshot.tracks:
            raise UserError("nothing to export: the project has no tracks")
        self._apply_soundfont(snapshot)
        suffix = os.fspath(target).lower().rsplit(".", 1)[-1]
        if suffix not in ("wav", "flac"):
            raise UserError("audio export must end with .wav or .flac")

        return self.jobs.submit_process(
            f"Exporting {Path(target).name}",
            export_task,
            (snapshot, os.fspath(target), bits, lufs),
            lambda p: self.message.emit(f"exported {Path(p).name}"),
            self._failed("export failed"),
        )

    # -- files -----------------------------------------------------------------------------------------------
    def new(self) -> None:
        old = self.path
        self.project = new_project()
        self.path = None
        self.media.clear()
        self.last_generation = None
        self.undo.clear()
        discard_autosave(old)
        self._reset_views()

    def open(self, path: str | os.PathLike[str], project: Project | None = None) -> None:
        """Open a project file (or take a recovered project for it); UserError leaves the session as it was."""
        p = Path(path).resolve()
        proj = project if project is not None else load_project(p)
        self.project = proj
        self.path = p
        self.media.clear()
        self.last_generation = None
        self.undo.clear()
        if project is not None:
            self.undo.resetClean()  # a recovered project has unsaved changes
        self.prefs.add_recent(p)
        self._save_prefs()
        self._reset_views()
        self.restore_generation()

    def adopt(self, project: Project) -> None:
        """Take a recovered untitled project; it counts as unsaved."""
        self.project = project
        self.path = None
        self.media.clear()
        self.undo.clear()
        self.undo.resetClean()
        self._reset_views()
        self.restore_generation()

    def _reset_views(self) -> None:
        self.rebuild()
        self.ensure_overviews()
        self.structure_changed.emit()
        self.changed.emit()
        self.path_changed.emit()

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Save (atomically) to ``path`` or the current file; generated media move next to the project."""
        target = Path(path).resolve() if path is not None else self.path
        if target is None:
            raise UserError("no file name: use Save As")
        if target.suffix.lower() not in (".refrain", ".json"):
            target = target.with_suffix(".refrain")
        old = self.path
        self.path = target
        moved = self._adopt_untitled_media()
        save_project(self.project, target)
        if moved:
            self._reset_views()
        self.undo.setClean()
        discard_autosave(old)
        discard_autosave(target)
        self.prefs.add_recent(target)
        self._save_prefs()
        self.path_changed.emit()
        self.message.emit(f"saved {target.name}")
        return target

    def _adopt_untitled_media(self) -> bool:
        """Copy media generated before the first save into the project's media folder."""
        src = untitled_media_dir().resolve()
        moved = False
        for t in self.project.tracks:
            for cl in t.clips:
                cp = Path(cl.path).resolve()
                if src in cp.parents and cp.is_file():
                    dest_dir = self.media_dir()
                    dest_dir.mkdir(parents=True, exist_ok=True)
                    dest = dest_dir / cp.name
                    if not dest.exists():
                        shutil.copyfile(cp, dest)
                    cl.path = str(dest)
                    moved = True
        return moved

    def autosave(self) -> Path | None:
        if not self.dirty:
            return None
        try:
            return write_autosave(self.project, self.path)
        except (OSError, UserError) as exc:
            self.message.emit(f"autosave failed: {exc}")
            return None

    def _save_prefs(self) -> None:
        try:
            self.prefs.save()
        except (OSError, UserError) as exc:
            self.message.emit(f"cannot save preferences: {exc}")

    def close(self) -> None:
        """Stop jobs and the engine (app exit, test teardown)."""
        self.autosave_timer.stop()
        self.jobs.close(60000)
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None


# -- helpers ----------------------------------------------------------------------------------------------------
def stem_name(source: str, stem: str) -> str:
    """The track name of a separated stem: ``song · drums``."""
    return f"{source} · {stem}"


def stem_label(track: TrackSpec) -> str:
    """A stem's own name: ``drums`` for ``song · drums`` under ``song``; the whole name otherwise."""
    prefix = stem_name(track.group, "")
    return track.name[len(prefix) :] if track.group and track.name.startswith(prefix) else track.name


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


def untitled_media_dir() -> Path:
    return state_dir() / "untitled-media"


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
