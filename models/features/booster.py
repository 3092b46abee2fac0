"""The booster for any family (SoniDo: Liao et al., "Music Foundation Model as Generic Booster for Music
Downstream Tasks", arXiv 2411.01135): basic-pitch's intermediate features of a signal, either per frame on
another model's frame grid (the separator: centred STFT frames, ``samples // hop + 1`` of them) or pooled
over time into one vector per signal (the auto-mixer's per-stem input). Training and the runtimes call the
same functions, so a network sees the same features in both."""

from __future__ import annotations

import numpy as np

from models.features.basic_pitch import FEATURE_DIM, BasicPitch, to_frames

BOOSTER_MODEL = "basic-pitch"
SUMMARY_BANDS = 11  # 88 keys in bands of 8 semitones (A0-E1, F1-C2, ... , F7-C8)
SUMMARY_MAPS = FEATURE_DIM // 88  # note, onset and the contour branch's 8 hidden channels
SUMMARY_DIM = 2 * SUMMARY_MAPS * SUMMARY_BANDS


def load_booster(threads: int = 1) -> BasicPitch:
    """The shipped basic-pitch model from the registry (``assets/models/basic-pitch``); never from a hub."""
    from models.platform.registry import load_model

    model = load_model(BOOSTER_MODEL, "features", threads)
    assert isinstance(model, BasicPitch)
    return model


def booster_features(extractor: BasicPitch, audio: np.ndarray, rate: int, hop: int) -> np.ndarray:
    """(channels, samples) audio -> (samples // hop + 1, FEATURE_DIM) float32 features."""
    frames = audio.shape[-1] // hop + 1
    return to_frames(extractor.features(audio, rate), frames, rate / hop)


def batch_features(extractor: BasicPitch, mixes: np.ndarray, rate: int, hop: int) -> np.ndarray:
    """(batch, channels, samples) -> (batch, frames, FEATURE_DIM)."""
    return np.stack([booster_features(extractor, m, rate, hop) for m in mixes])


def summary(features: np.ndarray) -> np.ndarray:
    """(frames, FEATURE_DIM) features -> (SUMMARY_DIM,) float32: for each map (note and onset posteriors,
    the 8 contour-hidden channels) and each band of 8 semitones, the mean over frames of the band's mean,
    then the same for the standard deviation over frames (how steady that register's activity is). Zero for
    a signal without frames."""
    f = np.asarray(features, np.float32)
    if f.ndim != 2 or f.shape[1] != FEATURE_DIM:
        raise ValueError(f"expected (frames, {FEATURE_DIM}) booster features, got {f.shape}")
    if f.shape[0] == 0:
        return np.zeros(SUMMARY_DIM, np.float32)
    bands = f.reshape(f.shape[0], SUMMARY_MAPS, SUMMARY_BANDS, 88 // SUMMARY_BANDS).mean(-1)
    return np.concatenate([bands.mean(0).ravel(), bands.std(0).ravel()]).astype(np.float32)


def stem_summary(extractor: BasicPitch, audio: np.ndarray, rate: int) -> np.ndarray:
    """(channels, samples) or (samples,) audio at ``rate`` -> its (SUMMARY_DIM,) booster summary."""
    return summary(extractor.features(audio, rate))
