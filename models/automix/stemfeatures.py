"""What the balance controller reads of each stem: a short vector of audio features, never the file name
(stems often arrive as "Track 03" or "stem_2"). Computed with numpy on the stem's analysis excerpt.

Per stem (2, n) at ``sr``, :data:`NAMES` in order:

* ``lufs``: integrated loudness (LUFS; -70 for silence);
* ``band_0`` .. ``band_8``: the share of energy in each octave band of
  :data:`models.automix.features.BAND_EDGES` (dB relative to the stem's whole);
* ``crest``: median peak-over-RMS of 3-second windows (dB);
* ``width``: side-to-mid energy ratio (dB, floored at -40);
* ``balance``: left-to-right energy ratio (dB);
* ``activity``: the share of 100 ms blocks within 30 dB of the stem's loudest;
* ``flux``: mean positive spectral flux per second, a drum-versus-sustained cue (log).
"""

from __future__ import annotations

import numpy as np

from models.automix.features import BAND_EDGES, mix_features
from models.platform.stft import stft

NAMES = (
    "lufs",
    *(f"band_{i}" for i in range(len(BAND_EDGES))),
    "crest",
    "width",
    "balance",
    "activity",
    "flux",
)


def stem_features(x: np.ndarray, sr: int) -> np.ndarray:
    """(channels, n) stem -> (len(NAMES),) float32 features (see the module docstring)."""
    x = np.atleast_2d(np.asarray(x, np.float32))
    f = mix_features(x, sr)
    mono = x.mean(0)
    block = max(1, sr // 10)
    blocks = mono[: mono.size // block * block].reshape(-1, block)
    rms_db = (
        10 * np.log10(np.mean(blocks.astype(np.float64) ** 2, axis=1) + 1e-12) if blocks.size else np.array([-120.0])
    )
    activity = float(np.mean(rms_db > rms_db.max() - 30.0)) if f.lufs > -70 else 0.0
    mag = np.abs(stft(mono[None], 1024, 512)[0])
    flux = np.maximum(np.diff(np.log(mag + 1e-5), axis=1), 0).sum(0)
    flux_rate = float(np.log1p(flux.mean() * sr / 512)) if flux.size else 0.0
    return np.array([f.lufs, *f.bands, f.crest, f.width, f.balance, activity, flux_rate], np.float32)
