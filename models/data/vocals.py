"""Sung vocals for training data: a melody's notes sung on English syllables by Festival's singing mode
(Debian ``festival`` with the ``festvox-kallpc16k`` and ``festvox-kdlpc16k`` diphone voices), then made
more like a recorded singer: registers and formant shifts, vibrato, breaths before phrases, a little air
above Festival's 8 kHz band edge, doubled takes and a harmony take.

Festival's singing mode reads an XML score (``<PITCH NOTE=...><DURATION BEATS=...>word</DURATION></PITCH>``,
``Singing.v0_1.dtd``) and writes 16 kHz mono. Its diphone voices sing an octave below the written pitch,
so the score is written an octave up. One ``festival -b`` process sings every phrase of a take, each
phrase into its own file, and each phrase is placed at its first note's time, so timing drift cannot
build up across a song. The HTS voice ignores the score's pitches, so only the diphone voices are used.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.errors import UserError
from models.data.pop909 import Note

VOICES = ("kal_diphone", "ked_diphone")
FESTIVAL_RATE = 16000
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
HIGHEST_WRITTEN = 83  # B5: Festival's singing mode fails on a score note of C6 or above
PHRASE_GAP = 0.3  # seconds of silence that end a phrase (a breath fits)
MIN_NOTE = 0.07  # shorter notes join the note before: a diphone needs time for its consonant
# Festival sings a score 0.845 times as long as written (measured over phrases of 1-6 s with both voices),
# so durations are written this much longer to land on the melody's onsets.
FESTIVAL_TIME = 1 / 0.845
# Syllables common in pop lyrics: consonant onsets and codas, open and closed vowels. ("mm" is out:
# Festival sings it half as long again as written.)
WORDS = [
    "love",
    "night",
    "heart",
    "time",
    "day",
    "way",
    "say",
    "stay",
    "go",
    "know",
    "so",
    "show",
    "low",
    "slow",
    "fly",
    "high",
    "sky",
    "light",
    "bright",
    "shine",
    "fire",
    "dream",
    "feel",
    "real",
    "see",
    "me",
    "be",
    "free",
    "need",
    "you",
    "true",
    "blue",
    "through",
    "do",
    "new",
    "near",
    "here",
    "there",
    "where",
    "care",
    "hold",
    "cold",
    "gold",
    "old",
    "soul",
    "home",
    "alone",
    "run",
    "sun",
    "one",
    "fun",
    "done",
    "young",
    "song",
    "long",
    "strong",
    "wrong",
    "night",
    "right",
    "cry",
    "why",
    "try",
    "by",
    "my",
    "eyes",
    "rise",
    "fall",
    "call",
    "all",
    "small",
    "walk",
    "talk",
    "lost",
    "cross",
    "hope",
    "rain",
    "pain",
    "again",
    "away",
    "baby",
    "oh",
    "yeah",
    "hey",
    "la",
    "na",
    "ooh",
    "ah",
    "whoa",
    "dance",
    "move",
    "rock",
    "roll",
    "kiss",
    "miss",
    "this",
    "wish",
    "star",
    "far",
    "are",
    "car",
    "heart",
    "apart",
    "start",
    "dark",
    "spark",
    "back",
    "black",
    "face",
    "place",
    "grace",
    "space",
    "chase",
    "world",
    "girl",
    "boy",
    "joy",
    "cry",
    "sweet",
    "street",
    "beat",
    "feet",
    "deep",
    "sleep",
    "keep",
    "tears",
    "years",
    "fear",
    "clear",
    "wind",
    "find",
    "mind",
    "kind",
    "blind",
    "sign",
    "line",
    "fine",
]


@dataclass
class VocalTake:
    """How one take is sung: the Festival voice, the register (semitones added to the written melody),
    the formant shift (semitones; positive sounds smaller and brighter), vibrato (Hz and cents) and
    the take's level (dB) and pan (-1 left .. 1 right) in the vocal stem."""

    voice: str
    register: int
    formant: float
    vibrato_hz: float
    vibrato_cents: float
    level_db: float = 0.0
    pan: float = 0.0
    delay: float = 0.0  # seconds, a doubled take's lag
    harmony: int = 0  # 0, or +3/+4: a third above the melody


