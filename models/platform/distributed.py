"""Process setup shared by the training scripts: plain runs and ``torchrun`` (DDP) runs alike."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RunContext:
    device: torch.device
    rank: int
    world: int

    @property
    def ddp(self) -> bool:
        return self.world > 1


def setup_run(threads: int = 0, seed: int = 0) -> RunContext:
    """Pick the device (this rank's GPU under torchrun, else the CPU), join the process group when
    launched with several ranks, set the CPU thread count and the seed."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if torch.cuda.is_available() else "cpu")
    if world > 1:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return RunContext(device, rank, world)


def finish_run(ctx: RunContext) -> None:
    if ctx.ddp:
        torch.distributed.destroy_process_group()
