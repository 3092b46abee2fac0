"""Transport and rendering: the Renderer (shared by real time and offline bounce) and the render thread."""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from engine import commands as c
from engine import events as e
from engine.graph import CHANNELS, Graph, Strip

if TYPE_CHECKING:
    from engine.ring import AudioRing


class Renderer:
    """Applies transport commands and renders the graph block by block. Offline bounce uses it as well, so
    real-time playback and bounce run exactly the same code on the same block sizes."""

    def __init__(self, graph: Graph, block: int) -> None:
        self.graph = graph
        self.block = block
        self.position = 0
        self.playing = False
        self.loop: tuple[int, int] | None = None
        self.retired: deque[Graph] = deque()  # swapped-out graphs, freed by the owner off this thread
        self.command_errors: deque[str] = deque()

    def apply(self, cmd: c.Command) -> None:
        try:
            self._apply(cmd)
        except Exception as exc:  # a bad command is reported, never fatal to the render thread
            self.command_errors.append(f"{type(cmd).__name__}: {exc}")

    def _apply(self, cmd: c.Command) -> None:
        if isinstance(cmd, c.Play):
            if not self.playing:
                self._restart_graph()
                self.playing = True
        elif isinstance(cmd, c.Pause):
            self.playing = False
        elif isinstance(cmd, c.Stop):
            self.playing = False
            self.position = 0
        elif isinstance(cmd, c.Seek):
            self.position = max(0, int(cmd.frame))
            if self.playing:
                self.graph.locate(self.position)
        elif isinstance(cmd, c.SetLoop):
            self.loop = None if cmd.end is None or cmd.end <= cmd.start else (max(0, cmd.start), cmd.end)
        elif isinstance(cmd, c.SetParam):
            strip = self._strip(cmd.strip)
            target = strip.fader if cmd.slot == -1 else strip.chain.slots[cmd.slot].plugin
            target.set_param(cmd.name, cmd.value)
        elif isinstance(cmd, c.SetBypass):
            self._strip(cmd.strip).chain.slots[cmd.slot].bypass = cmd.bypass
        elif isinstance(cmd, c.SetStrip):
            strip = self._strip(cmd.strip)
            if cmd.mute is not None:
                strip.mute = cmd.mute
            if cmd.solo is not None:
                strip.solo = cmd.solo
        elif isinstance(cmd, c.SetAnalyser):
            self.graph.set_tap(cmd.strip)
        elif isinstance(cmd, c.ReplaceGraph):
            old, self.graph = self.graph, cmd.graph
            if old.tap >= 0:  # the same strip stays analysed (the master by its place at the end)
                self.graph.set_tap(old.tap if old.tap < len(old.strips) - 1 else -1)
            if self.playing:
                self._restart_graph()
            self.retired.append(old)

    def _restart_graph(self) -> None:
        """Fresh plugin state at the current position: what makes playback equal an offline bounce."""
        self.graph.reset()
        self.graph.locate(self.position)

    def _strip(self, index: int) -> Strip:
        return self.graph.strips[index]

    def render(self, out: np.ndarray) -> int:
        """Fill ``out`` (2, block); returns the timeline frame it starts at, or -1 for silence (stopped)."""
        if not self.playing:
            out[...] = 0.0
            return -1
        start = self.position
        n = out.shape[1]
        loop = self.loop
        if loop is not None and start < loop[1] < start + n:
            head = loop[1] - start
            self.graph.process(start, out[:, :head])
            self.position = loop[0]
            self.graph.locate(self.position)
            self.graph.process(self.position, out[:, head:])
            self.position += n - head
        else:
            self.graph.process(start, out)
            self.position = start + n
            if loop is not None and self.position == loop[1]:
                self.position = loop[0]
                self.graph.locate(self.position)
        return start


class RenderThread(threading.Thread):
    """Runs the graph ahead of the audio callback, keeping the ring full; applies commands between blocks."""

    def __init__(
        self,
        renderer: Renderer,
        ring: AudioRing,
        commands: queue.SimpleQueue[c.Command],
        events: deque[e.Event],
        sample_rate: int,
        meter_hz: float = 30.0,
    ) -> None:
        super().__init__(name="refrain-render", daemon=True)
        self.renderer = renderer
        self.ring = ring
        self.commands = commands
        self.events = events
        self.sample_rate = sample_rate
        self.quit = threading.Event()
        self.render_seconds = 0.0  # time spent rendering while playing
        self.rendered_frames = 0
        self._meter_every = max(1, round(sample_rate / meter_hz / ring.block))
        self._block = np.zeros((CHANNELS, ring.block), dtype=np.float32)

    def run(self) -> None:
        r, ring, block = self.renderer, self.ring, self._block
        nap = ring.block / self.sample_rate / 4
        blocks = 0
        while not self.quit.is_set():
            self._drain()
            if ring.writable() < ring.block:
                time.sleep(nap)
                continue
            t0 = time.perf_counter()
            pos = r.render(block)
            if pos >= 0:
                self.render_seconds += time.perf_counter() - t0
                self.rendered_frames += ring.block
            ring.write(block, pos)
            blocks += 1
            if blocks % self._meter_every == 0:
                self._report()

    def _drain(self) -> None:
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                return
            self.renderer.apply(cmd)

    def _report(self) -> None:
        r = self.renderer
        peak, rms = r.graph.take_meters()
        self.events.append(e.Meters(peak, rms))
        if r.graph.tap >= 0 and r.playing:
            self.events.append(e.Analyser(r.graph.tap, r.graph.analysed()))
        while r.graph.errors:
            strip, slot, msg = r.graph.errors.popleft()
            self.events.append(e.PluginError(strip, slot, msg))
        while r.command_errors:
            self.events.append(e.CommandError(r.command_errors.popleft()))
