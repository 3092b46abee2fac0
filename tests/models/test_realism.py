"""Training-data realism: sung vocals (Festival), recorded kits, per-stem production and mastering, and the
sampler that masters and levels examples the way the runtime feeds the network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.data import kits, production, vocals
from models.data.pop909 import Note

RATE = 44100


def test_phrases_cut_overlaps_merge_short_notes_and_split_at_rests() -> None:
    notes = [
        Note(0.0, 0.6, 60, 90),  # overlaps the next: cut at 0.5
        Note(0.5, 0.53, 62, 90),  # 30 ms: joins the note before
        Note(0.53, 1.0, 64, 90),
        Note(1.5, 2.0, 65, 90),  # after a 0.5 s rest: a new phrase
        Note(9.0, 9.5, 67, 90),  # outside the excerpt
    ]
    got = vocals.phrases(notes, 0.0, 5.0)
    assert [[(n.start, n.end, n.pitch) for n in g] for g in got] == [
        [(0.0, 0.53, 60), (0.53, 1.0, 64)],
        [(1.5, 2.0, 65)],
    ]


def test_score_is_written_for_festival() -> None:
    xml = vocals.score_xml([Note(0.0, 0.5, 60, 90), Note(1.0, 1.5, 72, 90)], ["love", "me"], 12, 1.0)
    assert '<PITCH NOTE="C5"><DURATION BEATS="%.3f">love' % (0.5 * vocals.FESTIVAL_TIME) in xml
    assert '<PITCH NOTE="C6">' in xml and "<REST BEATS=" in xml  # the octave up, and the rest between


def test_festival_sings_the_written_pitches_in_time() -> None:
    import librosa

    notes = [Note(0.2, 0.8, 57, 90), Note(0.8, 1.4, 62, 90), Note(1.4, 2.4, 60, 90)]
    take = vocals.VocalTake("kal_diphone", 0, 0.0, 5.5, 0.0)
    y = vocals.sing_take(notes, 0.0, 3.0, take, RATE, np.random.default_rng(0))
    assert y.shape == (3 * RATE,) and np.abs(y).max() > 0.01
    f0, _, _ = librosa.pyin(y, fmin=80, fmax=600, sr=RATE, frame_length=2048, hop_length=512)
    t = np.arange(len(f0)) * 512 / RATE
    for n in notes:
        mid = (t > n.start + 0.12) & (t < n.end - 0.08)
        est = float(np.nanmedian(f0[mid]))
        assert abs(12 * np.log2(est / 440) + 69 - n.pitch) < 1.0, (n, est)


def test_high_phrases_go_down_an_octave_instead_of_failing() -> None:
    take = vocals.VocalTake("ked_diphone", 12, 0.0, 5.5, 0.0)  # written C6 and up fails in Festival
    y = vocals.sing_take(
        [Note(0.1, 0.6, 84, 90), Note(0.6, 1.0, 86, 90)], 0.0, 1.2, take, RATE, np.random.default_rng(1)
    )
    assert np.abs(y).max() > 0.01


def test_mastering_hits_the_ceiling_and_the_loudness_and_keeps_the_sum() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(3 * RATE) / RATE
    drums = (rng.standard_normal(len(t)) * np.exp(-(t % 0.25) / 0.03)).astype(np.float32) * 0.3  # hits, 4 a second
    tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    stems = np.stack([np.stack([drums, drums]), np.stack([tone, tone * 0.5])])
    mix = stems.sum(0)
    m = production.Master(lufs=-9.0, bus_threshold_db=-12.0, bus_ratio=3.0, ceiling_db=-0.5)
    g = production.master_gain(mix, RATE, m)
    out = mix * g
    assert 20 * np.log10(np.abs(out).max()) <= -0.5 + 0.01
    before, after = production.loudness(mix, RATE), production.loudness(out, RATE)
    assert before < -15 and -12.0 <= after <= -8.5  # a clean limiter leaves spiky material short of -9
    np.testing.assert_allclose((stems * g).sum(0), out, atol=1e-6)
    assert g.min() < 0.5 * g.max()  # the drum hits were limited, the quiet stretches were not


def test_stem_processing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, RATE)) * 0.05).astype(np.float32)
    mono = production.process_stem(x, RATE, production.StemFx(width=0.0))
    np.testing.assert_allclose(mono[0], mono[1], atol=1e-7)
    guitar = (0.05 * np.sin(2 * np.pi * 110 * np.arange(RATE) / RATE)).astype(np.float32)
    part = np.stack([guitar, guitar])
    amped = production.process_stem(part * 1.0, RATE, production.StemFx(amp=True, drive_db=20), amp_part=part)
    spec = np.abs(np.fft.rfft(amped[0]))
    assert spec[330 * 1 : 340].max() > 0.05 * spec[105:115].max()  # the amp added harmonics


def _write_kit(folder: Path) -> None:
    folder.mkdir()
    for name, level in (("kick_soft.wav", 0.1), ("kick_hard.wav", 0.9), ("snare.wav", 0.5), ("hat.wav", 0.3)):
        sf.write(folder / name, np.full(441, level, np.float32), RATE)
    layer = "<layer><filename>{}</filename><min>{}</min><max>{}</max><gain>1</gain></layer>"
    (folder / "drumkit.xml").write_text(
        '<?xml version="1.0"?><drumkit_info xmlns="http://www.hydrogen-music.org/drumkit"><name>T</name>'
        "<instrumentList>"
        f"<instrument><name>Kick</name>{layer.format('kick_soft.wav', 0, 0.5)}"
        f"{layer.format('kick_hard.wav', 0.5, 1)}</instrument>"
        f"<instrument><name>Snare Rock</name>{layer.format('snare.wav', 0, 1)}</instrument>"
        f"<instrument><name>Closed HH</name>{layer.format('hat.wav', 0, 1)}</instrument>"
        "</instrumentList></drumkit_info>"
    )


def test_kit_maps_names_and_picks_velocity_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_kit(tmp_path / "T")
    kit = kits.read_kit(tmp_path / "T")
    assert sorted(kit.layers) == [36, 38, 42]
    monkeypatch.setattr(kits, "KIT_ROOT", tmp_path)
    kits.kits.cache_clear()
    assert kits.kits() == ("T",)
    kits.kits.cache_clear()
    hits = [Note(0.1, 0.2, 36, 20), Note(0.5, 0.6, 36, 120), Note(0.8, 0.9, 46, 100)]  # open hat: falls back to 42
    y = kits.play_kit("T", hits, 0.0, 1.0, RATE, np.random.default_rng(0))
    soft = y[0, int(0.08 * RATE) : int(0.14 * RATE)].max()
    hard = y[0, int(0.48 * RATE) : int(0.54 * RATE)].max()
    hat = y[0, int(0.78 * RATE) : int(0.84 * RATE)].max()
    assert soft < 0.1 and hard > 0.5 and 0.1 < hat < 0.4


def test_sampler_masters_and_levels_like_the_runtime(tmp_path: Path) -> None:
    from models.separator.dataset import RandomMixSampler, StemBank
    from models.separator.runtime import INPUT_RMS_DBFS

    rng = np.random.default_rng(0)
    for k in range(3):
        np.save(tmp_path / f"{k:03d}.npy", (rng.standard_normal((4, 2, 3 * RATE)) * 3000).astype(np.int16))
    bank = StemBank(tmp_path)
    s = RandomMixSampler(bank, RATE, p=0.5, seed=0, master=1.0, level_dbfs=INPUT_RMS_DBFS, level_jitter_db=6.0)
    levels = []
    for _ in range(8):
        mix, stems = s.example()
        np.testing.assert_allclose(stems.sum(0), mix, atol=1e-5)
        levels.append(10 * np.log10(np.mean(mix**2)))
    assert all(INPUT_RMS_DBFS - 6.01 <= v <= INPUT_RMS_DBFS + 6.01 for v in levels)
    assert np.ptp(levels) > 1.0  # jittered, not one fixed level
