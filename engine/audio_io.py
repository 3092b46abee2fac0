"""Audio file writing. Arrays are (channels, samples) float32."""

from __future__ import annotations

import os

import numpy as np

SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, bits: str = "16") -> None:
    """Write WAV/FLAC atomically (temporary file, then rename); the format follows the suffix."""
    import soundfile as sf

    from models.fileutil import atomic_path

    subtype = SUBTYPES[bits]
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.ascontiguousarray(audio.T), sample_rate, subtype=subtype, format=_format_of(path))


def _format_of(path: str | os.PathLike[str]) -> str:
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    return {"wav": "WAV", "flac": "FLAC"}.get(suffix, "WAV")
