"""The 16th-note grid codec: notes <-> per-step states <-> network input vectors.

A piece is a :class:`Grid` of ``T = bars * 16`` steps in 4/4 with two parts:

* melody (monophonic): per step 0 = rest, 1 = held, ``2 + k`` = onset of pitch ``MEL_LO + k``;
* accompaniment (polyphonic): per step and pitch 0 = off, 1 = onset, 2 = held;

plus a velocity bin per part and step (the mean velocity of that step's onsets).
The codec is separate from the network (as in note-seq): it knows nothing of torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS_PER_BAR = 16
MEL_LO, MEL_N = 48, 48  # C3..B6
ACC_LO, ACC_N = 24, 72  # C1..B6
MEL_CLASSES = MEL_N + 2
REST, HOLD = 0, 1
OFF, ONSET, HELD = 0, 1, 2
VEL_BINS = 8
FRAME_DIM = MEL_CLASSES + 2 * ACC_N + 2 * VEL_BINS
# Slices into an encoded frame.
SL_MEL = slice(0, MEL_CLASSES)
SL_ACC_ON = slice(MEL_CLASSES, MEL_CLASSES + ACC_N)
SL_ACC_HOLD = slice(MEL_CLASSES + ACC_N, MEL_CLASSES + 2 * ACC_N)
SL_VEL_M = slice(MEL_CLASSES + 2 * ACC_N, MEL_CLASSES + 2 * ACC_N + VEL_BINS)
SL_VEL_A = slice(MEL_CLASSES + 2 * ACC_N + VEL_BINS, FRAME_DIM)


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

    def __len__(self) -> int:
        return int(self.start.shape[0])


@dataclass
class Grid:
    """A piece on the 16th-note grid (see module docstring)."""

    mel: np.ndarray  # (T,) int64
    acc: np.ndarray  # (T, ACC_N) int8
    vel_m: np.ndarray  # (T,) int64 in [0, VEL_BINS)
    vel_a: np.ndarray  # (T,) int64 in [0, VEL_BINS)

    @staticmethod
    def empty(steps: int) -> Grid:
        return Grid(
            np.zeros(steps, np.int64),
            np.zeros((steps, ACC_N), np.int8),
            np.full(steps, 5, np.int64),
            np.full(steps, 4, np.int64),
        )

    @property
    def steps(self) -> int:
        return int(self.mel.shape[0])

    @property
    def bars(self) -> int:
        return self.steps // STEPS_PER_BAR

    def slice_steps(self, start: int, stop: int) -> Grid:
        return Grid(self.mel[start:stop], self.acc[start:stop], self.vel_m[start:stop], self.vel_a[start:stop])


def vel_to_bin(v: np.ndarray | int) -> np.ndarray:
    return np.asarray(np.clip(np.asarray(v) // 16, 0, VEL_BINS - 1), dtype=np.int64)


def bin_to_vel(b: np.ndarray | int) -> np.ndarray:
    return np.asarray(np.clip(np.asarray(b) * 16 + 8, 1, 127), dtype=np.int64)


def fold_pitch(p: np.ndarray, lo: int, n: int) -> np.ndarray:
    """Move pitches into ``[lo, lo + n)`` by whole octaves."""
    p = np.asarray(p, dtype=np.int64).copy()
    while np.any(p < lo):
        p = np.where(p < lo, p + 12, p)
    while np.any(p >= lo + n):
        p = np.where(p >= lo + n, p - 12, p)
    return p


def grid_from_notes(mel: Notes, acc: Notes, steps: int) -> Grid:
    """Place notes on a grid of ``steps`` steps; notes past the end are cut, overlaps resolved."""
    g = Grid.empty(steps)
    vm_sum = np.zeros(steps)
    vm_cnt = np.zeros(steps)
    va_sum = np.zeros(steps)
    va_cnt = np.zeros(steps)
    # Melody: later onsets cut earlier notes; among simultaneous onsets the highest wins.
    order = np.lexsort((mel.pitch, mel.start))
    mp = fold_pitch(mel.pitch, MEL_LO, MEL_N)
    for i in order:
        s = int(mel.start[i])
        if s < 0 or s >= steps:
            continue
        e = min(steps, s + max(1, int(mel.dur[i])))
        g.mel[s] = 2 + int(mp[i] - MEL_LO)
        g.mel[s + 1 : e] = HOLD
        j = e  # holds left by an earlier, longer note would now extend this one
        while j < steps and g.mel[j] == HOLD:
            g.mel[j] = REST
            j += 1
        vm_sum[s] = mel.vel[i]
        vm_cnt[s] = 1
    ap = fold_pitch(acc.pitch, ACC_LO, ACC_N)
    for i in np.argsort(acc.start, kind="stable"):
        s = int(acc.start[i])
        if s < 0 or s >= steps:
            continue
        e = min(steps, s + max(1, int(acc.dur[i])))
        k = int(ap[i] - ACC_LO)
        g.acc[s, k] = ONSET
        seg = g.acc[s + 1 : e, k]
        # Hold until the next onset of the same pitch.
        stop = np.nonzero(seg == ONSET)[0]
        upto = int(stop[0]) if stop.size else seg.shape[0]
        seg[:upto] = HELD
        va_sum[s] += acc.vel[i]
        va_cnt[s] += 1
    has_m = vm_cnt > 0
    g.vel_m[has_m] = vel_to_bin(vm_sum[has_m] / vm_cnt[has_m])
    has_a = va_cnt > 0
    g.vel_a[has_a] = vel_to_bin(va_sum[has_a] / va_cnt[has_a])
    return g


def _repair_melody_holds(mel: np.ndarray) -> None:
    """A hold after a rest is invalid; turn it into a rest."""
    sounding = False
    for t in range(mel.shape[0]):
        v = mel[t]
        if v >= 2:
            sounding = True
        elif v == REST:
            sounding = False
        elif not sounding:
            mel[t] = REST


def notes_from_grid(g: Grid) -> tuple[Notes, Notes]:
    """Decode a grid into melody and accompaniment notes (an invalid hold is ignored)."""
    mel_rows: list[tuple[int, int, int, int]] = []
    T = g.steps
    t = 0
    while t < T:
        v = int(g.mel[t])
        if v >= 2:
            e = t + 1
            while e < T and g.mel[e] == HOLD:
                e += 1
            mel_rows.append((t, e - t, MEL_LO + v - 2, int(bin_to_vel(g.vel_m[t]))))
            t = e
        else:
            t += 1
    acc_rows: list[tuple[int, int, int, int]] = []
    ons_t, ons_k = np.nonzero(g.acc == ONSET)
    for t0, k in zip(ons_t.tolist(), ons_k.tolist(), strict=True):
        e = t0 + 1
        while e < T and g.acc[e, k] == HELD:
            e += 1
        acc_rows.append((t0, e - t0, ACC_LO + k, int(bin_to_vel(g.vel_a[t0]))))
    acc_rows.sort()
    return Notes.from_rows(mel_rows), Notes.from_rows(acc_rows)


def encode(g: Grid) -> np.ndarray:
    """Network input vectors, one per step: (T, FRAME_DIM) float32."""
    T = g.steps
    x = np.zeros((T, FRAME_DIM), np.float32)
    x[np.arange(T), g.mel] = 1.0
    x[:, SL_ACC_ON] = g.acc == ONSET
    x[:, SL_ACC_HOLD] = g.acc == HELD
    x[np.arange(T), SL_VEL_M.start + g.vel_m] = 1.0
    x[np.arange(T), SL_VEL_A.start + g.vel_a] = 1.0
    return x


def transpose(g: Grid, semitones: int) -> Grid:
    """Shift both parts; notes pushed out of range are dropped (training augmentation)."""
    if semitones == 0:
        return g
    mel = g.mel.copy()
    on = mel >= 2
    k = mel[on] - 2 + semitones
    ok = (k >= 0) & (k < MEL_N)
    vals = np.where(ok, k + 2, REST)
    mel[on] = vals
    _repair_melody_holds(mel)
    acc = np.zeros_like(g.acc)
    if semitones > 0:
        acc[:, semitones:] = g.acc[:, :-semitones]
    else:
        acc[:, :semitones] = g.acc[:, -semitones:]
    return Grid(mel, acc, g.vel_m, g.vel_a)
