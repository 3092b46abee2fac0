"""Train the same-timbre splitter: permutation-invariant training (PIT), optionally with dynamic sample
dropout (DSD, ``--dsd drop`` or ``--dsd reorder``) and layer-wise optimisation (LO, ``--lo``), the three
variants of Gao, Gu and Marsic (arXiv 2311.12199) on one code path.

    python -m models.splitter.train --out runs/split-pit --minutes 30
    python -m models.splitter.train --out runs/split-dsd-lo --dsd drop --lo --minutes 30
    torchrun --nproc_per_node 4 -m models.splitter.train --out runs/split ...   (DDP)

The examples are a fixed pool (:class:`models.splitter.dataset.DuetPool`) visited in a new order each
epoch, so every example is seen again: DSD remembers its best assignment, and the label-switch rate (the
share of revisited examples whose best assignment changed since their last visit) is logged per epoch to
``OUT/epochs.jsonl``. The loss is the negative SI-SDR under the chosen assignment; with LO it is averaged
over every block's estimates (one shared decoder), all under the assignment chosen at the last block, so
the blocks learn one labelling. Runs on the platform's training loop: resumable, with a progress bar, a
compute budget and validation SI-SDRi."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.platform.distributed import finish_run, setup_run
from models.platform.pit import DSD_MODES, DynamicSampleDropout, best_permutation, reorder, si_sdr_matrix
from models.platform.training import LoopSettings, TrainLoop, add_loop_arguments
from models.splitter.data import RATE
from models.splitter.dataset import DuetBank, DuetPool, usable_clip
from models.splitter.epochs import PoolEpochs, pool_fingerprint
from models.splitter.model import SplitterConfig, SplitterNet
from models.splitter.render import cache_dir


def pit_loss(
    estimates: torch.Tensor, sources: torch.Tensor, ids: np.ndarray, dsd: DynamicSampleDropout
) -> tuple[torch.Tensor | None, torch.Tensor, int]:
    """``estimates`` (R, b, S, n) (R = 1 without LO), ``sources`` (b, S, n) -> (loss, or None when DSD left
    no example; the best assignment at the last block (b, S); examples DSD overruled). The assignment
    trained on is DSD's decision."""
    decision = dsd.decide(ids, si_sdr_matrix(estimates[-1], sources))
    best, keep = decision.best, decision.keep
    if not bool(keep.any()):
        return None, best, decision.overruled  # every example dropped: this batch gives no update
    losses = []
    for est in estimates:
        ordered = reorder(est, decision.perm)
        sdr = si_sdr_matrix(ordered, sources).diagonal(dim1=1, dim2=2).mean(-1)  # (b,)
        losses.append(-sdr[keep].mean())
    return torch.stack(losses).mean(), best, decision.overruled


