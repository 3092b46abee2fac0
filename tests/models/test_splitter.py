"""The same-timbre splitter: PIT against brute force, dynamic sample dropout, the switch rate, the network
(layer-wise outputs, level invariance, ONNX export), the runtime (rates, channels, sums, order across
chunks, all-or-nothing) and training from a rendered-format bank."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.errors import Cancelled, UserError
from models.data.pop909 import Note
from models.platform.pit import (
    DynamicSampleDropout,
    SwitchCounter,
    best_permutation,
    reorder,
    score_under,
    si_sdr_matrix,
)
from models.splitter.data import RATE, top_voice, usable_seconds
from models.splitter.model import SplitterConfig, SplitterNet
from models.splitter.render import RENDER_VERSION

SHIPPED_CHECKPOINT = "split-240.pt"  # checkpoints/splitter/: the one assets/models/splitter was exported from

TINY = SplitterConfig(filters=16, kernel=16, bottleneck=8, hidden=16, layers=2, blocks=2)


def _si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    """The textbook definition, in float64 (Le Roux et al. 2019)."""
    est, ref = est - est.mean(), ref - ref.mean()
    target = (est @ ref) / (ref @ ref) * ref
    return float(10 * np.log10((target @ target) / ((est - target) @ (est - target))))


def test_pit_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((5, 3, 400))
    est = ref[:, [2, 0, 1]] + 0.3 * rng.standard_normal((5, 3, 400))
    est[1] = ref[1] + 0.5 * rng.standard_normal((3, 400))  # one example already in order
    m = si_sdr_matrix(torch.from_numpy(est), torch.from_numpy(ref))
    for b in range(5):
        for e, r in itertools.product(range(3), range(3)):
            assert float(m[b, e, r]) == pytest.approx(_si_sdr(est[b, e], ref[b, r]), abs=1e-4)  # eps: 1e-8
    score, perm = best_permutation(m)
    for b in range(5):
        brute = max(
            itertools.permutations(range(3)), key=lambda p: sum(_si_sdr(est[b, p[i]], ref[b, i]) for i in range(3))
        )
        assert perm[b].tolist() == list(brute)
        assert float(score[b]) == pytest.approx(
            np.mean([_si_sdr(est[b, brute[i]], ref[b, i]) for i in range(3)]), abs=1e-6
        )
    assert perm[0].tolist() == [1, 2, 0] and perm[1].tolist() == [0, 1, 2]
    torch.testing.assert_close(score_under(m, perm), score)
    ordered = reorder(torch.from_numpy(est), perm)
    torch.testing.assert_close(si_sdr_matrix(ordered, torch.from_numpy(ref)).diagonal(dim1=1, dim2=2).mean(-1), score)


def _matrix(good: list[tuple[int, float]]) -> torch.Tensor:
    """2x2 score matrices whose best assignment is identity (0) or swapped (1), scoring ``value``."""
    out = torch.zeros(len(good), 2, 2)
    for k, (which, value) in enumerate(good):
        if which == 0:
            out[k] = torch.tensor([[value, -20.0], [-20.0, value]])
        else:
            out[k] = torch.tensor([[-20.0, value], [value, -20.0]])
    return out


@pytest.mark.parametrize("mode", ["drop", "reorder"])
def test_dynamic_sample_dropout(mode: str) -> None:
    dsd = DynamicSampleDropout(4, 2, mode)
    ids = np.array([0, 1, 2])
    first = dsd.decide(ids, _matrix([(0, 5.0), (0, 5.0), (1, 5.0)]))
    assert first.keep.all() and first.overruled == 0  # first visits are remembered, never overruled
    # 0: switches without improving -> overruled; 1: switches and improves -> new memory; 2: agrees
    second = dsd.decide(ids, _matrix([(1, 4.0), (1, 9.0), (1, 3.0)]))
    assert second.overruled == 1
    assert second.best.tolist() == [[1, 0], [1, 0], [1, 0]]
    if mode == "drop":
        assert second.keep.tolist() == [False, True, True]
        assert second.perm.tolist() == [[1, 0], [1, 0], [1, 0]]
    else:
        assert second.keep.all()
        assert second.perm.tolist() == [[0, 1], [1, 0], [1, 0]]  # example 0 keeps its remembered assignment
    assert dsd.perm[1].tolist() == [1, 0] and dsd.score[1] == 9.0
    assert dsd.perm[0].tolist() == [0, 1] and dsd.score[0] == 5.0
    assert dsd.score[2] == 5.0  # agreeing with a lower score keeps the best score seen
    restored = DynamicSampleDropout(4, 2, mode)
    restored.load(json.loads(json.dumps(dsd.state())))
    np.testing.assert_array_equal(restored.perm, dsd.perm)
    np.testing.assert_array_equal(restored.score, dsd.score)
    off = DynamicSampleDropout(4, 2, "off").decide(ids, _matrix([(1, 1.0), (0, 1.0), (1, 1.0)]))
    assert off.keep.all() and off.perm.tolist() == [[1, 0], [0, 1], [1, 0]]


def test_switch_rate() -> None:
    sc = SwitchCounter(4, 2)
    sc.update(np.array([0, 1, 2, 3]), torch.tensor([[0, 1], [0, 1], [1, 0], [1, 0]]))
    assert sc.end_epoch() is None  # nothing revisited yet
    sc.update(np.array([0, 1, 2, 3]), torch.tensor([[1, 0], [0, 1], [1, 0], [0, 1]]))
    assert sc.end_epoch() == 0.5


def test_network_blocks_level_and_export(tmp_path: Path) -> None:
    from models.platform.checkpoint import save_checkpoint
    from models.platform.onnx import OnnxModel
    from models.splitter.export import export

    torch.manual_seed(0)
    net = SplitterNet(TINY).eval()
    x = torch.randn(2, 1, net.hop * 50)
    with torch.no_grad():
        blocks = net.all_blocks(x)
        out = net(x)
        loud = net(x * 100)
    assert blocks.shape == (TINY.blocks, 2, 2, x.shape[-1])
    torch.testing.assert_close(blocks[-1], out)
    torch.testing.assert_close(loud, out * 100, rtol=1e-4, atol=1e-4)  # the level changes nothing
    ck = tmp_path / "tiny.pt"
    save_checkpoint(
        ck, "splitter-tasnet", {"config": TINY.to_dict(), "variant": "pit"}, net.state_dict(), {"step": 1, "best": 0.0}
    )
    side = export(ck, tmp_path / "m")
    assert side["format"] == "refrain-splitter-wave" and side["sources"] == 2 and side["hop"] == net.hop
    y = torch.randn(1, 1, net.hop * 123)
    got = OnnxModel(tmp_path / "m").predict({"mix": y.numpy()})["sources"]
    with torch.no_grad():
        np.testing.assert_allclose(got, net(y).numpy(), atol=1e-4)


def _duet_file(path: Path, rate: int, channels: int, seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    a = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)
    b = 0.2 * np.sign(np.sin(2 * np.pi * 330 * t)) * (np.sin(2 * np.pi * 0.5 * t) <= 0.3)
    x = np.stack([a * (1 - c / max(1, channels)) + b * (0.3 + c / max(1, channels)) for c in range(channels)], 1)
    sf.write(path, x.astype(np.float32), rate, subtype="FLOAT")
    return x.astype(np.float32)


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (8000, 1), (48000, 3), (22050, 2)])
def test_split_file_keeps_rate_channels_and_adds_up(
    tiny_splitter: Path, tmp_path: Path, rate: int, channels: int
) -> None:
    from models.splitter.runtime import split_file

    x = _duet_file(tmp_path / "in.wav", rate, channels, 3.5)
    seen: list[float] = []
    paths = split_file(tmp_path / "in.wav", tmp_path / "out", 2, tiny_splitter, progress=seen.append, chunk_seconds=1.0)
    assert [p.name for p in paths.values()] == ["source_1.wav", "source_2.wav"]
    outs = []
    for p in paths.values():
        y, r = sf.read(p, dtype="float32", always_2d=True)
        assert r == rate and y.shape == x.shape
        outs.append(y)
    np.testing.assert_allclose(outs[0] + outs[1], x, atol=1e-5)
    assert seen[-1] == 1.0


def test_split_errors_and_cancel(tiny_splitter: Path, tmp_path: Path) -> None:
    from models.splitter.runtime import split_file

    _duet_file(tmp_path / "in.wav", 22050, 1, 3.0)
    with pytest.raises(UserError, match="not 3"):
        split_file(tmp_path / "in.wav", tmp_path / "o", 3, tiny_splitter)
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(UserError):
        split_file(tmp_path / "bad.wav", tmp_path / "o", 2, tiny_splitter)
    with pytest.raises(Cancelled):
        split_file(tmp_path / "in.wav", tmp_path / "o", 2, tiny_splitter, cancel=lambda: True, chunk_seconds=1.0)
    assert not (tmp_path / "o").exists()


def test_alignment_keeps_the_order(tiny_splitter: Path) -> None:
    from models.splitter.runtime import Splitter

    sp = Splitter(tiny_splitter, 1)
    rng = np.random.default_rng(0)
    prev = rng.standard_normal((2, 2, 500)).astype(np.float32)
    assert list(sp.align(prev, prev[::-1] * 0.5 + 0.01)) == [1, 0]
    assert list(sp.align(prev, prev)) == [0, 1]


def test_doubling_and_top_voice() -> None:
    melody = [Note(float(t), float(t) + 0.9, 60 + (t % 3), 90) for t in range(10)]
    octave = [Note(n.start, n.end, n.pitch - 12, 90) for n in melody[:5]]
    other = [Note(float(t), float(t) + 0.9, 64 + (t % 2) * 3, 90) for t in range(5, 10)]
    usable = usable_seconds(melody, octave + other, 0.0, 10.0)
    assert usable.tolist() == [False] * 5 + [True] * 5
    chords = [
        Note(0.0, 1.0, 72, 80),
        Note(0.0, 1.0, 60, 80),
        Note(0.0, 1.0, 64, 80),
        Note(1.0, 2.0, 74, 80),
        Note(1.0, 2.0, 55, 80),
    ]
    top, rest = top_voice(chords)
    assert sorted(n.pitch for n in top) == [72, 74] and sorted(n.pitch for n in rest) == [55, 60, 64]


def _bank(folder: Path, songs: int = 4, timbres: int = 1) -> None:
    """Duets in the render cache's format: two tones per song, songs alternating between ``timbres``
    'timbres' (no SoundFont needed)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for s in range(songs):
        t = np.arange(6 * RATE) / RATE
        a = np.sin(2 * np.pi * (200 + 20 * s) * t) * (rng.random() * 0.3 + 0.2)
        b = np.sign(np.sin(2 * np.pi * (310 + 15 * s) * t)) * 0.15
        pcm = np.round(np.stack([a, b]) * 32767).astype(np.int16)
        np.save(folder / f"{s:03d}-instrument.npy", pcm)
        meta = {
            "recipe": {"timbre": f"sf:{s % timbres}", "kind": "instrument", "song": f"{s:03d}"},
            "usable": [1, 1, 0, 1, 1, 1],
        }
        (folder / f"{s:03d}-instrument.json").write_text(json.dumps(meta))


