"""Pretrained music features: a frozen model trained on real recordings whose intermediate activations any
family can take as an extra input (the booster of SoniDo: Liao et al., "Music Foundation Model as Generic
Booster for Music Downstream Tasks", arXiv 2411.01135). The same model transcribes audio to MIDI.

Shipped: basic-pitch's note model (Bittner et al., "A Lightweight Instrument-Agnostic Model for
Polyphonic Note Transcription and Multipitch Estimation", ICASSP 2022; Spotify, Apache-2.0), taken from
its PyPI wheel by :mod:`models.features.build`, with its hidden layers exposed as named outputs. It is
not trained here, so the family has no train, export or evaluate entry points; transcription quality is
measured by ``python -m models.features.evaluate``."""

from models.platform.registry import Family

FORMAT = "refrain-features"
FAMILY = Family(
    name="features",
    title="Pretrained music features (booster) and transcription",
    formats=(FORMAT,),
    default="basic-pitch",
    load="models.features.basic_pitch:load",
    train="",
    export="",
)
