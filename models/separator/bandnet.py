"""BandNet: a small band-split RNN separator (after Luo and Yu, "Music Source Separation with Band-split
RNN", arXiv 2209.15174), sized for CPUs.

* The spectrum is split into 44 bands that are **finer in the bass** (43 Hz wide below 430 Hz, 86 Hz
  to 1.3 kHz, then wider), since bass is the stem whose notes sit closest together in frequency.
* Each band's log-magnitudes (both channels) are projected to ``hidden`` features.
* Blocks alternate a BiLSTM **across time** (each band on its own) with a BiLSTM **across bands** (each
  frame on its own), each with a residual connection and layer norm.
* Each band is decoded to per-bin mask logits for every stem and channel; a softmax across stems makes
  the masks add up to one, so the stems add up to the mixture (mixture consistency by construction).

Same input and output as :class:`models.separator.model.MaskNet`: (batch, channels, bins, frames)
magnitudes -> (batch, stems, channels, bins, frames) masks. With a booster (``SeparatorConfig.booster``)
it also takes basic-pitch's features per frame (:mod:`models.features`), injected by concatenation or
FiLM before the first ``booster_depths`` blocks (the last point being before the decoder)."""

from __future__ import annotations

import torch
from torch import nn

from models.separator.model import SeparatorConfig, stem_softmax

# (first bin, band width, bands) at n_fft 2048 / 44.1 kHz (21.5 Hz per bin); the spectrum is padded from
# 1025 to 1028 bins so the last run divides evenly. Bands of one run share a shape, so each run's bands
# are encoded and decoded by one batched matrix product.
BAND_RUNS = ((0, 2, 10), (20, 4, 10), (60, 8, 8), (124, 16, 8), (252, 64, 4), (508, 130, 4))
PADDED_BINS = 1028
BINS = 1025


def band_edges() -> list[tuple[int, int]]:
    """[(lo, hi)) bin ranges of the bands, low to high (the last one reaches into the padding)."""
    return [(a + i * w, a + (i + 1) * w) for a, w, n in BAND_RUNS for i in range(n)]


class _Grouped(nn.Module):
    """``n`` independent linear maps applied at once: (..., n, fan_in) -> (..., n, fan_out)."""

    def __init__(self, n: int, fan_in: int, fan_out: int) -> None:
        super().__init__()
        bound = fan_in**-0.5
        self.n, self.fan_in, self.fan_out = n, fan_in, fan_out  # ints, so the ONNX trace keeps them constant
        self.weight = nn.Parameter(torch.empty(n, fan_in, fan_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(n, fan_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One batched product over the n maps, (n, rows, fan_in) @ (n, fan_in, fan_out), rather than an
        # einsum: onnxruntime's Einsum was 1.5-8x slower on these shapes (22 % of the network's time).
        y = torch.matmul(x.reshape(-1, self.n, self.fan_in).transpose(0, 1), self.weight).transpose(0, 1)
        return y.reshape(*x.shape[:-2], self.n, self.fan_out) + self.bias


class _SeqBlock(nn.Module):
    """Norm -> BiLSTM -> linear, added back: one pass along the middle axis of (n, seq, d)."""

    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.rnn = nn.LSTM(d, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(self.norm(x))
        out: torch.Tensor = x + self.out(y)
        return out


class BandNet(nn.Module):
    """(batch, channels, 1025, frames) magnitudes -> (batch, stems, channels, 1025, frames) masks."""

    def __init__(self, cfg: SeparatorConfig) -> None:
        super().__init__()
        if cfg.bins != BINS:
            raise ValueError(f"BandNet's bands are laid out for n_fft 2048 ({BINS} bins), not {cfg.bins}")
        self.cfg = cfg
        c, d, s = cfg.channels, cfg.hidden, len(cfg.stems)
        self.encode = nn.ModuleList(_Grouped(n, c * w, d) for _, w, n in BAND_RUNS)
        self.time_blocks = nn.ModuleList(_SeqBlock(d, d) for _ in range(cfg.layers))
        self.band_blocks = nn.ModuleList(_SeqBlock(d, d // 2) for _ in range(cfg.layers))
        self.inject = nn.ModuleList()
        if cfg.booster:
            from models.features.basic_pitch import FEATURE_DIM
            from models.features.inject import FeatureInjection

            points = cfg.layers + 1
            if not 1 <= cfg.booster_depths <= points:
                raise ValueError(f"booster_depths must be 1..{points} for {cfg.layers} blocks")
            self.inject = nn.ModuleList(
                FeatureInjection(FEATURE_DIM, d, cfg.booster) for _ in range(cfg.booster_depths)
            )
        self.decode_norm = nn.LayerNorm(d)
        self.decode_hidden = nn.ModuleList(_Grouped(n, d, 2 * d) for _, _, n in BAND_RUNS)
        self.decode_out = nn.ModuleList(_Grouped(n, 2 * d, s * c * w) for _, w, n in BAND_RUNS)

    def forward(self, mag: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        """``feats``: (batch, frames, FEATURE_DIM) booster features on the STFT's frames; needed when the
        config has a booster, ignored otherwise."""
        b, _, f, t = mag.shape
        c, s = self.cfg.channels, len(self.cfg.stems)  # constants, so the ONNX trace keeps the shapes static
        x = torch.log1p(mag).permute(0, 3, 1, 2)  # (b, t, c, f)
        x = torch.nn.functional.pad(x, (0, PADDED_BINS - f))
        groups = []
        for enc, (a, w, n) in zip(self.encode, BAND_RUNS, strict=True):
            g = x[..., a : a + w * n].reshape(b, t, c, n, w).permute(0, 1, 3, 2, 4).reshape(b, t, n, c * w)
            g = torch.nn.functional.layer_norm(g, (c * w,))
            groups.append(enc(g))
        z = torch.cat(groups, 2).transpose(1, 2)  # (b, k, t, d)
        k, d = z.shape[1], z.shape[3]
        if len(self.inject) and feats is None:
            raise ValueError("this BandNet was built with a booster: pass its features")
        for i, (time_block, band_block) in enumerate(zip(self.time_blocks, self.band_blocks, strict=True)):
            if i < len(self.inject):
                z = self.inject[i](z, feats)
            z = time_block(z.reshape(b * k, t, d)).reshape(b, k, t, d)
            z = band_block(z.transpose(1, 2).reshape(b * t, k, d)).reshape(b, t, k, d).transpose(1, 2)
        if len(self.inject) > len(self.time_blocks):
            z = self.inject[-1](z, feats)
        h = self.decode_norm(z.transpose(1, 2))  # (b, t, k, d)
        out, first = [], 0
        for hid, dec, (_, w, n) in zip(self.decode_hidden, self.decode_out, BAND_RUNS, strict=True):
            y = dec(torch.tanh(hid(h[:, :, first : first + n])))  # (b, t, n, s*c*w)
            out.append(y.reshape(b, t, n, s, c, w).permute(0, 1, 3, 4, 2, 5).reshape(b, t, s, c, n * w))
            first += n
        logits = torch.cat(out, -1)[..., :f]  # (b, t, s, c, f)
        return stem_softmax(logits)
