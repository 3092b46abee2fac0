"""The balance controller end to end on synthetic four-stem songs: examples (perturbation and its restoring
strip), training on the platform loop, ONNX export, balance mode through the engine, the CLI's outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.console import ConsoleSettings, neutral, read_console
from engine.project import load_project
from models.automix.data import Perturbation, perturb, target_strip
from models.automix.examples import Example, draw_example, example_audio
from models.automix.tracks import run_plugins, run_strip
from models.data.synth import SAMPLE_RATE as SR
from tests.conftest import synthetic_stem_cache, synthetic_stems


@pytest.fixture(scope="module")
def stem_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_stem_cache(tmp_path_factory.mktemp("stems"))


def test_target_strip_undoes_the_perturbation() -> None:
    clean = synthetic_stems(3)[2]
    p = Perturbation(gain_db=7.0, pan=0.4, low_db=5.0, high_db=-4.0, comp_threshold_db=None, comp_ratio=1.0)
    restored = run_strip(perturb(clean, p, SR), target_strip(p, reference_gain_db=-3.0), SR)
    # each strip's EQ keeps its 10 Hz high-pass (the plugin's lowest): the inverse is exact up to their phase
    flat = run_plugins(clean, [("eq", neutral("eq")), ("eq", neutral("eq"))], SR)
    expected = flat * np.float32(10 ** (-3 / 20))
    err = 10 * np.log10(np.sum((restored - expected) ** 2) / np.sum(expected**2))
    assert err < -40, err


def test_examples_are_reproducible(stem_cache: Path) -> None:
    audio = np.load(stem_cache / "001.npy").astype(np.float32) / 32767
    a, b = draw_example("001", audio, 0, 3), draw_example("001", audio, 0, 3)
    assert a == b and 2 <= len(a.stems) <= 4
    (pa, ra), (pb, rb) = example_audio(a, audio), example_audio(b, audio)
    assert np.array_equal(pa, pb) and np.array_equal(ra, rb)
    assert draw_example("001", audio, 0, 4) != a
    # and in another process, whatever its string hashing: nothing may depend on set or dict order
    code = (
        "import numpy as np; from models.automix.examples import draw_example; "
        f"a = np.load({str(stem_cache / '001.npy')!r}).astype(np.float32) / 32767; "
        "print(draw_example('001', a, 0, 3).reference_db)"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed}
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outs) == 1 and str(a.reference_db) in outs.pop()


def test_training_examples_arrive_mono_or_with_bleed(stem_cache: Path) -> None:
    audio = np.load(stem_cache / "002.npy").astype(np.float32) / 32767
    exs = [draw_example("002", audio, 0, k, augment=True) for k in range(40)]
    plain = [draw_example("002", audio, 0, k) for k in range(40)]
    for a, b in zip(exs, plain, strict=True):  # the augmentation is drawn last: the rest is the same
        assert (a.stems, a.perturbations, a.reference_db) == (b.stems, b.perturbations, b.reference_db)
    ex = next(e for e in exs if any(e.mono))
    k = ex.mono.index(True)
    got, _ = example_audio(ex, audio)
    clean_ex = draw_example("002", audio, 0, exs.index(ex))
    assert np.corrcoef(got[k, 0], got[k, 1])[0, 1] > 0.9999  # dual mono reaches the console (then panned)

    def linear_bleed(e: Example) -> int | None:  # a bled stem whose perturbation has no compressor
        ok = [i for i, x in enumerate(e.bleed_db) if x is not None and e.perturbations[i].comp_threshold_db is None]
        return ok[0] if ok and not any(e.mono) else None

    bled = next(e for e in exs if linear_bleed(e) is not None)
    j = linear_bleed(bled)
    assert j is not None
    with_bleed, _ = example_audio(bled, audio)
    without, _ = example_audio(draw_example("002", audio, 0, exs.index(bled)), audio)
    residue = 10 * np.log10(np.mean((with_bleed[j] - without[j]) ** 2) / np.mean(without[j] ** 2))
    assert abs(residue - bled.bleed_db[j]) < 6.0, (residue, bled.bleed_db[j])  # at about the drawn level
    assert clean_ex.mono == ()


def test_cli_mixes_stems_and_saves_an_editable_project(tiny_automix: Path, tmp_path: Path) -> None:
    song = synthetic_stems(9, 8.0)
    names = ["Track 01", "stem_2", "Track 03", "x"]  # meaningless names: roles come from the audio
    paths = []
    for name, stem in zip(names, song, strict=True):
        paths.append(tmp_path / f"{name}.wav")
        sf.write(paths[-1], stem.T, SR, subtype="FLOAT")
    out, proj, js = tmp_path / "mix.wav", tmp_path / "mix.refrain", tmp_path / "s.json"
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "automix",
        *map(str, paths),
        "--out",
        str(out),
        "--model",
        str(tiny_automix),
    ]
    r = subprocess.run([*cmd, "--save-project", str(proj), "--settings-json", str(js)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    mix, rate = sf.read(out, always_2d=True)
    assert rate == SR and mix.shape == (song.shape[-1], 2)
    settings = ConsoleSettings.from_dict(json.loads(js.read_text())["settings"])
    assert read_console(load_project(proj)).to_dict() == settings.to_dict()  # the project holds the settings
    assert settings.master.limiter is not None
    # amount 0 is the plain sum: no limiter, unity faders
    r0 = subprocess.run([*cmd[:-4], "--out", str(tmp_path / "m0.wav"), "--model", str(tiny_automix), "--amount", "0"])
    assert r0.returncode == 0
    plain, _ = sf.read(tmp_path / "m0.wav", always_2d=True)
    assert np.max(np.abs(plain.T - song.sum(0))) < 1e-3
    # a project in, a project out: the same settings proposed for its tracks, the user's plugins kept
    p2 = tmp_path / "again.refrain"
    r2 = subprocess.run(
        [sys.executable, "-m", "app.cli", "automix", str(proj), "--out", str(p2), "--model", str(tiny_automix)]
    )
    assert r2.returncode == 0 and read_console(load_project(p2)).to_dict() == settings.to_dict()


def test_cli_bad_input_is_one_line_and_writes_nothing(tiny_automix: Path, tmp_path: Path) -> None:
    song = synthetic_stems(5, 6.0)
    stems = []
    for k, rate in enumerate((22050, 48000)):  # mixed rates: the mix comes out at the finer one
        stems.append(tmp_path / f"s{k}.wav")
        sf.write(stems[-1], soxr_resample(song[k + 1], rate).T, rate, subtype="FLOAT")
    short = tmp_path / "short.wav"
    sf.write(short, song[2][:, : SR // 5].T, SR, subtype="FLOAT")  # 0.2 s: too short to measure
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((SR * 4, 2), np.float32), SR, subtype="FLOAT")
    before = stems[0].read_bytes()
    out = tmp_path / "mix.wav"
    cases = [
        ([str(tmp_path / "missing.wav")], [], "no such audio file"),
        ([*map(str, stems)], ["--out", str(stems[0])], "is one of the inputs"),
        ([*map(str, stems)], ["--save-project", str(tmp_path / "p.wav")], "must end in .refrain"),
        ([str(short), str(short)], [], "nothing to mix"),
        ([str(silent)], [], "nothing to mix"),
        ([*map(str, stems)], ["--reference", str(silent)], "the reference is silent"),
    ]
    for inputs, extra, message in cases:
        cmd = [sys.executable, "-m", "app.cli", "automix", *inputs, "--out", str(out), "--model", str(tiny_automix)]
        r = subprocess.run([*cmd, *extra], capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and message in lines[0], (extra, r.stderr)
        assert not out.exists() and not (tmp_path / "p.wav").exists()
    assert stems[0].read_bytes() == before  # an input is never overwritten
    cmd = [sys.executable, "-m", "app.cli", "automix", *map(str, stems), str(short), "--out", str(out)]
    r = subprocess.run([*cmd, "--model", str(tiny_automix)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert sf.info(out).samplerate == 48000 and report["roles"][2] == "short"
    assert report["tracks"] == ["s0.wav", "s1.wav", "short.wav"]


def soxr_resample(x: np.ndarray, rate: int) -> np.ndarray:
    from engine.audio_io import resample

    return resample(x, SR, rate)


def test_the_shipped_controller_masters_to_the_practice_loudness(tmp_path: Path) -> None:
    """The default model (assets/models/automix) through the CLI: a mix at the reference loudness."""
    from models.automix.practice import MASTER_LUFS
    from models.data.production import loudness

    paths = []
    for k, stem in enumerate(synthetic_stems(11, 8.0)):
        paths.append(tmp_path / f"{k}.wav")
        sf.write(paths[-1], stem.T, SR, subtype="FLOAT")
    out = tmp_path / "mix.wav"
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "automix", *map(str, paths), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert len(report["roles"]) == 4 and report["model"] == "automix"
    mix, _ = sf.read(out, always_2d=True)
    assert abs(loudness(mix.T, SR) - MASTER_LUFS) < 1.5


def test_booster_summary_pools_time_and_register() -> None:
    from models.features.basic_pitch import FEATURE_DIM
    from models.features.booster import SUMMARY_BANDS, SUMMARY_DIM, SUMMARY_MAPS, summary

    frames = np.zeros((40, FEATURE_DIM), np.float32)
    frames[:20, 8 * 3 + 2] = 1.0  # note posterior, key 26 (band 3), on for half the frames
    out = summary(frames)
    assert out.shape == (SUMMARY_DIM,) == (2 * SUMMARY_MAPS * SUMMARY_BANDS,)
    means, stds = out[: SUMMARY_DIM // 2], out[SUMMARY_DIM // 2 :]
    assert means[3] == pytest.approx(0.5 / 8) and stds[3] == pytest.approx(0.5 / 8)
    assert np.count_nonzero(means) == 1 and np.count_nonzero(stds) == 1
    assert not summary(np.zeros((0, FEATURE_DIM), np.float32)).any()
    with pytest.raises(ValueError, match="booster features"):
        summary(np.zeros((4, 10), np.float32))


def test_booster_controller_reads_each_stems_summary(tiny_automix_booster: Path) -> None:
    """The exported model takes the stem features and the booster's summary side by side, and the runtime
    feeds it the same summary training computed (the middle 12 s of each analysis excerpt)."""
    from models.automix.runtime import Automixer
    from models.automix.stemfeatures import NAMES, stem_features
    from models.features.booster import SUMMARY_DIM, load_booster, stem_summary

    side = json.loads((tiny_automix_booster / "model.json").read_text())
    assert side["config"]["booster"] is True and side["booster"] == "basic-pitch"
    assert side["config"]["features"] == len(NAMES) + SUMMARY_DIM
    mixer = Automixer(tiny_automix_booster)
    assert mixer.booster
    stems = list(synthetic_stems(11, seconds=16.0)[:3])
    strips, roles = mixer.strips(stems, SR)
    extractor = load_booster()
    mid = slice(2 * SR, 14 * SR)  # 16 s excerpts: the middle 12 s
    feats = np.stack([np.concatenate([stem_features(x, SR), stem_summary(extractor, x[:, mid], SR)]) for x in stems])
    out = mixer.model.predict({"features": feats[None], "mask": np.ones((1, 3), np.float32)})["settings"][0]
    gains = out[:, 0] - out[:, 0].mean()
    np.testing.assert_allclose([s.gain_db for s in strips], gains, atol=1e-4)
    np.testing.assert_allclose([s.pan for s in strips], np.clip(out[:, 1], -1, 1), atol=1e-5)
    assert len(roles) == 3
