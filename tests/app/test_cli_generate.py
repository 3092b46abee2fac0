"""The ``refrain generate`` contract, end to end with the shipped models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from app.cli import main
from models.generator.midi import read_midi

ROOT = Path(__file__).resolve().parents[2]
HAS_SF2 = any(
    Path(p).is_file() for p in ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def midi_bars(path: Path) -> float:
    mid = mido.MidiFile(path)
    ticks = max(sum(m.time for m in tr) for tr in mid.tracks)
    return ticks / (4 * mid.ticks_per_beat)


@pytest.mark.parametrize("model", ["sing", "lstm"])
def test_generate_structure_exact_bars(tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str) -> None:
    out = tmp_path / "p.mid"
    code, stdout, _ = run(
        ["generate", "--structure", "A4B4A4", "--out", str(out), "--model", model, "--seed", "3"], capsys
    )
    assert code == 0 and "12 bars" in stdout
    assert midi_bars(out) == 12
    mid = mido.MidiFile(out)
    assert [t.name for t in mid.tracks] == ["Refrain", "Melody", "Accompaniment", "Bass", "Drums"]
    piece = read_midi(out)
    assert piece.tempo == pytest.approx(120.0)
    assert all(len(n) > 0 for n in piece.parts().values())


def test_done_when_command_key_chords_and_parts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's acceptance command: D minor, typed chords, the form's sections and four parts."""
    out = tmp_path / "p.mid"
    args = ["generate", "--structure", "i4A8B8A8b4B8o4", "--key", "D minor", "--chords", "Dm Bb F C", "--out", str(out),
            "--programs", "melody=40,bass=34"]  # fmt: skip
    code, stdout, _ = run(args, capsys)
    assert code == 0 and "44 bars" in stdout and "D minor" in stdout
    piece = read_midi(out)
    assert piece.key is not None and piece.key.name == "D minor"
    pitched = [n for k, n in piece.parts().items() if k != "drums"]
    scale = {2, 4, 5, 7, 9, 10, 0}
    assert set(np.concatenate([n.pitch % 12 for n in pitched]).tolist()) <= scale
    mel_bars = set((piece.parts()["melody"].start // 16).tolist())
    assert not mel_bars & (set(range(4)) | set(range(28, 32)) | set(range(40, 44)))  # i, b, o: no melody
    mid = mido.MidiFile(out)
    assert [m.program for t in mid.tracks for m in t if m.type == "program_change"] == [40, 0, 34]
    texts = [m.text for m in mid.tracks[0] if m.type == "text"]
    assert texts[:4] == ["Dm", "Bb", "F", "C"]
    assert [m.text for m in mid.tracks[0] if m.type == "marker"] == ["i", "A", "B", "A", "b", "B", "o"]


def test_tempo_changes_the_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "slow.mid", tmp_path / "fast.mid"
    for p, bpm in ((a, "60"), (b, "180")):
        assert run(["generate", "--structure", "A4B4", "--tempo", bpm, "--seed", "2", "--out", str(p)], capsys)[0] == 0
    ga, gb = read_midi(a).grid, read_midi(b).grid
    assert not (np.array_equal(ga.mel, gb.mel) and np.array_equal(ga.acc, gb.acc))


@pytest.mark.skipif(not HAS_SF2, reason="needs fluid-soundfont-gm (installed by ./run.sh as root)")
def test_generate_preset_with_wav(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mid, wav = tmp_path / "p.mid", tmp_path / "p.wav"
    code, _, _ = run(["generate", "--preset", "aaba", "--out", str(mid), "--wav", str(wav), "--tempo", "150"], capsys)
    assert code == 0
    assert midi_bars(mid) == 32
    audio, sr = sf.read(wav)
    assert sr == 44100 and audio.shape[1] == 2
    seconds = 32 * 4 * 60 / 150
    assert seconds <= audio.shape[0] / sr <= seconds + 2.0
    assert np.abs(audio).max() > 0.01  # real sound, not silence
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_seed_reproducible_and_temperature_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [tmp_path / f"{k}.mid" for k in range(3)]
    for p, extra in zip(paths, (["--seed", "5"], ["--seed", "5"], ["--seed", "6"]), strict=True):
        assert run(["generate", "--structure", "A2B2", "--out", str(p), *extra], capsys)[0] == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_template_file_and_from_track(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = tmp_path / "t.csv"
    m = np.eye(6)
    m[0, 3] = m[3, 0] = m[1, 4] = m[4, 1] = 1.0
    np.savetxt(t, m, delimiter=",")
    a = tmp_path / "a.mid"
    assert run(["generate", "--template", str(t), "--out", str(a)], capsys)[0] == 0
    assert midi_bars(a) == 6
    b = tmp_path / "b.mid"
    assert run(["generate", "--from-track", str(a), "--bars", "10", "--out", str(b)], capsys)[0] == 0
    assert midi_bars(b) == 10


def test_primer_and_regenerate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "first.mid"
    assert run(["generate", "--structure", "A4A4", "--out", str(first), "--seed", "1"], capsys)[0] == 0
    again = tmp_path / "again.mid"
    code, _, _ = run(
        [
            "generate",
            "--structure",
            "A4A4",
            "--primer",
            str(first),
            "--regenerate",
            "3-4",
            "--out",
            str(again),
            "--seed",
            "9",
        ],
        capsys,
    )
    assert code == 0
    g1 = read_midi(first).grid
    g2 = read_midi(again).grid
    kept = np.r_[0:32, 64:128]
    # the kept notes (onsets and pitches; a note held into a regenerated bar may be cut by a new one)
    for name in ("mel", "bass", "acc"):
        assert np.array_equal(getattr(g1, name)[kept], getattr(g2, name)[kept]), name
    longer = tmp_path / "longer.mid"
    assert run(["generate", "--structure", "A4A4B4", "--primer", str(first), "--out", str(longer)], capsys)[0] == 0
    g3 = read_midi(longer).grid
    assert g3.bars == 12 and np.array_equal(g3.mel[:128], g1.mel)


def _bad_template(tmp_path: Path, kind: str) -> str:
    p = tmp_path / f"bad_{kind}"
    if kind == "nonsquare.csv":
        np.savetxt(p, np.ones((3, 4)), delimiter=",")
    elif kind == "nan.npy":
        m = np.eye(4)
        m[1, 2] = np.nan
        np.save(p, m)
    elif kind == "negative.npy":
        np.save(p, -np.ones((4, 4)))
    elif kind == "empty.csv":
        p.write_text("")
    elif kind == "corrupt.png":
        p.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return str(p)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--structure", "A8B"], "malformed structure"),
        (["--structure", "A0"], "no bars"),
        (["--structure", "A5000"], "between 1 and"),
        (["--preset", "nope"], "unknown preset"),
        (["--preset", "aaba", "--bars", "0"], "between 1 and"),
        (["--preset", "aaba", "--bars", "5000"], "between 1 and"),
        (["--template", "TPL:nonsquare.csv"], "square"),
        (["--template", "TPL:nan.npy"], "NaN"),
        (["--template", "TPL:negative.npy"], "negative"),
        (["--template", "TPL:empty.csv"], "empty"),
        (["--template", "TPL:corrupt.png"], "cannot read"),
        (["--template", "/nonexistent/t.npy"], "not found"),
        (["--from-track", "/nonexistent/x.mid", "--bars", "8"], "not found"),
        (["--structure", "A4", "--temperature", "0"], "temperature"),
        (["--structure", "A4", "--tempo", "1000"], "tempo"),
        (["--structure", "A4", "--model", "nosuchmodel"], "unknown generator model"),
        (["--structure", "A4", "--regenerate", "1-2"], "needs --primer"),
        (["--structure", "A4", "--key", "H major"], "unknown key"),
        (["--structure", "A4", "--chords", "C Q7"], "unknown chord"),
        (["--structure", "A4", "--chords", "C G A B | C"], "one or two chords per bar"),
        (["--structure", "A4", "--programs", "melody=300"], "between 0 and 127"),
        (["--structure", "A4", "--programs", "kazoo=3"], "bad program"),
        (["--structure", "A4", "--density", "bass=9"], "between 0 and 4"),
        (["--structure", "A4", "--variation", "2"], "variation"),
        (["--structure", "A4", "--top-p", "0"], "top-p"),
        (["--structure", "A4", "--time-signature", "3/4"], "not supported"),
        (["--structure", "A4", "--time-signature", "waltz"], "bad time signature"),
        (["--structure", "A4B4", "--chords", "A=C G; C=F G"], "the form has sections AB"),
        (["--seed", "1"], "give a form"),
    ],
)
def test_bad_input_one_line_exit_2_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    args = [_bad_template(tmp_path, a[4:]) if a.startswith("TPL:") else a for a in args]
    out = tmp_path / "out.mid"
    code, _stdout, stderr = run(["generate", *args, "--out", str(out)], capsys)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("refrain: error:") and message in lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("bad_")) == []


def test_from_track_takes_length_tempo_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src.mid"
    args = ["generate", "--structure", "A4B4A4", "--tempo", "87", "--key", "E minor", "--out", str(src)]
    assert run(args, capsys)[0] == 0
    out = tmp_path / "o.mid"
    code, stdout, _ = run(["generate", "--from-track", str(src), "--out", str(out)], capsys)
    assert code == 0 and "12 bars" in stdout and "87 BPM" in stdout and "E minor" in stdout
    markers = [m.text for m in mido.MidiFile(out).tracks[0] if m.type == "marker"]
    assert markers == ["A", "B", "A"]  # the sections it wrote are its form
    again = tmp_path / "again.mid"  # a primer alone keeps its own form, tempo and key
    code, stdout, _ = run(["generate", "--primer", str(src), "--regenerate", "5-8", "--out", str(again)], capsys)
    assert code == 0 and "12 bars" in stdout and "87 BPM" in stdout and "E minor" in stdout


def test_bad_output_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["generate", "--structure", "A2", "--out", str(tmp_path / "o.txt")], capsys)
    assert code == 2 and "must end with" in err and not list(tmp_path.iterdir())


