"""The stem separator: STFT against torch, export agreement, streaming file separation (rates, channel
counts, stems adding up, all-or-nothing writes, cancel), bad input, random mixing, the renderer's parts."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.errors import Cancelled, UserError
from models.data.parts import bass_notes, drum_notes
from models.data.pop909 import Note, SongParts, chord_root
from models.data.recipe import STEMS
from models.separator.dataset import RandomMixSampler, StemBank
from models.separator.metrics import sdr
from models.separator.model import SeparatorConfig, build
from models.separator.runtime import Separator, separate_file


def test_masks_sum_to_one() -> None:
    net = build(SeparatorConfig(hidden=16, layers=1)).eval()
    with torch.no_grad():
        m = net(torch.rand(1, 2, 1025, 10))
    assert m.shape == (1, 4, 2, 1025, 10)
    assert torch.allclose(m.sum(1), torch.ones(1, 2, 1025, 10), atol=1e-5)


def _song(path: Path, seconds: float, rate: int, channels: int) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    base = 0.3 * np.sin(2 * np.pi * 110 * t) + 0.2 * np.sign(np.sin(2 * np.pi * 2 * t)) * np.exp(-(t % 0.5) * 20)
    x = np.stack([base * (0.5 + 0.5 * c / max(1, channels)) for c in range(channels)], 1).astype(np.float32)
    sf.write(path, x, rate, subtype="FLOAT")
    return x


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (8000, 1), (48000, 5), (11025, 2), (192000, 1)])
def test_separate_file_keeps_rate_channels_and_adds_up(
    tiny_separator: Path, tmp_path: Path, rate: int, channels: int
) -> None:
    src = tmp_path / "in.wav"
    x = _song(src, 6.5, rate, channels)
    seen: list[float] = []
    paths = separate_file(
        src, tmp_path / "out", model=tiny_separator, bits="float", progress=seen.append, chunk_seconds=2.0
    )
    assert sorted(paths) == sorted(STEMS) and seen[-1] == 1.0
    total = np.zeros_like(x)
    for s in STEMS:
        y, r = sf.read(paths[s], dtype="float32", always_2d=True)
        assert r == rate and y.shape == x.shape
        total += y
    # the last stem is the input minus the others at the input's rate: the stems add up at every rate
    assert np.abs(total - x).max() < 1e-5
    assert not list((tmp_path / "out").glob(".*part*"))


def test_chunking_matches_one_pass(tiny_separator: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    x = _song(src, 5.0, 44100, 2)
    sep = Separator(tiny_separator)
    whole = sep.separate_chunk(x.T)
    paths = separate_file(src, tmp_path / "out", model=sep, bits="float", chunk_seconds=1.5)
    for i, s in enumerate(STEMS):
        y = sf.read(paths[s], dtype="float32")[0].T
        assert sdr(whole[i], y) > 20  # cross-faded chunks: close to the one-pass result


@pytest.mark.parametrize("gain_db", [-24.0, -12.0, 12.0])
def test_input_gain_and_output_gain_commute(tiny_separator: Path, tmp_path: Path, gain_db: float) -> None:
    """The stems of a scaled file are the scaled stems: the network sees every chunk at one loudness."""
    g = np.float32(10 ** (gain_db / 20))
    x = _song(tmp_path / "in.wav", 5.0, 44100, 2)
    sf.write(tmp_path / "scaled.wav", x * g, 44100, subtype="FLOAT")
    ref = separate_file(tmp_path / "in.wav", tmp_path / "a", model=tiny_separator, bits="float", chunk_seconds=2.0)
    got = separate_file(tmp_path / "scaled.wav", tmp_path / "b", model=tiny_separator, bits="float", chunk_seconds=2.0)
    for s in STEMS:
        a = sf.read(ref[s], dtype="float32")[0].T * g
        b = sf.read(got[s], dtype="float32")[0].T
        assert sdr(a, b) > 40  # equal up to float rounding (0.1 dB SDR would already be far looser)


def test_without_subset_and_bits(tiny_separator: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    x = _song(src, 3.0, 44100, 2)
    paths = separate_file(src, tmp_path / "o", stems=["vocals"], without="vocals", model=tiny_separator, bits="16")
    assert sorted(paths) == ["no_vocals", "vocals"]
    v = sf.read(paths["vocals"], dtype="float32")[0]
    nv = sf.read(paths["no_vocals"], dtype="float32")[0]
    assert sf.info(str(paths["vocals"])).subtype == "PCM_16"
    assert sdr(x, v + nv) > 30


def test_bad_input_gives_one_line_and_no_files(tiny_separator: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(UserError, match="cannot decode"):
        separate_file(bad, out, model=tiny_separator)
    with pytest.raises(UserError, match="no such audio file"):
        separate_file(tmp_path / "missing.wav", out, model=tiny_separator)
    with pytest.raises(UserError, match="unknown stem"):
        separate_file(bad, out, stems=["guitar"], model=tiny_separator)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 2), np.float32), 44100)
    with pytest.raises(UserError, match="no audio"):
        separate_file(empty, out, model=tiny_separator)
    assert not out.exists() or not any(out.iterdir())


def test_silent_and_one_sample_inputs(tiny_separator: Path, tmp_path: Path) -> None:
    for name, audio in (("silent", np.zeros((44100, 2), np.float32)), ("one", np.full((1, 2), 0.5, np.float32))):
        src = tmp_path / f"{name}.wav"
        sf.write(src, audio, 44100, subtype="FLOAT")
        paths = separate_file(src, tmp_path / name, model=tiny_separator, bits="float")
        total = sum(sf.read(paths[s], dtype="float32", always_2d=True)[0] for s in STEMS)
        assert total.shape == audio.shape and np.allclose(total, audio, atol=1e-4)


def test_cancel_leaves_nothing(tiny_separator: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    _song(src, 6.0, 44100, 2)
    out = tmp_path / "out"
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        separate_file(src, out, model=tiny_separator, cancel=cancel, chunk_seconds=1.0)
    assert not out.exists()  # nothing written, and the folder it created is gone too


def test_sigterm_cancels_the_cli_like_ctrl_c(tiny_separator: Path, tmp_path: Path) -> None:
    """``timeout`` or ``kill`` mid-run: exit 130 and no folder or hidden ``.part`` file left behind."""
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "in.wav"
    _song(src, 600.0, 8000, 2)  # long enough to be mid-file when the signal lands
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "app.cli", "separate", str(src), "--out", str(out), "--model", str(tiny_separator)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the folder appears when the writers open: the event this waits for
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "cancelled" in err
    assert not out.exists()


def test_random_mixing_draws_stems_across_songs(tmp_path: Path) -> None:
    n = 44100
    for k in range(3):  # song k: every stem is the constant k+1, so the source song is visible
        np.save(tmp_path / f"{k:03d}.npy", np.full((4, 2, n), (k + 1) * 1000, np.int16))
    bank = StemBank(tmp_path)
    coherent = RandomMixSampler(bank, 1000, p=0.0, seed=1, gain_db=(0.0, 0.0), swap=False)
    for _ in range(20):
        _, st = coherent.example()
        assert len({round(float(v), 3) for v in st[:, 0, 0]}) == 1
    mixed = RandomMixSampler(bank, 1000, p=1.0, seed=1, gain_db=(0.0, 0.0), swap=False)
    assert any(len({round(float(v), 3) for v in mixed.example()[1][:, 0, 0]}) > 1 for _ in range(20))
    m, st = mixed.batch(3)
    assert m.shape == (3, 2, 1000) and st.shape == (3, 4, 2, 1000) and np.allclose(st.sum(1), m)


def test_renderer_parts() -> None:
    assert chord_root("C#:min7") == 1 and chord_root("Eb:7/5") == 3 and chord_root("N") is None
    beats = np.arange(16) * 0.5
    parts = SongParts([], [], [], beats, np.arange(16) % 4 == 0, [(0.0, 8.0, 0)])
    rng = np.random.default_rng(0)
    bass = bass_notes(parts, "roots", rng)
    assert len(bass) == 16 and {n.pitch for n in bass} == {36}
    drums = drum_notes(parts, "rock", rng)
    kicks = [n for n in drums if n.pitch == 36]
    assert len(kicks) == 8 and all(isinstance(n, Note) for n in drums)


def test_cli_separate(tiny_separator: Path, tmp_path: Path) -> None:
    from app.cli import main

    src = tmp_path / "in.wav"
    _song(src, 2.0, 22050, 2)
    assert (
        main(
            [
                "separate",
                str(src),
                "--out",
                str(tmp_path / "o"),
                "--model",
                str(tiny_separator),
                "--stems",
                "bass,drums",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["bass.wav", "drums.wav"]
    assert (
        main(["separate", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "o2"), "--model", str(tiny_separator)])
        == 2
    )


@pytest.mark.parametrize("name", ["separator", "separator-fast"])
def test_shipped_separator_matches_its_checkpoint(name: str) -> None:
    """Each shipped ONNX model loads (checksum, sidecar) and agrees with its committed checkpoint."""
    from models.platform.onnx import ASSETS
    from models.separator.export import load_net

    sep = Separator(name)
    assert sep.stems == STEMS and sep.info.sample_rate == 44100
    assert (ASSETS / name / "model.onnx").stat().st_size < 50 * 2**20
    arch = sep.model.meta["config"]["arch"]
    net, cfg, _ = load_net(Path(__file__).resolve().parents[2] / "checkpoints" / "separator" / f"{arch}.pt")
    x = torch.rand(1, 2, cfg.bins, 40, generator=torch.Generator().manual_seed(3)) * 2
    with torch.no_grad():
        ref = net(x).numpy()
    got = sep.model.predict({"mag": x.numpy()})["masks"]
    if "quantization" in sep.model.meta:  # int8 weights: bounded in mean (see models.platform.export)
        assert np.abs(ref - got).mean() < 0.01
    else:
        assert np.abs(ref - got).max() < 1e-4


def test_bring_your_own_model_with_other_rate_stft_and_stems(tmp_path: Path) -> None:
    """A model with its own rate, STFT and stem names (here 2 stems at 22.05 kHz, n_fft 1024) loads from
    its folder through the same runtime and CLI path; the output keeps the input's rate and channels."""
    from models.platform.checkpoint import save_checkpoint
    from models.separator.export import export

    torch.manual_seed(1)
    cfg = SeparatorConfig(hidden=16, layers=1, n_fft=1024, hop=256, stems=("speech", "music"), sample_rate=22050)
    save_checkpoint(tmp_path / "byo.pt", "separator-masknet", {"config": cfg.to_dict()}, build(cfg).state_dict(), {})
    side = export(tmp_path / "byo.pt", tmp_path / "byo")
    assert side["sample_rate"] == 22050 and side["stems"] == ["speech", "music"] and side["n_fft"] == 1024
    sep = Separator(tmp_path / "byo")
    assert sep.stems == ("speech", "music")
    src = tmp_path / "in.wav"
    x = _song(src, 3.0, 48000, 1)
    paths = separate_file(src, tmp_path / "out", model=sep, bits="float", stems=["speech"], without="speech")
    assert sorted(paths) == ["no_speech", "speech"]
    y = sum(sf.read(paths[k], dtype="float32", always_2d=True)[0] for k in paths)
    assert sf.info(str(paths["speech"])).samplerate == 48000 and y.shape == x.shape
    assert sdr(x, y) > 20
    with pytest.raises(UserError, match="unknown stem"):
        separate_file(src, tmp_path / "out2", model=sep, stems=["drums"])
    (tmp_path / "byo" / "model.json").write_text("{}")
    with pytest.raises(UserError, match=r"sidecar|sha256|model\.json"):
        Separator(tmp_path / "byo")


