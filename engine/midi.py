"""The one MIDI reader: Standard MIDI Files to timed events and notes, for playback, the app, templates,
the generator's data and the stem renderer.

It reads the bytes itself because the files that break other tools are exactly the ones a general
library refuses (mido raises on an undecodable key signature and misreads an SMPTE division):

* PPQ and SMPTE time division (frames per second x ticks per frame; 29 means 29.97 drop-frame);
* type 0, 1 and 2 files (type 2 tracks are independent patterns played one after another);
* running status; tempo changes in any track (one tempo map for type 0/1, one per track for type 2);
* malformed meta events (a key signature that cannot be decoded, a tempo of the wrong length) and
  unknown chunks are skipped; a truncated chunk is read as far as it goes, with a warning;
* notes pair like pretty_midi: a note-off ends every open note of its key that began at an earlier tick;
* the file ends at its last sounding event, so a stray event hours later never makes hours of audio
  (notes left open end there too; later controller events are kept, and played when they fall inside
  the clip's release tail); an end-of-track marker less than a bar later still counts, so a piece that
  ends on a bar line keeps its last rest;
* drum notes (channel 10) are notes; a file without notes is a one-line error.

Times are seconds (through the tempo map) and beats (quarter notes: ticks / PPQ; SMPTE files count
beats at their first tempo, 120 BPM when they state none).
"""

from __future__ import annotations

import os
from bisect import bisect_right
from dataclasses import dataclass, field

from engine.errors import UserError, warn

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".rmi")
DEFAULT_TEMPO_US = 500_000  # 120 BPM
DRUM_CHANNEL = 9
SMPTE_RATES = {24: 24.0, 25: 25.0, 29: 29.97, 30: 30.0}
_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_SYSTEM_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}


@dataclass(frozen=True, slots=True)  # slots: thousands per file, no __dict__ each (less for the GC to chase)
class MidiEvent:
    """A channel message at a time in the file: ``status`` includes the channel."""

    seconds: float
    beats: float
    track: int
    status: int
    data1: int
    data2: int

    @property
    def channel(self) -> int:
        return self.status & 0x0F

    def to_bytes(self) -> bytes:
        kind = self.status & 0xF0
        return bytes((self.status, self.data1) if kind in (0xC0, 0xD0) else (self.status, self.data1, self.data2))


@dataclass(frozen=True, slots=True)
class MidiNote:
    start: float  # seconds
    end: float
    pitch: int
    velocity: int
    channel: int
    track: int
    start_beat: float
    end_beat: float

    @property
    def is_drum(self) -> bool:
        return self.channel == DRUM_CHANNEL


@dataclass
class MidiFile:
    """A decoded file. ``events`` and ``notes`` are sorted by time; ``tempos`` is ``(seconds, bpm)``."""

    path: str
    format: int
    ppq: int | None  # ticks per quarter note; None for SMPTE timing
    smpte: tuple[float, int] | None  # (frames per second, ticks per frame)
    track_names: list[str]
    events: list[MidiEvent]
    notes: list[MidiNote]
    end: float  # seconds: the last sounding event (see ``read_midi_file``)
    end_beats: float
    tempos: list[tuple[float, float]] = field(default_factory=list)
    time_signature: tuple[int, int] = (4, 4)
    key_signature: tuple[int, bool] | None = None  # (sharps, negative for flats; minor) of the first key meta
    cues: list[tuple[float, str]] = field(default_factory=list)  # (beats, text) of marker events (format 0/1)
    texts: list[tuple[float, str]] = field(default_factory=list)  # (beats, text) of text events (format 0/1)

    @property
    def tempo_bpm(self) -> float:
        """The tempo at the start (120 when the file states none)."""
        return self.tempos[0][1] if self.tempos else 60e6 / DEFAULT_TEMPO_US

    def track_notes(self) -> dict[str, list[MidiNote]]:
        """Notes per track name (upper-cased, stripped; unnamed tracks are ``TRACK <n>``)."""
        out: dict[str, list[MidiNote]] = {}
        for n in self.notes:
            out.setdefault(self.track_name(n.track).upper(), []).append(n)
        return out

    def track_name(self, index: int) -> str:
        name = self.track_names[index].strip() if index < len(self.track_names) else ""
        return name or f"Track {index + 1}"


