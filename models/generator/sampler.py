"""Step-by-step generation and scoring with the exported step model (onnxruntime, no torch).

The ONNX graph runs one step with the LSTM state as input and output; attention over earlier bars
(weights from the template, see ``attention.py``), the conditions, and sampling happen here in numpy.
Pieces are generated in batches (the evaluation generates a whole test set at once).

Sampling keeps density and variety apart: each part's onset probability and note lengths are taken from
the model as they are (onsets scaled only by the part's density control), while the temperature acts on
*which* pitch is played (tempering the lengths too made low temperatures write 16th notes and so more
of them); for the accompaniment's independent per-pitch onsets the tempered probabilities are shifted so
their expected count stays the model's. Top-p trims unlikely pitches and lengths. Masks enforce the key's
scale and the section roles (no melody in instrumental sections), and bars the variation control repeats
are copied exactly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import Cancelled, UserError
from models.generator import FORMAT
from models.generator.attention import bar_attention
from models.generator.codec import (
    ACC_LO,
    ACC_N,
    BASS_LO,
    BASS_N,
    DURATIONS,
    EVENTS,
    FRAME_DIM,
    MEL_LO,
    MEL_N,
    STEPS_PER_BAR,
    Grid,
    derive_state,
    encode,
)
from models.generator.conditions import COND_DIM, Conditions
from models.platform.onnx import OnnxModel
from models.platform.registry import resolve_model

PARTS = ("mel", "bass", "acc")


@dataclass
class Plan:
    """What to generate for one piece: its template and conditions, and optionally events to keep."""

    template: np.ndarray
    cond: Conditions
    keep: Grid | None = None  # events to keep (primer or bars not being regenerated)
    keep_mask: np.ndarray | None = None  # (steps,) bool: True where ``keep`` is used
    copy_from: np.ndarray | None = None  # (bars,) int: copy that earlier bar's events exactly, -1 to sample
    pitch_classes: np.ndarray | None = None  # (12,) bool: allowed pitch classes (the key's scale); None: all


@dataclass
class Sampling:
    """Sampling controls: ``temperature`` and ``top_p`` change variety (which pitch; top-p also trims unlikely
    lengths), not how many notes; ``density`` scales each part's onset odds (``mel``, ``bass``, ``acc``;
    1 = as learned)."""

    temperature: float = 1.0
    top_p: float = 0.95
    density: dict[str, float] = field(default_factory=dict)

    def check(self) -> None:
        if not (0.05 <= self.temperature <= 5.0) or not np.isfinite(self.temperature):
            raise UserError(f"temperature must be between 0.05 and 5, got {self.temperature}")
        if not 0.05 <= self.top_p <= 1.0:
            raise UserError(f"top-p must be between 0.05 and 1, got {self.top_p}")
        for k, v in self.density.items():
            if k not in PARTS:
                raise UserError(f"unknown part {k!r} for density: use melody, bass or acc")
            if not 0.0 <= v <= 4.0:
                raise UserError(f"density of {k} must be between 0 and 4, got {v}")


def _softmax(x: np.ndarray) -> np.ndarray:
    y = np.exp(x - x.max(axis=-1, keepdims=True))
    return np.asarray(y / y.sum(axis=-1, keepdims=True))


def _log_softmax(x: np.ndarray) -> np.ndarray:
    y = x - x.max(axis=-1, keepdims=True)
    return np.asarray(y - np.log(np.exp(y).sum(axis=-1, keepdims=True)))


def _sample(logits: np.ndarray, rng: np.random.Generator, top_p: float = 1.0) -> np.ndarray:
    """Sample the last axis of (B, K) logits (``-inf`` allowed), keeping the smallest set of classes
    whose probability reaches ``top_p`` (nucleus sampling, Holtzman et al. 2020)."""
    p = _softmax(logits)
    if top_p < 1.0:
        order = np.argsort(-p, axis=-1)
        ps = np.take_along_axis(p, order, axis=-1)
        keep_sorted = np.cumsum(ps, axis=-1) - ps < top_p
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        p = np.where(keep, p, 0.0)
        p /= p.sum(axis=-1, keepdims=True)
    c = np.cumsum(p, axis=-1)
    u = rng.random((p.shape[0], 1)) * c[:, -1:]  # scaled by the total: rounding never picks a masked last class
    return np.asarray(np.minimum((c <= u).sum(axis=-1), p.shape[1] - 1))


def _scale_odds(p: np.ndarray, d: float) -> np.ndarray:
    return np.asarray(d * p / np.maximum(1e-12, 1.0 - p + d * p)) if d != 1.0 else p


def _tempered_bernoulli(logits: np.ndarray, allowed: np.ndarray, temperature: float, density: float) -> np.ndarray:
    """Per-pitch onset probabilities: tempered logits shifted so that the expected number of onsets among
    the allowed pitches equals the model's own (times ``density``). The shift is found by bisection."""
    if density <= 0.0:
        return np.zeros_like(logits)
    target = (1.0 / (1.0 + np.exp(-logits))).sum(axis=-1, keepdims=True) * density
    target = np.minimum(target, allowed.sum(axis=-1, keepdims=True) * 0.95)
    e = np.where(allowed, np.exp(-np.clip(logits / temperature, -30.0, 30.0)), np.inf)  # sigmoid(z+b) = 1/(1+e*exp(-b))
    lo = np.full(target.shape, -30.0)
    hi = np.full(target.shape, 30.0)
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        s = (1.0 / (1.0 + e * np.exp(-mid))).sum(axis=-1, keepdims=True)
        below = s < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.asarray(1.0 / (1.0 + e * np.exp(-0.5 * (lo + hi))))


