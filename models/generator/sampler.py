"""Step-by-step generation and scoring with the exported step model (onnxruntime, no torch).

The ONNX graph runs one step with the LSTM state as input and output; attention over earlier bars
(weights from the template, see ``attention.py``) and sampling happen here in numpy. Pieces are
generated in batches (the evaluation generates a whole test set at once).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import Cancelled, UserError
from models.generator import FORMAT
from models.generator.attention import bar_attention
from models.generator.codec import (
    ACC_N,
    FRAME_DIM,
    HELD,
    HOLD,
    OFF,
    ONSET,
    REST,
    SL_ACC_HOLD,
    SL_ACC_ON,
    SL_VEL_A,
    SL_VEL_M,
    STEPS_PER_BAR,
    Grid,
    encode,
)
from models.platform.onnx import OnnxModel
from models.platform.registry import resolve_model


@dataclass
class Plan:
    """What to generate for one piece: its template and, optionally, frames to keep."""

    template: np.ndarray
    keep: Grid | None = None  # frames to keep (primer or bars not being regenerated)
    keep_mask: np.ndarray | None = None  # (steps,) bool: True where ``keep`` is used


POS = np.eye(STEPS_PER_BAR, dtype=np.float32)
NEG = np.float32(-1e9)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    y = x - m
    return np.asarray(y - np.log(np.exp(y).sum(axis=-1, keepdims=True)))


def _sample(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample the last axis of a logits array with the Gumbel-max trick."""
    g = -np.log(-np.log(rng.random(logits.shape, dtype=np.float64) + 1e-12) + 1e-12)
    return np.asarray(np.argmax(logits + g, axis=-1))


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
        if codec["frame_dim"] != FRAME_DIM or codec["steps_per_bar"] != STEPS_PER_BAR:
            raise UserError(f"model {self.name}: grid codec does not match this version of Refrain")

    # -- generation ---------------------------------------------------------------------------------
    def generate(
        self,
        plans: list[Plan],
        seed: int = 0,
        temperature: float = 1.0,
        progress: Callable[[float], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[Grid]:
        """Generate one piece per plan (all in one batch); each has its template's number of bars."""
        if not plans:
            return []
        if not (0.05 <= temperature <= 5.0) or not np.isfinite(temperature):
            raise UserError(f"temperature must be between 0.05 and 5, got {temperature}")
        rng = np.random.default_rng(seed)
        B = len(plans)
        bars = [p.template.shape[0] for p in plans]
        nmax = max(bars)
        T = nmax * STEPS_PER_BAR
        run = _Stepper(self, [p.template for p in plans])
        keep_mask = np.zeros((B, T), bool)
        keep_enc = np.zeros((B, T, FRAME_DIM), np.float32)
        keep_grid = [Grid.empty(T) for _ in range(B)]
        for b, p in enumerate(plans):
            if p.keep is not None and p.keep_mask is not None:
                m = p.keep_mask[: min(T, p.keep.steps)]
                keep_mask[b, : m.shape[0]] = m
                keep_enc[b, : m.shape[0]] = encode(p.keep.slice_steps(0, m.shape[0]))
                kg = keep_grid[b]
                kg.mel[: m.shape[0]] = p.keep.mel[: m.shape[0]]
                kg.acc[: m.shape[0]] = p.keep.acc[: m.shape[0]]
                kg.vel_m[: m.shape[0]] = p.keep.vel_m[: m.shape[0]]
                kg.vel_a[: m.shape[0]] = p.keep.vel_a[: m.shape[0]]
        enc = np.zeros((B, T, FRAME_DIM), np.float32)
        mel = np.zeros((B, T), np.int64)
        acc = np.zeros((B, T, ACC_N), np.int8)
        vm = np.zeros((B, T), np.int64)
        va = np.zeros((B, T), np.int64)
        prev = np.zeros((B, FRAME_DIM), np.float32)
        inv_t = np.float32(1.0 / temperature)
        rows = np.arange(B)
        any_keep = bool(keep_mask.any())
        last_report = time.monotonic()
        for t in range(T):
            out = run.step(t, enc, prev)
            # Melody: a hold is only possible while a note sounds.
            ml = out["mel_logits"] * inv_t
            if t == 0:
                ml[:, HOLD] = NEG
            else:
                ml[mel[:, t - 1] == REST, HOLD] = NEG
            m_s = _sample(ml, rng)
            al = out["acc_logits"] * inv_t
            if t == 0:
                al[:, :, HELD] = NEG
            else:
                al[:, :, HELD] = np.where(acc[:, t - 1] == OFF, NEG, al[:, :, HELD])
            a_s = _sample(al, rng)
            vm_s = _sample(out["vel_m_logits"] * inv_t, rng)
            va_s = _sample(out["vel_a_logits"] * inv_t, rng)
            mel[:, t], acc[:, t], vm[:, t], va[:, t] = m_s, a_s, vm_s, va_s
            e = enc[:, t]
            e[rows, m_s] = 1.0
            e[:, SL_ACC_ON] = a_s == ONSET
            e[:, SL_ACC_HOLD] = a_s == HELD
            e[rows, SL_VEL_M.start + vm_s] = 1.0
            e[rows, SL_VEL_A.start + va_s] = 1.0
            if any_keep:
                k = keep_mask[:, t]
                if k.any():
                    enc[k, t] = keep_enc[k, t]
                    for b in np.nonzero(k)[0].tolist():
                        kg = keep_grid[b]
                        mel[b, t], acc[b, t], vm[b, t], va[b, t] = kg.mel[t], kg.acc[t], kg.vel_m[t], kg.vel_a[t]
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
        out_grids = []
        for b in range(B):
            n = bars[b] * STEPS_PER_BAR
            out_grids.append(Grid(mel[b, :n].copy(), acc[b, :n].copy(), vm[b, :n].copy(), va[b, :n].copy()))
        return out_grids

    # -- scoring --------------------------------------------------------------------------------------
    def frame_nll(self, grids: list[Grid], templates: list[np.ndarray]) -> tuple[float, float, float]:
        """Teacher-forced NLL per frame (nats), summed over melody and accompaniment pitches.

        Returns (total, melody part, accompaniment part), averaged over all frames of all pieces.
        """
        B = len(grids)
        bars = [g.bars for g in grids]
        nmax = max(bars)
        T = nmax * STEPS_PER_BAR
        enc = np.zeros((B, T, FRAME_DIM), np.float32)
        mel = np.zeros((B, T), np.int64)
        acc = np.zeros((B, T, ACC_N), np.int64)
        mask = np.zeros((B, T), bool)
        run = _Stepper(self, templates)
        for b, g in enumerate(grids):
            n = g.bars * STEPS_PER_BAR
            enc[b, :n] = encode(g.slice_steps(0, n))
            mel[b, :n] = g.mel[:n]
            acc[b, :n] = g.acc[:n]
            mask[b, :n] = True
        prev = np.zeros((B, FRAME_DIM), np.float32)
        nll_m = 0.0
        nll_a = 0.0
        rows = np.arange(B)
        for t in range(T):
            out = run.step(t, enc, prev)
            m = mask[:, t]
            lm = _log_softmax(out["mel_logits"].astype(np.float64))
            nll_m -= float(lm[rows, mel[:, t]][m].sum())
            la = _log_softmax(out["acc_logits"].astype(np.float64))
            picked = np.take_along_axis(la, acc[:, t, :, None], axis=-1)[..., 0]
            nll_a -= float(picked.sum(axis=1)[m].sum())
            prev = enc[:, t]
        frames = float(mask.sum())
        return (nll_m + nll_a) / frames, nll_m / frames, nll_a / frames


def load(folder: Path, threads: int) -> StructuredGenerator:
    """The family's loader (see :mod:`models.platform.registry`)."""
    return StructuredGenerator(folder, threads)


class _Stepper:
    """The step loop's state shared by generation and scoring: per-piece bar attention, the
    attended frame and the LSTM state. ``step`` computes the attended frame for step ``t`` from the
    frames so far (``enc``) and runs the ONNX step."""

    def __init__(self, gen: StructuredGenerator, templates: list[np.ndarray]) -> None:
        B = len(templates)
        nmax = max(t.shape[0] for t in templates)
        self.gen = gen
        self.W = np.zeros((B, nmax, nmax), np.float32)
        self.conf = np.zeros((B, nmax), np.float32)
        for b, tpl in enumerate(templates):
            n = tpl.shape[0]
            w, null = bar_attention(tpl, gen.beta, gen.null_score)
            self.W[b, :n, :n] = w
            self.conf[b, :n] = 1.0 - null
        self.h = np.zeros((gen.layers, B, gen.hidden), np.float32)
        self.c = np.zeros_like(self.h)
        self.ctx = np.zeros((B, FRAME_DIM), np.float32)

    def step(self, t: int, enc: np.ndarray, prev: np.ndarray) -> dict[str, np.ndarray]:
        i, pos = divmod(t, STEPS_PER_BAR)
        if self.gen.attention and i > 0:
            past = enc[:, pos : i * STEPS_PER_BAR : STEPS_PER_BAR]
            np.einsum("bj,bjf->bf", self.W[:, i, :i], past, out=self.ctx)
        B = prev.shape[0]
        out = self.gen.model.predict(
            {
                "prev": prev,
                "ctx": self.ctx,
                "conf": self.conf[:, i : i + 1],
                "pos": np.broadcast_to(POS[pos], (B, STEPS_PER_BAR)),
                "h": self.h,
                "c": self.c,
            }
        )
        self.h, self.c = out["h_out"], out["c_out"]
        return out
