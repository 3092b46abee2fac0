"""The EQ's filter design, written once for numpy and torch (``xp`` is either module): the coefficients
JUCE computes for these filters (``juce::dsp::IIR::Coefficients``), as (b, a) sections, and their frequency
response. The engine's ``eq`` plugin (:mod:`engine.plugins.builtin`) runs them; the auto-mixer's twin
(``models.automix.twin``) filters with them in torch, and its reference mode reads band gains from them in
numpy, so all three hear the same EQ.

Sections, in order: first-order high-pass (``makeFirstOrderHighPass``), low shelf, two peaks, high shelf
(``makeLowShelf``, ``makePeakFilter``, ``makeHighShelf``: the RBJ cookbook, shelves at Q = 1/sqrt(2))."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

SHELF_Q = 1.0 / math.sqrt(2.0)
NYQUIST_SAFE = 0.45  # the engine's EQ keeps every corner below 0.45 x the sample rate
Section = tuple[list[Any], list[Any]]


def _corner(hz: Any, sr: float, xp: Any) -> Any:
    return 2 * math.pi * xp.clip(hz, 2.0, NYQUIST_SAFE * sr) / sr


def _shelf(hz: Any, db: Any, sr: float, high: bool, xp: Any) -> Section:
    a_ = 10.0 ** (db / 40.0)  # the square root of the linear gain
    w = _corner(hz, sr, xp)
    cos, beta = xp.cos(w), xp.sin(w) * xp.sqrt(a_) / SHELF_Q
    am, ap = a_ - 1, a_ + 1
    if high:
        return (
            [a_ * (ap + am * cos + beta), -2 * a_ * (am + ap * cos), a_ * (ap + am * cos - beta)],
            [ap - am * cos + beta, 2 * (am - ap * cos), ap - am * cos - beta],
        )
    return (
        [a_ * (ap - am * cos + beta), 2 * a_ * (am - ap * cos), a_ * (ap - am * cos - beta)],
        [ap + am * cos + beta, -2 * (am + ap * cos), ap + am * cos - beta],
    )


def _peak(hz: Any, db: Any, q: Any, sr: float, xp: Any) -> Section:
    a_ = 10.0 ** (db / 40.0)
    w = _corner(hz, sr, xp)
    alpha = xp.sin(w) / (2 * q)
    c2 = -2 * xp.cos(w)
    return [1 + alpha * a_, c2, 1 - alpha * a_], [1 + alpha / a_, c2, 1 - alpha / a_]


def eq_sections(p: Mapping[str, Any], sr: float, xp: Any) -> list[Section]:
    """The EQ's sections for parameters ``p`` (the ``eq`` plugin's names; scalars or (tracks,) arrays)."""
    n = xp.tan(math.pi * xp.clip(p["highpass_hz"], None, NYQUIST_SAFE * sr) / sr)
    return [
        ([n * 0 + 1, n * 0 - 1], [n + 1, n - 1]),
        _shelf(p["low_hz"], p["low_db"], sr, False, xp),
        _peak(p["mid1_hz"], p["mid1_db"], p["mid1_q"], sr, xp),
        _peak(p["mid2_hz"], p["mid2_db"], p["mid2_q"], sr, xp),
        _shelf(p["high_hz"], p["high_db"], sr, True, xp),
    ]


def response(sections: list[Section], z: Any) -> Any:
    """The product of the sections' responses at ``z = exp(-j w)`` (f,): (tracks, f), or (f,) for scalars.
    Coefficients of shape (tracks,) broadcast against z as (tracks, 1)."""
    h = None
    for b, a in sections:
        num = sum(bk[..., None] * z**k if hasattr(bk, "shape") and bk.ndim else bk * z**k for k, bk in enumerate(b))
        den = sum(ak[..., None] * z**k if hasattr(ak, "shape") and ak.ndim else ak * z**k for k, ak in enumerate(a))
        h = num / den if h is None else h * (num / den)
    return h


def eq_coefficients(p: Mapping[str, float], sr: float) -> Any:
    """The sections for scalar parameters ``p`` as a (5, 5) float32 array of normalised ``(b0, b1, b2, a1,
    a2)`` rows, what :func:`engine.dsp.iir` runs (the first-order high-pass with ``b2 = a2 = 0``)."""
    import numpy as np

    rows = []
    for b, a in eq_sections(p, sr, np):
        b3 = [float(v) for v in b] + [0.0] * (3 - len(b))
        a3 = [float(v) for v in a] + [0.0] * (3 - len(a))
        rows.append([b3[0] / a3[0], b3[1] / a3[0], b3[2] / a3[0], a3[1] / a3[0], a3[2] / a3[0]])
    return np.array(rows, np.float32)
