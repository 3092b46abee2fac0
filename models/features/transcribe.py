"""Audio to MIDI with the shipped basic-pitch model and Refrain's own note decoding.

Decoding (:func:`decode_notes`), per pitch:
* **onsets**: peaks of the onset posterior above ``onset_threshold`` (a local maximum over +-2 frames,
  11.6 ms per frame), plus places where the note posterior rises through 0.6 and stays there for 100 ms
  with no onset peak nearby (sung and bowed notes that slide in rather than strike);
* **durations**: a note lasts while its note posterior stays above ``frame_threshold``, bridging dips of
  up to 3 frames (a sustained rise only counts as an onset after a longer gap), and ends at the next
  onset of the same pitch; notes shorter than ``min_note_ms`` go;
* **velocities**: from the note's posterior strength and the audio's loudness at the onset, relative to
  the file's loud passages, so a quiet passage plays quietly;
* the defaults (onset 0.6, frame 0.4, 60 ms) were chosen on the validation songs by
  ``models.features.evaluate`` (mean note F1 over melody, sung, bass and piano parts: 0.75, against 0.68
  for 0.5 / 0.3);
* **tempo** (:func:`estimate_tempo`): librosa's beat tracker on the audio; the MIDI file carries it, so its
  bars line up with the music in a DAW (note times in seconds are unchanged by it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import UserError
from models.features.basic_pitch import FPS, LOWEST_NOTE, RATE, BasicPitch

TPB = 480
MAX_DIP = 3  # frames (35 ms) a held note may dip below the frame threshold and go on


@dataclass(frozen=True)
class TranscribedNote:
    start: float  # seconds
    end: float
    pitch: int  # MIDI
    velocity: int  # 1..127


@dataclass(frozen=True)
class Transcription:
    notes: list[TranscribedNote]
    tempo_bpm: float
    seconds: float


def _onset_frames(
    onset: np.ndarray, note: np.ndarray, onset_threshold: float, frame_threshold: float
) -> list[tuple[int, int]]:
    """(frame, pitch bin) onsets: posterior peaks, plus sustained rises of the note posterior after a
    real gap (longer than the dips a held note is bridged over)."""
    from scipy.ndimage import maximum_filter1d

    peak = (onset >= onset_threshold) & (onset == maximum_filter1d(onset, size=5, axis=0))
    found = [(int(t), int(p)) for t, p in zip(*np.nonzero(peak), strict=True)]
    near = maximum_filter1d(peak.astype(np.uint8), size=9, axis=0) > 0
    on = note >= 0.6
    rise = on[1:] & ~on[:-1]
    hold = round(0.1 * FPS)
    for t, p in zip(*np.nonzero(rise), strict=True):
        t = int(t) + 1
        gap = note[max(0, t - MAX_DIP - 1) : t, p] < frame_threshold
        if not near[t, p] and gap.all() and on[t : t + hold, p].all() and t + hold <= len(on):
            found.append((t, int(p)))
    return sorted(found)


def decode_notes(
    note: np.ndarray,
    onset: np.ndarray,
    loudness_db: np.ndarray,
    onset_threshold: float = 0.6,
    frame_threshold: float = 0.4,
    min_note_ms: float = 60.0,
) -> list[TranscribedNote]:
    """Notes from posteriorgrams ``note`` and ``onset`` (frames, 88) and the audio's per-frame loudness
    (frames,) in dB. See the module docstring."""
    frames = note.shape[0]
    starts = _onset_frames(onset, note, onset_threshold, frame_threshold)
    by_pitch: dict[int, list[int]] = {}
    for t, p in starts:
        by_pitch.setdefault(p, []).append(t)
    loud_ref = float(np.percentile(loudness_db, 95)) if len(loudness_db) else 0.0
    min_frames = max(1, round(min_note_ms / 1000 * FPS))
    out: list[TranscribedNote] = []
    for p, ts in by_pitch.items():
        for i, t in enumerate(ts):
            stop = ts[i + 1] if i + 1 < len(ts) else frames
            end, gap = t + 1, 0
            while end < stop:
                if note[end, p] >= frame_threshold:
                    gap = 0
                elif gap < MAX_DIP:
                    gap += 1
                else:
                    break
                end += 1
            end -= gap
            if end - t < min_frames:
                continue
            strength = float(np.mean(note[t : min(end, t + 5), p]))
            level = float(np.clip((loudness_db[min(t + 2, frames - 1)] - loud_ref + 30) / 30, 0.15, 1.0))
            vel = int(np.clip(round(20 + 107 * np.sqrt(max(strength, 0.0)) * level), 1, 127))
            out.append(TranscribedNote(t / FPS, end / FPS, p + LOWEST_NOTE, vel))
    return sorted(out, key=lambda n: (n.start, n.pitch))


def frame_loudness(mono: np.ndarray, frames: int) -> np.ndarray:
    """RMS in dB per model frame (256 samples at 22,050 Hz), (frames,)."""
    hop = int(RATE / FPS)
    pad = np.pad(mono, (0, max(0, frames * hop - len(mono))))[: frames * hop]
    rms = np.sqrt(np.mean(pad.reshape(frames, hop) ** 2, 1) + 1e-12) if frames else np.zeros(0)
    return 20 * np.log10(rms + 1e-9)


def estimate_tempo(mono: np.ndarray) -> float:
    """Tempo in BPM from librosa's beat tracker: the median interval of the beats it places (its global
    tempo estimate is quantised, 117.5 for a metronomic 120); 120 when it finds no beat; within 60..200."""
    import librosa

    if len(mono) < RATE:
        return 120.0
    tempo, beats = librosa.beat.beat_track(y=mono, sr=RATE, units="time")
    bpm = float(np.atleast_1d(tempo)[0])
    if len(beats) >= 3:
        bpm = 60.0 / float(np.median(np.diff(beats)))
    if not np.isfinite(bpm) or bpm <= 0:
        return 120.0
    while bpm < 60:
        bpm *= 2
    while bpm > 200:
        bpm /= 2
    return bpm


def transcribe(
    audio: np.ndarray,
    rate: int,
    model: BasicPitch,
    onset_threshold: float = 0.6,
    frame_threshold: float = 0.4,
    min_note_ms: float = 60.0,
    tempo_bpm: float | None = None,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Transcription:
    """Transcribe (channels, samples) or (samples,) audio at ``rate`` (its mono downmix)."""
    from engine.audio_io import resample

    x = np.asarray(audio, np.float32)
    mono = x.mean(0) if x.ndim == 2 else x
    if rate != RATE:
        mono = resample(mono[None], rate, RATE)[0]
    res = model.run(mono, ("note", "onset"), progress=progress, cancelled=cancelled)
    loud = frame_loudness(mono, res["note"].shape[0])
    notes = decode_notes(res["note"], res["onset"], loud, onset_threshold, frame_threshold, min_note_ms)
    bpm = tempo_bpm if tempo_bpm else estimate_tempo(mono)
    return Transcription(notes, bpm, len(mono) / RATE)


def write_transcription(t: Transcription, path: str | os.PathLike[str], program: int = 0, name: str = "") -> None:
    """A type-1 MIDI file: a conductor track with the tempo and 4/4, and one track of the notes; atomic."""
    import mido

    from engine.files import atomic_path

    ticks_per_second = TPB * t.tempo_bpm / 60
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(t.tempo_bpm), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    mid.tracks.append(conductor)
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("track_name", name=name or "Transcription", time=0))
    tr.append(mido.Message("program_change", channel=0, program=int(program), time=0))
    events = []
    for n in t.notes:
        events.append((round(n.start * ticks_per_second), 1, n.pitch, n.velocity))
        events.append((max(round(n.end * ticks_per_second), round(n.start * ticks_per_second) + 1), 0, n.pitch, 0))
    now = 0
    for tick, order, pitch, vel in sorted(events):
        kind = "note_on" if order == 1 else "note_off"
        tr.append(mido.Message(kind, channel=0, note=pitch, velocity=vel, time=tick - now))
        now = tick
    tr.append(mido.MetaMessage("end_of_track", time=max(0, round(t.seconds * ticks_per_second) - now)))
    mid.tracks.append(tr)  # the track lasts as long as the audio, silent tail included
    with atomic_path(path) as tmp:
        mid.save(tmp)


def transcribe_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    model_name: str = "basic-pitch",
    program: int = 0,
    tempo_bpm: float | None = None,
    onset_threshold: float = 0.6,
    frame_threshold: float = 0.4,
    min_note_ms: float = 60.0,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Transcription:
    """Read an audio file, transcribe it and write ``dst`` (MIDI); nothing is written on error or cancel."""
    from engine.audio_io import read_audio
    from models.platform.registry import load_model

    if str(dst).lower().endswith((".wav", ".flac", ".mp3")):
        raise UserError(f"{dst}: the transcription is MIDI; name the output .mid")
    if not 0 < onset_threshold < 1:
        raise UserError(f"the onset threshold must lie between 0 and 1, not {onset_threshold}")
    if not 0 < frame_threshold < 1:
        raise UserError(f"the frame threshold must lie between 0 and 1, not {frame_threshold}")
    if min_note_ms < 0:
        raise UserError(f"the shortest note must be 0 ms or more, not {min_note_ms}")
    audio, rate = read_audio(src, RATE, max_channels=None)
    model = load_model(model_name, "features")
    t = transcribe(audio, rate, model, onset_threshold, frame_threshold, min_note_ms, tempo_bpm, progress, cancelled)
    write_transcription(t, dst, program, Path(src).stem)
    return t
