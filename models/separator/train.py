"""Train a stem separator on rendered POP909 stems with random mixing.

    python -m models.separator.train --out runs/sep-masknet --minutes 30 --p 0.5
    torchrun --nproc_per_node 4 -m models.separator.train --out runs/sep ...   (DDP: one sampler per rank)

Runs on the platform's training loop (:mod:`models.platform.training`): resumable (``--resume`` continues
OUT/last.pt), with a progress bar, a compute budget and validation SDR on the rendered validation songs;
OUT/best.pt keeps the best validation SDR."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.data.recipe import STEMS
from models.data.synth import SAMPLE_RATE
from models.features.basic_pitch import BasicPitch
from models.features.booster import batch_features, booster_features, load_booster
from models.platform.distributed import finish_run, setup_run
from models.platform.stft import istft_torch, stft_torch
from models.platform.training import LoopSettings, TrainLoop, add_loop_arguments
from models.separator.dataset import RandomMixSampler, StemBank
from models.separator.metrics import sdr_per_stem
from models.separator.model import SeparatorConfig, build
from models.separator.render import cache_dir
from models.separator.runtime import INPUT_RMS_DBFS


def masks_of(net: nn.Module, mag: torch.Tensor, feats: torch.Tensor | None) -> torch.Tensor:
    """The network's masks, with booster features when it takes them."""
    out: torch.Tensor = net(mag) if feats is None else net(mag, feats)
    return out


def spec_loss(
    net: nn.Module,
    mix: torch.Tensor,
    stems: torch.Tensor,
    cfg: SeparatorConfig,
    kind: str = "l1",
    feats: torch.Tensor | None = None,
) -> torch.Tensor:
    """Loss between the masked mixture STFT and each stem's STFT.

    ``l1``: mean absolute error of the real and imaginary parts. ``sdr``: the negative SDR of each stem in
    each example, averaged, computed on the STFT (Parseval: the same energy ratio as in the time domain up
    to the window's constant), so every stem counts the same whatever its level, as in the eval metric.
    The floor, 1e-3 of the mixture's energy, keeps a silent stem's term finite: it then asks only for an
    estimate well below the mixture."""
    x = stft_torch(mix, cfg.n_fft, cfg.hop)  # (b, 2, f, t)
    y = stft_torch(stems, cfg.n_fft, cfg.hop)  # (b, s, 2, f, t)
    masks = masks_of(net, x.abs(), feats)
    est = masks * x.unsqueeze(1)
    if kind == "l1":
        loss: torch.Tensor = (est.real - y.real).abs().mean() + (est.imag - y.imag).abs().mean()
        return loss
    if kind != "sdr":
        raise ValueError(f"unknown loss {kind!r}")
    floor = 1e-3 * x.abs().square().sum((1, 2, 3)).unsqueeze(1) + 1e-8  # (b, 1)
    target = y.abs().square().sum((2, 3, 4))
    error = (est - y).abs().square().sum((2, 3, 4))
    neg_sdr: torch.Tensor = 10 * (torch.log10(error + floor) - torch.log10(target + floor)).mean()
    return neg_sdr


@torch.no_grad()
def separate_clip(
    net: nn.Module, mix: np.ndarray, cfg: SeparatorConfig, booster: BasicPitch | None = None
) -> np.ndarray:
    """(2, n) -> (stems, 2, n) in one pass (validation clips are short), at the runtime's input level."""
    rms = float(np.sqrt(np.mean(mix**2)))
    gain = np.float32(10 ** (INPUT_RMS_DBFS / 20) / rms) if rms > 1e-6 else np.float32(1.0)
    x = stft_torch(torch.from_numpy(mix * gain).unsqueeze(0), cfg.n_fft, cfg.hop)
    feats = None
    if booster is not None:
        feats = torch.from_numpy(booster_features(booster, mix * gain, cfg.sample_rate, cfg.hop)).unsqueeze(0)
    est = masks_of(net, x.abs(), feats) * x.unsqueeze(1)
    return istft_torch(est, cfg.n_fft, cfg.hop, mix.shape[-1])[0].numpy() / gain


