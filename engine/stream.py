"""Output devices: the sounddevice callback (copy from the ring, count underruns, nothing else) and a
clocked null device for machines without a sound card."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.priority import raise_audio_priority
from engine.ring import AudioRing

NULL_DEVICE = "null"
TIMING_SLOTS = 1 << 16


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
        raise UserError("no audio output device found (use --device null to play in real time without sound)")
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


class CallbackStats:
    """Written only by the audio callback: underruns and per-callback durations in a preallocated ring."""

    def __init__(self) -> None:
        self.underruns = 0
        self.device_xruns = 0
        self.callbacks = 0
        self.first_audio: float | None = None  # perf_counter() of the first callback that played audio
        self.durations = np.zeros(TIMING_SLOTS, dtype=np.float64)

    @property
    def xruns(self) -> int:
        return self.underruns + self.device_xruns

    def recent_durations(self) -> np.ndarray:
        n = min(self.callbacks, TIMING_SLOTS)
        return self.durations[:n].copy()


class _Output:
    """Common part of both outputs: the callback body."""

    def __init__(self, ring: AudioRing, channels: int) -> None:
        self.ring = ring
        self.channels = channels
        self.stats = CallbackStats()
        self.lost: str | None = None
        self._stopping = False
        self.priority: str | None = None  # the callback thread's scheduling, set by its first call

    def _fill(self, outdata: np.ndarray, frames: int, underflow: bool) -> None:
        t0 = time.perf_counter()
        st = self.stats
        was_playing = self.ring.heard >= 0
        got = self.ring.read_into(outdata)
        # A dropout is a gap in the music: late or missing blocks while the transport is stopped are silence
        # either way, and counting them made "audio dropouts" climb on an idle null device.
        playing = was_playing or self.ring.heard >= 0
        if got < frames:
            outdata[got:] = 0.0
            if playing:
                st.underruns += 1
        elif st.first_audio is None and self.ring.heard >= 0:
            st.first_audio = t0
        if underflow and playing:
            st.device_xruns += 1
        st.durations[st.callbacks % TIMING_SLOTS] = time.perf_counter() - t0
        st.callbacks += 1


class DeviceOutput(_Output):
    """A sounddevice output stream fed from the ring."""

    def __init__(self, ring: AudioRing, device: OutputDevice, sample_rate: int, blocksize: int, channels: int) -> None:
        super().__init__(ring, channels)
        sd = _sd()
        self.device = device
        try:
            self._stream = sd.OutputStream(
                samplerate=sample_rate,
                blocksize=blocksize,
                device=device.index,
                channels=channels,
                dtype="float32",
                callback=self._callback,
                finished_callback=self._finished,
                latency="low",
            )
        except sd.PortAudioError as exc:
            raise UserError(f"cannot open {device.name!r} at {sample_rate} Hz, block {blocksize}: {exc}") from exc

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if self.priority is None:  # once, in the device's own thread: it must wake on time, whatever else runs
            self.priority = raise_audio_priority()
        self._fill(outdata, frames, bool(status.output_underflow))

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
