"""Shared fixtures: small synthetic songs generated in code (no external data)."""

from __future__ import annotations

import numpy as np
import pytest

from models.generator.codec import STEPS_PER_BAR, Notes
from models.generator.pop909 import Song
from models.structure import bar_labels, parse_structure


def synthetic_song(structure: str, seed: int) -> Song:
    """A song whose bars repeat exactly as its structure string says: each (letter, offset) gets
    one random bar of melody (quarter/eighth notes) and accompaniment (a triad on beats 1 and 3)."""
    rng = np.random.default_rng(seed)
    sections = parse_structure(structure)
    letters, offsets, _ = bar_labels(sections)
    material: dict[tuple[str, int], tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]] = {}
    mel_rows: list[tuple[int, int, int, int]] = []
    acc_rows: list[tuple[int, int, int, int]] = []
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    for bar, (letter, off) in enumerate(zip(letters, offsets, strict=True)):
        key = (letter, off) if letter not in "ioxX" else (f"{letter}{bar}", 0)
        if key not in material:
            mel = []
            t = 0
            while t < STEPS_PER_BAR:
                d = int(rng.choice([2, 4, 4, 8]))
                d = min(d, STEPS_PER_BAR - t)
                mel.append((t, d, int(60 + scale[rng.integers(7)] + 12 * rng.integers(0, 2)), 90))
                t += d
            root = int(48 + scale[rng.integers(7)])
            acc = [(s, 8, root + iv, 70) for s in (0, 8) for iv in (0, 4, 7)]
            material[key] = (mel, acc)
        mel, acc = material[key]
        base = bar * STEPS_PER_BAR
        mel_rows += [(base + s, d, p, v) for s, d, p, v in mel]
        acc_rows += [(base + s, d, p, v) for s, d, p, v in acc]
    bars = sum(s.bars for s in sections)
    return Song(f"syn{seed}", bars, Notes.from_rows(mel_rows), Notes.from_rows(acc_rows), [structure, structure])


@pytest.fixture(scope="session")
def synthetic_songs() -> list[Song]:
    forms = ["A4B4A4B4", "i2A4A4B4A4o2", "A2B2C2A2B2C2", "A4B4b4A4"]
    return [synthetic_song(forms[k % len(forms)], k) for k in range(8)]


@pytest.fixture(scope="session")
def tiny_separator(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A small random separator (MaskNet) exported through the real export path (which checks
    onnxruntime against torch): the runtime, CLI and app tests run on it without trained weights."""
    import torch

    from models.platform.checkpoint import save_checkpoint
    from models.separator.export import export
    from models.separator.model import SeparatorConfig, build

    torch.manual_seed(0)
    cfg = SeparatorConfig(hidden=16, layers=1)
    net = build(cfg)
    d = tmp_path_factory.mktemp("separator")
    ck = d / "tiny.pt"
    save_checkpoint(ck, "separator-masknet", {"config": cfg.to_dict()}, net.state_dict(), {"step": 1, "best": 0.0})
    export(ck, d / "tiny")
    return d / "tiny"
