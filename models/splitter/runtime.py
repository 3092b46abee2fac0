"""Same-timbre splitting at run time: onnxruntime for the network and the platform's streaming chunk runner
(:mod:`models.platform.stream`) for files of any length, rate and channel count, in constant memory.

* **Order across chunks**: the network's outputs have no fixed order, so the runner's alignment hook
  re-orders each chunk's sources to match the previous chunk's over their overlap (largest correlation),
  so a voice does not jump to the other file at a chunk boundary. (Inside a chunk the network decides;
  an overlap where one voice is silent gives the match little to go on.)
* **Channels**: the network splits the mono downmix; each channel then gets each source's estimate
  times its non-negative least-squares gain for that channel in the chunk (a panned singer stays panned).
* **Outputs add up to the input**: whatever the estimates leave out (the band above the model's Nyquist
  frequency, resampling edges) is shared by the sources in proportion to their energy in each block, at
  the input's rate.
* **Level**: the network scales each chunk to unit RMS inside, so the input's level changes nothing.

A model is a folder with ``model.onnx`` (input ``mix`` (batch, 1, samples), output ``sources`` (batch,
S, samples)) and ``model.json`` (``format`` ``refrain-splitter-wave``, ``sample_rate``, ``sources``,
``hop``, ``sha256``)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from engine.errors import UserError
from models.platform.onnx import OnnxModel
from models.platform.registry import load_model, resolve_model, shipped_models
from models.platform.stream import CHUNK_SECONDS, correlation_order, run_file
from models.splitter import FORMAT

DEFAULT_MODEL = "splitter"
BITS = ("16", "24", "float")
CHUNK = 10.0  # seconds per network call: the network's memory grows with it, its context does not need more
OVERLAP = 1.0


class Splitter:
    """A splitting model loaded for inference (a :class:`models.platform.stream.ChunkModel`)."""

    mixture_consistent = False  # the residual is shared by every source in ``derive``, not given to the last

    def __init__(self, model: str | os.PathLike[str] = DEFAULT_MODEL, threads: int = 0) -> None:
        folder = resolve_model(model, "splitter")
        self.model = OnnxModel(folder / "model.onnx", threads or (os.cpu_count() or 1), formats=(FORMAT,))
        m = self.model.meta
        try:
            self.sample_rate = int(m["sample_rate"])
            self.n_sources = int(m["sources"])
            self.hop = int(m["hop"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{folder}/model.json is not a splitter sidecar (needs sample_rate, sources, hop)") from exc
        if "mix" not in self.model.input_names or "sources" not in self.model.output_names:
            raise UserError(f"{folder}/model.onnx must take 'mix' and return 'sources'")
        self.name = str(m.get("name", folder.name))
        self.sources = tuple(f"source_{k + 1}" for k in range(self.n_sources))

    def analyse(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network half: (channels, n) -> (estimates (S, n) of the downmix, the chunk)."""
        n = x.shape[-1]
        padded = -(-n // self.hop) * self.hop
        mono = np.zeros((1, 1, max(padded, 4 * self.hop)), np.float32)
        mono[0, 0, :n] = x.mean(0)
        est = self.model.predict({"mix": mono})["sources"][0, :, :n]
        return est, x

    def synthesise(self, state: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The signal half: per-channel gains (non-negative least squares) -> (S, channels, n)."""
        est, x = state
        a = est.astype(np.float64)  # (S, n)
        gains = channel_gains(a, x.astype(np.float64))  # (S, channels)
        return (gains.T[:, :, None] * a[None]).transpose(1, 0, 2).astype(np.float32)

    def align(self, previous: np.ndarray, current: np.ndarray) -> Sequence[int] | None:
        return correlation_order(previous, current)


def load(folder: Path, threads: int) -> Splitter:
    """The family's loader (see :mod:`models.platform.registry`)."""
    return Splitter(folder, threads)


def channel_gains(est: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-channel gains of each source: the non-negative least-squares fit of each channel of ``x``
    (c, n) by the (S, n) estimates, found exactly over every subset of sources (sources are few); a source
    under 1e-4 of the estimates' energy gets no gain (its estimate is leakage, not a voice to place).
    -> (S, c)."""
    s = len(est)
    gram = est @ est.T
    b = est @ x.T  # (S, c)
    energy = np.diag(gram)
    live = [k for k in range(s) if energy[k] > 1e-4 * max(float(energy.sum()), 1e-30)]
    out = np.zeros((s, x.shape[0]))
    for c in range(x.shape[0]):
        best, best_err = np.zeros(s), 0.0  # the empty fit, as ||x - g est||^2 minus the constant ||x||^2
        for size in range(1, len(live) + 1):
            for subset in itertools.combinations(live, size):
                idx = list(subset)
                g_sub = np.linalg.lstsq(gram[np.ix_(idx, idx)], b[idx, c], rcond=None)[0]
                if (g_sub < 0).any():
                    continue
                g = np.zeros(s)
                g[idx] = g_sub
                err = float(g @ gram @ g - 2 * g @ b[:, c])
                if err < best_err:
                    best, best_err = g, err
        out[:, c] = best
    return out


def share_residual(sources: np.ndarray, mixture: np.ndarray) -> np.ndarray:
    """(S, c, n) estimates and the (c, n) input -> estimates plus a share of what they leave out (the band
    above the model's Nyquist frequency, resampling edges) in proportion to each estimate's energy in the
    block (a voice that sings alone there gets it all; equal shares in silence), so they add up to the
    input exactly."""
    energy = np.square(sources, dtype=np.float64).sum(axis=(1, 2))
    total = float(energy.sum())
    weights = energy / total if total > 0 else np.full(len(sources), 1.0 / len(sources))
    out: np.ndarray = sources + (mixture - sources.sum(0))[None] * weights[:, None, None].astype(np.float32)
    return out


def require_model(model: str | os.PathLike[str]) -> None:
    """UserError, before any work, when the default splitter is asked for and none ships yet."""
    if os.fspath(model) == DEFAULT_MODEL and not shipped_models("splitter"):
        raise UserError(
            "no splitter model ships with this version yet: train one (models/splitter/CARD.md) and pass --model FOLDER"
        )


def split_file(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    sources: int | None = None,
    model: str | os.PathLike[str] | Splitter = DEFAULT_MODEL,
    bits: str | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    chunk_seconds: float = CHUNK,
) -> dict[str, Path]:
    """Write ``out_dir/source_1.wav`` ... ``source_N.wav`` at the input's rate and channel count; they add
    up to the input. ``sources``: the count asked for (UserError unless the model gives it). All or
    nothing: no file appears unless every one is complete. Raises :class:`engine.errors.Cancelled` on cancel."""
    if not isinstance(model, Splitter):
        require_model(model)
    sp = model if isinstance(model, Splitter) else load_model(model, "splitter", os.cpu_count() or 1)
    if sources is not None and sources != sp.n_sources:
        raise UserError(f"the {sp.name} model splits into {sp.n_sources} sources, not {sources}")
    if bits is not None and bits not in BITS:
        raise UserError(f"bits must be one of {', '.join(BITS)}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"cannot write sources to {out}: it is a file")
    targets = {name: out / f"{name}.wav" for name in sp.sources}
    chunk = min(chunk_seconds, CHUNK_SECONDS)
    return run_file(sp, input_path, targets, share_residual, bits, progress, cancel, chunk, min(OVERLAP, chunk / 4))
