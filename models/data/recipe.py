"""Everything random about one stem render, drawn from a seed and stored beside the audio: the SoundFont
and drum kit, programs, levels, pan, reverb, sends, EQ and part styles. One SoundFont (TimGM6mb) never
appears in training; the held-out set uses it to measure timbre generalisation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.errors import UserError
from models.data.parts import BASS_STYLES, DRUM_STYLES
from models.data.pop909 import SongParts
from models.data.synth import installed

STEMS = ("drums", "bass", "vocals", "other")
TRAIN_SOUNDFONTS = ("FluidR3_GM.sf2", "FluidR3Mono_GM.sf3", "MuseScore_General.sf3")
TRAIN_DRUM_KITS = ("Black_Pearl_4_LV2.sf2", "Red_Zeppelin_4_LV2.sf2")  # AVL acoustic kits (bank 0 preset 0)
HELDOUT_SOUNDFONT = "TimGM6mb.sf2"
GM_ACOUSTIC_KITS = (0, 8, 16, 32, 40)  # standard, room, power, jazz, brush (bank 128)
VOICE_PROGRAMS = (52, 53, 54, 85)  # choir aahs, voice oohs, synth voice, lead 6 (voice)
BASS_PROGRAMS = (32, 33, 34, 35, 36, 38, 39)
KEYS_PROGRAMS = (0, 1, 2, 4, 5, 6, 7, 16, 24, 25, 26, 27, 46)
BRIDGE_PROGRAMS = (11, 12, 40, 41, 48, 49, 56, 60, 61, 65, 66, 68, 69, 71, 73, 74, 81)


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
    r.drum_style = str(rng.choice(DRUM_STYLES))
    r.bass_style = str(rng.choice(BASS_STYLES))
    return r
