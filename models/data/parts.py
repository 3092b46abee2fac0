"""Parts a POP909 song does not have, written from its beats and chords: a bass line and a drum kit
pattern, in a few styles. The stem renderer plays them next to the song's own parts."""

from __future__ import annotations

import numpy as np

from models.data.pop909 import Note, SongParts

KICK, SIDE, SNARE, CLOSED_HH, PEDAL_HH, OPEN_HH, CRASH, RIDE = 36, 37, 38, 42, 44, 46, 49, 51
TOMS = (50, 47, 45, 43)
BASS_STYLES = ("roots", "half", "fifths", "octaves")
DRUM_STYLES = ("rock", "four", "halftime", "ballad")


def bass_notes(parts: SongParts, style: str, rng: np.random.Generator) -> list[Note]:
    """A bass line on the beats: the chord root in the bass register, in one of a few patterns."""
    beats = parts.beats
    if len(beats) < 2:
        return []
    period = float(np.median(np.diff(beats)))
    notes: list[Note] = []
    for i, b in enumerate(beats):
        root = next((r for s, e, r in parts.chords if s <= b + 1e-3 < e), None)
        if root is None:
            continue
        pitch = 36 + root if root <= 7 else 24 + root  # E1..D#2 and up to G2: the usual bass range
        nxt = beats[i + 1] if i + 1 < len(beats) else b + period
        vel = int(rng.integers(80, 112))
        if style == "roots":
            notes.append(Note(b, b + 0.9 * (nxt - b), pitch, vel))
        elif style == "half":
            if i % 2 == 0:
                end = beats[i + 2] if i + 2 < len(beats) else b + 2 * period
                notes.append(Note(b, b + 0.95 * (end - b), pitch, vel))
        elif style == "fifths":
            notes.append(Note(b, b + 0.85 * (nxt - b), pitch + (7 if i % 2 else 0), vel))
        else:  # octave eighths
            mid = (b + nxt) / 2
            notes.append(Note(b, b + 0.45 * (nxt - b), pitch, vel))
            notes.append(Note(mid, mid + 0.45 * (nxt - b), pitch + 12, vel - 10))
    return notes


def drum_notes(parts: SongParts, style: str, rng: np.random.Generator) -> list[Note]:
    """A kit pattern on the beats: the bar position comes from the downbeats."""
    beats, down = parts.beats, parts.downbeat
    if len(beats) < 2:
        return []
    period = float(np.median(np.diff(beats)))
    notes: list[Note] = []
    pos, bar = 0, -1
    hit = 0.08

    def add(t: float, key: int, lo: int, hi: int) -> None:
        jitter = float(rng.normal(0, 0.004))
        notes.append(Note(max(0.0, t + jitter), t + jitter + hit, key, int(rng.integers(lo, hi))))

    for i, b in enumerate(beats):
        if down[i]:
            pos, bar = 0, bar + 1
        else:
            pos += 1
        nxt = beats[i + 1] if i + 1 < len(beats) else b + period
        half = (b + nxt) / 2
        if pos == 0 and bar % 8 == 0:
            add(b, CRASH, 90, 115)
        fill = bar % 8 == 7 and pos >= 2 and style != "ballad"
        if fill:
            for k, t in enumerate((b, half)):
                add(t, TOMS[(2 * (pos - 2) + k) % len(TOMS)], 85, 115)
            continue
        if style == "rock":
            if pos in (0, 2):
                add(b, KICK, 95, 120)
            if pos in (1, 3):
                add(b, SNARE, 90, 118)
            add(b, CLOSED_HH, 60, 90)
            add(half, CLOSED_HH, 45, 75)
        elif style == "four":
            add(b, KICK, 100, 122)
            if pos in (1, 3):
                add(b, SNARE, 90, 118)
            add(half, OPEN_HH, 60, 85)
        elif style == "halftime":
            if pos == 0:
                add(b, KICK, 95, 120)
            if pos == 2:
                add(b, SNARE, 95, 120)
            add(b, CLOSED_HH, 55, 85)
        else:  # ballad
            if pos == 0:
                add(b, KICK, 80, 105)
            if pos in (1, 3):
                add(b, SIDE, 70, 100)
            add(b, RIDE, 55, 85)
            if pos in (1, 3):
                add(b, PEDAL_HH, 40, 65)
    return notes