def test_generation_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from app.cli import main; "
        f"rc = main(['generate', '--preset', 'abab', '--out', {str(tmp_path / 'x.mid')!r}]); "
        "assert rc == 0; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("ok")


def test_eval_without_data_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFRAIN_DATA", "/nonexistent")
    code, _, err = run(["eval", "generator", "--json"], capsys)
    assert code == 2 and "POP909 data not found" in err


def test_missing_soundfont_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.soundfont

    monkeypatch.delenv("REFRAIN_SOUNDFONT", raising=False)
    monkeypatch.setattr(engine.soundfont, "CANDIDATES", ())
    mid, wav = tmp_path / "p.mid", tmp_path / "p.wav"
    code, _, err = run(["generate", "--preset", "aaba", "--out", str(mid), "--wav", str(wav)], capsys)
    assert code == 2 and "no General MIDI SoundFont found" in err and "fluid-soundfont-gm" in err
    assert not mid.exists() and not wav.exists()
    code, _, err = run(
        ["generate", "--preset", "aaba", "--out", str(mid), "--wav", str(wav), "--soundfont", "x.sf2"], capsys
    )
    assert code == 2 and "SoundFont not found" in err and not list(tmp_path.iterdir())


@pytest.mark.skipif(not HAS_SF2, reason="needs fluid-soundfont-gm (installed by ./run.sh as root)")
def test_demo_writes_midi_and_wav(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo", "--out", str(tmp_path / "demo"), "--preset", "abab"], capsys)
    assert code == 0 and "wrote" in out
    assert (tmp_path / "demo" / "refrain-abab.mid").is_file() and (tmp_path / "demo" / "refrain-abab.wav").is_file()
