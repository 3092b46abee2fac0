"""Generating a piece end to end: form + controls -> conditions (key, chords, roles) -> note events ->
four-part MIDI (+ WAV). Used by the CLI and the app.

Controls (all optional): key (notes outside its scale are masked unless ``chromatic``), chords (typed, or
generated from the form by the harmony layer), variation (how much repeated bars differ), temperature
and top-p (variety), density per part, GM programs per part, dynamics (downbeat accents and section
levels), tempo. Only 4/4 is supported; other time signatures raise UserError.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import UserError
from models.generator.chords import Chord, Key, chord_chroma, estimate_key
from models.generator.codec import STEPS_PER_BAR, Notes
from models.generator.conditions import Conditions, Layout, layout_from_sections, layout_from_template
from models.generator.drums import drum_part
from models.generator.harmony import fit_progression, generate_progression, parse_progression, warn_out_of_key
from models.generator.midi import DEFAULT_PROGRAMS, Piece
from models.generator.sampler import Plan, Sampling, StructuredGenerator
from models.platform.registry import load_model
from models.structure import Section, check_bar_count

DEFAULT_TEMPERATURE = 0.8  # chosen on the validation split (models.generator.calibrate, see CARD.md)
DEFAULT_TOP_P = 0.95
DEFAULT_VARIATION = 0.3
TEMPO_RANGE = (20.0, 300.0)
PART_ALIASES = {"melody": "melody", "mel": "melody", "lead": "melody", "acc": "acc", "accompaniment": "acc",
                "piano": "acc", "bass": "bass", "drums": "drums"}  # fmt: skip
REPEAT_SIMILARITY = 0.95  # template value from which a bar counts as a repeat of an earlier one


@dataclass
class GenerateRequest:
    """Everything that defines a generated piece (besides the model's weights)."""

    template: np.ndarray
    sections: list[Section] | None = None  # the form's sections (roles, section ends); None: from the template
    model: str = "sing"
    seed: int = 0
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    tempo: float = 120.0
    key: Key | None = None  # notes stay in its scale unless ``chromatic``; None: the primer's, the chords', or drawn
    chromatic: bool = False
    chords: str | None = None  # typed progression (see harmony.parse_progression)
    chord_list: list[Chord | None] | None = None  # one per half bar (from a track)
    chord_fit: str = "loop"
    variation: float = DEFAULT_VARIATION
    density: dict[str, float] = field(default_factory=dict)  # melody, acc, bass, drums
    programs: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PROGRAMS))
    dynamics: float = 1.0
    time_signature: str = "4/4"
    primer: Piece | None = None  # a piece to continue or partly regenerate (its key and chords carry over)
    regenerate_bars: list[int] = field(default_factory=list)  # 0-based; empty: keep all primer bars


def parse_time_signature(text: str) -> tuple[int, int]:
    m = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", text)
    if m is None:
        raise UserError(f"bad time signature {text!r}: use e.g. 4/4")
    sig = (int(m.group(1)), int(m.group(2)))
    if sig != (4, 4):
        raise UserError(
            f"time signature {text.strip()} is not supported yet: the shipped generator is trained on POP909's "
            "4/4 songs only (its 3/4 songs are too few to learn from)"
        )
    return sig


def parse_part_values(text: str, what: str, lo: float, hi: float) -> dict[str, float]:
    """``"melody=73,acc=0,bass=33"`` -> {part: value}; UserError for unknown parts or values out of range."""
    out: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        part = PART_ALIASES.get(name.strip().lower())
        if not sep or part is None:
            raise UserError(f"bad {what} {item.strip()!r}: use part=value with parts melody, acc, bass, drums")
        try:
            v = float(value)
        except ValueError as exc:
            raise UserError(f"bad {what} value {value.strip()!r} for {part}") from exc
        if not lo <= v <= hi:
            raise UserError(f"{what} of {part} must be between {lo:g} and {hi:g}, got {v:g}")
        out[part] = v
    return out


def parse_programs(text: str) -> dict[str, int]:
    vals = parse_part_values(text, "program", 0, 127)
    if "drums" in vals:
        raise UserError("drums play the General MIDI kit on channel 10: they take no program")
    out = dict(DEFAULT_PROGRAMS)
    out.update({k: int(v) for k, v in vals.items()})
    return out


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


