"""Train the balance controller on the example cache (:mod:`models.automix.examples`), on the platform's
training loop (resumable, progress, compute budget, DDP under torchrun).

    python -m models.automix.examples --set train --per-song 8
    python -m models.automix.train --out runs/automix --minutes 5

The loss compares each stem's predicted settings with the target strip: the gain after removing the set's
mean from both (only relative levels matter; the master sets the overall level), the pan, the two shelf
gains, and the role (cross-entropy). The last 10 % of the training songs validate. ``--booster`` adds the
booster's per-stem summaries to the input (the cache must hold them); ``--songs N`` trains on the first N
training songs only (the booster ablation's low-data arm, :mod:`models.automix.ablation`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from models.automix.controller import SETTINGS, Controller, ControllerConfig
from models.automix.examples import cache_dir
from models.platform.distributed import finish_run, setup_run
from models.platform.training import LoopSettings, TrainLoop, add_loop_arguments

MAX_STEMS = 4
WEIGHTS = torch.tensor([1.0 / 9.0, 4.0, 1.0 / 9.0, 1.0 / 9.0])  # gain and shelves in 3-dB units, pan as is


class SetData:
    """The examples of an ``.npz`` as padded tensors: features (n, 4, F), targets (n, 4, 5), mask (n, 4).
    With ``booster`` the booster's summaries follow the features (F = len(NAMES) + SUMMARY_DIM); raises
    SystemExit when the cache has none."""

    def __init__(self, path: Path, songs: slice | None = None, booster: bool = False) -> None:
        d = np.load(path)
        if booster and "booster" not in d:
            raise SystemExit(f"{path} has no booster summaries: rebuild it without --no-booster")
        counts = d["counts"]
        offsets = np.concatenate([[0], np.cumsum(counts)])
        song_ids = d["ids"][:, 0]
        order = sorted(set(song_ids.tolist()))
        chosen = set(order[songs]) if songs is not None else set(order)
        rows = [i for i in range(len(counts)) if song_ids[i] in chosen]
        f, t = d["features"], d["targets"]
        if booster:
            f = np.concatenate([f, d["booster"]], 1)
        self.x = torch.zeros(len(rows), MAX_STEMS, f.shape[1])
        self.y = torch.zeros(len(rows), MAX_STEMS, t.shape[1])
        self.mask = torch.zeros(len(rows), MAX_STEMS)
        for j, i in enumerate(rows):
            a, b = offsets[i], offsets[i + 1]
            self.x[j, : b - a] = torch.from_numpy(f[a:b])
            self.y[j, : b - a] = torch.from_numpy(t[a:b])
            self.mask[j, : b - a] = 1.0

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def normalisation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of the features as the network sees them (loudness relative to the set's mean)."""
        m = self.mask.unsqueeze(-1)
        lufs = self.x[..., :1]
        rel = lufs - (lufs * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)
        x = torch.cat([rel, self.x[..., 1:]], -1)[self.mask > 0]
        return x.mean(0), x.std(0)


def controller_loss(out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """(loss, per-part errors: gain/EQ RMS dB, pan RMS, role accuracy)."""
    m = mask
    count = m.sum(1, keepdim=True).clamp(min=1)
    pred = out[..., : len(SETTINGS)]
    gain = pred[..., 0] - (pred[..., 0] * m).sum(1, keepdim=True) / count
    diff = torch.stack([gain - y[..., 0], *(pred[..., i] - y[..., i] for i in range(1, len(SETTINGS)))], -1)
    sq = (diff**2) * m.unsqueeze(-1)
    n = m.sum().clamp(min=1)
    reg = (sq * WEIGHTS.to(out)).sum() / n
    logits = out[..., len(SETTINGS) :][m > 0]
    roles = y[..., -1][m > 0].long()
    ce = F.cross_entropy(logits, roles)
    rms = (sq.detach().sum((0, 1)) / n).sqrt()
    acc = float((logits.argmax(-1) == roles).float().mean())
    parts = {
        "gain_db": float(rms[0]),
        "pan": float(rms[1]),
        "low_db": float(rms[2]),
        "high_db": float(rms[3]),
        "role_acc": acc,
    }
    return reg + ce, parts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the auto-mixer's balance controller.")
    ap.add_argument(
        "--data", type=Path, default=None, help="example cache (default: models.automix.examples.cache_dir)"
    )
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--hidden", type=int, default=ControllerConfig().hidden)
    ap.add_argument("--dropout", type=float, default=ControllerConfig().dropout)
    ap.add_argument("--weight-decay", type=float, default=1e-2)
    ap.add_argument("--booster", action="store_true", help="add the booster's per-stem summaries to the input")
    ap.add_argument("--songs", type=int, default=0, help="train on the first N training songs only (0: all)")
    add_loop_arguments(ap, updates=6000, valid_every=500, cpu_clock=True)
    args = ap.parse_args(argv)
    run = setup_run(args.threads, args.seed)
    root = cache_dir(None if args.data is None else str(args.data))
    path = root / "train.npz"
    if not path.exists():
        raise SystemExit(f"no example cache at {path}: run python -m models.automix.examples --set train")
    songs = len(set(np.load(path)["ids"][:, 0].tolist()))
    cut = max(1, songs // 10)
    used = songs - cut if args.songs <= 0 else min(args.songs, songs - cut)
    train = SetData(path, slice(0, used), args.booster)
    valid = SetData(path, slice(songs - cut, songs), args.booster)
    for data in (train, valid):
        data.x, data.y, data.mask = data.x.to(run.device), data.y.to(run.device), data.mask.to(run.device)
    cfg = ControllerConfig(
        features=int(train.x.shape[-1]), hidden=args.hidden, dropout=args.dropout, booster=args.booster
    )
    net = Controller(cfg).to(run.device)
    net.set_normalisation(*train.normalisation())
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    meta = {"config": cfg.to_dict(), "examples": {"train": len(train), "valid": len(valid)}, "songs": used}
    loop = TrainLoop(run, net, opt, LoopSettings.from_args(args, "automix-controller", cpu_clock=True), meta)
    gen = torch.Generator().manual_seed(args.seed + run.rank)

    def loss(model: nn.Module, _step: int) -> torch.Tensor:
        idx = torch.randint(0, len(train), (args.batch,), generator=gen).to(run.device)
        out = model(train.x[idx], train.mask[idx])
        value, _ = controller_loss(out, train.y[idx], train.mask[idx])
        return value

    def validate(model: nn.Module) -> tuple[float, dict[str, float]]:
        value, parts = controller_loss(model(valid.x, valid.mask), valid.y, valid.mask)
        return float(value), parts

    def lr_at(step: int, frac: float) -> float:
        return float(args.lr) * max(0.05, 1 - frac)

    loop.fit(loss, validate, lr_at, lambda s, d: f"valid {s:.3f} gain {d['gain_db']:.2f} dB role {d['role_acc']:.2f}")
    finish_run(run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
