"""SING (LSTM + SSM attention) and its no-attention baseline, on one code path.

Per step ``t`` the network reads the previous frame, the attended frame (the template-weighted mix
of the frames at the same bar position in earlier bars, see ``attention.py``), the attention
confidence (one minus the null weight) and the position in the bar. The attended frame enters
twice, as in SING: as LSTM input, and combined per pitch with the LSTM's output logits through a
gate the LSTM controls. The baseline is the same network with the attended frame and confidence
held at zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from models.generator.codec import (
    ACC_N,
    FRAME_DIM,
    MEL_CLASSES,
    SL_ACC_HOLD,
    SL_ACC_ON,
    SL_MEL,
    STEPS_PER_BAR,
    VEL_BINS,
)


@dataclass
class GeneratorConfig:
    """Architecture and attention settings; stored in checkpoints and ONNX sidecars."""

    attention: bool = True
    hidden: int = 384
    layers: int = 2
    dropout: float = 0.1
    beta: float = 4.0
    null_score: float = 0.5

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


IN_DIM = 2 * FRAME_DIM + 1 + STEPS_PER_BAR


class Generator(nn.Module):
    """Frame-level LSTM with SSM attention. Sequence mode for training, step mode for export."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.inp = nn.Linear(IN_DIM, h)
        self.lstm = nn.LSTM(h, h, num_layers=cfg.layers, batch_first=True, dropout=cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.mel_head = nn.Linear(h, MEL_CLASSES)
        self.acc_head = nn.Linear(h, ACC_N * 3)
        self.vel_head = nn.Linear(h, 2 * VEL_BINS)
        # Per-pitch combination of the attended frame with the LSTM output (SING's output mix).
        self.mel_gate = nn.Linear(h, MEL_CLASSES)
        self.acc_gate = nn.Linear(h, ACC_N * 3)

    def forward(
        self,
        prev: Tensor,
        ctx: Tensor,
        conf: Tensor,
        pos: Tensor,
        state: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, tuple[Tensor, Tensor]]:
        """All inputs are (B, T, ·): prev/ctx (F), conf (1), pos (16 one-hot).

        Returns melody logits (B, T, MEL_CLASSES), accompaniment logits (B, T, ACC_N, 3),
        velocity logits for melody and accompaniment (B, T, VEL_BINS) each, and the LSTM state.
        """
        if not self.cfg.attention:
            ctx = torch.zeros_like(ctx)
            conf = torch.zeros_like(conf)
        x = torch.relu(self.inp(torch.cat([prev, ctx, conf, pos], dim=-1)))
        y, new_state = self.lstm(x, state)
        y = self.drop(y)
        B, T = y.shape[0], y.shape[1]
        mel = self.mel_head(y)
        acc = self.acc_head(y).view(B, T, ACC_N, 3)
        if self.cfg.attention:
            mel = mel + nn.functional.softplus(self.mel_gate(y)) * ctx[..., SL_MEL]
            on = ctx[..., SL_ACC_ON]
            held = ctx[..., SL_ACC_HOLD]
            acc_ctx = torch.stack([(1.0 - on - held).clamp(min=0.0), on, held], dim=-1)
            acc = acc + nn.functional.softplus(self.acc_gate(y)).view(B, T, ACC_N, 3) * acc_ctx
        vel = self.vel_head(y)
        return mel, acc, vel[..., :VEL_BINS], vel[..., VEL_BINS:], new_state


class StepWrapper(nn.Module):
    """One generation step with explicit LSTM state, the graph exported to ONNX."""

    def __init__(self, net: Generator) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, prev: Tensor, ctx: Tensor, conf: Tensor, pos: Tensor, h: Tensor, c: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        mel, acc, vm, va, (h2, c2) = self.net(prev[:, None], ctx[:, None], conf[:, None], pos[:, None], (h, c))
        return mel[:, 0], acc[:, 0], vm[:, 0], va[:, 0], h2, c2


def frame_nll(mel: Tensor, acc: Tensor, mel_t: Tensor, acc_t: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per-frame negative log-likelihood (nats): melody and accompaniment sums over masked steps.

    Returns (sum of melody NLL, sum of accompaniment NLL summed over pitches).
    """
    ce_m = nn.functional.cross_entropy(mel.reshape(-1, MEL_CLASSES), mel_t.reshape(-1), reduction="none")
    ce_a = nn.functional.cross_entropy(acc.reshape(-1, 3), acc_t.reshape(-1), reduction="none")
    ce_a = ce_a.view(*acc_t.shape).sum(-1)
    m = mask.reshape(-1).float()
    return (ce_m * m).sum(), (ce_a.reshape(-1) * m).sum()


def velocity_nll(logits: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Velocity-bin NLL summed over the steps where the part has an onset."""
    ce = nn.functional.cross_entropy(logits.reshape(-1, VEL_BINS), target.reshape(-1), reduction="none")
    return (ce * mask.reshape(-1).float()).sum()
