"""Reference mode: console settings whose mix matches a reference track's features (loudness, spectral
balance in bands, stereo width and balance, crest factor; :mod:`models.automix.features`), after the
reference-based mixing of Vanka et al. (Diff-MST, ISMIR 2024), searched without gradients and without torch:

1. **Tone and image** (per track gain, pan and four EQ offsets shared by every track: low shelf, both peaks,
   high shelf; and the master's stereo width): L-BFGS-B on a surrogate of the mix's band energies, the sum of
   each track's measured power spectra (left, right and their cross-spectrum) through its EQ's exact response
   (:mod:`engine.eqdesign`), its fader and the master's mid/side width. Tracks are taken as
   uncorrelated and their compressors as level-neutral; a penalty keeps the moves small.
2. **Loudness and dynamics** (master compressor threshold, limiter threshold and master gain): Nelder-Mead on
   the pre-master mix of the excerpt through the engine's own ``compressor`` and ``limiter`` plugins.
3. **The truth**: the excerpt is bounced through the engine with the start settings and with the result, and
   the feature distances to the reference before and after are what is reported.

Everything is measured on an analysis excerpt (the loudest :data:`EXCERPT_SECONDS` of the tracks); the
settings then apply to the whole song."""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.optimize

from engine.console import ConsoleSettings, MasterSettings, StripSettings, apply_console, clamp, defaults
from engine.eqdesign import eq_sections, response
from engine.errors import Cancelled, UserError
from engine.project import Project
from models.automix.features import BAND_EDGES, MixFeatures, crest_db, feature_distance, mix_features
from models.automix.practice import CENTRED_PAN_RANGE, CENTRED_ROLES, MASTER_CEILING_DB, STEM_PAN_RANGE
from models.automix.tracks import bounce, loudest_window, run_master, track_audio
from models.data.production import loudness
from models.platform.stft import stft

EXCERPT_SECONDS = 30.0
N_FFT = 4096
EQ_KEYS = ("low_db", "mid1_db", "mid2_db", "high_db")
MOVE_DB = 12.0  # the largest gain or EQ move reference mode makes from the start settings
EQ_MOVE_DB = 12.0  # the largest shared EQ offset: a stronger tone move would be a different mix, not a match
# The master's stereo width range searched: a mastering engineer's imager, mono up to half again as wide
# (much wider and the mono sum thins out).
WIDTH_RANGE = (0.0, 1.5)
MASTER_COMP = {"ratio": 2.0, "attack_ms": 10.0, "release_ms": 150.0, "makeup_db": 0.0}
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ReferenceMatch:
    """The settings found and what they did on the analysis excerpt."""

    settings: ConsoleSettings
    reference: MixFeatures
    before: MixFeatures
    after: MixFeatures
    distance_before: float
    distance_after: float
    excerpt: tuple[float, float]  # start and length, seconds

    def report(self) -> dict[str, object]:
        return {
            "distance_before": round(self.distance_before, 3),
            "distance_after": round(self.distance_after, 3),
            "reduction": round(1 - self.distance_after / max(self.distance_before, 1e-9), 3),
            "reference": self.reference.as_dict(),
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "excerpt_seconds": [round(x, 2) for x in self.excerpt],
        }


