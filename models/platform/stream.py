"""The one streaming chunk runner: a separating model applied to a file of any length, rate and channel
count, in constant memory, with progress and cancel, writing all outputs or none.

The input is read block by block (:class:`engine.audio_io.AudioReader`), resampled to the model's rate
with a soxr stream, and cut into chunks that overlap by ``overlap_seconds``; the outputs of consecutive
chunks are cross-faded with complementary linear ramps. Two stages overlap: the network half of chunk k+1
(``analyse``) runs while a worker runs the signal half of chunk k (``synthesise``), resamples it back and
writes it; one chunk is in flight, so memory stays bounded.

* **Alignment hook**: a model whose outputs have no fixed order (permutation-invariant training) gives
  ``align``; before a chunk is cross-faded, its outputs are re-ordered to match the previous chunk's
  over the overlap (:func:`correlation_order` is the usual choice).
* **Mixture consistency**: when the model's outputs add up to its input (masks that sum to one), the last
  output is computed as the input minus the others *at the input's rate*, after resampling back, so the
  written outputs add up to the input at every sample rate (resampling each output separately does not:
  its band-limiting and edge effects are not shared with the input).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.audio_io import BLOCK_FRAMES, AudioReader, AudioSink
from engine.errors import Cancelled, UserError
from engine.files import atomic_files

CHUNK_SECONDS = 20.0
OVERLAP_SECONDS = 1.0


class ChunkModel(Protocol):
    """What the runner needs of a separating model (at its own sample rate)."""

    sample_rate: int
    sources: tuple[str, ...]  # output names, in output order
    mixture_consistent: bool  # outputs add up to the input: the last is computed as the residual

    def analyse(self, x: np.ndarray) -> Any:
        """The network half: (channels, n) at the model rate -> whatever ``synthesise`` needs."""

    def synthesise(self, state: Any) -> np.ndarray:
        """The signal half: -> (sources, channels, n) at the model rate."""

    def align(self, previous: np.ndarray, current: np.ndarray) -> Sequence[int] | None:
        """The order of ``current``'s sources that matches ``previous`` over the overlap (both (S, c, m));
        None keeps the order (models whose outputs have fixed meanings)."""


def correlation_order(previous: np.ndarray, current: np.ndarray) -> list[int]:
    """The permutation of ``current``'s sources with the largest summed correlation with ``previous``'s
    (brute force over all orders: sources are few)."""
    s = previous.shape[0]
    a = previous.reshape(s, -1).astype(np.float64)
    b = current.reshape(s, -1).astype(np.float64)
    score = a @ b.T
    best = max(itertools.permutations(range(s)), key=lambda p: sum(score[i, p[i]] for i in range(s)))
    return list(best)


class _InputFifo:
    """Input frames at the input rate, waiting for the outputs of the same time span (thread-safe)."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self._parts: deque[np.ndarray] = deque()
        self._lock = threading.Lock()

    def push(self, block: np.ndarray) -> None:
        with self._lock:
            self._parts.append(block)

    def pop(self, frames: int) -> np.ndarray:
        out = []
        with self._lock:
            while frames > 0 and self._parts:
                head = self._parts[0]
                take = head[:, :frames]
                out.append(take)
                frames -= take.shape[1]
                if take.shape[1] == head.shape[1]:
                    self._parts.popleft()
                else:
                    self._parts[0] = head[:, take.shape[1] :]
        return np.concatenate(out, axis=1) if out else np.zeros((self.channels, 0), np.float32)


