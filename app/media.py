"""What the arrangement draws for a clip: a min/max waveform overview for audio, the notes for MIDI.
Computed on a worker (decoding also warms the engine's decode cache); no Qt here."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from engine.audio_io import AUDIO_SUFFIXES
from engine.errors import UserError
from engine.midi import MIDI_SUFFIXES
from engine.project import Clip

OVERVIEW_HZ = 200  # columns per second of audio; enough for ~5 ms detail at full zoom


@dataclass(frozen=True)
class AudioOverview:
    seconds: float
    lo: np.ndarray  # (columns,) min over channels of each column
    hi: np.ndarray  # (columns,) max
    rate: float = OVERVIEW_HZ


@dataclass(frozen=True)
class MidiOverview:
    seconds: float
    notes: np.ndarray  # (n, 4): start s, end s, pitch, velocity (at the file's own tempo)
    low: int
    high: int
    tempo: float = 120.0  # the file's first tempo (BPM): a clip plays at the project's tempo instead

    def scale(self, project_tempo: float) -> float:
        """How much longer the clip lasts at ``project_tempo`` than as written."""
        return self.tempo / project_tempo if project_tempo > 0 else 1.0


Overview = AudioOverview | MidiOverview


def check_media(path: str | os.PathLike[str]) -> str:
    """The absolute path of a loadable track file, or a one-line UserError."""
    p = os.path.abspath(os.fspath(path))
    if not os.path.isfile(p):
        raise UserError(f"no such file: {os.fspath(path)}")
    if not p.lower().endswith(AUDIO_SUFFIXES + MIDI_SUFFIXES):
        kinds = ", ".join(s.lstrip(".") for s in AUDIO_SUFFIXES + MIDI_SUFFIXES)
        raise UserError(f"{os.path.basename(p)}: not a track Refrain can load ({kinds})")
    return p


def overview(path: str, sample_rate: int) -> Overview:
    """Decode (through the engine's cache) and summarise a clip for drawing; UserError if unreadable."""
    if path.lower().endswith(MIDI_SUFFIXES):
        return midi_overview(path)
    from engine.build import decode_cached

    audio = decode_cached(path, sample_rate)
    return audio_overview(audio, sample_rate)


def audio_overview(audio: np.ndarray, sample_rate: int) -> AudioOverview:
    hop = max(1, sample_rate // OVERVIEW_HZ)
    n = audio.shape[1]
    cols = max(1, -(-n // hop))
    pad = np.zeros((audio.shape[0], cols * hop), np.float32)
    pad[:, :n] = audio
    blocks = pad.reshape(audio.shape[0], cols, hop)
    return AudioOverview(n / sample_rate, blocks.min(axis=(0, 2)), blocks.max(axis=(0, 2)), sample_rate / hop)


def midi_overview(path: str) -> MidiOverview:
    from engine.midi import read_midi_file

    m = read_midi_file(path)
    notes = np.asarray([(n.start, n.end, n.pitch, n.velocity) for n in m.notes], np.float64).reshape(-1, 4)
    return MidiOverview(m.end, notes, int(notes[:, 2].min()), int(notes[:, 2].max()), m.tempo_bpm)


def clip_seconds(clip: Clip, ov: Overview | None, tempo: float) -> float:
    """How long ``clip`` lasts on the timeline: its set length, else what is left of its file after the
    offset (a MIDI clip at the project's ``tempo``; 0 before its drawing is known)."""
    if clip.length is not None:
        return clip.length
    if ov is None:
        return 0.0
    follows = isinstance(ov, MidiOverview) and clip.follow_tempo
    seconds = ov.seconds * ov.scale(tempo) if follows and isinstance(ov, MidiOverview) else ov.seconds
    return max(0.0, seconds - clip.offset)
