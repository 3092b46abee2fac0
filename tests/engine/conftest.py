"""Engine fixtures: generated audio and MIDI files, and a clocked JACK dummy server the tests own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.jack import JackDummy

RATE = 44100


def tone(seconds: float, rate: int = RATE, channels: int = 2, freq: float = 220.0, seed: int = 0) -> np.ndarray:
    """Decaying tones with a little noise, (channels, frames) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    env = np.exp(-(t % 0.5) * 6)
    x = np.stack([np.sin(2 * np.pi * freq * (1 + 0.01 * c) * t) * env for c in range(channels)]) * 0.3
    return (x + rng.standard_normal(x.shape) * 0.01).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, rate: int = RATE, subtype: str = "FLOAT") -> Path:
    import soundfile as sf

    sf.write(str(path), audio.T, rate, subtype=subtype)
    return path


def write_midi(path: Path, notes: int = 6, program: int = 0, channel: int = 0) -> Path:
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    tr.append(mido.Message("program_change", program=program, channel=channel, time=0))
    for i in range(notes):
        tr.append(mido.Message("note_on", note=60 + 2 * i, velocity=90, channel=channel, time=0 if i == 0 else 10))
        tr.append(mido.Message("note_off", note=60 + 2 * i, velocity=0, channel=channel, time=230))
    mid.save(str(path))
    return path


@pytest.fixture(scope="session")
def jack() -> Iterator[JackDummy]:
    """A clocked JACK dummy device at 44.1 kHz, 256-frame periods, started and stopped by the tests."""
    if not JackDummy.available():
        pytest.skip("jackd not installed (./run.sh installs jackd2 when run as root)")
    server = JackDummy(RATE, 256).start()
    yield server
    server.stop()


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    return {
        "stereo": write_wav(tmp_path / "stereo.wav", tone(2.0, seed=1)),
        "mono48": write_wav(tmp_path / "mono48.flac", tone(1.5, rate=48000, channels=1, freq=330), 48000, "PCM_24"),
        "midi": write_midi(tmp_path / "notes.mid"),
    }


def lv2_installed(uri: str) -> bool:
    """Whether an LV2 plugin is installed here (liblilv itself missing counts as not installed). Tests skip
    only for this: a plugin that is installed but fails to load is a failure, not a skip."""
    from engine.errors import UserError
    from engine.plugins.lv2 import installed_plugins

    try:
        return uri in {u for u, _ in installed_plugins()}
    except UserError:
        return False
