"""What a mix is compared by: the audio features a mastering engineer reads off a reference (the feature
set of Vanka et al.'s Diff-MST, ISMIR 2024, and of Steinmetz et al., arXiv 2010.10291), and the
multi-resolution STFT distance the evaluation reports.

Features of a stereo mix (2, n) at ``sr``:

* ``lufs``: integrated loudness (ITU-R BS.1770, pyloudnorm), LUFS;
* ``bands``: the share of the mid signal's energy in each of :data:`BAND_EDGES`' bands, dB relative to
  the whole (so it reads spectral balance apart from level);
* ``width``: side-to-mid energy ratio, dB (-inf for mono; floored at -40);
* ``balance``: left-to-right energy ratio, dB;
* ``crest``: median over 3-second windows of peak over RMS, dB (dynamics: a limited master reads low).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from models.data.production import loudness
from models.platform.stft import stft

# Lower edges of octave-wide bands from 20 Hz (a mastering analyser's resolution); the last, from 8 kHz,
# runs to the Nyquist frequency.
BAND_EDGES = (20.0, 60.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
FLOOR_DB = -40.0
CREST_WINDOW_S = 3.0
# Distance weights: 1 dB of loudness counts as 1 dB of band balance averaged over the bands, as half a dB
# of width or balance and as 1 dB of crest.
WEIGHTS = {"lufs": 1.0, "bands": 1.0, "width": 0.5, "balance": 0.5, "crest": 1.0}
MRSTFT_FFTS = (2048, 1024, 512, 256)


@dataclass(frozen=True)
class MixFeatures:
    lufs: float
    bands: tuple[float, ...]
    width: float
    balance: float
    crest: float

    def as_dict(self) -> dict[str, float | list[float]]:
        return {
            "lufs": round(self.lufs, 3),
            "bands": [round(b, 3) for b in self.bands],
            "width": round(self.width, 3),
            "balance": round(self.balance, 3),
            "crest": round(self.crest, 3),
        }


def _db(x: float) -> float:
    return float(max(FLOOR_DB * 2, 10 * np.log10(max(x, 1e-20))))


def band_energies(mono: np.ndarray, sr: int) -> np.ndarray:
    """(n,) -> energy per :data:`BAND_EDGES` band (linear, from a 4096-point power spectrum)."""
    spec = np.abs(stft(mono[None].astype(np.float32), 4096, 2048)[0]) ** 2  # (bins, frames)
    power = spec.sum(1)
    freqs = np.arange(power.shape[0]) * sr / 4096
    edges = [*BAND_EDGES, sr / 2 + 1]
    return np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in itertools.pairwise(edges)])


def mix_features(x: np.ndarray, sr: int) -> MixFeatures:
    """Features of a (2, n) (or mono (1, n)) mix; see the module docstring."""
    x = np.atleast_2d(np.asarray(x, np.float64))
    if x.shape[0] == 1:
        x = np.repeat(x, 2, 0)
    mid, side = (x[0] + x[1]) / 2, (x[0] - x[1]) / 2
    e = band_energies(mid, sr)
    bands = tuple(_db(b / max(e.sum(), 1e-20)) for b in e)
    width = max(FLOOR_DB, _db(float(np.sum(side**2)) / max(float(np.sum(mid**2)), 1e-20)))
    left, right = float(np.sum(x[0] ** 2)), float(np.sum(x[1] ** 2))
    balance = _db(left / right) if min(left, right) > 1e-12 else 0.0  # silence (or one dead side) reads centred
    return MixFeatures(loudness(x, sr), bands, width, balance, crest_db(x, sr))


def crest_db(x: np.ndarray, sr: int) -> float:
    """Median over :data:`CREST_WINDOW_S` windows of peak over RMS (dB) of a (channels, n) mix; silent
    windows (under -80 dBFS RMS) are skipped, and all-silent audio reads 0."""
    win = int(CREST_WINDOW_S * sr)
    crests = []
    for i in range(0, max(1, x.shape[1] - win + 1), win):
        seg = x[:, i : i + win]
        rms = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64))))
        if rms > 1e-4:
            crests.append(20 * np.log10(float(np.abs(seg).max()) / rms))
    return float(np.median(crests)) if crests else 0.0


def feature_distance(a: MixFeatures, b: MixFeatures) -> float:
    """Weighted mean absolute difference in dB (:data:`WEIGHTS`), the figure reference mode halves."""
    parts = {
        "lufs": abs(a.lufs - b.lufs),
        "bands": float(np.mean(np.abs(np.subtract(a.bands, b.bands)))),
        "width": abs(a.width - b.width),
        "balance": abs(a.balance - b.balance),
        "crest": abs(a.crest - b.crest),
    }
    return float(sum(WEIGHTS[k] * v for k, v in parts.items()) / sum(WEIGHTS.values()))


def mrstft_distance(estimate: np.ndarray, reference: np.ndarray, sr: int) -> float:
    """Multi-resolution STFT distance (spectral convergence plus log-magnitude L1, averaged over
    :data:`MRSTFT_FFTS`, hop a quarter) between two (channels, n) mixes, after scaling ``estimate`` to the
    reference's integrated loudness, so it compares balance and tone, not level."""
    est = np.atleast_2d(np.asarray(estimate, np.float32))
    ref = np.atleast_2d(np.asarray(reference, np.float32))
    n = min(est.shape[-1], ref.shape[-1])
    est, ref = est[:, :n], ref[:, :n]
    gain = 10 ** ((loudness(ref, sr) - loudness(est, sr)) / 20)
    est = est * np.float32(gain)
    total = 0.0
    for n_fft in MRSTFT_FFTS:
        a = np.abs(stft(est, n_fft, n_fft // 4))
        b = np.abs(stft(ref, n_fft, n_fft // 4))
        sc = float(np.linalg.norm(b - a) / max(float(np.linalg.norm(b)), 1e-9))
        mag = float(np.mean(np.abs(np.log(b + 1e-7) - np.log(a + 1e-7))))
        total += sc + mag
    return total / len(MRSTFT_FFTS)
