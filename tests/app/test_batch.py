"""Batch work from the command line: a folder through ``refrain separate`` on two worker processes, one bad
file recorded and skipped, the manifest that makes a rerun skip what is done, and Ctrl-C in the middle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.batch import MANIFEST, Manifest, gather
from engine.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


def _songs(folder: Path, count: int, seconds: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * 44100)) / 44100
    out = []
    for k in range(count):
        x = 0.2 * np.sin(2 * np.pi * (110 + 40 * k) * t) + 0.05 * np.sin(2 * np.pi * 2000 * t) * (t % 0.5 < 0.05)
        out.append(folder / f"song {k + 1:02d}.wav")
        sf.write(out[-1], np.stack([x, x]).T, 44100, subtype="PCM_16")
    return out


def _default_sigint() -> None:
    # a terminal's foreground job gets Ctrl-C; a job started with `&` by a script inherits SIGINT ignored
    # (and Python then installs no KeyboardInterrupt handler), so the test must not depend on how it was run
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def _manifest(out: Path) -> dict[str, dict[str, object]]:
    data = json.loads((out / MANIFEST).read_text())
    return {Path(i["input"]).name: i for i in data["items"]}


def test_a_folder_separates_on_two_workers_and_a_rerun_skips_what_is_done(tmp_path: Path) -> None:
    songs = _songs(tmp_path / "in", 3, 1.0)
    (tmp_path / "in" / "broken.wav").write_text("not audio")
    out = tmp_path / "out"
    p = _cli("separate", str(tmp_path / "in"), "--out", str(out), "--jobs", "2")
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 2, stderr  # one input failed: the batch went on and says so
    assert sorted(line.split("\t")[0] for line in stdout.splitlines()) == ["done", "done", "done", "failed"]
    failed = [line for line in stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "broken" in failed[0] and "cannot decode" in failed[0]
    items = _manifest(out)
    assert items["broken.wav"]["state"] == "failed" and not (out / "broken").exists()
    for s in songs:
        assert items[s.name]["state"] == "done"
        assert sorted(f.name for f in (out / s.stem).iterdir()) == ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    stamps = {f: f.stat().st_mtime_ns for f in out.rglob("*.wav")}

    (out / "song 02" / "bass.wav").unlink()  # an output gone since: that input is redone
    p = _cli("separate", str(tmp_path / "in"), "--out", str(out), "--jobs", "2")
    _, stderr = p.communicate(timeout=300)
    assert p.returncode == 2 and "4 inputs: 2 already done, 2 to separate" in stderr
    for f, stamp in stamps.items():
        if f.parent.name != "song 02":
            assert f.stat().st_mtime_ns == stamp, f"{f} was rewritten"
    assert (out / "song 02" / "bass.wav").exists()
    assert not list(out.rglob(".rf-*"))


def test_ctrl_c_keeps_the_manifest_consistent_and_the_rerun_finishes(tmp_path: Path) -> None:
    songs = _songs(tmp_path / "in", 6, 20.0)
    out = tmp_path / "out"
    p = _cli("separate", *map(str, songs), "--out", str(out))
    assert p.stderr is not None
    for line in p.stderr:  # wait for the first finished input, then interrupt
        if line.startswith("done"):
            break
    p.send_signal(signal.SIGINT)
    _, rest = p.communicate(timeout=120)
    assert p.returncode == 130, rest
    assert "interrupted:" in rest and "run the same command again" in rest
    items = _manifest(out)
    done = [n for n, i in items.items() if i["state"] == "done"]
    assert 1 <= len(done) < len(songs)
    for item in items.values():
        if item["state"] == "done":
            assert all(Path(str(o)).exists() for o in item["outputs"])  # type: ignore[union-attr]
        else:
            assert item["state"] == "pending"
    assert not list(out.rglob(".rf-*")), "half-written files were left behind"
    p = _cli("separate", *map(str, songs), "--out", str(out))
    _, stderr = p.communicate(timeout=600)
    assert p.returncode == 0, stderr
    assert f"already done, {len(songs) - len(done)} to separate" in stderr
    assert all(i["state"] == "done" for i in _manifest(out).values())
    assert os.listdir(out / "song 06")


def test_inputs_names_and_options(tmp_path: Path) -> None:
    a = _songs(tmp_path / "a", 1, 0.5)[0]
    b = _songs(tmp_path / "b", 1, 0.5)[0]  # the same file name in another folder
    assert gather([tmp_path / "a", a, b]) == [a, b]  # a folder and a file in it count once
    m = Manifest.open(tmp_path / "out", "separate", {"model": "separator"}, gather([a, b]))
    assert [i.name for i in m.items] == ["song 01", "song 01 (2)"]
    m.save()
    with pytest.raises(UserError, match="made with model='separator'"):
        Manifest.open(tmp_path / "out", "separate", {"model": "other"}, [a])
    with pytest.raises(UserError, match="no such file"):
        gather([tmp_path / "missing.wav"])
    with pytest.raises(UserError, match="no audio files"):
        gather([tmp_path / "out"])


def _workers_of(pid: int) -> list[int]:
    """The batch's spawn workers among ``pid``'s children (not multiprocessing's resource tracker)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"spawn_main" in cmd:
                out.append(int(child))
    return out


def test_a_worker_killed_mid_file_fails_that_file_and_the_batch_goes_on(tmp_path: Path) -> None:
    songs = _songs(tmp_path / "in", 4, 20.0)
    out = tmp_path / "out"
    p = _cli("separate", str(tmp_path / "in"), "--out", str(out))
    assert p.stderr is not None
    for line in p.stderr:
        if line.startswith("done"):  # the worker has moved on to the next file: kill it there
            workers = _workers_of(p.pid)
            assert len(workers) == 1
            os.kill(workers[0], signal.SIGKILL)
            break
    _, rest = p.communicate(timeout=300)
    assert p.returncode == 2, rest
    assert "the worker process died" in rest
    items = _manifest(out)
    states = sorted(str(i["state"]) for i in items.values())
    assert states.count("failed") == 1 and states.count("done") == len(songs) - 1
    assert not list(out.rglob(".rf-*"))
    p = _cli("separate", str(tmp_path / "in"), "--out", str(out))
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0 and f"{len(songs) - 1} already done, 1 to separate" in err


def test_transcribe_and_split_batches(tmp_path: Path) -> None:
    songs = _songs(tmp_path / "in", 2, 2.0)
    p = _cli("transcribe", *map(str, songs), "--out", str(tmp_path / "midi"))
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    for s in songs:
        assert (tmp_path / "midi" / s.stem / f"{s.stem}.mid").stat().st_size > 20
    p = _cli("split", str(tmp_path / "in"), "--out", str(tmp_path / "voices"))
    _, err = p.communicate(timeout=300)
    lines = err.strip().splitlines()
    if p.returncode == 2 and "no splitter model ships" in err:  # none shipped: said once, before any work
        assert len(lines) == 1 and not (tmp_path / "voices").exists()
    else:
        assert p.returncode == 0, err
