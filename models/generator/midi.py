"""Pieces <-> MIDI files: written with mido, read with the one MIDI reader (:mod:`engine.midi`).

Written files: type 1, 480 ticks per beat; a conductor track (title, tempo, time and key signature,
section markers, chord symbols as text events) and one named track per part with its GM program:
Melody (channel 1), Accompaniment (2), Bass (3), Drums (10). Every track ends exactly at the last bar
line, so the file is exactly the piece's number of bars long, from time 0.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from engine.errors import UserError
from engine.midi import MidiFile
from models.generator.chords import Chord, Key, estimate_chords, estimate_key
from models.generator.codec import (
    EVENTS,
    STEPS_PER_BAR,
    Grid,
    Notes,
    derive_state,
    grid_from_parts,
    parts_from_grid,
    split_bass,
)
from models.generator.features import half_bar_chroma

TPB = 480
TICKS_PER_STEP = TPB // 4
DEFAULT_PROGRAMS = {"melody": 73, "acc": 0, "bass": 33}  # flute lead, grand piano, finger bass
PART_TRACKS = {"melody": ("Melody", 0), "acc": ("Accompaniment", 1), "bass": ("Bass", 2), "drums": ("Drums", 9)}
MELODY_NAMES = ("melody", "lead", "vocal", "voice", "singer")
BASS_NAMES = ("bass",)


@dataclass
class Piece:
    """A piece as Refrain writes and reads it: the pitched parts' grid, the drums (16th steps, GM keys),
    tempo, and what was known about it (key, chords per half bar, section starts, programs)."""

    grid: Grid
    drums: Notes = field(default_factory=Notes.empty)
    tempo: float = 120.0
    key: Key | None = None
    chords: list[Chord | None] = field(default_factory=list)
    sections: list[tuple[int, str]] = field(default_factory=list)  # (first bar, letter)
    programs: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PROGRAMS))
    time_signature: tuple[int, int] = (4, 4)
    dynamics: np.ndarray | None = None  # (2, steps) velocity offsets: melody; accompaniment and bass

    @property
    def bars(self) -> int:
        return self.grid.bars

    def parts(self) -> dict[str, Notes]:
        """Notes per part: melody, acc, bass, drums (velocities with the dynamics applied)."""
        mel, bass, acc = parts_from_grid(self.grid)
        if self.dynamics is not None:
            for n, row in ((mel, 0), (bass, 1), (acc, 1)):
                n.vel = np.clip(n.vel + self.dynamics[row, n.start], 1, 127)
        return {"melody": mel, "acc": acc, "bass": bass, "drums": self.drums}


def key_signature(key: Key) -> str:
    """mido's key name for a key (``'Bb'``, ``'F#m'``)."""
    names = {0: "C", 1: "Db", 2: "D", 3: "Eb", 4: "E", 5: "F", 6: "F#", 7: "G", 8: "Ab", 9: "A", 10: "Bb", 11: "B"}
    if key.minor:
        minor_names = {0: "C", 1: "C#", 2: "D", 3: "D#", 4: "E", 5: "F", 6: "F#", 7: "G", 8: "G#", 9: "A", 10: "Bb",
                       11: "B"}  # fmt: skip
        return minor_names[key.tonic] + "m"
    return names[key.tonic]


def write_midi(
    piece: Piece, path: str | os.PathLike[str], tempo_bpm: float | None = None, title: str = "Refrain"
) -> None:
    """Write a piece as a four-part MIDI file, atomically (``tempo_bpm`` overrides the piece's tempo)."""
    import mido

    from engine.files import atomic_path

    end = piece.grid.steps * TICKS_PER_STEP
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    conductor = mido.MidiTrack()
    meta: list[tuple[int, mido.MetaMessage]] = [
        (0, mido.MetaMessage("track_name", name=title)),
        (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm or piece.tempo))),
        (0, mido.MetaMessage("time_signature", numerator=piece.time_signature[0], denominator=piece.time_signature[1])),
    ]
    if piece.key is not None:
        meta.append((0, mido.MetaMessage("key_signature", key=key_signature(piece.key))))
    for bar, letter in piece.sections:
        meta.append((bar * STEPS_PER_BAR * TICKS_PER_STEP, mido.MetaMessage("marker", text=letter)))
    last = object()
    for h, c in enumerate(piece.chords[: 2 * piece.bars]):
        if c != last:
            meta.append((h * 8 * TICKS_PER_STEP, mido.MetaMessage("text", text=c.symbol if c else "N.C.")))
            last = c
    now = 0
    for tick, msg in sorted(meta, key=lambda r: r[0]):
        conductor.append(msg.copy(time=tick - now))
        now = tick
    conductor.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    mid.tracks.append(conductor)
    for part, notes in piece.parts().items():
        name, channel = PART_TRACKS[part]
        if part == "drums" and len(notes) == 0:
            continue
        tr = mido.MidiTrack()
        tr.append(mido.MetaMessage("track_name", name=name, time=0))
        if part != "drums":
            tr.append(mido.Message("program_change", channel=channel, program=piece.programs.get(part, 0), time=0))
        events: list[tuple[int, int, int, int]] = []  # (tick, order, note, velocity); offs sort first
        for s, d, p, v in notes.rows():
            events.append((s * TICKS_PER_STEP, 1, p, v))
            events.append((min(end, (s + d) * TICKS_PER_STEP), 0, p, 0))
        events.sort()
        now = 0
        for tick, order, p, v in events:
            kind = "note_on" if order == 1 else "note_off"
            tr.append(mido.Message(kind, channel=channel, note=p, velocity=int(v), time=tick - now))
            now = tick
        tr.append(mido.MetaMessage("end_of_track", time=end - now))
        mid.tracks.append(tr)
    with atomic_path(path) as tmp:
        mid.save(tmp)


