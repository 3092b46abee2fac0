"""Rendered stems as training examples, with random mixing (Jeon et al., arXiv 2402.18407).

With probability ``p`` an example is a *random mix*: each stem comes from its own randomly drawn song
and offset, so the network sees combinations no song contains; otherwise all stems come from one song
at one offset (a coherent mix). Each stem also gets a random gain and, half the time, swapped
channels. ``p = 0`` is the usual coherent training.

Records are mastered, so (with ``master``) most examples are mastered here, after mixing: a bus
compressor and limiter drive the mix to a drawn loudness (:mod:`models.data.production`), as a gain
envelope applied to every stem so the stems still add up to the mix. With ``level_dbfs`` every example
is then brought to the loudness the runtime feeds the network (``INPUT_RMS_DBFS``) within a random
+-``level_jitter_db``: training sees what inference sees, and the jitter covers the level spread that
per-chunk normalisation leaves."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from models.data.production import draw_master, master_gain
from models.data.recipe import STEMS
from models.data.synth import SAMPLE_RATE


class StemBank:
    """The cached renders of one set (``<id>.npy``: int16 (stems, 2, frames)), memory-mapped."""

    def __init__(self, folder: str | os.PathLike[str], limit: int = 0, ids: list[str] | None = None) -> None:
        folder = Path(folder)
        names = sorted(p.stem for p in folder.glob("*.npy") if not p.name.startswith("."))  # not a write in progress
        if ids is not None:
            have = set(names)
            names = [n for n in ids if n in have]
        if limit:
            names = names[:limit]
        if not names:
            raise FileNotFoundError(f"no rendered songs in {folder}: run python -m models.separator.render")
        self.ids = names
        self.arrays = [np.load(folder / f"{n}.npy", mmap_mode="r") for n in names]
        if any(a.shape[0] != len(STEMS) or a.shape[1] != 2 for a in self.arrays):
            raise ValueError(f"{folder}: renders must be (stems={len(STEMS)}, 2, frames)")

    def __len__(self) -> int:
        return len(self.arrays)

    def song(self, i: int) -> np.ndarray:
        """(stems, 2, frames) float32 in [-1, 1]."""
        return np.asarray(self.arrays[i], np.float32) / 32767.0


class RandomMixSampler:
    """Draws batches of (mixture (b, 2, n), stems (b, stems, 2, n)) float32."""

    def __init__(
        self,
        bank: StemBank,
        segment: int,
        p: float,
        seed: int,
        gain_db: tuple[float, float] = (-6.0, 3.0),
        swap: bool = True,
        master: float = 0.0,
        master_lufs: tuple[float, float] = (-14.0, -8.0),
        level_dbfs: float | None = None,
        level_jitter_db: float = 6.0,
    ) -> None:
        self.bank, self.segment, self.p = bank, segment, float(p)
        self.rng = np.random.default_rng(seed)
        self.gain_db, self.swap = gain_db, swap
        self.master, self.master_lufs = float(master), master_lufs
        self.level_dbfs, self.level_jitter_db = level_dbfs, level_jitter_db

    def _clip(self, song: int, stem: int, start: int) -> np.ndarray:
        a = self.bank.arrays[song]
        return np.asarray(a[stem, :, start : start + self.segment], np.float32) / 32767.0

    def _start(self, song: int) -> int:
        return int(self.rng.integers(0, max(1, self.bank.arrays[song].shape[-1] - self.segment)))

    def example(self) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.bank)
        anchor = int(self.rng.integers(n))
        start = self._start(anchor)
        random_mix = self.rng.random() < self.p
        stems = np.zeros((len(STEMS), 2, self.segment), np.float32)
        for s in range(len(STEMS)):
            song, off = anchor, start
            if random_mix:
                song = int(self.rng.integers(n))
                off = self._start(song)
            x = self._clip(song, s, off)
            x = x * np.float32(10 ** (self.rng.uniform(*self.gain_db) / 20))
            if self.swap and self.rng.random() < 0.5:
                x = x[::-1]
            stems[s, :, : x.shape[-1]] = x
        mix = stems.sum(0)
        if self.master > 0 and self.rng.random() < self.master:
            g = master_gain(mix, SAMPLE_RATE, draw_master(self.rng, self.master_lufs))
            stems *= g
            mix *= g
        if self.level_dbfs is not None:
            rms = float(np.sqrt(np.mean(mix**2)))
            if rms > 1e-6:
                j = self.level_jitter_db
                k = np.float32(10 ** ((self.level_dbfs + self.rng.uniform(-j, j)) / 20) / rms)
                stems *= k
                mix *= k
            return mix, stems
        peak = float(np.abs(mix).max())
        if peak > 1.0:
            stems /= peak
            mix /= peak
        return mix, stems

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        pairs = [self.example() for _ in range(size)]
        return np.stack([m for m, _ in pairs]), np.stack([s for _, s in pairs])
