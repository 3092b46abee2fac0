"""Preallocated single-producer/single-consumer audio ring between the render thread and the callback.

The consumer is native code (:mod:`engine.callback`), so the ring's indices and counters live in one int64
*state* array that both sides read without a lock (its layout is defined there). Indices only grow; the
producer owns ``written`` and the consumer owns ``read``. Blocks are written whole, so every block slot
also records the timeline position it holds (-1 for silence while stopped).
"""

from __future__ import annotations

import numpy as np

from engine import callback as cb


class Capture:
    """A preallocated recording of what the device played, indexed by timeline frame."""

    def __init__(self, frames: int, channels: int) -> None:
        self.audio = np.zeros((frames, channels), dtype=np.float32)
        # what the callback reads: the audio's address and length, and the frames recorded so far
        self.descriptor = np.array([self.audio.ctypes.data, frames, 0], np.int64)

    @property
    def last(self) -> int:
        """One past the highest timeline frame recorded."""
        return int(self.descriptor[cb.CAPTURE_LAST])

    def result(self) -> np.ndarray:
        """(channels, frames) from timeline frame 0 to the last frame recorded."""
        return np.ascontiguousarray(self.audio[: self.last].T)


class AudioRing:
    def __init__(self, channels: int, block: int, blocks: int) -> None:
        self.block = block
        self.blocks = blocks
        self.capacity = block * blocks
        self.data = np.zeros((self.capacity, channels), dtype=np.float32)
        self.positions = np.full(blocks, -1, dtype=np.int64)
        self.durations = np.zeros(cb.TIMING_SLOTS, dtype=np.float64)
        self.state = np.zeros(cb.STATE_SIZE, dtype=np.int64)
        s = self.state
        s[cb.HEARD] = -1  # timeline frame at the start of the last callback's buffer
        s[cb.DATA_PTR], s[cb.POSITIONS_PTR] = self.data.ctypes.data, self.positions.ctypes.data
        s[cb.DURATIONS_PTR] = self.durations.ctypes.data
        s[cb.CAPACITY], s[cb.BLOCK], s[cb.BLOCKS], s[cb.CHANNELS] = self.capacity, block, blocks, channels
        self._capture: Capture | None = None
        # every capture handed over stays alive with the ring: a callback that loaded its descriptor just
        # before it was replaced may still write into it
        self._kept: list[Capture] = []

    @property
    def written(self) -> int:
        return int(self.state[cb.WRITTEN])

    @property
    def read(self) -> int:
        return int(self.state[cb.READ])

    @property
    def heard(self) -> int:
        """Timeline frame at the start of the last callback's buffer (-1: silence, stopped)."""
        return int(self.state[cb.HEARD])

    @property
    def underruns(self) -> int:
        """Periods the callback found the ring dry while the timeline played."""
        return int(self.state[cb.UNDERRUNS])

    @property
    def device_xruns(self) -> int:
        """Periods the device reported late (output underflow) while the timeline played."""
        return int(self.state[cb.DEVICE_XRUNS])

    @property
    def callbacks(self) -> int:
        return int(self.state[cb.CALLBACKS])

    @property
    def xruns(self) -> int:
        return self.underruns + self.device_xruns

    @property
    def first_audio(self) -> float | None:
        """:func:`engine.callback.monotonic_ns` / 1e9 of the first period that played audio (None: none yet)."""
        ns = int(self.state[cb.FIRST_AUDIO_NS])
        return ns * 1e-9 if ns else None

    def recent_durations(self) -> np.ndarray:
        """The last callbacks' durations (s), oldest slots first (up to TIMING_SLOTS)."""
        return self.durations[: min(self.callbacks, cb.TIMING_SLOTS)].copy()

    @property
    def callback_thread(self) -> int:
        """The callback thread's id as the scheduler knows it (0: not run yet; -1: unknown here)."""
        return int(self.state[cb.TID])

    def writable(self) -> int:
        return self.capacity - (self.written - self.read)

    def readable(self) -> int:
        return self.written - self.read

    def write(self, block: np.ndarray, position: int) -> None:
        """Producer: append one block (channels, block) rendered at timeline ``position`` (-1: silence)."""
        written = self.written
        slot = (written // self.block) % self.blocks
        start = slot * self.block
        self.data[start : start + self.block] = block.T
        self.positions[slot] = position
        cb.publish(self.state, cb.WRITTEN, written + self.block)

    @property
    def capture(self) -> Capture | None:
        return self._capture

    @capture.setter
    def capture(self, cap: Capture | None) -> None:
        """Record what the callback plays into ``cap`` from its next period on (None: stop recording)."""
        if cap is not None:
            if cap.audio.shape[1] != self.state[cb.CHANNELS]:
                raise ValueError(f"a capture needs {self.state[cb.CHANNELS]} channels")
            self._kept.append(cap)
        self._capture = cap
        cb.publish(self.state, cb.CAPTURE, 0 if cap is None else cap.descriptor.ctypes.data)

    def reset_counters(self) -> None:
        """Zero the callback's counters and timings (a new output starts; none is running)."""
        s = self.state
        for slot in (cb.UNDERRUNS, cb.DEVICE_XRUNS, cb.CALLBACKS, cb.FIRST_AUDIO_NS, cb.TID):
            s[slot] = 0
        self.durations[:] = 0.0
