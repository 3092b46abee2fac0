"""Stem separation at run time: onnxruntime for the network, numpy for the STFT, streaming I/O.

A file is read block by block, resampled to the model's rate, cut into overlapping chunks whose outputs
are cross-faded with complementary linear ramps, resampled back and written stem by stem into temporary
files that are renamed only when everything succeeded. Memory stays constant whatever the length.

Any sample rate and channel count: stereo goes through the network as is; mono and 3+ channels get
masks computed from their mono downmix and applied to every channel. The masks of every stem add up to
one, so the stems add up to the input (up to resampling).

A model is a folder with ``model.onnx`` (input ``mag`` (batch, 2, bins, frames) magnitudes, output
``masks`` (batch, stems, 2, bins, frames)) and ``model.json`` with ``sample_rate``, ``n_fft``, ``hop``,
``stems`` and ``sha256``; any separation model exported that way loads through this path."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft

from models.errors import Cancelled, UserError
from models.runtime import OnnxModel, model_dir

DEFAULT_MODEL = "separator"
CHUNK_SECONDS = 20.0
OVERLAP_SECONDS = 1.0
BLOCK_FRAMES = 1 << 16  # frames read from the input at a time
BITS = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
WORKERS = os.cpu_count() or 1  # scipy's FFT threads over frames


# -- STFT (matches torch.stft(center=True, window=hann_window(n_fft))) ------------------------------------
def hann(n_fft: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(channels, samples) -> complex64 (channels, bins, frames)."""
    pad = n_fft // 2
    xp = np.pad(x, ((0, 0), (pad, pad)), mode="reflect") if x.shape[-1] > pad else np.pad(x, ((0, 0), (pad, pad)))
    frames = 1 + (xp.shape[-1] - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = scipy.fft.rfft(xp[:, idx] * hann(n_fft), axis=-1, workers=WORKERS)  # (channels, frames, bins)
    return np.ascontiguousarray(spec.transpose(0, 2, 1)).astype(np.complex64)


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """complex (..., bins, frames) -> float32 (..., length); the inverse of :func:`stft` (n_fft % hop == 0)."""
    lead, frames = spec.shape[:-2], spec.shape[-1]
    r = n_fft // hop
    w = hann(n_fft)
    seg = scipy.fft.irfft(np.moveaxis(spec, -1, -2), n=n_fft, axis=-1, workers=WORKERS).astype(np.float32) * w
    seg = seg.reshape(*lead, frames, r, hop)
    out = np.zeros((*lead, hop * (frames + r - 1)), np.float32)
    norm = np.zeros(hop * (frames + r - 1), np.float32)
    ww = (w * w).reshape(r, hop)
    for k in range(r):  # frame f's k-th hop lands at (f + k) * hop: one contiguous add per k
        out[..., k * hop : (k + frames) * hop] += seg[..., :, k, :].reshape(*lead, frames * hop)
        norm[k * hop : (k + frames) * hop] += np.tile(ww[k], frames)
    pad = n_fft // 2
    res = out[..., pad : pad + length] / np.maximum(norm[pad : pad + length], 1e-8)
    if res.shape[-1] < length:
        res = np.concatenate([res, np.zeros((*lead, length - res.shape[-1]), np.float32)], -1)
    return res


# -- the model ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeparatorInfo:
    name: str
    sample_rate: int
    n_fft: int
    hop: int
    stems: tuple[str, ...]


class Separator:
    """A separation model loaded for inference."""

    def __init__(self, model: str | os.PathLike[str] = DEFAULT_MODEL, threads: int = 0) -> None:
        folder = model_dir(os.fspath(model))
        self.model = OnnxModel(folder / "model.onnx", threads or (os.cpu_count() or 1))
        m = self.model.meta
        try:
            self.info = SeparatorInfo(
                str(m.get("name", folder.name)),
                int(m["sample_rate"]),
                int(m["n_fft"]),
                int(m["hop"]),
                tuple(str(s) for s in m["stems"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"{folder}/model.json is not a separator sidecar (needs sample_rate, n_fft, hop, stems)"
            ) from exc
        if "mag" not in self.model.input_names or "masks" not in self.model.output_names:
            raise UserError(f"{folder}/model.onnx must take 'mag' and return 'masks'")

    @property
    def stems(self) -> tuple[str, ...]:
        return self.info.stems

    def separate_chunk(self, x: np.ndarray) -> np.ndarray:
        """(channels, samples) at the model rate -> (stems, channels, samples)."""
        return self.invert(*self.masks(x))

    def masks(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """The network half of :meth:`separate_chunk`: (mixture STFT, masks, samples)."""
        n_fft, hop = self.info.n_fft, self.info.hop
        n = x.shape[-1]
        if n < n_fft:  # too short for one frame: pad now, cut in invert
            padded = np.zeros((x.shape[0], n_fft), np.float32)
            padded[:, :n] = x
            x = padded
        spec = stft(x, n_fft, hop)  # (c, f, t)
        net_in = spec[:2] if x.shape[0] == 2 else np.repeat(stft(x.mean(0, keepdims=True), n_fft, hop), 2, 0)
        mag = np.abs(net_in)[None].astype(np.float32)
        masks = self.model.predict({"mag": mag})["masks"][0]  # (s, 2, f, t)
        if x.shape[0] != 2:
            masks = masks.mean(1, keepdims=True)  # one mask per stem for every channel
        return spec, masks, n

    def invert(self, spec: np.ndarray, masks: np.ndarray, n: int) -> np.ndarray:
        """The signal half of :meth:`separate_chunk`: masked STFTs back to (stems, channels, n) samples."""
        n_fft, hop = self.info.n_fft, self.info.hop
        length = max(n, n_fft)
        # one stem at a time: the inverse FFT's buffers are the largest arrays here
        return np.stack([istft(m * spec, n_fft, hop, length)[..., :n] for m in masks])


# -- streaming a file ---------------------------------------------------------------------------------------
def _open_input(path: str | os.PathLike[str]) -> Any:
    import soundfile as sf

    p = os.fspath(path)
    if not os.path.isfile(p):
        raise UserError(f"no such file: {p}")
    try:
        f = sf.SoundFile(p)
    except Exception as exc:
        raise UserError(f"cannot read {p}: not an audio file soundfile can decode ({exc})") from exc
    if f.frames == 0 or f.channels < 1:
        f.close()
        raise UserError(f"{p} has no audio")
    return f


def separate_file(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    stems: Sequence[str] | None = None,
    without: str | None = None,
    model: str | os.PathLike[str] | Separator = DEFAULT_MODEL,
    bits: str = "24",
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    chunk_seconds: float = CHUNK_SECONDS,
) -> dict[str, Path]:
    """Write ``out_dir/<stem>.wav`` for each stem (and ``no_<without>.wav``: the sum of the others) at
    the input's rate and channel count. All or nothing: no file appears unless every one is complete."""
    import soundfile as sf
    import soxr

    sep = model if isinstance(model, Separator) else Separator(model)
    wanted = list(stems) if stems else list(sep.stems)
    unknown = [s for s in wanted + ([without] if without else []) if s not in sep.stems]
    if unknown:
        raise UserError(f"unknown stem {unknown[0]!r}; this model has {', '.join(sep.stems)}")
    if bits not in BITS:
        raise UserError(f"bits must be one of {', '.join(BITS)}")
    src = _open_input(input_path)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        src.close()
        raise UserError(f"cannot create {out}: {exc.strerror}") from exc
    rate, chans, total = int(src.samplerate), int(src.channels), int(src.frames)
    mrate = sep.info.sample_rate
    names = wanted + ([f"no_{without}"] if without else [])
    targets = {n: out / f"{n}.wav" for n in names}
    temps = {n: out / f".{n}.part.wav" for n in names}
    writers: dict[str, Any] = {}
    chunk = max(round(chunk_seconds * mrate), 4 * sep.info.n_fft)
    overlap = min(round(OVERLAP_SECONDS * mrate), chunk // 4)
    up = np.linspace(0.0, 1.0, overlap, endpoint=False, dtype=np.float32) + np.float32(0.5 / max(1, overlap))
    s_index = [sep.stems.index(s) for s in wanted]
    w_index = sep.stems.index(without) if without else None
    stage2 = ThreadPoolExecutor(1, thread_name_prefix="separate-write")
    try:
        for n in names:
            writers[n] = sf.SoundFile(temps[n], "w", samplerate=rate, channels=chans, subtype=BITS[bits], format="WAV")
        to_model = soxr.ResampleStream(rate, mrate, chans, dtype="float32") if rate != mrate else None
        back = soxr.ResampleStream(mrate, rate, chans * len(names), dtype="float32") if rate != mrate else None
        buf = np.zeros((chans, 0), np.float32)
        tail: np.ndarray | None = None  # previous chunk's last `overlap` samples, already faded out
        written = 0

        def emit(block: np.ndarray, last: bool) -> None:
            """(names, chans, n) at the model rate -> files at the input rate."""
            nonlocal written
            flat = block.reshape(len(names) * chans, -1).T
            if back is not None:
                flat = back.resample_chunk(np.ascontiguousarray(flat), last=last)
            keep = min(flat.shape[0], total - written)
            flat = flat[:keep]
            if last and written + keep < total:  # resampling rounding: pad the last few frames
                flat = np.concatenate([flat, np.zeros((total - written - keep, flat.shape[1]), np.float32)])
            written += flat.shape[0]
            if bits != "float":
                flat = np.clip(flat, -1.0, 1.0)
            for k, n in enumerate(names):
                writers[n].write(flat[:, k * chans : (k + 1) * chans])

        def outputs(est: np.ndarray) -> np.ndarray:
            parts = [est[i] for i in s_index]
            if w_index is not None:
                parts.append(est.sum(0) - est[w_index])
            return np.stack(parts)

        # Two stages overlap: the network runs on chunk k+1 while a worker inverts and writes chunk k (one
        # chunk in flight, so memory stays bounded; one worker, so chunks are written in order).
        pending: Future[None] | None = None

        def run(x: np.ndarray, final: bool) -> None:
            nonlocal pending
            if cancel is not None and cancel():
                raise Cancelled()
            net_out = sep.masks(x)
            if pending is not None:
                pending.result()  # re-raises the worker's error here
            pending = stage2.submit(finish, net_out, final)
            if final:
                pending.result()

        def finish(net_out: tuple[np.ndarray, np.ndarray, int], final: bool) -> None:
            nonlocal tail
            est = outputs(sep.invert(*net_out))
            if tail is not None:
                est[..., :overlap] = est[..., :overlap] * up + tail
            if final:
                emit(est, True)
                tail = None
            else:
                tail = est[..., -overlap:] * up[::-1]
                emit(est[..., :-overlap], False)

        read = 0
        while read < total:
            block = src.read(min(BLOCK_FRAMES, total - read), dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            read += block.shape[0]
            block = np.nan_to_num(block, nan=0.0, posinf=1.0, neginf=-1.0)
            if to_model is not None:
                block = to_model.resample_chunk(block, last=read >= total)
            buf = np.concatenate([buf, block.T], 1)
            while buf.shape[1] >= chunk + overlap:  # keep enough behind so the final chunk is never tiny
                run(buf[:, :chunk], False)
                buf = buf[:, chunk - overlap :]
            if progress is not None:
                progress(min(0.99, read / total))
        if to_model is not None and read < total:
            buf = np.concatenate([buf, to_model.resample_chunk(np.zeros((0, chans), np.float32), last=True).T], 1)
        if buf.shape[1] == 0:
            buf = np.zeros((chans, 1), np.float32)
        run(buf, True)
        for w in writers.values():
            w.close()
        for n in names:
            os.replace(temps[n], targets[n])
        if progress is not None:
            progress(1.0)
        return targets
    except BaseException:
        stage2.shutdown(wait=True, cancel_futures=True)  # the worker may still be writing: let it stop first
        for w in writers.values():
            w.close()
        for t in temps.values():
            t.unlink(missing_ok=True)
        raise
    finally:
        stage2.shutdown(wait=True)
        src.close()