def festival_available() -> bool:
    return shutil.which("festival") is not None


def note_name(pitch: int) -> str:
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def phrases(notes: list[Note], t0: float, t1: float) -> list[list[Note]]:
    """The monophonic line of ``notes`` inside [t0, t1), cut into phrases at gaps of ``PHRASE_GAP``.
    Overlaps are cut at the next onset; notes shorter than ``MIN_NOTE`` lengthen the note before."""
    line: list[Note] = []
    for n in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        if n.start < t0 or n.start >= t1 or (line and n.start <= line[-1].start):
            continue
        if line and line[-1].end > n.start:
            line[-1] = Note(line[-1].start, n.start, line[-1].pitch, line[-1].velocity)
        line.append(Note(n.start, min(n.end, t1), n.pitch, n.velocity))
    merged: list[Note] = []
    for n in line:
        if merged and n.end - n.start < MIN_NOTE and n.start - merged[-1].end < 0.05:
            merged[-1] = Note(merged[-1].start, n.end, merged[-1].pitch, merged[-1].velocity)
        elif n.end - n.start >= MIN_NOTE:
            merged.append(n)
    out: list[list[Note]] = []
    for n in merged:
        if out and n.start - out[-1][-1].end < PHRASE_GAP:
            out[-1].append(n)
        else:
            out.append([n])
    return out


def score_xml(phrase: list[Note], words: list[str], transpose: int, stretch: float) -> str:
    """A Festival singing score for one phrase at 60 BPM (a beat is a second), times ``stretch``."""
    stretch *= FESTIVAL_TIME
    rows = []
    for i, n in enumerate(phrase):
        nxt = phrase[i + 1].start if i + 1 < len(phrase) else n.end
        # legato inside a phrase: a note lasts to the next onset unless a clear rest follows
        end = nxt if nxt - n.end < 0.12 else n.end
        beats = max(end - n.start, MIN_NOTE) * stretch
        rows.append(
            f'<PITCH NOTE="{note_name(n.pitch + transpose)}"><DURATION BEATS="{beats:.3f}">'
            f"{words[i % len(words)]}</DURATION></PITCH>"
        )
        if end < nxt:
            rows.append(f'<REST BEATS="{(nxt - end) * stretch:.3f}"></REST>')
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
        '"Singing.v0_1.dtd" []>\n<SINGING BPM="60">\n' + "\n".join(rows) + "\n</SINGING>\n"
    )


def sing_phrases(scores: list[str], voice: str) -> list[np.ndarray]:
    """Sing each score with one Festival process; float32 mono at ``FESTIVAL_RATE`` per score."""
    if not festival_available():
        raise UserError("festival is not installed: apt-get install festival festvox-kallpc16k festvox-kdlpc16k")
    if voice not in VOICES:
        raise ValueError(f"unknown voice {voice!r}")
    with tempfile.TemporaryDirectory(prefix="refrain-sing-") as tmp:
        d = Path(tmp)
        lines = [f"(voice_{voice})", '(defvar out "x")']
        lines.append("(define (save_utt utt) (utt.save.wave utt out 'riff) utt)")
        lines.append("(set! tts_hooks (list utt.synth save_utt))")
        for k, xml in enumerate(scores):
            (d / f"p{k}.xml").write_text(xml)
            lines.append(f'(set! out "{d}/p{k}.wav") (tts_file "{d}/p{k}.xml" \'singing)')
        (d / "sing.scm").write_text("\n".join(lines) + "\n")
        run = subprocess.run(["festival", "-b", str(d / "sing.scm")], capture_output=True, text=True, timeout=600)
        out = []
        for k in range(len(scores)):
            f = d / f"p{k}.wav"
            if not f.is_file():
                raise UserError(f"festival did not sing phrase {k}: {run.stderr.strip()[-300:]}")
            audio, rate = sf.read(f, dtype="float32")
            if rate != FESTIVAL_RATE:
                raise UserError(f"festival wrote {rate} Hz, expected {FESTIVAL_RATE}")
            out.append(audio)
    return out


