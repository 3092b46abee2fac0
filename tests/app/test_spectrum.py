"""The spectrum analyser on real widgets: selecting a track taps its strip in the running engine, and while
playing the view shows that strip's spectrum (a 440 Hz tone peaks at 440 Hz, near its level)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.main_window import MainWindow
from app.views.spectrum import spectrum_db
from tests.app.test_app_window import load
from tests.engine.conftest import write_wav


def test_spectrum_of_a_sine_peaks_at_its_frequency_and_level() -> None:
    t = np.arange(4096) / 44100
    f, db = spectrum_db((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 44100)
    k = int(np.argmax(db))
    assert 900 < f[k] < 1100 and abs(db[k] - 20 * np.log10(0.5)) < 1.5


def test_the_selected_tracks_spectrum_shows_while_playing(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t = np.arange(44100 * 8) / 44100
    tone = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32)
    load(qtbot, window, write_wav(tmp_path / "a440.wav", tone))
    spec = window.mixer.spectrum
    window.arrangement.track_selected.emit(0)
    assert spec.title == "a440"
    window.toggle_play()
    level = 20 * np.log10(0.3)  # a full ring of the tone (the first updates hold some silence)
    qtbot.waitUntil(lambda: spec.levels.max() > level - 1.5, timeout=10000)
    window.stop()
    k = int(np.argmax(spec.levels))
    assert 400 < spec.freqs[k] < 480 and spec.levels[k] < level + 1.5
