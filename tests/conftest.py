"""Shared fixtures: small synthetic songs generated in code (no external data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.data.synth import SAMPLE_RATE
from models.generator.chords import Chord, Key
from models.generator.codec import STEPS_PER_BAR, Notes
from models.generator.pop909 import Song
from models.structure import bar_labels, parse_structure


def synthetic_song(structure: str, seed: int) -> Song:
    """A song in C major whose bars repeat exactly as its structure string says: each (letter, offset) gets
    one random bar of melody (quarter/eighth notes, none in lower-case sections), a held bass root and an
    accompaniment triad on beats 1 and 3; chords, key and tempo (100 BPM) are annotated."""
    rng = np.random.default_rng(seed)
    sections = parse_structure(structure)
    letters, offsets, _ = bar_labels(sections)
    material: dict[tuple[str, int], tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]] = {}
    mel_rows: list[tuple[int, int, int, int]] = []
    acc_rows: list[tuple[int, int, int, int]] = []
    bass_rows: list[tuple[int, int, int, int]] = []
    chords: list[Chord | None] = []
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    roots: dict[tuple[str, int], int] = {}
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
            degree = int(rng.choice([0, 3, 4, 5]))  # I, IV, V, vi
            root = int(60 + scale[degree])
            third = 3 if degree == 5 else 4
            acc = [(s, 8, root + iv, 70) for s in (0, 8) for iv in (0, third, 7)]
            material[key] = (mel, acc)
            roots[key] = root
        mel, acc = material[key]
        base = bar * STEPS_PER_BAR
        if letter.isupper():
            mel_rows += [(base + s, d, p, v) for s, d, p, v in mel]
        acc_rows += [(base + s, d, p, v) for s, d, p, v in acc]
        root = roots[key]
        bass_rows.append((base, 8, root - 24, 85))
        bass_rows.append((base + 8, 8, root - 24 + 7, 80))
        quality = "min" if acc[1][2] - acc[0][2] == 3 else "maj"
        chords += [Chord(root % 12, quality)] * 2
    bars = sum(s.bars for s in sections)
    return Song(
        f"syn{seed}",
        bars,
        Notes.from_rows(mel_rows),
        Notes.from_rows(bass_rows),
        Notes.from_rows(acc_rows),
        [structure, structure],
        chords,
        [Key(0, False)] * bars,
        100.0,
    )


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


TINY_GENERATOR = ["--hidden", "24", "--layers", "2", "--batch", "4", "--window-bars", "8", "--threads", "1"]


@pytest.fixture(scope="session")
def tiny_generator(tmp_path_factory: pytest.TempPathFactory, synthetic_songs: list[Song]) -> dict[str, object]:
    """A tiny SING trained for 4 updates, resumed to 6, and exported through the real export path: the
    sampler, control and app tests run on it without the shipped weights."""
    import json

    from models.generator.export import export
    from models.generator.pop909 import save_cache
    from models.generator.train import main as train_main

    d = tmp_path_factory.mktemp("tiny")
    cache = d / "cache.npz"
    save_cache(synthetic_songs, cache)
    ids = [s.sid for s in synthetic_songs]
    split = d / "split.json"
    split.write_text(json.dumps({"train": ids[:6], "valid": ids[6:], "test": ids[6:]}))
    out = d / "run"
    args = ["--model", "sing", "--out", str(out), "--cache", str(cache), "--split", str(split), *TINY_GENERATOR]
    assert train_main([*args, "--updates", "4", "--valid-every", "2"]) == 0
    assert train_main([*args, "--updates", "6", "--valid-every", "2", "--resume"]) == 0
    model_dir = d / "model"
    export(out / "last.pt", model_dir, name="tiny-sing")
    return {"run": out, "model": model_dir, "cache": cache, "split": split}


@pytest.fixture(scope="session")
def tiny_splitter(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A small random same-timbre splitter exported through the real export path (checked against torch):
    the runtime, CLI and app tests run on it without trained weights."""
    import torch

    from models.platform.checkpoint import save_checkpoint
    from models.splitter.export import export
    from models.splitter.model import SplitterConfig, SplitterNet

    torch.manual_seed(1)
    cfg = SplitterConfig(filters=16, kernel=16, bottleneck=8, hidden=16, layers=2, blocks=2)
    d = tmp_path_factory.mktemp("splitter")
    net = SplitterNet(cfg)
    save_checkpoint(
        d / "t.pt", "splitter-tasnet", {"config": cfg.to_dict()}, net.state_dict(), {"step": 1, "best": 0.0}
    )
    export(d / "t.pt", d / "tiny")
    return d / "tiny"


