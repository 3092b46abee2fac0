"""Training examples for the splitter: a fixed pool of duet mixtures, drawn once from a seed, so dynamic
sample dropout can remember each example across epochs (Gao, Gu and Marsic, arXiv 2311.12199).

With probability ``p`` an example is a *random mix* (Jeon et al., arXiv 2402.18407): its two sources come
from two different songs' renders of the same timbre (same SoundFont and program, both sung, or both
speech); otherwise it is a coherent duet, the two sources of one render at one offset, inside its usable
(not doubled) seconds. Each source gets a gain within +-3 dB, so the two sit within 6 dB of each other, and
segments where either source is nearly silent are not drawn."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.splitter.data import MIN_ACTIVE, RATE, activity


class DuetBank:
    """The cached duets of one set: ``<song>-<kind>.npy`` int16 (2, frames) with their ``.json``."""

    def __init__(self, folder: str | os.PathLike[str], limit: int = 0, kinds: tuple[str, ...] = ()) -> None:
        folder = Path(folder)
        names = sorted(p.stem for p in folder.glob("*.npy") if not p.name.startswith("."))
        if kinds:
            names = [n for n in names if n.rsplit("-", 1)[-1] in kinds]
        if limit:
            songs = sorted({n.split("-", 1)[0] for n in names})[:limit]
            names = [n for n in names if n.split("-", 1)[0] in songs]
        if not names:
            raise FileNotFoundError(f"no rendered duets in {folder}: run python -m models.splitter.render")
        self.names = names
        self.arrays = [np.load(folder / f"{n}.npy", mmap_mode="r") for n in names]
        metas = [json.loads((folder / f"{n}.json").read_text()) for n in names]
        self.usable = [np.asarray(m["usable"], bool) for m in metas]
        self.timbre = [str(m["recipe"]["timbre"]) for m in metas]
        self.kind = [str(m["recipe"]["kind"]) for m in metas]
        self.song = [str(m["recipe"]["song"]) for m in metas]

    def __len__(self) -> int:
        return len(self.arrays)

    def duet(self, i: int) -> np.ndarray:
        """(2, frames) float32."""
        return np.asarray(self.arrays[i], np.float32) / 32767.0


@dataclass(frozen=True)
class Example:
    """One pool entry: source k is ``bank[render[k]]``'s source ``source[k]`` from ``offset[k]``."""

    render: tuple[int, int]
    source: tuple[int, int]
    offset: tuple[int, int]
    gain_db: tuple[float, float]


def _active(x: np.ndarray, frame: int) -> float:
    """Share of ``frame``-long frames above -40 dB relative to the loudest one."""
    n = len(x) // frame
    if n == 0:
        return 0.0
    e = np.square(x[: n * frame].reshape(n, frame)).mean(1)
    return float(np.mean(e > 1e-4 * e.max())) if e.max() > 0 else 0.0


class DuetPool:
    """``size`` examples of ``segment`` samples drawn from ``bank`` with random-mix probability ``p``;
    :meth:`batch` returns (mixtures (b, 1, n), sources (b, 2, n)) float32 for pool ids."""

    def __init__(self, bank: DuetBank, size: int, segment: int, p: float, seed: int, min_active: float = 0.5) -> None:
        self.bank, self.segment, self.p = bank, segment, float(p)
        rng = np.random.default_rng(seed)
        by_timbre: dict[str, list[int]] = {}
        for i, t in enumerate(bank.timbre):
            by_timbre.setdefault(t, []).append(i)
        self.examples: list[Example] = []
        self.random_mixes = 0
        tries = 0
        while len(self.examples) < size and tries < size * 50:
            tries += 1
            ex = self._draw(rng, by_timbre)
            if ex is not None and all(_active(s, RATE // 10) >= min_active for s in self._sources(ex)):
                self.examples.append(ex)
                self.random_mixes += int(ex.render[0] != ex.render[1])
        if not self.examples:
            raise ValueError("no usable duet segment in the bank (renders too short or silent)")

    def _offset(self, rng: np.random.Generator, i: int) -> int | None:
        """A start whose whole segment lies in usable seconds and inside the render: on a whole second plus
        a jitter, where the seconds after leave room for it."""
        n = self.bank.arrays[i].shape[-1]
        usable = self.bank.usable[i]
        for span in (-(-self.segment // RATE) + 1, -(-self.segment // RATE)):
            room = span * RATE - self.segment  # the jitter that keeps the segment inside the span
            starts = [
                s for s in range(len(usable) - span + 1) if usable[s : s + span].all() and s * RATE + self.segment <= n
            ]
            if starts:
                s = starts[int(rng.integers(len(starts)))]
                return int(min(s * RATE + int(rng.integers(0, room + 1)), n - self.segment))
        return None

    def _draw(self, rng: np.random.Generator, by_timbre: dict[str, list[int]]) -> Example | None:
        a = int(rng.integers(len(self.bank)))
        gains = (float(rng.uniform(-3, 3)), float(rng.uniform(-3, 3)))
        partners = [j for j in by_timbre[self.bank.timbre[a]] if self.bank.song[j] != self.bank.song[a]]
        if partners and rng.random() < self.p:
            b = int(rng.choice(partners))
            oa, ob = self._offset(rng, a), self._offset(rng, b)
            if oa is None or ob is None:
                return None
            src = (int(rng.integers(2)), int(rng.integers(2)))
            return Example((a, b), src, (oa, ob), gains)
        off = self._offset(rng, a)
        return None if off is None else Example((a, a), (0, 1), (off, off), gains)

    def _sources(self, ex: Example) -> np.ndarray:
        out = np.zeros((2, self.segment), np.float32)
        for k in range(2):
            arr = self.bank.arrays[ex.render[k]]
            x = np.asarray(arr[ex.source[k], ex.offset[k] : ex.offset[k] + self.segment], np.float32) / 32767.0
            out[k, : len(x)] = x * np.float32(10 ** (ex.gain_db[k] / 20))
        return out

    def __len__(self) -> int:
        return len(self.examples)

    def batch(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        src = np.stack([self._sources(self.examples[int(i)]) for i in ids])
        return src.sum(1, keepdims=True), src


def usable_clip(bank: DuetBank, i: int, seconds: float, hop: int) -> np.ndarray | None:
    """The evaluation clip of render ``i``: (2, n) float32, n a multiple of ``hop`` and at most ``seconds``,
    inside usable (not doubled) seconds, placed where the quieter-sounding source sounds the most; None
    when no usable stretch of a second exists or a source sounds under :data:`MIN_ACTIVE` of it (SI-SDR
    against a near-silent reference measures nothing)."""
    usable = bank.usable[i]
    runs, start = [], None
    for s, ok in enumerate([*usable.tolist(), False]):
        if ok and start is None:
            start = s
        elif not ok and start is not None:
            runs.append((start, s))
            start = None
    if not runs:
        return None
    length = min(int(np.ceil(seconds)), max(b - a for a, b in runs))
    duet = bank.duet(i)
    best, best_score = None, -1.0
    for a, b in runs:
        for s in range(a, b - length + 1):
            clip = duet[:, s * RATE : (s + length) * RATE]
            score = min(activity(clip[0])[0], activity(clip[1])[0])
            if score > best_score:
                best, best_score = clip, score
    if best is None or best_score < MIN_ACTIVE:
        return None
    n = min(best.shape[-1], round(seconds * RATE)) // hop * hop
    return best[:, :n] if n >= RATE else None