def validate(
    net: nn.Module, bank: StemBank, cfg: SeparatorConfig, booster: BasicPitch | None = None
) -> dict[str, float]:
    """Mean whole-clip SDR per stem over the validation songs."""
    net.eval()
    scores = []
    for i in range(len(bank)):
        song = bank.song(i)
        scores.append(sdr_per_stem(song, separate_clip(net, song.sum(0), cfg, booster)))
    net.train()
    per = np.mean(np.array(scores), 0)
    return {s: float(v) for s, v in zip(cfg.stems, per, strict=True)} | {"mean": float(per.mean())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the stem separator (MaskNet) or the Open-Unmix baseline.")
    ap.add_argument("--arch", choices=["masknet", "bandnet", "umx"], default="masknet")
    ap.add_argument("--data", type=Path, default=None, help="render cache (default: models.separator.render.cache_dir)")
    ap.add_argument("--songs", type=int, default=0, help="use only the first N training songs (0: all)")
    ap.add_argument("--p", type=float, default=0.5, help="probability of a random (cross-song) mix")
    ap.add_argument("--hidden", type=int, default=0, help="default: 192 (masknet), 64 (bandnet), 512 (umx)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--segment", type=float, default=3.0, help="seconds per example")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--loss", choices=["l1", "sdr"], default="l1", help="l1 on the STFT, or per-stem negative SDR")
    ap.add_argument("--valid-songs", type=int, default=12)
    ap.add_argument("--master", type=float, default=0.0, help="share of examples mastered in the sampler (0..1)")
    ap.add_argument("--level", action="store_true", help="bring each example to the runtime's input loudness (+-6 dB)")
    ap.add_argument("--booster", choices=["", "concat", "film"], default="", help="bandnet: basic-pitch features in")
    ap.add_argument("--booster-depths", type=int, default=1, help="bandnet: injection points (1..layers+1)")
    ap.add_argument(
        "--init-from", type=Path, default=None, metavar="CKPT", help="start from these weights (same sizes; compact ok)"
    )
    add_loop_arguments(ap, updates=100000, valid_every=200, cpu_clock=True)
    args = ap.parse_args(argv)

    run = setup_run(args.threads, args.seed)

    root = cache_dir(args.data)
    hidden = args.hidden or {"umx": 512, "bandnet": 64}.get(args.arch, 192)
    if args.booster and args.arch != "bandnet":
        raise SystemExit("--booster needs --arch bandnet")
    cfg = SeparatorConfig(
        arch=args.arch,
        hidden=hidden,
        layers=args.layers,
        max_bin=743 if args.arch == "umx" else 0,
        booster=args.booster,
        booster_depths=args.booster_depths,
    )
    booster = load_booster(1) if args.booster else None
    train_bank = StemBank(root / "train", limit=args.songs)
    valid_bank = StemBank(root / "valid", limit=args.valid_songs)
    net = build(cfg).to(run.device)
    if args.init_from is not None and not args.resume:
        from models.platform.checkpoint import init_weights

        init_weights(net, args.init_from)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-5)
    settings = LoopSettings.from_args(
        args, f"separator-{args.arch}", higher_is_better=True, cpu_clock=True, grad_clip=5.0
    )
    meta = {
        "config": cfg.to_dict(),
        "train_args": {k: str(v) for k, v in vars(args).items()},
        "train_songs": len(train_bank),
        "init_from": str(args.init_from) if args.init_from and not args.resume else None,
    }
    loop = TrainLoop(run, net, opt, settings, meta)
    sampler = RandomMixSampler(
        train_bank,
        round(args.segment * SAMPLE_RATE),
        args.p,
        seed=args.seed * 1000 + run.rank + loop.step,
        master=args.master,
        level_dbfs=INPUT_RMS_DBFS if args.level else None,
    )

    def lr_at(_step: int, frac: float) -> float:
        if args.minutes <= 0:
            return float(args.lr)
        return float(args.lr) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))  # cosine to 5% over the budget

    def loss(model: nn.Module, _step: int) -> torch.Tensor:
        mix, stems = sampler.batch(args.batch)
        x, y = torch.from_numpy(mix).to(run.device), torch.from_numpy(stems).to(run.device)
        feats = None
        if booster is not None:
            feats = torch.from_numpy(batch_features(booster, mix, SAMPLE_RATE, cfg.hop)).to(run.device)
        return spec_loss(model, x, y, cfg, args.loss, feats)

    def describe(score: float, v: dict[str, Any]) -> str:
        return "valid SDR " + " ".join(f"{s} {v[s]:.2f}" for s in STEMS) + f" mean {score:.2f}"

    loop.fit(loss, lambda model: _score(validate(model, valid_bank, cfg, booster)), lr_at, describe)
    finish_run(run)
    return 0


def _score(v: dict[str, float]) -> tuple[float, dict[str, Any]]:
    return v["mean"], dict(v)


if __name__ == "__main__":
    raise SystemExit(main())
