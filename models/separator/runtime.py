"""Stem separation at run time: onnxruntime for the network, the platform's numpy STFT, and the platform's
streaming chunk runner (:mod:`models.platform.stream`) for files of any length, rate and channel count.

Stereo goes through the network as is; mono and 3+ channels get masks computed from their mono downmix
and applied to every channel. The masks of every stem add up to one, so the runner computes the last
stem as the input minus the others at the input's rate: the stems add up to the input at every rate.

Level: the network sees every chunk at one loudness, ``INPUT_RMS_DBFS`` (the median RMS of the rendered
mixtures it was trained on), and its masks are applied to the chunk as it came. So a file's level no
longer changes what is separated, and the stems of a scaled file are exactly the scaled stems.

A model is a folder with ``model.onnx`` (input ``mag`` (batch, 2, bins, frames) magnitudes, output
``masks`` (batch, stems, 2, bins, frames); a boosted model also takes ``feats``, basic-pitch's features of
the chunk, :mod:`models.features.booster`) and ``model.json`` with ``format`` ``refrain-separator-masks``,
``sample_rate``, ``n_fft``, ``hop``, ``stems`` and ``sha256``; any model exported that way loads here."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import UserError
from models.platform.onnx import OnnxModel
from models.platform.registry import load_model, resolve_model
from models.platform.stft import istft, stft
from models.platform.stream import CHUNK_SECONDS, run_file
from models.separator import FORMAT

DEFAULT_MODEL = "separator"
BITS = ("16", "24", "float")
# Median RMS of 20 s chunks of the rendered test mixtures (-22.5 ... -20.2 dBFS from 10th to 90th percentile),
# which are rendered like the training ones; a model's sidecar may name its own (``input_rms_dbfs``).
INPUT_RMS_DBFS = -21.7
MAX_GAIN_DB = 40.0  # near-silent chunks are raised at most this much (no noise floor blown up to full level)


@dataclass(frozen=True)
class SeparatorInfo:
    name: str
    sample_rate: int
    n_fft: int
    hop: int
    stems: tuple[str, ...]


class Separator:
    """A separation model loaded for inference (a :class:`models.platform.stream.ChunkModel`)."""

    mixture_consistent = True

    def __init__(self, model: str | os.PathLike[str] = DEFAULT_MODEL, threads: int = 0) -> None:
        folder = resolve_model(model, "separator")
        self.model = OnnxModel(folder / "model.onnx", threads or (os.cpu_count() or 1), formats=(FORMAT,))
        m = self.model.meta
        try:
            self.info = SeparatorInfo(
                str(m.get("name", folder.name)),
                int(m["sample_rate"]),
                int(m["n_fft"]),
                int(m["hop"]),
                tuple(str(s) for s in m["stems"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"{folder}/model.json is not a separator sidecar (needs sample_rate, n_fft, hop, stems)"
            ) from exc
        if "mag" not in self.model.input_names or "masks" not in self.model.output_names:
            raise UserError(f"{folder}/model.onnx must take 'mag' and return 'masks'")
        self.sample_rate = self.info.sample_rate
        self.sources = self.info.stems
        self.input_rms = 10 ** (float(m.get("input_rms_dbfs", INPUT_RMS_DBFS)) / 20)
        self.booster = None
        if "feats" in self.model.input_names:  # a boosted model: basic-pitch features of each chunk
            from models.features.booster import load_booster

            self.booster = load_booster(threads or (os.cpu_count() or 1))

    @property
    def stems(self) -> tuple[str, ...]:
        return self.info.stems

    def separate_chunk(self, x: np.ndarray) -> np.ndarray:
        """(channels, samples) at the model rate -> (stems, channels, samples)."""
        return self.synthesise(self.analyse(x))

    def analyse(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """The network half: (mixture STFT, masks, samples)."""
        n_fft, hop = self.info.n_fft, self.info.hop
        n = x.shape[-1]
        if n < n_fft:  # too short for one frame: pad now, cut in synthesise
            padded = np.zeros((x.shape[0], n_fft), np.float32)
            padded[:, :n] = x
            x = padded
        spec = stft(x, n_fft, hop)  # (c, f, t)
        net_in = spec[:2] if x.shape[0] == 2 else np.repeat(stft(x.mean(0, keepdims=True), n_fft, hop), 2, 0)
        gain = min(self.input_rms / max(float(np.sqrt(np.mean(np.square(x[:, :n])))), 1e-12), 10 ** (MAX_GAIN_DB / 20))
        mag = (np.abs(net_in) * gain)[None].astype(np.float32)
        feeds = {"mag": mag}
        if self.booster is not None:
            from models.features.booster import booster_features

            feats = booster_features(self.booster, x * np.float32(gain), self.sample_rate, hop)
            feeds["feats"] = feats[None, : mag.shape[-1]]
        masks = self.model.predict(feeds)["masks"][0]  # (s, 2, f, t)
        if x.shape[0] != 2:
            masks = masks.mean(1, keepdims=True)  # one mask per stem for every channel
        return spec, masks, n

    def synthesise(self, state: tuple[np.ndarray, np.ndarray, int]) -> np.ndarray:
        """The signal half: masked STFTs back to (stems, channels, n) samples."""
        spec, masks, n = state
        n_fft, hop = self.info.n_fft, self.info.hop
        length = max(n, n_fft)
        # one stem at a time: the inverse FFT's buffers are the largest arrays here
        return np.stack([istft(m * spec, n_fft, hop, length)[..., :n] for m in masks])

    def align(self, previous: np.ndarray, current: np.ndarray) -> Sequence[int] | None:
        return None  # stems have fixed meanings


def load(folder: Path, threads: int) -> Separator:
    """The family's loader (see :mod:`models.platform.registry`)."""
    return Separator(folder, threads)


def separate_file(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    stems: Sequence[str] | None = None,
    without: str | None = None,
    model: str | os.PathLike[str] | Separator = DEFAULT_MODEL,
    bits: str | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    chunk_seconds: float = CHUNK_SECONDS,
) -> dict[str, Path]:
    """Write ``out_dir/<stem>.wav`` for each stem (and ``no_<without>.wav``: the input minus that stem) at
    the input's rate and channel count. ``bits`` None: float for a float input, else 24-bit. All or nothing:
    no file appears unless every one is complete."""
    sep = model if isinstance(model, Separator) else load_model(model, "separator", os.cpu_count() or 1)
    wanted = list(dict.fromkeys(stems)) if stems else list(sep.stems)  # each stem once, in the order asked
    unknown = [s for s in [*wanted, *([without] if without else [])] if s not in sep.stems]
    if unknown:
        raise UserError(f"unknown stem {unknown[0]!r}; this model has {', '.join(sep.stems)}")
    if bits is not None and bits not in BITS:
        raise UserError(f"bits must be one of {', '.join(BITS)}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"cannot write stems to {out}: it is a file")
    names = wanted + ([f"no_{without}"] if without else [])
    index = [sep.stems.index(s) for s in wanted]
    w_index = sep.stems.index(without) if without else None

    def derive(sources: np.ndarray, mixture: np.ndarray) -> np.ndarray:
        parts = [sources[i] for i in index]
        if w_index is not None:
            parts.append(mixture - sources[w_index])
        return np.stack(parts)

    targets = {n: out / f"{n}.wav" for n in names}
    return run_file(sep, input_path, targets, derive, bits, progress, cancel, chunk_seconds)
