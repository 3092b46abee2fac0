"""Preallocated single-producer/single-consumer audio ring between the render thread and the callback.

Indices only grow; the producer owns ``written`` and the consumer owns ``read``. Each is a plain int
assignment, atomic under the GIL, so neither side takes a lock. Blocks are written whole, so every
block slot also records the timeline position it holds (-1 for silence while stopped).
"""

from __future__ import annotations

import numpy as np


class Capture:
    """A preallocated recording of what the device played, indexed by timeline frame."""

    def __init__(self, frames: int, channels: int) -> None:
        self.audio = np.zeros((frames, channels), dtype=np.float32)
        self.last = 0  # one past the highest timeline frame recorded

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
        self.written = 0
        self.read = 0
        self.heard = -1  # timeline frame at the start of the last callback's buffer
        self.capture: Capture | None = None

    def writable(self) -> int:
        return self.capacity - (self.written - self.read)

    def readable(self) -> int:
        return self.written - self.read

    def write(self, block: np.ndarray, position: int) -> None:
        """Producer: append one block (channels, block) rendered at timeline ``position`` (-1: silence)."""
        slot = (self.written // self.block) % self.blocks
        start = slot * self.block
        self.data[start : start + self.block] = block.T
        self.positions[slot] = position
        self.written += self.block

    def read_into(self, out: np.ndarray) -> int:
        """Consumer: copy up to ``len(out)`` frames into ``out`` (frames, channels); returns frames copied."""
        frames = min(int(out.shape[0]), self.written - self.read)
        done = 0
        slot = -1
        while done < frames:
            r = self.read + done
            slot = (r // self.block) % self.blocks
            off = r % self.block
            m = min(self.block - off, frames - done)
            start = slot * self.block + off
            out[done : done + m] = self.data[start : start + m]
            pos = self.positions[slot]
            cap = self.capture
            if cap is not None and pos >= 0:
                at = pos + off
                if at + m <= cap.audio.shape[0]:
                    cap.audio[at : at + m] = self.data[start : start + m]
                    if at + m > cap.last:
                        cap.last = at + m
            if done == 0:
                self.heard = int(pos) + off if pos >= 0 else -1
            done += m
        self.read += frames
        return frames
