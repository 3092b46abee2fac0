"""Train a tiny generator on synthetic songs, resume it, export it, and check that the ONNX
step model used for generation agrees with the torch sequence model used in training."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from models.generator.codec import STEPS_PER_BAR
from models.generator.conditions import layout_from_sections
from models.generator.dataset import TemplateCache, collate, make_example, song_conditions, song_grid
from models.generator.model import Generator, event_nll
from models.generator.pop909 import Song
from models.generator.sampler import EVENTS, Cancelled, Plan, StructuredGenerator
from models.generator.train import NOTE_KEYS, batch_loss, config_from_args, to_tensors
from models.platform.checkpoint import load_checkpoint
from models.platform.onnx import sha256_of
from models.structure import parse_structure, template_from_structure


@pytest.fixture(scope="module")
def tiny_run(tiny_generator: dict[str, Path]) -> dict[str, Path]:
    return tiny_generator


def test_checkpoint_format_and_resume(tiny_run: dict[str, Path]) -> None:
    ck = load_checkpoint(tiny_run["run"] / "last.pt")  # weights_only=True inside
    assert set(ck) >= {"name", "args", "state_dict", "versions"}
    assert ck["name"] == "generator-sing"
    assert ck["train_state"]["step"] == 6  # resumed from 4 and went on to 6
    cfg = config_from_args(ck["args"])
    assert cfg.attention and cfg.hidden == 24
    net = Generator(cfg)
    net.load_state_dict(ck["state_dict"])


def test_sidecar_matches_onnx(tiny_run: dict[str, Path]) -> None:
    side = json.loads((tiny_run["model"] / "model.json").read_text())
    assert side["sha256"] == sha256_of(tiny_run["model"] / "model.onnx")
    assert side["inputs"] == ["prev", "ctx", "conf", "cond", "h", "c"]
    assert side["codec"]["steps_per_bar"] == STEPS_PER_BAR and side["codec"]["version"] == 2


def _plans(songs: list[Song]) -> list[Plan]:
    return [Plan(template_from_structure(s.labels[0]), song_conditions(s)) for s in songs]


def test_onnx_step_nll_equals_torch_sequence_nll(tiny_run: dict[str, Path], synthetic_songs: list[Song]) -> None:
    ck = load_checkpoint(tiny_run["run"] / "last.pt")
    net = Generator(config_from_args(ck["args"]))
    net.load_state_dict(ck["state_dict"])
    net.eval()
    songs = synthetic_songs[:3]
    grids = [song_grid(s) for s in songs]
    cache = TemplateCache(songs, net.cfg.beta, net.cfg.null_score)
    exs = [
        make_example(g, song_conditions(s), *cache.attention(i, "label0"), 0, g.bars)
        for i, (g, s) in enumerate(zip(grids, songs, strict=True))
    ]
    b = to_tensors(collate(exs, max(g.bars for g in grids) * STEPS_PER_BAR), torch.device("cpu"))
    with torch.no_grad():
        out, _ = net(b["prev"], b["ctx"], b["conf"], b["cond"])
        nll = event_nll(out, b)
    frames = float(b["mask"].sum())
    gen = StructuredGenerator(str(tiny_run["model"]))
    onnx = gen.event_nll(grids, _plans(songs))
    for k in NOTE_KEYS:
        assert onnx[k] == pytest.approx(float(nll[k]) / frames, rel=1e-4, abs=1e-6), k


def test_generate_lengths_primer_and_regenerate(tiny_run: dict[str, Path], synthetic_songs: list[Song]) -> None:
    gen = StructuredGenerator(str(tiny_run["model"]))
    a_song, b_song = synthetic_songs[0], synthetic_songs[2]
    plans = _plans([a_song, b_song])
    a, b = gen.generate(plans, seed=1)
    assert a.bars == a_song.bars and b.bars == b_song.bars and a.steps == a_song.bars * STEPS_PER_BAR
    again = gen.generate(plans, seed=1)[0]
    assert all(np.array_equal(getattr(again, k), getattr(a, k)) for k in EVENTS)  # seeded
    primer = song_grid(a_song)  # 16 bars
    keep = np.zeros(8 * STEPS_PER_BAR, bool)
    keep[: 4 * STEPS_PER_BAR] = True
    keep[6 * STEPS_PER_BAR :] = True  # regenerate bars 5-6 only
    form = parse_structure("A4A4")
    cond = song_conditions(a_song)
    cond = replace(cond, chords=cond.chords[:16], keys=cond.keys[:8], layout=layout_from_sections(form))
    plan = Plan(template_from_structure(form), cond, primer, keep)
    out = gen.generate([plan], seed=3)[0]
    for k in EVENTS:
        assert np.array_equal(getattr(out, k)[keep], getattr(primer, k)[: 8 * STEPS_PER_BAR][keep]), k


def test_generate_cancel_and_progress(tiny_run: dict[str, Path], synthetic_songs: list[Song]) -> None:
    gen = StructuredGenerator(str(tiny_run["model"]))
    polls: list[int] = []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) >= 3

    with pytest.raises(Cancelled):
        gen.generate(_plans(synthetic_songs[:1]), cancel=cancel)
    assert len(polls) == 3  # polled once per bar, stopped at the third
    fracs: list[float] = []
    gen.generate(_plans(synthetic_songs[:1]), progress=fracs.append)
    assert fracs[-1] == 1.0 and fracs == sorted(fracs)


def test_tiny_model_overfits_a_batch(synthetic_songs: list[Song]) -> None:
    from models.generator.dataset import sample_batch
    from models.generator.model import GeneratorConfig

    torch.manual_seed(0)
    net = Generator(GeneratorConfig(hidden=32, dropout=0.0))
    cache = TemplateCache(synthetic_songs, 4.0, 0.5)
    b = to_tensors(sample_batch(cache, np.random.default_rng(0), 4, 8), torch.device("cpu"))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    first = float(batch_loss(net, b)[0].detach())
    for _ in range(40):
        loss, _ = batch_loss(net, b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.6 * first