@torch.no_grad()
def validate(net: SplitterNet, bank: DuetBank, seconds: float = 8.0) -> dict[str, float]:
    """Mean SI-SDRi (dB) over the validation duets, each on a stretch where both sources sound (at most
    ``seconds``, :func:`models.splitter.dataset.usable_clip`)."""
    gains = []
    for i in range(len(bank)):
        clip = usable_clip(bank, i, seconds, net.hop)
        if clip is None:
            continue
        src = torch.from_numpy(clip).unsqueeze(0).to(next(net.parameters()).device)
        mix = src.sum(1, keepdim=True)
        score, _ = best_permutation(si_sdr_matrix(net(mix), src))
        base = si_sdr_matrix(mix.expand_as(src), src).diagonal(dim1=1, dim2=2).mean(-1)
        gains.append(float(score - base))
    return {"si_sdri": float(np.mean(gains)) if gains else float("nan")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the same-timbre splitter (PIT, + DSD, + LO).")
    ap.add_argument("--data", type=Path, default=None, help="duet cache (default: models.splitter.render.cache_dir)")
    ap.add_argument("--songs", type=int, default=0, help="use only the first N training songs (0: all)")
    ap.add_argument("--kinds", default="", help="duet kinds to train on, comma-separated (default: all)")
    ap.add_argument("--dsd", choices=DSD_MODES, default="off", help="dynamic sample dropout: drop or reorder")
    ap.add_argument("--lo", action="store_true", help="layer-wise optimisation: a loss on every block's output")
    ap.add_argument("--p", type=float, default=0.5, help="probability of a random (cross-song) duet")
    ap.add_argument("--pool", type=int, default=1200, help="examples in the fixed training pool")
    ap.add_argument("--segment", type=float, default=2.0, help="seconds per example")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    d = SplitterConfig()
    ap.add_argument("--filters", type=int, default=d.filters, help="encoder filters (N)")
    ap.add_argument("--kernel", type=int, default=d.kernel, help="encoder length in samples (L; hop L/2)")
    ap.add_argument("--bottleneck", type=int, default=d.bottleneck, help="block channels (B)")
    ap.add_argument("--hidden", type=int, default=d.hidden, help="convolution channels (H)")
    ap.add_argument("--blocks", type=int, default=d.blocks, help="stacked blocks (R), each decoded with LO")
    ap.add_argument("--layers", type=int, default=d.layers, help="dilated layers per block (X)")
    ap.add_argument("--valid-songs", type=int, default=8)
    ap.add_argument(
        "--init-from", type=Path, default=None, metavar="CKPT",
        help="start from another run's weights (same network sizes): a continuation on a fresh pool",
    )  # fmt: skip
    add_loop_arguments(ap, updates=100000, valid_every=200, cpu_clock=True)
    args = ap.parse_args(argv)

    run = setup_run(args.threads, args.seed)
    root = cache_dir(args.data)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    cfg = SplitterConfig(
        filters=args.filters,
        kernel=args.kernel,
        bottleneck=args.bottleneck,
        hidden=args.hidden,
        blocks=args.blocks,
        layers=args.layers,
    )
    net = SplitterNet(cfg).to(run.device)
    if args.init_from is not None and not args.resume:
        from models.platform.checkpoint import init_weights

        init_weights(net, args.init_from)
    bank = DuetBank(root / "train", limit=args.songs, kinds=kinds)
    valid = DuetBank(root / "valid", limit=args.valid_songs, kinds=kinds)
    segment = round(args.segment * RATE) // net.hop * net.hop
    pool = DuetPool(bank, args.pool, segment, args.p, seed=args.seed)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-5)
    variant = "pit" + (f"+dsd-{args.dsd}" if args.dsd != "off" else "") + ("+lo" if args.lo else "")
    settings = LoopSettings.from_args(args, "splitter-tasnet", higher_is_better=True, cpu_clock=True, grad_clip=5.0)
    meta = {
        "config": cfg.to_dict(),
        "variant": variant,
        "train_args": {k: str(v) for k, v in vars(args).items()},
        "train_renders": len(bank),
        "pool": {"size": len(pool), "random_mixes": pool.random_mixes},
        "init_from": str(args.init_from) if args.init_from and not args.resume else None,
    }
    loop = TrainLoop(run, net, opt, settings, meta)
    fp = pool_fingerprint(bank.names, seed=args.seed, pool=args.pool, segment=segment, p=args.p, dsd=args.dsd)
    epochs = PoolEpochs(len(pool), cfg.sources, args.dsd, fp, args.seed, run.rank, run.world)
    log = args.out / "epochs.jsonl" if run.rank == 0 else None
    if args.resume and loop.step > 0:
        epochs.resume(args.out, loop.step, log)
    elif log is not None and log.exists():
        log.unlink()  # a fresh run into an old folder: its epochs are not this run's

    def lr_at(_step: int, frac: float) -> float:
        if args.minutes <= 0:
            return float(args.lr)
        return float(args.lr) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))

    def loss(model: nn.Module, _step: int) -> torch.Tensor | None:
        if run.rank > 0 and loop.step > 0 and loop.step % args.valid_every == 0:
            epochs.save(args.out, loop.step)  # rank 0 saves in validation, beside the checkpoint
        ids = epochs.next_ids(args.batch, log, loop.step)
        mix, src = pool.batch(ids)
        x, y = torch.from_numpy(mix).to(run.device), torch.from_numpy(src).to(run.device)
        est = model(x, True) if args.lo else model(x).unsqueeze(0)
        value, best, overruled = pit_loss(est, y, ids, epochs.dsd)
        epochs.switches.update(ids, best)
        epochs.overruled += overruled
        epochs.seen += len(ids)
        return value

    def checked(model: nn.Module) -> tuple[float, dict[str, Any]]:
        v = validate(model, valid)  # type: ignore[arg-type]
        epochs.save(args.out, loop.step)  # beside the checkpoint saved next, so a resumed run keeps its memory
        return v["si_sdri"], v

    def describe(score: float, v: dict[str, Any]) -> str:
        return f"valid SI-SDRi {score:.2f} dB (epoch {epochs.epoch})"

    loop.fit(loss, checked, lr_at, describe)
    finish_run(run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
