"""Build a prepared Graph from a Project (off the render thread: decoding and plugin set-up happen here)."""

from __future__ import annotations

import os
from collections import OrderedDict, deque
from collections.abc import Sequence

import numpy as np

from engine.graph import Chain, Graph, Slot, Strip, Track
from engine.midi_render import TAIL_SECONDS
from engine.plugin import Plugin
from engine.plugins import create_plugin
from engine.project import BusSpec, MasterSpec, PluginSpec, Project, TrackSpec
from engine.sources import AudioClipData, ClipPlayer, MidiSequence, load_midi_clip
from models.errors import UserError

_CACHE_ITEMS = 64
_decoded: OrderedDict[tuple[str, int, int, int], np.ndarray] = OrderedDict()


def decode_cached(path: str, sample_rate: int) -> np.ndarray:
    """Decode (and resample) an audio file once per (file version, rate); rebuilding a graph reuses it."""
    from engine.audio_io import read_audio

    try:
        st = os.stat(path)
    except OSError:
        raise UserError(f"missing media file: {path}") from None
    key = (path, st.st_mtime_ns, st.st_size, sample_rate)
    hit = _decoded.get(key)
    if hit is None:
        hit, _ = read_audio(path, sample_rate)
        hit.setflags(write=False)
        _decoded[key] = hit
        while len(_decoded) > _CACHE_ITEMS:
            _decoded.popitem(last=False)
    _decoded.move_to_end(key)
    return hit


def _slots(specs: Sequence[PluginSpec]) -> list[Slot]:
    return [Slot(_make(s), bypass=s.bypass) for s in specs]


def _make(spec: PluginSpec) -> Plugin:
    return create_plugin(spec.plugin, spec.params, spec.options)


def _track(spec: TrackSpec, sr: int, bus_index: dict[str, int], errors: deque[tuple[str, int, str]]) -> Track:
    audio: list[AudioClipData] = []
    midi: list[MidiSequence] = []
    tail = round(TAIL_SECONDS * sr)
    for clip in spec.clips:
        start = round(clip.start * sr)
        if clip.is_midi:
            midi.append(load_midi_clip(clip.path, sr, start=start, tail=tail))
            continue
        a = decode_cached(clip.path, sr)
        lo = round(clip.offset * sr)
        hi = a.shape[1] if clip.length is None else min(a.shape[1], lo + round(clip.length * sr))
        audio.append(AudioClipData(a[:, lo:hi], start, float(10 ** (clip.gain_db / 20))))
    slots = _slots(spec.chain)
    if midi:
        inst = spec.instrument or PluginSpec("fluidsynth")
        slots.insert(0, Slot(_make(inst), bypass=inst.bypass))
    if spec.output != "master" and spec.output not in bus_index:
        raise UserError(f"track {spec.name!r} outputs to unknown bus {spec.output!r}")
    t = Track(
        name=spec.name,
        chain=Chain(slots, spec.name, errors),
        mute=spec.mute,
        solo=spec.solo,
        output=-1 if spec.output == "master" else bus_index[spec.output],
        clips=ClipPlayer(audio) if audio else None,
        midi=MidiSequence.merge(midi) if midi else None,
    )
    if t.clips is not None:
        t.clips.prepare(sr, 1, 2)
    _set_fader(t, spec.gain_db, spec.pan)
    return t


def _set_fader(strip: Strip, gain_db: float, pan: float) -> None:
    strip.fader.set_param("gain_db", gain_db)
    strip.fader.set_param("pan", pan)


def _bus(spec: BusSpec, errors: deque[tuple[str, int, str]]) -> Strip:
    b = Strip(name=spec.name, chain=Chain(_slots(spec.chain), spec.name, errors), mute=spec.mute)
    _set_fader(b, spec.gain_db, spec.pan)
    return b


def _master(spec: MasterSpec, errors: deque[tuple[str, int, str]]) -> Strip:
    m = Strip(name="master", chain=Chain(_slots(spec.chain), "master", errors))
    _set_fader(m, spec.gain_db, 0.0)
    return m


def build_graph(project: Project, sample_rate: int | None = None, max_block: int = 1024) -> Graph:
    """Decode media, create and prepare every plugin, and compensate latency. Closes what it made on error."""
    sr = sample_rate or project.sample_rate
    errors: deque[tuple[str, int, str]] = deque(maxlen=256)
    names = [b.name for b in project.buses]
    if len(set(names)) != len(names) or "master" in names:
        raise UserError("bus names must be unique and not 'master'")
    bus_index = {n: i for i, n in enumerate(names)}
    made: list[Strip] = []
    try:
        for spec in project.tracks:
            made.append(_track(spec, sr, bus_index, errors))
        buses = [_bus(b, errors) for b in project.buses]
        made.extend(buses)
        master = _master(project.master, errors)
        made.append(master)
        tracks = [s for s in made if isinstance(s, Track)]
        return Graph(tracks, buses, master, sr, max_block, errors)
    except BaseException:
        for s in made:
            s.chain.close()
        raise


def empty_graph(sample_rate: int, max_block: int) -> Graph:
    return build_graph(Project(sample_rate=sample_rate), sample_rate, max_block)
