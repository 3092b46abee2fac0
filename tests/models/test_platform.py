"""The ML platform every family uses: the STFT (numpy at run time equals torch in training), the registry
(format checks, per-process cache), the ONNX export's agreement check, the training loop (resume, best
checkpoint, a budget stop all DDP ranks agree on) and the streaming runner's alignment hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.errors import UserError
from models.platform import registry
from models.platform.stft import istft, istft_torch, stft, stft_torch
from models.platform.stream import correlation_order, run_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("n_fft", "hop", "n"), [(2048, 512, 20000), (1024, 256, 7001), (512, 128, 300)])
def test_numpy_stft_equals_torch_and_inverts(n_fft: int, hop: int, n: int) -> None:
    x = np.random.default_rng(0).standard_normal((2, n)).astype(np.float32)
    ours = stft(x, n_fft, hop)
    ref = stft_torch(torch.from_numpy(x), n_fft, hop).numpy()
    assert ours.shape == ref.shape == (2, n_fft // 2 + 1, 1 + n // hop)
    assert np.abs(ours - ref).max() < 1e-4 * np.abs(ref).max()
    assert np.abs(istft(ours, n_fft, hop, n) - x).max() < 1e-4
    assert np.abs(istft_torch(torch.from_numpy(ref), n_fft, hop, n).numpy() - x).max() < 1e-4


def test_registry_lists_loads_and_checks_formats(tiny_separator: Path) -> None:
    gens = registry.shipped_models("generator")
    assert [m.name for m in gens][:1] == ["sing"] and {"sing", "lstm"} <= {m.name for m in gens}
    assert all(m.description for m in registry.shipped_models())
    assert {"generator", "separator"} <= set(registry.families())
    first = registry.load_model(tiny_separator, "separator", 1)
    assert registry.load_model(tiny_separator, "separator", 1) is first  # one load per process
    with pytest.raises(UserError, match="not a generator model"):
        registry.resolve_model(tiny_separator, "generator")
    with pytest.raises(UserError, match="unknown separator model 'nope'; shipped: separator"):
        registry.resolve_model("nope", "separator")
    with pytest.raises(UserError, match="unknown model family"):
        registry.family("mixer-of-dreams")
    fam = registry.family("separator")
    assert callable(registry.entry_point(fam.train)) and callable(registry.entry_point(fam.load))


class _Noisy(torch.nn.Module):
    """Traces to a graph with one frozen draw of noise, so torch (fresh noise) and ONNX disagree."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.rand(x.shape)


def test_export_checks_agreement_and_leaves_nothing_when_it_fails(tmp_path: Path) -> None:
    from models.platform.export import export_onnx
    from models.platform.onnx import OnnxModel

    lin = torch.nn.Linear(4, 3)
    side = {"name": "tiny", "format": "test-format"}
    axes = {"x": {0: "batch"}, "y": {0: "batch"}}
    out = export_onnx(lin, (torch.rand(2, 4),), (torch.rand(5, 4),), ["x"], ["y"], axes, tmp_path / "ok", side, 1e-5)
    assert out["inputs"] == ["x"] and out["max_abs_error_vs_torch"] < 1e-5 and out["format"] == "test-format"
    model = OnnxModel(tmp_path / "ok", formats=("test-format",))
    with torch.no_grad():
        ref = lin(torch.ones(3, 4)).numpy()
    assert np.allclose(model.predict({"x": np.ones((3, 4), np.float32)})["y"], ref, atol=1e-5)
    with pytest.raises(UserError, match="needs other-format"):
        OnnxModel(tmp_path / "ok", formats=("other-format",))
    with pytest.raises(RuntimeError, match="disagrees"):
        export_onnx(_Noisy(), (torch.rand(2, 4),), (torch.rand(2, 4),), ["x"], ["y"], axes, tmp_path / "bad", side, 0)
    assert not list((tmp_path / "bad").iterdir())


