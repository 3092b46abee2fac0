"""Same-timbre duets for the splitter, rendered from POP909 with the shared synth and the separator's vocal
synthesis, plus two-speaker speech from Debian's speech synthesisers.

Each render is one song excerpt as a *pair* of mono sources on one timbre, at :data:`RATE`:

* ``instrument``: the MELODY against the BRIDGE, both on one GM program of one SoundFont (strings, winds,
  brass, voices, guitars, keys);
* ``piano``: a piano part's top voice against the rest, on one keyboard program;
* ``sung``: the MELODY and the BRIDGE sung by Festival (:mod:`models.data.vocals`), two takes with their
  own registers, formant shifts and vibrato;
* ``speech``: two speakers reading different sentences (festival, flite and espeak-ng voices).

Doubled stretches (the two lines in unison or octaves most of the time) are marked unusable per second and
never drawn: no method can split them. Each source gets its own production (compression, saturation,
reverb) from :mod:`models.data.production`. Everything random comes from the seed and the song id.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from models.data.pop909 import Note, read_song
from models.data.production import StemFx, draw_fx, process_stem
from models.data.synth import SAMPLE_RATE, Line, SynthPool, installed, note_events, render_part

RATE = 22050  # the splitter's rate: what the renders are stored at and the network runs at
KINDS = ("instrument", "piano", "sung", "speech")
# Same-timbre programs (GM): strings, winds, brass, voices, guitars, keys.
INSTRUMENT_PROGRAMS = (40, 41, 42, 48, 49, 56, 57, 60, 64, 65, 66, 68, 71, 73, 52, 53, 24, 25, 26, 27, 0, 4, 11, 16)
PIANO_PROGRAMS = (0, 1, 2, 4, 5, 6, 7)
TRAIN_SOUNDFONTS = ("FluidR3_GM.sf2", "FluidR3Mono_GM.sf3", "MuseScore_General.sf3")
HELDOUT_SOUNDFONT = "TimGM6mb.sf2"
# Speech voices as (engine, voice); the held-out one is never trained on.
SPEECH_VOICES = (
    ("festival", "kal_diphone"),
    ("festival", "ked_diphone"),
    ("flite", "awb"),
    ("flite", "rms"),
    ("flite", "kal16"),
    ("espeak-ng", "en-us+m3"),
    ("espeak-ng", "en-gb+f3"),
    ("espeak-ng", "en+f4"),
)
HELDOUT_SPEECH_VOICES = (("flite", "slt"), ("espeak-ng", "en-us+f2"))  # never trained on
MIN_ACTIVE = 0.3  # a source must sound this share of its excerpt (else the render is skipped)
DOUBLED_SHARE = 0.5  # a second is unusable when the lines share a pitch class this much of it
SENTENCES = (
    "The morning train was late again, so we walked along the river.",
    "She said the chorus was too long, but the bridge made up for it.",
    "Nobody ever listens to the bridge anyway.",
    "Then the rain started and we ran under the old bridge.",
    "The echo made every word sound twice.",
    "Please bring the red notebook when you come tomorrow.",
    "I think the second verse needs a different ending.",
    "Could you turn the guitar down a little in the last part?",
    "We recorded the whole take in one evening.",
    "The drummer wanted to try it slower, with brushes.",
    "Meet me at the station at half past seven.",
    "Her voice sounded warmer on the old microphone.",
    "Let us listen to it once more from the top.",
    "The neighbours complained about the noise again last week.",
    "A quiet song can still fill a very large room.",
    "He forgot the lyrics halfway through the third line.",
)


@dataclass
class DuetRecipe:
    """Everything random about one duet render, drawn from the seed; stored beside the audio."""

    song: str
    kind: str
    seed: int
    start: float
    seconds: float
    timbre: str  # what the two sources share: "sf:program", a singing voice pair, or "speech"
    heldout: bool = False
    voices: list[str] = field(default_factory=list)
    fx: list[dict[str, Any]] = field(default_factory=list)
    gain_db: list[float] = field(default_factory=list)


def top_voice(notes: list[Note]) -> tuple[list[Note], list[Note]]:
    """A piano part's top voice (each note not sounding under a higher note for most of its length) and
    the rest."""
    top: list[Note] = []
    rest: list[Note] = []
    for n in notes:
        length = max(n.end - n.start, 1e-3)
        covered = sum(
            max(0.0, min(n.end, m.end) - max(n.start, m.start)) for m in notes if m.pitch > n.pitch and m is not n
        )
        (top if covered < 0.5 * length else rest).append(n)
    return top, rest


def coverage(notes: list[Note], t0: float, t1: float) -> float:
    """Share of [t0, t1) where at least one of ``notes`` sounds."""
    times = np.arange(t0, t1, 0.05)
    on = np.zeros(len(times), bool)
    for n in notes:
        on |= (times >= n.start) & (times < n.end)
    return float(on.mean()) if len(on) else 0.0


def pick_start(pair: tuple[list[Note], list[Note]], seconds: float, rng: np.random.Generator) -> float:
    """An excerpt start where both lines sound as much as possible: the best of 16 random candidates by the
    smaller of the two lines' coverage."""
    starts = [n.start for line in pair for n in line] or [0.0]
    lo, hi = max(0.0, min(starts) - 0.5), max(min(starts), max(starts) - seconds)
    cands = rng.uniform(lo, hi, 16) if hi > lo else np.array([lo])
    score = [min(coverage(pair[0], t, t + seconds), coverage(pair[1], t, t + seconds)) for t in cands]
    return float(cands[int(np.argmax(score))])