def test_bandnet_bands_export_and_mixture_consistency(tmp_path: Path) -> None:
    """BandNet's bands tile the spectrum (finer in the bass), its masks add up to one, and its ONNX export
    agrees with torch on another length than it was traced with (the export checks that itself)."""
    import torch

    from models.platform.checkpoint import save_checkpoint
    from models.platform.onnx import OnnxModel
    from models.separator.bandnet import BINS, PADDED_BINS, band_edges
    from models.separator.export import export
    from models.separator.model import SeparatorConfig, build

    edges = band_edges()
    assert edges[0][0] == 0 and edges[-1][1] == PADDED_BINS >= BINS
    assert all(a[1] == b[0] for a, b in itertools.pairwise(edges))
    widths = [hi - lo for lo, hi in edges]
    assert widths == sorted(widths) and widths[0] * 21.5 < 50  # under 50 Hz wide at the bottom
    torch.manual_seed(0)
    cfg = SeparatorConfig(arch="bandnet", hidden=8, layers=1)
    net = build(cfg).eval()
    mag = torch.rand(1, 2, BINS, 37)
    with torch.no_grad():
        masks = net(mag)
    assert masks.shape == (1, 4, 2, BINS, 37)
    torch.testing.assert_close(masks.sum(1), torch.ones(1, 2, BINS, 37))
    ck = tmp_path / "band.pt"
    save_checkpoint(ck, "separator-bandnet", {"config": cfg.to_dict()}, net.state_dict(), {"step": 1, "best": 0.0})
    export(ck, tmp_path / "band")
    onnx_masks = OnnxModel(tmp_path / "band").predict({"mag": mag.numpy()})["masks"]
    np.testing.assert_allclose(onnx_masks, masks.numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="n_fft 2048"):
        build(SeparatorConfig(arch="bandnet", n_fft=1024, hidden=8, layers=1))


