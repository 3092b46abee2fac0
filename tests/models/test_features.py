"""The pretrained feature extractor (basic-pitch through onnxruntime) and transcription to MIDI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.features.basic_pitch import FEATURE_DIM, FPS, RATE, BasicPitch, to_frames
from models.features.transcribe import decode_notes, transcribe, write_transcription
from models.platform.registry import load_model, shipped_models


def tones(pitches: list[int], dur: float = 0.5, rate: int = 44100, gap: float = 0.0) -> np.ndarray:
    """Plucked harmonic tones, one after another: (samples,) float32."""
    out = []
    for p in pitches:
        t = np.arange(int(dur * rate)) / rate
        f = 440 * 2 ** ((p - 69) / 12)
        y = sum(np.sin(2 * np.pi * f * k * t) / k**2 for k in range(1, 4)) * np.exp(-3 * t) * 0.3
        out += [y, np.zeros(int(gap * rate))]
    return np.concatenate(out).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> BasicPitch:
    m = load_model("basic-pitch", "features")
    assert isinstance(m, BasicPitch)
    return m


def test_shipped_and_registered() -> None:
    names = [(e.family, e.name) for e in shipped_models()]
    assert ("features", "basic-pitch") in names


def test_frames_cover_the_signal_without_drift(model: BasicPitch) -> None:
    # a note 10 s in (five windows later) must be found where it is: with basic-pitch's own window hop the
    # raw frames are about 40 ms late by then
    rate = RATE
    audio = np.zeros(int(12 * rate), np.float32)
    note = tones([69], 0.6, rate)
    at = int(10.0 * rate)
    audio[at : at + len(note)] = note
    res = model.run(audio)
    assert res["note"].shape == (int(np.floor(len(audio) * FPS / RATE)), 88)
    assert res["contour"].shape[1] == 264
    onset_frame = int(np.argmax(res["onset"][:, 69 - 21]))
    assert abs(onset_frame / FPS - 10.0) < 0.025


def test_features_shape_and_frame_resampling(model: BasicPitch) -> None:
    feats = model.features(np.stack([tones([60, 64]), tones([60, 64])]), 44100)
    assert feats.shape == (int(np.floor(RATE * FPS / RATE)), FEATURE_DIM)  # 1 s: 86 frames
    assert np.isfinite(feats).all() and feats[:, :88].max() > 0.5
    same = to_frames(feats, feats.shape[0], FPS)
    np.testing.assert_allclose(same, feats, atol=1e-6)
    half = to_frames(feats, feats.shape[0] // 2, FPS / 2)
    np.testing.assert_allclose(half[3], feats[6], atol=1e-6)


def test_transcribes_a_melody(model: BasicPitch) -> None:
    pitches = [57, 60, 64, 67, 72, 71, 69]
    t = transcribe(tones(pitches, 0.4, gap=0.1), 44100, model)
    found = [(n.pitch, n.start) for n in t.notes]
    for k, p in enumerate(pitches):
        assert any(q == p and abs(s - 0.5 * k) < 0.05 for q, s in found), (p, found)
    assert len(t.notes) <= len(pitches) + 2  # a stray harmonic at most
    assert all(1 <= n.velocity <= 127 and n.end > n.start for n in t.notes)


def test_decode_rules() -> None:
    frames = 200
    note = np.zeros((frames, 88), np.float32)
    onset = np.zeros((frames, 88), np.float32)
    loud = np.full(frames, -20.0)
    note[10:60, 40] = 0.8  # a held note...
    note[30:32, 40] = 0.1  # ...with a 2-frame dip (bridged)
    onset[10, 40] = 0.9
    onset[45, 40] = 0.7  # a re-strike splits it
    note[100:103, 50] = 0.9  # 3 frames: shorter than 60 ms, dropped
    onset[100, 50] = 0.9
    note[150:170, 20] = 0.9  # no onset peak, but a sustained rise: a sung note sliding in
    notes = decode_notes(note, onset, loud)
    got = [(round(n.start * FPS), round(n.end * FPS), n.pitch) for n in notes]
    assert got == [(10, 45, 61), (45, 60, 61), (150, 170, 41)]
    quiet = decode_notes(note, onset, np.where(np.arange(frames) < 40, -20.0, -60.0))
    assert quiet[1].velocity < quiet[0].velocity  # the quiet passage plays quietly


def test_tempo_of_a_metronomic_line_and_midi_length(tmp_path: Path, model: BasicPitch) -> None:
    import mido

    line = tones([60, 62, 64, 65, 67, 69, 71, 72] * 2, 0.4, rate=RATE, gap=0.1)  # a note every 0.5 s: 120 BPM
    t = transcribe(line, RATE, model)
    assert abs(t.tempo_bpm - 120) < 1.0
    write_transcription(t, tmp_path / "m.mid")
    assert abs(mido.MidiFile(tmp_path / "m.mid").length - len(line) / RATE) < 0.01  # as long as the audio


def test_midi_round_trip(tmp_path: Path, model: BasicPitch) -> None:
    from engine.midi import read_midi_file

    t = transcribe(tones([60, 62, 64], 0.5), 44100, model, tempo_bpm=97.0)
    write_transcription(t, tmp_path / "t.mid", program=40, name="violin")
    m = read_midi_file(tmp_path / "t.mid")
    assert abs(m.tempo_bpm - 97.0) < 0.01
    back = [n for notes in m.track_notes().values() for n in notes]
    assert [n.pitch for n in back] == [n.pitch for n in t.notes]
    assert max(abs(a.start - b.start) for a, b in zip(back, t.notes, strict=True)) < 0.005


def test_cli_transcribe_and_bad_input(tmp_path: Path) -> None:
    wav = tmp_path / "line.wav"
    sf.write(wav, tones([62, 65, 69], 0.5), 44100)
    run = [sys.executable, "-m", "app.cli"]
    ok = subprocess.run(
        [*run, "transcribe", str(wav), "--out", str(tmp_path / "o.mid")], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "o.mid").is_file() and "notes" in ok.stdout
    for bad in (
        ["transcribe", str(tmp_path / "none.wav"), "--out", str(tmp_path / "b.mid")],
        ["transcribe", str(wav), "--out", str(tmp_path / "b.wav")],
        ["transcribe", str(wav), "--out", str(tmp_path / "b.mid"), "--program", "200"],
        ["train", "features"],
    ):
        r = subprocess.run([*run, *bad], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, (bad, r.stderr)
    assert not (tmp_path / "b.mid").exists() and not (tmp_path / "b.wav").exists()
