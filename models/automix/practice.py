"""The reference mix the balance controller learns to reach: measured mixing practice, not the renderer's
random levels. Sources (the card lists them with what was read first-hand and what through quotes):

* **Relative loudness per role** (De Man, Leonard, King and Reiss, "An analysis and evaluation of audio
  features for multitrack music mixtures", ISMIR 2014; eight songs, each mixed by eight engineers): lead
  vocal -2.7 +/- 1.6 LU below the mix, bass -9.5 +/- 3.5 LU, kick -13.2, snare -16.8 and other drums -12.7 LU
  (together -9.1 LU for a drum stem). Gerdes and Siedenburg (JASA Express Letters 3(4), 2023) measure the
  lead vocal about 1 dB above the accompaniment in popular music since the 1970s, the same figure seen from
  the other side. "Other" takes the rest of the mix's loudness (-6.4 LU, uncorrelated sources adding in
  power).
* **Panning**: every stem keeps its own stereo image, so the rendered bass, kick and lead vocal stay
  centred (De Man et al. 2014 find only bass more central than the mix in the lowest band); the targets
  undo the perturbing pan.
* **Master loudness**: commercial masters sit between about -14 and -8 LUFS integrated; the reference is
  mastered to :data:`MASTER_LUFS` with the console's limiter.

Role offsets are drawn per song within the measured spread (``jitter``), so the target is a distribution
of professional balances, not one fixed recipe."""

from __future__ import annotations

import numpy as np

ROLES = ("drums", "bass", "vocals", "other")
# Loudness of each role relative to the full mix (LU) and its measured spread (De Man et al. 2014).
ROLE_LU = {"drums": -9.1, "bass": -9.5, "vocals": -2.7, "other": -6.4}
ROLE_SPREAD = {"drums": 3.0, "bass": 3.5, "vocals": 1.6, "other": 3.0}
MASTER_LUFS = -11.0
# The master's peak ceiling (dBFS, sample peak), the master fader after the limiter: masters for streaming
# keep -1 dB true-peak headroom (AES TD1004.1.15-10, Spotify's and Apple's delivery specs), and a limiter
# holding sample peaks at 0 dBFS lets inter-sample peaks over full scale (a new user measured +0.3 dBTP).
MASTER_CEILING_DB = -1.0
# Roles mixed in the centre (bass, kick and snare, lead vocal): reference matching moves them at most this far
# from where they start, whatever the reference's left-right balance.
CENTRED_ROLES = ("drums", "bass", "vocals")
CENTRED_PAN_RANGE = 0.1
# Any other stem (a group: keys, guitars, strings) keeps its own image and moves at most this far: a whole
# stem panned hard to one side was how reference matching once chased a very wide reference.
STEM_PAN_RANGE = 0.5


def role_targets(roles: list[str], rng: np.random.Generator | None = None, jitter: float = 0.5) -> np.ndarray:
    """Target loudness (LU relative to the mix) per stem. Several stems of one role share its loudness
    (each gets the role's power split evenly). With ``rng``, each role's offset is drawn within ``jitter``
    times its measured spread."""
    out = np.zeros(len(roles), np.float64)
    for role in sorted(set(roles), key=ROLES.index):  # a fixed order: the draws must not follow hashing
        idx = [i for i, r in enumerate(roles) if r == role]
        lu = ROLE_LU[role]
        if rng is not None:
            lu += float(rng.normal(0.0, jitter * ROLE_SPREAD[role]))
        out[idx] = lu - 10 * np.log10(len(idx))
    return out
