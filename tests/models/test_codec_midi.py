from __future__ import annotations

import mido
import numpy as np
import pytest

from engine.errors import UserError
from models.generator.codec import (
    HELD,
    HOLD,
    ONSET,
    REST,
    STEPS_PER_BAR,
    Grid,
    Notes,
    encode,
    grid_from_notes,
    notes_from_grid,
    transpose,
)
from models.generator.midi import TPB, read_midi, write_midi
from tests.conftest import synthetic_song


def test_notes_grid_round_trip() -> None:
    song = synthetic_song("A4B4A4", 3)
    g = grid_from_notes(song.melody, song.accomp, song.bars * STEPS_PER_BAR)
    mel, acc = notes_from_grid(g)
    g2 = grid_from_notes(mel, acc, g.steps)
    assert np.array_equal(g.mel, g2.mel) and np.array_equal(g.acc, g2.acc)
    assert np.array_equal(g.vel_m, g2.vel_m)
    assert len(mel) == len(song.melody)
    assert np.array_equal(np.sort(mel.pitch), np.sort(song.melody.pitch))


def test_melody_overlap_cut_and_holds() -> None:
    mel = Notes.from_rows([(0, 8, 60, 100), (2, 2, 64, 100)])
    g = grid_from_notes(mel, Notes.empty(), 16)
    # the later onset cuts the long note; the long note's tail must not extend the short one
    assert g.mel[0] >= 2 and g.mel[1] == HOLD and g.mel[2] >= 2 and g.mel[3] == HOLD
    assert np.all(g.mel[4:] == REST)


def test_accomp_repeated_note_restarts() -> None:
    acc = Notes.from_rows([(0, 8, 60, 80), (4, 4, 60, 80)])
    g = grid_from_notes(Notes.empty(), acc, 16)
    k = 60 - 24
    assert g.acc[0, k] == ONSET and g.acc[4, k] == ONSET and g.acc[3, k] == HELD and g.acc[8, k] == 0


def test_encode_shape_and_one_hot() -> None:
    g = grid_from_notes(*_two_notes(), 32)
    x = encode(g)
    assert x.shape == (32, x.shape[1]) and x.dtype == np.float32
    assert np.all(x[:, :50].sum(axis=1) == 1)


def _two_notes() -> tuple[Notes, Notes]:
    return Notes.from_rows([(0, 4, 72, 100)]), Notes.from_rows([(0, 16, 48, 60)])


def test_transpose_keeps_length_and_moves_pitch() -> None:
    g = grid_from_notes(*_two_notes(), 16)
    up = transpose(g, 3)
    mel, acc = notes_from_grid(up)
    assert mel.pitch.tolist() == [75] and acc.pitch.tolist() == [51]


def test_midi_write_read_round_trip(tmp_path) -> None:
    song = synthetic_song("A4B4A4", 5)
    g = grid_from_notes(song.melody, song.accomp, song.bars * STEPS_PER_BAR)
    path = tmp_path / "piece.mid"
    write_midi(g, path, tempo_bpm=96)
    mid = mido.MidiFile(path)
    names = [t.name for t in mid.tracks]
    assert names == ["Refrain", "Melody", "Accompaniment"]
    # exactly the grid's bars from time 0: every track ends on the last bar line
    for tr in mid.tracks:
        assert sum(m.time for m in tr) == g.steps * TPB // 4
    progs = [m.program for t in mid.tracks for m in t if m.type == "program_change"]
    assert progs == [73, 0]
    meta = {m.type: m for m in mid.tracks[0] if m.is_meta}
    assert meta["time_signature"].numerator == 4 and meta["time_signature"].denominator == 4
    assert round(mido.tempo2bpm(meta["set_tempo"].tempo)) == 96
    back, tempo = read_midi(path)
    assert round(tempo) == 96
    assert back.steps == g.steps
    assert np.array_equal(back.mel, g.mel) and np.array_equal(back.acc, g.acc)


def test_read_midi_skyline_without_melody_track(tmp_path) -> None:
    mid = mido.MidiFile(ticks_per_beat=96)
    tr = mido.MidiTrack()
    for pitch in (48, 52, 67):
        tr.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
    tr.append(mido.Message("note_off", note=48, time=96))
    tr.append(mido.Message("note_off", note=52, time=0))
    tr.append(mido.Message("note_off", note=67, time=0))
    mid.tracks.append(tr)
    p = tmp_path / "chord.mid"
    mid.save(p)
    g, tempo = read_midi(p)
    mel, acc = notes_from_grid(g)
    assert mel.pitch.tolist() == [67] and sorted(acc.pitch.tolist()) == [48, 52]
    assert tempo == 120.0 and g.bars == 1


def test_read_midi_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="no such MIDI file"):
        read_midi(tmp_path / "nope.mid")
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    with pytest.raises(UserError, match="cannot read"):
        read_midi(bad)
    empty = tmp_path / "empty.mid"
    mido.MidiFile().save(empty)
    with pytest.raises(UserError, match="no notes"):
        read_midi(empty)


def test_grid_empty_has_no_notes() -> None:
    mel, acc = notes_from_grid(Grid.empty(32))
    assert len(mel) == 0 and len(acc) == 0
