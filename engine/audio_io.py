"""Audio file reading and writing. Arrays are (channels, samples) float32."""

from __future__ import annotations

import os

import numpy as np

SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, bits: str = "16") -> None:
    """Write WAV/FLAC atomically (temporary file, then rename); the format follows the suffix."""
    import soundfile as sf

    from models.fileutil import atomic_path

    subtype = SUBTYPES[bits]
    if bits != "float":  # integer formats would wrap around above full scale
        audio = np.clip(audio, -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.ascontiguousarray(audio.T), sample_rate, subtype=subtype, format=_format_of(path))


def _format_of(path: str | os.PathLike[str]) -> str:
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    return {"wav": "WAV", "flac": "FLAC"}.get(suffix, "WAV")


def read_audio(
    path: str | os.PathLike[str], sample_rate: int | None = None, max_channels: int | None = 2
) -> tuple[np.ndarray, int]:
    """Decode WAV/FLAC/OGG/MP3 to (channels, frames) float32, resampled with soxr when ``sample_rate`` is given.

    Mono and stereo are kept as they are (a mono clip plays centred); more channels is an error because
    a silent down-mix would change what the user hears.
    """
    import soundfile as sf

    from models.errors import UserError

    p = os.fspath(path)
    if not os.path.isfile(p):
        raise UserError(f"no such audio file: {p}")
    try:
        data, sr = sf.read(p, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports every decoding problem as a generic error
        raise UserError(f"cannot decode audio file {p}: {exc}") from exc
    if max_channels is not None and data.shape[1] > max_channels:
        raise UserError(f"{p} has {data.shape[1]} channels; Refrain tracks are mono or stereo (down-mix it first)")
    if data.shape[0] == 0:
        raise UserError(f"{p} contains no audio")
    audio = np.ascontiguousarray(data.T)
    if sample_rate is not None and sr != sample_rate:
        import soxr

        audio = np.ascontiguousarray(soxr.resample(data, sr, sample_rate, quality="HQ").T.astype(np.float32))
        sr = sample_rate
    return audio, int(sr)
