"""Forms derived from a loaded track, with what the new piece should take from it: tempo, key, chords.

* MIDI: bars are compared by their sounding pitch classes at each 8th note (a plain bar comparison of the
  notes); the key is the file's key signature or estimated, chords are estimated per half bar.
* Audio: beats from librosa's tracker (Ellis 2007), downbeats by the phase with the strongest onsets and
  harmonic changes, then chroma per 8th note; key and chords from the chroma.

The bar SSM is smoothed along its diagonals (a repeat lasts several bars) and sharpened so that only
clearly repeated bars count as similar, as in a drawn template.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio_io import AUDIO_SUFFIXES
from engine.errors import UserError
from engine.midi import MIDI_SUFFIXES, MidiFile
from models.generator.chords import Chord, Key, estimate_chords, estimate_key
from models.structure.matrix import resample_template, ssm_from_features
from models.structure.strings import Section

ANALYSIS_SR = 22050
HOP = 512
N_FFT = 4096
SMOOTH_BARS = 4  # diagonal smoothing length (measured best of 1, 2, 4 against POP909's labels)
SIMILAR_SHARE = 0.05  # at most this share of bar pairs is marked similar (POP909 labels: about 3 %)


@dataclass
class TrackForm:
    """What a track gives a new piece: its form, tempo (BPM), key and chords (one per half bar)."""

    template: np.ndarray
    tempo: float
    key: Key | None
    chords: list[Chord | None]
    bars: int  # the track's own number of bars
    sections: list[Section] | None = None  # from the file's section markers (as Refrain writes them), if any


def template_from_track(path: str | os.PathLike[str], bars: int | None = None) -> np.ndarray:
    """The form of a MIDI or audio file, resampled to ``bars`` bars when given."""
    return track_form(path, bars).template


def track_form(path: str | os.PathLike[str], bars: int | None = None) -> TrackForm:
    """Analyse a MIDI or audio file (see the module docstring); the template is resampled to ``bars``."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"track not found: {p}")
    suffix = p.suffix.lower()
    sections = None
    if suffix in MIDI_SUFFIXES:
        from engine.midi import read_midi_file

        m = read_midi_file(p)  # once: features and markers both come from it
        feats, tempo, key, chords = midi_bar_features(m)
        sections = marker_sections(m, feats.shape[0])
    elif suffix in AUDIO_SUFFIXES:
        feats, tempo, key, chords = audio_bar_features(p)
    else:
        raise UserError(f"unsupported track type {suffix!r}: use MIDI or WAV/FLAC/OGG/MP3")
    n = feats.shape[0]
    if sections is not None:  # the file names its sections: that is its form
        from models.structure import resolve_template

        structure = "".join(f"{s.letter}{s.bars}" for s in sections)
        t, sections = resolve_template(structure=structure, bars=bars)
        return TrackForm(t, tempo, key, chords, n, sections)
    t = form_template(feats)
    return TrackForm(resample_template(t, bars) if bars is not None else t, tempo, key, chords, n)


def marker_sections(m: MidiFile, bars: int) -> list[Section] | None:
    """Sections from single-letter markers on bar lines that start at bar 0 and cover the file (the way
    Refrain writes its forms); None for any other file."""
    marks = [(b / 4, t.strip()) for b, t in m.cues]
    if not marks or any(len(t) != 1 or not t.isalpha() or abs(b - round(b)) > 1e-6 for b, t in marks):
        return None
    starts = [(round(b), t) for b, t in marks]
    if starts[0][0] != 0 or any(b1 <= b0 for (b0, _), (b1, _) in itertools.pairwise(starts)):
        return None
    ends = [b for b, _ in starts[1:]] + [bars]
    if ends[-1] <= starts[-1][0]:
        return None
    return [Section(t, e - b) for (b, t), e in zip(starts, ends, strict=True)]


def diagonal_smooth(s: np.ndarray, length: int = SMOOTH_BARS) -> np.ndarray:
    """Mean along diagonals over ``length`` bars, forwards or backwards, whichever is higher (a repeated
    passage keeps its bars' similarity; a lone similar bar loses it)."""
    n = s.shape[0]
    fwd = np.zeros_like(s, dtype=np.float64)
    bwd = np.zeros_like(fwd)
    cf = np.zeros_like(fwd)
    cb = np.zeros_like(fwd)
    for d in range(min(length, n)):
        fwd[: n - d, : n - d] += s[d:, d:]
        cf[: n - d, : n - d] += 1
        bwd[d:, d:] += s[: n - d, : n - d]
        cb[d:, d:] += 1
    return np.asarray(np.maximum(fwd / np.maximum(cf, 1), bwd / np.maximum(cb, 1)))


