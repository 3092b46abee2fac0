"""The engine benchmark behind ``refrain bench engine``: N stereo tracks with EQ + compressor played in
real time on a clocked device while a background thread runs an inference-style job."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.events import PluginError
from engine.graph import Chain, Graph, Slot, Strip, Track
from engine.plugins.builtin import Compressor, ParametricEQ
from engine.priority import lower_thread_priority
from engine.sources import AudioClipData, ClipPlayer

GOALS: dict[str, float] = {"xruns": 0, "callback_load": 0.3, "render_load": 0.5, "start_ms": 300.0}


def synthetic_tracks(n: int, seconds: float, sample_rate: int, seed: int = 0) -> list[np.ndarray]:
    """Distinct stereo material per track: decaying tones on a beat grid over quiet noise."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * sample_rate)
    t = np.arange(frames) / sample_rate
    out = []
    for i in range(n):
        f0 = 55.0 * 2 ** (i / 4)
        env = np.exp(-((t * (1 + i % 4)) % 0.5) * 8)
        tone = np.sin(2 * np.pi * f0 * t) * env
        noise = rng.standard_normal((2, frames)) * 0.02
        out.append((0.25 * tone[None, :] + noise).astype(np.float32))
    return out


def bench_graph(n_tracks: int, seconds: float, sample_rate: int, block: int, workers: int = 1) -> Graph:
    errors: deque[tuple[str, int, str]] = deque(maxlen=64)
    tracks = []
    for i, audio in enumerate(synthetic_tracks(n_tracks, seconds, sample_rate)):
        eq, comp = ParametricEQ(), Compressor()
        eq.set_param("mid1_db", 3.0)
        eq.set_param("high_db", -2.0)
        comp.set_param("threshold_db", -24.0)
        player = ClipPlayer([AudioClipData(audio, 0)])
        player.prepare(sample_rate, block, 2)
        tracks.append(
            Track(name=f"track {i + 1}", chain=Chain([Slot(eq), Slot(comp)], f"track {i + 1}", errors), clips=player)
        )
    master = Strip(name="master", chain=Chain([], "master", errors))
    master.fader.set_param("gain_db", -12.0)
    return Graph(tracks, [], master, sample_rate, block, errors, workers)


class BackgroundLoad(threading.Thread):
    """Keeps a core busy the way the app's workers do, by calling ``work`` until told to stop, at the app's
    background priority (:mod:`engine.priority`). The engine knows no models: the caller passes the work in
    (``refrain bench engine`` passes onnxruntime steps of the shipped generator)."""

    def __init__(self, name: str, work: Callable[[], object]) -> None:
        super().__init__(name="refrain-bench-load", daemon=True)
        self.kind = name
        self.work = work
        self.iterations = 0
        self.quit = threading.Event()

    def run(self) -> None:
        lower_thread_priority()  # as the app runs its jobs (app.workers, app.process_jobs)
        while not self.quit.is_set():
            self.work()
            self.iterations += 1


def numpy_load() -> BackgroundLoad:
    """Matrix products on a 512 x 512 float32 matrix (numpy releases the GIL inside them, as onnxruntime does)."""
    a = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)

    def work() -> None:
        np.tanh(a @ a * 1e-3, out=a)

    return BackgroundLoad("numpy", work)


def cpu_steal_seconds() -> float | None:
    """Seconds of CPU time stolen from this (virtual) machine since boot, all cores (Linux ``/proc/stat``;
    None elsewhere)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def run_engine_bench(
    tracks: int = 16,
    seconds: float = 10.0,
    block: int = 256,
    sample_rate: int = 44100,
    device: str | None = None,
    load: BackgroundLoad | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Play ``tracks`` stereo tracks (EQ + compressor each) on a clocked device for ``seconds`` while
    ``load`` runs beside it, the tracks rendered on ``workers`` threads; returns xruns, callback and render
    load (fractions of the period), start-up."""
    from engine.api import Engine
    from engine.jack import JackDummy
    from engine.stream import output_devices

    jack = None
    if device is None and not output_devices():
        jack = JackDummy(sample_rate, block, realtime=True).start()
        device = "system"
    bg = load
    try:
        graph = bench_graph(tracks, seconds + 1.0, sample_rate, block, workers)
        if bg is not None:
            bg.start()
            time.sleep(0.5)
        eng = Engine(sample_rate, block, device)
        try:
            eng.load(graph)
            eng.play()
            eng.start()
            jack_before = jack.xruns() if jack is not None else None
            steal_before = cpu_steal_seconds()
            deadline = time.perf_counter() + seconds
            plugin_errors = []
            while time.perf_counter() < deadline:
                time.sleep(0.1)
                plugin_errors += [str(ev) for ev in eng.poll() if isinstance(ev, PluginError)]
            durations = eng.callback_durations()
            steal_after = cpu_steal_seconds()
            period = eng.device_block / sample_rate
            first = eng.first_audio_seconds()
            result: dict[str, Any] = {
                "tracks": tracks,
                "workers": graph.workers,
                "plugins_per_track": ["eq", "compressor"],
                "block": block,
                "sample_rate": sample_rate,
                "seconds": seconds,
                "device": device,
                "background": bg.kind if bg is not None else "none",
                "background_iterations": bg.iterations if bg is not None else 0,
                "xruns": eng.xruns,
                "underruns": eng._output.stats.underruns if eng._output is not None else None,
                "device_xruns": eng._output.stats.device_xruns if eng._output is not None else None,
                "jack_realtime": jack.realtime if jack is not None else None,
                # the server's log: late period timers (the machine) and late clients (this engine)
                "jack_xruns": None
                if jack is None or jack_before is None
                else {k: v - jack_before[k] for k, v in jack.xruns().items()},
                "callbacks": int(durations.size),
                "callback_load": round(float(np.percentile(durations, 99)) / period, 4) if durations.size else None,
                "callback_load_max": round(float(durations.max()) / period, 4) if durations.size else None,
                "render_load": round(eng.render_load(), 4),
                "callback_priority": eng.callback_priority,
                "cpu_wakeup_latency_held": eng.wakeup_latency.held,
                # CPU time the hypervisor gave other guests while this ran (a virtual machine's own xruns)
                "cpu_steal_s": None
                if steal_before is None or steal_after is None
                else round(steal_after - steal_before, 2),
                "start_ms": None if first is None else round(first * 1000, 1),
                "plugin_errors": plugin_errors,
            }
        finally:
            eng.close()
    finally:
        if bg is not None:
            bg.quit.set()
            if bg.is_alive():
                bg.join()
        if jack is not None:
            jack.stop()
    cb, start = result["callback_load"], result["start_ms"]
    result["goals_met"] = bool(
        result["xruns"] == GOALS["xruns"]
        and cb is not None
        and cb < GOALS["callback_load"]
        and result["render_load"] < GOALS["render_load"]
        and start is not None
        and start < GOALS["start_ms"]
    )
    return result