def retime_midi(src: str | os.PathLike[str], dst: str | os.PathLike[str], tempo_bpm: float) -> None:
    """Copy a MIDI file Refrain wrote with its tempo set to ``tempo_bpm`` (everything else byte for byte the
    same events), atomically."""
    import mido

    from engine.files import atomic_path

    mid = mido.MidiFile(src)
    for tr in mid.tracks:
        for k, msg in enumerate(tr):
            if msg.type == "set_tempo":
                tr[k] = msg.copy(tempo=mido.bpm2tempo(tempo_bpm))
    with atomic_path(dst) as tmp:
        mid.save(tmp)


def read_midi(path: str | os.PathLike[str]) -> Piece:
    """Read any MIDI file as a piece (on the 16th grid, bars of the file's time signature).

    Parts: the track named like a melody (melody, lead, vocal, ...), failing that the highest note of each
    onset; a track named bass, failing that the lowest sounding line of the rest; drums (channel 10); the
    rest is accompaniment. Tempo and time signature are the file's; the key is its key signature, else
    estimated (Krumhansl-Kessler); chords are estimated per half bar. Raises UserError (one line) for a
    file that cannot be read or has no pitched notes."""
    from engine.midi import read_midi_file

    return piece_from_midi(read_midi_file(path))


def piece_from_midi(m: MidiFile) -> Piece:
    """A MIDI file already read by :func:`engine.midi.read_midi_file` as a piece (see :func:`read_midi`)."""
    num, den = m.time_signature
    if (num, den) != (4, 4):
        raise UserError(f"{os.path.basename(m.path)} is in {num}/{den}: Refrain's generator reads and writes 4/4 only")
    rows: dict[str, list[tuple[int, int, int, int]]] = {"melody": [], "bass": [], "acc": [], "drums": []}
    names = [n.lower() for n in m.track_names]
    # A part is present when a track is named for it, even an empty one (an instrumental piece has no melody).
    found = {
        "melody": any(any(k in n for k in MELODY_NAMES) for n in names),
        "bass": any(any(k in n for k in BASS_NAMES) for n in names),
    }
    programs = dict(DEFAULT_PROGRAMS)
    track_program: dict[int, int] = {}
    for e in m.events:
        if e.status & 0xF0 == 0xC0 and e.track not in track_program:
            track_program[e.track] = e.data1
    acc_program = False
    for n in m.notes:
        s = round(n.start_beat * 4)
        row = (s, max(1, round(n.end_beat * 4) - s), n.pitch, n.velocity)
        name = m.track_name(n.track).lower()
        if n.is_drum:
            rows["drums"].append(row)
        elif any(k in name for k in MELODY_NAMES):
            rows["melody"].append(row)
            programs["melody"] = track_program.get(n.track, programs["melody"])
        elif any(k in name for k in BASS_NAMES):
            rows["bass"].append(row)
            programs["bass"] = track_program.get(n.track, programs["bass"])
        else:
            rows["acc"].append(row)
            if not acc_program and n.track in track_program:
                acc_program = True
                programs["acc"] = track_program[n.track]
    if not any(rows[k] for k in ("melody", "bass", "acc")):
        raise UserError(f"MIDI file {os.path.basename(m.path)} has only drum notes: the generator reads pitched parts")
    if not found["melody"]:
        rows["melody"], rows["acc"] = _skyline(rows["acc"])
    acc = Notes.from_rows(rows["acc"])
    if found["bass"]:
        bass = Notes.from_rows(rows["bass"])
    else:
        bass, acc = split_bass(acc)
    mel = Notes.from_rows(rows["melody"])
    end = max(int((n.start + n.dur).max()) for n in (mel, bass, acc) if len(n))
    bars = max(1, math.ceil(end / STEPS_PER_BAR))
    grid = grid_from_parts(mel, bass, acc, bars * STEPS_PER_BAR)
    key = _file_key(m.key_signature) if m.key_signature is not None else None
    chroma = half_bar_chroma(grid)
    if key is None:
        key = estimate_key(chroma.sum(axis=0))
    sections = [(round(beats / 4), text) for beats, text in m.cues if text and abs(beats / 4 - round(beats / 4)) < 1e-6]
    chords = _written_chords(m.texts, bars) or estimate_chords(chroma)
    return Piece(grid, Notes.from_rows(rows["drums"]), m.tempo_bpm, key, chords, sections, programs)


def _written_chords(texts: list[tuple[float, str]], bars: int) -> list[Chord | None]:
    """Chords per half bar from the chord-symbol text events Refrain writes (each holds until the next);
    an empty list when the file has none or any text is not a chord symbol."""
    from models.generator.chords import parse_symbol

    marks: list[tuple[int, Chord | None]] = []
    for beats, text in texts:
        if abs(beats / 2 - round(beats / 2)) > 1e-6:
            return []
        try:
            marks.append((round(beats / 2), parse_symbol(text)))
        except UserError:
            return []
    if not marks or marks[0][0] != 0:
        return []
    out: list[Chord | None] = []
    for k, (h, c) in enumerate(marks):
        end = marks[k + 1][0] if k + 1 < len(marks) else 2 * bars
        out += [c] * max(0, min(end, 2 * bars) - h)
    return out[: 2 * bars]


def _file_key(sig: tuple[int, bool]) -> Key:
    sharps, minor = sig
    tonic = (7 * sharps) % 12  # each sharp moves the major tonic a fifth up, each flat a fifth down
    return Key((tonic + 9) % 12, True) if minor else Key(tonic, False)


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
    for name in EVENTS:
        getattr(out, name)[: g.steps] = getattr(g, name)
    derive_state(out)
    return out