class StructuredGenerator:
    """A shipped generator model ('sing', 'lstm' or a model folder) ready to generate and score."""

    def __init__(self, model: str | os.PathLike[str] = "sing", threads: int = 1) -> None:
        self.dir = resolve_model(model, "generator")
        self.model = OnnxModel(self.dir / "model.onnx", threads=threads, formats=(FORMAT,))
        cfg = self.model.meta["config"]
        self.beta = float(cfg["beta"])
        self.null_score = float(cfg["null_score"])
        self.layers = int(cfg["layers"])
        self.hidden = int(cfg["hidden"])
        self.attention = bool(cfg["attention"])
        self.name = str(self.model.meta["name"])
        codec = self.model.meta["codec"]
        if codec.get("frame_dim") != FRAME_DIM or codec.get("cond_dim") != COND_DIM:
            raise UserError(f"model {self.name}: its codec does not match this version of Refrain")

    # -- generation ---------------------------------------------------------------------------------
    def generate(
        self,
        plans: list[Plan],
        seed: int = 0,
        sampling: Sampling | None = None,
        progress: Callable[[float], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[Grid]:
        """Generate one piece per plan (all in one batch); each has its template's number of bars."""
        if not plans:
            return []
        sp = sampling or Sampling()
        sp.check()
        rng = np.random.default_rng(seed)
        B = len(plans)
        bars = [p.template.shape[0] for p in plans]
        nmax = max(bars)
        T = nmax * STEPS_PER_BAR
        run = _Stepper(self, plans)
        ev = {k: np.zeros((B, T, ACC_N) if k == "acc" else (B, T), bool if k == "acc" else np.int64) for k in EVENTS}
        enc = np.zeros((B, T, FRAME_DIM), np.float32)
        keep_mask = np.zeros((B, T), bool)
        copy_from = np.full((B, nmax), -1, np.int64)
        melody_on = np.zeros((B, nmax), bool)
        allowed_pc = np.ones((B, 12), bool)
        for b, p in enumerate(plans):
            if p.keep is not None and p.keep_mask is not None:
                n = min(T, p.keep.steps, p.keep_mask.shape[0])
                keep_mask[b, :n] = p.keep_mask[:n]
                for k in EVENTS:
                    ev[k][b, :n] = getattr(p.keep, k)[:n]
            if p.copy_from is not None:
                copy_from[b, : bars[b]] = p.copy_from
            melody_on[b, : bars[b]] = p.cond.layout.melody_on
            if p.pitch_classes is not None:
                allowed_pc[b] = p.pitch_classes
        allow = {
            "mel": allowed_pc[:, (MEL_LO + np.arange(MEL_N)) % 12],
            "bass": allowed_pc[:, (BASS_LO + np.arange(BASS_N)) % 12],
            "acc": allowed_pc[:, (ACC_LO + np.arange(ACC_N)) % 12],
        }
        state = _State(B)
        inv_t = 1.0 / sp.temperature
        dens = {k: float(sp.density.get(k, 1.0)) for k in PARTS}
        prev = np.zeros((B, FRAME_DIM), np.float32)
        last_report = time.monotonic()
        for t in range(T):
            i, pos = divmod(t, STEPS_PER_BAR)
            out = run.step(t, enc, prev)
            for part in ("mel", "bass"):
                lg = out[part].astype(np.float64)
                p_on = _scale_odds(1.0 - _softmax(lg)[:, 0], dens[part])
                if part == "mel":
                    p_on = np.where(melody_on[:, i], p_on, 0.0)
                pitch_logits = np.where(allow[part], lg[:, 1:] * inv_t, -np.inf)
                p_on = np.where(allow[part].any(axis=1), p_on, 0.0)
                pk = _sample(np.where(allow[part].any(axis=1, keepdims=True), pitch_logits, 0.0), rng, sp.top_p)
                ev[part][:, t] = np.where(rng.random(B) < p_on, pk + 1, 0)
                ev[f"{part}_dur"][:, t] = _sample(out[f"{part}_dur"], rng, sp.top_p)
                ev[f"{part}_vel"][:, t] = _sample(out[f"{part}_vel"].astype(np.float64), rng)
            q = _tempered_bernoulli(out["acc"].astype(np.float64), allow["acc"], sp.temperature, dens["acc"])
            ev["acc"][:, t] = rng.random(q.shape) < q
            ev["acc_dur"][:, t] = _sample(out["acc_dur"], rng, sp.top_p)
            ev["acc_vel"][:, t] = _sample(out["acc_vel"].astype(np.float64), rng)
            src = copy_from[:, i]
            for b in np.nonzero(src >= 0)[0].tolist():
                for k in EVENTS:
                    ev[k][b, t] = ev[k][b, src[b] * STEPS_PER_BAR + pos]
            for b in np.nonzero(keep_mask[:, t])[0].tolist():
                for k in EVENTS:
                    ev[k][b, t] = getattr(plans[b].keep, k)[t]
            enc[:, t] = state.advance(t, {k: v[:, t] for k, v in ev.items()})
            prev = enc[:, t]
            if (t + 1) % STEPS_PER_BAR == 0:
                if cancel is not None and cancel():
                    raise Cancelled()
                now = time.monotonic()
                if progress is not None and (now - last_report > 0.1 or t + 1 == T):
                    progress((t + 1) / T)
                    last_report = now
        if progress is not None:
            progress(1.0)
        grids = []
        for b in range(B):
            n = bars[b] * STEPS_PER_BAR
            g = Grid.empty(n)
            for k in EVENTS:
                setattr(g, k, ev[k][b, :n].copy())
            derive_state(g)
            grids.append(g)
        return grids

    # -- scoring --------------------------------------------------------------------------------------
    def event_nll(self, grids: list[Grid], plans: list[Plan]) -> dict[str, float]:
        """Teacher-forced NLL per frame (nats) of the note events: onsets of each part (the accompaniment's
        summed over pitches) and durations at onsets; ``total`` is their sum."""
        B = len(grids)
        T = max(g.steps for g in grids)
        enc = np.zeros((B, T, FRAME_DIM), np.float32)
        mask = np.zeros((B, T), bool)
        ev = {k: np.zeros((B, T, ACC_N) if k == "acc" else (B, T), np.int64) for k in EVENTS}
        for b, g in enumerate(grids):
            enc[b, : g.steps] = encode(g)
            mask[b, : g.steps] = True
            for k in EVENTS:
                ev[k][b, : g.steps] = getattr(g, k)
        run = _Stepper(self, plans)
        tot = {k: 0.0 for k in ("mel", "bass", "acc", "mel_dur", "bass_dur", "acc_dur")}
        rows = np.arange(B)
        prev = np.zeros((B, FRAME_DIM), np.float32)
        for t in range(T):
            out = run.step(t, enc, prev)
            m = mask[:, t]
            for part in ("mel", "bass"):
                lp = _log_softmax(out[part].astype(np.float64))
                tot[part] -= float(lp[rows, ev[part][:, t]][m].sum())
                on = m & (ev[part][:, t] > 0)
                ld = _log_softmax(out[f"{part}_dur"].astype(np.float64))
                tot[f"{part}_dur"] -= float(ld[rows, ev[f"{part}_dur"][:, t]][on].sum())
            la = out["acc"].astype(np.float64)
            y = ev["acc"][:, t]
            bce = np.logaddexp(0.0, la) - y * la
            tot["acc"] += float(bce.sum(axis=1)[m].sum())
            on = m & (y.sum(axis=1) > 0)
            ld = _log_softmax(out["acc_dur"].astype(np.float64))
            tot["acc_dur"] -= float(ld[rows, ev["acc_dur"][:, t]][on].sum())
            prev = enc[:, t]
        frames = float(mask.sum())
        res = {k: v / frames for k, v in tot.items()}
        res["total"] = sum(res.values())
        return res


def load(folder: Path, threads: int) -> StructuredGenerator:
    """The family's loader (see :mod:`models.platform.registry`)."""
    return StructuredGenerator(folder, threads)


class _State:
    """Sounding state of a batch during generation (as ``codec.derive_state`` computes it for a grid)."""

    def __init__(self, B: int) -> None:
        self.end = {p: np.zeros(B, np.int64) for p in ("mel", "bass")}
        self.last = {p: np.full(B, -1, np.int64) for p in ("mel", "bass")}
        self.acc_end = np.zeros((B, ACC_N), np.int64)

    def advance(self, t: int, e: dict[str, np.ndarray]) -> np.ndarray:
        """Take step ``t``'s events (B rows) and return their encoded frames (B, FRAME_DIM)."""
        sound = {}
        for p in ("mel", "bass"):
            on = e[p] > 0
            self.end[p] = np.where(on, t + DURATIONS[e[f"{p}_dur"]], self.end[p])
            self.last[p] = np.where(on, e[p] - 1, self.last[p])
            sound[p] = self.end[p] > t + 1
        acc = e["acc"].astype(bool)
        self.acc_end = np.where(acc, (t + DURATIONS[e["acc_dur"]])[:, None], self.acc_end)
        # One row per batch element: encode() treats rows independently.
        g = Grid(
            e["mel"], e["mel_dur"], e["mel_vel"], e["bass"], e["bass_dur"], e["bass_vel"],
            acc, e["acc_dur"], e["acc_vel"],
            sound["mel"], self.last["mel"], sound["bass"], self.last["bass"], self.acc_end > t + 1,
        )  # fmt: skip
        return encode(g)


class _Stepper:
    """The step loop's state shared by generation and scoring: per-piece bar attention, conditions, the
    attended frame and the LSTM state. ``step`` computes the attended frame for step ``t`` from the
    frames so far (``enc``) and runs the ONNX step."""

    def __init__(self, gen: StructuredGenerator, plans: list[Plan]) -> None:
        B = len(plans)
        nmax = max(p.template.shape[0] for p in plans)
        self.gen = gen
        self.W = np.zeros((B, nmax, nmax), np.float32)
        self.conf = np.zeros((B, nmax), np.float32)
        self.cond = np.zeros((B, nmax * STEPS_PER_BAR, COND_DIM), np.float32)
        for b, p in enumerate(plans):
            n = p.template.shape[0]
            if p.cond.bars != n:
                raise ValueError(f"the conditions cover {p.cond.bars} bars, the template {n}")
            w, null = bar_attention(p.template, gen.beta, gen.null_score)
            self.W[b, :n, :n] = w
            self.conf[b, :n] = 1.0 - null
            self.cond[b, : n * STEPS_PER_BAR] = p.cond.vectors()
        self.h = np.zeros((gen.layers, B, gen.hidden), np.float32)
        self.c = np.zeros_like(self.h)
        self.ctx = np.zeros((B, FRAME_DIM), np.float32)

    def step(self, t: int, enc: np.ndarray, prev: np.ndarray) -> dict[str, np.ndarray]:
        i, pos = divmod(t, STEPS_PER_BAR)
        if self.gen.attention and i > 0:
            past = enc[:, pos : i * STEPS_PER_BAR : STEPS_PER_BAR]
            np.einsum("bj,bjf->bf", self.W[:, i, :i], past, out=self.ctx)
        out = self.gen.model.predict(
            {
                "prev": prev,
                "ctx": self.ctx,
                "conf": self.conf[:, i : i + 1],
                "cond": self.cond[:, t],
                "h": self.h,
                "c": self.c,
            }
        )
        self.h, self.c = out["h_out"], out["c_out"]
        return out
