"""Offline bounce through the same Renderer and graph code as real-time playback."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import numpy as np

from engine import commands as c
from engine.errors import Cancelled, UserError
from engine.graph import CHANNELS, Graph
from engine.render import Renderer

LUFS_CEILING_DB = -1.0  # peak ceiling after loudness normalisation


def bounce_graph(
    graph: Graph,
    frames: int | None = None,
    block: int = 256,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Render timeline frames ``[0, frames)`` (default: to the end of the last clip) as (2, frames) float32.

    Plugin latency is compensated: the graph's latency is rendered extra and trimmed from the front, so the
    result lines up with the timeline. Real-time playback is the same stream, delayed by that latency.
    """
    total = graph.end if frames is None else frames
    lat = graph.latency
    r = Renderer(graph, block)
    r.apply(c.Play())
    need = total + lat
    # exactly ``need`` frames (a partial last block goes through a scratch block): with no latency the result
    # is this buffer itself, not a copy; long offline bounces are memory-bound
    out = np.zeros((CHANNELS, need), dtype=np.float32)
    scratch = np.zeros((CHANNELS, block), dtype=np.float32)
    for i in range(0, need, block):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        n = min(block, need - i)
        if n == block:
            r.render(out[:, i : i + block])
        else:
            scratch[:] = 0.0
            r.render(scratch)
            out[:, i:] = scratch[:, :n]
        if progress is not None and (i // block) % 64 == 0:
            progress(min(1.0, i / max(need, 1)))
    if progress is not None:
        progress(1.0)
    return out if lat == 0 else np.ascontiguousarray(out[:, lat:])


def loudness_normalise(audio: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    """Scale to an integrated loudness (ITU-R BS.1770 via pyloudnorm), never above a -1 dBFS peak."""
    import pyloudnorm

    meter = pyloudnorm.Meter(sample_rate)
    if audio.shape[1] < int(0.4 * sample_rate):
        raise UserError("loudness normalisation needs at least 0.4 s of audio")
    loud = meter.integrated_loudness(audio.T.astype(np.float64))
    if not np.isfinite(loud):
        raise UserError("cannot loudness-normalise silence")
    gain = 10 ** ((target_lufs - loud) / 20)
    peak = float(np.abs(audio).max()) * gain
    ceiling = 10 ** (LUFS_CEILING_DB / 20)
    if peak > ceiling:
        gain *= ceiling / peak
    return np.asarray(audio * gain, dtype=np.float32)


def bounce_to_file(
    graph: Graph,
    out_path: str | os.PathLike[str],
    bits: str = "24",
    lufs: float | None = None,
    frames: int | None = None,
    block: int = 256,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Bounce and write WAV/FLAC atomically (nothing is left behind on error or cancel). Returns the audio."""
    from engine.audio_io import check_output, write_audio

    check_output(out_path, bits, folder_exists=True)  # a bad name, format or folder fails before the work
    audio = bounce_graph(graph, frames, block, progress, cancel)
    if lufs is not None:
        audio = loudness_normalise(audio, graph.sample_rate, lufs)
    write_audio(out_path, audio, graph.sample_rate, bits)
    return audio
