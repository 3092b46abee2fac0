"""Checkpoints: ``{name, args, state_dict, versions}`` (+ optional ``train_state``), no pickled classes.

Every value is a tensor, number, string, list or dict, so ``torch.load(weights_only=True)`` reads it.

**Compact checkpoints** keep a network too big to commit (Open-Unmix: 113 MB of float32 weights, the limit
is 50 MB): every float matrix of at least ``COMPACT_MIN_ELEMENTS`` entries is stored as int8 with one
float32 scale per row (symmetric, round to nearest), everything else as it is, and the optimiser state is
dropped. :func:`load_checkpoint` expands them back to float32, so export and ``--init-from`` read them like
any other; training continues from one with a fresh optimiser (``--init-from``, not ``--resume``).

    python -m models.platform.checkpoint compact runs/sep-umx-v3/last.pt checkpoints/separator/umx.pt
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

CODEC_VERSION = 1
COMPACT_MIN_ELEMENTS = 4096  # smaller tensors (biases, norms) stay float32: they are a rounding error in size
_INT8, _SCALE = ".int8", ".int8_scale"


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
    """Read a checkpoint with ``weights_only=True``; a compact one comes back with float32 weights."""
    ckpt: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("name", "args", "state_dict", "versions"):
        if key not in ckpt:
            raise ValueError(f"{path}: not a Refrain checkpoint (missing {key!r})")
    if any(k.endswith(_INT8) for k in ckpt["state_dict"]):
        ckpt["state_dict"] = expand_state_dict(ckpt["state_dict"])
    return ckpt


def init_weights(net: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """``--init-from``: load another checkpoint's weights into ``net`` (names and sizes must match: a
    RuntimeError lists every mismatch). A compact checkpoint is expanded first; the optimiser starts fresh."""
    net.load_state_dict(load_checkpoint(path)["state_dict"])


def compact_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Float tensors of 2+ dimensions and ``COMPACT_MIN_ELEMENTS``+ entries -> ``name.int8`` (int8, same
    shape) and ``name.int8_scale`` (float32, one per row along dimension 0); the rest unchanged. Each
    weight comes back within half its row's scale (max |row| / 254) from :func:`expand_state_dict`."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if value.is_floating_point() and value.dim() >= 2 and value.numel() >= COMPACT_MIN_ELEMENTS:
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{key} holds a NaN or an infinity: the weights are broken, not worth keeping")
            rows = value.detach().reshape(value.shape[0], -1).float()
            scale = rows.abs().amax(1).clamp_min(1e-30) / 127
            out[key + _INT8] = torch.round(rows / scale[:, None]).to(torch.int8).reshape(value.shape)
            out[key + _SCALE] = scale
        else:
            out[key] = value
    return out


def expand_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`compact_state_dict` (float32 weights; keys as the network names them)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.endswith(_SCALE):
            continue
        if key.endswith(_INT8):
            base = key[: -len(_INT8)]
            rows = value.reshape(value.shape[0], -1).float() * state_dict[base + _SCALE][:, None]
            out[base] = rows.reshape(value.shape)
        else:
            out[key] = value
    return out


def compact_checkpoint(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> dict[str, int]:
    """Write ``src`` as a compact checkpoint at ``dst`` (no optimiser state; ``train_state`` keeps step,
    best and seconds); returns the sizes in bytes. ValueError for a file that is not a checkpoint."""
    size_in = Path(src).stat().st_size  # before the write: src and dst may be one file
    ck = load_checkpoint(src)
    ts = {k: v for k, v in ck.get("train_state", {}).items() if k in ("step", "best", "seconds")}
    save_checkpoint(dst, ck["name"], ck["args"], compact_state_dict(ck["state_dict"]), ts)
    return {"bytes_in": size_in, "bytes_out": Path(dst).stat().st_size}


def resume_training(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer) -> dict[str, Any] | None:
    """Load a run's ``last.pt`` into ``net`` and ``opt``; returns its ``train_state`` (None: nothing to resume)."""
    if not path.exists():
        return None
    ck = load_checkpoint(path)
    ts: dict[str, Any] = ck.get("train_state", {})
    if "optimizer" not in ts:
        raise ValueError(f"{path} has no optimiser state (a compact checkpoint?): start from it with --init-from")
    net.load_state_dict(ck["state_dict"])
    opt.load_state_dict(ts["optimizer"])
    return ts


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Checkpoint tools.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compact", help="int8 weights with per-row scales, no optimiser state (about 4x smaller)")
    c.add_argument("src", type=Path)
    c.add_argument("dst", type=Path)
    a = ap.parse_args(argv)
    print(json.dumps(compact_checkpoint(a.src, a.dst)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
