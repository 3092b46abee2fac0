"""The real-world input kinds of ``../shared/cases``, each rebuilt here from scratch and run through the
commands a user types: the right value, or one line and exit status 2, and never a partial file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.cli import main
from engine.audio_io import read_audio, resample
from tests import smf
from tests.engine.test_audio_files import id3v2, music, tmpfs

ROOT = Path(__file__).resolve().parents[2]
STEMS = ("drums", "bass", "vocals", "other")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in its own process, as a user runs it (warnings print as they do there)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)  # fmt: skip


def one_line_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("refrain: error:"), r.stderr
    assert all(w in lines[0] for w in words), lines[0]


def stems_sum(folder: Path) -> np.ndarray:
    return sum(read_audio(folder / f"{s}.wav", max_channels=None)[0] for s in STEMS)  # type: ignore[return-value]


def hot_float(path: Path) -> np.ndarray:
    """2 s of a 220 Hz sine peaking at 1.5 (+3.5 dBFS) with a quiet middle; right = -0.9 x left."""
    t = np.arange(88200) / 44100
    amp = np.where((t > 0.75) & (t < 1.25), 0.25, 1.5)
    left = amp * np.sin(2 * np.pi * 220 * t)
    x = np.stack([left, -0.9 * left]).astype(np.float32)
    sf.write(path, x.T, 44100, subtype="FLOAT")
    return x


def test_float_beyond_full_scale(tmp_path: Path) -> None:
    src = tmp_path / "hot.wav"
    x = hot_float(src)
    assert cli("separate", str(src), "--out", str(tmp_path / "s")).returncode == 0  # float in: float stems
    assert sf.info(str(tmp_path / "s" / "bass.wav")).subtype == "FLOAT"
    assert np.abs(stems_sum(tmp_path / "s") - x).max() < 1e-5
    r = cli("separate", str(src), "--out", str(tmp_path / "s24"), "--bits", "24")
    assert r.returncode == 0 and "refrain: warning:" in r.stderr and "clipped" in r.stderr
    for bits, name in (("16", "r16.wav"), ("24", "r24.flac")):
        assert main(["render", "--tracks", str(src), "--out", str(tmp_path / name), "--bits", bits]) == 0
        y, _ = read_audio(tmp_path / name)
        assert np.abs(y - np.clip(x, -1, 1)).max() < 1e-4  # clipped, never wrapped
    assert main(["render", "--tracks", str(src), "--out", str(tmp_path / "f.wav"), "--bits", "float"]) == 0
    assert np.array_equal(read_audio(tmp_path / "f.wav")[0], x)
    loud = ["render", "--tracks", str(src), "--out", str(tmp_path / "l.wav"), "--bits", "24", "--lufs", "-14"]
    assert main(loud) == 0
    y = read_audio(tmp_path / "l.wav")[0]
    gain = float(np.dot(y[0], x[0]) / np.dot(x[0], x[0]))
    assert gain < 0.66 and np.abs(y - gain * x).max() < 1e-4  # the gain came before quantising


def test_mp3_with_a_big_id3_tag_separates_and_renders(tmp_path: Path) -> None:
    bare = tmp_path / "bare.mp3"
    sf.write(bare, music(4.0, 44100), 44100, format="MP3", subtype="MPEG_LAYER_III")  # > 65536 frames
    src = tmp_path / "tagged.mp3"
    src.write_bytes(id3v2(300_000) + bare.read_bytes())
    decoded, _ = read_audio(src)
    assert main(["separate", str(src), "--out", str(tmp_path / "s")]) == 0
    assert np.abs(stems_sum(tmp_path / "s") - decoded).max() < 1e-5  # 24-bit stems add up to the input
    assert main(["render", "--tracks", str(src), "--out", str(tmp_path / "r.wav"), "--bits", "float"]) == 0
    assert np.array_equal(read_audio(tmp_path / "r.wav")[0], decoded)


def test_odd_key_signature_is_skipped(tmp_path: Path) -> None:
    bad_key = b"\x00\xff\x59\x02\xfe\xff"
    src = smf.write(tmp_path / "odd.mid", 1, smf.ppq(480), [smf.tempo(120.0) + bad_key,
                                                           smf.notes_track(smf.PQPQRSRS, 480)])  # fmt: skip
    assert main(["render", "--tracks", str(src), "--out", str(tmp_path / "r.wav")]) == 0
    assert sf.info(str(tmp_path / "r.wav")).duration == pytest.approx(16.0 + 1.5)
    assert main(["generate", "--from-track", str(src), "--bars", "8", "--out", str(tmp_path / "g.mid")]) == 0


def test_odd_sample_rates_keep_their_rate_and_add_up(tmp_path: Path) -> None:
    paths = {}
    for rate, chans in ((11025, 2), (88200, 2), (192000, 1)):
        t = np.arange(round(1.5 * rate)) / rate
        x = 0.3 * np.sin(2 * np.pi * 82.4 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t)
        x[:: rate // 4] += 0.5  # one-sample clicks: what resampling each stem separately got wrong
        paths[rate] = tmp_path / f"rate_{rate}.wav"
        sf.write(paths[rate], np.stack([x] * chans, 1), rate, subtype="PCM_16")
        out = tmp_path / f"S{rate}"
        assert main(["separate", str(paths[rate]), "--out", str(out), "--bits", "float"]) == 0
        x_in = read_audio(paths[rate], max_channels=None)[0]
        total = stems_sum(out)
        assert sf.info(str(out / "vocals.wav")).samplerate == rate and total.shape == x_in.shape
        assert np.abs(total - x_in).max() < 1e-5
    mix = tmp_path / "mix.wav"
    both = [str(paths[11025]), str(paths[192000])]
    assert main(["render", "--tracks", *both, "--out", str(mix), "--bits", "float"]) == 0
    a = read_audio(paths[11025])[0]
    b = resample(read_audio(paths[192000])[0], 192000, 11025)
    expect = a.copy()
    expect[:, : b.shape[1]] += b[:, : a.shape[1]]
    got, rate = read_audio(mix)
    assert rate == 11025 and np.abs(got - expect).max() < 1e-6


def test_read_only_output_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    take = tmp_path / "take.wav"
    sf.write(take, music(1.5, 44100), 44100, subtype="PCM_16")
    with tmpfs(tmp_path / "RO", "size=64k,ro") as ro:
        one_line_error(cli("separate", str(take), "--out", str(ro / "stems")), "read-only file system")
        one_line_error(cli("separate", str(take), "--out", str(ro)), "read-only file system")
        one_line_error(cli("render", "--tracks", str(take), "--out", str(ro / "mix.wav")), "read-only file system")
        one_line_error(cli("generate", "--preset", "aaba", "--out", str(ro / "p.mid")), "read-only file system")
        r = cli("generate", "--preset", "aaba", "--out", str(tmp_path / "p.mid"), "--wav", str(ro / "p.wav"))
        one_line_error(r, "read-only file system")
        assert list(ro.iterdir()) == [] and not (tmp_path / "p.mid").exists()


def test_smpte_division_renders_and_gives_its_form(tmp_path: Path) -> None:
    from app.media import midi_overview

    src = smf.write(tmp_path / "smpte.mid", 0, smf.smpte(25, 40), [smf.notes_track(smf.PQPQRSRS, 500)])
    assert main(["render", "--tracks", str(src), "--out", str(tmp_path / "r.wav")]) == 0
    assert sf.info(str(tmp_path / "r.wav")).duration == pytest.approx(17.5)
    tmpl = tmp_path / "t.csv"
    args = ["generate", "--from-track", str(src), "--bars", "8", "--out", str(tmp_path / "g.mid")]
    assert main([*args, "--save-template", str(tmpl)]) == 0
    t = np.loadtxt(tmpl, delimiter=",")
    assert t[0, 2] == t[1, 3] == 1.0 and t[0, 1] < 0.5 and t[4, 6] == 1.0 and t[0, 4] < 0.5  # P Q P Q R S R S
    ov = midi_overview(str(src))
    assert ov.notes.shape[0] == 32 and ov.seconds == pytest.approx(16.0)


def test_garbage_midi_and_a_failed_load_in_a_smoke_run(tmp_path: Path) -> None:
    garbage = tmp_path / "NOT_A_PROJECT.mid"
    garbage.write_bytes(os.urandom(3000))
    one_line_error(cli("render", "--tracks", str(garbage), "--out", str(tmp_path / "r.wav")), "not a Standard MIDI")
    assert not (tmp_path / "r.wav").exists()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    r = cli("app", str(broken), "--screenshot", str(tmp_path / "shot.png"), "--quit-after", "60")
    one_line_error(r, "cannot load broken.wav")
    assert not (tmp_path / "shot.png").exists()


def test_generate_from_a_track_keeps_its_tempo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from models.generator.midi import read_midi

    src = smf.write(tmp_path / "slow.mid", 0, smf.ppq(480), [smf.tempo(90.0) + smf.notes_track(smf.PQPQRSRS, 480)])
    out = tmp_path / "g.mid"
    assert main(["generate", "--from-track", str(src), "--bars", "8", "--out", str(out)]) == 0
    assert "at 90 BPM" in capsys.readouterr().out
    assert read_midi(out).tempo == pytest.approx(90.0, abs=0.01)
    assert main(["generate", "--from-track", str(src), "--bars", "8", "--out", str(out), "--tempo", "100"]) == 0
    assert read_midi(out).tempo == pytest.approx(100.0, abs=0.01)


def test_family_help_and_models_listing(capsys: pytest.CaptureFixture[str]) -> None:
    """``refrain export separator -h`` is the family's own help under the name typed (its options are
    discoverable), ``refrain export`` alone shows the families, and ``refrain models`` keeps one column."""
    with pytest.raises(SystemExit) as done:
        main(["export", "separator", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: refrain export separator") and "--int8" in out and "--description" in out
    assert main(["export"]) == 2 and "generator" in capsys.readouterr().out
    assert main(["models"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ")]
    starts = {len(ln) - len(ln[2:].split(" ", 1)[1].lstrip()) for ln in lines}
    assert len(lines) >= 3 and len(starts) == 1  # every description starts in the same column