def _check(req: GenerateRequest) -> None:
    if not TEMPO_RANGE[0] <= req.tempo <= TEMPO_RANGE[1]:
        raise UserError(f"tempo must be between {TEMPO_RANGE[0]:g} and {TEMPO_RANGE[1]:g} BPM, got {req.tempo:g}")
    if not 0.0 <= req.variation <= 1.0:
        raise UserError(f"variation must be between 0 and 1, got {req.variation:g}")
    if not 0.0 <= req.dynamics <= 2.0:
        raise UserError(f"dynamics must be between 0 and 2, got {req.dynamics:g}")
    parse_time_signature(req.time_signature)
    for part, v in req.density.items():
        if part not in ("melody", "acc", "bass", "drums") or not 0.0 <= v <= 4.0:
            raise UserError(f"density of {part} must be between 0 and 4")


def form_layout(req: GenerateRequest) -> Layout:
    bars = req.template.shape[0]
    if req.sections is not None and sum(s.bars for s in req.sections) == bars:
        return layout_from_sections(req.sections)
    return layout_from_template(req.template)


def draw_key(rng: np.random.Generator) -> Key:
    """A key when none is given: any tonic, minor about a third of the time (as in POP909)."""
    return Key(int(rng.integers(12)), bool(rng.random() < 0.3))


def repeat_sources(
    template: np.ndarray, layout: Layout, chords: list[Chord | None], variation: float, rng: np.random.Generator
) -> np.ndarray:
    """Per bar, the earlier bar it copies exactly (-1: generated). A bar the template calls a repeat
    (``>= REPEAT_SIMILARITY``) over the same chords is copied with probability ``1 - variation``, a
    section's last bar with ``1 - 2 * variation``: as in real songs, it varies most."""
    n = template.shape[0]
    out = np.full(n, -1, np.int64)
    for i in range(1, n):
        similar = np.nonzero(template[i, :i] >= REPEAT_SIMILARITY)[0]
        cands = [
            int(j)
            for j in similar
            if chords[2 * j : 2 * j + 2] == chords[2 * i : 2 * i + 2] and layout.melody_on[j] == layout.melody_on[i]
        ]
        if not cands:
            continue
        weight = 2.0 if layout.to_end[i] == 0 else 1.0
        if rng.random() < 1.0 - variation * weight:
            j = cands[-1]
            out[i] = out[j] if out[j] >= 0 else j  # copy the original, not a copy
    return out


def plan_piece(req: GenerateRequest) -> tuple[Plan, Conditions]:
    """The sampler plan and conditions: layout, key, chords, repeats and the primer bars to keep."""
    _check(req)
    bars = check_bar_count(req.template.shape[0])
    rng = np.random.default_rng([req.seed, 7])
    layout = form_layout(req)
    typed = fit_progression(parse_progression(req.chords), layout, req.chord_fit) if req.chords else None
    key = req.key or (req.primer.key if req.primer is not None else None)
    if key is None and typed is not None:  # the key the typed chords imply
        key = estimate_key(np.sum([chord_chroma(c) for c in typed], axis=0))
    key = key or draw_key(rng)
    # The scale is enforced when the user names the key; otherwise the model's own key sense decides
    # (real songs borrow notes and chords outside the key: 4-6 % of their notes in POP909).
    masked = req.key is not None and not req.chromatic
    if typed is not None:
        chords = typed
        if masked:
            warn_out_of_key(chords, key)
    elif req.chord_list:
        chords = [req.chord_list[h % len(req.chord_list)] for h in range(2 * bars)]
    else:
        chords = generate_progression(layout, key, rng, req.variation, diatonic=masked)
        if req.primer is not None:  # the kept bars keep their own chords
            n = min(len(req.primer.chords), 2 * req.primer.bars, 2 * bars)
            chords[:n] = req.primer.chords[:n]
    cond = Conditions(chords, [key] * bars, layout, req.tempo)
    pcs = None
    if masked:
        pcs = np.zeros(12, bool)
        pcs[list(key.scale)] = True
    plan = Plan(req.template, cond, copy_from=repeat_sources(req.template, layout, chords, req.variation, rng),
                pitch_classes=pcs)  # fmt: skip
    if req.primer is None:
        if req.regenerate_bars:
            raise UserError("regenerating bars needs the piece to keep (a primer MIDI file)")
        return plan, cond
    from models.generator.midi import grid_bars

    plan.keep = grid_bars(req.primer.grid, bars)
    mask_bars = np.zeros(bars, bool)
    mask_bars[: min(bars, req.primer.bars)] = True
    mask_bars[req.regenerate_bars] = False
    if mask_bars.all():
        raise UserError(f"the primer covers all {bars} bars: give more bars than the primer has, or bars to regenerate")
    plan.keep_mask = np.repeat(mask_bars, STEPS_PER_BAR)
    # Kept bars are not generated; a bar being regenerated is never a copy (of a kept bar, it would not change).
    plan.copy_from = np.where(mask_bars, -1, plan.copy_from)  # type: ignore[arg-type]
    plan.copy_from[req.regenerate_bars] = -1
    return plan, cond


