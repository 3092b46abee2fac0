"""The app's long tasks as picklable module-level functions, run in a worker process by
:meth:`app.workers.JobRunner.submit_process`. No Qt here: the child process never imports it."""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.media import Overview, overview
from engine.project import Project


@dataclass
class GenerationResult:
    """A generated piece: where its MIDI is, its grid, its own SSM and how well it follows the template."""

    midi_path: str
    piece: Any  # models.generator.midi.Piece
    template: np.ndarray
    ssm: np.ndarray
    adherence: float
    settings: dict[str, Any]
    overview: Overview | None = None


def template_similar(template: np.ndarray) -> np.ndarray:
    """The bar pairs a (possibly hand-painted) template calls similar: off-diagonal cells at 0.5 or more."""
    sim = np.asarray(template) >= 0.5
    np.fill_diagonal(sim, False)
    return sim


def analyse_piece(piece: Any, template: np.ndarray) -> tuple[np.ndarray, float]:
    """The piece's own bar SSM and its adherence (ROC AUC) to the template."""
    from models.generator.features import onset_features
    from models.generator.metrics import adherence_auc
    from models.structure import ssm_from_features

    n = template.shape[0]
    ssm = ssm_from_features(onset_features(piece.grid)[:n])
    return np.asarray(ssm, np.float32), float(adherence_auc(piece.grid, template_similar(template)))


def sections_of(labels: list[str], template: np.ndarray) -> list[Any] | None:
    """Per-bar section letters -> sections; None when the bars are unlabelled. A run of one letter is
    one section, unless a bar of it repeats the run's first bar (A8A8 is two sections, not A16)."""
    from models.structure import Section

    if not labels or any(not lab for lab in labels) or len(labels) != template.shape[0]:
        return None
    out: list[Any] = []
    start = 0
    for i, lab in enumerate(labels):
        if out and out[-1].letter == lab and template[i, start] < 0.5:
            out[-1] = Section(lab, out[-1].bars + 1)
        else:
            out.append(Section(lab, 1))
            start = i
    return out


def request_from_settings(template: np.ndarray, settings: dict[str, Any], primer: Any) -> Any:
    """The generator request for the app's generation settings (see ``Generation.generate``)."""
    from models.generator.chords import parse_key
    from models.generator.midi import DEFAULT_PROGRAMS
    from models.generator.piece import DEFAULT_TOP_P, DEFAULT_VARIATION, GenerateRequest

    key = settings.get("key")
    return GenerateRequest(
        template=template,
        sections=sections_of(list(settings.get("labels") or []), template),
        model=settings["model"],
        seed=int(settings["seed"]),
        temperature=float(settings["temperature"]),
        top_p=float(settings.get("top_p", DEFAULT_TOP_P)),
        tempo=float(settings["tempo"]),
        key=parse_key(key) if key else None,
        chromatic=bool(settings.get("chromatic", False)),
        chords=settings.get("chords") or None,
        chord_fit=str(settings.get("chord_fit", "loop")),
        variation=float(settings.get("variation", DEFAULT_VARIATION)),
        density={k: float(v) for k, v in (settings.get("density") or {}).items()},
        programs={**DEFAULT_PROGRAMS, **{k: int(v) for k, v in (settings.get("programs") or {}).items()}},
        dynamics=float(settings.get("dynamics", 1.0)),
        time_signature=str(settings.get("time_signature", "4/4")),
        primer=primer,
        regenerate_bars=list(settings["regenerate"]),
    )


def generator(model: str, threads: int) -> Any:
    """The sampler for ``model``, loaded once per process (by the model registry)."""
    from models.platform.registry import load_model

    return load_model(model, "generator", threads)


def stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"{int(time.time() * 1000) % 1000:03d}"


def generate_task(
    task: Any,
    template: np.ndarray,
    settings: dict[str, Any],
    threads: int,
    out_dir: Path,
    sample_rate: int,
) -> GenerationResult:
    """Generate a piece following ``template`` and write it as MIDI in ``out_dir`` (atomically)."""
    from engine.files import atomic_path
    from models.generator.midi import read_midi, write_midi
    from models.generator.piece import generate_piece

    model, seed = settings["model"], int(settings["seed"])
    gen = generator(model, threads)
    task.check()
    primer = settings["primer"]
    req = request_from_settings(template, settings, read_midi(primer) if primer else None)
    piece = generate_piece(req, progress=task.progress, cancel=lambda: task.cancelled, generator=gen)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"generated-{model}-seed{seed}-{stamp()}.mid"
    with atomic_path(target) as tmp:
        write_midi(piece, tmp)
    ssm, adh = analyse_piece(piece, template)
    return GenerationResult(str(target), piece, template, ssm, adh, settings, overview(str(target), sample_rate))