def test_fast_graph_forms_equal_the_plain_ones() -> None:
    """The forms written for onnxruntime's speed give the plain ops' values: the grouped linear maps as a
    batched MatMul against the einsum, the platform's softmax (stem masks, the splitter's source masks)
    against torch.softmax, on extreme logits too."""
    from models.separator.bandnet import _Grouped
    from models.separator.model import stem_softmax

    torch.manual_seed(0)
    g = _Grouped(5, 12, 7)
    torch.nn.init.normal_(g.bias)
    x = torch.randn(2, 30, 5, 12)
    ref = torch.einsum("...ni,nio->...no", x, g.weight) + g.bias
    assert torch.allclose(g(x), ref, atol=1e-5)
    assert torch.allclose(g(x.transpose(0, 1)), ref.transpose(0, 1), atol=1e-5)  # not contiguous
    logits = torch.randn(2, 9, 4, 2, 33) * 30
    masks = stem_softmax(logits)
    assert torch.allclose(masks, torch.softmax(logits, 2).permute(0, 2, 3, 4, 1), atol=1e-6)
    assert torch.isfinite(masks).all() and torch.allclose(masks.sum(1), torch.ones(1))
    from models.platform.ops import softmax

    for dim in (0, 1, -1):
        assert torch.allclose(softmax(logits, dim), torch.softmax(logits, dim), atol=1e-6)


