"""Offline rendering of a MIDI file through fluidsynth (in process, via pyfluidsynth)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.plugins.synth import select_gm_defaults, send_midi
from engine.soundfont import find_soundfont

TAIL_SECONDS = 1.5  # let releases and reverb ring out after the last event


def render_midi(
    midi_path: str | os.PathLike[str],
    sample_rate: int = 44100,
    soundfont: str | os.PathLike[str] | None = None,
    gain: float = 0.5,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Render a MIDI file to a (2, samples) float32 array with a GM SoundFont."""
    import fluidsynth

    from engine.midi import read_midi_file

    sf2 = find_soundfont(soundfont)
    m = read_midi_file(midi_path)
    events = [(e.seconds, e.to_bytes()) for e in m.events]
    now = m.end
    synth = fluidsynth.Synth(gain=gain, samplerate=float(sample_rate))
    try:
        sfid = synth.sfload(str(sf2))
        if sfid < 0:
            raise UserError(f"cannot load SoundFont {sf2}")
        select_gm_defaults(synth, sfid)
        frames = round((now + TAIL_SECONDS) * sample_rate)
        return render_events(synth, events, frames, sample_rate, progress)
    finally:
        synth.delete()


def render_events(
    synth: Any,
    events: list[tuple[float, bytes]],
    frames: int,
    sample_rate: int,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Play time-sorted ``(seconds, midi bytes)`` events on a ready pyfluidsynth ``Synth`` and return
    exactly ``frames`` samples as (2, frames) float32; events at or after the end are dropped."""
    chunks: list[np.ndarray] = []
    done = 0
    for t, raw in events:
        at = min(frames, round(t * sample_rate))
        if at >= frames:
            break
        if at > done:
            chunks.append(synth.get_samples(at - done))
            done = at
            if progress is not None:
                progress(done / frames)
        send_midi(synth, raw[0], raw[1] if len(raw) > 1 else 0, raw[2] if len(raw) > 2 else 0)
    if frames > done:
        chunks.append(synth.get_samples(frames - done))
    pcm = np.concatenate(chunks).astype(np.float32) / 32768.0 if chunks else np.zeros(0, np.float32)
    return np.ascontiguousarray(pcm.reshape(-1, 2).T)