class _Surrogate:
    """Band energies of the mix for candidate faders and EQ offsets, from each track's power spectra."""

    def __init__(self, stems: list[np.ndarray], sr: int, start: ConsoleSettings) -> None:
        self.sr, self.start = sr, start
        self.pll, self.prr, self.plr = [], [], []
        for x in stems:
            s = stft(x.astype(np.float32), N_FFT, N_FFT // 2)  # (2, bins, frames)
            s = s.astype(np.complex128)  # float64 sums: the search differentiates them numerically
            self.pll.append(np.sum(np.abs(s[0]) ** 2, -1))
            self.prr.append(np.sum(np.abs(s[1]) ** 2, -1))
            self.plr.append(np.sum((s[0] * np.conj(s[1])).real, -1))
        freqs = np.arange(N_FFT // 2 + 1) * sr / N_FFT
        self.band = np.searchsorted(np.array([*BAND_EDGES[1:], np.inf]), freqs, side="right")
        self.band[freqs < BAND_EDGES[0]] = -1
        # Low end stays centred (mixing practice): a track's pan costs more the more of its energy is bass.
        low = freqs < 250.0
        self.low_share = np.array(
            [
                (p[low].sum() + q[low].sum()) / max(p.sum() + q.sum(), 1e-20)
                for p, q in zip(self.pll, self.prr, strict=True)
            ]
        )
        w = np.arange(N_FFT // 2 + 1) * 2 * math.pi / N_FFT
        self.z = np.exp(-1j * w)

    def settings(self, v: np.ndarray) -> ConsoleSettings:
        k = len(self.start.strips)
        gains, pans, eq, width = v[:k], v[k : 2 * k], v[2 * k : -1], float(v[-1])
        strips = []
        for i, s in enumerate(self.start.strips):
            e = dict(s.eq)
            for key, d in zip(EQ_KEYS, eq, strict=True):
                e[key] = e[key] + float(d)
            strips.append(
                StripSettings(s.gain_db + float(gains[i]), float(pans[i]), clamp("eq", e), dict(s.compressor))
            )
        return ConsoleSettings(strips, dataclasses.replace(copy.deepcopy(self.start.master), width=width))

    def features(self, v: np.ndarray) -> tuple[np.ndarray, float, float]:
        """(band shares in dB, width dB, balance dB) of the mix under parameter vector ``v``."""
        cs = self.settings(v)
        mid = np.zeros_like(self.pll[0])
        side = np.zeros_like(mid)
        diff = 0.0  # sum of |L|^2 - |R|^2: with the width w, |L'|^2 = |M|^2 + w^2 |S|^2 + w (|L|^2 - |R|^2) / 2
        for i, s in enumerate(cs.strips):
            h2 = np.abs(response(eq_sections(s.eq, self.sr, np), self.z)) ** 2
            g = 10 ** (s.gain_db / 20)
            gl, gr = g * (1 - max(s.pan, 0.0)), g * (1 + min(s.pan, 0.0))
            ll, rr, lr = gl * gl * self.pll[i], gr * gr * self.prr[i], gl * gr * self.plr[i]
            mid += h2 * (ll + rr + 2 * lr) / 4
            side += h2 * (ll + rr - 2 * lr) / 4
            diff += float(np.sum(h2 * (ll - rr)))
        w = cs.master.width
        m, sd = float(mid.sum()), float(side.sum())
        left, right = m + w * w * sd + w * diff / 2, m + w * w * sd - w * diff / 2
        bands = np.array([mid[self.band == b].sum() for b in range(len(BAND_EDGES))])
        shares = 10 * np.log10(np.maximum(bands / max(bands.sum(), 1e-20), 1e-8))
        width = 10 * np.log10(max(w * w * sd / max(m, 1e-20), 1e-4))
        balance = 10 * np.log10(max(left, 1e-20) / max(right, 1e-20))
        return shares, float(width), float(balance)


def _soft_abs(d: np.ndarray | float) -> np.ndarray | float:
    """|d| rounded off within about 0.5 dB of zero (pseudo-Huber): the reported distance's absolute values
    with a gradient that does not flip at the kink, where the quasi-Newton line search otherwise stalls far
    from the optimum."""
    return np.sqrt(np.square(d) + 0.25) - 0.5


def _tone_and_image(
    sur: _Surrogate, ref: MixFeatures, roles: Sequence[str], cancel: threading.Event | None
) -> ConsoleSettings:
    """Faders, pans, shared EQ offsets and the master's width by L-BFGS-B on the surrogate. Bass, drums and
    vocals keep their pan within CENTRED_PAN_RANGE (the width widens or narrows the image around them); tracks
    the balance left alone (silent, or sounding under a second) stay put."""
    k = len(sur.start.strips)
    pans = [s.pan for s in sur.start.strips]
    x0 = np.concatenate([np.zeros(k), pans, np.zeros(len(EQ_KEYS)), [sur.start.master.width]])
    still = [r in ("silent", "short") for r in roles]
    gain_bounds = [(0.0, 0.0) if f else (-MOVE_DB, MOVE_DB) for f in still]
    pan_bounds = [
        (p, p) if f
        else (max(-1.0, p - CENTRED_PAN_RANGE), min(1.0, p + CENTRED_PAN_RANGE)) if r in CENTRED_ROLES
        else (max(-1.0, p - STEM_PAN_RANGE), min(1.0, p + STEM_PAN_RANGE))
        for p, r, f in zip(pans, roles, still, strict=True)
    ]  # fmt: skip
    bounds = gain_bounds + pan_bounds + [(-EQ_MOVE_DB, EQ_MOVE_DB)] * len(EQ_KEYS) + [WIDTH_RANGE]
    target = np.array(ref.bands)

    def loss(v: np.ndarray) -> float:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        shares, width, balance = sur.features(v)
        err = np.mean(_soft_abs(shares - target))
        err += 0.5 * _soft_abs(width - ref.width) + 0.5 * _soft_abs(balance - ref.balance)
        moves = np.concatenate([v[:k], v[2 * k : -1]])
        pan_cost = (0.1 + 4.0 * sur.low_share) * (v[k : 2 * k] - x0[k : 2 * k]) ** 2
        return float(err + 0.01 * np.mean(moves**2) + np.mean(pan_cost))

    res = scipy.optimize.minimize(loss, x0, method="L-BFGS-B", bounds=bounds, options={"maxiter": 150, "eps": 1e-4})
    return sur.settings(res.x)


def _master_stage(pre: np.ndarray, sr: int, ref: MixFeatures, cancel: threading.Event | None) -> MasterSettings:
    def run(v: np.ndarray) -> tuple[np.ndarray, MasterSettings]:
        comp = clamp("compressor", defaults("compressor") | MASTER_COMP | {"threshold_db": float(v[0])})
        lim = clamp("limiter", defaults("limiter") | {"threshold_db": float(v[1])})
        master = MasterSettings(comp, lim, float(np.clip(v[2], -24.0, MASTER_CEILING_DB)))
        return run_master(pre, master, sr), master

    def loss(v: np.ndarray) -> float:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        y, _ = run(v)
        return abs(loudness(y, sr) - ref.lufs) + abs(crest_db(y, sr) - ref.crest)

    res = scipy.optimize.minimize(
        loss,
        np.array([-12.0, -6.0, MASTER_CEILING_DB]),
        method="Nelder-Mead",
        options={"maxfev": 60, "xatol": 0.2, "fatol": 0.05},
    )
    return run(res.x)[1]


def match_reference(
    project: Project,
    reference: np.ndarray,
    reference_rate: int,
    tracks: Sequence[int] | None = None,
    start: ConsoleSettings | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    roles: Sequence[str] | None = None,
) -> ReferenceMatch:
    """Search console settings for ``tracks`` of ``project`` (default all) whose mix matches the (channels,
    n) ``reference`` at ``reference_rate``; ``start`` (default neutral) is where the search starts and the
    "before" of the report. Tracks whose ``roles`` are mixed in the centre (bass, drums, lead vocal) keep
    their pan within :data:`CENTRED_PAN_RANGE`, whatever the reference's balance; silent and short ones
    keep their fader and pan. Raises :class:`UserError`
    for no tracks, a reference under 3 s or a silent one, :class:`Cancelled` when ``cancel`` is set."""
    idx = list(range(len(project.tracks))) if tracks is None else list(tracks)
    if not idx:
        raise UserError("reference matching needs at least one track")
    if reference.shape[-1] < 3 * reference_rate:
        raise UserError("the reference is shorter than 3 seconds")
    start = start or ConsoleSettings.neutral(len(idx))
    say = progress or (lambda f, s: None)
    sr = project.sample_rate
    ref = mix_features(reference, reference_rate)
    if ref.lufs <= -70.0:
        raise UserError("the reference is silent")
    say(0.05, "reading tracks")
    full = track_audio(project, idx, lambda f: say(0.05 + 0.25 * f, "reading tracks"), cancel)
    s0, win = loudest_window(full, sr, EXCERPT_SECONDS)
    stems = [x[:, s0 : s0 + win] for x in full]
    say(0.35, "matching tone and image")
    tone = _tone_and_image(_Surrogate(stems, sr, start), ref, list(roles or ["other"] * len(idx)), cancel)
    sub = copy.deepcopy(project)  # the chosen tracks alone, their buses kept, heard whatever their mute or solo
    sub.tracks = [sub.tracks[i] for i in idx]
    for t in sub.tracks:
        t.mute = t.solo = False
    pre = bounce(apply_console(sub, ConsoleSettings(tone.strips, MasterSettings(width=tone.master.width))), s0, win)
    say(0.6, "matching loudness and dynamics")
    master = dataclasses.replace(_master_stage(pre, sr, ref, cancel), width=tone.master.width)
    result = ConsoleSettings(tone.strips, master)
    say(0.85, "checking the result")
    before = mix_features(bounce(apply_console(sub, start), s0, win), sr)
    after = mix_features(bounce(apply_console(sub, result), s0, win), sr)
    say(1.0, "done")
    return ReferenceMatch(
        result, ref, before, after, feature_distance(before, ref), feature_distance(after, ref), (s0 / sr, win / sr)
    )
