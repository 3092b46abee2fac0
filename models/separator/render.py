"""Training data for the stem separator, made here: POP909 songs rendered to four 44.1 kHz stereo stems.

* ``vocals``: the MELODY track on a voice-like program (choir, voice oohs, synth voice, voice lead);
* ``bass``: a bass line written from ``chord_midi.txt`` on the beats of ``beat_midi.txt`` in one of
  several patterns, on a bass program;
* ``drums``: a kit pattern on the beats and downbeats (kick, snare or side stick, hats or ride, crashes
  at phrase starts, fills), on an acoustic kit;
* ``other``: PIANO and BRIDGE on keys, guitar, string, brass or reed programs.

Each song draws its SoundFont, programs, levels, pan, reverb, chorus and EQ from one seed, so a render
is reproducible. One SoundFont (TimGM6mb) never appears in training; the held-out set uses it to measure
timbre generalisation. Renders are cached as int16 ``.npy`` files outside git (see :func:`cache_dir`)."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import UserError

STEMS = ("drums", "bass", "vocals", "other")
SAMPLE_RATE = 44100
RENDER_VERSION = 1  # bump when the renderer's output changes; the cache folder is versioned by it

SF_DIRS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3")
TRAIN_SOUNDFONTS = ("FluidR3_GM.sf2", "FluidR3Mono_GM.sf3", "MuseScore_General.sf3")
TRAIN_DRUM_KITS = ("Black_Pearl_4_LV2.sf2", "Red_Zeppelin_4_LV2.sf2")  # AVL acoustic kits (bank 0 preset 0)
HELDOUT_SOUNDFONT = "TimGM6mb.sf2"
GM_ACOUSTIC_KITS = (0, 8, 16, 32, 40)  # standard, room, power, jazz, brush (bank 128)

VOICE_PROGRAMS = (52, 53, 54, 85)  # choir aahs, voice oohs, synth voice, lead 6 (voice)
BASS_PROGRAMS = (32, 33, 34, 35, 36, 38, 39)
KEYS_PROGRAMS = (0, 1, 2, 4, 5, 6, 7, 16, 24, 25, 26, 27, 46)
BRIDGE_PROGRAMS = (11, 12, 40, 41, 48, 49, 56, 60, 61, 65, 66, 68, 69, 71, 73, 74, 81)

KICK, SIDE, SNARE, CLOSED_HH, PEDAL_HH, OPEN_HH, CRASH, RIDE = 36, 37, 38, 42, 44, 46, 49, 51
TOMS = (50, 47, 45, 43)
PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

STEM_RMS = 0.06  # each stem's level before its drawn gain (-6..0 dB)

Event = tuple[float, bytes]


@dataclass(frozen=True)
class Note:
    start: float
    end: float
    pitch: int
    velocity: int


@dataclass
class SongParts:
    """What one POP909 song offers the renderer, in seconds."""

    melody: list[Note]
    piano: list[Note]
    bridge: list[Note]
    beats: np.ndarray  # (n,) beat times
    downbeat: np.ndarray  # (n,) bool
    chords: list[tuple[float, float, int | None]]  # start, end, root pitch class (None: no chord)


@dataclass
class StemRecipe:
    """Everything random about one render, drawn from the seed; stored beside the audio."""

    song: str
    seed: int
    start: float
    seconds: float
    soundfont: str
    drum_kit: str
    drum_preset: tuple[int, int]
    programs: dict[str, list[int]] = field(default_factory=dict)
    gain_db: dict[str, float] = field(default_factory=dict)
    pan: dict[str, int] = field(default_factory=dict)
    reverb: dict[str, float] = field(default_factory=dict)
    send: dict[str, int] = field(default_factory=dict)
    eq: dict[str, list[float]] = field(default_factory=dict)
    drum_style: str = "rock"
    bass_style: str = "roots"


# -- reading POP909 ---------------------------------------------------------------------------------------
def _track_notes(path: Path) -> dict[str, list[Note]]:
    """Notes per track name, with times in seconds through the file's tempo map."""
    import mido

    mid = mido.MidiFile(str(path))
    tempos: list[tuple[int, int]] = []
    for tr in mid.tracks:
        tick = 0
        for msg in tr:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
    tempos.sort()
    if not tempos or tempos[0][0] != 0:
        tempos.insert(0, (0, 500000))
    marks = [(0, 0.0, tempos[0][1])]  # tick, seconds, tempo from there on
    for tick, tempo in tempos[1:]:
        t0, s0, tp = marks[-1]
        marks.append((tick, s0 + mido.tick2second(tick - t0, mid.ticks_per_beat, tp), tempo))
    mark_ticks = np.array([m[0] for m in marks])

    def seconds(tick: int) -> float:
        i = int(np.searchsorted(mark_ticks, tick, side="right")) - 1
        t0, s0, tp = marks[i]
        return s0 + float(mido.tick2second(tick - t0, mid.ticks_per_beat, tp))

    out: dict[str, list[Note]] = {}
    for tr in mid.tracks:
        name = tr.name.strip().upper()
        tick = 0
        on: dict[int, tuple[int, int]] = {}
        notes: list[Note] = []
        for msg in tr:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                on[msg.note] = (tick, msg.velocity)
            elif msg.type in ("note_off", "note_on") and msg.note in on:
                t_on, vel = on.pop(msg.note)
                notes.append(Note(seconds(t_on), seconds(tick), msg.note, vel))
        if notes:
            out.setdefault(name, []).extend(notes)
    return out


