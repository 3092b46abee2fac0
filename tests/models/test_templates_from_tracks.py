"""Templates derived from a MIDI file and from audio (chroma on a tracked beat grid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.errors import UserError
from models.generator.chords import Key
from models.generator.codec import STEPS_PER_BAR, grid_from_parts
from models.generator.midi import Piece, write_midi
from models.structure import parse_structure, similar_pairs, template_from_track
from models.structure.tracks import track_form
from tests.conftest import synthetic_song


def test_midi_form_finds_repeats_tempo_key_and_chords(tmp_path: Path) -> None:
    song = synthetic_song("A4B4A4B4", 11)
    g = grid_from_parts(song.melody, song.bass, song.accomp, song.bars * STEPS_PER_BAR)
    p = tmp_path / "s.mid"
    write_midi(Piece(g, tempo=93.0, key=Key(0, False)), p)
    form = track_form(p)
    t = form.template
    assert t.shape == (16, 16) and form.bars == 16 and round(form.tempo) == 93 and form.key == Key(0, False)
    similar = similar_pairs(parse_structure("A4B4A4B4"))
    assert np.all(t[similar] >= 0.5) and np.all(t[~similar & ~np.eye(16, dtype=bool)] < 0.5)
    # the estimated chords are the song's (bass and triads agree on the root)
    assert [c.root for c in form.chords if c is not None] == [c.root for c in song.chords if c is not None]
    assert template_from_track(p, bars=8).shape == (8, 8)


CHORDS = {"C": (60, 64, 67), "F": (65, 69, 72), "G": (67, 71, 74), "Am": (57, 60, 64)}


def _tone_song(progression: list[str], bpm: float = 120.0, sr: int = 22050) -> np.ndarray:
    """A bar per chord: sine triads with a kick-like click on every beat (so beats can be tracked)."""
    beat = 60.0 / bpm
    n_beat = round(beat * sr)
    out = []
    t = np.arange(n_beat) / sr
    env = np.exp(-t * 6.0)
    click = np.sin(2 * np.pi * 60 * t) * np.exp(-t * 40.0)
    for name in progression:
        freqs = [440.0 * 2 ** ((m - 69) / 12) for m in CHORDS[name]]
        tone = sum(np.sin(2 * np.pi * f * t) for f in freqs) / 3
        for k in range(4):
            out.append(0.3 * tone * env + (0.8 if k == 0 else 0.3) * click)  # accented downbeat
    return np.concatenate(out).astype(np.float32)


def test_audio_template_separates_chords(tmp_path: Path) -> None:
    prog = ["C", "F", "G", "Am"] * 4
    x = _tone_song(prog)
    p = tmp_path / "song.wav"
    sf.write(p, np.stack([x, x], axis=1), 22050)
    t = template_from_track(p, bars=16)
    same, diff = [], []
    for i in range(16):
        for j in range(i + 1, 16):
            (same if prog[i] == prog[j] else diff).append(t[i, j])
    assert np.mean(same) > np.mean(diff) + 0.1


def test_audio_template_errors(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((22050 * 4, 2), np.float32), 22050)
    with pytest.raises(UserError, match="silent"):
        template_from_track(silent)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(UserError, match="cannot decode"):
        template_from_track(corrupt)
    with pytest.raises(UserError, match="unsupported"):
        (tmp_path / "x.txt").write_text("hi")
        template_from_track(tmp_path / "x.txt")
