"""Injecting booster features into a task network's hidden states (the SoniDo recipe: Liao et al.,
arXiv 2411.01135, where a frozen music model's intermediate features condition a downstream model).

Two ways, chosen per model:

* ``concat``: the projected features are concatenated to each hidden vector and mixed back to its width,
  as a residual: ``z + W [z; P f]``;
* ``film``: feature-wise linear modulation: ``z * (1 + gamma(P f)) + beta(P f)``, initialised to the
  identity so an untrained injection changes nothing.

The features are per frame, (batch, frames, feature_dim); the hidden states may carry extra axes between
batch and frames (bands, channels), over which the features are broadcast."""

from __future__ import annotations

import torch
from torch import nn

MODES = ("concat", "film")


class FeatureInjection(nn.Module):
    """(batch, ..., frames, d) hidden states and (batch, frames, feature_dim) features -> same shape as z."""

    def __init__(self, feature_dim: int, d: int, mode: str) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown injection {mode!r}: use one of {', '.join(MODES)}")
        self.mode = mode
        self.project = nn.Sequential(nn.LayerNorm(feature_dim), nn.Linear(feature_dim, d), nn.GELU())
        if mode == "concat":
            self.mix = nn.Linear(2 * d, d)
        else:
            self.film = nn.Linear(d, 2 * d)
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)

    def forward(self, z: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        p = self.project(features)
        while p.dim() < z.dim():
            p = p.unsqueeze(1)
        out: torch.Tensor
        if self.mode == "concat":
            out = z + self.mix(torch.cat([z, p.expand_as(z)], -1))
        else:
            gamma, beta = self.film(p).chunk(2, -1)
            out = z * (1 + gamma) + beta
        return out
