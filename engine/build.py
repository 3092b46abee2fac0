"""From a Project to the running graph: :func:`build_graph` builds and prepares a new graph (off the render
thread: decoding and plugin set-up happen here), and :func:`live_commands` turns an edit into commands for
the graph already running, when the edit needs no new graph. Both own the slot arithmetic: a MIDI track's
instrument is slot 0 of its chain, so its effects start at slot 1."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import numpy as np

from engine import commands as c
from engine.errors import UserError
from engine.graph import Chain, Graph, Slot, Strip, Track
from engine.midi_render import TAIL_SECONDS
from engine.plugin import Plugin
from engine.plugins import create_plugin
from engine.project import BusSpec, MasterSpec, PluginSpec, Project, TrackSpec
from engine.sources import AudioClipData, ClipPlayer, MidiSequence, load_midi_clip

_CACHE_ITEMS = 64
_media: OrderedDict[tuple[object, ...], object] = OrderedDict()
_media_lock = threading.Lock()  # graphs are built on worker threads too (the auto-mixer's solo bounces)
T = TypeVar("T")


def _cached(path: str, variant: tuple[object, ...], load: Callable[[], T]) -> T:
    """``load()`` once per (file version, ``variant``): a graph rebuild after each structural edit reuses what
    the last one decoded or parsed. Least recently used entries go first. Thread-safe; two threads that miss
    the same entry at once both decode it (decoding runs outside the lock, so different files decode in
    parallel)."""
    try:
        st = os.stat(path)
    except OSError:
        raise UserError(f"missing media file: {path}") from None
    key = (path, st.st_mtime_ns, st.st_size, *variant)
    with _media_lock:
        if key in _media:
            _media.move_to_end(key)
            return cast(T, _media[key])
    value = load()
    with _media_lock:
        _media[key] = value
        while len(_media) > _CACHE_ITEMS:
            _media.popitem(last=False)
    return value


def decode_cached(path: str, sample_rate: int) -> np.ndarray:
    """Decode (and resample) an audio file once per (file version, rate); the array is read-only."""
    from engine.audio_io import read_audio

    def load() -> np.ndarray:
        audio, _ = read_audio(path, sample_rate)
        audio.setflags(write=False)
        return audio

    return _cached(path, ("audio", sample_rate), load)


def midi_cached(path: str, sample_rate: int, start: int, tail: int, tempo: float | None) -> MidiSequence:
    """A MIDI clip's events, parsed once per (file version, placement, tempo)."""
    return _cached(
        path, ("midi", sample_rate, start, tail, tempo), lambda: load_midi_clip(path, sample_rate, start, tail, tempo)
    )


def _slots(specs: Sequence[PluginSpec]) -> list[Slot]:
    return [Slot(_make(s), bypass=s.bypass) for s in specs]


def _make(spec: PluginSpec) -> Plugin:
    return create_plugin(spec.plugin, spec.params, spec.options)


def _track(
    spec: TrackSpec, sr: int, tempo: float, bus_index: dict[str, int], errors: deque[tuple[str, int, str]]
) -> Track:
    audio: list[AudioClipData] = []
    midi: list[MidiSequence] = []
    tail = round(TAIL_SECONDS * sr)
    for clip in spec.clips:
        start = round(clip.start * sr)
        if clip.is_midi:
            follow = tempo if clip.follow_tempo else None
            midi.append(midi_cached(clip.path, sr, start, tail, follow))
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


def build_graph(project: Project, sample_rate: int | None = None, max_block: int = 1024, workers: int = 1) -> Graph:
    """Decode media, create and prepare every plugin, and compensate latency. Closes what it made on error.
    ``workers`` > 1 renders the tracks on that many threads (see :class:`engine.graph.Graph`)."""
    sr = sample_rate or project.sample_rate
    errors: deque[tuple[str, int, str]] = deque(maxlen=256)
    names = [b.name for b in project.buses]
    if len(set(names)) != len(names) or "master" in names:
        raise UserError("bus names must be unique and not 'master'")
    bus_index = {n: i for i, n in enumerate(names)}
    made: list[Strip] = []
    try:
        for spec in project.tracks:
            made.append(_track(spec, sr, project.tempo, bus_index, errors))
        buses = [_bus(b, errors) for b in project.buses]
        made.extend(buses)
        master = _master(project.master, errors)
        made.append(master)
        tracks = [s for s in made if isinstance(s, Track)]
        return Graph(tracks, buses, master, sr, max_block, errors, workers)
    except BaseException:
        for s in made:
            s.chain.close()
        raise


