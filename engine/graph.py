"""The processing graph: tracks (source, plugin chain, fader) into buses and the master.

A graph is built and prepared off the render thread, then swapped in whole. Everything here runs on
the render thread (or in an offline bounce). With ``workers`` > 1 the tracks of each block are rendered on
that many threads (the render thread takes one share), each track into its own buffer, and summed in track
order afterwards: the result is sample-identical to rendering them one by one, and the native DSP
(pedalboard, numba, numpy) releases the GIL so the cores share the work.

A track whose chain is the built-in strip (an ``eq``, a ``compressor``, or the one then the other) runs
with the other such tracks of its share in one native call (:func:`engine.dsp.strips`) whenever nothing in
it glides, switches or has failed; otherwise its plugins run one by one. Both paths run the same kernels on
the same state, so the output does not depend on which one a block took.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.plugin import MidiEvent, Plugin
from engine.plugins.builtin import Compressor, GainPan, ParametricEQ, PedalboardEffect, pedalboard_module
from engine.sources import ClipPlayer, MidiSequence

CHANNELS = 2
ANALYSER_FRAMES = 4096  # what the spectrum analyser sees of the analysed strip (93 ms at 44.1 kHz)
GLIDE_BLOCK = 16  # frames between parameter updates while a control glides (see Chain._glide)


class DelayLine:
    """A fixed delay in frames, used for latency compensation and for bypassed latent plugins."""

    def __init__(self, frames: int, channels: int = CHANNELS) -> None:
        self.frames = frames
        self._state = np.zeros((channels, frames), dtype=np.float32)

    def process(self, buf: np.ndarray) -> None:
        if self.frames == 0:
            return
        joined = np.concatenate([self._state, buf], axis=1)
        buf[...] = joined[:, : buf.shape[1]]
        self._state = joined[:, buf.shape[1] :]

    def reset(self) -> None:
        self._state[...] = 0.0


@dataclass
class Slot:
    """A plugin in a chain. ``failed`` holds the reason when the engine bypassed it after an error."""

    plugin: Plugin
    bypass: bool = False
    failed: str | None = None
    bypass_delay: DelayLine | None = None
    heard_bypassed: bool | None = None  # the bypass state the last block was rendered with (None: none yet)


class Chain:
    """Plugins in series. A plugin that raises or outputs NaN/inf is bypassed and reported, never fatal."""

    def __init__(self, slots: Sequence[Slot], owner: str, errors: deque[tuple[str, int, str]]) -> None:
        self.slots = list(slots)
        self.owner = owner
        self._errors = errors
        self._scratch = np.zeros((CHANNELS, 0), dtype=np.float32)
        self._dry = np.zeros((CHANNELS, 0), dtype=np.float32)
        self._rate = 0
        self._fused: Any = None  # the chain's plugins as one pedalboard, made on first use
        self._all_effects = False
        self.strip: tuple[ParametricEQ | None, Compressor | None] | None = None  # see strip_ready

    def prepare(self, sample_rate: int, max_block: int) -> None:
        self._rate = sample_rate
        self._fused = None
        self._all_effects = bool(self.slots) and all(isinstance(s.plugin, PedalboardEffect) for s in self.slots)
        self.strip = _strip_plugins([s.plugin for s in self.slots])
        self._scratch = np.zeros((CHANNELS, max_block), dtype=np.float32)
        self._dry = np.zeros((CHANNELS, max_block), dtype=np.float32)
        for s in self.slots:
            s.plugin.prepare(sample_rate, max_block, CHANNELS)
            lat = s.plugin.latency
            s.bypass_delay = DelayLine(lat) if lat else None

    @property
    def latency(self) -> int:
        # A bypassed plugin keeps its latency (its dry path is delayed instead), so bypass never shifts tracks.
        return sum(s.plugin.latency for s in self.slots)

    def reset(self) -> None:
        for s in self.slots:
            s.heard_bypassed = None  # a bypass switched while stopped takes effect at once, with no fade
            s.plugin.settle()
            s.plugin.reset()
            if s.bypass_delay is not None:
                s.bypass_delay.reset()

    def _fusable(self) -> bool:
        """Every slot a built-in pedalboard effect, playing, steady (no glide, no bypass switch pending).
        A plain loop: this runs for every strip in every block."""
        if not self._all_effects:
            return False
        for s in self.slots:
            if s.bypass or s.failed is not None or s.heard_bypassed is True or s.plugin.gliding:
                return False
        return True

    def strip_ready(self) -> tuple[bool, bool] | None:
        """(EQ on, compressor on) when the chain is the built-in strip and can run in the graph's batched
        call this block: nothing glides, no bypass switch is pending (that needs the crossfade), nothing has
        failed. None otherwise: :meth:`process` runs it. A plain loop: this runs for every strip in every
        block."""
        if self.strip is None:
            return None
        for s in self.slots:
            switching = s.heard_bypassed is not None and s.heard_bypassed != s.bypass
            if s.failed is not None or s.plugin.gliding or switching:
                return None
        eq_on = comp_on = False
        for s in self.slots:
            s.heard_bypassed = s.bypass
            if not s.bypass:
                if isinstance(s.plugin, ParametricEQ):
                    eq_on = True
                else:
                    comp_on = True
        return eq_on, comp_on

    def _process_fused(self, buf: np.ndarray) -> bool:
        """The whole chain in one native call (pedalboard runs its plugins in series on the same objects, so
        the state carries over either way and the output is the per-plugin path's, sample for sample).
        False (and ``buf`` untouched) when the output is not finite: the per-plugin path then finds which
        plugin to bypass."""
        if self._fused is None:
            boards = [s.plugin.board for s in self.slots if isinstance(s.plugin, PedalboardEffect)]
            self._fused = pedalboard_module().Pedalboard(boards)
        try:
            out = self._fused.process(buf, float(self._rate), reset=False)
        except Exception:  # the per-plugin path finds the plugin and bypasses it; the engine goes on
            return False
        if not np.isfinite(out).all():
            return False
        buf[...] = out
        for s in self.slots:
            s.heard_bypassed = False
        return True

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        n = buf.shape[1]
        if self._fusable() and self._process_fused(buf):
            return
        keep = self._scratch[:, :n]
        for i, s in enumerate(self.slots):
            p = s.plugin
            flipped = s.heard_bypassed is not None and s.heard_bypassed != s.bypass
            s.heard_bypassed = s.bypass
            if flipped and s.failed is None and not p.is_instrument and s.bypass_delay is None:
                self._crossfade(i, s, buf, events)
                continue
            if s.bypass or s.failed is not None:
                if p.is_instrument:
                    buf[...] = 0.0
                elif s.bypass_delay is not None:
                    s.bypass_delay.process(buf)
                continue
            keep[...] = buf
            try:
                if p.gliding and not p.is_instrument and n > GLIDE_BLOCK:
                    self._glide(p, buf)
                else:
                    p.advance(n)
                    p.process(buf, events if p.is_instrument else ())
            except Exception as exc:  # a third-party plugin must never stop the engine
                self._fail(i, s, f"{type(exc).__name__}: {exc}", buf, keep)
                continue
            if not np.isfinite(buf).all():
                self._fail(i, s, "output NaN or infinity", buf, keep)

    @staticmethod
    def _glide(p: Plugin, buf: np.ndarray) -> None:
        """While parameters glide, an effect runs in GLIDE_BLOCK-frame pieces with the values moved before
        each: a DSP whose coefficients change only at block edges would step (an EQ gain, a compressor's
        threshold), and one step per 256-frame block is an audible click on a moved control or an A/B."""
        n = buf.shape[1]
        for a in range(0, n, GLIDE_BLOCK):
            piece = buf[:, a : a + GLIDE_BLOCK]
            p.advance(piece.shape[1])
            p.process(piece, ())

    def _crossfade(self, index: int, s: Slot, buf: np.ndarray, events: Sequence[MidiEvent]) -> None:
        """A bypass switched: render the block both ways and fade from the old path to the new over it, so
        switching a plugin in or out (an A/B while playing) never clicks."""
        n = buf.shape[1]
        dry, keep = self._dry[:, :n], self._scratch[:, :n]
        dry[...] = buf
        keep[...] = buf
        s.plugin.advance(n)
        try:
            s.plugin.process(buf, ())
        except Exception as exc:  # a third-party plugin must never stop the engine
            self._fail(index, s, f"{type(exc).__name__}: {exc}", buf, keep)
            return
        if not np.isfinite(buf).all():
            self._fail(index, s, "output NaN or infinity", buf, keep)
            return
        ramp = np.arange(1, n + 1, dtype=np.float32) / n
        wet_share = (1.0 - ramp) if s.bypass else ramp
        buf[...] = dry + (buf - dry) * wet_share

    def _fail(self, index: int, slot: Slot, reason: str, buf: np.ndarray, keep: np.ndarray) -> None:
        slot.failed = reason
        buf[...] = 0.0 if slot.plugin.is_instrument else keep
        self._errors.append((self.owner, index, f"{slot.plugin.kind}: {reason}; bypassed"))

    def close(self) -> None:
        for s in self.slots:
            s.plugin.close()


def _strip_plugins(plugins: Sequence[Plugin]) -> tuple[ParametricEQ | None, Compressor | None] | None:
    """(EQ, compressor) when ``plugins`` are the built-in strip: an EQ, a compressor, or an EQ then a
    compressor; None for anything else."""
    kinds = [type(p) for p in plugins]
    if kinds == [ParametricEQ, Compressor]:
        return plugins[0], plugins[1]  # type: ignore[return-value]
    if kinds == [ParametricEQ]:
        return plugins[0], None  # type: ignore[return-value]
    if kinds == [Compressor]:
        return None, plugins[0]  # type: ignore[return-value]
    return None


@dataclass
class Strip:
    """What tracks, buses and the master share: a chain and a fader with mute/solo."""

    name: str
    chain: Chain
    fader: GainPan = field(default_factory=GainPan)
    mute: bool = False
    solo: bool = False
    output: int = -1  # bus index, -1 is the master
    compensation: DelayLine = field(default_factory=lambda: DelayLine(0))


@dataclass
class Track(Strip):
    clips: ClipPlayer | None = None
    midi: MidiSequence | None = None
    _pending: list[MidiEvent] = field(default_factory=list)

    @property
    def end(self) -> int:
        return max(self.clips.end if self.clips else 0, self.midi.end if self.midi else 0)

    def locate(self, frame: int) -> None:
        """Prepare for a jump: resend the MIDI state in force at ``frame`` (clips follow ``render``'s position)."""
        if self.midi is not None:
            self._pending = self.midi.chase(frame)

    def render(self, position: int, buf: np.ndarray) -> None:
        self.chain.process(buf, self.source(position, buf))

    def source(self, position: int, buf: np.ndarray) -> list[MidiEvent]:
        """The clips' audio at ``position`` into ``buf`` (silence without clips); the block's MIDI events."""
        n = buf.shape[1]
        events: list[MidiEvent] = []
        if self.clips is not None:
            self.clips.advance(n)
            self.clips.locate(position)
            self.clips.process(buf)
        else:
            buf[...] = 0.0
        if self.midi is not None:
            events = self._pending + self.midi.block(position, n)
            self._pending = []
        return events


class Graph:
    """Tracks into buses into the master, with latency compensation and per-strip meters."""

    def __init__(
        self,
        tracks: Sequence[Track],
        buses: Sequence[Strip],
        master: Strip,
        sample_rate: int,
        max_block: int,
        errors: deque[tuple[str, int, str]],
        workers: int = 1,
    ) -> None:
        self.tracks = list(tracks)
        self.buses = list(buses)
        self.master = master
        self.sample_rate = sample_rate
        self.max_block = max_block
        self.errors = errors
        self.strips: list[Strip] = [*self.tracks, *self.buses, self.master]
        # peak and sum of squares per strip since the meters were last read
        self.meter_peak = np.zeros((len(self.strips), CHANNELS), dtype=np.float32)
        self.meter_sumsq = np.zeros((len(self.strips), CHANNELS), dtype=np.float64)
        self.meter_frames = 0
        self.workers = max(1, min(workers, len(self.tracks)))
        self._pool = ThreadPoolExecutor(self.workers - 1, "render") if self.workers > 1 else None
        if self._pool is not None:  # start the threads here (built off the render thread), not in a block
            ready = threading.Barrier(self.workers - 1)
            for f in [self._pool.submit(ready.wait) for _ in range(self.workers - 1)]:
                f.result()
        self._track_bufs = np.zeros((len(self.tracks), CHANNELS, max_block), np.float32)
        self._all_to_master = all(t.output < 0 for t in self.tracks)
        dests = sorted({t.output for t in self.tracks})
        self._routes = [(d, [i for i, t in enumerate(self.tracks) if t.output == d]) for d in dests]
        self._bus_bufs = np.zeros((len(self.buses), CHANNELS, max_block), dtype=np.float32)
        for s in self.strips:
            s.chain.prepare(sample_rate, max_block)
            s.fader.prepare(sample_rate, max_block, CHANNELS)
        self.latency = self._compensate()
        self._bind_strips()
        self.tap = -1  # the analysed strip (index into strips), -1: none
        self._tap_ring = np.zeros(ANALYSER_FRAMES, np.float32)
        self._tap_at = 0

    def _bind_strips(self) -> None:
        """Rows of graph-wide arrays for the built-in strips' parameters and state, bound into the plugins,
        so :func:`engine.dsp.strips` runs many tracks in one call."""
        from engine.dsp import COMP_PARAMS, SECTIONS

        nt = len(self.tracks)
        self._eq_coef = np.zeros((nt, SECTIONS, 5), np.float32)
        self._eq_state = np.zeros((nt, CHANNELS, SECTIONS, 2), np.float32)
        self._comp = np.zeros((nt, COMP_PARAMS), np.float32)
        self._comp_state = np.zeros((nt, CHANNELS), np.float32)
        self._eq_on = np.zeros(nt, np.bool_)
        self._comp_on = np.zeros(nt, np.bool_)
        # a batch's input and state, so a NaN's per-plugin rerun starts from where the batch started
        self._inputs = np.zeros_like(self._track_bufs)
        self._eq_saved = np.zeros_like(self._eq_state)
        self._comp_saved = np.zeros_like(self._comp_state)
        for i, t in enumerate(self.tracks):
            if t.chain.strip is None:
                continue
            eq, comp = t.chain.strip
            if eq is not None:
                eq.bind(self._eq_coef[i], self._eq_state[i])
            if comp is not None:
                comp.bind(self._comp[i], self._comp_state[i])

    def _compensate(self) -> int:
        """Delay each track so every path to the master has the same latency; returns the total."""
        path = [t.chain.latency + (self.buses[t.output].chain.latency if t.output >= 0 else 0) for t in self.tracks]
        longest = max(path, default=0)
        for t, lat in zip(self.tracks, path, strict=True):
            t.compensation = DelayLine(longest - lat)
        return longest + self.master.chain.latency

    @property
    def end(self) -> int:
        """Timeline frame where the last clip (with its release tail) ends."""
        return max((t.end for t in self.tracks), default=0)

    def reset(self) -> None:
        """Fresh state for a start (play or bounce): plugins and faders at their set values, mutes already in
        force, so the first block carries no glide from defaults (a muted track is silent from sample 0)."""
        any_solo = any(t.solo for t in self.tracks)
        for s in self.strips:
            s.chain.reset()
            s.fader.set_mute(not self._audible(s, any_solo))
            s.fader.settle()
            s.fader.reset()
            s.compensation.reset()

    def _audible(self, strip: Strip, any_solo: bool) -> bool:
        if isinstance(strip, Track):
            return not strip.mute and (strip.solo or not any_solo)
        return not strip.mute

    def locate(self, frame: int) -> None:
        for t in self.tracks:
            t.locate(frame)

    def process(self, position: int, out: np.ndarray) -> None:
        """Render timeline frames ``[position, position + n)`` into ``out`` (2, n)."""
        n = out.shape[1]
        out[...] = 0.0
        buses = self._bus_bufs[:, :, :n]
        buses[...] = 0.0
        any_solo = any(t.solo for t in self.tracks)
        nt = len(self.tracks)
        bufs = self._track_bufs[:, :, :n]  # every track into its own buffer: meters and sums are then batched
        if self._pool is None:
            self._render_tracks(range(nt), position, bufs, any_solo)
        else:
            shares = [range(w, nt, self.workers) for w in range(1, self.workers)]
            jobs = [self._pool.submit(self._render_tracks, r, position, bufs, any_solo) for r in shares]
            self._render_tracks(range(0, nt, self.workers), position, bufs, any_solo)
            for job in jobs:
                job.result()
        if nt:
            # the same sums whichever thread rendered what: a reduction over axis 0 adds the tracks in order
            np.maximum(self.meter_peak[:nt], np.abs(bufs).max(axis=2), out=self.meter_peak[:nt])
            self.meter_sumsq[:nt] += np.einsum("tij,tij->ti", bufs, bufs)
            if 0 <= self.tap < nt:
                self._write_tap(bufs[self.tap])
            if self._all_to_master:
                out += bufs.sum(axis=0)
            else:
                for dest, idx in self._routes:
                    (out if dest < 0 else buses[dest])[...] += bufs[idx].sum(axis=0)
        for j, b in enumerate(self.buses):
            bb = buses[j]
            b.chain.process(bb)
            self._fade(b, bb, audible=self._audible(b, any_solo))
            self._meter(len(self.tracks) + j, bb)
            out += bb
        self.master.chain.process(out)
        self._fade(self.master, out, audible=self._audible(self.master, any_solo))
        self._meter(len(self.strips) - 1, out)
        self.meter_frames += n

    def _render_tracks(self, indices: range, position: int, bufs: np.ndarray, any_solo: bool) -> None:
        """Sources, chains (the built-in strips of these tracks in one call), faders and latency compensation
        of the tracks ``indices`` into their rows of ``bufs``."""
        batch = []
        for i in indices:
            t = self.tracks[i]
            buf = bufs[i]
            events = t.source(position, buf)
            ready = t.chain.strip_ready()
            if ready is None:
                t.chain.process(buf, events)
            else:
                self._eq_on[i], self._comp_on[i] = ready
                batch.append(i)
        if batch:
            self._run_strips(batch, bufs, indices)
        for i in indices:
            t = self.tracks[i]
            self._fade(t, bufs[i], audible=self._audible(t, any_solo))
            t.compensation.process(bufs[i])

    def _run_strips(self, batch: list[int], bufs: np.ndarray, share: range) -> None:
        from engine.dsp import strips

        n = bufs.shape[2]
        # this thread's share of the rows, one strided copy per array (rows outside the batch are copied too,
        # which is cheaper than a Python loop over rows); other threads' rows are never touched
        rows = slice(share.start, share.stop, share.step)
        self._inputs[rows, :, :n] = bufs[rows]
        self._eq_saved[rows] = self._eq_state[rows]
        self._comp_saved[rows] = self._comp_state[rows]
        idx = np.array(batch, np.intp)
        strips(bufs, idx, self._eq_on, self._comp_on, self._eq_coef, self._eq_state, self._comp, self._comp_state)
        if np.isfinite(bufs).all():  # the whole share at once, no copy: the other tracks' chains are finite
            return
        for i in batch:  # a NaN or infinity: the track again, plugin by plugin, finds and bypasses the culprit
            if not np.isfinite(bufs[i]).all():
                bufs[i] = self._inputs[i, :, :n]
                self._eq_state[i] = self._eq_saved[i]
                self._comp_state[i] = self._comp_saved[i]
                self.tracks[i].chain.process(bufs[i])

    @staticmethod
    def _fade(strip: Strip, buf: np.ndarray, audible: bool) -> None:
        strip.fader.set_mute(not audible)
        strip.fader.advance(buf.shape[1])
        strip.fader.process(buf)

    def set_tap(self, strip: int | None) -> None:
        """Analyse strip ``strip`` (tracks, buses, master; -1: the master) or none."""
        self.tap = (
            -1 if strip is None or not -len(self.strips) <= strip < len(self.strips) else strip % len(self.strips)
        )
        self._tap_ring[:] = 0.0

    def analysed(self) -> np.ndarray:
        """The analysed strip's last ANALYSER_FRAMES samples (mono), oldest first."""
        return np.roll(self._tap_ring, -self._tap_at)

    def _write_tap(self, buf: np.ndarray) -> None:
        mono = buf.mean(axis=0)[-ANALYSER_FRAMES:]
        n, at = mono.shape[0], self._tap_at
        first = min(n, ANALYSER_FRAMES - at)
        self._tap_ring[at : at + first] = mono[:first]
        self._tap_ring[: n - first] = mono[first:]
        self._tap_at = (at + n) % ANALYSER_FRAMES

    def _meter(self, index: int, buf: np.ndarray) -> None:
        if index == self.tap:
            self._write_tap(buf)
        np.maximum(self.meter_peak[index], np.abs(buf).max(axis=1), out=self.meter_peak[index])
        self.meter_sumsq[index] += np.einsum("ij,ij->i", buf, buf)

    def take_meters(self) -> tuple[np.ndarray, np.ndarray]:
        """(peak, rms) per strip and channel since the last call, then start a new window."""
        frames = max(self.meter_frames, 1)
        peak = self.meter_peak.copy()
        rms = np.sqrt(self.meter_sumsq / frames).astype(np.float32)
        self.meter_peak[...] = 0.0
        self.meter_sumsq[...] = 0.0
        self.meter_frames = 0
        return peak, rms

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        for s in self.strips:
            s.chain.close()
