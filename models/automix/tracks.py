"""What both auto-mix modes read and render through the engine: each track's audio before its console
(the engine's own bounce of the track alone), the analysis excerpt, and the master stage run through the
engine's ``compressor`` and ``limiter`` plugins."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from engine.bounce import bounce_graph
from engine.build import build_graph
from engine.console import MasterSettings, StripSettings, is_console_plugin
from engine.errors import Cancelled
from engine.plugins import create_plugin
from engine.project import Project


def solo(project: Project, index: int) -> Project:
    """The track alone, before its console: its source and the user's plugins, neutral fader, empty master."""
    p = copy.deepcopy(project)
    t = p.tracks[index]
    t.chain = [s for s in t.chain if not is_console_plugin(s)]
    t.gain_db, t.pan, t.mute, t.solo, t.output = 0.0, 0.0, False, False, "master"
    p.tracks, p.buses = [t], []
    p.master.chain, p.master.gain_db = [], 0.0
    return p


OFFLINE_BLOCK = 8192  # offline, large blocks: the same DSP with far fewer Python calls


def bounce(project: Project, start: int = 0, frames: int | None = None, workers: int = 0) -> np.ndarray:
    """The engine's bounce (2, frames) of ``project`` from frame ``start`` (default: to the end), its tracks
    rendered on ``workers`` threads (0: one per core)."""
    graph = build_graph(project, project.sample_rate, OFFLINE_BLOCK, workers=workers or os.cpu_count() or 1)
    try:
        audio = bounce_graph(graph, None if frames is None else start + frames, OFFLINE_BLOCK)
    finally:
        graph.close()
    return audio[:, start:]


def track_audio(
    project: Project,
    tracks: Sequence[int],
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[np.ndarray]:
    """Each track's (2, n) audio before its console, all padded to the longest. The solo bounces run on a
    thread per core: decoding and pedalboard's DSP release the GIL."""

    def one(i: int) -> np.ndarray:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        return bounce(solo(project, i), workers=1)  # one track: the threads are the solo bounces

    out = []
    with ThreadPoolExecutor(max(1, min(len(tracks), os.cpu_count() or 1))) as pool:
        futures = [pool.submit(one, i) for i in tracks]
        try:
            for n, f in enumerate(futures):
                out.append(f.result())
                if progress is not None:
                    progress((n + 1) / len(tracks))
        finally:
            for f in futures:
                f.cancel()
    length = max(x.shape[1] for x in out)
    return [x if x.shape[1] == length else np.pad(x, ((0, 0), (0, length - x.shape[1]))) for x in out]


def loudest_window(tracks: list[np.ndarray], sr: int, seconds: float) -> tuple[int, int]:
    """(start, frames) of the loudest ``seconds`` of the tracks' sum of energies, on a one-second grid."""
    total = sum(np.einsum("ij,ij->j", t, t) for t in tracks)  # float32, no temporaries: tracks are long
    n = int(total.shape[0])
    win = min(n, int(seconds * sr))
    if win >= n:
        return 0, n
    per_second = total[: n // sr * sr].reshape(-1, sr).sum(1, dtype=np.float64)
    span = max(1, win // sr)
    sums = np.convolve(per_second, np.ones(span), mode="valid")
    return int(np.argmax(sums)) * sr, win


def run_plugins(x: np.ndarray, stages: Sequence[tuple[str, Mapping[str, float]]], sr: int) -> np.ndarray:
    """(channels, n) audio (mono is centred to stereo) through engine plugins ``(kind, params)`` in order,
    prepared for the whole buffer at once: offline, the same DSP the graph runs block by block."""
    y = np.array(x, np.float32, copy=True)
    if y.shape[0] == 1:
        y = np.repeat(y, 2, 0)
    for kind, params in stages:
        plugin = create_plugin(kind, params)
        plugin.prepare(sr, y.shape[1], 2)
        plugin.process(y)
        plugin.close()
    return y


def run_strip(x: np.ndarray, strip: StripSettings, sr: int) -> np.ndarray:
    """A track's (channels, n) audio through one console strip: EQ, compressor, fader."""
    fader = {"gain_db": strip.gain_db, "pan": strip.pan}
    return run_plugins(x, [("eq", strip.eq), ("compressor", strip.compressor), ("gain", fader)], sr)


def run_master(pre: np.ndarray, master: MasterSettings, sr: int) -> np.ndarray:
    """A (2, n) pre-master mix through the master's console stages with the engine's plugins."""
    stages = [("width", {"width": master.width}), ("compressor", master.compressor)]
    stages += [("limiter", master.limiter)] if master.limiter else []
    out: np.ndarray = run_plugins(pre, stages, sr) * np.float32(10 ** (master.gain_db / 20))
    return out
