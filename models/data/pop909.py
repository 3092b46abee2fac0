"""The POP909 corpus (Wang et al., ISMIR 2020; MIT) and its structure analysis (Dai, Zhang and Dannenberg,
2020; MIT), read the same way for every model: song ids, the committed split, each song's MIDI parts
(MELODY, BRIDGE, PIANO through the one MIDI reader), beats and chords.

The data lives outside the repository (``../shared/data``, or ``$REFRAIN_DATA``); tests never need it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import UserError

DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "shared" / "data"
SPLIT_FILE = Path(__file__).with_name("split.json")
PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def data_root() -> Path:
    """``$REFRAIN_DATA``, else ``../shared/data``; UserError when POP909 is not there."""
    root = Path(os.environ.get("REFRAIN_DATA", DEFAULT_ROOT))
    if not (root / "pop909").is_dir() or not (root / "pop909_structure").is_dir():
        raise UserError(f"POP909 data not found under {root}: set REFRAIN_DATA to the folder holding pop909/")
    return root


def song_ids(root: Path) -> list[str]:
    """Ids of the songs present in both POP909 and its structure analysis."""
    a = {p.name for p in (root / "pop909_structure" / "POP909").iterdir() if p.is_dir()}
    b = {p.name for p in (root / "pop909" / "POP909").iterdir() if p.is_dir()}
    return sorted(a & b)


def load_split(path: Path = SPLIT_FILE) -> dict[str, list[str]]:
    """The committed train/valid/test split by song id (every family uses it, so no test song is trained on)."""
    data: dict[str, list[str]] = json.loads(path.read_text())
    return data


def make_split(ids: list[str]) -> dict[str, list[str]]:
    """Deterministic 80/10/10 split by song id (a seeded permutation of the sorted ids)."""
    rng = np.random.default_rng(909)
    perm = [ids[i] for i in rng.permutation(len(ids))]
    n_test = len(ids) // 10
    return {
        "test": sorted(perm[:n_test]),
        "valid": sorted(perm[n_test : 2 * n_test]),
        "train": sorted(perm[2 * n_test :]),
    }


@dataclass(frozen=True)
class Note:
    """A note in seconds."""

    start: float
    end: float
    pitch: int
    velocity: int


@dataclass
class SongParts:
    """What one POP909 song offers: its parts' notes, beats and chords, in seconds."""

    melody: list[Note]
    piano: list[Note]
    bridge: list[Note]
    beats: np.ndarray  # (n,) beat times
    downbeat: np.ndarray  # (n,) bool
    chords: list[tuple[float, float, int | None]]  # start, end, root pitch class (None: no chord)


def track_notes(path: Path) -> dict[str, list[Note]]:
    """Notes per upper-cased track name, in seconds through the file's tempo map."""
    from engine.midi import read_midi_file

    tracks = read_midi_file(path).track_notes()
    return {name: [Note(n.start, n.end, n.pitch, n.velocity) for n in notes] for name, notes in tracks.items()}


def read_beats(song_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(beat times in seconds, downbeat flags) from ``beat_midi.txt``."""
    rows = np.loadtxt(song_dir / "beat_midi.txt", ndmin=2)
    down = rows[:, 2] > 0.5 if rows.shape[1] > 2 else np.arange(len(rows)) % 4 == 0
    return rows[:, 0].astype(np.float64), down


def chord_root(label: str) -> int | None:
    """Pitch class of a chord label such as ``B:maj``, ``C#:min7`` or ``Eb:7/5``; None for ``N``."""
    m = re.match(r"^([A-G])([#b]?)", label.strip())
    if m is None:
        return None
    return (PITCH_CLASS[m.group(1)] + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12


def read_chords(song_dir: Path) -> list[tuple[float, float, int | None]]:
    """(start, end, root pitch class) per line of ``chord_midi.txt``."""
    chords: list[tuple[float, float, int | None]] = []
    for line in (song_dir / "chord_midi.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            chords.append((float(parts[0]), float(parts[1]), chord_root(parts[2])))
    return chords


def read_song(song_dir: Path) -> SongParts:
    """A song folder (``POP909/<id>``) to its parts; UserError when it is not one."""
    mid = song_dir / f"{song_dir.name}.mid"
    if not mid.is_file():
        raise UserError(f"not a POP909 song folder: {song_dir}")
    tracks = track_notes(mid)
    beats, down = read_beats(song_dir)
    return SongParts(
        melody=sorted(tracks.get("MELODY", []), key=lambda n: n.start),
        piano=sorted(tracks.get("PIANO", []), key=lambda n: n.start),
        bridge=sorted(tracks.get("BRIDGE", []), key=lambda n: n.start),
        beats=beats,
        downbeat=down,
        chords=read_chords(song_dir),
    )
