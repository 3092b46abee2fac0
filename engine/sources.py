"""What a track plays: audio clips (the clip player) and MIDI clips (events for the track's instrument)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.plugin import MidiEvent, Param, Plugin


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
        self._spans = tuple((c, c.start, c.end) for c in self.clips)  # per block, no property calls
        self.position = 0
        self._gain = 1.0

    def _apply(self, values: dict[str, float]) -> None:
        self._gain = float(10.0 ** (values["gain_db"] / 20.0))

    @property
    def end(self) -> int:
        return max((c.end for c in self.clips), default=0)

    def locate(self, frame: int) -> None:
        self.position = frame

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        n = buf.shape[1]
        lo, hi = self.position, self.position + n
        gain = self._gain
        written = False  # until a clip writes the whole block, what it does not cover must be silence
        for c, start, end in self._spans:
            if end <= lo or start >= hi:
                continue
            a, b = max(lo, start), min(hi, end)
            src = c.audio[:, a - start : b - start]
            if not written and a == lo and b == hi:  # the usual block: one clip covers it, one native call
                np.multiply(src if src.shape[0] == buf.shape[0] else src[:1], c.gain * gain, out=buf)
                written = True
                continue
            if not written:
                buf[...] = 0.0
                written = True
            dst = buf[:, a - lo : b - lo]
            if src.shape[0] == dst.shape[0]:
                dst += src * (c.gain * gain)
            else:  # mono clip on a stereo track: centred, same level in both channels
                dst += src[:1] * (c.gain * gain)
        if not written:
            buf[...] = 0.0
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


def load_midi_clip(
    path: str | os.PathLike[str], sample_rate: int, start: int = 0, tail: int = 0, tempo: float | None = None
) -> MidiSequence:
    """Read a MIDI file (:mod:`engine.midi`) into frame-stamped events placed at ``start``.

    MIDI clips follow the project's ``tempo`` (BPM): the file's own tempo map is scaled so its first tempo
    becomes ``tempo`` (tempo changes inside the file keep their proportions). ``None`` plays the file as
    written. The clip ends at the file's last sounding event, plus ``tail`` frames for releases."""
    from engine.midi import read_midi_file

    m = read_midi_file(path)
    scale = m.tempo_bpm / tempo if tempo else 1.0
    frames = np.asarray([start + round(e.seconds * scale * sample_rate) for e in m.events], dtype=np.int64)
    order = np.argsort(frames, kind="stable")
    return MidiSequence(
        frames[order],
        np.asarray([e.status for e in m.events], np.uint8)[order],
        np.asarray([e.data1 for e in m.events], np.uint8)[order],
        np.asarray([e.data2 for e in m.events], np.uint8)[order],
        start + round(m.end * scale * sample_rate) + tail,
    )
