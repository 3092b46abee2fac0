"""The one audio read/write path and the one all-or-nothing writer, on the kinds of file and folder that
broke music tools: streamed MP3, big ID3 tags, float beyond full scale, NaN, truncated WAV, read-only and
full file systems, long names. Each test builds its own input."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio_io import AudioReader, read_audio, write_audio
from engine.errors import RefrainWarning, UserError, warnings_to
from engine.files import atomic_files, atomic_path

FORMATS = [  # (suffix, soundfile format, subtype)
    ("wav", "WAV", "PCM_16"),
    ("wav", "WAV", "FLOAT"),
    ("flac", "FLAC", "PCM_24"),
    ("aiff", "AIFF", "PCM_16"),
    ("ogg", "OGG", "VORBIS"),
    ("opus", "OGG", "OPUS"),
    ("mp3", "MP3", "MPEG_LAYER_III"),
]


def music(seconds: float, rate: int = 48000) -> np.ndarray:
    """(frames, 2) of tones with attacks: enough detail that a decoder glitch shows."""
    t = np.arange(round(seconds * rate)) / rate
    env = np.exp(-(t % 0.37) * 9)
    left = np.sin(2 * np.pi * 330 * t) * env + 0.2 * np.sin(2 * np.pi * 2100 * t)
    return (0.4 * np.stack([left, -0.7 * left], 1)).astype(np.float32)


@pytest.mark.parametrize(("suffix", "fmt", "subtype"), FORMATS)
def test_streamed_decoding_equals_a_whole_read(tmp_path: Path, suffix: str, fmt: str, subtype: str) -> None:
    """soundfile seeks after every read; in an MP3 that restarted the decoder at each block boundary."""
    p = tmp_path / f"x.{suffix}"
    sf.write(p, music(3.0), 48000, format=fmt, subtype=subtype)
    whole, _ = read_audio(p, max_channels=None)
    assert whole.shape[1] > 100_000
    for block in (1, 1000, 4096, 65536):
        if block == 1 and fmt != "MP3":
            continue  # one frame at a time is slow; the MP3 decoder is the one that cared
        with AudioReader(p) as r:
            parts = list(r.blocks(block))
        streamed = np.concatenate(parts, axis=1)
        assert streamed.shape == whole.shape and np.array_equal(streamed, whole), f"{suffix} in blocks of {block}"


def id3v2(size: int, seed: int = 0) -> bytes:
    """An ID3v2.3 tag with a title and an APIC frame of random bytes holding fake MPEG frame-sync words."""
    rng = np.random.default_rng(seed)
    pic = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    for k in range(0, size - 4, 997):
        pic[k : k + 4] = b"\xff\xfb\x90\x64"  # looks like the start of an MP3 frame

    def frame(fid: bytes, body: bytes) -> bytes:
        return fid + len(body).to_bytes(4, "big") + b"\x00\x00" + body

    frames = frame(b"TIT2", b"\x00Refrain test") + frame(b"APIC", b"\x00image/jpeg\x00\x03\x00" + bytes(pic))
    n = len(frames)
    syncsafe = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x03\x00\x00" + syncsafe + frames


def test_an_mp3_behind_a_big_id3_tag_decodes_like_the_bare_file(tmp_path: Path) -> None:
    bare = tmp_path / "bare.mp3"
    sf.write(bare, music(4.0, 44100), 44100, format="MP3", subtype="MPEG_LAYER_III")
    tagged = tmp_path / "tagged.mp3"
    tagged.write_bytes(id3v2(600_000) + bare.read_bytes())
    a, ra = read_audio(bare, max_channels=None)
    b, rb = read_audio(tagged, max_channels=None)
    assert ra == rb == 44100 and a.shape == b.shape and np.array_equal(a, b)


def test_non_finite_samples_are_one_line(tmp_path: Path) -> None:
    x = music(1.0)
    x[30000, 1] = np.nan
    p = tmp_path / "nan.wav"
    sf.write(p, x, 48000, subtype="FLOAT")
    with pytest.raises(UserError, match=r"non-finite samples \(NaN or infinity\) at 0\.625 s"):
        read_audio(p)
    x[30000, 1] = np.inf
    sf.write(p, x, 48000, subtype="FLOAT")
    with pytest.raises(UserError, match="non-finite"):
        read_audio(p)


def test_a_truncated_wav_is_read_as_far_as_it_goes_with_a_warning(tmp_path: Path) -> None:
    whole = tmp_path / "whole.wav"
    sf.write(whole, music(2.0), 48000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    seen: list[str] = []
    with warnings_to(seen.append):
        audio, _ = read_audio(cut)
    full, _ = read_audio(whole)
    assert 0.45 * full.shape[1] < audio.shape[1] < 0.55 * full.shape[1]
    assert np.array_equal(audio, full[:, : audio.shape[1]])
    assert len(seen) == 1 and "truncated" in seen[0] and "2.00 s" in seen[0]
    with warnings_to(seen.append):
        read_audio(whole)
    assert len(seen) == 1  # a whole file says nothing


def test_float_beyond_full_scale_is_clipped_never_wrapped_and_said(tmp_path: Path) -> None:
    t = np.arange(44100) / 44100
    x = np.stack([1.5 * np.sin(2 * np.pi * 220 * t), -1.35 * np.sin(2 * np.pi * 220 * t)]).astype(np.float32)
    for bits in ("16", "24"):
        seen: list[str] = []
        with warnings_to(seen.append):
            write_audio(tmp_path / f"{bits}.wav", x, 44100, bits)
        y, _ = read_audio(tmp_path / f"{bits}.wav")
        assert np.abs(y - np.clip(x, -1, 1)).max() < 1e-4  # clipped: no sign flips, no wrap-around
        assert len(seen) == 1 and "clipped" in seen[0] and "peak 1.50" in seen[0]
    write_audio(tmp_path / "f.wav", x, 44100, "float")
    assert np.array_equal(read_audio(tmp_path / "f.wav")[0], x)


# -- the writer -------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def tmpfs(at: Path, options: str) -> Iterator[Path]:
    """A small file system of our own (``mount -t tmpfs``): read-only or full on demand. Needs root."""
    at.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(at)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a test file system here ({r.stderr.decode().strip()[:80]})")
    try:
        yield at
    finally:
        subprocess.run(["umount", str(at)], check=False)


def test_a_read_only_file_system_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "size=64k,ro") as ro:
        with pytest.raises(UserError, match="read-only file system") as err:
            write_audio(ro / "mix.wav", music(0.1).T, 48000)
        assert str(err.value) == f"cannot write {ro / 'mix.wav'}: read-only file system"
        with pytest.raises(UserError, match="output folder does not exist"):
            write_audio(ro / "new" / "mix.wav", music(0.1).T, 48000)
        with (
            pytest.raises(UserError, match=r"cannot create .*new: read-only file system"),
            atomic_files([ro / "new" / "a.wav"], make_folders=True),
        ):
            pass
        assert list(ro.iterdir()) == []


def test_no_space_names_the_device_and_leaves_nothing(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", "size=64k") as full:
        with pytest.raises(UserError, match=rf"no space left on device \({full}\)"):
            write_audio(full / "big.wav", music(2.0).T, 48000, "float")
        with pytest.raises(UserError, match="no space left on device"), atomic_path(full / "x.bin") as tmp:
            tmp.write_bytes(b"\0" * 200_000)
        assert list(full.iterdir()) == []


def test_long_names_and_sets_of_files_are_all_or_nothing(tmp_path: Path) -> None:
    longest = tmp_path / ("a" * 251 + ".wav")  # a legal 255-byte name: the temporary name must fit as well
    write_audio(longest, music(0.1).T, 48000)
    assert longest.is_file()
    with pytest.raises(UserError, match="file name too long"):
        write_audio(tmp_path / ("b" * 256 + ".wav"), music(0.1).T, 48000)
    out = tmp_path / "made" / "here"
    targets = [out / "one.wav", out / "two.wav"]
    with pytest.raises(KeyboardInterrupt), atomic_files(targets, make_folders=True) as temps:
        temps[0].write_bytes(b"data")
        raise KeyboardInterrupt  # Ctrl-C half-way through the set
    assert not (tmp_path / "made").exists()  # no file, and no folder the writer made
    with atomic_files(targets, make_folders=True) as temps:
        for t in temps:
            t.write_bytes(b"ok")
    assert sorted(p.name for p in out.iterdir()) == ["one.wav", "two.wav"]
    assert oct(os.stat(out / "one.wav").st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_warnings_reach_the_cli_as_warnings(tmp_path: Path) -> None:
    x = np.full((2, 1000), 1.2, np.float32)
    with pytest.warns(RefrainWarning, match="clipped"):
        write_audio(tmp_path / "c.wav", x, 44100, "16")


def test_permission_denied_is_one_line(tmp_path: Path) -> None:
    import errno

    from engine.files import os_error

    assert str(os_error(PermissionError(errno.EACCES, "Permission denied"), "/songs/mix.wav")) == (
        "cannot write /songs/mix.wav: permission denied"
    )
    if os.geteuid() == 0:
        return  # root writes through a read-only mode; the read-only file system test covers the real path
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(UserError, match="permission denied"):
        write_audio(locked / "mix.wav", music(0.1).T, 48000)
    assert list(locked.iterdir()) == []


def test_a_set_that_fails_half_way_in_puts_the_old_files_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.files as files

    old = [tmp_path / "a.wav", tmp_path / "b.wav"]
    for p in old:
        p.write_bytes(b"old " + p.name.encode())
    real = os.replace
    moved: list[str] = []

    def flaky(src: object, dst: object) -> None:
        if str(dst).endswith("b.wav") and ".part" in str(src):  # the new second file cannot go in
            raise OSError(28, "No space left on device", str(dst))
        moved.append(str(dst))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(files.os, "replace", flaky)
    with pytest.raises(UserError, match=r"cannot write .*b\.wav: no space left"), atomic_files(old) as temps:
        for t in temps:
            t.write_bytes(b"new")
    assert [p.read_bytes() for p in old] == [b"old a.wav", b"old b.wav"]  # both as they were
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]  # nothing else left


def test_an_error_in_the_block_names_the_file_being_written(tmp_path: Path) -> None:
    targets = [tmp_path / "one.npy", tmp_path / "two.json"]
    with pytest.raises(UserError, match=r"one\.npy: no such folder"), atomic_files(targets) as temps:
        raise FileNotFoundError(2, "No such file or directory", str(temps[0]))