def synthetic_stems(seed: int, seconds: float = 13.0) -> np.ndarray:
    """(4, 2, n) float32 stems at 44.1 kHz of a made-up song: drums, bass, vocals, other."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    beat = np.exp(-((t % 0.5) * 30))
    drums = rng.standard_normal(t.size) * beat * 0.5
    f0 = 55 * 2 ** (rng.integers(0, 7) / 12)
    bass = np.sin(2 * np.pi * f0 * t) * 0.4
    vib = 220 * 2 ** (rng.integers(0, 12) / 12) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(vib) / SAMPLE_RATE
    vocals = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.2 * (np.sin(2 * np.pi * 0.25 * t) > -0.5)
    other = sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392)) * 0.1
    stems = np.stack([drums, bass, vocals, other])
    return (0.3 * np.stack([stems, stems * 0.9], axis=1)).astype(np.float32)


def synthetic_stem_cache(root: Path, songs: int = 6) -> Path:
    """A folder laid out like the separator's stem cache (``<song>.npy``, int16 (4, 2, n)) of synthetic songs."""
    d = root / "train"
    d.mkdir(parents=True, exist_ok=True)
    for k in range(songs):
        np.save(d / f"{k + 1:03d}.npy", np.round(synthetic_stems(k) * 32767).astype(np.int16))
    return d


@pytest.fixture(scope="session")
def tiny_automix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small balance controller trained 40 updates on synthetic stems and exported through the real path."""
    import json

    from models.automix.examples import EXAMPLES_VERSION, build
    from models.automix.export import export
    from models.automix.train import main as train_main

    root = tmp_path_factory.mktemp("automix")
    stem_cache = synthetic_stem_cache(root)
    data = build(stem_cache, per_song=3, seed=0)
    cache = root / "cache" / f"v{EXAMPLES_VERSION}"
    cache.mkdir(parents=True)
    np.savez(cache / "train.npz", **data)
    run = root / "run"
    args = ["--data", str(root / "cache"), "--out", str(run), "--hidden", "16", "--batch", "8", "--valid-every", "20"]
    assert train_main([*args, "--updates", "20"]) == 0
    assert train_main([*args, "--updates", "40", "--resume"]) == 0
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [20, 40]
    assert log[-1]["loss"] < log[0]["loss"] * 1.5  # it trains (and did not blow up)
    export(run / "last.pt", root / "model", name="tiny-automix")
    return root / "model"


@pytest.fixture(scope="session")
def tiny_automix_booster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small balance controller with the booster's per-stem summaries as input, trained 20 updates on
    synthetic stems (their summaries from the shipped basic-pitch) and exported through the real path."""
    from models.automix.examples import EXAMPLES_VERSION, build
    from models.automix.export import export
    from models.automix.train import main as train_main
    from models.features.booster import load_booster

    root = tmp_path_factory.mktemp("automix-booster")
    stem_cache = synthetic_stem_cache(root, songs=3)
    data = build(stem_cache, per_song=2, seed=0, booster=load_booster())
    cache = root / "cache" / f"v{EXAMPLES_VERSION}"
    cache.mkdir(parents=True)
    np.savez(cache / "train.npz", **data)
    run = root / "run"
    args = ["--data", str(root / "cache"), "--out", str(run), "--hidden", "16", "--batch", "4", "--booster"]
    assert train_main([*args, "--updates", "20", "--valid-every", "20"]) == 0
    export(run / "last.pt", root / "model", name="tiny-automix-booster")
    return root / "model"