def test_open_unmix_baseline_matches_openunmix_and_exports_any_length(tmp_path: Path) -> None:
    """The Open-Unmix baseline gives OpenUnmix.forward's output, and its ONNX export accepts frame counts
    other than the traced one (OpenUnmix.forward itself freezes them)."""
    from models.platform.checkpoint import save_checkpoint
    from models.platform.onnx import OnnxModel
    from models.separator.export import export

    torch.manual_seed(0)
    cfg = SeparatorConfig(arch="umx", hidden=16, max_bin=300)
    net = build(cfg).eval()
    mag = torch.rand(1, 2, cfg.bins, 29)
    with torch.no_grad():
        masks = net(mag)
        ref = torch.stack([n(mag) for n in net.nets], 1)  # type: ignore[attr-defined]
    torch.testing.assert_close(masks, ref / (ref.sum(1, keepdim=True) + 1e-8))
    ck = tmp_path / "umx.pt"
    save_checkpoint(ck, "separator-umx", {"config": cfg.to_dict()}, net.state_dict(), {"step": 1, "best": 0.0})
    export(ck, tmp_path / "umx")
    for frames in (29, 113):
        x = torch.rand(1, 2, cfg.bins, frames)
        with torch.no_grad():
            want = net(x).numpy()
        np.testing.assert_allclose(OnnxModel(tmp_path / "umx").predict({"mag": x.numpy()})["masks"], want, atol=1e-4)