def empty_graph(sample_rate: int, max_block: int) -> Graph:
    return build_graph(Project(sample_rate=sample_rate), sample_rate, max_block)


# -- edits that need no new graph -------------------------------------------------------------------------
def _plugin_key(p: PluginSpec) -> tuple[str, tuple[tuple[str, str], ...]]:
    return p.plugin, tuple(sorted(p.options.items()))


def has_midi(t: TrackSpec) -> bool:
    return any(cl.is_midi for cl in t.clips)


def skeleton(p: Project) -> tuple[object, ...]:
    """Everything that needs a new graph when it changes: clips, instruments, plugin chains, routing, the
    rate, and the tempo when MIDI clips follow it. Gains, pans, mute/solo, plugin parameters and bypass go to
    the running graph as commands; names, ids and the template do not touch audio."""
    tracks = tuple(
        (
            tuple((cl.path, cl.start, cl.offset, cl.length, cl.gain_db, cl.follow_tempo) for cl in t.clips),
            None if t.instrument is None else (*_plugin_key(t.instrument), tuple(sorted(t.instrument.params.items()))),
            tuple(_plugin_key(s) for s in t.chain),
            t.output,
        )
        for t in p.tracks
    )
    buses = tuple((b.name, tuple(_plugin_key(s) for s in b.chain)) for b in p.buses)
    tempo = p.tempo if any(has_midi(t) for t in p.tracks) else None
    return p.sample_rate, tempo, tracks, buses, tuple(_plugin_key(s) for s in p.master.chain)


def live_commands(old: Project, new: Project) -> list[c.Command] | None:
    """The commands that take a graph built from ``old`` to ``new``; None when ``new`` needs a new graph.
    Strips are tracks, then buses, then the master (-1); slot -1 is a strip's fader."""
    if skeleton(old) != skeleton(new):
        return None
    out: list[c.Command] = []

    def fader(strip: int, a: tuple[float, float], b: tuple[float, float]) -> None:
        for name, va, vb in zip(("gain_db", "pan"), a, b, strict=True):
            if va != vb:
                out.append(c.SetParam(strip, -1, name, vb))

    def chain(strip: int, a: list[PluginSpec], b: list[PluginSpec], first_slot: int) -> None:
        for k, (pa, pb) in enumerate(zip(a, b, strict=True)):
            for name, v in pb.params.items():
                if pa.params.get(name) != v:
                    out.append(c.SetParam(strip, k + first_slot, name, v))
            if pa.bypass != pb.bypass:
                out.append(c.SetBypass(strip, k + first_slot, pb.bypass))

    for i, (a, b) in enumerate(zip(old.tracks, new.tracks, strict=True)):
        fader(i, (a.gain_db, a.pan), (b.gain_db, b.pan))
        if (a.mute, a.solo) != (b.mute, b.solo):
            out.append(c.SetStrip(i, mute=b.mute, solo=b.solo))
        chain(i, a.chain, b.chain, 1 if has_midi(b) else 0)
    nt = len(new.tracks)
    for j, (ba, bb) in enumerate(zip(old.buses, new.buses, strict=True)):
        fader(nt + j, (ba.gain_db, ba.pan), (bb.gain_db, bb.pan))
        if ba.mute != bb.mute:
            out.append(c.SetStrip(nt + j, mute=bb.mute))
        chain(nt + j, ba.chain, bb.chain, 0)
    fader(-1, (old.master.gain_db, 0.0), (new.master.gain_db, 0.0))
    chain(-1, old.master.chain, new.master.chain, 0)
    return out
