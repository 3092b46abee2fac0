"""Standard MIDI Files built byte by byte, so tests can make the kinds of file that break other readers:
SMPTE time division, undecodable meta events, running status, type 2, stray late events."""

from __future__ import annotations

from pathlib import Path


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def chunk(tag: bytes, body: bytes) -> bytes:
    return tag + len(body).to_bytes(4, "big") + body


def header(fmt: int, tracks: int, division: bytes) -> bytes:
    return chunk(b"MThd", fmt.to_bytes(2, "big") + tracks.to_bytes(2, "big") + division)


def ppq(ticks: int) -> bytes:
    return ticks.to_bytes(2, "big")


def smpte(fps: int, ticks_per_frame: int) -> bytes:
    """The division word for SMPTE timing: minus the frame rate in the high byte (two's complement)."""
    return bytes([(256 - fps) & 0xFF, ticks_per_frame])


def tempo(bpm: float) -> bytes:
    """A set-tempo meta event with delta 0."""
    return b"\x00\xff\x51\x03" + round(60e6 / bpm).to_bytes(3, "big")


END = b"\xff\x2f\x00"


def notes_track(pitches: list[int], ticks: int, channel: int = 0, running: bool = False, lead: bytes = b"") -> bytes:
    """A track body: ``lead`` meta events, then each pitch for ``ticks`` ticks, back to back. With
    ``running`` the note-offs are note-ons at velocity 0 in running status (no repeated status byte)."""
    body = bytearray(lead)
    on = 0x90 | channel
    for k, p in enumerate(pitches):
        body += vlq(0) + (bytes([p, 90]) if running and k else bytes([on, p, 90]))
        body += vlq(ticks) + (bytes([p, 0]) if running else bytes([0x80 | channel, p, 64]))
    return bytes(body)


def write(path: Path, fmt: int, division: bytes, tracks: list[bytes]) -> Path:
    data = header(fmt, len(tracks), division) + b"".join(chunk(b"MTrk", t + vlq(0) + END) for t in tracks)
    path.write_bytes(data)
    return path


FORM = [[60, 64, 67, 72], [71, 67, 64, 62], [65, 69, 72, 77], [76, 72, 69, 65]]  # P Q P Q R S R S below
PQPQRSRS = [p for k in [0, 1, 0, 1, 2, 3, 2, 3] for p in FORM[k]]  # 32 notes: 8 bars of 4 quarters
