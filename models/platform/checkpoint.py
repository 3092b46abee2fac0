"""Checkpoints: ``{name, args, state_dict, versions}`` (+ optional ``train_state``), no pickled classes.

Every value is a tensor, number, string, list or dict, so ``torch.load(weights_only=True)`` reads it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

CODEC_VERSION = 1


def versions() -> dict[str, str]:
    import platform

    return {"torch": str(torch.__version__), "python": platform.python_version(), "codec": str(CODEC_VERSION)}


def save_checkpoint(
    path: str | os.PathLike[str],
    name: str,
    args: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    train_state: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically."""
    from engine.files import atomic_path

    ckpt: dict[str, Any] = {"name": name, "args": args, "state_dict": state_dict, "versions": versions()}
    if train_state is not None:
        ckpt["train_state"] = train_state
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``."""
    ckpt: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("name", "args", "state_dict", "versions"):
        if key not in ckpt:
            raise ValueError(f"{path}: not a Refrain checkpoint (missing {key!r})")
    return ckpt


def resume_training(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer) -> dict[str, Any] | None:
    """Load a run's ``last.pt`` into ``net`` and ``opt``; returns its ``train_state`` (None: nothing to resume)."""
    if not path.exists():
        return None
    ck = load_checkpoint(path)
    net.load_state_dict(ck["state_dict"])
    ts: dict[str, Any] = ck["train_state"]
    opt.load_state_dict(ts["optimizer"])
    return ts
