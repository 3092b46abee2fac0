"""The one MIDI reader on the kinds of file that broke music tools (each test builds its own file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import RefrainWarning, UserError, warnings_to
from engine.midi import read_midi_file
from tests import smf


def test_smpte_division_is_honoured(tmp_path: Path) -> None:
    """25 fps x 40 ticks per frame = 1000 ticks per second (mido reads a negative tick rate here)."""
    p = smf.write(tmp_path / "smpte.mid", 0, smf.smpte(25, 40), [smf.notes_track(smf.PQPQRSRS, 500)])
    m = read_midi_file(p)
    assert m.smpte == (25.0, 40) and m.ppq is None
    assert len(m.notes) == 32 and m.end == pytest.approx(16.0)
    assert [n.start for n in m.notes[:3]] == pytest.approx([0.0, 0.5, 1.0])
    assert m.end_beats == pytest.approx(32.0)  # beats at 120 BPM when the file states no tempo
    p30 = smf.write(tmp_path / "drop.mid", 0, smf.smpte(29, 4), [smf.notes_track([60], 2997)])
    assert read_midi_file(p30).end == pytest.approx(25.0, rel=1e-3)  # 29 means 29.97 frames per second


def test_undecodable_meta_events_are_skipped(tmp_path: Path) -> None:
    bad_key = b"\x00\xff\x59\x02\xfe\xff"  # two flats, mode 255: mido raises KeySignatureError
    bad_tempo = b"\x00\xff\x51\x02\x07\xa1"  # a tempo of two bytes instead of three
    conductor = smf.tempo(120.0) + bad_key + bad_tempo
    p = smf.write(tmp_path / "odd.mid", 1, smf.ppq(480), [conductor, smf.notes_track(smf.PQPQRSRS, 480)])
    m = read_midi_file(p)
    assert len(m.notes) == 32 and m.end == pytest.approx(16.0) and m.tempo_bpm == pytest.approx(120.0)


def test_running_status_type_2_and_tempo_changes_in_any_track(tmp_path: Path) -> None:
    running = smf.notes_track([60, 62, 64, 65], 480, running=True)
    m = read_midi_file(smf.write(tmp_path / "run.mid", 0, smf.ppq(480), [running]))
    assert [n.pitch for n in m.notes] == [60, 62, 64, 65] and m.end == pytest.approx(2.0)
    # a type-1 file whose tempo change (to 60 BPM at beat 2) sits in the second track, not the conductor
    track = smf.tempo(120.0) + smf.notes_track([60, 62], 480) + smf.tempo(60.0) + smf.notes_track([64, 65], 480)
    m = read_midi_file(smf.write(tmp_path / "tempo.mid", 1, smf.ppq(480), [b"", track]))
    assert [round(n.start, 3) for n in m.notes] == [0.0, 0.5, 1.0, 2.0] and m.end == pytest.approx(3.0)
    assert [round(b, 3) for _, b in m.tempos] == [120.0, 60.0]
    # type 2: independent patterns, one after another
    m = read_midi_file(smf.write(tmp_path / "t2.mid", 2, smf.ppq(480), [smf.notes_track([60], 960),
                                                                        smf.notes_track([67], 480)]))  # fmt: skip
    assert [(n.pitch, n.start) for n in m.notes] == [(60, 0.0), (67, 1.0)] and m.end == pytest.approx(1.5)


def test_the_file_ends_at_its_last_sounding_event(tmp_path: Path) -> None:
    """A controller three hours after the last note must not make three hours of audio."""
    hours = 3 * 3600 * 2 * 480  # ticks at 120 BPM
    stray = smf.vlq(hours) + b"\xb0\x07\x64"
    m = read_midi_file(smf.write(tmp_path / "stray.mid", 0, smf.ppq(480), [smf.notes_track([60, 62], 480) + stray]))
    assert m.end == pytest.approx(1.0)
    from engine.sources import load_midi_clip

    assert load_midi_clip(tmp_path / "stray.mid", 44100).end == 44100  # the clip ends at the last note
    # an end-of-track marker less than a bar after the last note keeps the piece's last rest
    rest = smf.notes_track([60], 480) + smf.vlq(960) + smf.END
    m = read_midi_file(smf.write(tmp_path / "rest.mid", 0, smf.ppq(480), [rest]))
    assert m.end == pytest.approx(1.5)


def test_drum_notes_count_and_a_file_without_notes_is_one_line(tmp_path: Path) -> None:
    m = read_midi_file(smf.write(tmp_path / "drums.mid", 0, smf.ppq(96), [smf.notes_track([36, 38, 42], 48, 9)]))
    assert len(m.notes) == 3 and all(n.is_drum for n in m.notes)
    empty = smf.write(tmp_path / "empty.mid", 1, smf.ppq(96), [smf.tempo(100.0)])
    with pytest.raises(UserError, match="has no notes"):
        read_midi_file(empty)
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UserError, match="not a Standard MIDI File"):
        read_midi_file(garbage)
    with pytest.raises(UserError, match="no such MIDI file"):
        read_midi_file(tmp_path / "missing.mid")
    bad_division = tmp_path / "div.mid"
    bad_division.write_bytes(smf.header(0, 1, b"\x00\x00") + smf.chunk(b"MTrk", smf.notes_track([60], 10)))
    with pytest.raises(UserError, match="time division is zero"):
        read_midi_file(bad_division)


def test_a_truncated_file_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    whole = smf.write(tmp_path / "whole.mid", 0, smf.ppq(480), [smf.notes_track(smf.PQPQRSRS, 480)]).read_bytes()
    cut = tmp_path / "cut.mid"
    cut.write_bytes(whole[: len(whole) // 2])
    seen: list[str] = []
    with warnings_to(seen.append):
        m = read_midi_file(cut)
    assert 10 < len(m.notes) < 32 and seen and "truncated" in seen[0]
    with pytest.warns(RefrainWarning, match="truncated"):
        read_midi_file(cut)
    rmid = tmp_path / "song.rmi"  # RIFF-wrapped (RMID) files are unwrapped
    rmid.write_bytes(b"RIFF" + (len(whole) + 12).to_bytes(4, "little") + b"RMIDdata" + len(whole).to_bytes(4, "little")
                     + whole)  # fmt: skip
    assert len(read_midi_file(rmid).notes) == 32


def test_a_message_cut_short_resynchronises_at_the_next_status_byte(tmp_path: Path) -> None:
    """A note-on cut short by the next status byte is dropped, and that next message (which follows with no
    delta-time of its own) is read at the same tick; so are data bytes with no status to run on."""
    track = bytes([0x00, 0x90, 60, 90, 0x60, 0x90, 62])  # the second note-on lost its velocity byte
    track += bytes([0x90, 64, 90, 0x83, 0x60, 0x80, 60, 64, 0x00, 0x80, 64, 64])
    m = read_midi_file(smf.write(tmp_path / "cut.mid", 0, smf.ppq(480), [track]))
    assert [(n.pitch, round(n.start_beat * 480), round(n.end_beat * 480)) for n in m.notes] == [
        (60, 0, 576),
        (64, 96, 576),
    ]
    stray = bytes([0x00, 0x33, 0x34, 0x90, 67, 80, 0x60, 0x80, 67, 0])  # data bytes before any status byte
    m = read_midi_file(smf.write(tmp_path / "stray.mid", 0, smf.ppq(480), [stray]))
    assert [(n.pitch, round(n.start_beat * 480), round(n.end_beat * 480)) for n in m.notes] == [(67, 0, 96)]
