"""The note-event grid codec (v2): notes <-> per-step events <-> network input vectors.

A piece is a :class:`Grid` of ``T = bars * 16`` sixteenth-note steps in 4/4 with three pitched parts.
Every step carries, per part, an *onset event* with a duration token and a velocity bin, so a held
note is one decision, not a run of "hold" draws (the v1 onset/hold grid made long notes unlikely):

* melody (monophonic, ``MEL_N`` pitches from ``MEL_LO``): ``mel[t]`` is 0 (no onset) or ``1 + k``;
* bass (monophonic, ``BASS_N`` pitches from ``BASS_LO``): ``bass[t]`` likewise;
* accompaniment (polyphonic, ``ACC_N`` pitches from ``ACC_LO``): ``acc[t, k]`` onset flags, with one
  duration token and one velocity bin shared by the step's onsets (block chords and their pulse).

Durations are tokens ``DURATIONS`` (in steps); a monophonic note ends at its duration or at the part's
next onset, whichever comes first. The grid also holds each part's *sounding state* (which notes
continue into the next step and the last pitch played), derived from the events, so the network sees
what is held and the interval it moves by.

The codec knows nothing of torch (as in note-seq); the network is in ``model.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

STEPS_PER_BAR = 16
DURATIONS = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32], dtype=np.int64)
N_DUR = int(DURATIONS.shape[0])
MEL_LO, MEL_N = 48, 48  # C3..B6
BASS_LO, BASS_N = 28, 32  # E1..B3
ACC_LO, ACC_N = 36, 60  # C2..B6
BASS_SPLIT = 55  # accompaniment notes below G3 that are the lowest sounding voice become bass
VEL_BINS = 16
VEL_WIDTH = 128 // VEL_BINS


def _layout() -> dict[str, slice]:
    sizes = [
        ("mel", MEL_N + 1),
        ("mel_dur", N_DUR),
        ("mel_vel", VEL_BINS),
        ("bass", BASS_N + 1),
        ("bass_dur", N_DUR),
        ("bass_vel", VEL_BINS),
        ("acc", ACC_N),
        ("acc_dur", N_DUR),
        ("acc_vel", VEL_BINS),
        ("mel_sound", 1),
        ("mel_last", MEL_N),
        ("bass_sound", 1),
        ("bass_last", BASS_N),
        ("acc_sound", ACC_N),
    ]
    out: dict[str, slice] = {}
    pos = 0
    for name, n in sizes:
        out[name] = slice(pos, pos + n)
        pos += n
    return out


SL = _layout()
FRAME_DIM = SL["acc_sound"].stop
# The per-step event fields of a Grid (the rest of it is sounding state derived from these).
EVENTS = ("mel", "mel_dur", "mel_vel", "bass", "bass_dur", "bass_vel", "acc", "acc_dur", "acc_vel")


@dataclass
class Notes:
    """Notes of one part in grid steps: parallel int arrays ``start``, ``dur``, ``pitch``, ``vel``."""

    start: np.ndarray
    dur: np.ndarray
    pitch: np.ndarray
    vel: np.ndarray

    @staticmethod
    def empty() -> Notes:
        z = np.zeros(0, dtype=np.int64)
        return Notes(z, z.copy(), z.copy(), z.copy())

    @staticmethod
    def from_rows(rows: list[tuple[int, int, int, int]]) -> Notes:
        if not rows:
            return Notes.empty()
        a = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
        return Notes(a[:, 0], a[:, 1], a[:, 2], a[:, 3])

    def rows(self) -> list[tuple[int, int, int, int]]:
        return list(zip(self.start.tolist(), self.dur.tolist(), self.pitch.tolist(), self.vel.tolist(), strict=True))

    def select(self, keep: np.ndarray) -> Notes:
        return Notes(self.start[keep], self.dur[keep], self.pitch[keep], self.vel[keep])

    def __len__(self) -> int:
        return int(self.start.shape[0])


@dataclass
class Grid:
    """A piece as per-step events and sounding state (see the module docstring); all arrays have T rows."""

    mel: np.ndarray  # (T,) int64: 0 none, 1 + k onset
    mel_dur: np.ndarray  # (T,) int64 duration token (meaningful at onsets)
    mel_vel: np.ndarray  # (T,) int64 velocity bin
    bass: np.ndarray
    bass_dur: np.ndarray
    bass_vel: np.ndarray
    acc: np.ndarray  # (T, ACC_N) bool onsets
    acc_dur: np.ndarray
    acc_vel: np.ndarray
    mel_sound: np.ndarray  # (T,) bool: a melody note continues into step t + 1
    mel_last: np.ndarray  # (T,) int64: last melody pitch index played up to t, -1 none
    bass_sound: np.ndarray
    bass_last: np.ndarray
    acc_sound: np.ndarray  # (T, ACC_N) bool

    @staticmethod
    def empty(steps: int) -> Grid:
        z = np.zeros(steps, np.int64)
        return Grid(
            z.copy(), z.copy(), np.full(steps, 10, np.int64),
            z.copy(), z.copy(), np.full(steps, 9, np.int64),
            np.zeros((steps, ACC_N), bool), z.copy(), np.full(steps, 8, np.int64),
            np.zeros(steps, bool), np.full(steps, -1, np.int64),
            np.zeros(steps, bool), np.full(steps, -1, np.int64),
            np.zeros((steps, ACC_N), bool),
        )  # fmt: skip

    @property
    def steps(self) -> int:
        return int(self.mel.shape[0])

    @property
    def bars(self) -> int:
        return self.steps // STEPS_PER_BAR

    def slice_steps(self, start: int, stop: int) -> Grid:
        return Grid(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})

    def copy(self) -> Grid:
        return Grid(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


def vel_to_bin(v: np.ndarray | int) -> np.ndarray:
    return np.asarray(np.clip(np.asarray(v) // VEL_WIDTH, 0, VEL_BINS - 1), dtype=np.int64)


def bin_to_vel(b: np.ndarray | int) -> np.ndarray:
    return np.asarray(np.clip(np.asarray(b) * VEL_WIDTH + VEL_WIDTH // 2, 1, 127), dtype=np.int64)


def dur_to_token(steps: np.ndarray | int) -> np.ndarray:
    """Nearest duration token on a log scale (1 step = a 16th)."""
    s = np.maximum(np.asarray(steps, dtype=np.float64), 1.0)
    d = np.abs(np.log(s)[..., None] - np.log(DURATIONS.astype(np.float64)))
    return np.asarray(np.argmin(d, axis=-1), dtype=np.int64)


def fold_pitch(p: np.ndarray, lo: int, n: int) -> np.ndarray:
    """Move pitches into ``[lo, lo + n)`` by whole octaves."""
    p = np.asarray(p, dtype=np.int64).copy()
    while np.any(p < lo):
        p = np.where(p < lo, p + 12, p)
    while np.any(p >= lo + n):
        p = np.where(p >= lo + n, p - 12, p)
    return p


def split_bass(acc: Notes) -> tuple[Notes, Notes]:
    """(bass, rest) of a piano part: a note below ``BASS_SPLIT`` is bass when it is the lowest note of its
    onset and no lower note is still sounding (the left hand's bottom line, held roots and walking figures)."""
    if len(acc) == 0:
        return Notes.empty(), Notes.empty()
    order = np.lexsort((acc.pitch, acc.start))
    is_bass = np.zeros(len(acc), bool)
    sounding: list[tuple[int, int]] = []  # (end, pitch) of earlier notes
    last_start = -1
    for i in order.tolist():
        s, p = int(acc.start[i]), int(acc.pitch[i])
        if s != last_start:
            sounding = [(e, q) for e, q in sounding if e > s]
            lowest_here = True
            last_start = s
        else:
            lowest_here = False  # a higher note of the same onset
        if lowest_here and p < BASS_SPLIT and all(q >= p for _, q in sounding):
            is_bass[i] = True
        sounding.append((s + int(acc.dur[i]), p))
    return acc.select(is_bass), acc.select(~is_bass)


def _place_mono(g_on: np.ndarray, g_dur: np.ndarray, g_vel: np.ndarray, notes: Notes, lo: int, n: int) -> None:
    T = g_on.shape[0]
    p = fold_pitch(notes.pitch, lo, n)
    order = np.lexsort((-p, notes.start))  # among simultaneous onsets the highest wins
    taken = np.zeros(T, bool)
    for i in order.tolist():
        s = int(notes.start[i])
        if 0 <= s < T and not taken[s]:
            taken[s] = True
            g_on[s] = 1 + int(p[i] - lo)
            g_vel[s] = int(vel_to_bin(notes.vel[i]))
            g_dur[s] = -int(notes.dur[i])  # raw length for now; tokens after gaps are known
    ons = np.nonzero(g_on)[0]
    if ons.size:
        gaps = np.diff(np.append(ons, max(T, int(ons[-1]) + 1)))
        g_dur[ons] = dur_to_token(np.minimum(-g_dur[ons], np.maximum(gaps, 1)))


def grid_from_parts(mel: Notes, bass: Notes, acc: Notes, steps: int) -> Grid:
    """Place the three parts' notes on a grid of ``steps`` steps (notes outside are dropped, pitches folded
    into each part's range by octaves); the sounding state is derived."""
    g = Grid.empty(steps)
    _place_mono(g.mel, g.mel_dur, g.mel_vel, mel, MEL_LO, MEL_N)
    _place_mono(g.bass, g.bass_dur, g.bass_vel, bass, BASS_LO, BASS_N)
    ok = (acc.start >= 0) & (acc.start < steps)
    s = acc.start[ok]
    k = fold_pitch(acc.pitch[ok], ACC_LO, ACC_N) - ACC_LO
    g.acc[s, k] = True
    on = np.unique(s)
    if on.size:
        # One duration and velocity per step: the median of the step's onsets.
        order = np.argsort(s, kind="stable")
        ss, dd, vv = s[order], acc.dur[ok][order], acc.vel[ok][order]
        bounds = np.searchsorted(ss, on)
        ends = np.append(bounds[1:], ss.shape[0])
        for t, a, b in zip(on.tolist(), bounds.tolist(), ends.tolist(), strict=True):
            g.acc_dur[t] = int(dur_to_token(int(np.median(dd[a:b]))))
            g.acc_vel[t] = int(vel_to_bin(int(np.median(vv[a:b]))))
    derive_state(g)
    return g


def derive_state(g: Grid, start: int = 0) -> None:
    """Recompute the sounding state of ``g`` from its events, from step ``start`` on."""
    T = g.steps
    for on, dur, sound, last in (
        (g.mel, g.mel_dur, g.mel_sound, g.mel_last),
        (g.bass, g.bass_dur, g.bass_sound, g.bass_last),
    ):
        end, lp = 0, -1
        if start > 0:
            lp = int(last[start - 1])
            end = _mono_end_before(on, dur, start)
        for t in range(start, T):
            if on[t]:
                end, lp = t + int(DURATIONS[dur[t]]), int(on[t]) - 1
            sound[t] = end > t + 1
            last[t] = lp
    acc_end = np.zeros(ACC_N, np.int64)
    if start > 0:
        for t in range(max(0, start - 32), start):
            acc_end[g.acc[t]] = t + int(DURATIONS[g.acc_dur[t]])
    for t in range(start, T):
        if g.acc[t].any():
            acc_end[g.acc[t]] = t + int(DURATIONS[g.acc_dur[t]])
        g.acc_sound[t] = acc_end > t + 1


def _mono_end_before(on: np.ndarray, dur: np.ndarray, start: int) -> int:
    prev = np.nonzero(on[:start])[0]
    if prev.size == 0:
        return 0
    t = int(prev[-1])
    return t + int(DURATIONS[dur[t]])


def _mono_notes(on: np.ndarray, dur: np.ndarray, vel: np.ndarray, lo: int) -> Notes:
    ons = np.nonzero(on)[0]
    if ons.size == 0:
        return Notes.empty()
    T = on.shape[0]
    nxt = np.append(ons[1:], T)
    d = np.minimum(DURATIONS[dur[ons]], nxt - ons)
    return Notes(ons.astype(np.int64), d.astype(np.int64), lo + on[ons] - 1, bin_to_vel(vel[ons]))


def parts_from_grid(g: Grid) -> tuple[Notes, Notes, Notes]:
    """Decode a grid into (melody, bass, accompaniment) notes, each ending at the grid's end."""
    T = g.steps
    mel = _mono_notes(g.mel, g.mel_dur, g.mel_vel, MEL_LO)
    bass = _mono_notes(g.bass, g.bass_dur, g.bass_vel, BASS_LO)
    t, k = np.nonzero(g.acc)
    if t.size:
        d = DURATIONS[g.acc_dur[t]]
        # A repeated pitch cuts the earlier note.
        order = np.lexsort((t, k))
        tt, kk = t[order], k[order]
        nxt = np.append(tt[1:], T)
        same = np.append(kk[1:] == kk[:-1], False)
        gap = np.where(same, nxt - tt, T - tt)
        d_sorted = np.minimum(d[order], gap)
        back = np.lexsort((kk, tt))
        acc = Notes(tt[back], d_sorted[back], ACC_LO + kk[back], bin_to_vel(g.acc_vel[tt[back]]))
    else:
        acc = Notes.empty()
    for n in (mel, bass, acc):
        n.dur = np.maximum(1, np.minimum(n.dur, T - n.start))
    return mel, bass, acc


def encode(g: Grid) -> np.ndarray:
    """Network input vectors, one per step: (T, FRAME_DIM) float32 (layout in ``SL``)."""
    T = g.steps
    x = np.zeros((T, FRAME_DIM), np.float32)
    r = np.arange(T)
    for part, lo_slice in (("mel", "mel"), ("bass", "bass")):
        on = getattr(g, part)
        x[r, SL[lo_slice].start + on] = 1.0
        has = on > 0
        x[r[has], SL[f"{part}_dur"].start + getattr(g, f"{part}_dur")[has]] = 1.0
        x[r[has], SL[f"{part}_vel"].start + getattr(g, f"{part}_vel")[has]] = 1.0
        x[:, SL[f"{part}_sound"]] = getattr(g, f"{part}_sound")[:, None]
        last = getattr(g, f"{part}_last")
        known = last >= 0
        x[r[known], SL[f"{part}_last"].start + last[known]] = 1.0
    x[:, SL["acc"]] = g.acc
    has = g.acc.any(axis=1)
    x[r[has], SL["acc_dur"].start + g.acc_dur[has]] = 1.0
    x[r[has], SL["acc_vel"].start + g.acc_vel[has]] = 1.0
    x[:, SL["acc_sound"]] = g.acc_sound
    return x


def _shift_mono(on: np.ndarray, last: np.ndarray, s: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.where(on > 0, on - 1 + s, 0)
    k = np.where(k >= n, k - 12, np.where(k < 0, k + 12, k))
    lk = np.where(last >= 0, last + s, -1)
    lk = np.where(lk >= n, lk - 12, np.where((lk < 0) & (last >= 0), lk + 12, lk))
    return np.where(on > 0, k + 1, 0), lk


def _shift_poly(a: np.ndarray, s: int) -> np.ndarray:
    idx = np.arange(ACC_N) + s
    idx = np.where(idx >= ACC_N, idx - 12, np.where(idx < 0, idx + 12, idx))
    out = np.zeros_like(a)
    for k in range(ACC_N):
        out[:, idx[k]] |= a[:, k]
    return out


def transpose(g: Grid, semitones: int) -> Grid:
    """Shift every part by ``semitones`` (|s| <= 11); notes pushed out of a part's range move by an octave."""
    if semitones == 0:
        return g
    out = g.copy()
    out.mel, out.mel_last = _shift_mono(g.mel, g.mel_last, semitones, MEL_N)
    out.bass, out.bass_last = _shift_mono(g.bass, g.bass_last, semitones, BASS_N)
    out.acc = _shift_poly(g.acc, semitones)
    out.acc_sound = _shift_poly(g.acc_sound, semitones)
    return out
