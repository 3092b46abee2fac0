"""Train a tiny generator on synthetic songs, resume it, export it, and check that the ONNX
step model used for generation agrees with the torch sequence model used in training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models.generator.codec import STEPS_PER_BAR
from models.generator.dataset import TemplateCache, collate, make_example, song_grid
from models.generator.export import export
from models.generator.model import Generator, frame_nll
from models.generator.pop909 import Song, save_cache
from models.generator.sampler import Cancelled, Plan, StructuredGenerator
from models.generator.train import batch_loss, config_from_args, to_tensors
from models.generator.train import main as train_main
from models.platform.checkpoint import load_checkpoint
from models.platform.onnx import sha256_of
from models.structure import template_from_structure

TINY = ["--hidden", "24", "--layers", "2", "--batch", "4", "--window-bars", "8", "--threads", "1"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, synthetic_songs: list[Song]) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tiny")
    cache = d / "cache.npz"
    save_cache(synthetic_songs, cache)
    ids = [s.sid for s in synthetic_songs]
    split = d / "split.json"
    split.write_text(json.dumps({"train": ids[:6], "valid": ids[6:], "test": ids[6:]}))
    out = d / "run"
    args = ["--model", "sing", "--out", str(out), "--cache", str(cache), "--split", str(split), *TINY]
    assert train_main([*args, "--updates", "4", "--valid-every", "2"]) == 0
    assert train_main([*args, "--updates", "6", "--valid-every", "2", "--resume"]) == 0
    model_dir = d / "model"
    export(out / "last.pt", model_dir, name="tiny-sing")
    return {"run": out, "model": model_dir, "cache": cache, "split": split}


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
    assert side["inputs"] == ["prev", "ctx", "conf", "pos", "h", "c"]
    assert side["codec"]["steps_per_bar"] == STEPS_PER_BAR


def test_onnx_step_nll_equals_torch_sequence_nll(tiny_run: dict[str, Path], synthetic_songs: list[Song]) -> None:
    ck = load_checkpoint(tiny_run["run"] / "last.pt")
    net = Generator(config_from_args(ck["args"]))
    net.load_state_dict(ck["state_dict"])
    net.eval()
    songs = synthetic_songs[:3]
    grids = [song_grid(s) for s in songs]
    templates = [template_from_structure(s.labels[0]) for s in songs]
    cache = TemplateCache(songs, net.cfg.beta, net.cfg.null_score)
    exs = [make_example(g, *cache.attention(i, "label0"), 0, g.bars) for i, g in enumerate(grids)]
    b = to_tensors(collate(exs, max(g.bars for g in grids) * STEPS_PER_BAR), torch.device("cpu"))
    with torch.no_grad():
        mel, acc, _, _, _ = net(b["prev"], b["ctx"], b["conf"], b["pos"])
        nm, na = frame_nll(mel, acc, b["mel"], b["acc"], b["mask"])
    torch_nll = float(nm + na) / float(b["mask"].sum())
    gen = StructuredGenerator(str(tiny_run["model"]))
    onnx_nll, _, _ = gen.frame_nll(grids, templates)
    assert onnx_nll == pytest.approx(torch_nll, rel=1e-4)


def test_generate_lengths_primer_and_regenerate(tiny_run: dict[str, Path], synthetic_songs: list[Song]) -> None:
    gen = StructuredGenerator(str(tiny_run["model"]))
    plans = [Plan(template_from_structure("A2B2A2")), Plan(template_from_structure("A3B3"))]
    a, b = gen.generate(plans, seed=1)
    assert a.bars == 6 and b.bars == 6 and a.steps == 96
    again = gen.generate(plans, seed=1)[0]
    assert np.array_equal(again.mel, a.mel) and np.array_equal(again.acc, a.acc)  # seeded
    primer = song_grid(synthetic_songs[0])  # 16 bars
    keep = np.zeros(8 * STEPS_PER_BAR, bool)
    keep[: 4 * STEPS_PER_BAR] = True
    keep[6 * STEPS_PER_BAR :] = True  # regenerate bars 5-6 only
    out = gen.generate([Plan(template_from_structure("A4A4"), primer, keep)], seed=3)[0]
    assert np.array_equal(out.mel[keep], primer.mel[: 8 * STEPS_PER_BAR][keep])
    assert np.array_equal(out.acc[keep], primer.acc[: 8 * STEPS_PER_BAR][keep])


def test_generate_cancel_and_progress(tiny_run: dict[str, Path]) -> None:
    gen = StructuredGenerator(str(tiny_run["model"]))
    polls: list[int] = []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) >= 3

    with pytest.raises(Cancelled):
        gen.generate([Plan(template_from_structure("A8A8"))], cancel=cancel)
    assert len(polls) == 3  # polled once per bar, stopped at the third
    fracs: list[float] = []
    gen.generate([Plan(template_from_structure("A2"))], progress=fracs.append)
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
