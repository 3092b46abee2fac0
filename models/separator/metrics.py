"""Separation quality: the whole-clip SDR of the MDX challenges (the "new SDR" of Mitsufuji et al. 2021)."""

from __future__ import annotations

import numpy as np

EPS = 1e-7


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """10 log10(|s|^2 / |s - s_hat|^2) over the whole clip and all channels, in dB."""
    ref = np.asarray(reference, np.float64)
    est = np.asarray(estimate, np.float64)
    num = float(np.sum(ref**2)) + EPS
    den = float(np.sum((ref - est) ** 2)) + EPS
    return 10.0 * float(np.log10(num / den))


def sdr_per_stem(references: np.ndarray, estimates: np.ndarray) -> list[float]:
    """``references`` and ``estimates``: (stems, channels, samples)."""
    return [sdr(r, e) for r, e in zip(references, estimates, strict=True)]
