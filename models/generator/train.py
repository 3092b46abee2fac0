"""Train SING or the no-attention LSTM baseline on aligned POP909 songs (note-event grid, conditioned on
chords, key, section role and position, and tempo).

Runs on the platform's training loop (:mod:`models.platform.training`): resumable (``--resume``), with a
progress bar, a wall-clock budget (``--minutes``), validation NLL and last/best checkpoints; runs under
``torchrun --nproc_per_node N`` (DDP: each rank draws its own batches).

    python -m models.generator.train --model sing --out runs/sing
"""

from __future__ import annotations

import argparse
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.data.pop909 import SPLIT_FILE, load_split
from models.generator.dataset import TemplateCache, collate, make_example, sample_batch, song_conditions
from models.generator.model import Generator, GeneratorConfig, event_nll
from models.generator.pop909 import CACHE, load_cache
from models.platform.distributed import finish_run, setup_run
from models.platform.training import LoopSettings, TrainLoop, add_loop_arguments


def to_tensors(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v).to(device) for k, v in batch.items()}


EVENT_WEIGHTS = {"mel": 1.0, "bass": 1.0, "acc": 1.0, "mel_dur": 1.0, "bass_dur": 1.0, "acc_dur": 1.0,
                 "mel_vel": 0.5, "bass_vel": 0.5, "acc_vel": 0.5}  # fmt: skip
NOTE_KEYS = ("mel", "bass", "acc", "mel_dur", "bass_dur", "acc_dur")  # what the reported NLL sums


def batch_loss(net: nn.Module, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss per real frame: the weighted sum of every event NLL (velocities at half weight)."""
    out, _ = net(b["prev"], b["ctx"], b["conf"], b["cond"])
    nll = event_nll(out, b)
    frames = b["mask"].sum().clamp(min=1)
    loss = sum(EVENT_WEIGHTS[k] * v for k, v in nll.items()) / frames
    stats = {k: float(v.detach()) / float(frames) for k, v in nll.items()}
    return loss, stats


def valid_batches(cache: TemplateCache, window_bars: int, kind: str, max_songs: int) -> list[dict[str, np.ndarray]]:
    """Fixed validation windows: the first ``window_bars`` bars of each song, no augmentation."""
    out = []
    exs = []
    for i in range(min(max_songs, len(cache.songs))):
        g = cache.grid(i)
        w, null = cache.attention(i, kind)
        bars = min(window_bars, g.bars)
        exs.append(make_example(g, song_conditions(cache.songs[i]), w, null, 0, bars))
        if len(exs) == 16:
            out.append(collate(exs, window_bars * 16))
            exs = []
    if exs:
        out.append(collate(exs, window_bars * 16))
    return out


@torch.no_grad()
def evaluate(net: nn.Module, batches: list[dict[str, np.ndarray]], device: torch.device) -> float:
    """Note-event NLL per frame (onsets and durations of all parts; velocities left out)."""
    net.eval()
    tot, frames = 0.0, 0.0
    for nb in batches:
        b = to_tensors(nb, device)
        out, _ = net(b["prev"], b["ctx"], b["conf"], b["cond"])
        nll = event_nll(out, b)
        tot += float(sum(nll[k] for k in NOTE_KEYS))
        frames += float(b["mask"].sum())
    net.train()
    return tot / max(frames, 1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the structured generator (SING) or its LSTM baseline.")
    ap.add_argument("--model", choices=["sing", "lstm"], default="sing")
    ap.add_argument("--cache", type=Path, default=CACHE, help="built by models.generator.pop909")
    ap.add_argument("--split", type=Path, default=SPLIT_FILE, help="train/valid/test song ids (JSON)")
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--window-bars", type=int, default=24)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--max-songs", type=int, default=0, help="limit training songs (tiny runs)")
    ap.add_argument(
        "--no-template", type=float, default=0.3,
        help="share of windows trained without a template (attention off), so the LSTM also learns alone",
    )  # fmt: skip
    ap.add_argument(
        "--init-from", type=Path, default=None, metavar="CKPT",
        help="start from another generator checkpoint (e.g. SING from the trained baseline); not with --resume",
    )  # fmt: skip
    add_loop_arguments(ap, updates=6000, valid_every=250, cpu_clock=False)
    args = ap.parse_args(argv)

    run = setup_run(args.threads, args.seed)

    cfg = GeneratorConfig(attention=args.model == "sing", hidden=args.hidden, layers=args.layers)
    split = load_split(args.split)
    if not args.cache.is_file():
        ap.error(f"{args.cache} not found: build it with 'python -m models.generator.pop909'")
    train_songs = load_cache(args.cache, split["train"])
    if args.max_songs:
        train_songs = train_songs[: args.max_songs]
    valid_songs = load_cache(args.cache, split["valid"])
    train_cache = TemplateCache(train_songs, cfg.beta, cfg.null_score)
    valid_cache = TemplateCache(valid_songs, cfg.beta, cfg.null_score)
    vbatches = valid_batches(valid_cache, args.window_bars, "label0", 48 if not args.max_songs else 4)

    net = Generator(cfg).to(run.device)
    if args.init_from is not None and not args.resume:
        init_from(net, args.init_from)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    settings = LoopSettings.from_args(args, f"generator-{args.model}", higher_is_better=False, grad_clip=1.0)
    meta = {"model": args.model, "config": cfg.to_dict(), "train_args": {k: str(v) for k, v in vars(args).items()}}
    loop = TrainLoop(run, net, opt, settings, meta)
    rng = np.random.default_rng([args.seed, run.rank, loop.step])

    def lr_at(s: int, frac: float) -> float:
        """Warm-up, then a cosine over the run: over the updates, or over the budget when that ends first."""
        warm = 200
        if s < warm:
            return float(args.lr) * (s + 1) / warm
        done = max(frac, min(1.0, (s - warm) / max(1, args.updates - warm)))
        return float(args.lr) * 0.5 * (1 + math.cos(math.pi * done))

    def loss(model: nn.Module, _step: int) -> torch.Tensor:
        batch = sample_batch(train_cache, rng, args.batch, args.window_bars, no_template=args.no_template)
        return batch_loss(model, to_tensors(batch, run.device))[0]

    def validate(model: nn.Module) -> tuple[float, dict[str, Any]]:
        v = evaluate(model, vbatches, run.device)
        return v, {"nll_per_frame": v}

    loop.fit(loss, validate, lr_at, lambda v, _d: f"valid NLL/frame {v:.3f}")
    finish_run(run)
    return 0


def init_from(net: Generator, path: Path) -> None:
    """Load another checkpoint's weights (same sizes). Into an attention model, the attended-frame inputs
    and the output gates start at zero influence, so it begins as the loaded network and learns to attend."""
    from models.generator.codec import FRAME_DIM
    from models.platform.checkpoint import init_weights

    init_weights(net, path)
    if net.cfg.attention:
        with torch.no_grad():
            net.inp.weight[:, FRAME_DIM : 2 * FRAME_DIM + 1] = 0.0  # ctx and conf columns
            net.gates.weight.zero_()
            net.gates.bias.fill_(-4.0)  # softplus(-4) = 0.018


def config_from_args(args: dict[str, Any]) -> GeneratorConfig:
    """Rebuild the config stored in a checkpoint's ``args``."""
    c = args["config"]
    return GeneratorConfig(**{f.name: c[f.name] for f in fields(GeneratorConfig)})


if __name__ == "__main__":
    raise SystemExit(main())
