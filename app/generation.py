"""The generation controller: the form template (matrix and section letters), deriving it from a track,
generating a piece that follows it (or regenerating some of its bars), and exporting the piece's MIDI.
The models run in the worker process; this only prepares requests and lands results as undoable edits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.tasks import GenerationResult, form_task, generate_task, read_generation_task
from app.workers import Job
from engine.errors import UserError
from engine.project import Clip, Project, TrackSpec
from models.generator.piece import DEFAULT_TEMPERATURE, TEMPO_RANGE

if TYPE_CHECKING:
    from app.session import Session

GENERATED_TRACK = "Generated"


class Generation:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.last: GenerationResult | None = None  # the piece the form view shows beside the template
        session.document_reset.connect(self._forget)

    def _forget(self) -> None:
        self.last = None

    # -- the form -------------------------------------------------------------------------------------------
    def template(self) -> np.ndarray:
        t = self.s.project.template
        if t is None:
            from app.session import DEFAULT_FORM
            from models.structure import preset_template

            return preset_template(DEFAULT_FORM)
        return np.asarray(t, np.float32)

    def labels(self) -> list[str]:
        p = self.s.project
        n = len(p.template) if p.template is not None else self.template().shape[0]
        lab = p.template_labels
        return list(lab) if lab is not None and len(lab) == n else [""] * n

    def set_template(
        self, matrix: np.ndarray, labels: list[str] | None = None, text: str = "Edit form", merge: object = None
    ) -> None:
        """Set the form (matrix and per-bar section letters) as one undoable step."""
        from models.structure import validate_template

        m = validate_template(np.asarray(matrix, np.float32))
        lab = labels if labels is not None and len(labels) == m.shape[0] else [""] * m.shape[0]

        def fn(p: Project) -> None:
            p.template = np.round(m.astype(np.float64), 4).tolist()
            p.template_labels = list(lab)

        self.s.edit(text, fn, merge)

    def template_from_track(self, path: str, bars: int) -> Job:
        """Derive the form from an audio or MIDI file on the worker process. The track's tempo is reported,
        not applied: setting it would retime every MIDI clip of the project (the user sets it in the
        transport when the piece should match the track)."""

        def done(result: tuple[np.ndarray, float, str | None]) -> None:
            m, tempo, key = result
            self.set_template(m, None, f"Form from {Path(path).name}")
            in_key = f" in {key}" if key else ""
            self.s.message.emit(
                f"form from {Path(path).name}: {m.shape[0]} bars; the track plays at {tempo:.1f} BPM{in_key}"
            )
            self.s.form_derived.emit(tempo, key or "")

        return self.s.jobs.submit_process(
            f"Analysing {Path(path).name}", form_task, (path, bars), done, self.s.failed("cannot derive a form")
        )

    # -- pieces --------------------------------------------------------------------------------------------
    def generate(
        self,
        model: str = "sing",
        seed: int = 0,
        temperature: float | None = None,
        tempo: float | None = None,
        primer: str | None = None,
        regenerate: list[int] | None = None,
        controls: dict[str, object] | None = None,
    ) -> Job:
        """Generate a piece following the current template on a worker; it lands as the Generated track.

        ``controls``: key, chromatic, chords, chord_fit, top_p, variation, dynamics, density, programs,
        time_signature (see ``GeneratePanel.controls``); they are kept with the project."""
        s = self.s
        template = self.template()
        temp = DEFAULT_TEMPERATURE if temperature is None else float(temperature)
        bpm = float(tempo if tempo is not None else s.project.tempo)
        if not TEMPO_RANGE[0] <= bpm <= TEMPO_RANGE[1]:
            raise UserError(f"tempo must be between {TEMPO_RANGE[0]:g} and {TEMPO_RANGE[1]:g} BPM")
        if regenerate and primer is None:
            gen_track = self.generated_track()
            if gen_track is None:
                raise UserError("nothing to regenerate yet: generate a piece first")
            primer = gen_track.clips[0].path
        settings = {
            "model": model,
            "seed": int(seed),
            "temperature": temp,
            "tempo": bpm,
            "bars": int(template.shape[0]),
            "primer": primer,
            "regenerate": list(regenerate or []),
            "labels": self.labels(),
            **(controls or {}),
        }

        def done(res: GenerationResult) -> None:
            self.last = res
            if res.overview is not None:
                s.media[res.midi_path] = res.overview
            current = self.generated_track()

            def fn(p: Project) -> None:
                p.tempo = bpm
                track = next((t for t in p.tracks if current is not None and t.id == current.id), None)
                if track is None:
                    track = TrackSpec(name=GENERATED_TRACK)
                    p.tracks.append(track)
                track.clips = [Clip(res.midi_path)]
                p.generation = {**settings, "adherence": res.adherence, "track": track.id}

            s.edit("Regenerate bars" if regenerate else "Generate", fn)
            s.generated.emit(res)
            s.message.emit(f"generated {template.shape[0]} bars ({model}), adherence {res.adherence:.3f}")

        title = "Regenerating bars" if regenerate else f"Generating {template.shape[0]} bars"
        args = (template, settings, s.prefs.threads, s.documents.media_dir(), s.project.sample_rate)
        return s.jobs.submit_process(title, generate_task, args, done, s.failed("generation failed"))

    def generated_track(self) -> TrackSpec | None:
        """The track holding the generated piece (by its id; projects from before ids: by its name)."""
        p = self.s.project
        track_id = (p.generation or {}).get("track")
        found = next((t for t in p.tracks if t.id == track_id and t.clips), None) if track_id else None
        return found or next((t for t in p.tracks if t.name == GENERATED_TRACK and t.clips), None)

    def restore(self) -> None:
        """After opening a project: re-analyse its generated piece so the form view shows it again (it is
        not a new piece: nothing plays)."""
        s = self.s
        t = self.generated_track()
        if t is None or not os.path.isfile(t.clips[0].path) or s.project.template is None:
            return
        path, template = t.clips[0].path, self.template()
        settings = dict(s.project.generation or {})

        def done(res: GenerationResult) -> None:
            self.last = res
            s.piece_restored.emit(res)

        s.jobs.submit_process(
            "Reading generated piece",
            read_generation_task,
            (path, template, settings),
            done,
            s.failed("cannot read the generated piece"),
        )

    def export_midi(self, target: str | os.PathLike[str]) -> None:
        """Write the generated piece as MIDI at the project's tempo (it follows tempo changes made after
        generating), atomically."""
        from models.generator.midi import retime_midi

        t = self.generated_track()
        if t is None:
            raise UserError("nothing to export: generate a piece first")
        if not os.fspath(target).lower().endswith((".mid", ".midi")):
            raise UserError("MIDI export must end with .mid")
        retime_midi(t.clips[0].path, target, self.s.project.tempo)
        self.s.message.emit(f"exported {Path(target).name}")
