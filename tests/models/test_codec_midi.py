from __future__ import annotations

import mido
import numpy as np
import pytest

from engine.errors import UserError
from models.generator.chords import Chord, Key
from models.generator.codec import (
    ACC_LO,
    DURATIONS,
    FRAME_DIM,
    MEL_LO,
    SL,
    STEPS_PER_BAR,
    Grid,
    Notes,
    derive_state,
    encode,
    grid_from_parts,
    parts_from_grid,
    split_bass,
    transpose,
)
from models.generator.drums import DRUM_CHANNEL
from models.generator.midi import TPB, Piece, read_midi, write_midi
from tests.conftest import synthetic_song


def _grid(song_seed: int = 3) -> Grid:
    song = synthetic_song("A4B4A4", song_seed)
    return grid_from_parts(song.melody, song.bass, song.accomp, song.bars * STEPS_PER_BAR)


def test_parts_grid_round_trip() -> None:
    song = synthetic_song("A4B4A4", 3)
    g = _grid(3)
    mel, bass, acc = parts_from_grid(g)
    g2 = grid_from_parts(mel, bass, acc, g.steps)
    for name in ("mel", "mel_dur", "bass", "bass_dur", "acc", "acc_dur", "mel_sound", "acc_sound"):
        assert np.array_equal(getattr(g, name), getattr(g2, name)), name
    # durations that are tokens survive exactly (the fixture uses 2, 4, 8 steps)
    assert len(mel) == len(song.melody)
    assert sorted(mel.rows()) == sorted((s, d, p, v // 8 * 8 + 4) for s, d, p, v in song.melody.rows())


def test_long_notes_are_one_event() -> None:
    mel = Notes.from_rows([(0, 16, 60, 100)])
    g = grid_from_parts(mel, Notes.empty(), Notes.empty(), 32)
    assert int((g.mel > 0).sum()) == 1 and DURATIONS[g.mel_dur[0]] == 16
    assert g.mel_sound[:15].all() and not g.mel_sound[15:].any()
    assert (g.mel_last[:20] == 60 - MEL_LO).all()


def test_monophonic_onset_cuts_the_note_before() -> None:
    mel = Notes.from_rows([(0, 8, 60, 100), (2, 2, 64, 100)])
    g = grid_from_parts(mel, Notes.empty(), Notes.empty(), 16)
    out, _, _ = parts_from_grid(g)
    assert out.rows() == [(0, 2, 60, 100), (2, 2, 64, 100)]


def test_accompaniment_repeated_pitch_restarts() -> None:
    acc = Notes.from_rows([(0, 8, 60, 80), (4, 4, 60, 80)])
    g = grid_from_parts(Notes.empty(), Notes.empty(), acc, 16)
    _, _, out = parts_from_grid(g)
    assert out.rows() == [(0, 4, 60, 84), (4, 4, 60, 84)]
    assert g.acc[0, 60 - ACC_LO] and g.acc[4, 60 - ACC_LO]


def test_split_bass_takes_the_lowest_sounding_line() -> None:
    # a held root under an arpeggio: the root is bass, the arpeggio is not
    acc = Notes.from_rows([(0, 16, 36, 80), (0, 4, 60, 70), (4, 4, 43, 70), (8, 4, 64, 70), (16, 4, 41, 80)])
    bass, rest = split_bass(acc)
    assert bass.pitch.tolist() == [36, 41]
    assert sorted(rest.pitch.tolist()) == [43, 60, 64]


def test_encode_layout() -> None:
    g = _grid()
    x = encode(g)
    assert x.shape == (g.steps, FRAME_DIM) and x.dtype == np.float32
    assert np.all(x[:, SL["mel"]].sum(axis=1) == 1)  # "no onset" or one pitch
    on = g.mel > 0
    assert np.all(x[on][:, SL["mel_dur"]].sum(axis=1) == 1) and np.all(x[~on][:, SL["mel_dur"]].sum(axis=1) == 0)
    assert np.array_equal(x[:, SL["acc"]] > 0, g.acc)


def test_derive_state_from_the_middle_equals_from_the_start() -> None:
    g = _grid(5)
    h = g.copy()
    h.mel_sound[:] = False
    h.acc_sound[:] = False
    h.mel_last[:] = -7
    h.mel_last[:40] = g.mel_last[:40]
    h.mel_sound[:40] = g.mel_sound[:40]
    h.acc_sound[:40] = g.acc_sound[:40]
    derive_state(h, 40)
    assert np.array_equal(h.mel_sound, g.mel_sound) and np.array_equal(h.mel_last, g.mel_last)
    assert np.array_equal(h.acc_sound, g.acc_sound)


def test_transpose_moves_every_part_and_keeps_rhythm() -> None:
    g = _grid()
    up = transpose(g, 3)
    a, b = parts_from_grid(g), parts_from_grid(up)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.start, y.start) and np.array_equal(x.dur, y.dur)
        assert np.all((y.pitch - x.pitch) % 12 == 3)
    assert np.array_equal(encode(up), encode(grid_from_parts(*b, g.steps)))


def test_midi_write_read_round_trip(tmp_path) -> None:
    g = _grid(5)
    drums = Notes.from_rows([(0, 1, 36, 100), (4, 1, 38, 90)])
    chords = [Chord(0, "maj"), Chord(0, "maj"), Chord(9, "min")] + [None] * (2 * g.bars - 3)
    piece = Piece(g, drums, 96.0, Key(10, False), chords, [(0, "A"), (4, "B")], {"melody": 40, "acc": 4, "bass": 34})
    path = tmp_path / "piece.mid"
    write_midi(piece, path)
    mid = mido.MidiFile(path)
    assert [t.name for t in mid.tracks] == ["Refrain", "Melody", "Accompaniment", "Bass", "Drums"]
    for tr in mid.tracks:  # exactly the grid's bars from time 0
        assert sum(m.time for m in tr) == g.steps * TPB // 4
    assert [m.program for t in mid.tracks for m in t if m.type == "program_change"] == [40, 4, 34]
    assert {m.channel for m in mid.tracks[4] if m.type == "note_on"} == {DRUM_CHANNEL}
    meta = {m.type: m for m in mid.tracks[0] if m.is_meta}
    assert meta["key_signature"].key == "Bb" and round(mido.tempo2bpm(meta["set_tempo"].tempo)) == 96
    assert [m.text for m in mid.tracks[0] if m.type == "marker"] == ["A", "B"]
    assert [m.text for m in mid.tracks[0] if m.type == "text"][:2] == ["C", "Am"]
    back = read_midi(path)
    assert round(back.tempo) == 96 and back.key == Key(10, False)
    assert back.programs == {"melody": 40, "acc": 4, "bass": 34}
    assert back.sections == [(0, "A"), (4, "B")]
    assert back.chords == chords  # the chord symbols written, not re-estimated
    assert back.grid.steps == g.steps
    for name in ("mel", "mel_dur", "bass", "bass_dur", "acc", "acc_dur"):
        assert np.array_equal(getattr(back.grid, name), getattr(g, name)), name
    assert back.drums.rows() == drums.rows()


@pytest.mark.parametrize("key", [Key(3, True), Key(6, False), Key(1, False), Key(11, False), Key(8, True)])
def test_every_key_signature_round_trips(tmp_path, key: Key) -> None:
    path = tmp_path / "k.mid"
    write_midi(Piece(_grid(1), key=key), path)
    assert read_midi(path).key == key


def test_an_empty_named_melody_track_stays_empty(tmp_path) -> None:
    g = _grid(2)
    g.mel[:] = 0
    derive_state(g)
    path = tmp_path / "instrumental.mid"
    write_midi(Piece(g), path)
    assert len(read_midi(path).parts()["melody"]) == 0


def test_read_midi_skyline_and_bass_without_named_tracks(tmp_path) -> None:
    mid = mido.MidiFile(ticks_per_beat=96)
    tr = mido.MidiTrack()
    for pitch in (36, 52, 67):
        tr.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
    tr.append(mido.Message("note_off", note=36, time=96))
    tr.append(mido.Message("note_off", note=52, time=0))
    tr.append(mido.Message("note_off", note=67, time=0))
    mid.tracks.append(tr)
    p = tmp_path / "chord.mid"
    mid.save(p)
    piece = read_midi(p)
    parts = piece.parts()
    assert parts["melody"].pitch.tolist() == [67] and parts["bass"].pitch.tolist() == [36]
    assert parts["acc"].pitch.tolist() == [52]
    assert piece.tempo == 120.0 and piece.bars == 1


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
    waltz = mido.MidiFile()
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("time_signature", numerator=3, denominator=4))
    tr.append(mido.Message("note_on", note=60, velocity=80, time=0))
    tr.append(mido.Message("note_off", note=60, time=480))
    waltz.tracks.append(tr)
    waltz.save(tmp_path / "waltz.mid")
    with pytest.raises(UserError, match="3/4"):
        read_midi(tmp_path / "waltz.mid")


def test_grid_empty_has_no_notes() -> None:
    assert all(len(n) == 0 for n in parts_from_grid(Grid.empty(32)))
