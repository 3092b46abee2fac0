"""The console's differentiable twin in torch: the same stages as :mod:`engine.console` plays through the
engine's plugins, with the same formulas, so settings learned or searched here sound the same there
(``tests/models/test_automix_twin.py`` drives both with one set of settings and compares every stage).

* **EQ** (engine ``eq``, pedalboard/JUCE IIR filters): a first-order high-pass, a low shelf, two peaks and a
  high shelf with the coefficients JUCE computes (:mod:`engine.eqdesign`). Applied as the product of their
  frequency responses on an FFT padded by :data:`EQ_TAIL_SECONDS`, so it is exact up to the tail that the
  padding cuts (the recursive filters ring out far sooner at the parameters' ranges).
* **Compressor** (engine ``compressor``: JUCE ``dsp::Compressor`` then a makeup gain): per channel, the gain
  ``(env / threshold) ** (1 / ratio - 1)`` where the peak envelope ``env`` reaches the threshold. The
  envelope (:mod:`models.automix.envelope`) follows the stage's input without gradient; the gain is
  differentiable in threshold, ratio and makeup (attack and release are not learned by gradient).
* **Fader** (engine ``gain``): gain and balance pan (left ``g (1 - max(pan, 0))``, right ``g (1 + min(pan, 0))``).
* **Stereo width** (engine ``width``, on the master): the side ``(L - R) / 2`` scaled, the mid kept.
* **Limiter** (engine ``limiter``): a ``threshold`` 1000:1 compressor (1 us attack), the makeup
  ``-threshold`` dB and a hard clip at 0 dBFS.

Shapes: stems (tracks, 2, n) float; parameters per stage are tensors of shape (tracks,) (or scalars for the
master), by the plugins' own parameter names and units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

from engine.console import ConsoleSettings, defaults, is_neutral
from engine.eqdesign import eq_sections, response
from models.automix.envelope import peak_envelope

EQ_TAIL_SECONDS = 1.0
Params = Mapping[str, torch.Tensor]


def eq_response(p: Params, sr: float, n_fft: int) -> torch.Tensor:
    """The EQ's complex response at the ``n_fft // 2 + 1`` FFT bins: (tracks, f)."""
    w = torch.arange(n_fft // 2 + 1, dtype=p["low_db"].dtype) * (2 * math.pi / n_fft)
    z = torch.polar(torch.ones_like(w), -w)  # e^{-jw}
    out: torch.Tensor = response(eq_sections(p, sr, torch), z)
    return out


def eq(x: torch.Tensor, p: Params, sr: float) -> torch.Tensor:
    """(tracks, channels, n) -> the same shape through each track's EQ."""
    n = x.shape[-1]
    n_fft = 1 << math.ceil(math.log2(n + int(EQ_TAIL_SECONDS * sr)))
    spec = torch.fft.rfft(x, n_fft)
    out: torch.Tensor = torch.fft.irfft(spec * eq_response(p, sr, n_fft)[:, None, :], n_fft)[..., :n]
    return out


def compressor(x: torch.Tensor, p: Params, sr: float) -> torch.Tensor:
    """(tracks, channels, n) -> the same shape through each track's compressor and makeup gain."""
    level = x.detach().to(torch.float64).cpu().numpy()
    env = torch.stack(
        [
            torch.from_numpy(peak_envelope(level[k], float(p["attack_ms"][k]), float(p["release_ms"][k]), sr))
            for k in range(x.shape[0])
        ]
    ).to(x)
    threshold = torch.pow(10.0, p["threshold_db"] / 20.0)[:, None, None]
    over = env >= threshold
    exponent = (1.0 / p["ratio"] - 1.0)[:, None, None]
    ratio = torch.where(over, env, threshold) / threshold  # 1 below the threshold: gain 1, no NaN in grads
    gain = torch.exp(exponent * torch.log(ratio))
    makeup = torch.pow(10.0, p["makeup_db"] / 20.0)[:, None, None]
    return x * gain * makeup


def fader(x: torch.Tensor, gain_db: torch.Tensor, pan: torch.Tensor) -> torch.Tensor:
    """(tracks, 2, n) -> (tracks, 2, n): gain (dB) and balance pan, per track."""
    g = torch.pow(10.0, gain_db / 20.0)
    left = g * (1 - pan.clamp(min=0))
    right = g * (1 + pan.clamp(max=0))
    return x * torch.stack([left, right], -1)[:, :, None]


def width(x: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """(2, n) master -> (2, n) with its side signal scaled by ``amount`` (0 mono, 1 unchanged)."""
    mid, side = (x[0] + x[1]) / 2, (x[0] - x[1]) / 2 * amount
    return torch.stack([mid + side, mid - side])


def limiter(x: torch.Tensor, threshold_db: torch.Tensor, release_ms: float, sr: float) -> torch.Tensor:
    """(channels, n) master -> (channels, n) through the engine's limiter."""
    one = torch.ones((1,), dtype=x.dtype)
    stage = {
        "threshold_db": threshold_db.reshape(1), "ratio": 1000.0 * one, "attack_ms": 0.001 * one,
        "release_ms": release_ms * one, "makeup_db": 0.0 * one,
    }  # fmt: skip
    y = compressor(x[None], stage, sr)[0]
    out: torch.Tensor = (y * torch.pow(10.0, -threshold_db / 20.0)).clamp(-1.0, 1.0)
    return out


def stage_tensors(values: list[Mapping[str, float]], dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Per-track parameter dicts -> one (tracks,) tensor per parameter."""
    return {k: torch.tensor([float(v[k]) for v in values], dtype=dtype) for k in values[0]}


def mix(stems: torch.Tensor, settings: ConsoleSettings, sr: float) -> torch.Tensor:
    """Stereo stems (tracks, 2, n) through the whole console -> the master (2, n), as the engine's bounce
    of a project holding only these tracks with ``settings`` applied by :func:`engine.console.apply_console`
    (with neutral stages bypassed, its default)."""
    dtype = stems.dtype
    s = settings.strips
    y = eq(stems, stage_tensors([x.eq for x in s], dtype), sr)
    flat = torch.tensor([is_neutral("eq", x.eq) for x in s])[:, None, None]
    y = torch.where(flat, stems, y)  # the engine bypasses a neutral EQ (engine.console.is_neutral)
    y = compressor(y, stage_tensors([x.compressor for x in s], dtype), sr)
    y = fader(
        y,
        torch.tensor([x.gain_db for x in s], dtype=dtype),
        torch.tensor([x.pan for x in s], dtype=dtype),
    )
    master = y.sum(0)
    m = settings.master
    if m.width != 1.0:
        master = width(master, torch.tensor(m.width, dtype=dtype))
    master = compressor(master[None], stage_tensors([m.compressor], dtype), sr)[0]
    if m.limiter is not None:
        lim = defaults("limiter") | dict(m.limiter)
        master = limiter(master, torch.tensor(lim["threshold_db"], dtype=dtype), lim["release_ms"], sr)
    out: torch.Tensor = master * 10.0 ** (m.gain_db / 20.0)
    return out


def as_numpy(x: torch.Tensor) -> np.ndarray:
    out: np.ndarray = x.detach().cpu().numpy()
    return out