def run_file(
    model: ChunkModel,
    input_path: str | os.PathLike[str],
    targets: dict[str, Path],
    derive: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    bits: str | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    chunk_seconds: float = CHUNK_SECONDS,
    overlap_seconds: float = OVERLAP_SECONDS,
) -> dict[str, Path]:
    """Apply ``model`` to a file and write one file per ``targets`` entry, at the input's rate and channel
    count; returns ``targets``. All or nothing: no file appears unless every one is complete (missing
    folders are created, and removed again on failure).

    ``derive(sources, mixture)`` maps (S, c, n) outputs and the (c, n) input to the (len(targets), c, n)
    blocks to write, in ``targets`` order (default: the sources themselves). ``bits``: 16, 24 or float;
    None writes float for a float input (it may lie beyond full scale) and 24-bit otherwise. Raises
    :class:`Cancelled` when ``cancel()`` turns true, :class:`UserError` for bad input or output."""
    import soxr

    reader = AudioReader(input_path)
    try:
        info = reader.info
        if bits is None:
            bits = "float" if info.is_float else "24"
        rate, chans, mrate = info.sample_rate, info.channels, model.sample_rate
        n_src = len(model.sources)
        resampled = n_src - 1 if model.mixture_consistent else n_src
        chunk = max(round(chunk_seconds * mrate), 4096)
        overlap = max(1, min(round(overlap_seconds * mrate), chunk // 4))  # at least one sample to cross-fade
        up = np.linspace(0.0, 1.0, overlap, endpoint=False, dtype=np.float32) + np.float32(0.5 / max(1, overlap))
        to_model = soxr.ResampleStream(rate, mrate, chans, dtype="float32") if rate != mrate else None
        back = soxr.ResampleStream(mrate, rate, chans * resampled, dtype="float32") if rate != mrate else None
        fifo = _InputFifo(chans)
        names = list(targets)
        with atomic_files(list(targets.values()), make_folders=True) as temps:
            sinks: list[AudioSink] = []
            try:
                for t, n in zip(temps, names, strict=True):
                    sinks.append(AudioSink(t, rate, chans, bits, name=os.fspath(targets[n])))
            except BaseException:
                _close_all(sinks)
                raise
            state: dict[str, Any] = {"tail": None, "tail_raw": None}  # the previous chunk's overlap

            def emit(est: np.ndarray, last: bool) -> None:
                """(S, c, n) at the model rate -> the files, at the input rate."""
                flat = est[:resampled].reshape(resampled * chans, -1).T
                if back is not None:
                    flat = back.resample_chunk(np.ascontiguousarray(flat), last=last)
                inp = fifo.pop(flat.shape[0])
                if last:  # resampling rounding: whatever input is left gets (zero-padded) outputs too
                    inp = np.concatenate([inp, fifo.pop(1 << 62)], axis=1)
                m = inp.shape[1]
                flat = flat[:m]
                if flat.shape[0] < m:
                    flat = np.concatenate([flat, np.zeros((m - flat.shape[0], flat.shape[1]), np.float32)])
                outs = np.ascontiguousarray(flat.T).reshape(resampled, chans, m)
                if model.mixture_consistent:
                    outs = np.concatenate([outs, (inp - outs.sum(0))[None]], axis=0)
                blocks = derive(outs, inp) if derive is not None else outs
                for k, sink in enumerate(sinks):
                    sink.write(blocks[k])

            def finish(net_out: Any, final: bool) -> None:
                est = model.synthesise(net_out)
                if state["tail"] is not None:
                    order = model.align(state["tail_raw"], est[..., :overlap])
                    if order is not None:
                        est = est[list(order)]
                    est[..., :overlap] = est[..., :overlap] * up + state["tail"]
                if final:
                    emit(est, True)
                    return
                state["tail_raw"] = est[..., -overlap:].copy()
                state["tail"] = est[..., -overlap:] * up[::-1]
                emit(est[..., :-overlap], False)

            stage2 = ThreadPoolExecutor(1, thread_name_prefix="separate-write")
            pending: list[Future[None]] = []

            def run(x: np.ndarray, final: bool) -> None:
                if cancel is not None and cancel():
                    raise Cancelled()
                net_out = model.analyse(x)
                if pending:
                    pending.pop().result()  # re-raises the worker's error here
                pending.append(stage2.submit(finish, net_out, final))
                if final:
                    pending.pop().result()

            try:
                buf = np.zeros((chans, 0), np.float32)
                for block in reader.blocks(BLOCK_FRAMES):
                    fifo.push(block)
                    if to_model is not None:
                        block = to_model.resample_chunk(np.ascontiguousarray(block.T)).T
                    buf = np.concatenate([buf, block], 1)
                    while buf.shape[1] >= chunk + overlap:  # keep enough behind so the last chunk is never tiny
                        run(buf[:, :chunk], False)
                        buf = buf[:, chunk - overlap :]
                    if progress is not None and info.frames:
                        progress(min(0.99, reader.frames_read / info.frames))
                if reader.frames_read == 0:
                    raise UserError(f"{info.path} contains no audio")
                if to_model is not None:
                    rest = to_model.resample_chunk(np.zeros((0, chans), np.float32), last=True).T
                    buf = np.concatenate([buf, rest], 1)
                if buf.shape[1] == 0:
                    buf = np.zeros((chans, 1), np.float32)
                run(buf, True)
            except BaseException:
                stage2.shutdown(wait=True, cancel_futures=True)  # the worker may still be writing: let it stop
                _close_all(sinks)
                raise
            stage2.shutdown(wait=True)
            try:
                for sink in sinks:
                    sink.close()
            finally:
                _close_all(sinks)  # a sink that failed to flush must not leave the others open
    finally:
        reader.close()
    if progress is not None:
        progress(1.0)
    return targets


def _close_all(sinks: list[AudioSink]) -> None:
    """Close after a failure: the first error is the one to report, not a second one while closing."""
    for sink in sinks:
        with contextlib.suppress(Exception):
            sink.close(report=False)