class _Recurrent(torch.nn.Module):
    """A small Open-Unmix-like block: LSTM then a linear layer (the weights dynamic quantisation shrinks)."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = torch.nn.LSTM(64, 128, batch_first=True)
        self.out = torch.nn.Linear(128, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.rnn(x)[0]))


def test_int8_export_is_smaller_loads_and_agrees_in_mean(tmp_path: Path) -> None:
    from models.platform.export import export_onnx
    from models.platform.onnx import OnnxModel

    torch.manual_seed(0)
    net = _Recurrent().eval()
    side = {"name": "rnn", "format": "test-format"}
    axes = {"x": {0: "batch", 1: "frames"}, "y": {0: "batch", 1: "frames"}}
    args = ((torch.rand(1, 20, 64),), (torch.rand(2, 50, 64),), ["x"], ["y"], axes)
    fp32 = export_onnx(net, *args, tmp_path / "fp32", side, 1e-4)
    q = export_onnx(net, *args, tmp_path / "int8", side, 0.01, quantize="int8")
    assert "quantization" not in fp32
    assert q["quantization"]["float32_bytes"] == fp32["bytes"]
    assert q["bytes"] < 0.4 * fp32["bytes"]  # int8 weights: about a quarter, plus the graph
    assert 0 < q["mean_abs_error_vs_torch"] < 0.01
    assert (
        "max_abs_error_vs_torch" not in q
        and q["quantization"]["max_abs_error_vs_torch"] >= q["mean_abs_error_vs_torch"]
    )
    x = np.random.default_rng(3).random((1, 40, 64), dtype=np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    got = OnnxModel(tmp_path / "int8", formats=("test-format",)).predict({"x": x})["y"]
    assert np.abs(got - ref).mean() < 0.01
    with pytest.raises(ValueError, match="unknown quantisation"):
        export_onnx(net, *args, tmp_path / "bad", side, 0.01, quantize="int4")
    assert not (tmp_path / "bad").exists()
    # int8 error beyond the tolerance: refused, and neither file nor the quantiser's temporary is left
    with pytest.raises(RuntimeError, match="mean abs error"):
        export_onnx(net, *args, tmp_path / "tight", side, 1e-7, quantize="int8")
    assert not list((tmp_path / "tight").iterdir())


class _NaN(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


def test_export_refuses_nan_outputs(tmp_path: Path) -> None:
    """NaN compares false with any tolerance: the check must still fail, in both modes."""
    from models.platform.export import export_onnx

    axes = {"x": {0: "batch"}, "y": {0: "batch"}}
    for q in (None, "int8"):
        with pytest.raises(RuntimeError, match="disagrees"):
            export_onnx(_NaN(), (torch.rand(2, 4),), (torch.rand(3, 4),), ["x"], ["y"], axes, tmp_path / str(q),
                        {"name": "n", "format": "f"}, 1.0, quantize=q)  # fmt: skip
        assert not list((tmp_path / str(q)).iterdir())


def test_compact_checkpoint_round_trip(tmp_path: Path) -> None:
    """Big float matrices come back within half a row's int8 step, everything else exactly; the file is
    about 4x smaller, loads with weights_only=True, and has no optimiser state."""
    from models.platform.checkpoint import compact_checkpoint, load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    net = _Recurrent()
    sd = {**net.state_dict(), "steps": torch.tensor([3, 4]), "tiny": torch.randn(8, 8)}
    save_checkpoint(tmp_path / "full.pt", "rnn", {"config": {"h": 128}}, sd, {"step": 7, "best": 1.5, "optimizer": {}})
    sizes = compact_checkpoint(tmp_path / "full.pt", tmp_path / "compact.pt")
    assert sizes["bytes_out"] < 0.3 * sizes["bytes_in"]
    raw = torch.load(tmp_path / "compact.pt", weights_only=True)
    assert raw["state_dict"]["rnn.weight_ih_l0.int8"].dtype == torch.int8 and "optimizer" not in raw["train_state"]
    ck = load_checkpoint(tmp_path / "compact.pt")
    assert ck["train_state"] == {"step": 7, "best": 1.5} and ck["args"] == {"config": {"h": 128}}
    assert sorted(ck["state_dict"]) == sorted(sd)
    for key, ref in sd.items():
        got = ck["state_dict"][key]
        assert got.dtype == ref.dtype and got.shape == ref.shape
        if ref.numel() >= 4096 and ref.dim() >= 2:
            step = ref.reshape(ref.shape[0], -1).abs().amax(1) / 127
            err = (got - ref).reshape(ref.shape[0], -1).abs().amax(1)
            assert bool((err <= step / 2 + 1e-7).all()) and float(err.max()) > 0
        else:
            assert torch.equal(got, ref)
    # --init-from loads the expanded weights; --resume refuses a file without optimiser state
    from models.platform.checkpoint import expand_state_dict, init_weights, resume_training

    fresh = _Recurrent()
    only_net = {k: v for k, v in raw["state_dict"].items() if not k.startswith(("steps", "tiny"))}
    torch.save({**raw, "state_dict": only_net}, tmp_path / "net.pt")
    init_weights(fresh, tmp_path / "net.pt")
    expanded = expand_state_dict(raw["state_dict"])
    assert all(torch.equal(v, expanded[k]) for k, v in fresh.state_dict().items())
    assert not torch.equal(fresh.rnn.weight_hh_l0, net.rnn.weight_hh_l0)  # int8-rounded, not the original
    with pytest.raises(ValueError, match="--init-from"):
        resume_training(tmp_path / "net.pt", fresh, torch.optim.SGD(fresh.parameters(), lr=0.1))


def test_compact_keeps_zero_rows_and_refuses_broken_weights(tmp_path: Path) -> None:
    from models.platform.checkpoint import compact_state_dict, expand_state_dict, main

    w = torch.randn(64, 8, 16)
    w[3] = 0.0
    back = expand_state_dict(compact_state_dict({"w": w.transpose(1, 2)}))["w"]  # 3-D, not contiguous
    assert torch.equal(back[3], torch.zeros(16, 8)) and float((back - w.transpose(1, 2)).abs().max()) < 0.05
    w[5, 2, 2] = float("inf")
    with pytest.raises(ValueError, match="w holds a NaN or an infinity"):
        compact_state_dict({"w": w})
    from models.platform.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "a.pt", "n", {}, {"w": torch.randn(100, 100)})
    assert main(["compact", str(tmp_path / "a.pt"), str(tmp_path / "b.pt")]) == 0
    assert (tmp_path / "b.pt").stat().st_size < 0.5 * (tmp_path / "a.pt").stat().st_size


def _loop_run(out: Path, updates: int, resume: bool) -> Any:
    from models.platform.distributed import RunContext
    from models.platform.training import LoopSettings, TrainLoop

    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    run = RunContext(torch.device("cpu"), 0, 1)
    settings = LoopSettings(out=out, name="toy", updates=updates, valid_every=5, resume=resume)
    loop = TrainLoop(run, net, opt, settings, {"config": {}})
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])

    def loss(model: torch.nn.Module, step: int) -> torch.Tensor:
        return ((model(x) - y) ** 2).mean()

    def validate(model: torch.nn.Module) -> tuple[float, dict[str, Any]]:
        v = float(((model(x) - y) ** 2).mean())
        return v, {"mse": v}

    loop.fit(loss, validate, lambda s, f: 0.1, lambda v, d: f"mse {v:.4f}")
    return loop


def test_training_loop_resumes_and_keeps_the_best(tmp_path: Path) -> None:
    from models.platform.checkpoint import load_checkpoint

    first = _loop_run(tmp_path, 10, resume=False)
    assert first.step == 10 and (tmp_path / "last.pt").exists() and (tmp_path / "best.pt").exists()
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [5, 10] and log[1]["valid"]["mse"] < log[0]["valid"]["mse"]
    again = _loop_run(tmp_path, 15, resume=True)
    assert again.step == 15  # continued from update 10, not from 0
    ck = load_checkpoint(tmp_path / "last.pt")
    assert ck["train_state"]["step"] == 15 and ck["name"] == "toy"
    assert load_checkpoint(tmp_path / "best.pt")["train_state"]["best"] <= log[1]["valid"]["mse"]


DDP_SCRIPT = """
import os, sys, torch
from pathlib import Path
from models.platform.distributed import setup_run, finish_run
from models.platform.training import LoopSettings, TrainLoop
run = setup_run(1, 0)
net = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(net.parameters(), lr=0.01)
# Rank 1 is out of budget at once, rank 0 never is: only an agreed stop lets both finish.
minutes = 1e-9 if run.rank == 1 else 1e6
out = Path(sys.argv[1]) / f"rank{run.rank}"
loop = TrainLoop(run, net, opt, LoopSettings(out=out, name="ddp", updates=10**6, minutes=minutes), {})
x = torch.randn(8, 3)
loop.fit(lambda m, s: (m(x) ** 2).mean(), lambda m: (0.0, {}), lambda s, f: 0.01, lambda v, d: "")
(Path(sys.argv[1]) / f"steps{run.rank}").write_text(str(loop.step))
finish_run(run)
"""


def test_ddp_ranks_agree_on_the_budget_stop(tmp_path: Path) -> None:
    """Two gloo ranks under torchrun; rank 1 runs out of budget first. Without the all-reduced stop rank 0
    would wait for rank 1 in the next gradient all-reduce forever (the timeout catches that)."""
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    # --standalone: a free port each run (a fixed one collides with another run or a port in TIME_WAIT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script), str(tmp_path)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=240, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    steps = [int((tmp_path / f"steps{k}").read_text()) for k in (0, 1)]
    assert steps[0] == steps[1] and steps[0] < 10**6


class _SwappingModel:
    """Two sources whose output order flips on every chunk, as a permutation-invariant model's can."""

    sample_rate = 8000
    sources = ("a", "b")
    mixture_consistent = False

    def __init__(self, truth: np.ndarray, align: bool, hop: int) -> None:
        self.truth, self.aligned, self.hop, self.calls = truth, align, hop, 0

    def analyse(self, x: np.ndarray) -> Any:
        start = self.calls * self.hop  # chunks start every chunk - overlap samples
        out = self.truth[:, :, start : start + x.shape[-1]].copy()
        self.calls += 1
        return out[::-1] if self.calls % 2 == 0 else out

    def synthesise(self, state: Any) -> np.ndarray:
        return np.asarray(state)

    def align(self, previous: np.ndarray, current: np.ndarray) -> list[int] | None:
        return correlation_order(previous, current) if self.aligned else None


@pytest.mark.parametrize("align", [True, False])
def test_the_runner_reorders_outputs_chunk_to_chunk(tmp_path: Path, align: bool) -> None:
    rate, n = 8000, 8000 * 6
    t = np.arange(n) / rate
    a, b = np.sin(2 * np.pi * 220 * t), np.sign(np.sin(2 * np.pi * 3 * t)) * 0.3
    truth = np.stack([a, b])[:, None].astype(np.float32)
    src = tmp_path / "mix.wav"
    sf.write(src, truth.sum(0).T, rate, subtype="FLOAT")
    model = _SwappingModel(truth, align, hop=rate - rate // 4)
    out = run_file(model, src, {"a": tmp_path / "a.wav", "b": tmp_path / "b.wav"}, bits="float",
                   chunk_seconds=1.0, overlap_seconds=0.25)  # fmt: skip
    got = np.stack([sf.read(out[k], dtype="float32")[0] for k in ("a", "b")])
    err = np.abs(got - truth[:, 0]).max()
    if align:
        assert model.calls > 4 and err < 1e-5  # each chunk put back in the first chunk's order
    else:
        assert err > 0.1  # without the hook the sources swap places every chunk