def activity(y: np.ndarray, frame: int = RATE // 10) -> tuple[float, float]:
    """(share of 100 ms frames within 40 dB of the loudest, RMS over those frames) of a mono signal."""
    n = len(y) // frame
    if n == 0:
        return 0.0, 0.0
    e = np.square(y[: n * frame].astype(np.float64)).reshape(n, frame).mean(1)
    if e.max() <= 1e-12:
        return 0.0, 0.0
    on = e > 1e-4 * e.max()
    return float(on.mean()), float(np.sqrt(e[on].mean()))


def _pitch_classes(notes: list[Note], times: np.ndarray) -> np.ndarray:
    """(frames, 12) bool: which pitch classes sound at each time."""
    out = np.zeros((len(times), 12), bool)
    for n in notes:
        on = (times >= n.start) & (times < n.end)
        out[on, n.pitch % 12] = True
    return out


def usable_seconds(a: list[Note], b: list[Note], t0: float, seconds: float) -> np.ndarray:
    """(ceil(seconds),) bool: the seconds where the two lines are not doubling each other (sharing a pitch
    class, that is unison or octaves, for :data:`DOUBLED_SHARE` of the time both sound)."""
    n_sec = int(np.ceil(seconds))
    times = t0 + (np.arange(n_sec * 50) + 0.5) / 50
    pa, pb = _pitch_classes(a, times), _pitch_classes(b, times)
    both = pa.any(1) & pb.any(1)
    shared = both & (pa & pb).any(1)
    both_s = both.reshape(n_sec, 50).sum(1)
    shared_s = shared.reshape(n_sec, 50).sum(1)
    doubled: np.ndarray = (both_s > 0) & (shared_s >= DOUBLED_SHARE * np.maximum(both_s, 1))
    return ~doubled


@functools.cache
def flite_voices() -> tuple[str, ...]:
    """The voices compiled into Debian's flite (``flite -lv``)."""
    out = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=30).stdout
    return tuple(out.split(":", 1)[-1].split())


def speak(text: str, engine: str, voice: str) -> np.ndarray:
    """``text`` read by a Debian speech synthesiser: float32 mono at :data:`RATE`. UserError when the
    engine is not installed or writes nothing."""
    import soundfile as sf
    import soxr

    exe = {"festival": "text2wave", "flite": "flite", "espeak-ng": "espeak-ng"}[engine]
    if shutil.which(exe) is None:
        raise UserError(f"{exe} is not installed (Debian: festival, flite, espeak-ng)")
    if engine == "flite" and voice not in flite_voices():  # flite reads an unknown voice in its default one
        raise UserError(f"flite has no voice {voice!r} (it has {', '.join(flite_voices())})")
    with tempfile.TemporaryDirectory(prefix="refrain-speak-") as tmp:
        wav = Path(tmp) / "s.wav"
        if engine == "festival":
            (Path(tmp) / "t.txt").write_text(text)
            cmd = [exe, "-eval", f"(voice_{voice})", "-o", str(wav), str(Path(tmp) / "t.txt")]
        elif engine == "flite":
            cmd = [exe, "-voice", voice, "-t", text, "-o", str(wav)]
        else:
            cmd = [exe, "-v", voice, "-s", "150", "-w", str(wav), text]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if not wav.is_file():
            raise UserError(f"{exe} wrote no audio: {run.stderr.strip()[-200:]}")
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    out: np.ndarray = np.asarray(soxr.resample(audio.mean(1), rate, RATE), np.float32)
    return out


