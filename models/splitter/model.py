"""The same-timbre splitter's network: a Conv-TasNet (Luo and Mesgarani, "Conv-TasNet: Surpassing ideal
time-frequency magnitude masking for speech separation", IEEE/ACM TASLP 2019) whose stacked blocks all
share one decoder, so every block's output can be decoded into source estimates: the layer-wise
optimisation (LO) of Gao, Gu and Marsic (arXiv 2311.12199) trains on all of them.

    waveform (b, 1, n) -> learned encoder (N filters, length L, hop L/2) -> R blocks of X dilated
    depthwise-separable convolutions -> after each block: the shared mask head (softmax over sources)
    and the shared decoder -> (R, b, sources, n)

Each input is scaled to unit RMS inside the network and the estimates are scaled back, so the output does
not depend on the input's level (a scaled input gives exactly the scaled estimates). ``n`` must be a
multiple of the hop (:attr:`SplitterNet.hop`); the runtime pads to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from models.platform.ops import softmax


@dataclass(frozen=True)
class SplitterConfig:
    """Network sizes (Conv-TasNet's names: N, L, B, H, X, R) and the sources it separates."""

    sample_rate: int = 22050
    sources: int = 2
    # Sized for CPU training and >= 10x real time on two cores: a 2.9 ms encoder (hop 1.45 ms, 689 frames a
    # second), about 0.35 GMAC per second of audio, 1.5 s of context.
    filters: int = 128  # N
    kernel: int = 64  # L (samples); the hop is L/2
    bottleneck: int = 64  # B
    hidden: int = 128  # H
    layers: int = 7  # X: dilations 1, 2, ..., 2^(X-1) per block
    blocks: int = 4  # R

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitterConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class _ConvLayer(nn.Module):
    """1x1 conv -> PReLU -> norm -> dilated depthwise conv -> PReLU -> norm -> 1x1 conv, residual."""

    def __init__(self, b: int, h: int, dilation: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(b, h, 1),
            nn.PReLU(),
            nn.GroupNorm(1, h),
            nn.Conv1d(h, h, 3, padding=dilation, dilation=dilation, groups=h),
            nn.PReLU(),
            nn.GroupNorm(1, h),
            nn.Conv1d(h, b, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.net(x)
        return out


class SplitterNet(nn.Module):
    """``forward(x)``: (b, 1, n) -> (b, sources, n), the last block's estimates; ``forward(x, True)`` gives
    every block's, (R, b, sources, n), for layer-wise optimisation (through ``forward``, so a DDP wrapper
    sees the call and synchronises the gradients)."""

    def __init__(self, cfg: SplitterConfig) -> None:
        super().__init__()
        if cfg.kernel % 2:
            raise ValueError("the encoder kernel must be even (its hop is half of it)")
        self.cfg = cfg
        self.hop = cfg.kernel // 2
        self.encoder = nn.Conv1d(1, cfg.filters, cfg.kernel, stride=self.hop, bias=False)
        self.norm = nn.GroupNorm(1, cfg.filters)
        self.inp = nn.Conv1d(cfg.filters, cfg.bottleneck, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(*(_ConvLayer(cfg.bottleneck, cfg.hidden, 2**x) for x in range(cfg.layers)))
            for _ in range(cfg.blocks)
        )
        self.mask_head = nn.Sequential(nn.PReLU(), nn.Conv1d(cfg.bottleneck, cfg.sources * cfg.filters, 1))
        self.decoder = nn.ConvTranspose1d(cfg.filters, 1, cfg.kernel, stride=self.hop, bias=False)
        self._init_filterbank()

    def _init_filterbank(self) -> None:
        """Start from a filterbank that reconstructs: encoder filters in +/- pairs of an orthogonal basis
        under a square-root Hann window (whose squares overlap-add to one at hop L/2), the decoder the same
        filters. ReLU keeps one of each pair, so decoding the encoding gives the input back, and the first
        estimates are the masks times the mixture (SI-SDRi about 0) rather than noise: training starts at
        separating instead of at learning to reconstruct. Used when there are filters for the whole basis
        (N >= 2L); otherwise the default initialisation stays."""
        n, length = self.cfg.filters, self.cfg.kernel
        if n < 2 * length:
            return
        g = torch.Generator().manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(length, length, generator=g))
        window = torch.hann_window(length, periodic=True).sqrt()
        basis = q.T * window  # (L, L): rows are filters
        w = torch.zeros(n, length)
        w[:length], w[length : 2 * length] = basis, -basis
        with torch.no_grad():
            self.encoder.weight.copy_(w.unsqueeze(1))
            self.decoder.weight.copy_(w.unsqueeze(1))

    def _decode(self, y: torch.Tensor, enc: torch.Tensor, n: int) -> torch.Tensor:
        """Block output (b, B, T) -> estimates (b, S, n), through the shared head and decoder."""
        b, _, t = enc.shape
        s = self.cfg.sources
        masks = softmax(self.mask_head(y).view(b, s, self.cfg.filters, t), 1)
        est = self.decoder((masks * enc.unsqueeze(1)).reshape(b * s, self.cfg.filters, t))
        out: torch.Tensor = est[..., :n].reshape(b, s, -1)
        return out

    def all_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """(b, 1, n) -> (R, b, sources, n): every block's estimates, decoded by the shared decoder."""
        n = x.shape[-1]
        scale = x.square().mean(-1, keepdim=True).add(1e-8).sqrt()  # (b, 1, 1)
        x = x / scale
        enc = F.relu(self.encoder(x))
        y = self.inp(self.norm(enc))
        outs = []
        for block in self.blocks:
            y = block(y)
            outs.append(self._decode(y, enc, n) * scale)
        return torch.stack(outs)

    def forward(self, x: torch.Tensor, all_blocks: bool = False) -> torch.Tensor:
        if all_blocks:
            return self.all_blocks(x)
        n = x.shape[-1]
        scale = x.square().mean(-1, keepdim=True).add(1e-8).sqrt()
        x = x / scale
        enc = F.relu(self.encoder(x))
        y = self.inp(self.norm(enc))
        for block in self.blocks:
            y = block(y)
        out: torch.Tensor = self._decode(y, enc, n) * scale
        return out

    def receptive_field(self) -> float:
        """Seconds of context each output sample sees."""
        frames = 1 + self.cfg.blocks * sum(2 * 2**x for x in range(self.cfg.layers))
        return float(frames * self.hop + self.cfg.kernel) / self.cfg.sample_rate
