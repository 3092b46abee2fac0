"""The engine as its users see it: start a device, send commands, poll events. No Qt here."""

from __future__ import annotations

import queue
import sys
import time
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from engine import commands as c
from engine import events as e
from engine.build import empty_graph
from engine.errors import UserError
from engine.graph import CHANNELS, Graph
from engine.priority import CpuWakeupLatency
from engine.render import Renderer, RenderThread
from engine.stream import DeviceOutput, NullOutput, resolve_device

if TYPE_CHECKING:
    from engine.ring import Capture

# The device callback is native and never waits for the GIL, but the null device's clock thread and the
# render thread do: a short switch interval bounds how long they wait behind a job running Python code.
SWITCH_INTERVAL = 0.0005


class Engine:
    """Real-time playback of a Graph on an output device (or the clocked null device).

    ``block`` is the render block (what plugins see); ``ahead`` is how many blocks the render thread may run
    ahead of the device, which is the margin against scheduling hiccups and also the delay of commands.
    """

    def __init__(
        self,
        sample_rate: int = 44100,
        block: int = 256,
        device: str | None = None,
        ahead: int = 8,
        device_block: int | None = None,
    ) -> None:
        if block < 16 or block > 8192:
            raise UserError(f"block size {block} is out of range 16..8192")
        self.sample_rate = sample_rate
        self.block = block
        self.device_name = device
        self.device_block = device_block or block
        # the ring brings numba and the native callback (about 0.5 s): imported when an engine is made, not
        # with this module, so the app imports its windows meanwhile (app.main warms it on another thread)
        from engine.ring import AudioRing

        self.ring = AudioRing(CHANNELS, block, max(ahead, 2))
        self.commands: queue.SimpleQueue[c.Command] = queue.SimpleQueue()
        self.events: deque[e.Event] = deque(maxlen=4096)
        self.renderer = Renderer(empty_graph(sample_rate, block), block)
        self._thread: RenderThread | None = None
        self._output: DeviceOutput | NullOutput | None = None
        self._xruns_reported = 0
        self._lost_reported = False
        self.started_at = 0.0
        self.wakeup_latency = CpuWakeupLatency()  # held while a device plays the timeline (see poll)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Open the device and start rendering. Raises UserError when the device cannot be opened."""
        if self._output is not None:
            return
        sys.setswitchinterval(SWITCH_INTERVAL)
        from engine.callback import monotonic_ns

        self.started_at = monotonic_ns() * 1e-9  # the callback's clock (first_audio_seconds)
        dev = resolve_device(self.device_name)
        if self._thread is None:
            self._thread = RenderThread(self.renderer, self.ring, self.commands, self.events, self.sample_rate)
            self._thread.start()
        # Let the render thread fill the ring before the device pulls, so start-up is not an underrun.
        deadline = time.perf_counter() + 0.25
        while self.ring.writable() >= self.ring.block and time.perf_counter() < deadline:
            time.sleep(0.001)
        if dev is None:
            self._output = NullOutput(self.ring, self.sample_rate, self.device_block, CHANNELS)
        else:
            self._output = DeviceOutput(self.ring, dev, self.sample_rate, self.device_block, CHANNELS)
        self._lost_reported = False
        self._output.start()

    def restart(self, device: str | None = None) -> None:
        """Reopen output (after a lost device, or on another device); transport and graph are kept."""
        if device is not None:
            self.device_name = device
        self._close_output()
        self.start()

    def close(self) -> None:
        self._close_output()
        if self._thread is not None:
            self._thread.quit.set()
            self._thread.join()
            self._thread = None
        self.renderer.graph.close()
        self._free_retired()

    def _close_output(self) -> None:
        if self._output is not None:
            self._output.close()
            self._output = None
        self.wakeup_latency.release()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- control ---------------------------------------------------------------------------
    def send(self, cmd: c.Command) -> None:
        self.commands.put(cmd)

    def load(self, graph: Graph) -> None:
        """Swap in a prepared graph (built on the caller's thread) at the next block."""
        if graph.sample_rate != self.sample_rate or graph.max_block < self.block:
            raise UserError("graph was built for another sample rate or a smaller block")
        self.send(c.ReplaceGraph(graph))

    def play(self) -> None:
        self.send(c.Play())

    def pause(self) -> None:
        self.send(c.Pause())

    def stop(self) -> None:
        self.send(c.Stop())

    def seek(self, frame: int) -> None:
        self.send(c.Seek(frame))

    def capture(self, seconds: float) -> Capture:
        """Record what the device plays (by timeline frame) into a preallocated buffer."""
        from engine.ring import Capture

        cap = Capture(int(seconds * self.sample_rate), CHANNELS)
        self.ring.capture = cap
        return cap

    # -- state -----------------------------------------------------------------------------
    @property
    def position(self) -> int:
        """Timeline frame being heard (-1 while stopped)."""
        return self.ring.heard

    @property
    def playing(self) -> bool:
        return self.renderer.playing

    @property
    def graph(self) -> Graph:
        return self.renderer.graph

    @property
    def xruns(self) -> int:
        return self._output.stats.xruns if self._output is not None else self._xruns_reported

    @property
    def callback_priority(self) -> str | None:
        """The device callback thread's scheduling (``host``, ``fifo``, ``nice``, ``normal``; None before it
        ran)."""
        return self._output.priority if self._output is not None else None

    def callback_durations(self) -> np.ndarray:
        return self._output.stats.recent_durations() if self._output is not None else np.zeros(0)

    def first_audio_seconds(self) -> float | None:
        """Seconds from ``start()`` to the first callback that played rendered audio."""
        fa = self._output.stats.first_audio if self._output is not None else None
        return None if fa is None else fa - self.started_at

    def render_load(self) -> float:
        """Render time / audio time over everything rendered while playing."""
        t = self._thread
        if t is None or t.rendered_frames == 0:
            return 0.0
        return t.render_seconds / (t.rendered_frames / self.sample_rate)

    def poll(self) -> list[e.Event]:
        """Drain events, adding the current position, new xruns and a lost device. Call it from one thread."""
        out: list[e.Event] = []
        while self.events:
            out.append(self.events.popleft())
        out.append(e.Position(self.position, self.playing))
        x = self.xruns
        if x != self._xruns_reported:
            self._xruns_reported = x
            out.append(e.XRun(x))
        o = self._output
        if o is not None:
            _ = o.priority  # raises the callback's thread once it has run (it cannot do so itself)
        # zero wake-up latency only while a device plays the timeline: it keeps the cores from idling
        if isinstance(o, DeviceOutput) and self.playing:
            self.wakeup_latency.hold()
        else:
            self.wakeup_latency.release()
        if o is not None and not self._lost_reported and (o.lost is not None or not o.active):
            if o.lost is None:
                o.lost = "audio device stopped"
            self._lost_reported = True
            out.append(e.DeviceLost(o.lost))
        self._free_retired()
        return out

    def _free_retired(self) -> None:
        while self.renderer.retired:
            self.renderer.retired.popleft().close()
