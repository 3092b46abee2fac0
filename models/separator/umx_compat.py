"""A stand-in for ``torchaudio`` so ``openunmix.model`` imports without it.

Open-Unmix imports torchaudio at module level for its file loading and resampling helpers, which
Refrain never calls (it computes the STFT itself). torchaudio's only wheel for this torch is a CUDA
build of several GB, so an empty module takes its place; touching any attribute says why it is empty."""

from __future__ import annotations

import sys
import types
from typing import Any


class _Absent(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"torchaudio.{name} is not available: Refrain installs a stand-in (models/separator/umx_compat.py)"
        )


def install() -> None:
    """Register the stand-in unless a real torchaudio is importable."""
    if "torchaudio" in sys.modules:
        return
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        sys.modules["torchaudio"] = _Absent("torchaudio")