# -- bytes --------------------------------------------------------------------------------------------------
class _Truncated(Exception):
    pass


def _vlq(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if pos >= len(data):
            raise _Truncated()
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            return value, pos
    return value, pos  # a fifth continuation byte is malformed: take what we have


@dataclass
class _RawTrack:
    name: str = ""
    events: list[tuple[int, int, int, int]] = field(default_factory=list)  # tick, status, d1, d2
    tempos: list[tuple[int, int]] = field(default_factory=list)  # tick, microseconds per quarter
    time_signature: tuple[int, int] | None = None
    key_signature: tuple[int, bool] | None = None  # (sharps, negative for flats; minor)
    cues: list[tuple[int, str]] = field(default_factory=list)  # (tick, text) of marker events
    texts: list[tuple[int, str]] = field(default_factory=list)  # (tick, text) of text events
    end_tick: int = 0
    truncated: bool = False


def _parse_track(data: bytes) -> _RawTrack:
    tr = _RawTrack()
    pos, tick, running = 0, 0, -1
    resync = False  # after a broken message the next status byte follows at once, with no delta-time
    try:
        while pos < len(data):
            if resync:
                resync = False
            else:
                delta, pos = _vlq(data, pos)
                tick += delta
            if pos >= len(data):
                raise _Truncated()
            b = data[pos]
            if b == 0xFF:  # meta event: never changes running status
                if pos + 1 >= len(data):
                    raise _Truncated()
                kind = data[pos + 1]
                length, pos = _vlq(data, pos + 2)
                payload = data[pos : pos + length]
                if len(payload) < length:
                    raise _Truncated()
                pos += length
                if kind == 0x2F:
                    break
                _meta(tr, tick, kind, payload)
                continue
            if b in (0xF0, 0xF7):  # sysex: skipped
                length, pos = _vlq(data, pos + 1)
                pos += length
                if pos > len(data):
                    raise _Truncated()
                continue
            if b >= 0xF0:  # system common/real-time bytes do not belong in a file; skip them
                pos += 1 + _SYSTEM_BYTES.get(b, 0)
                continue
            if b >= 0x80:
                running = b
                pos += 1
            elif running < 0:  # data bytes with no status to run on: resynchronise at the next status byte
                while pos < len(data) and data[pos] < 0x80:
                    pos += 1
                resync = True
                continue
            need = _DATA_BYTES[running & 0xF0]
            body = data[pos : pos + need]
            if len(body) < need:
                raise _Truncated()
            stray = next((k for k, x in enumerate(body) if x >= 0x80), None)
            if stray is not None:  # a message cut short by the next status byte: drop it, read on from there
                pos += stray
                resync = True
                continue
            pos += need
            tr.events.append((tick, running, body[0], body[1] if need == 2 else 0))
    except _Truncated:
        tr.truncated = True
    tr.end_tick = tick
    return tr


def _meta(tr: _RawTrack, tick: int, kind: int, payload: bytes) -> None:
    """Keep the meta events that matter for timing and naming; anything malformed is skipped."""
    if kind == 0x51 and len(payload) == 3:
        us = int.from_bytes(payload, "big")
        if us > 0:
            tr.tempos.append((tick, us))
    elif kind == 0x06:
        tr.cues.append((tick, payload.decode("latin-1", errors="replace")))
    elif kind == 0x01:
        tr.texts.append((tick, payload.decode("latin-1", errors="replace")))
    elif kind == 0x03 and not tr.name:
        tr.name = payload.decode("latin-1", errors="replace")
    elif kind == 0x58 and len(payload) >= 2 and tr.time_signature is None and payload[0] > 0 and payload[1] < 8:
        tr.time_signature = (payload[0], 1 << payload[1])
    elif (
        kind == 0x59
        and len(payload) == 2
        and tr.key_signature is None
        and -7 <= int.from_bytes(payload[:1], "big", signed=True) <= 7
    ):
        tr.key_signature = (int.from_bytes(payload[:1], "big", signed=True), payload[1] == 1)


def _chunks(data: bytes, path: str) -> tuple[bytes, list[bytes], bool]:
    """(header data, track chunks, truncated). RIFF-wrapped files (RMID) are unwrapped."""
    if data[:4] == b"RIFF":
        data = _riff_data(data)
    start = 0 if data[:4] == b"MThd" else -1
    if start < 0:
        raise UserError(f"cannot read MIDI file {path}: not a Standard MIDI File (no MThd header)")
    pos, header, tracks, truncated = start, b"", [], False
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        body = data[pos + 8 : pos + 8 + size]
        if len(body) < size:
            truncated = True
        if cid == b"MThd" and not header:
            header = body
        elif cid == b"MTrk":
            tracks.append(body)
        pos += 8 + size  # unknown chunks are skipped
    if len(header) < 6:
        raise UserError(f"cannot read MIDI file {path}: broken MThd header")
    return header, tracks, truncated


def _riff_data(data: bytes) -> bytes:
    """The SMF inside an RMID file: the payload of its ``data`` chunk (RIFF sizes are little-endian, and
    other chunks such as ``LIST`` may follow it)."""
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"data":
            return data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    return b""


# -- time ---------------------------------------------------------------------------------------------------
class _Clock:
    """Ticks to seconds and beats: a PPQ tempo map, or SMPTE's fixed ticks per second."""

    def __init__(self, ppq: int | None, ticks_per_second: float, tempos: list[tuple[int, int]]) -> None:
        self.ppq = ppq
        self.tps = ticks_per_second
        marks: list[tuple[int, float, int]] = [(0, 0.0, DEFAULT_TEMPO_US)]
        for tick, us in sorted(tempos, key=lambda t: t[0]):
            t0, s0, u0 = marks[-1]
            if tick == t0:
                marks[-1] = (t0, s0, us)
            else:
                marks.append((tick, s0 + (tick - t0) * u0 / 1e6 / (ppq or 1), us))
        self.marks = marks
        self.ticks = [m[0] for m in marks]
        self.smpte_bpm = 60e6 / marks[0][2]  # what an SMPTE file calls a beat: its tempo at 0, else 120 BPM

    def seconds(self, tick: int) -> float:
        if self.ppq is None:
            return tick / self.tps
        i = bisect_right(self.ticks, tick) - 1
        t0, s0, us = self.marks[i]
        return s0 + (tick - t0) * us / 1e6 / self.ppq

    def beats(self, tick: int) -> float:
        if self.ppq is None:
            return tick / self.tps * self.smpte_bpm / 60.0
        return tick / self.ppq

    def tempo_list(self, offset: float = 0.0) -> list[tuple[float, float]]:
        if self.ppq is None:
            return [(offset, self.smpte_bpm)]
        return [(offset + s, 60e6 / us) for _, s, us in self.marks]


# -- the reader ---------------------------------------------------------------------------------------------
def read_midi_file(path: str | os.PathLike[str]) -> MidiFile:
    """Read a Standard MIDI File. Raises :class:`UserError` (one line) for a missing, unreadable or note-less
    file; warns (one line) when the file is cut short."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise UserError(f"no such MIDI file: {p}") from None
    except OSError as exc:
        raise UserError(f"cannot read MIDI file {p}: {exc.strerror}") from None
    header, chunks, truncated = _chunks(data, p)
    fmt, division = int.from_bytes(header[0:2], "big"), int.from_bytes(header[4:6], "big")
    ppq: int | None
    if division & 0x8000:
        fps_code = 256 - (division >> 8)
        tpf = division & 0xFF
        if fps_code not in SMPTE_RATES or tpf == 0:
            raise UserError(f"cannot read MIDI file {p}: bad SMPTE time division 0x{division:04X}")
        ppq, smpte, tps = None, (SMPTE_RATES[fps_code], tpf), SMPTE_RATES[fps_code] * tpf
    else:
        if division == 0:
            raise UserError(f"cannot read MIDI file {p}: time division is zero")
        ppq, smpte, tps = division, None, 0.0
    tracks = [_parse_track(c) for c in chunks]
    if truncated or any(t.truncated for t in tracks):
        warn(f"{p} is truncated: read as far as it goes")
    events: list[MidiEvent] = []
    tempos: list[tuple[float, float]] = []
    markers: list[tuple[float, float]] = []  # (seconds, beats) of each track's end-of-track
    cues: list[tuple[float, str]] = []
    texts: list[tuple[float, str]] = []
    if fmt == 2:  # independent patterns, one after another, each with its own tempo map
        at_s, at_b = 0.0, 0.0
        for k, tr in enumerate(tracks):
            clock = _Clock(ppq, tps, tr.tempos)
            events += _timed(tr, k, clock, at_s, at_b)
            tempos += clock.tempo_list(at_s)
            at_s += clock.seconds(tr.end_tick)
            at_b += clock.beats(tr.end_tick)
            markers.append((at_s, at_b))
    else:
        clock = _Clock(ppq, tps, [x for tr in tracks for x in tr.tempos])
        for k, tr in enumerate(tracks):
            events += _timed(tr, k, clock)
            cues += [(clock.beats(tick), text) for tick, text in tr.cues]
            texts += [(clock.beats(tick), text) for tick, text in tr.texts]
            markers.append((clock.seconds(tr.end_tick), clock.beats(tr.end_tick)))
        tempos = clock.tempo_list()
    events.sort(key=lambda e: (e.seconds, e.track))
    notes = _pair_notes(events)
    if not notes:
        raise UserError(f"MIDI file {os.path.basename(p)} has no notes")
    signature = next((t.time_signature for t in tracks if t.time_signature is not None), (4, 4))
    key_sig = next((t.key_signature for t in tracks if t.key_signature is not None), None)
    end, end_beats = max(n.end for n in notes), max(n.end_beat for n in notes)
    bar = signature[0] * 4.0 / signature[1]
    last_marker = max(markers, key=lambda m: m[1], default=(end, end_beats))
    if end_beats < last_marker[1] <= end_beats + bar:
        end, end_beats = last_marker
    return MidiFile(
        path=p,
        format=fmt,
        ppq=ppq,
        smpte=smpte,
        track_names=[t.name for t in tracks],
        events=events,
        notes=notes,
        end=end,
        end_beats=end_beats,
        tempos=tempos,
        time_signature=signature,
        key_signature=key_sig,
        cues=sorted(cues),
        texts=sorted(texts),
    )


def _timed(tr: _RawTrack, index: int, clock: _Clock, at_s: float = 0.0, at_b: float = 0.0) -> list[MidiEvent]:
    return [MidiEvent(at_s + clock.seconds(t), at_b + clock.beats(t), index, s, d1, d2) for t, s, d1, d2 in tr.events]


def _pair_notes(events: list[MidiEvent]) -> list[MidiNote]:
    """Notes from note-on/off pairs per (track, channel, key), as pretty_midi pairs them; notes never
    switched off end at the last note boundary of the file."""
    open_: dict[tuple[int, int, int], list[MidiEvent]] = {}
    notes: list[MidiNote] = []
    last = 0.0
    last_beat = 0.0
    for e in events:
        kind = e.status & 0xF0
        if kind not in (0x80, 0x90):
            continue
        key = (e.track, e.channel, e.data1)
        last, last_beat = max(last, e.seconds), max(last_beat, e.beats)
        if kind == 0x90 and e.data2 > 0:
            open_.setdefault(key, []).append(e)
            continue
        started = open_.get(key)
        if not started:
            continue
        keep = [s for s in started if s.beats == e.beats]
        for s in started:
            if s.beats != e.beats:
                notes.append(MidiNote(s.seconds, e.seconds, s.data1, s.data2, s.channel, s.track, s.beats, e.beats))
        if keep:
            open_[key] = keep
        else:
            del open_[key]
    for started in open_.values():
        for s in started:
            end, end_beat = last, last_beat
            if end <= s.seconds:  # the file's last event: let it sound for a beat (at 120 BPM)
                end, end_beat = s.seconds + 0.5, s.beats + 1.0
            notes.append(MidiNote(s.seconds, end, s.data1, s.data2, s.channel, s.track, s.beats, end_beat))
    notes.sort(key=lambda n: (n.start, n.track, n.pitch))
    return notes
