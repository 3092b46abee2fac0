"""Permutation-invariant training (PIT) and dynamic sample dropout (DSD), for models whose outputs have no
fixed order (the same-timbre splitter; any future speaker or instrument separator).

* :func:`si_sdr_matrix` scores every estimate against every reference (scale-invariant SDR, Le Roux et al.,
  "SDR - half-baked or well done?", ICASSP 2019).
* :func:`best_permutation` picks, per example, the assignment of estimates to references with the highest
  mean score (brute force over all orders: sources are few), as in Yu et al., "Permutation invariant
  training of deep models for speaker-independent multi-talker speech separation" (ICASSP 2017).
* :class:`DynamicSampleDropout` remembers, per training example, the best assignment and score seen so far,
  and leaves out (``drop``) or re-orders to the remembered assignment (``reorder``) the examples whose new
  assignment disagrees while their score did not improve (Gao, Gu and Marsic, arXiv 2311.12199).
* :class:`SwitchCounter` measures the label-switch rate: the share of examples whose best assignment
  changed since that example's last visit.

A permutation ``perm`` (b, n) says, for each reference i, which estimate ``perm[:, i]`` is assigned to it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

DSD_MODES = ("off", "drop", "reorder")


def si_sdr_matrix(est: torch.Tensor, ref: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """SI-SDR in dB of every estimate against every reference.

    ``est`` (b, n_est, t) and ``ref`` (b, n_ref, t) -> (b, n_est, n_ref). Both are made zero-mean first.
    ``eps`` is relative to each reference's energy (so a quiet estimate of a quiet source still scores by
    its shape, not by an absolute floor) plus a tiny absolute floor that keeps silence finite."""
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    dot = torch.einsum("bet,brt->ber", est, ref)  # (b, e, r)
    raw = ref.square().sum(-1).unsqueeze(1)  # (b, 1, r)
    floor = eps * raw + 1e-20
    ref_energy = raw + floor
    scale = dot / ref_energy
    target_energy = scale.square() * ref_energy  # ||alpha * ref||^2
    # ||est - alpha ref||^2 = ||est||^2 - 2 alpha <est, ref> + alpha^2 ||ref||^2
    est_energy = est.square().sum(-1).unsqueeze(2)  # (b, e, 1)
    noise_energy = (est_energy - 2 * scale * dot + target_energy).clamp_min(0)
    return 10 * torch.log10((target_energy + floor) / (noise_energy + floor))


def permutations(n: int) -> torch.Tensor:
    """All orders of n sources: (n!, n) long."""
    return torch.tensor(list(itertools.permutations(range(n))), dtype=torch.long)


def score_under(matrix: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Mean score of each example under its assignment: ``matrix`` (b, n, n), ``perm`` (b, n) -> (b,)."""
    b, n, _ = matrix.shape
    rows = torch.arange(b, device=matrix.device).unsqueeze(1)
    refs = torch.arange(n, device=matrix.device).expand(b, n)
    return matrix[rows, perm, refs].mean(-1)


def best_permutation(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The assignment with the highest mean score per example: ``matrix`` (b, n, n) -> (scores (b,),
    perms (b, n) long)."""
    n = matrix.shape[1]
    perms = permutations(n).to(matrix.device)  # (P, n)
    refs = torch.arange(n, device=matrix.device)
    scores = matrix[:, perms, refs].mean(-1)  # (b, P)
    best, idx = scores.max(-1)
    return best, perms[idx]


def reorder(est: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Estimates in reference order: ``est`` (b, n, ...) and ``perm`` (b, n) -> (b, n, ...)."""
    index = perm.view(*perm.shape, *([1] * (est.dim() - 2))).expand_as(est)
    return est.gather(1, index)


@dataclass
class DsdDecision:
    """What DSD makes of one batch: the assignment to train on, which examples count, and how many
    examples disagreed with their memory (dropped or re-ordered)."""

    perm: torch.Tensor  # (b, n) long
    keep: torch.Tensor  # (b,) bool
    overruled: int
    best: torch.Tensor  # (b, n) long: the new best assignment, whatever DSD made of it


class DynamicSampleDropout:
    """Per-example memory of the best assignment and score (Gao, Gu and Marsic, arXiv 2311.12199).

    For an example seen before, whose new best assignment differs from the remembered one while its score
    is not above the remembered score: ``drop`` leaves it out of the loss, ``reorder`` trains it on the
    remembered assignment. Otherwise the new assignment is used and, when its score is higher, remembered.
    ``off`` is plain PIT (nothing remembered, every example kept). ``size``: examples in the training pool
    (ids 0..size-1)."""

    def __init__(self, size: int, n_sources: int, mode: str = "drop") -> None:
        if mode not in DSD_MODES:
            raise ValueError(f"DSD mode must be one of {', '.join(DSD_MODES)}, not {mode!r}")
        self.mode = mode
        self.perm = np.full((size, n_sources), -1, np.int64)
        self.score = np.full(size, -np.inf, np.float64)

    def decide(self, ids: np.ndarray, matrix: torch.Tensor) -> DsdDecision:
        """``ids`` (b,) pool indices, ``matrix`` (b, n, n) scores (detached is enough)."""
        with torch.no_grad():
            score, perm = best_permutation(matrix.detach())
        keep = torch.ones(len(ids), dtype=torch.bool)
        if self.mode == "off":
            return DsdDecision(perm, keep, 0, perm)
        perm_np, score_np = perm.cpu().numpy(), score.cpu().numpy().astype(np.float64)
        out = perm_np.copy()
        overruled = 0
        for k, i in enumerate(ids):
            seen = self.perm[i, 0] >= 0
            agrees = bool((self.perm[i] == perm_np[k]).all())
            if seen and not agrees and score_np[k] <= self.score[i]:
                overruled += 1
                if self.mode == "drop":
                    keep[k] = False
                else:
                    out[k] = self.perm[i]
                continue
            if not seen or score_np[k] > self.score[i] or agrees:
                self.perm[i] = perm_np[k]
                self.score[i] = max(self.score[i], score_np[k]) if agrees else score_np[k]
        return DsdDecision(torch.from_numpy(out).to(matrix.device), keep.to(matrix.device), overruled, perm)

    def state(self) -> dict[str, list[list[int]] | list[float]]:
        return {"perm": self.perm.tolist(), "score": [float(x) for x in self.score]}

    def load(self, state: dict[str, list[list[int]] | list[float]]) -> None:
        self.perm = np.asarray(state["perm"], np.int64)
        self.score = np.asarray(state["score"], np.float64)


class SwitchCounter:
    """The label-switch rate per epoch: of the examples visited this epoch that had been visited before,
    the share whose best assignment differs from the one at their previous visit."""

    def __init__(self, size: int, n_sources: int) -> None:
        self.last = np.full((size, n_sources), -1, np.int64)
        self.revisits = 0
        self.switches = 0

    def update(self, ids: np.ndarray, perm: torch.Tensor) -> None:
        p = perm.detach().cpu().numpy()
        for k, i in enumerate(ids):
            if self.last[i, 0] >= 0:
                self.revisits += 1
                self.switches += int(not (self.last[i] == p[k]).all())
            self.last[i] = p[k]

    def end_epoch(self) -> float | None:
        """The epoch's switch rate (None when no example was revisited), and a fresh count."""
        rate = self.switches / self.revisits if self.revisits else None
        self.revisits = self.switches = 0
        return rate