def read_generation_task(task: Any, path: str, template: np.ndarray, settings: dict[str, Any]) -> GenerationResult:
    """Re-analyse a saved piece (after opening a project)."""
    from models.generator.midi import read_midi

    piece = read_midi(path)
    ssm, adh = analyse_piece(piece, template)
    return GenerationResult(path, piece, template, ssm, adh, settings)


def export_task(task: Any, project: Project, target: str, bits: str, lufs: float | None) -> str:
    """Bounce ``project`` to WAV/FLAC at ``target``: atomic, nothing left on error or cancel."""
    from engine.bounce import bounce_to_file
    from engine.build import build_graph

    graph = build_graph(project, project.sample_rate, 1024)
    try:
        bounce_to_file(graph, target, bits, lufs, progress=task.progress, cancel=task.cancel_event)
    finally:
        graph.close()
    return os.fspath(target)


def _share(task: Any, k: int, n: int, frac: float) -> None:
    task.progress((k + frac) / n)


def export_stems_task(task: Any, jobs: list[tuple[str, Project]], bits: str) -> list[str]:
    """Bounce one project per stem to its target; every file appears at the end or none does."""
    from engine.bounce import bounce_to_file
    from engine.build import build_graph
    from engine.files import atomic_files

    with atomic_files([target for target, _ in jobs]) as temps:
        for k, ((_, project), tmp) in enumerate(zip(jobs, temps, strict=True)):
            graph = build_graph(project, project.sample_rate, 1024)
            try:
                share = functools.partial(_share, task, k, len(jobs))
                bounce_to_file(graph, tmp, bits, progress=share, cancel=task.cancel_event)
            finally:
                graph.close()
    return [target for target, _ in jobs]


def form_task(task: Any, path: str, bars: int) -> tuple[np.ndarray, float, str | None]:
    """Derive a form template, the tempo (BPM) and the key's name from an audio or MIDI file."""
    from models.structure.tracks import track_form

    form = track_form(path, bars)
    return np.asarray(form.template), form.tempo, (form.key.name if form.key is not None else None)


def separate_task(task: Any, path: str, out_dir: str, model: str) -> dict[str, str]:
    """Split an audio file into stems in ``out_dir`` (all or nothing)."""
    from models.separator.runtime import separate_file

    paths = separate_file(
        path, out_dir, model=model, bits="float", progress=task.progress, cancel=lambda: task.cancelled
    )
    return {k: os.fspath(v) for k, v in paths.items()}


def split_task(task: Any, path: str, out_dir: str, model: str) -> dict[str, str]:
    """Split an audio file into its same-timbre sources in ``out_dir`` (all or nothing)."""
    from models.splitter.runtime import split_file

    paths = split_file(path, out_dir, model=model, bits="float", progress=task.progress, cancel=lambda: task.cancelled)
    return {k: os.fspath(v) for k, v in paths.items()}


def transcribe_task(task: Any, path: str, out_mid: str, program: int) -> tuple[int, float]:
    """Transcribe an audio file to ``out_mid`` (written only when complete): (notes, tempo in BPM)."""
    from pathlib import Path

    from models.features.transcribe import transcribe_file

    Path(out_mid).parent.mkdir(parents=True, exist_ok=True)
    t = transcribe_file(path, out_mid, program=program, progress=task.progress, cancelled=lambda: bool(task.cancelled))
    return len(t.notes), t.tempo_bpm


class _CancelFlag:
    """The worker task's cancel state as the ``is_set()`` the model code polls."""

    def __init__(self, task: Any) -> None:
        self.task = task

    def is_set(self) -> bool:
        return bool(self.task.cancelled)


def automix_task(task: Any, project: Project, tracks: list[int], reference: str | None, model: str) -> dict[str, Any]:
    """Console settings for ``tracks`` (balance mode, then matched to ``reference`` when given):
    ``{"settings": ConsoleSettings.to_dict(), "report": {...}}``."""
    from engine.audio_io import read_audio
    from models.automix.runtime import balance

    ref = read_audio(reference) if reference else None
    flag: Any = _CancelFlag(task)
    prop = balance(project, tracks, model, ref, lambda f, _s: task.progress(f), flag)
    return {"settings": prop.settings.to_dict(), "report": prop.report}


def batch_task(task: Any, command: str, options: dict[str, Any], src: str, out_dir: str) -> list[str]:
    """One input of the app's batch queue (:mod:`app.batch_queue`), in the worker process."""
    from app.batch import process_one

    return process_one(command, options, src, out_dir, 1, task.progress, lambda: bool(task.cancelled))
