"""The GUI's side of the audio engine: a QTimer drains engine events and turns them into typed Qt signals.
The GUI never waits on the engine; it sends commands and reads what the render thread reported."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from engine import commands as c
from engine import events as e
from engine.api import Engine
from engine.errors import UserError
from engine.graph import Graph
from engine.stream import NULL_DEVICE

POLL_MS = 25  # 40 Hz: smooth meters and playhead, negligible load


class EngineBridge(QObject):
    position = Signal(int, bool)  # timeline frame heard (-1 stopped), playing
    meters = Signal(object, object)  # peak, rms: (strips, 2) linear
    analysed = Signal(int, object)  # the analysed strip's index and its latest samples (mono float32)
    message = Signal(str)  # one-line problems for the status bar
    xruns = Signal(int)

    def __init__(self, sample_rate: int = 44100, block: int = 256, device: str | None = None) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.engine: Engine | None = None
        self.device_used: str | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self.last_frame = 0
        self.playing = False
        self._loaded: Graph | None = None
        self.open(block, device)

    def open(self, block: int, device: str | None) -> None:
        """(Re)start on a device; without one the clocked null device keeps the transport running silently.
        The graph is not kept: the session rebuilds it for the new engine."""
        if self.engine is not None:
            self.engine.close()
        self._loaded = None
        self.engine = Engine(self.sample_rate, block, device)
        try:
            self.engine.start()
            self.device_used = device
        except UserError as exc:
            self.engine.close()
            self.engine = Engine(self.sample_rate, block, NULL_DEVICE)
            self.engine.start()
            self.device_used = NULL_DEVICE
            self.message.emit(f"{exc}; playing silently")
        self._timer.start()

    @property
    def block(self) -> int:
        assert self.engine is not None
        return self.engine.block

    def load(self, graph: Graph) -> None:
        assert self.engine is not None
        self.engine.load(graph)
        self._loaded = graph

    @property
    def swapped(self) -> bool:
        """Whether the render thread runs the graph passed to the last ``load`` (it swaps at its next block)."""
        return self.engine is not None and (self._loaded is None or self.engine.graph is self._loaded)

    def send(self, cmd: c.Command) -> None:
        if self.engine is not None:
            self.engine.send(cmd)

    def play(self) -> None:
        self.send(c.Play())
        self.playing = True

    def pause(self) -> None:
        self.send(c.Pause())
        self.playing = False

    def stop(self) -> None:
        self.send(c.Stop())
        self.playing = False
        self.last_frame = 0
        self.position.emit(0, False)

    def seek(self, frame: int) -> None:
        self.send(c.Seek(max(0, int(frame))))
        self.last_frame = max(0, int(frame))
        self.position.emit(self.last_frame, self.playing)

    def set_loop(self, start: int, end: int | None) -> None:
        self.send(c.SetLoop(start, end))

    def poll(self) -> None:
        if self.engine is None:
            return
        for ev in self.engine.poll():
            if isinstance(ev, e.Position):
                if ev.frame >= 0:
                    self.last_frame = ev.frame
                self.position.emit(ev.frame if ev.frame >= 0 else self.last_frame, ev.playing)
            elif isinstance(ev, e.Meters):
                self.meters.emit(ev.peak, ev.rms)
            elif isinstance(ev, e.Analyser):
                self.analysed.emit(ev.strip, ev.samples)
            elif isinstance(ev, e.XRun):
                self.xruns.emit(ev.total)
            elif isinstance(ev, e.PluginError):
                self.message.emit(f"plugin {ev.slot + 1} on {ev.strip} was bypassed: {ev.message}")
            elif isinstance(ev, e.DeviceLost):
                self.message.emit(f"audio device lost: {ev.message} (choose another in Preferences)")
            elif isinstance(ev, e.CommandError):
                self.message.emit(f"engine: {ev.message}")

    def close(self) -> None:
        self._timer.stop()
        if self.engine is not None:
            self.engine.close()
            self.engine = None
