"""MIDI parts to audio for training data: fluidsynth with pooled SoundFonts, then the per-stem EQ and
level. The stem renderer uses it, and so can any family that needs rendered sources (same-timbre duets,
auto-mix stems).

SoundFonts come from Debian packages (see ``../shared/data/README.md``); a render draws only from the
ones installed here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from models.data.pop909 import Note

SAMPLE_RATE = 44100
SF_DIRS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3")
Event = tuple[float, bytes]


def note_events(notes: list[Note], channel: int, t0: float, t1: float, transpose: int = 0) -> list[Event]:
    ev: list[Event] = []
    for n in notes:
        if n.start < t0 or n.start >= t1:
            continue
        p = int(np.clip(n.pitch + transpose, 0, 127))
        ev.append((n.start - t0, bytes((0x90 | channel, p, int(np.clip(n.velocity, 1, 127))))))
        ev.append((min(n.end, t1) - t0, bytes((0x80 | channel, p, 0))))
    return ev


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


def stem_eq(audio: np.ndarray, gains: list[float]) -> np.ndarray:
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


@dataclass
class Line:
    """One MIDI channel of a part: the preset it plays, its timed events, and its mixer settings
    (GM controllers: pan 10, reverb send 91, chorus send 93; 0-127)."""

    channel: int
    bank: int
    program: int
    events: list[Event]
    pan: int = 64
    send: int = 0
    chorus: int = 0


def render_part(
    pool: SynthPool, soundfont: str, lines: list[Line], reverb: dict[str, float], frames: int
) -> np.ndarray:
    """Play ``lines`` together on one synth with ``soundfont`` (reverb: room, damp, width, level) and return
    exactly ``frames`` samples, (2, frames) float32 at :data:`SAMPLE_RATE`."""
    from engine.midi_render import render_events

    synth, sfid = pool.get(soundfont)
    synth.set_reverb(reverb["room"], reverb["damp"], reverb["width"], reverb["level"])
    events: list[Event] = []
    for ln in lines:
        synth.program_select(ln.channel, sfid, ln.bank, ln.program)
        events += ln.events
    for ln in lines:
        synth.cc(ln.channel, 10, ln.pan)
        synth.cc(ln.channel, 91, ln.send)
        synth.cc(ln.channel, 93, ln.chorus)
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))  # offs before ons at one time
    return render_events(synth, events, frames, SAMPLE_RATE)


def level_factor(audio: np.ndarray, rms: float, gain_db: float) -> float:
    """The factor that brings ``audio`` to ``rms`` times ``gain_db``: stems balance by level, not by how
    loud a SoundFont preset is. 1 for silence, which stays silent. Parts of one stem scale by the same factor."""
    now = float(np.sqrt(np.mean(audio**2)))
    return rms * 10 ** (gain_db / 20) / now if now > 1e-5 else 1.0
