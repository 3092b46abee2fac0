"""The one training loop every family runs: resume, a progress bar, a compute budget whose stop every DDP
rank agrees on, validation, and last/best checkpoints with a JSON-lines log.

A family supplies its network, optimiser, a ``loss(model, step)`` function, a ``validate(net)`` function
and a learning-rate schedule; everything else is here. Under ``torchrun`` each rank runs the same loop; the
budget check is all-reduced each update, so no rank stops alone and leaves the others waiting forever.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.platform.checkpoint import resume_training, save_checkpoint
from models.platform.distributed import RunContext

LossFn = Callable[[nn.Module, int], torch.Tensor | None]  # None: this batch gives no update (every rank skips)
ValidateFn = Callable[[nn.Module], tuple[float, dict[str, Any]]]  # (score, details) on rank 0
LrFn = Callable[[int, float], float]  # (update, fraction of the budget spent) -> learning rate


@dataclass
class LoopSettings:
    """``minutes``: the budget (0: none) for the whole run, resumed parts included, counted in process CPU
    time on a CPU when ``cpu_clock`` (fair when other work shares the machine) and in wall time otherwise
    and on a GPU."""

    out: Path
    name: str  # the checkpoint's name, e.g. "generator-sing"
    updates: int
    minutes: float = 0.0
    valid_every: int = 250
    higher_is_better: bool = False
    cpu_clock: bool = False
    grad_clip: float = 1.0
    resume: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace, name: str, **family: Any) -> LoopSettings:
        """Settings from the options :func:`add_loop_arguments` added, plus the family's own (``higher_is_better``,
        ``cpu_clock``, ``grad_clip``)."""
        return cls(
            out=args.out, name=name, updates=args.updates, minutes=args.minutes, valid_every=args.valid_every,
            resume=args.resume, **family,
        )  # fmt: skip


def add_loop_arguments(ap: argparse.ArgumentParser, updates: int, valid_every: int, cpu_clock: bool) -> None:
    """The options every training script shares: run folder, length, budget, validation, threads, seed, resume."""
    clock = "process CPU minutes on a CPU (fair when other work shares the machine), wall minutes on a GPU"
    ap.add_argument("--out", type=Path, required=True, help="run folder (OUT/last.pt, OUT/best.pt, OUT/log.jsonl)")
    ap.add_argument("--updates", type=int, default=updates)
    ap.add_argument(
        "--minutes",
        type=float,
        default=0.0,
        help=f"budget: stop after this much compute ({clock if cpu_clock else 'wall minutes'}; 0: none)",
    )
    ap.add_argument("--valid-every", type=int, default=valid_every)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="continue OUT/last.pt")


class TrainLoop:
    def __init__(
        self, run: RunContext, net: nn.Module, opt: torch.optim.Optimizer, settings: LoopSettings, meta: dict[str, Any]
    ) -> None:
        self.run, self.net, self.opt, self.s, self.meta = run, net, opt, settings, meta
        self.step = 0
        self.best = -math.inf if settings.higher_is_better else math.inf
        self.spent = 0.0
        self.last = settings.out / "last.pt"
        ts = resume_training(self.last, net, opt) if settings.resume else None
        if ts is not None:
            self.step, self.best, self.spent = int(ts["step"]), float(ts["best"]), float(ts.get("seconds", 0.0))
            if run.rank == 0:
                print(f"resumed {self.last} at update {self.step} (best {self.best:.4g})", file=sys.stderr)
        self.model: nn.Module = nn.parallel.DistributedDataParallel(net) if run.ddp else net

    def _clock(self) -> float:
        cpu = self.s.cpu_clock and self.run.device.type != "cuda"
        return time.process_time() if cpu else time.monotonic()

    def _agreed(self, stop: bool) -> bool:
        """Whether any rank wants to stop (every rank gets the same answer)."""
        if not self.run.ddp:
            return stop
        flag = torch.tensor([1.0 if stop else 0.0], device=self.run.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item() > 0)

    def save(self, path: Path) -> None:
        state = {"step": self.step, "optimizer": self.opt.state_dict(), "best": self.best, "seconds": self.spent}
        save_checkpoint(path, self.s.name, self.meta, self.net.state_dict(), state)

    def fit(
        self, loss_fn: LossFn, validate: ValidateFn, lr_at: LrFn, describe: Callable[[float, dict[str, Any]], str]
    ) -> None:
        """Train until ``updates`` or the budget; validate every ``valid_every`` updates and at the end.
        ``describe(score, details)`` is the validation part of the progress line."""
        from tqdm import tqdm

        s, rank = self.s, self.run.rank
        s.out.mkdir(parents=True, exist_ok=True)
        budget = s.minutes * 60
        t0 = self._clock() - self.spent
        bar = tqdm(total=s.updates, initial=self.step, disable=rank != 0, file=sys.stderr, dynamic_ncols=True)
        ema: float | None = None
        while self.step < s.updates:
            frac = min(1.0, self.spent / budget) if budget > 0 else self.step / max(1, s.updates)
            lr = lr_at(self.step, frac)
            for group in self.opt.param_groups:
                group["lr"] = lr
            loss = loss_fn(self.model, self.step)
            if self._agreed(loss is None):  # e.g. dynamic sample dropout left nothing to learn from
                self.spent = self._clock() - t0
                if self._agreed(budget > 0 and self.spent > budget):
                    if rank == 0:
                        self._validate(validate, ema if ema is not None else float("nan"), bar, describe)
                    break
                continue
            assert loss is not None
            self.opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(self.net.parameters(), s.grad_clip)
            self.opt.step()
            self.step += 1
            self.spent = self._clock() - t0
            lv = float(loss.detach())
            ema = lv if ema is None else 0.98 * ema + 0.02 * lv
            bar.update(1)
            bar.set_postfix(loss=f"{ema:.4f}", lr=f"{lr:.1e}")
            stop = self._agreed(budget > 0 and self.spent > budget)
            if rank == 0 and (self.step % s.valid_every == 0 or self.step == s.updates or stop):
                self._validate(validate, ema, bar, describe)
            if stop:
                break
        bar.close()

    def _validate(
        self, validate: ValidateFn, ema: float, bar: Any, describe: Callable[[float, dict[str, Any]], str]
    ) -> None:
        self.net.eval()
        with torch.no_grad():
            score, details = validate(self.net)
        self.net.train()
        better = score > self.best if self.s.higher_is_better else score < self.best
        if better:
            self.best = score
        self.save(self.last)
        if better:
            self.save(self.s.out / "best.pt")
        line = {"step": self.step, "seconds": round(self.spent), "loss": ema, "valid": details}
        with open(self.s.out / "log.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
        bar.write(
            f"update {self.step} ({self.spent / 60:.1f} min): loss {ema:.4f} {describe(score, details)}"
            f"{' *' if better else ''}"
        )