@pytest.mark.parametrize("mode", ["film", "concat"])
def test_boosted_bandnet_exports_and_separates(tmp_path: Path, mode: str) -> None:
    """A BandNet with basic-pitch features injected: FiLM starts as the identity, the export takes the
    features as a second input (agreement checked by the export), and the runtime computes them per chunk."""
    from models.features.inject import FeatureInjection
    from models.platform.checkpoint import save_checkpoint
    from models.separator.export import export

    torch.manual_seed(0)
    z, f = torch.rand(2, 3, 5, 8), torch.rand(2, 5, 16)
    if mode == "film":
        torch.testing.assert_close(FeatureInjection(16, 8, "film")(z, f), z)
    cfg = SeparatorConfig(arch="bandnet", hidden=8, layers=1, booster=mode, booster_depths=2)
    net = build(cfg).eval()
    with pytest.raises(ValueError, match="booster"):
        net(torch.rand(1, 2, 1025, 10))
    ck = tmp_path / "b.pt"
    save_checkpoint(ck, "separator-bandnet", {"config": cfg.to_dict()}, net.state_dict(), {"step": 1, "best": 0.0})
    side = export(ck, tmp_path / "boosted")
    assert side["booster"]["model"] == "basic-pitch"
    sep = Separator(tmp_path / "boosted", threads=1)
    assert sep.booster is not None
    x = np.random.default_rng(0).standard_normal((2, 44100)).astype(np.float32) * 0.1
    stems = sep.separate_chunk(x)
    assert stems.shape == (4, 2, 44100)
    np.testing.assert_allclose(stems.sum(0), x, atol=1e-4)


def test_train_cli_with_booster_runs_and_resumes(tmp_path: Path) -> None:
    """Two updates of a boosted BandNet through the training command on a tiny render cache, then one
    more with --resume: the arguments, the sampler (mastering, level), the features and the loop agree.
    Then a compact copy of that checkpoint starts a new run through --init-from."""
    from models.platform.checkpoint import load_checkpoint
    from models.separator.render import RENDER_VERSION
    from models.separator.train import main as train

    rng = np.random.default_rng(0)
    for name in ("train", "valid"):
        folder = tmp_path / f"v{RENDER_VERSION}" / name
        folder.mkdir(parents=True)
        for k in range(2):
            np.save(folder / f"{k:03d}.npy", (rng.standard_normal((4, 2, 44100 * 2)) * 2000).astype(np.int16))
    args = ["--arch", "bandnet", "--hidden", "8", "--layers", "1", "--booster", "film", "--loss", "sdr",
            "--master", "1", "--level", "--segment", "1", "--batch", "2", "--data", str(tmp_path),
            "--valid-songs", "1", "--valid-every", "2", "--threads", "1", "--out", str(tmp_path / "run")]  # fmt: skip
    assert train([*args, "--updates", "2"]) == 0
    assert train([*args, "--updates", "3", "--resume"]) == 0
    ck = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ck["train_state"]["step"] == 3 and ck["args"]["config"]["booster"] == "film"
    # a compact copy (int8 weights, no optimiser state) starts a new run with --init-from
    from models.platform.checkpoint import compact_checkpoint

    compact_checkpoint(tmp_path / "run" / "last.pt", tmp_path / "compact.pt")
    new = [a if a != str(tmp_path / "run") else str(tmp_path / "run2") for a in args]
    assert train([*new, "--updates", "1", "--init-from", str(tmp_path / "compact.pt")]) == 0
    ck2 = load_checkpoint(tmp_path / "run2" / "last.pt")
    assert ck2["train_state"]["step"] == 1 and ck2["args"]["init_from"] == str(tmp_path / "compact.pt")
