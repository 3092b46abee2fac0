"""Chords and keys: parsing (POP909's Harte labels, chord symbols a user types, key names), pitch-class
sets, and the per-step conditioning vectors the generator reads.

A chord is ``(root pitch class, quality)`` with the quality one of ``QUALITIES``; ``None`` is no chord.
A key is ``(tonic pitch class, minor)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.errors import UserError

NOTE_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
PC_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
}
QUALITY_NAMES = tuple(QUALITIES)
SYMBOL_SUFFIX = {"maj": "", "min": "m", "dim": "dim", "aug": "aug", "sus2": "sus2", "sus4": "sus4", "7": "7",
                 "maj7": "maj7", "min7": "m7"}  # fmt: skip
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class Chord:
    root: int
    quality: str

    @property
    def pcs(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in QUALITIES[self.quality])

    @property
    def symbol(self) -> str:
        return PC_NAMES[self.root] + SYMBOL_SUFFIX[self.quality]

    def transposed(self, s: int) -> Chord:
        return Chord((self.root + s) % 12, self.quality)


@dataclass(frozen=True)
class Key:
    tonic: int
    minor: bool

    @property
    def scale(self) -> tuple[int, ...]:
        return tuple((self.tonic + i) % 12 for i in (MINOR_SCALE if self.minor else MAJOR_SCALE))

    @property
    def name(self) -> str:
        return f"{PC_NAMES[self.tonic]} {'minor' if self.minor else 'major'}"

    def transposed(self, s: int) -> Key:
        return Key((self.tonic + s) % 12, self.minor)


def _pc(letter: str, accidental: str) -> int:
    return (NOTE_PC[letter.upper()] + accidental.count("#") - accidental.count("b")) % 12


def harte_quality(q: str) -> str:
    """A Harte quality (``maj``, ``min7``, ``hdim7``, ``sus4(b7)``, ``9`` ...) reduced to ``QUALITIES``."""
    q = q.split("/")[0].split("(")[0]
    if q.startswith("hdim") or q.startswith("dim"):
        return "dim"
    if q.startswith("aug"):
        return "aug"
    if q.startswith("sus2"):
        return "sus2"
    if q.startswith("sus"):
        return "sus4"
    if q.startswith("minmaj"):
        return "min"
    if q.startswith("min"):
        return "min7" if any(c in q for c in "79") or q.endswith("11") or q.endswith("13") else "min"
    if q.startswith("maj"):
        return "maj7" if any(c in q for c in "79") or q.endswith("11") or q.endswith("13") else "maj"
    if q and q[0].isdigit():
        return "7" if q[0] in "79" or q.startswith("11") or q.startswith("13") else "maj"
    return "maj"


def parse_harte(label: str) -> Chord | None:
    """A POP909 chord label (``B:maj``, ``C#:min7``, ``Eb:7/5``, ``N``) to a Chord (None for no chord)."""
    m = re.match(r"^([A-G])([#b]*)(?::(.*))?$", label.strip())
    if m is None:
        return None
    return Chord(_pc(m.group(1), m.group(2)), harte_quality(m.group(3) or "maj"))


_SYMBOL = re.compile(r"^([A-Ga-g])([#b♯♭]*)(.*?)(?:/([A-Ga-g][#b]*))?$")
_SYMBOL_QUALITY = [
    ("maj9", "maj7"), ("maj7", "maj7"), ("M7", "maj7"), ("Δ", "maj7"), ("m7b5", "dim"), ("ø", "dim"), ("min9", "min7"),
    ("m9", "min7"), ("min7", "min7"), ("m7", "min7"), ("7sus4", "sus4"), ("add9", "maj"),
    ("-7", "min7"), ("dim7", "dim"), ("dim", "dim"), ("°", "dim"), ("aug", "aug"), ("+", "aug"), ("sus2", "sus2"),
    ("sus4", "sus4"), ("sus", "sus4"), ("min", "min"), ("m", "min"), ("-", "min"), ("7", "7"), ("9", "7"),
    ("13", "7"), ("11", "7"), ("6", "maj"), ("maj", "maj"), ("M", "maj"), ("", "maj"),
]  # fmt: skip


def parse_symbol(text: str) -> Chord | None:
    """A chord symbol as musicians type it (``C``, ``Am``, ``F#m7``, ``Bbmaj7``, ``G7``, ``Bdim``, ``Esus4``,
    ``C/E``); ``N`` or ``-`` is no chord. UserError for anything else."""
    s = text.strip().replace("♯", "#").replace("♭", "b")
    if s in ("N", "NC", "N.C.", "-", "x"):
        return None
    m = _SYMBOL.match(s)
    if m is None:
        raise UserError(f"unknown chord {text!r}: use symbols like C, Am, F#m7, Bbmaj7, G7, Bdim, Esus4 or N")
    rest = m.group(3)
    for suffix, quality in _SYMBOL_QUALITY:
        if rest == suffix or (
            suffix and rest.startswith(suffix) and rest[len(suffix) :].lstrip("(").strip(")").isdigit()
        ):
            return Chord(_pc(m.group(1), m.group(2)), quality)
    raise UserError(f"unknown chord quality {rest!r} in {text!r}: use m, 7, maj7, m7, dim, aug, sus2 or sus4")


def parse_key(text: str) -> Key:
    """``"Bb major"``, ``"D minor"``, ``"F#m"``, ``"Eb"``, ``"a minor"``; UserError otherwise."""
    s = text.strip()
    m = re.match(r"^([A-Ga-g])([#b♯♭]?)\s*(major|minor|maj|min|m|M)?$", s.replace("♯", "#").replace("♭", "b"))
    if m is None:
        raise UserError(f"unknown key {text!r}: use a tonic and a mode, e.g. 'Bb major' or 'D minor'")
    mode = (m.group(3) or "major").lower()
    return Key(_pc(m.group(1), m.group(2)), mode in ("minor", "min") or m.group(3) == "m")


def chord_chroma(c: Chord | None) -> np.ndarray:
    v = np.zeros(12, np.float32)
    if c is not None:
        v[list(c.pcs)] = 1.0
    return v


CHORD_DIM = 25  # root one-hot, chroma, "no chord"
KEY_DIM = 13  # tonic one-hot, minor


def chord_vector(c: Chord | None) -> np.ndarray:
    v = np.zeros(CHORD_DIM, np.float32)
    if c is None:
        v[24] = 1.0
    else:
        v[c.root] = 1.0
        v[12:24] = chord_chroma(c)
    return v


def key_vector(k: Key) -> np.ndarray:
    v = np.zeros(KEY_DIM, np.float32)
    v[k.tonic] = 1.0
    v[12] = float(k.minor)
    return v


# Krumhansl-Kessler key profiles (Krumhansl 1990), for key finding from pitch-class weight.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_key(pc_weight: np.ndarray) -> Key:
    """The key whose Krumhansl-Kessler profile correlates best with a (12,) pitch-class weight."""
    w = np.asarray(pc_weight, np.float64)
    if w.sum() <= 0:
        return Key(0, False)
    best, key = -2.0, Key(0, False)
    for tonic in range(12):
        for minor, prof in ((False, KK_MAJOR), (True, KK_MINOR)):
            r = float(np.corrcoef(w, np.roll(prof, tonic))[0, 1])
            if r > best:
                best, key = r, Key(tonic, minor)
    return key


def estimate_chords(chroma: np.ndarray, min_energy: float = 1e-6) -> list[Chord | None]:
    """One chord per row of a (n, 12) pitch-class weight: the triad/seventh template with the best cosine,
    preferring triads on ties (None where the row is silent)."""
    templates: list[tuple[Chord, np.ndarray]] = []
    for q in QUALITY_NAMES:
        for r in range(12):
            c = Chord(r, q)
            v = chord_chroma(c)
            templates.append((c, v / np.linalg.norm(v)))
    mat = np.stack([v for _, v in templates])
    bias = np.array([0.02 if c.quality in ("maj", "min") else 0.0 for c, _ in templates])
    out: list[Chord | None] = []
    for row in np.asarray(chroma, np.float64):
        n = float(np.linalg.norm(row))
        if n < min_energy:
            out.append(None)
            continue
        out.append(templates[int(np.argmax(mat @ (row / n) + bias))][0])
    return out
