"""The one audio read/write path. Arrays are (channels, frames) float32.

Reading streams blocks through libsndfile (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...). A file gives the
same samples whether it is read whole or in blocks of any size: :class:`AudioReader` calls libsndfile's
read directly, because soundfile's ``SoundFile.read`` seeks to the new position after every read, and a
seek inside an MP3 restarts the decoder (every block boundary became a burst of garbage). Non-finite
samples are a one-line error; a truncated WAV is read as far as it goes, with a one-line warning.

Writing goes through :mod:`engine.files`, so a file appears whole or not at all. Integer formats clip at
full scale (never wrap) and say how many samples were clipped.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError, warn
from engine.files import atomic_path, mount_point, os_error

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".w64", ".caf")
SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
WRITE_FORMATS = {"wav": "WAV", "flac": "FLAC"}
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
BLOCK_FRAMES = 1 << 16  # frames per block when a file is streamed
WHOLE_READ_FRAMES = 1 << 20  # frames per read call when a whole file is decoded into memory


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds: rate, channel count, the frame count its header declares, and its encoding."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def is_float(self) -> bool:
        """Float PCM: samples may lie beyond full scale, so outputs should stay float (or warn)."""
        return self.subtype in FLOAT_SUBTYPES

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _sf() -> Any:
    import soundfile

    return soundfile


class AudioReader:
    """Streams a file as (channels, n) float32 blocks. Use it as a context manager.

    Raises :class:`UserError` for a missing or undecodable file, more than ``max_channels`` channels, or
    non-finite samples (with the time of the first one)."""

    def __init__(self, path: str | os.PathLike[str], max_channels: int | None = None) -> None:
        sf = _sf()
        p = os.fspath(path)
        if not os.path.isfile(p):
            raise UserError(f"no such audio file: {p}")
        try:
            self._file = sf.SoundFile(p)
        except Exception as exc:  # libsndfile reports every decoding problem as one generic error
            raise UserError(f"cannot decode audio file {p}: {_one_line(exc)}") from None
        f = self._file
        self.info = AudioInfo(p, int(f.samplerate), int(f.channels), int(f.frames), str(f.format), str(f.subtype))
        if max_channels is not None and self.info.channels > max_channels:
            self.close()
            raise UserError(
                f"{p} has {self.info.channels} channels; Refrain tracks are mono or stereo (down-mix it first)"
            )
        self.frames_read = 0
        self._declared = _wav_declared_frames(p, self.info) if self.info.format in ("WAV", "WAVEX") else None
        self._ended = False

    def read(self, frames: int) -> np.ndarray:
        """Up to ``frames`` frames as (channels, n); n is 0 at the end of the file."""
        out = np.empty((max(0, frames), self.info.channels), np.float32)
        n = self.read_into(out)
        return np.ascontiguousarray(out[:n].T)

    def read_into(self, out: np.ndarray) -> int:
        """Decode up to ``len(out)`` frames into ``out``, a C-contiguous (frames, channels) float32 array (the
        file's own layout, so nothing is copied); returns the frames read, 0 at the end of the file."""
        sf = _sf()
        n = 0
        if out.shape[0] > 0 and not self._ended:
            ptr = sf._ffi.cast("float*", sf._ffi.from_buffer(out))
            n = int(sf._snd.sf_readf_float(self._file._file, ptr, out.shape[0]))
            if n < 0:
                raise UserError(f"cannot decode audio file {self.info.path}")
        block = out[:n]
        if n and not np.isfinite(block).all():
            bad = int(np.argmax(~np.isfinite(block).all(axis=1)))
            at = (self.frames_read + bad) / self.info.sample_rate
            raise UserError(f"{self.info.path} contains non-finite samples (NaN or infinity) at {at:.3f} s")
        self.frames_read += n
        if n == 0 and not self._ended:
            self._ended = True
            self._check_complete()
        return n

    def blocks(self, frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        while True:
            b = self.read(frames)
            if b.shape[1] == 0:
                return
            yield b

    def _check_complete(self) -> None:
        if self._declared is not None and self.frames_read < self._declared:
            rate = self.info.sample_rate
            warn(
                f"{self.info.path} is truncated: its header promises {self._declared / rate:.2f} s, "
                f"the file holds {self.frames_read / rate:.2f} s (read as far as it goes)"
            )

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _one_line(exc: BaseException) -> str:
    """libsndfile's message without its "Error opening '<path>': " prefix (the caller names the file)."""
    text = re.sub(r"^Error opening '.*?': ", "", " ".join(str(exc).split()))
    return text or type(exc).__name__


def _wav_declared_frames(path: str, info: AudioInfo) -> int | None:
    """The frame count a RIFF/WAVE header declares in its ``data`` chunk (libsndfile silently shortens it to
    what the file holds, so a cut-off download would otherwise pass unnoticed)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = 0
            while True:
                ch = fh.read(8)
                if len(ch) < 8:
                    return None
                cid, size = ch[:4], int(struct.unpack("<I", ch[4:])[0])
                if cid == b"fmt ":
                    fmt = fh.read(size)
                    block_align = int(struct.unpack("<H", fmt[12:14])[0]) if len(fmt) >= 14 else 0
                    size -= len(fmt)
                elif cid == b"data":
                    if size in (0, 0xFFFFFFFF) or not block_align:  # streamed WAVs (ffmpeg to a pipe) leave it unset
                        return None
                    return size // block_align
                fh.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    """The file's :class:`AudioInfo` (opens and closes it)."""
    with AudioReader(path) as r:
        return r.info


def read_audio(
    path: str | os.PathLike[str], sample_rate: int | None = None, max_channels: int | None = 2
) -> tuple[np.ndarray, int]:
    """Decode a whole file to (channels, frames) float32, resampled with soxr when ``sample_rate`` is given.

    Mono and stereo are kept as they are (a mono clip plays centred); more channels than ``max_channels``
    is an error because a silent down-mix would change what the user hears."""
    with AudioReader(path, max_channels) as r:
        # Straight into one buffer of the declared length, in the file's layout (one transposing copy at the
        # end, as a whole-file read makes); grown only if the header under-counts (MP3 frame counts can).
        buf = np.empty((max(r.info.frames, 1), r.info.channels), np.float32)
        n = 0
        while True:
            if n == buf.shape[0]:
                buf = np.concatenate([buf, np.empty_like(buf)])
            got = r.read_into(buf[n : n + WHOLE_READ_FRAMES])
            if got == 0:
                break
            n += got
        sr = r.info.sample_rate
    if n == 0:
        raise UserError(f"{os.fspath(path)} contains no audio")
    to = sample_rate if sample_rate is not None else sr
    return _resample_frames(buf[:n], sr, to), int(to)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """(channels, frames) from one rate to another with soxr (HQ)."""
    return _resample_frames(np.ascontiguousarray(audio.T), from_rate, to_rate)


def _resample_frames(frames: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """(frames, channels), the file's layout, to (channels, frames) at ``to_rate``: one copy fewer."""
    import soxr

    out = frames if from_rate == to_rate else soxr.resample(frames, from_rate, to_rate, quality="HQ")
    return np.ascontiguousarray(np.asarray(out, np.float32).T)


# -- writing --------------------------------------------------------------------------------------------------
def check_output(path: str | os.PathLike[str], bits: str, folder_exists: bool = False) -> str:
    """The libsndfile container for ``path``'s suffix; UserError for an unknown suffix or sample format, and
    (with ``folder_exists``) for a folder that does not exist, so a long job fails before its work."""
    if bits not in SUBTYPES:
        raise UserError(f"unknown sample format {bits!r} (choose {', '.join(SUBTYPES)})")
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in WRITE_FORMATS:
        raise UserError(f"output must be .wav or .flac, not {Path(path).name}")
    if suffix == "flac" and bits == "float":
        raise UserError("FLAC stores integers only: use 16 or 24 bits")
    if folder_exists:
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(folder):
            raise UserError(f"output folder does not exist: {folder}")
    return WRITE_FORMATS[suffix]


class AudioSink:
    """Writes (channels, n) blocks to an open file (normally an :func:`engine.files.atomic_files` temporary).
    Integer formats clip at full scale; :meth:`close` warns once with the number of clipped samples."""

    def __init__(
        self, path: str | os.PathLike[str], sample_rate: int, channels: int, bits: str, name: str | None = None
    ) -> None:
        container = check_output(name or path, bits)
        self.name = name or os.fspath(path)
        self.clip = bits != "float"
        self.clipped = 0
        self.peak = 0.0
        try:
            self._file = _sf().SoundFile(
                os.fspath(path), "w", samplerate=sample_rate, channels=channels, subtype=SUBTYPES[bits],
                format=container,
            )  # fmt: skip
        except Exception as exc:
            raise UserError(f"cannot write {self.name}: {_one_line(exc)}") from None

    def write(self, block: np.ndarray) -> None:
        data = np.ascontiguousarray(block.T, dtype=np.float32)
        magnitude = np.abs(data)
        if data.size:
            self.peak = max(self.peak, float(magnitude.max()))
        if self.clip:
            over = magnitude > 1.0
            if over.any():
                self.clipped += int(over.sum())
                data = np.clip(data, -1.0, 1.0)  # integer formats would wrap around above full scale
        try:
            self._file.write(data)
        except Exception as exc:
            raise _write_error(exc, self.name) from None

    def close(self, report: bool = True) -> None:
        try:
            self._file.close()
        except Exception as exc:
            raise _write_error(exc, self.name) from None
        if report and self.clipped:
            warn(
                f"{self.name}: {self.clipped} samples were beyond full scale (peak {self.peak:.2f}) and were "
                "clipped; write 32-bit float (--bits float) to keep them"
            )


def _write_error(exc: BaseException, name: str) -> UserError:
    if isinstance(exc, OSError):
        return os_error(exc, name)
    folder = os.path.dirname(os.path.abspath(name))
    try:
        full = shutil.disk_usage(folder).free < (1 << 20)
    except OSError:
        full = False
    if full:  # libsndfile says only "System error"; an empty disk is the usual cause
        return os_error(OSError(errno.ENOSPC, "no space left"), name)
    return UserError(f"cannot write {name} ({mount_point(name)}): {_one_line(exc)}")


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, bits: str = "16") -> None:
    """Write WAV/FLAC (the suffix decides) all-or-nothing; integer formats clip, with a warning."""
    check_output(path, bits)
    with atomic_path(path) as tmp:
        write_audio_into(tmp, audio, sample_rate, bits, name=os.fspath(path))


def write_audio_into(tmp: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, bits: str, name: str) -> None:
    """Write ``audio`` to ``tmp``, a temporary file of an atomic write (:mod:`engine.files`) whose target is
    ``name`` (what messages call it); for outputs that commit together with other files."""
    sink = AudioSink(tmp, sample_rate, int(audio.shape[0]), bits, name=name)
    try:
        sink.write(audio)
    except BaseException:
        sink.close(report=False)
        raise
    sink.close()