def vibrato(audio: np.ndarray, rate: int, hz: float, cents: float, rng: np.random.Generator) -> np.ndarray:
    """Pitch vibrato by a modulated delay: reading at t + A sin(2 pi f t) bends the pitch by about
    2 pi f A; its depth breathes slowly so it swells on held notes and fades on quick ones."""
    if cents <= 0 or len(audio) < 2:
        return audio
    t = np.arange(len(audio)) / rate
    ratio = 2 ** (cents / 1200) - 1
    depth = ratio / (2 * np.pi * hz) * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t))
    read = t + depth * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
    return np.asarray(np.interp(read * rate, np.arange(len(audio)), audio), np.float32)


def breath(rate: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """An in-breath: band-passed noise (about 0.8-6 kHz) under a smooth swell."""
    from scipy.signal import butter, sosfilt

    n = max(int(seconds * rate), 8)
    sos = butter(2, [float(rng.uniform(600, 1200)), float(rng.uniform(4000, 7000))], "bandpass", fs=rate, output="sos")
    noise = sosfilt(sos, rng.standard_normal(n)).astype(np.float32)
    env = np.sin(np.linspace(0, np.pi, n)) ** 2
    return np.asarray(noise * env / (np.sqrt(np.mean(noise**2)) + 1e-9), np.float32)


def air(audio: np.ndarray, rate: int, amount_db: float) -> np.ndarray:
    """Harmonics above Festival's 8 kHz band edge from a soft clipper on the upper mids (an exciter), so
    the voice is not the only source that stops at 8 kHz."""
    from scipy.signal import butter, sosfilt

    hp = sosfilt(butter(2, 2500, "highpass", fs=rate, output="sos"), audio)
    peak = float(np.abs(hp).max()) + 1e-9
    shaped = np.tanh(4 * hp / peak) * peak
    top = sosfilt(butter(4, 7500, "highpass", fs=rate, output="sos"), shaped)
    return np.asarray(audio + top * 10 ** (amount_db / 20), np.float32)


def harmony_line(notes: list[Note], third: int) -> list[Note]:
    """The melody a third above, major or minor per note by which lands on a pitch class the melody uses
    more (a crude key: good enough for a backing take)."""
    counts = np.bincount([n.pitch % 12 for n in notes], minlength=12) if notes else np.zeros(12)
    out = []
    for n in notes:
        up = max((3, 4), key=lambda s: (counts[(n.pitch + s) % 12], s == third))
        out.append(Note(n.start, n.end, n.pitch + up, n.velocity))
    return out


def sing_take(
    notes: list[Note], t0: float, t1: float, take: VocalTake, rate: int, rng: np.random.Generator
) -> np.ndarray:
    """One sung take of the line in [t0, t1): (frames,) float32 at ``rate``, peak-free level, silent
    where the line rests. A formant shift of k semitones sings k lower and slower, then plays the result
    k semitones faster, so pitch and timing land where written while the vowels move."""
    import soxr

    frames = round((t1 - t0) * rate)
    out = np.zeros(frames, np.float32)
    line = harmony_line(notes, take.harmony) if take.harmony else notes
    groups = phrases(line, t0, t1)
    if not groups:
        return out
    speed = 2 ** (take.formant / 12)
    words = [str(w) for w in rng.choice(WORDS, size=sum(len(g) for g in groups))]
    scores, k = [], 0
    for g in groups:
        transpose = 12 + take.register - round(take.formant)
        top = max(n.pitch for n in g) + transpose
        if top > HIGHEST_WRITTEN:  # the phrase goes an octave (or two) down, as a singer would take it
            transpose -= 12 * -(-(top - HIGHEST_WRITTEN) // 12)
        scores.append(score_xml(g, words[k : k + len(g)], transpose, speed))
        k += len(g)
    # a fractional formant shift leaves a detune of under half a semitone: pitch drift a singer has too
    sung = sing_phrases(scores, take.voice)
    for g, audio in zip(groups, sung, strict=True):
        y = soxr.resample(audio, FESTIVAL_RATE * speed, rate).astype(np.float32)
        y = vibrato(y, rate, take.vibrato_hz, take.vibrato_cents, rng)
        at = round((g[0].start - t0 + take.delay) * rate)
        if at >= frames:
            continue
        if rng.random() < 0.6 and at > 0.25 * rate:  # a breath before the phrase
            b = breath(rate, float(rng.uniform(0.2, 0.4)), rng)
            rms = float(np.sqrt(np.mean(y**2))) + 1e-9
            b *= np.float32(rms * 10 ** (rng.uniform(-26, -16) / 20))
            bs = max(0, at - len(b) - round(0.04 * rate))
            out[bs : bs + len(b)] += b[: frames - bs]
        if at < 0:
            y, at = y[-at:], 0
        n = min(len(y), frames - at)
        out[at : at + n] += y[:n]
    return out


def draw_takes(rng: np.random.Generator, melody_median: float) -> list[VocalTake]:
    """A lead take plus, sometimes, a double (another take of the same words, a little late and to one
    side) and a harmony a third above. Register: low or high singer, with the melody moved by octaves
    into its range."""
    high = rng.random() < 0.5
    centre = 69.0 if high else 57.0  # A4 or A3: a rough middle of a high and a low voice
    register = int(12 * round((centre - melody_median) / 12))
    voice = str(rng.choice(VOICES))
    formant = float(rng.uniform(2.0, 5.0)) if high else float(rng.uniform(-2.0, 1.5))
    lead = VocalTake(voice, register, formant, float(rng.uniform(4.5, 6.5)), float(rng.uniform(0, 45)))
    takes = [lead]
    if rng.random() < 0.35:
        side = float(rng.choice([-1.0, 1.0]))
        takes.append(
            VocalTake(
                str(rng.choice(VOICES)),
                register,
                formant + float(rng.uniform(-1, 1)),
                float(rng.uniform(4.5, 6.5)),
                float(rng.uniform(0, 30)),
                float(rng.uniform(-9, -4)),
                side * float(rng.uniform(0.3, 0.7)),
                float(rng.uniform(0.01, 0.035)),
            )
        )
    if rng.random() < 0.25:
        takes.append(
            VocalTake(
                voice,
                register,
                formant,
                float(rng.uniform(4.5, 6.5)),
                float(rng.uniform(0, 30)),
                float(rng.uniform(-12, -6)),
                float(rng.uniform(-0.5, 0.5)),
                float(rng.uniform(0, 0.02)),
                int(rng.choice([3, 4])),
            )
        )
    return takes


def vocal_stem(
    notes: list[Note], t0: float, t1: float, rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[VocalTake]]:
    """The sung vocal stem of ``notes`` in [t0, t1): (2, frames) float32, and the takes it holds."""
    frames = round((t1 - t0) * rate)
    stem = np.zeros((2, frames), np.float32)
    inside = [n.pitch for n in notes if t0 <= n.start < t1]
    if not inside:
        return stem, []
    takes = draw_takes(rng, float(np.median(inside)))
    lead_rms = 0.0
    for take in takes:
        y = air(sing_take(notes, t0, t1, take, rate, rng), rate, float(rng.uniform(-24, -14)))
        rms = float(np.sqrt(np.mean(y**2)))
        if rms < 1e-6:
            continue
        lead_rms = lead_rms or rms
        y *= np.float32(lead_rms / rms * 10 ** (take.level_db / 20))
        theta = (take.pan + 1) * np.pi / 4  # constant-power pan
        stem[0] += np.float32(np.cos(theta)) * y
        stem[1] += np.float32(np.sin(theta)) * y
    return stem, takes