def _speech_track(engine: str, voice: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Sentences with pauses between them, filling ``seconds``."""
    frames = round(seconds * RATE)
    out = np.zeros(frames, np.float32)
    at = round(float(rng.uniform(0, 1.5)) * RATE)
    while at < frames:
        y = speak(SENTENCES[int(rng.integers(len(SENTENCES)))], engine, voice)
        n = min(len(y), frames - at)
        out[at : at + n] = y[:n]
        at += n + round(float(rng.uniform(0.2, 1.2)) * RATE)
    return out


def _mono(audio: np.ndarray) -> np.ndarray:
    """(2, n) at the synth's rate -> (n,) at :data:`RATE`."""
    import soxr

    out: np.ndarray = np.asarray(soxr.resample(audio.mean(0), SAMPLE_RATE, RATE), np.float32)
    return out


def render_duet(
    song_dir: Path, kind: str, seed: int, seconds: float, pool: SynthPool, heldout: bool = False
) -> tuple[np.ndarray, np.ndarray, DuetRecipe]:
    """One duet: ((2, frames) float32 sources at :data:`RATE`, (seconds,) usable mask, recipe).
    ``heldout`` plays instruments on :data:`HELDOUT_SOUNDFONT` and reads speech with the two
    :data:`HELDOUT_SPEECH_VOICES` (its draws are seeded apart from the other sets'); it has no sung kind.
    ValueError when the song has too little of what the kind needs."""
    from models.data.vocals import VOICES, VocalTake, air, sing_take

    if kind not in KINDS:
        raise ValueError(f"unknown duet kind {kind!r}")
    parts = read_song(song_dir)
    if heldout and kind == "sung":
        raise ValueError("no singing voice is held out (Debian has two diphone voices, both trained on)")
    song = int(song_dir.name) if song_dir.name.isdigit() else 0
    rng = np.random.default_rng([seed, KINDS.index(kind), song] + ([1] if heldout else []))
    pair: tuple[list[Note], list[Note]] = ([], [])
    if kind in ("instrument", "sung"):
        pair = (parts.melody, parts.bridge)
    elif kind == "piano":
        pair = top_voice(parts.piano)
    t0 = pick_start(pair, seconds, rng) if kind != "speech" else 0.0
    t1 = t0 + seconds
    frames = round(seconds * RATE)
    r = DuetRecipe(song_dir.name, kind, seed, round(t0, 3), seconds, "", heldout)
    lines: tuple[list[Note], list[Note]] = ([], [])
    if kind in ("instrument", "piano"):
        fonts = (HELDOUT_SOUNDFONT,) if heldout else installed(TRAIN_SOUNDFONTS)
        if not fonts:
            raise UserError("no SoundFont installed for duets (Debian fluid-soundfont-gm, timgm6mb-soundfont)")
        sf_name = str(rng.choice(fonts))
        program = int(rng.choice(INSTRUMENT_PROGRAMS if kind == "instrument" else PIANO_PROGRAMS))
        lines = pair
        r.timbre = f"{sf_name}:{program}"
        synth_frames = round(seconds * SAMPLE_RATE)
        reverb = {
            "room": float(rng.uniform(0.2, 0.8)),
            "damp": 0.4,
            "width": 0.8,
            "level": float(rng.uniform(0.2, 0.7)),
        }
        sources = []
        for line in lines:
            ev = note_events(line, 0, t0, t1)
            line_out = render_part(pool, sf_name, [Line(0, 0, program, ev, send=40)], reverb, synth_frames)
            sources.append(_mono(line_out))
    elif kind == "sung":
        lines = pair
        sources = []
        for line in lines:
            inside = [n.pitch for n in line if t0 <= n.start < t1] or [60]
            high = rng.random() < 0.5
            register = int(12 * round(((69.0 if high else 57.0) - float(np.median(inside))) / 12))
            voice = str(rng.choice(VOICES))
            formant = float(rng.uniform(2.0, 5.0)) if high else float(rng.uniform(-2.0, 1.5))
            take = VocalTake(voice, register, formant, float(rng.uniform(4.5, 6.5)), float(rng.uniform(0, 45)))
            r.voices.append(f"{voice}{register:+d}")
            y = air(sing_take(line, t0, t1, take, SAMPLE_RATE, rng), SAMPLE_RATE, float(rng.uniform(-24, -14)))
            sources.append(_mono(np.stack([y, y])))
        r.timbre = "sung"
    else:
        pool_voices = list(HELDOUT_SPEECH_VOICES if heldout else SPEECH_VOICES)
        picks = [pool_voices[int(i)] for i in rng.choice(len(pool_voices), 2, replace=False)]
        r.voices = [f"{e}:{v}" for e, v in picks]
        sources = [_speech_track(e, v, seconds, rng) for e, v in picks]
        r.timbre = "speech"
    out = np.zeros((2, frames), np.float32)
    for k, y in enumerate(sources):
        y = y[:frames]
        share = activity(y)[0]
        if share < MIN_ACTIVE:
            raise ValueError(
                f"song {song_dir.name}: the {kind} duet's source {k + 1} sounds {share:.0%} of the excerpt"
            )
        fx = draw_fx(rng, "vocals" if kind in ("sung", "speech") else "other", False, kind in ("sung", "speech"))
        fx.width = 1.0
        r.fx.append(asdict(fx))
        wet = process_stem(np.stack([y, y]), RATE, StemFx(**r.fx[-1]))[0]
        r.gain_db.append(round(float(rng.uniform(-3, 3)), 2))
        # by the level while sounding: a line that rests half the time is not pushed up to make up for it
        out[k, : len(wet)] = wet * np.float32(0.1 * 10 ** (r.gain_db[-1] / 20) / max(activity(wet)[1], 1e-6))
    usable = np.ones(int(np.ceil(seconds)), bool)
    if kind != "speech":
        usable = usable_seconds(lines[0], lines[1], t0, seconds)
    return out, usable, r