def dynamics_offsets(layout: Layout, amount: float) -> np.ndarray:
    """(2, steps) velocity offsets: row 0 for the melody (section levels by energy, a light downbeat
    accent), row 1 for the accompaniment and bass (section levels plus accents on the strong beats)."""
    level = np.repeat(np.array([-8, -4, 0, 4])[[layout.energy(int(k)) for k in layout.section]], STEPS_PER_BAR)
    accent = np.zeros(STEPS_PER_BAR)
    accent[[0, 8]] = [5, 2]  # the downbeat most, beat 3 a little
    lead = np.zeros(STEPS_PER_BAR)
    lead[0] = 3
    off = np.stack([level + np.tile(lead, layout.bars), level + np.tile(accent, layout.bars)])
    return np.asarray(np.round(off * amount), dtype=np.int64)


def generate_piece(
    req: GenerateRequest,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    generator: StructuredGenerator | None = None,
) -> Piece:
    """Generate one four-part piece following ``req``."""
    return generate_pieces([req], progress, cancel, generator)[0]


def generate_pieces(
    reqs: list[GenerateRequest],
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    generator: StructuredGenerator | None = None,
) -> list[Piece]:
    """Generate several pieces in one batch (same model and sampling controls as the first request; each
    its own form, seed-drawn key and chords)."""
    if not reqs:
        return []
    planned = [plan_piece(r) for r in reqs]
    r0 = reqs[0]
    gen = generator or load_model(r0.model, "generator", 1)
    dens = {"mel" if k == "melody" else k: v for k, v in r0.density.items() if k != "drums"}
    sampling = Sampling(r0.temperature, r0.top_p, dens)
    grids = gen.generate([p for p, _ in planned], seed=r0.seed, sampling=sampling, progress=progress, cancel=cancel)
    pieces = []
    for req, (plan, cond), grid in zip(reqs, planned, grids, strict=True):
        layout = cond.layout
        drums = drum_part(layout, req.tempo, req.seed, req.density.get("drums", 1.0))
        dynamics = dynamics_offsets(layout, req.dynamics)
        if plan.keep_mask is not None and req.primer is not None:
            # Kept bars keep their drums and their dynamics (a primer read from MIDI has them in its velocities).
            kept = plan.keep_mask[: dynamics.shape[1]]
            old_dyn = np.zeros_like(dynamics)
            if req.primer.dynamics is not None:
                n = min(old_dyn.shape[1], req.primer.dynamics.shape[1])
                old_dyn[:, :n] = req.primer.dynamics[:, :n]
            dynamics[:, kept] = old_dyn[:, kept]
            old = req.primer.drums
            old = old.select((old.start < kept.shape[0]) & kept[np.minimum(old.start, kept.shape[0] - 1)])
            new = drums.select(~kept[np.minimum(drums.start, kept.shape[0] - 1)])
            drums = Notes.from_rows(sorted(old.rows() + new.rows()))
        starts = [(int(layout.section_bars(k)[0]), layout.letters[k]) for k in range(len(layout.letters))]
        pieces.append(Piece(
            grid, drums, req.tempo, cond.keys[0], cond.chords, starts, dict(req.programs), (4, 4), dynamics,
        ))  # fmt: skip
    return pieces


def write_outputs(
    piece: Piece,
    midi_path: str | os.PathLike[str],
    wav_path: str | os.PathLike[str] | None,
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
        write_midi(piece, temps[0])
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
