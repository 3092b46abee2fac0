"""Separator networks. Both see magnitude spectrograms (STFT outside the graph) and return one mask per
stem; the runtime applies the masks to the mixture's complex STFT and inverts it.

* :class:`MaskNet` (Refrain's model): one shared trunk for all stems: a per-frame encoder, a BiLSTM over
  time with a skip, and a decoder whose per-bin logits go through a softmax *across stems*, so the
  estimates always add up to the mixture. Small enough to run well faster than real time on 2 cores.
* :class:`UmxBaseline`: the Open-Unmix architecture (``openunmix.model.OpenUnmix``, one network per stem,
  as published), trained on the same data and budget as the peer baseline; its magnitude estimates are
  turned into masks the same way so both share one runtime."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from models.data.recipe import STEMS
from models.data.synth import SAMPLE_RATE
from models.platform.ops import softmax

N_FFT = 2048
HOP = 512


@dataclass(frozen=True)
class SeparatorConfig:
    arch: str = "masknet"  # masknet, bandnet or umx
    n_fft: int = N_FFT
    hop: int = HOP
    channels: int = 2
    hidden: int = 192
    layers: int = 2
    max_bin: int = 0  # umx: bins seen by the encoder (0: all)
    booster: str = ""  # bandnet: "", "concat" or "film": basic-pitch features injected (models.features.inject)
    booster_depths: int = 1  # bandnet: injection points (before each block, then before the decoder)
    stems: tuple[str, ...] = STEMS
    sample_rate: int = SAMPLE_RATE

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stems"] = list(self.stems)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeparatorConfig:
        d = dict(d)
        d["stems"] = tuple(d.get("stems", STEMS))
        return cls(**d)


class MaskNet(nn.Module):
    """(batch, channels, bins, frames) magnitudes -> (batch, stems, channels, bins, frames) masks."""

    def __init__(self, cfg: SeparatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, f, h, s = cfg.channels, cfg.bins, cfg.hidden, len(cfg.stems)
        self.in_shift = nn.Parameter(torch.zeros(c * f))
        self.in_scale = nn.Parameter(torch.ones(c * f))
        self.encode = nn.Sequential(nn.Linear(c * f, h), nn.LayerNorm(h), nn.Tanh())
        self.lstm = nn.LSTM(h, h // 2, num_layers=cfg.layers, batch_first=True, bidirectional=True)
        self.decode = nn.Sequential(nn.Linear(2 * h, h), nn.LayerNorm(h), nn.ReLU(), nn.Linear(h, s * c * f))

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        b, c, f, t = mag.shape
        x = torch.log1p(mag).permute(0, 3, 1, 2).reshape(b, t, c * f)
        x = self.encode((x + self.in_shift) * self.in_scale)
        y, _ = self.lstm(x)
        logits = self.decode(torch.cat([x, y], -1)).reshape(b, t, len(self.cfg.stems), c, f)
        return stem_softmax(logits)


def stem_softmax(logits: torch.Tensor) -> torch.Tensor:
    """(batch, frames, stems, channels, bins) logits -> (batch, stems, channels, bins, frames) masks that add
    up to one over stems (through the platform's fast softmax, :func:`models.platform.ops.softmax`)."""
    return softmax(logits, 2).permute(0, 2, 3, 4, 1)


class UmxBaseline(nn.Module):
    """Open-Unmix (one network per stem, default layout) with its outputs normalised into masks."""

    def __init__(self, cfg: SeparatorConfig) -> None:
        super().__init__()
        from models.separator import umx_compat

        umx_compat.install()
        from openunmix.model import OpenUnmix

        self.cfg = cfg
        max_bin = cfg.max_bin or cfg.bins
        self.nets = nn.ModuleList(
            OpenUnmix(nb_bins=cfg.bins, nb_channels=cfg.channels, hidden_size=cfg.hidden, max_bin=max_bin)
            for _ in cfg.stems
        )

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        est = torch.stack([self._net(net, mag) for net in self.nets], 1)  # (b, s, c, f, t) magnitudes
        return est / (est.sum(1, keepdim=True) + 1e-8)

    @staticmethod
    def _net(net: Any, mag: torch.Tensor) -> torch.Tensor:
        """One ``OpenUnmix`` network on (b, c, f, t) magnitudes, through its own layers. ``OpenUnmix.forward``
        reads its sizes from ``x.data.shape``, which the ONNX tracer freezes into constants, so an exported
        model would accept only the example's frame count; here every reshape keeps the frame axis free."""
        b, c = mag.shape[0], mag.shape[1]
        x = mag.permute(3, 0, 1, 2)[..., : net.nb_bins]  # (t, b, c, f)
        x = (x + net.input_mean) * net.input_scale
        x = torch.tanh(net.bn1(net.fc1(x.reshape(-1, c * net.nb_bins))).reshape(-1, b, net.hidden_size))
        x = torch.cat([x, net.lstm(x)[0]], -1)
        x = F.relu(net.bn2(net.fc2(x.reshape(-1, x.shape[-1]))))
        x = net.bn3(net.fc3(x)).reshape(-1, b, c, net.nb_output_bins)
        x = F.relu(x * net.output_scale + net.output_mean) * mag.permute(3, 0, 1, 2)
        return x.permute(1, 2, 3, 0)


def build(cfg: SeparatorConfig) -> nn.Module:
    if cfg.arch == "masknet":
        return MaskNet(cfg)
    if cfg.arch == "bandnet":
        from models.separator.bandnet import BandNet

        return BandNet(cfg)
    if cfg.arch == "umx":
        return UmxBaseline(cfg)
    raise ValueError(f"unknown separator architecture {cfg.arch!r}")
