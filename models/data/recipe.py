"""Everything random about one stem render, drawn from a seed and stored beside the audio: the SoundFont
and drum source, programs, levels, pan, reverb, sends, EQ, part styles, per-stem production and (for
evaluation sets) the mastering. One SoundFont (TimGM6mb) never appears in training; the held-out set uses
it to measure timbre generalisation. The *recorded* set takes its drums only from recorded kits and loops
kept out of training and its instruments from a sampled SoundFont kept out of training, with sung vocals,
mixed and mastered: a stand-in for recorded material."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine.errors import UserError
from models.data.kits import kits, loops
from models.data.parts import BASS_STYLES, DRUM_STYLES
from models.data.pop909 import SongParts
from models.data.production import draw_fx, draw_master
from models.data.synth import installed
from models.data.vocals import festival_available

STEMS = ("drums", "bass", "vocals", "other")
TRAIN_SOUNDFONTS = ("FluidR3_GM.sf2", "FluidR3Mono_GM.sf3", "MuseScore_General.sf3")
TRAIN_DRUM_KITS = ("Black_Pearl_4_LV2.sf2", "Red_Zeppelin_4_LV2.sf2")  # AVL acoustic kits (bank 0 preset 0)
HELDOUT_SOUNDFONT = "TimGM6mb.sf2"
RECORDED_SOUNDFONT = "MuseScore_General_Full.sf3"  # sampled instruments, never in training
RECORDED_KITS = ("ColomboAcousticDrumkit", "ForzeeStereo", "Millo_MultiLayered3")  # Hydrogen kits kept out
RECORDED_LOOPS = ("loop_amen_full.flac", "loop_breakbeat.flac", "loop_safari.flac")
KINDS = ("train", "heldout", "recorded")
GM_ACOUSTIC_KITS = (0, 8, 16, 32, 40)  # standard, room, power, jazz, brush (bank 128)
VOICE_PROGRAMS = (52, 53, 54, 85)  # choir aahs, voice oohs, synth voice, lead 6 (voice)
BASS_PROGRAMS = (32, 33, 34, 35, 36, 38, 39)
KEYS_PROGRAMS = (0, 1, 2, 4, 5, 6, 7, 16, 24, 25, 26, 27, 28, 29, 30, 46, 88, 89, 90, 91, 94)
BRIDGE_PROGRAMS = (11, 12, 26, 27, 29, 30, 40, 41, 48, 49, 50, 56, 60, 61, 65, 66, 68, 69, 71, 73, 74, 80, 81, 87, 95)
GUITARS = range(24, 32)


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
    kind: str = "train"
    vocal_source: str = "patch"  # sung (Festival) or patch (a voice-like SoundFont program)
    drum_source: str = "sf2"  # sf2 (a SoundFont kit), kit (a recorded Hydrogen kit) or loop (a recorded loop)
    drum_sample: str = ""  # the Hydrogen kit or loop
    fx: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-stem production (production.StemFx)
    master: dict[str, float] = field(default_factory=dict)  # mastering (production.Master); empty: none


def draw_recipe(
    song: str, seed: int, parts: SongParts, seconds: float, kind: str = "train", mastered: bool = False
) -> StemRecipe:
    """The recipe of one song's render. ``kind``: ``train`` (training, validation and test renders),
    ``heldout`` (the held-out SoundFont) or ``recorded`` (held-out recorded drums and sampled
    instruments, sung vocals). ``mastered`` draws a mastering chain into the recipe: evaluation renders
    are mastered when rendered, training renders in the sampler (so random mixes are mastered too)."""
    if kind not in KINDS:
        raise ValueError(f"unknown render kind {kind!r}")
    heldout = kind == "heldout"
    rng = np.random.default_rng([seed, int(song) if song.isdigit() else 0])
    fonts, sf_kits = installed(TRAIN_SOUNDFONTS), installed(TRAIN_DRUM_KITS)
    if kind == "train" and not fonts:
        raise UserError(f"no training SoundFont installed: need one of {', '.join(TRAIN_SOUNDFONTS)}")
    if kind == "recorded" and not installed((RECORDED_SOUNDFONT,)):
        raise UserError(f"the recorded set needs {RECORDED_SOUNDFONT} (Debian musescore-general-soundfont)")
    soundfont = {"heldout": HELDOUT_SOUNDFONT, "recorded": RECORDED_SOUNDFONT}.get(kind) or str(rng.choice(fonts))
    if heldout:
        kit, preset = HELDOUT_SOUNDFONT, (128, int(rng.choice(GM_ACOUSTIC_KITS)))
    elif sf_kits and rng.random() < 0.4:
        kit, preset = str(rng.choice(sf_kits)), (0, 0)
    else:
        kit, preset = soundfont, (128, int(rng.choice(GM_ACOUSTIC_KITS)))
    starts = [n.start for n in parts.melody + parts.piano] or [0.0]
    first, last = min(starts), max(starts)
    lo, hi = max(0.0, first - 1.0), max(first, last - seconds)
    start = float(rng.uniform(lo, hi)) if hi > lo else lo
    if mastered and parts.melody:
        # an evaluation excerpt starts shortly before a melody note, so its vocal stem is never silent
        # (SDR against a silent reference means nothing); training excerpts may fall anywhere
        note = parts.melody[int(rng.integers(len(parts.melody)))]
        start = max(0.0, min(note.start - float(rng.uniform(0.5, 8.0)), parts.melody[-1].start - seconds / 2))
    r = StemRecipe(
        song=song,
        seed=seed,
        start=round(start, 3),
        seconds=seconds,
        soundfont=soundfont,
        drum_kit=kit,
        drum_preset=preset,
        kind=kind,
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
    r.drum_style = str(rng.choice(DRUM_STYLES))
    r.bass_style = str(rng.choice(BASS_STYLES))
    _draw_realism(r, rng, mastered)
    return r


def _draw_realism(r: StemRecipe, rng: np.random.Generator, mastered: bool) -> None:
    """Render version 3: sung vocals, recorded drums, per-stem production and mastering."""
    sing = festival_available()
    r.vocal_source = "sung" if sing and (r.kind == "recorded" or rng.random() < 0.85) else "patch"
    have_kits = [k for k in kits() if k not in RECORDED_KITS]
    have_loops = [x for x in loops() if x not in RECORDED_LOOPS]
    if r.kind == "recorded":
        have_kits = [k for k in kits() if k in RECORDED_KITS]
        have_loops = [x for x in loops() if x in RECORDED_LOOPS]
    u = rng.random()
    if r.kind != "heldout" and have_loops and (u < 0.15 or (r.kind == "recorded" and u < 0.3)):
        r.drum_source, r.drum_sample = "loop", str(rng.choice(have_loops))
    elif r.kind != "heldout" and have_kits and (u < 0.7 or r.kind == "recorded"):
        r.drum_source, r.drum_sample = "kit", str(rng.choice(have_kits))
    guitar = any(p in GUITARS for p in r.programs["other"])
    for stem in STEMS:
        needs_reverb = (stem == "vocals" and r.vocal_source == "sung") or (stem == "drums" and r.drum_source != "sf2")
        r.fx[stem] = asdict(draw_fx(rng, stem, guitar and stem == "other", needs_reverb))
    if mastered:
        r.master = asdict(draw_master(rng))