def form_template(features: np.ndarray) -> np.ndarray:
    """A template from per-bar features: cosine SSM, diagonal smoothing, then the most similar pairs (at most
    ``SIMILAR_SHARE``, and only above 0.6) mapped to 0.5..1 and the rest to 0..0.3."""
    s = diagonal_smooth(ssm_from_features(features))
    n = s.shape[0]
    if n < 2:
        return np.ones((n, n), np.float32)
    off = s[np.triu_indices(n, 1)]
    thr = max(float(np.quantile(off, 1.0 - SIMILAR_SHARE)), 0.6)
    thr = min(thr, 0.999)
    t = np.where(s >= thr, 0.5 + 0.5 * (s - thr) / (1.0 - thr), 0.3 * s / thr)
    t = np.clip(t, 0.0, 1.0)
    np.fill_diagonal(t, 1.0)
    return np.asarray(t, np.float32)


def midi_bar_features(m: MidiFile) -> tuple[np.ndarray, float, Key | None, list[Chord | None]]:
    """(bars, dims) features, tempo, key and chords of a read MIDI file: sounding pitch classes at each 8th
    note, or, for a drums-only file, which drum sounds at each 16th (no key or chords then)."""
    from models.generator.features import template_features
    from models.generator.midi import piece_from_midi

    if any(not n.is_drum for n in m.notes):
        piece = piece_from_midi(m)
        return template_features(piece.grid), piece.tempo, piece.key, piece.chords
    bars = max(1, int(np.ceil(m.end_beats / 4 - 1e-9)))
    feats = np.zeros((bars, 16, 128), np.float32)
    for n in m.notes:
        step = round(n.start_beat * 4)
        if 0 <= step < bars * 16:
            feats[step // 16, step % 16, n.pitch] = 1.0
    return feats.reshape(bars, -1), m.tempo_bpm, None, []


def load_mono(path: Path, sr: int = ANALYSIS_SR) -> np.ndarray:
    """Decode an audio file to mono float32 at ``sr``."""
    from engine.audio_io import read_audio

    audio, _ = read_audio(path, sr, max_channels=None)
    return np.asarray(audio.mean(axis=0), dtype=np.float32)


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


def audio_bar_features(path: Path) -> tuple[np.ndarray, float, Key | None, list[Chord | None]]:
    """(bars, 96) chroma at each 8th note on the tracked beat grid (4 beats to the bar), tempo, key and
    chords (per half bar) of an audio file."""
    import librosa

    x = load_mono(path)
    if x.shape[0] < ANALYSIS_SR * 2 or float(np.abs(x).max()) < 1e-4:
        raise UserError(f"{path.name}: too short or silent to find bars (need a few seconds of music)")
    x = np.concatenate([np.zeros(4 * HOP, np.float32), x])  # an attack at 0 s is an onset too
    env = librosa.onset.onset_strength(y=x, sr=ANALYSIS_SR, hop_length=HOP)
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=ANALYSIS_SR, hop_length=HOP, units="frames")
    beats = np.asarray(beats, np.int64)
    if beats.shape[0] < 8:
        raise UserError(f"{path.name}: could not find a steady beat")
    # The tracker starts once it has evidence, often a bar late; extend the grid to both ends at the period.
    period = round(float(np.median(np.diff(beats))))
    head = np.arange(beats[0] - period, -period // 3, -period)[::-1]
    tail = np.arange(beats[-1] + period, env.shape[0], period)
    beats = np.concatenate([np.maximum(head, 0), beats, tail]).astype(np.int64)
    chroma = librosa.feature.chroma_stft(y=x, sr=ANALYSIS_SR, hop_length=HOP, n_fft=N_FFT).T  # (frames, 12)
    chroma = np.asarray(chroma / (np.linalg.norm(chroma, axis=1, keepdims=True) + 1e-9), np.float32)
    env = np.asarray(env / (env.std() + 1e-9), np.float64)
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
    key = estimate_key(feats.sum(axis=0))
    chords = estimate_chords(feats.reshape(bars * 2, 4, 12).sum(axis=1))
    # Centre each dimension over the song: what all bars share (key, timbre) says nothing of form.
    f = feats.reshape(bars, 96)
    bpm = (
        float(np.atleast_1d(tempo)[0])
        if np.size(tempo)
        else 60.0 * ANALYSIS_SR / HOP / float(np.median(np.diff(beats)))
    )
    return np.asarray(f - f.mean(axis=0, keepdims=True)), bpm, key, chords
