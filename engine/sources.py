"""What a track plays: audio clips (the clip player) and MIDI clips (events for the track's instrument)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.plugin import MidiEvent, Param, Plugin
from models.errors import UserError


@dataclass(frozen=True)
class AudioClipData:
    """Decoded clip audio at the engine rate, placed at ``start`` frames on the timeline."""

    audio: np.ndarray  # (channels, frames) float32
    start: int
    gain: float = 1.0

    @property
    def end(self) -> int:
        return self.start + int(self.audio.shape[1])


class ClipPlayer(Plugin):
    """Source plugin that reads a track's audio clips at the transport position, sample-accurately."""

    kind = "clips"

    def __init__(self, clips: Sequence[AudioClipData]) -> None:
        super().__init__([Param("gain_db", -60.0, 12.0, 0.0, "dB")])
        self.clips = tuple(sorted(clips, key=lambda c: c.start))
        self.position = 0

    @property
    def end(self) -> int:
        return max((c.end for c in self.clips), default=0)

    def locate(self, frame: int) -> None:
        self.position = frame

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        n = buf.shape[1]
        lo, hi = self.position, self.position + n
        buf[...] = 0.0
        gain = float(10.0 ** (self.values()["gain_db"] / 20.0))
        for c in self.clips:
            if c.end <= lo or c.start >= hi:
                continue
            a, b = max(lo, c.start), min(hi, c.end)
            src = c.audio[:, a - c.start : b - c.start]
            dst = buf[:, a - lo : b - lo]
            if src.shape[0] == dst.shape[0]:
                dst += src * (c.gain * gain)
            else:  # mono clip on a stereo track: centred, same level in both channels
                dst += src[:1] * (c.gain * gain)
        self.position = hi


@dataclass(frozen=True)
class MidiSequence:
    """A track's MIDI events as parallel arrays sorted by frame, sliced per block with searchsorted."""

    frames: np.ndarray  # int64
    status: np.ndarray  # uint8
    data1: np.ndarray
    data2: np.ndarray
    end: int  # last event frame plus the release tail

    def block(self, start: int, n: int) -> list[MidiEvent]:
        i0 = int(np.searchsorted(self.frames, start, "left"))
        i1 = int(np.searchsorted(self.frames, start + n, "left"))
        return [
            MidiEvent(int(self.frames[i] - start), int(self.status[i]), int(self.data1[i]), int(self.data2[i]))
            for i in range(i0, i1)
        ]

    def chase(self, frame: int) -> list[MidiEvent]:
        """Program and controller state in force at ``frame``, to resend after a seek (notes are not chased)."""
        latest: dict[tuple[int, int], MidiEvent] = {}
        i1 = int(np.searchsorted(self.frames, frame, "left"))
        for i in range(i1):
            kind = int(self.status[i]) & 0xF0
            if kind in (0xB0, 0xC0, 0xE0):
                key = (int(self.status[i]), int(self.data1[i]) if kind == 0xB0 else -1)
                latest[key] = MidiEvent(0, int(self.status[i]), int(self.data1[i]), int(self.data2[i]))
        return list(latest.values())

    @staticmethod
    def merge(parts: Sequence[MidiSequence]) -> MidiSequence:
        if not parts:
            e = np.zeros(0, np.int64)
            return MidiSequence(e, e.astype(np.uint8), e.astype(np.uint8), e.astype(np.uint8), 0)
        frames = np.concatenate([p.frames for p in parts])
        order = np.argsort(frames, kind="stable")
        return MidiSequence(
            frames[order],
            np.concatenate([p.status for p in parts])[order],
            np.concatenate([p.data1 for p in parts])[order],
            np.concatenate([p.data2 for p in parts])[order],
            max(p.end for p in parts),
        )


def load_midi_clip(path: str | os.PathLike[str], sample_rate: int, start: int = 0, tail: int = 0) -> MidiSequence:
    """Read a MIDI file into frame-stamped events (tempo map applied), placed at ``start``."""
    import mido

    try:
        mid = mido.MidiFile(os.fspath(path))
        messages = list(mid)
    except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
        raise UserError(f"cannot read MIDI file {os.fspath(path)}: {exc}") from exc
    frames: list[int] = []
    status: list[int] = []
    d1: list[int] = []
    d2: list[int] = []
    now = 0.0
    for msg in messages:
        now += msg.time
        if msg.is_meta or msg.type == "sysex":
            continue
        raw = msg.bytes()
        if len(raw) < 2 or raw[0] >= 0xF0:
            continue
        frames.append(start + round(now * sample_rate))
        status.append(raw[0])
        d1.append(raw[1])
        d2.append(raw[2] if len(raw) > 2 else 0)
    f = np.asarray(frames, dtype=np.int64)
    order = np.argsort(f, kind="stable")
    end = start + round(now * sample_rate) + tail
    return MidiSequence(
        f[order],
        np.asarray(status, np.uint8)[order],
        np.asarray(d1, np.uint8)[order],
        np.asarray(d2, np.uint8)[order],
        end,
    )
