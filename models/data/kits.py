"""Recorded drums for training data: Hydrogen drum kits (Debian ``hydrogen-drumkits``: multi-sampled
recordings with velocity layers, per-kit licences in each kit's ``drumkit.xml``) played from a GM drum
part, and recorded loops (Debian ``sonic-pi-samples``, CC0/CC-BY) stretched to the song's tempo.

A kit's instruments are matched to GM drum keys by their names (kick, snare, hats, toms, cymbals); a kit
without a kick, a snare and a hi-hat is not used. Each hit picks the velocity layer that covers it,
with a little extra timing and velocity humanisation."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.data.pop909 import Note

KIT_ROOT = Path("/usr/share/hydrogen/data/drumkits")
LOOP_ROOT = Path("/usr/share/sonic-pi/samples")
# GM key -> name patterns, first match wins; tried in this order so "kick" never claims a "tom"
ROLES: tuple[tuple[int, str], ...] = (
    (36, r"kick|bass ?drum|\bbd\b|^bd"),
    (37, r"stick|rim|side"),
    (38, r"snare(?!.*(roll|jazz))|^sn"),
    (42, r"(closed|close|clsd).*(hh|hat)|(hh|hat).*(closed|close|clsd)|^hh$|hat closed"),
    (44, r"pedal"),
    (46, r"open.*(hh|hat)|(hh|hat).*open"),
    (49, r"crash|splash"),
    (51, r"ride"),
    (50, r"tom.*(hi|high|1)|hi.*tom"),
    (47, r"tom.*(mid|2)|mid.*tom"),
    (45, r"tom.*(mid|2|lo)|mid.*tom"),
    (43, r"tom.*(lo|floor|3)|floor|lo.*tom"),
    (39, r"clap"),
)
FALLBACK = {37: 38, 44: 42, 46: 42, 51: 42, 49: 51, 45: 47, 47: 50, 43: 45, 50: 47, 39: 38}
LOOPS = (
    "loop_amen.flac",
    "loop_breakbeat.flac",
    "loop_compus.flac",
    "loop_mika.flac",
    "loop_safari.flac",
    "loop_perc1.flac",
    "loop_perc2.flac",
    "loop_tabla.flac",
    "loop_industrial.flac",
    "loop_mehackit1.flac",
    "loop_mehackit2.flac",
    "loop_electric.flac",
    "loop_amen_full.flac",
)


@dataclass
class Layer:
    lo: float
    hi: float
    path: Path
    gain: float = 1.0


@dataclass
class Kit:
    name: str
    layers: dict[int, list[Layer]] = field(default_factory=dict)  # GM key -> velocity layers


def _text(el: ET.Element, tag: str, default: str = "") -> str:
    found = el.find(tag)
    return found.text.strip() if found is not None and found.text else default


def _strip_ns(root: ET.Element) -> None:
    for el in root.iter():
        if "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def read_kit(folder: Path) -> Kit:
    """A Hydrogen ``drumkit.xml``: instruments mapped to GM keys, each with its velocity layers."""
    root = ET.parse(folder / "drumkit.xml").getroot()
    _strip_ns(root)
    kit = Kit(_text(root, "name", folder.name))
    for inst in root.iter("instrument"):
        name = _text(inst, "name").lower()
        key = next((k for k, pat in ROLES if k not in kit.layers and re.search(pat, name)), None)
        if key is None:
            continue
        layers = []
        for lay in inst.iter("layer"):
            f = folder / _text(lay, "filename")
            if f.is_file():
                layers.append(
                    Layer(
                        float(_text(lay, "min", "0")),
                        float(_text(lay, "max", "1")),
                        f,
                        float(_text(lay, "gain", "1") or 1),
                    )
                )
        if not layers:  # old format: one <filename> on the instrument
            f = folder / _text(inst, "filename")
            if f.is_file():
                layers.append(Layer(0.0, 1.0, f))
        if layers:
            kit.layers[key] = sorted(layers, key=lambda x: x.lo)
    return kit


@lru_cache(maxsize=1)
def kits() -> tuple[str, ...]:
    """Names of the installed Hydrogen kits that have a kick, a snare and a hi-hat."""
    if not KIT_ROOT.is_dir():
        return ()
    out = []
    for d in sorted(KIT_ROOT.iterdir()):
        if (d / "drumkit.xml").is_file():
            try:
                k = read_kit(d)
            except (ET.ParseError, ValueError):
                continue
            if {36, 38, 42} <= k.layers.keys():
                out.append(d.name)
    return tuple(out)


@lru_cache(maxsize=512)
def _sample(path: Path, rate: int) -> np.ndarray:
    """(2, n) float32 at ``rate``."""
    import soundfile as sf
    import soxr

    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    if sr != rate:
        audio = soxr.resample(audio, sr, rate)
    audio = audio[:, :2] if audio.shape[1] >= 2 else np.repeat(audio, 2, 1)
    return np.ascontiguousarray(audio.T, np.float32)


def play_kit(name: str, notes: list[Note], t0: float, t1: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """The drum part ``notes`` (GM keys) in [t0, t1) on Hydrogen kit ``name``: (2, frames) float32.
    Hits are humanised by about 6 ms and 6 velocity steps; an open hat is choked by the next closed one."""
    kit = read_kit(KIT_ROOT / name)
    frames = round((t1 - t0) * rate)
    out = np.zeros((2, frames), np.float32)
    choke: list[tuple[int, int]] = []  # (start, length) of open-hat hits
    for n in sorted(notes, key=lambda n: n.start):
        if n.start < t0 or n.start >= t1:
            continue
        key = n.pitch if n.pitch in kit.layers else FALLBACK.get(n.pitch, -1)
        if key not in kit.layers:
            continue
        vel = float(np.clip((n.velocity + rng.normal(0, 6)) / 127, 0.02, 1.0))
        cands = [la for la in kit.layers[key] if la.lo <= vel <= la.hi] or kit.layers[key]
        layer = cands[int(rng.integers(len(cands)))]
        hit = _sample(layer.path, rate)
        at = round((n.start - t0 + rng.normal(0, 0.006)) * rate)
        at = max(0, at)
        if key == 42 and choke:  # a closed hat cuts the ringing open hat
            s, ln = choke[-1]
            if s < at < s + ln:
                fade = min(frames, at + 256) - at
                out[:, at : at + fade] *= np.linspace(1, 0, fade, dtype=np.float32)
                out[:, at + fade : s + ln] = 0
        n_frames = min(hit.shape[1], frames - at)
        if n_frames <= 0:
            continue
        # velocity scales the layer, which is already the timbre of that strength
        out[:, at : at + n_frames] += hit[:, :n_frames] * np.float32(layer.gain * (0.35 + 0.65 * vel))
        if key == 46:
            choke.append((at, n_frames))
    return out


def loops() -> tuple[str, ...]:
    return tuple(n for n in LOOPS if (LOOP_ROOT / n).is_file())


def play_loop(name: str, beats: np.ndarray, t0: float, t1: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A recorded loop stretched to the song's tempo (pedalboard's time stretch) and repeated from the
    first downbeat-ish beat in [t0, t1): (2, frames) float32. Loops are assumed to hold a whole number of
    4/4 bars; the bar count is the one whose tempo lands nearest 120 BPM."""
    import pedalboard

    audio = _sample(LOOP_ROOT / name, rate)
    length = audio.shape[1] / rate
    frames = round((t1 - t0) * rate)
    period = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    bars = max(1, round(length / (4 * 0.5)))  # bars at about 120 BPM
    ratio = length / (bars * 4 * period)  # stretch factor to the song's tempo (>1: faster)
    stretched = pedalboard.time_stretch(audio, float(rate), stretch_factor=float(np.clip(ratio, 0.5, 2.0)))
    stretched = np.asarray(stretched, np.float32)
    if stretched.ndim == 1:
        stretched = np.repeat(stretched[None], 2, 0)
    first = next((b for b in beats if b >= t0), t0)
    out = np.zeros((2, frames), np.float32)
    at = round((first - t0) * rate)
    while at < frames and stretched.shape[1] > 0:
        n = min(stretched.shape[1], frames - at)
        out[:, at : at + n] += stretched[:, :n]
        at += stretched.shape[1]
    return out
