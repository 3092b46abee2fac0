"""Templates derived from a loaded track: MIDI (pitch classes of the piano roll) or audio (chroma
on a tracked beat grid). Both compare bars by their pitch-class content at each 8th note."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.audio_io import AUDIO_SUFFIXES
from engine.errors import UserError
from engine.midi import MIDI_SUFFIXES
from models.structure.matrix import resample_template, ssm_from_features

ANALYSIS_SR = 22050
HOP = 512
N_FFT = 4096


def template_from_track(path: str | os.PathLike[str], bars: int | None = None) -> np.ndarray:
    """The SSM of a MIDI or audio file, resampled to ``bars`` bars when given."""
    return track_form(path, bars)[0]


def track_form(path: str | os.PathLike[str], bars: int | None = None) -> tuple[np.ndarray, float]:
    """(the track's bar SSM, resampled to ``bars`` when given; its tempo in BPM): the file's first tempo for
    MIDI, the tracked beat for audio. A MIDI file with drums only is compared by its drum pattern."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"track not found: {p}")
    suffix = p.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        feats, tempo = midi_bar_features(p)
    elif suffix in AUDIO_SUFFIXES:
        feats, tempo = audio_bar_features(p)
    else:
        raise UserError(f"unsupported track type {suffix!r}: use MIDI or WAV/FLAC/OGG/MP3")
    t = ssm_from_features(feats)
    return (resample_template(t, bars) if bars is not None else t), tempo


def midi_bar_features(path: Path) -> tuple[np.ndarray, float]:
    """(bars, dims) features and the tempo of a MIDI file: sounding pitch classes at each 8th note (what
    the generator's grid holds), or, for a drums-only file, which drum sounds at each 16th."""
    from engine.midi import read_midi_file
    from models.generator.features import template_features
    from models.generator.midi import read_midi

    m = read_midi_file(path)
    if any(not n.is_drum for n in m.notes):
        g, tempo = read_midi(path)
        return template_features(g), tempo
    bars = max(1, int(np.ceil(m.end_beats / 4 - 1e-9)))
    feats = np.zeros((bars, 16, 128), np.float32)
    for n in m.notes:
        step = round(n.start_beat * 4)
        if 0 <= step < bars * 16:
            feats[step // 16, step % 16, n.pitch] = 1.0
    return feats.reshape(bars, -1), m.tempo_bpm


def load_mono(path: Path, sr: int = ANALYSIS_SR) -> np.ndarray:
    """Decode an audio file to mono float32 at ``sr``."""
    from engine.audio_io import read_audio

    audio, _ = read_audio(path, sr, max_channels=None)
    return np.asarray(audio.mean(axis=0), dtype=np.float32)


def _stft_mag(x: np.ndarray) -> np.ndarray:
    pad = np.pad(x, (N_FFT // 2, N_FFT // 2))
    frames = 1 + (pad.shape[0] - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    win = np.hanning(N_FFT).astype(np.float32)
    mags = []
    for s in range(0, frames, 512):  # blocks keep memory flat for long files
        mags.append(np.abs(np.fft.rfft(pad[idx[s : s + 512]] * win, axis=1)).astype(np.float32))
    return np.concatenate(mags)


def _chroma(mag: np.ndarray, sr: int) -> np.ndarray:
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    ok = (freqs > 60.0) & (freqs < 2100.0)
    pc = (np.round(12 * np.log2(freqs[ok] / 440.0)).astype(np.int64) + 9) % 12
    m = np.zeros((ok.sum(), 12), np.float32)
    m[np.arange(ok.sum()), pc] = 1.0
    c = (mag[:, ok] ** 2) @ m
    return np.asarray(c / (np.linalg.norm(c, axis=1, keepdims=True) + 1e-9))


def _onset_envelope(mag: np.ndarray) -> np.ndarray:
    logm = np.log1p(100.0 * mag)
    flux = np.maximum(0.0, np.diff(logm, axis=0, prepend=np.zeros_like(logm[:1]))).sum(axis=1)
    flux -= np.convolve(flux, np.ones(16) / 16, mode="same")
    return np.asarray(np.maximum(flux, 0.0) / (flux.std() + 1e-9))


def _tempo_period(env: np.ndarray, fps: float) -> float:
    """Beat period in frames (fractional).

    Autocorrelation of the onset envelope with a log-normal preference around 120 BPM, refined by
    a parabola through the peak: a whole-frame period would make tracked beats drift.
    """
    lo, hi = int(fps * 60 / 200), int(fps * 60 / 55) + 2
    n = env.shape[0]

    def ac(lag: int) -> float:
        return float(np.dot(env[: n - lag], env[lag:])) / max(1, n - lag) if lag < n else 0.0

    lags = np.arange(lo, hi)
    corr = np.array([ac(int(lag)) for lag in lags])
    bpm = 60.0 * fps / lags
    weight = np.exp(-0.5 * (np.log2(bpm / 120.0) / 0.9) ** 2)
    k = int(np.argmax((corr * weight)[1:-1])) + 1
    a, b, c = corr[k - 1], corr[k], corr[k + 1]
    denom = a - 2 * b + c
    offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return float(lags[k] + np.clip(offset, -0.5, 0.5))


def _track_beats(env: np.ndarray, period: float, tightness: float = 100.0) -> np.ndarray:
    """Dynamic-programming beat tracker (Ellis 2007): beat frames following the onset envelope."""
    n = env.shape[0]
    score = env.astype(np.float64).copy()
    back = np.full(n, -1)
    taus = np.arange(max(1, int(period // 2)), int(2 * period) + 2)
    penalty = -tightness * np.log(taus / period) ** 2
    for t in range(taus[0], n):
        prev = t - taus
        valid = prev >= 0
        if not valid.any():
            continue
        cand = score[prev[valid]] + penalty[valid]
        k = int(np.argmax(cand))
        if cand[k] > 0:
            score[t] += cand[k]
            back[t] = prev[valid][k]
    last = max(0, n - round(period))
    t = int(np.argmax(score[last:]) + last)
    beats = [t]
    while back[beats[-1]] >= 0:
        beats.append(int(back[beats[-1]]))
    out = beats[::-1]
    # The chain can start a beat late (little evidence before it): extend at the local period.
    if len(out) > 1:
        step = out[1] - out[0]
        while out[0] - step >= -step // 3:
            out.insert(0, max(0, out[0] - step))
        step = out[-1] - out[-2]
        while out[-1] + step < n:
            out.append(out[-1] + step)
    return np.array(out)


def _downbeat_phase(env: np.ndarray, chroma: np.ndarray, beats: np.ndarray) -> int:
    """Index of the first downbeat among ``beats``.

    Music usually starts on a bar line, so the first beat with clear onset energy is taken as a
    downbeat unless another phase is clearly stronger in onset energy and harmonic change (chords
    change on bar lines).
    """
    padded = np.pad(env, 2)
    strength = np.max(np.stack([padded[beats + k] for k in range(5)]), axis=0)  # +-2 frames
    first = int(np.argmax(strength >= 0.5 * np.median(strength)))
    b = beats[first:]
    if b.shape[0] < 9:
        return first
    per_beat = np.stack([chroma[b[i] : max(b[i + 1], b[i] + 1)].mean(axis=0) for i in range(b.shape[0] - 1)])
    unit = per_beat / (np.linalg.norm(per_beat, axis=1, keepdims=True) + 1e-9)
    novelty = np.concatenate([[0.0], 1.0 - np.sum(unit[1:] * unit[:-1], axis=1)])
    score = [float(env[b[k:-1:4]].mean() * (1.0 + novelty[k::4].mean())) for k in range(4)]
    best = int(np.argmax(score))
    return first + (best if score[best] > 1.25 * score[0] else 0)


def audio_bar_features(path: Path) -> tuple[np.ndarray, float]:
    """(bars, 96) chroma at each 8th note on a tracked beat grid, 4 beats to the bar, and the tempo (BPM)."""
    x = load_mono(path)
    if x.shape[0] < ANALYSIS_SR * 2 or float(np.abs(x).max()) < 1e-4:
        raise UserError(f"{path.name}: too short or silent to find bars (need a few seconds of music)")
    mag = _stft_mag(x)
    env = _onset_envelope(mag)
    fps = ANALYSIS_SR / HOP
    period = _tempo_period(env, fps)
    beats = _track_beats(env, period)
    if beats.shape[0] < 8:
        raise UserError(f"{path.name}: could not find a steady beat")
    chroma = _chroma(mag, ANALYSIS_SR)
    beats = beats[_downbeat_phase(env, chroma, beats) :]
    bars = (beats.shape[0] - 1) // 4
    if bars < 1:
        raise UserError(f"{path.name}: too short to find a whole bar")
    eighths = np.interp(np.arange(bars * 8 + 1) / 2.0, np.arange(beats.shape[0]), beats)
    edges = np.round(eighths).astype(np.int64)
    feats = np.zeros((bars * 8, 12), np.float32)
    for k in range(bars * 8):
        a, b = edges[k], max(edges[k + 1], edges[k] + 1)
        feats[k] = chroma[a:b].mean(axis=0)
    # Centre each dimension over the song: what all bars share (key, timbre) says nothing of form.
    f = feats.reshape(bars, 96)
    return np.asarray(f - f.mean(axis=0, keepdims=True)), float(60.0 * fps / period)