def chord_root(label: str) -> int | None:
    """Pitch class of a chord label such as ``B:maj``, ``C#:min7`` or ``Eb:7/5``; None for ``N``."""
    m = re.match(r"^([A-G])([#b]?)", label.strip())
    if m is None:
        return None
    pc = PITCH_CLASS[m.group(1)] + {"#": 1, "b": -1, "": 0}[m.group(2)]
    return pc % 12


def read_song(song_dir: Path) -> SongParts:
    sid = song_dir.name
    mid = song_dir / f"{sid}.mid"
    if not mid.is_file():
        raise UserError(f"not a POP909 song folder: {song_dir}")
    tracks = _track_notes(mid)
    beat_rows = np.loadtxt(song_dir / "beat_midi.txt", ndmin=2)
    chords: list[tuple[float, float, int | None]] = []
    for line in (song_dir / "chord_midi.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            chords.append((float(parts[0]), float(parts[1]), chord_root(parts[2])))
    return SongParts(
        melody=sorted(tracks.get("MELODY", []), key=lambda n: n.start),
        piano=sorted(tracks.get("PIANO", []), key=lambda n: n.start),
        bridge=sorted(tracks.get("BRIDGE", []), key=lambda n: n.start),
        beats=beat_rows[:, 0].astype(np.float64),
        downbeat=beat_rows[:, 2] > 0.5 if beat_rows.shape[1] > 2 else np.arange(len(beat_rows)) % 4 == 0,
        chords=chords,
    )


# -- writing the parts --------------------------------------------------------------------------------
def _note_events(notes: list[Note], channel: int, t0: float, t1: float, transpose: int = 0) -> list[Event]:
    ev: list[Event] = []
    for n in notes:
        if n.start < t0 or n.start >= t1:
            continue
        p = int(np.clip(n.pitch + transpose, 0, 127))
        ev.append((n.start - t0, bytes((0x90 | channel, p, int(np.clip(n.velocity, 1, 127))))))
        ev.append((min(n.end, t1) - t0, bytes((0x80 | channel, p, 0))))
    return ev


def bass_notes(parts: SongParts, style: str, rng: np.random.Generator) -> list[Note]:
    """A bass line on the beats: the chord root in the bass register, in one of a few patterns."""
    beats = parts.beats
    if len(beats) < 2:
        return []
    period = float(np.median(np.diff(beats)))
    notes: list[Note] = []
    for i, b in enumerate(beats):
        root = next((r for s, e, r in parts.chords if s <= b + 1e-3 < e), None)
        if root is None:
            continue
        pitch = 36 + root if root <= 7 else 24 + root  # E1..D#2 and up to G2: the usual bass range
        nxt = beats[i + 1] if i + 1 < len(beats) else b + period
        vel = int(rng.integers(80, 112))
        if style == "roots":
            notes.append(Note(b, b + 0.9 * (nxt - b), pitch, vel))
        elif style == "half":
            if i % 2 == 0:
                end = beats[i + 2] if i + 2 < len(beats) else b + 2 * period
                notes.append(Note(b, b + 0.95 * (end - b), pitch, vel))
        elif style == "fifths":
            notes.append(Note(b, b + 0.85 * (nxt - b), pitch + (7 if i % 2 else 0), vel))
        else:  # octave eighths
            mid = (b + nxt) / 2
            notes.append(Note(b, b + 0.45 * (nxt - b), pitch, vel))
            notes.append(Note(mid, mid + 0.45 * (nxt - b), pitch + 12, vel - 10))
    return notes


def drum_notes(parts: SongParts, style: str, rng: np.random.Generator) -> list[Note]:
    """A kit pattern on the beats: the bar position comes from the downbeats."""
    beats, down = parts.beats, parts.downbeat
    if len(beats) < 2:
        return []
    period = float(np.median(np.diff(beats)))
    notes: list[Note] = []
    pos, bar = 0, -1
    hit = 0.08

    def add(t: float, key: int, lo: int, hi: int) -> None:
        jitter = float(rng.normal(0, 0.004))
        notes.append(Note(max(0.0, t + jitter), t + jitter + hit, key, int(rng.integers(lo, hi))))

    for i, b in enumerate(beats):
        if down[i]:
            pos, bar = 0, bar + 1
        else:
            pos += 1
        nxt = beats[i + 1] if i + 1 < len(beats) else b + period
        half = (b + nxt) / 2
        if pos == 0 and bar % 8 == 0:
            add(b, CRASH, 90, 115)
        fill = bar % 8 == 7 and pos >= 2 and style != "ballad"
        if fill:
            for k, t in enumerate((b, half)):
                add(t, TOMS[(2 * (pos - 2) + k) % len(TOMS)], 85, 115)
            continue
        if style == "rock":
            if pos in (0, 2):
                add(b, KICK, 95, 120)
            if pos in (1, 3):
                add(b, SNARE, 90, 118)
            add(b, CLOSED_HH, 60, 90)
            add(half, CLOSED_HH, 45, 75)
        elif style == "four":
            add(b, KICK, 100, 122)
            if pos in (1, 3):
                add(b, SNARE, 90, 118)
            add(half, OPEN_HH, 60, 85)
        elif style == "halftime":
            if pos == 0:
                add(b, KICK, 95, 120)
            if pos == 2:
                add(b, SNARE, 95, 120)
            add(b, CLOSED_HH, 55, 85)
        else:  # ballad
            if pos == 0:
                add(b, KICK, 80, 105)
            if pos in (1, 3):
                add(b, SIDE, 70, 100)
            add(b, RIDE, 55, 85)
            if pos in (1, 3):
                add(b, PEDAL_HH, 40, 65)
    return notes


# -- rendering ---------------------------------------------------------------------------------------------
def find_sf(name: str) -> Path:
    for d in SF_DIRS:
        p = Path(d) / name
        if p.is_file():
            return p
    raise UserError(f"SoundFont {name} not found in {', '.join(SF_DIRS)} (see models/separator/CARD.md)")


def installed(names: tuple[str, ...]) -> tuple[str, ...]:
    """The SoundFonts of ``names`` found on this machine; a render draws only from those (a different
    set of installed SoundFonts therefore renders different, still reproducible, data)."""
    return tuple(n for n in names if any((Path(d) / n).is_file() for d in SF_DIRS))


def draw_recipe(song: str, seed: int, parts: SongParts, seconds: float, heldout: bool) -> StemRecipe:
    rng = np.random.default_rng([seed, int(song) if song.isdigit() else 0])
    fonts, kits = installed(TRAIN_SOUNDFONTS), installed(TRAIN_DRUM_KITS)
    if not heldout and not fonts:
        raise UserError(f"no training SoundFont installed: need one of {', '.join(TRAIN_SOUNDFONTS)}")
    soundfont = HELDOUT_SOUNDFONT if heldout else str(rng.choice(fonts))
    if heldout:
        kit, preset = HELDOUT_SOUNDFONT, (128, int(rng.choice(GM_ACOUSTIC_KITS)))
    elif kits and rng.random() < 0.4:
        kit, preset = str(rng.choice(kits)), (0, 0)
    else:
        kit, preset = soundfont, (128, int(rng.choice(GM_ACOUSTIC_KITS)))
    starts = [n.start for n in parts.melody + parts.piano] or [0.0]
    first, last = min(starts), max(starts)
    lo, hi = max(0.0, first - 1.0), max(first, last - seconds)
    start = float(rng.uniform(lo, hi)) if hi > lo else lo
    r = StemRecipe(
        song=song,
        seed=seed,
        start=round(start, 3),
        seconds=seconds,
        soundfont=soundfont,
        drum_kit=kit,
        drum_preset=preset,
    )
    r.programs = {
        "vocals": [int(rng.choice(VOICE_PROGRAMS))],
        "bass": [int(rng.choice(BASS_PROGRAMS))],
        "other": [int(rng.choice(KEYS_PROGRAMS)), int(rng.choice(BRIDGE_PROGRAMS))],
    }
    r.gain_db = {s: round(float(rng.uniform(-6, 0)), 2) for s in STEMS}
    r.pan = {
        "drums": int(64 + rng.integers(-10, 11)),
        "bass": int(64 + rng.integers(-8, 9)),
        "vocals": int(64 + rng.integers(-12, 13)),
        "other": int(64 + rng.integers(-40, 41)),
    }
    r.reverb = {
        "room": round(float(rng.uniform(0.2, 0.9)), 2),
        "damp": round(float(rng.uniform(0.1, 0.7)), 2),
        "width": round(float(rng.uniform(0.5, 1.0)), 2),
        "level": round(float(rng.uniform(0.3, 0.9)), 2),
    }
    r.send = {s: int(rng.integers(0, 70)) for s in STEMS}
    r.send["bass"] = min(r.send["bass"], 25)
    # low shelf, presence peak and high shelf gains (dB) per stem
    r.eq = {s: [round(float(x), 2) for x in rng.uniform(-4, 4, size=3)] for s in STEMS}
    r.drum_style = str(rng.choice(("rock", "four", "halftime", "ballad")))
    r.bass_style = str(rng.choice(("roots", "half", "fifths", "octaves")))
    return r


class SynthPool:
    """pyfluidsynth synths with their SoundFonts loaded, reused across songs (an .sf3 loads in ~1 s)."""

    def __init__(self) -> None:
        self._synths: dict[str, tuple[Any, int]] = {}

    def get(self, sf_name: str) -> tuple[Any, int]:
        import fluidsynth

        if sf_name not in self._synths:
            synth = fluidsynth.Synth(gain=0.4, samplerate=float(SAMPLE_RATE))
            sfid = synth.sfload(str(find_sf(sf_name)))
            if sfid < 0:
                raise UserError(f"cannot load SoundFont {sf_name}")
            self._synths[sf_name] = (synth, sfid)
        synth, sfid = self._synths[sf_name]
        synth.system_reset()
        return synth, sfid

    def close(self) -> None:
        for synth, _ in self._synths.values():
            synth.delete()
        self._synths.clear()


def _eq(audio: np.ndarray, gains: list[float]) -> np.ndarray:
    from engine.plugins.builtin import pedalboard_module

    pb = pedalboard_module()
    board = pb.Pedalboard(
        [
            pb.LowShelfFilter(cutoff_frequency_hz=200, gain_db=gains[0]),
            pb.PeakFilter(cutoff_frequency_hz=2500, gain_db=gains[1], q=0.9),
            pb.HighShelfFilter(cutoff_frequency_hz=7000, gain_db=gains[2]),
        ]
    )
    return np.asarray(board(audio, SAMPLE_RATE), np.float32)


def render_stems(
    song_dir: Path, seed: int, seconds: float, heldout: bool, pool: SynthPool
) -> tuple[np.ndarray, StemRecipe]:
    """Render one song excerpt to (4, 2, frames) float32 stems in ``STEMS`` order, and its recipe."""
    from engine.midi_render import render_events

    parts = read_song(song_dir)
    r = draw_recipe(song_dir.name, seed, parts, seconds, heldout)
    rng = np.random.default_rng([seed, 7, int(song_dir.name) if song_dir.name.isdigit() else 0])
    t0, t1 = r.start, r.start + seconds
    frames = round(seconds * SAMPLE_RATE)
    lines: dict[str, list[tuple[int, list[Note]]]] = {
        "vocals": [(r.programs["vocals"][0], parts.melody)],
        "bass": [(r.programs["bass"][0], bass_notes(parts, r.bass_style, rng))],
        "other": [(r.programs["other"][0], parts.piano), (r.programs["other"][1], parts.bridge)],
    }
    out = np.zeros((len(STEMS), 2, frames), np.float32)
    for si, stem in enumerate(STEMS):
        sf_name = r.drum_kit if stem == "drums" else r.soundfont
        synth, sfid = pool.get(sf_name)
        synth.set_reverb(r.reverb["room"], r.reverb["damp"], r.reverb["width"], r.reverb["level"])
        events: list[Event] = []
        if stem == "drums":
            ch = 9 if r.drum_preset[0] == 128 else 0
            synth.program_select(ch, sfid, *r.drum_preset)
            events += _note_events(drum_notes(parts, r.drum_style, rng), ch, t0, t1)
            chans = [ch]
        else:
            chans = []
            for ch, (prog, notes) in enumerate(lines[stem]):
                synth.program_select(ch, sfid, 0, prog)
                # voices and leads sit an octave up when the source part is low
                shift = 12 if stem == "vocals" and notes and np.median([n.pitch for n in notes]) < 55 else 0
                events += _note_events(notes, ch, t0, t1, shift)
                chans.append(ch)
        for ch in chans:
            synth.cc(ch, 10, r.pan[stem])
            synth.cc(ch, 91, r.send[stem])
            synth.cc(ch, 93, int(rng.integers(0, 30)))
        events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))  # offs before ons at one time
        audio = render_events(synth, events, frames, SAMPLE_RATE)
        audio = _eq(audio, r.eq[stem])
        # Balance by level, not by how loud each SoundFont preset happens to be, then apply the drawn gain.
        rms = float(np.sqrt(np.mean(audio**2)))
        if rms > 1e-5:
            audio *= np.float32(STEM_RMS * 10 ** (r.gain_db[stem] / 20) / rms)
        out[si] = audio
    return out, r


