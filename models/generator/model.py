"""SING (LSTM + SSM attention) and its no-attention baseline, on one code path, over the note-event grid.

Per step ``t`` the network reads the previous frame (events and sounding state, ``codec.encode``), the
attended frame (the template-weighted mix of the frames at the same bar position in earlier bars, see
``attention.py``), the attention confidence (one minus the null weight) and the conditions (position in
bar, chords, key, section role and position, tempo; ``conditions.py``). The attended frame enters
twice, as in SING: as LSTM input, and added to the output logits of each event head through a gate the
LSTM controls. The baseline is the same network with the attended frame and confidence held at zero.

Heads per step: melody and bass onset (none or a pitch), accompaniment onsets per pitch (independent
Bernoulli), and for each part a duration token and a velocity bin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from models.generator.codec import ACC_N, BASS_N, FRAME_DIM, MEL_N, N_DUR, SL, VEL_BINS
from models.generator.conditions import COND_DIM

HEADS = {
    "mel": MEL_N + 1,
    "mel_dur": N_DUR,
    "mel_vel": VEL_BINS,
    "bass": BASS_N + 1,
    "bass_dur": N_DUR,
    "bass_vel": VEL_BINS,
    "acc": ACC_N,
    "acc_dur": N_DUR,
    "acc_vel": VEL_BINS,
}
GATED = ("mel", "mel_dur", "bass", "bass_dur", "acc", "acc_dur")  # heads the attended frame feeds
IN_DIM = 2 * FRAME_DIM + 1 + COND_DIM


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


class Generator(nn.Module):
    """Frame-level LSTM with SSM attention. Sequence mode for training, step mode for export."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.inp = nn.Linear(IN_DIM, h)
        self.lstm = nn.LSTM(h, h, num_layers=cfg.layers, batch_first=True, dropout=cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.heads = nn.Linear(h, sum(HEADS.values()))
        self.gates = nn.Linear(h, sum(HEADS[k] for k in GATED))

    def forward(
        self, prev: Tensor, ctx: Tensor, conf: Tensor, cond: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[dict[str, Tensor], tuple[Tensor, Tensor]]:
        """Inputs (B, T, ·): prev/ctx (FRAME_DIM), conf (1), cond (COND_DIM).

        Returns the logits of every head in ``HEADS`` as (B, T, size) and the LSTM state.
        """
        if not self.cfg.attention:
            ctx = torch.zeros_like(ctx)
            conf = torch.zeros_like(conf)
        x = torch.relu(self.inp(torch.cat([prev, ctx, conf, cond], dim=-1)))
        y, new_state = self.lstm(x, state)
        y = self.drop(y)
        out = dict(zip(HEADS, torch.split(self.heads(y), list(HEADS.values()), dim=-1), strict=True))
        if self.cfg.attention:
            gates = torch.split(nn.functional.softplus(self.gates(y)), [HEADS[k] for k in GATED], dim=-1)
            for name, gate in zip(GATED, gates, strict=True):
                out[name] = out[name] + gate * ctx[..., SL[name]]
        return out, new_state


class StepWrapper(nn.Module):
    """One generation step with explicit LSTM state, the graph exported to ONNX."""

    def __init__(self, net: Generator) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, prev: Tensor, ctx: Tensor, conf: Tensor, cond: Tensor, h: Tensor, c: Tensor
    ) -> tuple[Tensor, ...]:
        out, (h2, c2) = self.net(prev[:, None], ctx[:, None], conf[:, None], cond[:, None], (h, c))
        return (*(out[k][:, 0] for k in HEADS), h2, c2)


def event_nll(out: dict[str, Tensor], b: dict[str, Tensor]) -> dict[str, Tensor]:
    """Summed negative log-likelihoods (nats) of a batch's events: onsets per part over all real steps,
    durations and velocities over the steps where the part has an onset."""
    mask = b["mask"].float()
    ce = nn.functional.cross_entropy
    res: dict[str, Tensor] = {}
    for part, n in (("mel", MEL_N + 1), ("bass", BASS_N + 1)):
        res[part] = (ce(out[part].reshape(-1, n), b[part].reshape(-1), reduction="none") * mask.reshape(-1)).sum()
    bce = nn.functional.binary_cross_entropy_with_logits(out["acc"], b["acc"], reduction="none").sum(-1)
    res["acc"] = (bce * mask).sum()
    onset = {"mel": b["mel"] > 0, "bass": b["bass"] > 0, "acc": b["acc"].sum(-1) > 0}
    for part, has in onset.items():
        m = (has & b["mask"]).float().reshape(-1)
        for kind, n in (("dur", N_DUR), ("vel", VEL_BINS)):
            key = f"{part}_{kind}"
            res[key] = (ce(out[key].reshape(-1, n), b[key].reshape(-1), reduction="none") * m).sum()
    return res
