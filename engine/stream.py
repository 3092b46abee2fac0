"""Output devices: a PortAudio stream (through sounddevice) whose callback is native code that copies the ring
and counts underruns (:mod:`engine.callback`), and a clocked null device for machines without a sound card."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import UserError
from engine.priority import raise_audio_priority

if TYPE_CHECKING:
    from engine.ring import AudioRing

NULL_DEVICE = "null"


@dataclass(frozen=True)
class OutputDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_rate: float


def _sd() -> Any:
    import sounddevice as sd

    return sd


def rescan_devices() -> None:
    """Make PortAudio look again (e.g. after a JACK server started in this process's lifetime)."""
    sd = _sd()
    sd._terminate()
    sd._initialize()


def output_devices() -> list[OutputDevice]:
    """Devices that can play at least two channels (empty on a machine without sound hardware)."""
    try:
        sd = _sd()
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except OSError:  # PortAudio itself is missing
        return []
    return [
        OutputDevice(
            int(d["index"]),
            str(d["name"]),
            str(apis[d["hostapi"]]["name"]),
            int(d["max_output_channels"]),
            float(d["default_samplerate"]),
        )
        for d in devices
        if d["max_output_channels"] >= 2
    ]


def resolve_device(name: str | None) -> OutputDevice | None:
    """The device a name means: None is the system default, ``null`` the clocked null device (returns None),
    anything else an index or a case-insensitive part of a device name."""
    if name == NULL_DEVICE:
        return None
    devices = output_devices()
    if not devices:
        asked = "" if name is None else f"no output device matches {name!r}: "
        raise UserError(f"{asked}no audio output device found (use --device null to play in real time without sound)")
    if name is None:
        default = _sd().default.device[1]
        return next((d for d in devices if d.index == default), devices[0])
    if name.isdigit():
        match = [d for d in devices if d.index == int(name)]
    else:
        match = [d for d in devices if d.name.lower() == name.lower()] or [
            d for d in devices if name.lower() in d.name.lower()
        ]
    if len(match) != 1:
        listing = "; ".join(f"{d.index}: {d.name}" for d in devices)
        what = "no" if not match else "more than one"
        raise UserError(f"{what} output device matches {name!r} (devices: {listing})")
    return match[0]


class _Output:
    """Common part of both outputs: the native callback (:data:`engine.callback.device_callback`) over the
    ring, its counters, and its thread's scheduling."""

    def __init__(self, ring: AudioRing, channels: int) -> None:
        ring.reset_counters()
        self.ring = ring
        self.channels = channels
        self.stats = ring  # what the callback counted: underruns, xruns, durations, first audio
        self.lost: str | None = None
        self._stopping = False
        self._priority: str | None = None

    @property
    def priority(self) -> str | None:
        """The callback thread's scheduling (see :func:`engine.priority.raise_audio_priority`), asked for
        the first time this is read while the device runs after its first callback: the callback records
        its thread id, and this side raises that thread (the callback never calls into Python). None
        before."""
        if self._priority is None and self.active:
            tid = self.ring.callback_thread
            if tid > 0:
                self._priority = raise_audio_priority(tid)
            elif tid < 0:
                self._priority = "normal"  # no thread id on this platform
        return self._priority

    @property
    def active(self) -> bool:
        raise NotImplementedError

    def _fill(self, outdata: np.ndarray, frames: int, underflow: bool) -> None:
        """Run the callback on ``outdata`` (frames, channels) float32, through ctypes (the GIL is released
        for the call, as when PortAudio calls it)."""
        from engine import callback as cb

        cb.device_callback.ctypes(
            None,
            outdata.ctypes.data,
            frames,
            None,
            cb.OUTPUT_UNDERFLOW if underflow else 0,
            self.ring.state.ctypes.data,
        )


class DeviceOutput(_Output):
    """A sounddevice output stream fed from the ring."""

    def __init__(self, ring: AudioRing, device: OutputDevice, sample_rate: int, blocksize: int, channels: int) -> None:
        from engine import callback as cb

        super().__init__(ring, channels)
        sd = _sd()
        self.device = device
        try:
            # sounddevice's base stream takes a C function pointer as its callback (documented there for
            # custom stream classes): PortAudio then calls the native callback without Python in between
            self._stream = sd._StreamBase(
                kind="output",
                samplerate=sample_rate,
                blocksize=blocksize,
                device=device.index,
                channels=channels,
                dtype="float32",
                callback=sd._ffi.cast("PaStreamCallback *", cb.device_callback.address),
                finished_callback=self._finished,
                userdata=sd._ffi.cast("void *", ring.state.ctypes.data),
                latency="low",
            )
        except sd.PortAudioError as exc:
            raise UserError(f"cannot open {device.name!r} at {sample_rate} Hz, block {blocksize}: {exc}") from exc

    def _finished(self) -> None:
        if not self._stopping:
            self.lost = f"audio device {self.device.name!r} stopped"

    def start(self) -> None:
        self._stream.start()

    @property
    def active(self) -> bool:
        return bool(self._stream.active)

    def close(self) -> None:
        self._stopping = True
        if self.lost is None:
            self._close_stream()
            return
        # A vanished device (e.g. the JACK server died) can block PortAudio's abort forever: close it on the
        # side and carry on; the engine must stay usable.
        closer = threading.Thread(target=self._close_stream, name="refrain-close-lost-device", daemon=True)
        closer.start()
        closer.join(timeout=1.0)

    def _close_stream(self) -> None:
        try:
            self._stream.abort()
            self._stream.close()
        except Exception:  # the device may already be gone; closing must not fail
            pass


class NullOutput(_Output):
    """A device that plays nothing but keeps real time: a thread calls the callback once per period."""

    def __init__(self, ring: AudioRing, sample_rate: int, blocksize: int, channels: int) -> None:
        super().__init__(ring, channels)
        self._priority = "normal"  # its clock is a Python thread: never real-time (it would hold the GIL)
        self.period = blocksize / sample_rate
        self._buf = np.zeros((blocksize, channels), dtype=np.float32)
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, name="refrain-null-device", daemon=True)

    def _run(self) -> None:
        deadline = time.perf_counter()
        while not self._quit.is_set():
            deadline += self.period
            late = time.perf_counter() > deadline + self.period
            self._fill(self._buf, self._buf.shape[0], late)
            if late:  # we fell behind (machine stalled); resynchronise rather than burst
                deadline = time.perf_counter()
            delay = deadline - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    def start(self) -> None:
        self._thread.start()

    @property
    def active(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        self._stopping = True
        self._quit.set()
        if self._thread.is_alive():
            self._thread.join()