# -- the cache ---------------------------------------------------------------------------------------------
def cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """``$REFRAIN_STEM_CACHE``, else the user cache folder; versioned by the renderer."""
    if root is None:
        root = os.environ.get("REFRAIN_STEM_CACHE")
    if root is None:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("refrain")) / "separator-stems"
    return Path(root) / f"v{RENDER_VERSION}"


def render_set(
    pop909: Path,
    ids: list[str],
    out: Path,
    seed: int,
    seconds: float,
    heldout: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Render songs into ``out`` (skipping ones already there); returns the ids rendered or cached."""
    out.mkdir(parents=True, exist_ok=True)
    pool = SynthPool()
    done: list[str] = []
    try:
        for k, sid in enumerate(ids):
            target = out / f"{sid}.npy"
            if not target.exists():
                song_dir = pop909 / sid
                if not song_dir.is_dir():
                    continue
                try:
                    stems, recipe = render_stems(song_dir, seed, seconds, heldout, pool)
                except (UserError, ValueError, OSError) as exc:
                    print(f"skipping {sid}: {exc}", file=sys.stderr)
                    continue
                peak = float(np.abs(stems.sum(0)).max())
                if peak > 0.99:  # keep the mixture unclipped; the same factor for every stem
                    stems *= np.float32(0.99 / peak)
                pcm = np.round(np.clip(stems, -1, 1) * 32767).astype(np.int16)
                tmp = target.with_suffix(".tmp.npy")
                np.save(tmp, pcm)
                (out / f"{sid}.json").write_text(json.dumps(asdict(recipe)))
                os.replace(tmp, target)
            done.append(sid)
            if progress is not None:
                progress(k + 1, len(ids))
    finally:
        pool.close()
    return done


def splits(pop909: Path, n_train: int, n_valid: int = 12, n_test: int = 24) -> dict[str, list[str]]:
    """Song ids per set, from the generator's song split (so no test song is ever trained on).
    ``train`` takes the first ``n_train`` of a fixed shuffle: a smaller set is a prefix of a larger one."""
    from models.generator.pop909 import load_split

    sp = load_split()
    have = {p.name for p in pop909.iterdir()} if pop909.is_dir() else set()
    order = np.random.default_rng(909).permutation(sorted(i for i in sp["train"] if i in have))
    return {
        "train": [str(i) for i in order[:n_train]],
        "valid": [i for i in sp["valid"] if i in have][:n_valid],
        "test": [i for i in sp["test"] if i in have][:n_test],
    }


SETS = ("train", "valid", "test", "heldout")  # heldout: the test songs through the held-out SoundFont


def main(argv: list[str] | None = None) -> int:
    import argparse

    from tqdm import tqdm

    ap = argparse.ArgumentParser(prog="python -m models.separator.render", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pop909", type=Path, default=Path("../shared/data/pop909/POP909"))
    ap.add_argument("--out", type=Path, default=None, help="cache folder (default: see cache_dir)")
    ap.add_argument("--train", type=int, default=240, help="training songs")
    ap.add_argument("--seconds", type=float, default=30.0, help="excerpt length per song")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args(argv)
    root = cache_dir(args.out)
    ids = splits(args.pop909, args.train)
    for name in args.sets.split(","):
        song_ids = ids["test" if name == "heldout" else name]
        bar = tqdm(total=len(song_ids), desc=name, file=sys.stderr)

        def tick(k: int, n: int, bar: Any = bar) -> None:
            bar.update(1)

        got = render_set(
            args.pop909,
            song_ids,
            root / name,
            args.seed,
            args.seconds,
            heldout=name == "heldout",
            progress=tick,
        )
        bar.close()
        print(json.dumps({"set": name, "songs": len(got), "folder": str(root / name)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
