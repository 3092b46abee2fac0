"""basic-pitch through onnxruntime: posteriorgrams for transcription, and booster features for any family.

The model reads 2 s windows of mono 22,050 Hz audio (43,844 samples) and writes 172 frames per window at
86.13 frames per second (a 256-sample hop), the same frame rate as the separator's STFT (512 samples at
44.1 kHz). Windows overlap by 30 frames and half the overlap is dropped on each side. basic-pitch's own
inference advances windows by 36,164 samples (141.3 frames) but keeps 142 frames per window, so its raw
frames drift late by 8.5 ms per window and it corrects note times afterwards; windows here advance by
exactly the 142 frames they keep, so frame k is at k x 256 samples all through a file, as features on
another model's frame grid need. Memory is bounded by ``batch`` windows, whatever the file's length."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.features import FORMAT
from models.platform.onnx import OnnxModel

RATE = 22050
WINDOW = 43844
FRAMES = 172
HOP = 256
OVERLAP = 30
FPS = RATE / HOP
LOWEST_NOTE = 21  # A0: bin 0 of the 88-bin outputs
POSTERIORS = ("note", "onset", "contour")
# booster feature layout per frame: note (88), onset (88), contour branch hidden pooled to semitones (8 x 88)
FEATURE_DIM = 88 + 88 + 8 * 88


class BasicPitch:
    """The shipped (or a user's) basic-pitch folder, ready to run."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        self.model = OnnxModel(folder, threads, formats=(FORMAT,))
        self.input = self.model.input_names[0]

    def run(
        self,
        audio: np.ndarray,
        layers: tuple[str, ...] = POSTERIORS,
        batch: int = 8,
        progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> dict[str, np.ndarray]:
        """``audio``: (samples,) mono float32 at :data:`RATE`. Returns each named layer over the whole
        signal with time first: posteriors (frames, bins), hidden layers (frames, channels, bins), where
        frames = floor(samples * FPS / RATE). ``cancelled`` returning True stops it (KeyboardInterrupt)."""
        audio = np.asarray(audio, np.float32).reshape(-1)
        n_frames = int(np.floor(len(audio) * FPS / RATE))
        hop = (FRAMES - OVERLAP) * HOP
        padded = np.concatenate([np.zeros(OVERLAP * HOP // 2, np.float32), audio])
        starts = list(range(0, max(len(padded), 1), hop))
        out: dict[str, list[np.ndarray]] = {k: [] for k in layers}
        for b0 in range(0, len(starts), batch):
            if cancelled is not None and cancelled():
                raise KeyboardInterrupt
            wins = np.zeros((len(starts[b0 : b0 + batch]), WINDOW, 1), np.float32)
            for i, s in enumerate(starts[b0 : b0 + batch]):
                seg = padded[s : s + WINDOW]
                wins[i, : len(seg), 0] = seg
            res = self.model.predict({self.input: wins})
            for k in layers:
                y = res[k]
                if y.ndim == 4:  # (batch, channels, frames, bins) -> (batch, frames, channels, bins)
                    y = y.transpose(0, 2, 1, 3)
                out[k].append(y[:, OVERLAP // 2 : FRAMES - OVERLAP // 2])
            if progress is not None:
                progress(min(1.0, (b0 + batch) / len(starts)))
        merged = {}
        for k, parts in out.items():
            y = np.concatenate(parts)
            merged[k] = y.reshape(-1, *y.shape[2:])[:n_frames]
        return merged

    def features(self, audio: np.ndarray, rate: int, batch: int = 8) -> np.ndarray:
        """Booster features of (samples,) or (channels, samples) audio at ``rate``: (frames, FEATURE_DIM)
        float32 at :data:`FPS`, from the mono downmix: note and onset posteriors and the contour branch's
        hidden layer averaged over each semitone's three bins."""
        from engine.audio_io import resample

        x = np.asarray(audio, np.float32)
        mono = x.mean(0) if x.ndim == 2 else x
        if rate != RATE:
            mono = resample(mono[None], rate, RATE)[0]
        res = self.run(mono, ("note", "onset", "contour_hidden"), batch)
        hidden = res["contour_hidden"]  # (frames, 8, 264)
        pooled = hidden.reshape(hidden.shape[0], hidden.shape[1], 88, 3).mean(-1).reshape(hidden.shape[0], -1)
        return np.concatenate([res["note"], res["onset"], pooled], 1).astype(np.float32)


def to_frames(features: np.ndarray, n_frames: int, fps: float, source_fps: float = FPS) -> np.ndarray:
    """Features (frames, dims) at ``source_fps`` resampled to ``n_frames`` frames at ``fps`` (linear
    interpolation; frame k of either grid sits at k / fps seconds, as centred STFT frames do)."""
    t_src = np.arange(features.shape[0]) / source_fps
    t_dst = np.arange(n_frames) / fps
    if features.shape[0] == 0:
        return np.zeros((n_frames, features.shape[1]), np.float32)
    idx = np.interp(t_dst, t_src, np.arange(features.shape[0]))
    lo = np.floor(idx).astype(int)
    hi = np.minimum(lo + 1, features.shape[0] - 1)
    w = (idx - lo)[:, None].astype(np.float32)
    return np.asarray(features[lo] * (1 - w) + features[hi] * w, np.float32)


def load(folder: Path, threads: int = 1) -> BasicPitch:
    return BasicPitch(folder, threads)
