"""MIDI files <-> grids: written with mido, read with the one MIDI reader (:mod:`engine.midi`).

Written files: type 1, 480 ticks per beat, a conductor track (name, tempo, 4/4) and one named track
per part with its GM program; every track ends exactly at the last bar line, so the file is exactly
the grid's number of bars long, from time 0.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from engine.errors import UserError
from models.generator.codec import STEPS_PER_BAR, Grid, Notes, grid_from_notes, notes_from_grid

TPB = 480
TICKS_PER_STEP = TPB // 4
MELODY_PROGRAM = 73  # flute: a clear, sung-like lead over the piano
ACCOMP_PROGRAM = 0  # acoustic grand piano (POP909 is piano arrangements)
MELODY_NAMES = ("melody", "lead", "vocal", "voice", "singer")


@dataclass
class Part:
    name: str
    program: int
    channel: int
    notes: Notes


def write_midi(
    g: Grid,
    path: str | os.PathLike[str],
    tempo_bpm: float = 120.0,
    programs: tuple[int, int] = (MELODY_PROGRAM, ACCOMP_PROGRAM),
    title: str = "Refrain",
) -> None:
    """Write a grid as a two-part MIDI file, atomically."""
    import mido

    from engine.files import atomic_path

    mel, acc = notes_from_grid(g)
    parts = [Part("Melody", programs[0], 0, mel), Part("Accompaniment", programs[1], 1, acc)]
    end = g.steps * TICKS_PER_STEP
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=title, time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=end))
    mid.tracks.append(conductor)
    for part in parts:
        tr = mido.MidiTrack()
        tr.append(mido.MetaMessage("track_name", name=part.name, time=0))
        tr.append(mido.Message("program_change", channel=part.channel, program=part.program, time=0))
        events: list[tuple[int, int, int, int]] = []  # (tick, order, note, velocity); offs sort first
        for s, d, p, v in zip(
            part.notes.start.tolist(),
            part.notes.dur.tolist(),
            part.notes.pitch.tolist(),
            part.notes.vel.tolist(),
            strict=True,
        ):
            events.append((s * TICKS_PER_STEP, 1, p, v))
            events.append((min(end, (s + d) * TICKS_PER_STEP), 0, p, 0))
        events.sort()
        now = 0
        for tick, order, p, v in events:
            kind = "note_on" if order == 1 else "note_off"
            tr.append(mido.Message(kind, channel=part.channel, note=p, velocity=v, time=tick - now))
            now = tick
        tr.append(mido.MetaMessage("end_of_track", time=end - now))
        mid.tracks.append(tr)
    with atomic_path(path) as tmp:
        mid.save(tmp)


def read_midi(path: str | os.PathLike[str]) -> tuple[Grid, float]:
    """Read any MIDI file onto the grid (4/4 assumed); returns the grid and the first tempo in BPM.

    The melody is the track named like a melody (melody, lead, vocal, ...); failing that, the highest
    note of each onset. Everything else except drums (channel 10) is accompaniment. Raises UserError
    (one line) for a file that cannot be read or has no pitched notes."""
    from engine.midi import read_midi_file

    m = read_midi_file(path)
    mel_rows: list[tuple[int, int, int, int]] = []
    acc_rows: list[tuple[int, int, int, int]] = []
    found_melody = False
    for n in m.notes:
        if n.is_drum:
            continue
        s = round(n.start_beat * 4)
        row = (s, max(1, round(n.end_beat * 4) - s), n.pitch, n.velocity)
        if any(k in m.track_name(n.track).lower() for k in MELODY_NAMES):
            found_melody = True
            mel_rows.append(row)
        else:
            acc_rows.append(row)
    if not mel_rows and not acc_rows:
        raise UserError(f"MIDI file {os.path.basename(m.path)} has only drum notes: the generator reads pitched parts")
    if not found_melody:
        mel_rows, acc_rows = _skyline(acc_rows)
    end = max(s + d for s, d, _, _ in mel_rows + acc_rows)
    bars = max(1, math.ceil(end / STEPS_PER_BAR))
    grid = grid_from_notes(Notes.from_rows(mel_rows), Notes.from_rows(acc_rows), bars * STEPS_PER_BAR)
    return grid, m.tempo_bpm


def _skyline(
    rows: list[tuple[int, int, int, int]],
) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    """Split notes into the top line (highest note per onset) and the rest."""
    top: dict[int, tuple[int, int, int, int]] = {}
    for r in rows:
        if r[0] not in top or r[2] > top[r[0]][2]:
            top[r[0]] = r
    chosen = set(top.values())
    return sorted(chosen), [r for r in rows if r not in chosen]


def grid_bars(g: Grid, bars: int) -> Grid:
    """Cut or pad (with silence) a grid to exactly ``bars`` bars."""
    steps = bars * STEPS_PER_BAR
    if g.steps >= steps:
        return g.slice_steps(0, steps)
    out = Grid.empty(steps)
    out.mel[: g.steps] = g.mel
    out.acc[: g.steps] = g.acc
    out.vel_m[: g.steps] = g.vel_m
    out.vel_a[: g.steps] = g.vel_a
    return out
