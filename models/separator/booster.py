"""Booster features for the separator: basic-pitch's features of the mixture (mono), on the STFT's frames
(centred frames, ``samples // hop + 1`` of them). Training and the runtime call the same function, so the
network sees the same features in both."""

from __future__ import annotations

import numpy as np

from models.features.basic_pitch import BasicPitch, to_frames

BOOSTER_MODEL = "basic-pitch"


def load_booster(threads: int = 1) -> BasicPitch:
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
