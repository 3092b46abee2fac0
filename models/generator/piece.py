"""Generating a piece end to end: template + options -> grid -> MIDI (+ WAV). Used by CLI and app."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import UserError
from models.generator.codec import STEPS_PER_BAR, Grid
from models.generator.sampler import Plan, StructuredGenerator
from models.platform.registry import load_model
from models.structure import check_bar_count

DEFAULT_TEMPERATURE = 0.9  # calibrated on the validation split (see CARD.md)
TEMPO_RANGE = (20.0, 300.0)


@dataclass
class GenerateRequest:
    """Everything that defines a generated piece (besides the model's weights)."""

    template: np.ndarray
    model: str = "sing"
    seed: int = 0
    temperature: float = DEFAULT_TEMPERATURE
    tempo: float = 120.0
    primer: Grid | None = None
    regenerate_bars: list[int] = field(default_factory=list)  # 0-based; empty: keep all primer bars


def parse_bar_ranges(text: str, bars: int) -> list[int]:
    """``"1-4,9"`` (1-based, inclusive) -> sorted 0-based bar indices; UserError if out of range."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
            else:
                a = b = int(part)
        except ValueError as exc:
            raise UserError(f"bad bar range {part!r}: use numbers like '1-4,9'") from exc
        if a < 1 or b > bars or a > b:
            raise UserError(f"bar range {part!r} is outside bars 1-{bars}")
        out.update(range(a - 1, b))
    if not out:
        raise UserError("no bars given to regenerate")
    return sorted(out)


def build_plan(req: GenerateRequest) -> Plan:
    """The sampler plan: keep primer bars (except those to regenerate), generate the rest."""
    bars = check_bar_count(req.template.shape[0])
    if req.primer is None:
        if req.regenerate_bars:
            raise UserError("regenerating bars needs the piece to keep (a primer MIDI file)")
        return Plan(req.template)
    from models.generator.midi import grid_bars

    keep = grid_bars(req.primer, bars)
    mask_bars = np.zeros(bars, bool)
    mask_bars[: min(bars, req.primer.bars)] = True
    mask_bars[req.regenerate_bars] = False
    if mask_bars.all():
        raise UserError(f"the primer covers all {bars} bars: give more bars than the primer has, or bars to regenerate")
    return Plan(req.template, keep, np.repeat(mask_bars, STEPS_PER_BAR))


def generate_piece(
    req: GenerateRequest,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    generator: StructuredGenerator | None = None,
) -> Grid:
    """Generate one piece following ``req.template``."""
    if not TEMPO_RANGE[0] <= req.tempo <= TEMPO_RANGE[1]:
        raise UserError(f"tempo must be between {TEMPO_RANGE[0]:g} and {TEMPO_RANGE[1]:g} BPM, got {req.tempo:g}")
    gen = generator or load_model(req.model, "generator", 1)
    plan = build_plan(req)
    return gen.generate([plan], seed=req.seed, temperature=req.temperature, progress=progress, cancel=cancel)[0]


def write_outputs(
    g: Grid,
    midi_path: str | os.PathLike[str],
    wav_path: str | os.PathLike[str] | None,
    tempo: float,
    soundfont: str | None = None,
    progress: Callable[[float], None] | None = None,
    template: np.ndarray | None = None,
    template_path: str | os.PathLike[str] | None = None,
) -> None:
    """Write the MIDI file and, optionally, its fluidsynth render and the template used: all of them or
    none (one failing write leaves no file behind)."""
    from engine.files import atomic_files
    from models.generator.midi import write_midi

    _check_suffix(midi_path, (".mid", ".midi"), "MIDI output")
    targets = [midi_path]
    if wav_path is not None:
        _check_suffix(wav_path, (".wav", ".flac"), "audio output")
        from engine.soundfont import find_soundfont

        sf2 = find_soundfont(soundfont)  # fail before writing anything
        targets.append(wav_path)
    if template_path is not None:
        if template is None:
            raise ValueError("template_path needs the template")
        _check_suffix(template_path, (".npy", ".csv", ".png"), "template output")
        targets.append(template_path)
    with atomic_files(targets) as temps:
        write_midi(g, temps[0], tempo)
        if wav_path is not None:
            from engine.audio_io import write_audio
            from engine.midi_render import render_midi

            write_audio(temps[1], render_midi(temps[0], 44100, sf2, progress=progress), 44100)
        if template_path is not None and template is not None:
            from models.structure import save_template_file

            save_template_file(template, temps[-1])


def _check_suffix(path: str | os.PathLike[str], allowed: tuple[str, ...], what: str) -> None:
    p = Path(path)
    if p.suffix.lower() not in allowed:
        raise UserError(f"{what} {p.name!r} must end with {' or '.join(allowed)}")
    if p.is_dir():
        raise UserError(f"{what} {p} is a folder")
