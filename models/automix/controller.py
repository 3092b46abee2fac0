"""The balance controller (after Steinmetz et al., arXiv 2010.10291: a network over any number of inputs that
predicts readable console parameters): a Deep Sets network over the stems' audio features
(:mod:`models.automix.stemfeatures`). Each stem is encoded alone, the encodings are averaged over the set, and
each stem's settings are read from its own encoding beside the set's.

    features (b, k, F) [+ mask (b, k)] -> (b, k, OUTPUTS): gain (dB, relative to the set's mean), pan,
    low-shelf and high-shelf gains (dB, at models.automix.data.LOW_HZ / HIGH_HZ), and four role logits
    (drums, bass, vocals, other: the role is read from the audio, never from a name).

Loudness enters relative to the set's mean, so the proposal does not depend on the stems' overall level.
With ``booster`` set, each stem's vector also carries the booster's summary of the stem
(:func:`models.features.booster.summary`: basic-pitch's activations pooled over time and register; SoniDo,
Liao et al., arXiv 2411.01135): F = len(NAMES) + SUMMARY_DIM."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from models.automix.practice import ROLES
from models.automix.stemfeatures import NAMES

SETTINGS = ("gain_db", "pan", "low_db", "high_db")
OUTPUTS = len(SETTINGS) + len(ROLES)


@dataclass(frozen=True)
class ControllerConfig:
    features: int = len(NAMES)
    hidden: int = 64
    dropout: float = 0.2  # few songs to learn from: regularise hard
    booster: bool = False  # the last SUMMARY_DIM features are the booster's summary of the stem

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ControllerConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _mlp(i: int, h: int, o: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(i, h),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(h, h),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(h, o),
    )


class Controller(nn.Module):
    def __init__(self, cfg: ControllerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.zeros(cfg.features))
        self.register_buffer("std", torch.ones(cfg.features))
        self.encode = _mlp(cfg.features, cfg.hidden, cfg.hidden, cfg.dropout)
        self.decode = _mlp(2 * cfg.hidden, cfg.hidden, OUTPUTS, cfg.dropout)

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp(min=0.1))  # a feature that hardly varies in training must not blow up

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (b, k, F), ``mask`` (b, k) float (1 for a stem, 0 for padding) -> (b, k, OUTPUTS)."""
        m = mask.unsqueeze(-1)
        count = m.sum(1, keepdim=True).clamp(min=1.0)
        lufs = x[..., :1]
        rel = lufs - (lufs * m).sum(1, keepdim=True) / count  # loudness relative to the set's mean
        x = torch.cat([rel, x[..., 1:]], -1)
        h = self.encode((x - self.mean) / self.std) * m
        context = (h.sum(1, keepdim=True) / count).expand_as(h)
        out: torch.Tensor = self.decode(torch.cat([h, context], -1))
        return out