def test_pool_respects_usable_seconds_and_timbre(tmp_path: Path) -> None:
    from models.splitter.dataset import DuetBank, DuetPool

    _bank(tmp_path / "train", songs=6, timbres=2)
    bank = DuetBank(tmp_path / "train")
    pool = DuetPool(bank, 60, RATE * 2, p=0.5, seed=0)
    assert len(pool) == 60 and 10 < pool.random_mixes < 50
    for ex in pool.examples:
        a, b = ex.render
        if a != b:  # a random mix: two songs, one timbre, each segment inside its render's usable seconds
            assert bank.song[a] != bank.song[b] and bank.timbre[a] == bank.timbre[b]
            for k in range(2):
                o = ex.offset[k]
                assert bank.usable[ex.render[k]][o // RATE : -(-(o + RATE * 2) // RATE)].all()
        if ex.render[0] == ex.render[1]:  # coherent: both sources, one offset, clear of the doubled second
            assert ex.source == (0, 1) and ex.offset[0] == ex.offset[1]
            assert not (ex.offset[0] < 3 * RATE and ex.offset[0] + 2 * RATE > 2 * RATE)
    mix, src = pool.batch(np.array([0, 1, 2]))
    assert mix.shape == (3, 1, RATE * 2) and src.shape == (3, 2, RATE * 2)
    np.testing.assert_allclose(mix[:, 0], src.sum(1), atol=1e-6)


def test_train_with_dsd_and_lo_runs_and_resumes(tmp_path: Path) -> None:
    from models.splitter.train import main as train

    for name in ("train", "valid"):
        _bank(tmp_path / "duets" / f"v{RENDER_VERSION}" / name)
    common = [
        "--data", str(tmp_path / "duets"), "--out", str(tmp_path / "run"), "--dsd", "drop", "--lo", "--pool", "8",
        "--batch", "4", "--segment", "1", "--filters", "16", "--kernel", "16", "--bottleneck", "8", "--hidden", "16",
        "--blocks", "2", "--layers", "2",
        "--threads", "1", "--valid-every", "3",
    ]  # fmt: skip
    assert train([*common, "--updates", "5"]) == 0
    assert train([*common, "--updates", "7", "--resume"]) == 0
    epochs = [json.loads(x) for x in (tmp_path / "run" / "epochs.jsonl").read_text().splitlines()]
    assert epochs and epochs[0]["switch_rate"] is None  # the first epoch revisits nothing
    assert any(e["switch_rate"] is not None for e in epochs)
    state = json.loads((tmp_path / "run" / "pit_state.json").read_text())
    assert len(state["dsd"]["perm"]) == 8 and all(p[0] >= 0 for p in state["dsd"]["perm"])
    assert state["update"] == 7 and [e["epoch"] for e in epochs] == list(range(len(epochs)))  # no epoch twice
    # the resumed part revisited examples the first part had seen: the memory came back with the checkpoint
    assert any(e["switch_rate"] is not None for e in epochs if e["update"] > 5)
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 7 and np.isfinite(log[-1]["valid"]["si_sdri"])


def test_cli_split_and_eval_errors(tiny_splitter: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    src = tmp_path / "duet.wav"
    _duet_file(src, 44100, 2, 2.0)
    assert main(["split", str(src), "--out", str(tmp_path / "o"), "--model", str(tiny_splitter)]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["source_1.wav", "source_2.wav"]
    assert "source_1\t" in capsys.readouterr().out
    assert (
        main(["split", str(src), "--out", str(tmp_path / "o3"), "--sources", "3", "--model", str(tiny_splitter)]) == 2
    )
    assert (
        main(["split", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "o2"), "--model", str(tiny_splitter)]) == 2
    )
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("refrain: error: ") for line in err)


def test_ablation_trains_scores_and_plots(tmp_path: Path) -> None:
    """Every arm trains on one code path, is exported and scored through the split path, with its switch
    rates in the JSON and the plot."""
    from models.splitter.ablation import ARMS
    from models.splitter.ablation import main as ablation

    for name in ("train", "valid", "test", "heldout"):
        _bank(tmp_path / "duets" / f"v{RENDER_VERSION}" / name, songs=3)
    tiny = "--filters 16 --kernel 16 --bottleneck 8 --hidden 16 --blocks 2 --layers 2 --batch 2 --segment 1 --updates 6"
    argv = [
        "--out",
        str(tmp_path / "abl"),
        "--minutes",
        "5",
        "--pool",
        "4",
        "--data",
        str(tmp_path / "duets"),
        "--train-args",
        tiny,
    ]
    assert ablation([*argv, "--runs", "pit", "--only-train"]) == 0
    assert (tmp_path / "abl" / "pit" / "done.json").exists() and not (tmp_path / "abl" / "dsd-drop").exists()
    assert ablation(argv) == 0
    report = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    for name in ("test", "heldout"):
        entry = report["sets"][name]
        assert entry["duets"] == 3 and all(np.isfinite(entry[arm]["mean"]) for arm in ARMS)
        assert entry["ideal ratio mask"]["mean"] > 5  # the oracle separates tones well
    assert all(len(r) >= 2 and r[0] is None and r[-1] is not None for r in report["switch_rate"].values())
    assert (tmp_path / "abl" / "switch-rate.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("engine", "voice"), [("festival", "kal_diphone"), ("flite", "awb"), ("espeak-ng", "en-gb+f3")]
)
def test_speech_voices_read_a_sentence(engine: str, voice: str) -> None:
    from models.splitter.data import SENTENCES, speak

    y = speak(SENTENCES[2], engine, voice)  # "Nobody ever listens to the bridge anyway."
    assert y.dtype == np.float32 and 1.2 * RATE < len(y) < 5 * RATE
    frames = y[: len(y) // 512 * 512].reshape(-1, 512)
    loud = np.sqrt(np.mean(frames**2, 1)) > 0.01
    assert 0.4 < loud.mean() < 1.0  # speech with pauses, not silence or noise
    with pytest.raises(UserError, match=r"wrote no audio|has no voice"):
        speak("hello", engine, "zz_nosuchvoice")


def test_filterbank_starts_as_a_reconstruction() -> None:
    """Decoding the encoding gives the input back (away from the first and last half frame), so an
    untrained network's estimates are masked mixtures, near the mixture's own SI-SDR."""
    from torch.nn import functional as F

    net = SplitterNet(SplitterConfig()).eval()
    x = torch.randn(1, 1, net.hop * 300)
    with torch.no_grad():
        y = net.decoder(F.relu(net.encoder(x)))
        src = torch.randn(2, 2, net.hop * 500)
        score, _ = best_permutation(si_sdr_matrix(net(src.sum(1, keepdim=True)), src))
    edge = net.cfg.kernel
    torch.testing.assert_close(y[..., edge:-edge], x[..., edge:-edge], atol=1e-5, rtol=0)
    assert (score > -3).all()  # a random filterbank starts near -30 dB


def test_runner_keeps_each_voice_in_its_file_across_chunks(tiny_splitter: Path, tmp_path: Path) -> None:
    """Through the real runner and the splitter's own alignment, channel gains and residual sharing, a
    separator that answers in a different order every other chunk still writes each voice to one file,
    panned where it was. The separator here splits two known tones exactly (by FFT bin), so the test can
    say what each file must hold."""
    from models.splitter.runtime import Splitter, split_file

    rate, seconds = 22050, 7.0
    t = np.arange(round(seconds * rate)) / rate
    a = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
    b = 0.2 * np.sin(2 * np.pi * 523 * t) * (1 + 0.5 * np.cos(2 * np.pi * 0.7 * t))
    x = np.stack([0.9 * a + 0.3 * b, 0.2 * a + 0.8 * b]).astype(np.float32)  # a left, b right
    sf.write(tmp_path / "in.wav", x.T, rate, subtype="FLOAT")

    class ToneSplitter(Splitter):
        calls = 0

        def analyse(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            spec = np.fft.rfft(chunk.mean(0))
            freqs = np.fft.rfftfreq(chunk.shape[-1], 1 / rate)
            low = np.fft.irfft(spec * (freqs < 370), chunk.shape[-1])
            high = np.fft.irfft(spec * (freqs >= 370), chunk.shape[-1])
            ToneSplitter.calls += 1
            est = np.stack([low, high]) if ToneSplitter.calls % 2 else np.stack([high, low])
            return est.astype(np.float32), chunk

    paths = split_file(tmp_path / "in.wav", tmp_path / "o", 2, ToneSplitter(tiny_splitter, 1), chunk_seconds=1.5)
    assert ToneSplitter.calls >= 5
    outs = [sf.read(p, dtype="float32", always_2d=True)[0].T for p in paths.values()]
    if np.dot(outs[0][0], a) < np.dot(outs[1][0], a):
        outs = outs[::-1]  # the first chunk decides which file is which; after that it must never change
    for want, got, gains in ((a, outs[0], (0.9, 0.2)), (b, outs[1], (0.3, 0.8))):
        for ch in range(2):
            ref = gains[ch] * want
            for s in range(0, len(t) - rate, rate):  # every second, not just on average
                w = slice(s + 200, s + rate - 200)
                err = np.sqrt(np.mean((got[ch, w] - ref[w]) ** 2)) / np.sqrt(np.mean(ref[w] ** 2))
                assert err < 0.1, (ch, s / rate, err)


def test_order_kept_counts_swapped_windows_outside_doubled_seconds() -> None:
    from models.splitter.evaluate import order_kept

    rng = np.random.default_rng(0)
    ref = rng.standard_normal((2, RATE * 20)).astype(np.float32)
    est = ref.copy()
    est[:, RATE * 15 :] = ref[::-1, RATE * 15 :]  # the sources swap for the last 5 of 20 seconds
    window = RATE * 5
    assert order_kept(est, ref, window) == 0.75
    usable = np.ones(20, bool)
    usable[17] = False  # a doubled second inside the swapped window: that window does not count
    assert order_kept(est, ref, window, usable) == 1.0


def test_silent_and_one_sample_inputs(tiny_splitter: Path, tmp_path: Path) -> None:
    from models.splitter.runtime import split_file

    for name, audio in (("silent", np.zeros((44100, 2), np.float32)), ("one", np.full((1, 2), 0.5, np.float32))):
        src = tmp_path / f"{name}.wav"
        sf.write(src, audio, 44100, subtype="FLOAT")
        paths = split_file(src, tmp_path / name, 2, tiny_splitter, bits="float")
        outs = [sf.read(p, dtype="float32", always_2d=True)[0] for p in paths.values()]
        assert all(o.shape == audio.shape and np.isfinite(o).all() for o in outs)
        np.testing.assert_allclose(outs[0] + outs[1], audio, atol=1e-5)


def test_evaluation_clip_is_where_both_sources_sound(tmp_path: Path) -> None:
    from models.splitter.dataset import DuetBank, usable_clip

    folder = tmp_path / "test"
    folder.mkdir()
    t = np.arange(8 * RATE) / RATE
    a = 0.3 * np.sin(2 * np.pi * 200 * t)
    b = 0.3 * np.sin(2 * np.pi * 300 * t) * (t >= 4)  # the second voice enters at 4 s
    for name, pair in (("001-sung", (a, b)), ("002-sung", (a, 0 * a))):
        np.save(folder / f"{name}.npy", np.round(np.stack(pair) * 32767).astype(np.int16))
        meta = {"recipe": {"timbre": "sung", "kind": "sung", "song": name[:3]}, "usable": [1] * 8}
        (folder / f"{name}.json").write_text(json.dumps(meta))
    bank = DuetBank(folder)
    clip = usable_clip(bank, 0, 3.0, 32)
    assert clip is not None and clip.shape == (2, 3 * RATE // 32 * 32)
    assert np.sqrt(np.mean(clip[1] ** 2)) > 0.2  # taken after the entry, not from the longest stretch's start
    assert usable_clip(bank, 1, 3.0, 32) is None  # a silent voice: nothing to measure


def test_split_with_the_default_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default model splits when one ships; until then the command says so in one line, exit 2."""
    from app.cli import main
    from models.platform.registry import shipped_models

    src = tmp_path / "duet.wav"
    _duet_file(src, 22050, 1, 1.0)
    rc = main(["split", str(src), "--out", str(tmp_path / "o")])
    if shipped_models("splitter"):
        assert rc == 0 and (tmp_path / "o" / "source_2.wav").exists()
    else:
        err = capsys.readouterr().err.strip()
        assert rc == 2 and "no splitter model ships" in err and "\n" not in err
        assert not (tmp_path / "o").exists()


def test_shipped_splitter_matches_its_checkpoint() -> None:
    """The shipped ONNX splitter loads (checksum, sidecar) and agrees with its committed checkpoint, so the
    card's commands reproduce the asset."""
    from models.platform.onnx import ASSETS, OnnxModel
    from models.splitter.export import load_net

    model = OnnxModel(ASSETS / "splitter", formats=("refrain-splitter-wave",))
    assert (ASSETS / "splitter" / "model.onnx").stat().st_size < 50 * 2**20
    net, ck = load_net(Path(__file__).resolve().parents[2] / "checkpoints" / "splitter" / SHIPPED_CHECKPOINT)
    assert model.meta["checkpoint"]["updates"] == ck["train_state"]["step"]
    x = torch.randn(1, 1, 128 * 200, generator=torch.Generator().manual_seed(2)) * 0.1
    with torch.no_grad():
        ref = net(x).numpy()
    got = model.predict({"mix": x.numpy()})["sources"]
    assert np.abs(ref - got).max() < 1e-3
