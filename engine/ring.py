"""Preallocated single-producer/single-consumer audio ring between the render thread and the callback.

The consumer is native code (:mod:`engine.callback`), so the ring's indices and counters live in one int64
*state* array that both sides read without a lock. Indices only grow; the producer owns ``written`` and the
consumer owns ``read``. Blocks are written whole, so every block slot also records the timeline position it
holds (-1 for silence while stopped).
"""

from __future__ import annotations

import numpy as np

# state slots: counters
WRITTEN, READ, HEARD, UNDERRUNS, DEVICE_XRUNS, CALLBACKS, FIRST_AUDIO_NS, TID = range(8)
# the capture hand-over: Python sets the pending slots and bumps CAPTURE_REQ; the callback takes them over
# between two periods and answers with CAPTURE_ACK, so it never writes through a half-changed pointer
CAPTURE_REQ, CAPTURE_ACK, CAPTURE_LAST, CAPTURE_PTR, CAPTURE_FRAMES = range(8, 13)
CAPTURE_PTR_NEXT, CAPTURE_FRAMES_NEXT = 13, 14
# state slots: the arrays (addresses and shapes), fixed when the ring is made
DATA_PTR, POSITIONS_PTR, DURATIONS_PTR, CAPACITY, BLOCK, BLOCKS, CHANNELS = range(15, 22)
TIMESPEC = 22  # two slots the callback's clock reads write into (no allocation in the callback)
STATE_SIZE = 24
TIMING_SLOTS = 1 << 16


class Capture:
    """A preallocated recording of what the device played, indexed by timeline frame."""

    def __init__(self, frames: int, channels: int) -> None:
        self.audio = np.zeros((frames, channels), dtype=np.float32)
        self._state: np.ndarray | None = None  # the ring recording into it, set by AudioRing.capture

    @property
    def last(self) -> int:
        """One past the highest timeline frame recorded."""
        s = self._state
        if s is None or s[CAPTURE_ACK] != s[CAPTURE_REQ] or s[CAPTURE_PTR] != self.audio.ctypes.data:
            return 0  # not (yet) the ring's capture
        return int(s[CAPTURE_LAST])

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
        self.durations = np.zeros(TIMING_SLOTS, dtype=np.float64)
        self.state = np.zeros(STATE_SIZE, dtype=np.int64)
        s = self.state
        s[HEARD] = -1  # timeline frame at the start of the last callback's buffer
        s[DATA_PTR], s[POSITIONS_PTR] = self.data.ctypes.data, self.positions.ctypes.data
        s[DURATIONS_PTR] = self.durations.ctypes.data
        s[CAPACITY], s[BLOCK], s[BLOCKS], s[CHANNELS] = self.capacity, block, blocks, channels
        self._capture: Capture | None = None
        from engine.callback import publish  # numba: imported when a ring is made, not with the engine

        self._publish = publish
        self._kept: list[Capture] = []  # every capture handed over: the callback may write into one until it lets go

    @property
    def written(self) -> int:
        return int(self.state[WRITTEN])

    @property
    def read(self) -> int:
        return int(self.state[READ])

    @property
    def heard(self) -> int:
        """Timeline frame at the start of the last callback's buffer (-1: silence, stopped)."""
        return int(self.state[HEARD])

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
        self._publish(self.state, WRITTEN, written + self.block)

    @property
    def capture(self) -> Capture | None:
        return self._capture

    @capture.setter
    def capture(self, cap: Capture | None) -> None:
        """Record what the callback plays into ``cap`` from its next period on (None: stop recording)."""
        s = self.state
        if cap is None:
            s[CAPTURE_PTR_NEXT], s[CAPTURE_FRAMES_NEXT] = 0, 0
        else:
            if cap.audio.shape[1] != s[CHANNELS] or not cap.audio.flags.c_contiguous:
                raise ValueError("a capture needs C-contiguous (frames, channels) float32 audio")
            cap._state = s
            s[CAPTURE_PTR_NEXT], s[CAPTURE_FRAMES_NEXT] = cap.audio.ctypes.data, cap.audio.shape[0]
            self._kept.append(cap)
        self._capture = cap
        self._publish(s, CAPTURE_REQ, int(s[CAPTURE_REQ]) + 1)

    def reset_counters(self) -> None:
        """Zero the callback's counters and timings (a new output starts; none is running)."""
        s = self.state
        for slot in (UNDERRUNS, DEVICE_XRUNS, CALLBACKS, FIRST_AUDIO_NS, TID):
            s[slot] = 0
        self.durations[:] = 0.0
