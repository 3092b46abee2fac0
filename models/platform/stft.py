"""The one STFT: centred frames, periodic Hann window. numpy/scipy at run time (no torch on the inference
path), torch in training; ``tests/models/test_platform.py`` proves the two equal.

Shapes: a signal is (..., samples); a spectrogram is complex (..., bins, frames) with
``bins = n_fft // 2 + 1`` and ``frames = 1 + samples // hop``. The inverse needs ``n_fft % hop == 0``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import scipy.fft

if TYPE_CHECKING:
    import torch

WORKERS = os.cpu_count() or 1  # scipy's FFT threads over frames


def hann(n_fft: int) -> np.ndarray:
    """The periodic Hann window, as ``torch.hann_window(n_fft)``."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(channels, samples) float32 -> complex64 (channels, bins, frames), as ``torch.stft(center=True)``
    with reflect padding (zero padding when the signal is too short to reflect)."""
    pad = n_fft // 2
    xp = np.pad(x, ((0, 0), (pad, pad)), mode="reflect") if x.shape[-1] > pad else np.pad(x, ((0, 0), (pad, pad)))
    frames = 1 + (xp.shape[-1] - n_fft) // hop
    # frames as a strided view (no gather): the window's product is the only copy before the FFT
    view = np.lib.stride_tricks.sliding_window_view(xp, n_fft, axis=-1)[:, : frames * hop : hop]
    windowed = view * hann(n_fft)
    spec = scipy.fft.rfft(windowed, axis=-1, workers=WORKERS, overwrite_x=True)  # (channels, frames, bins)
    return np.ascontiguousarray(spec.transpose(0, 2, 1), dtype=np.complex64)


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """complex (..., bins, frames) -> float32 (..., length): the inverse of :func:`stft` (overlap-add with
    window-square normalisation)."""
    lead, frames = spec.shape[:-2], spec.shape[-1]
    r = n_fft // hop
    w = hann(n_fft)
    seg = scipy.fft.irfft(np.moveaxis(spec, -1, -2), n=n_fft, axis=-1, workers=WORKERS).astype(np.float32, copy=False)
    seg *= w  # in place: the frames are the largest array here
    seg = seg.reshape(*lead, frames, r, hop)
    out = np.zeros((*lead, hop * (frames + r - 1)), np.float32)
    norm = np.zeros(hop * (frames + r - 1), np.float32)
    ww = (w * w).reshape(r, hop)
    for k in range(r):  # frame f's k-th hop lands at (f + k) * hop: one contiguous add per k
        out[..., k * hop : (k + frames) * hop] += seg[..., :, k, :].reshape(*lead, frames * hop)
        norm[k * hop : (k + frames) * hop] += np.tile(ww[k], frames)
    pad = n_fft // 2
    res = out[..., pad : pad + length] / np.maximum(norm[pad : pad + length], 1e-8)
    if res.shape[-1] < length:
        res = np.concatenate([res, np.zeros((*lead, length - res.shape[-1]), np.float32)], -1)
    return np.asarray(res, np.float32)


def stft_torch(audio: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """The torch twin of :func:`stft` for training: (..., samples) -> complex (..., bins, frames)."""
    import torch

    shape = audio.shape
    win = torch.hann_window(n_fft, device=audio.device)
    spec = torch.stft(audio.reshape(-1, shape[-1]), n_fft, hop, window=win, center=True, return_complex=True)
    return spec.reshape(*shape[:-1], *spec.shape[-2:])


def istft_torch(spec: torch.Tensor, n_fft: int, hop: int, length: int) -> torch.Tensor:
    """The torch twin of :func:`istft`: complex (..., bins, frames) -> (..., length)."""
    import torch

    shape = spec.shape
    win = torch.hann_window(n_fft, device=spec.device)
    out = torch.istft(spec.reshape(-1, *shape[-2:]), n_fft, hop, window=win, center=True, length=length)
    return out.reshape(*shape[:-2], length)
