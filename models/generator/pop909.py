"""POP909 to bar-aligned songs (notes of melody, bass and accompaniment, chords, keys, tempo), for
training and evaluation.

The phrase labels and ``melody.txt`` of the structure analysis (Dai, Zhang, Dannenberg) are aligned
to bar lines; the original POP909 MIDI is not (its downbeats are offset). We quantise each MIDI note
to 16ths through the song's ``beat_midi.txt`` beat times, then find the whole-16th shift that best
matches the MIDI MELODY track to ``melody.txt`` and apply it to all tracks. Songs whose match is
poor, or that are not in 4/4, are dropped and counted.

The bass is the piano's lowest sounding line (``codec.split_bass``); chords come from ``chord_midi.txt``
(one per half bar, the one covering most of it) and keys from ``key_audio.txt`` (one per bar).

Run ``python -m models.generator.pop909`` to build the cache (``.cache/pop909-v2.npz``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.files import atomic_path
from models.data.pop909 import DEFAULT_ROOT, SPLIT_FILE, make_split, read_beats, song_ids, track_notes
from models.generator.chords import QUALITY_NAMES, Chord, Key, parse_harte
from models.generator.codec import STEPS_PER_BAR, Notes, split_bass
from models.structure.strings import parse_structure

CACHE = Path(".cache/pop909-v2.npz")

MIN_MATCH = 0.6


@dataclass
class Song:
    """One aligned song: notes in grid steps from bar 0, bar count, both human labelings, chords per
    half bar, keys per bar and tempo (BPM)."""

    sid: str
    bars: int
    melody: Notes
    bass: Notes
    accomp: Notes
    labels: list[str]
    chords: list[Chord | None]
    keys: list[Key]
    tempo: float


def _melody_txt_onsets(path: Path) -> list[tuple[int, int]]:
    out = []
    t = 0
    for line in path.read_text().split("\n"):
        parts = line.split()
        if len(parts) != 2:
            continue
        p, d = int(parts[0]), int(parts[1])
        if p > 0:
            out.append((t, p))
        t += d
    return out


def _sec_to_step(sec: np.ndarray, beat_times: np.ndarray) -> np.ndarray:
    """Seconds to 16th steps on the beat grid, extrapolating past both ends."""
    idx = np.arange(beat_times.shape[0], dtype=np.float64)
    beat = np.interp(sec, beat_times, idx)
    first_d = beat_times[1] - beat_times[0]
    last_d = beat_times[-1] - beat_times[-2]
    beat = np.where(sec < beat_times[0], (sec - beat_times[0]) / first_d, beat)
    beat = np.where(sec > beat_times[-1], idx[-1] + (sec - beat_times[-1]) / last_d, beat)
    return np.asarray(np.round(beat * 4), dtype=np.int64)


def load_song(sid: str, root: Path) -> Song | str:
    """Align one song; returns a Song or the reason it was dropped."""
    sdir = root / "pop909_structure" / "POP909" / sid
    mdir = root / "pop909" / "POP909" / sid
    try:
        labels = [(sdir / f"human_label{k}.txt").read_text().strip() for k in (1, 2)]
        bars = sum(s.bars for s in parse_structure(labels[0]))
        labels = [lab for lab in labels if sum(s.bars for s in parse_structure(lab)) == bars]
        beat_t, down = read_beats(mdir)
        notes = track_notes(mdir / f"{sid}.mid")
    except Exception as exc:
        return f"unreadable: {type(exc).__name__}"
    downs = np.nonzero(down > 0.5)[0]
    if downs.size < 4 or Counter(np.diff(downs).tolist()).most_common(1)[0][0] != 4:
        return "not 4/4"
    tracks = {k: [(n.start, n.end, n.pitch, n.velocity) for n in v] for k, v in notes.items()}
    if "MELODY" not in tracks:
        return "no MELODY track"

    def to_notes(rows: list[tuple[float, float, int, int]], shift: int) -> Notes:
        if not rows:
            return Notes.empty()
        a = np.asarray(rows, dtype=np.float64)
        s = _sec_to_step(a[:, 0], beat_t) + shift
        e = _sec_to_step(a[:, 1], beat_t) + shift
        return Notes(s, np.maximum(e - s, 1), a[:, 2].astype(np.int64), a[:, 3].astype(np.int64))

    ref = _melody_txt_onsets(sdir / "melody.txt")
    mel0 = to_notes(tracks["MELODY"], 0)
    if not ref or len(mel0) == 0:
        return "empty melody"
    if len(mel0) == len(ref):
        # Same note count: the i-th MIDI melody note is the i-th labelled one. The structure files
        # removed offsets part-way through some songs, so the shift is per note (median-smoothed)
        # and each accompaniment note takes the shift of the melody note sounding before it.
        ref_t = np.array([t for t, _ in ref])
        ref_p = np.array([p for _, p in ref])
        if np.mean(ref_p == mel0.pitch) >= 0.9:
            d = ref_t - mel0.start
            pad = np.pad(d, 2, mode="edge")
            d = np.median(np.lib.stride_tricks.sliding_window_view(pad, 5), axis=1).astype(np.int64)
            mel = to_notes(tracks["MELODY"], 0)
            mel.start = mel.start + d
            acc = to_notes(tracks.get("PIANO", []) + tracks.get("BRIDGE", []), 0)

            def shift(steps: np.ndarray) -> np.ndarray:
                k = np.clip(np.searchsorted(mel0.start, steps, side="right") - 1, 0, len(d) - 1)
                return np.asarray(steps + d[k])

            acc.start = shift(acc.start)
            return _finish(sid, bars, mel, acc, labels, mdir, beat_t, shift)
    ref_set = set(ref)
    # Candidate shifts from same-pitch pairs among the first notes, then score each on all notes.
    cands: Counter[int] = Counter()
    for t_ref, p_ref in ref[:40]:
        for s, p in zip(mel0.start[:60].tolist(), mel0.pitch[:60].tolist(), strict=True):
            if p == p_ref:
                cands[t_ref - s] += 1
    best_shift, best_rate = 0, 0.0
    for cand, _ in cands.most_common(8):
        hits = sum((s + cand, p) in ref_set for s, p in zip(mel0.start.tolist(), mel0.pitch.tolist(), strict=True))
        rate = hits / len(ref)
        if rate > best_rate:
            best_shift, best_rate = cand, rate
    if best_rate < MIN_MATCH:
        return "melody does not align"
    acc_rows = tracks.get("PIANO", []) + tracks.get("BRIDGE", [])
    mel, acc = to_notes(tracks["MELODY"], best_shift), to_notes(acc_rows, best_shift)
    return _finish(sid, bars, mel, acc, labels, mdir, beat_t, lambda st: np.asarray(st + best_shift))


def _finish(
    sid: str,
    bars: int,
    mel: Notes,
    acc: Notes,
    labels: list[str],
    mdir: Path,
    beat_t: np.ndarray,
    shift: Callable[[np.ndarray], np.ndarray],
) -> Song:
    """Split the bass off and read chords (per half bar), keys (per bar) and tempo on the aligned grid."""
    bass, rest = split_bass(acc)

    def segments(path: Path) -> list[tuple[int, int, Chord | None]]:
        rows = []
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                a, b = shift(_sec_to_step(np.array([float(parts[0]), float(parts[1])]), beat_t))
                rows.append((int(a), int(b), parse_harte(parts[2])))
        return rows

    halves = bars * 2
    half = STEPS_PER_BAR // 2
    chords: list[Chord | None] = [None] * halves
    cover = np.zeros(halves)
    for a, b, c in segments(mdir / "chord_midi.txt"):
        for h in range(max(0, a // half), min(halves, (b + half - 1) // half)):
            ov = min(b, (h + 1) * half) - max(a, h * half)
            if ov > cover[h]:
                cover[h], chords[h] = ov, c
    keys: list[Key] = []
    ks = [(a, b, c) for a, b, c in segments(mdir / "key_audio.txt") if c is not None]
    for bar in range(bars):
        mid = bar * STEPS_PER_BAR + half
        inside = [c for a, b, c in ks if a <= mid < b]
        nearest = [min(ks, key=lambda r: abs(r[0] - mid))[2]] if ks else [Chord(0, "maj")]
        c = (inside or nearest)[0]
        keys.append(Key(c.root, c.quality in ("min", "min7", "dim")))
    tempo = float(60.0 / np.median(np.diff(beat_t))) if beat_t.shape[0] > 1 else 120.0
    return Song(sid, bars, mel, bass, rest, labels, chords, keys, tempo)


def _notes_arrays(n: Notes) -> np.ndarray:
    return np.stack([n.start, n.dur, n.pitch, n.vel], axis=1).astype(np.int32)


def _notes_from(a: np.ndarray) -> Notes:
    a = a.astype(np.int64)
    return Notes(a[:, 0], a[:, 1], a[:, 2], a[:, 3])


def build_cache(root: Path, out: Path, workers: int = 2) -> dict[str, int]:
    """Align all songs and store them in one ``.npz``; returns drop counts by reason."""
    from multiprocessing import Pool

    ids = song_ids(root)
    with Pool(workers) as pool:
        results = pool.starmap(load_song, [(sid, root) for sid in ids])
    reasons: Counter[str] = Counter(r if isinstance(r, str) else "kept" for r in results)
    save_cache([r for r in results if isinstance(r, Song)], out)
    return dict(reasons)


def save_cache(songs: list[Song], out: Path) -> None:
    """Store aligned songs in one ``.npz`` (atomically)."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, dict[str, object]] = {}
    for r in songs:
        arrays[f"{r.sid}_mel"] = _notes_arrays(r.melody)
        arrays[f"{r.sid}_bass"] = _notes_arrays(r.bass)
        arrays[f"{r.sid}_acc"] = _notes_arrays(r.accomp)
        arrays[f"{r.sid}_chords"] = np.array(
            [[-1, -1] if c is None else [c.root, QUALITY_NAMES.index(c.quality)] for c in r.chords], np.int16
        ).reshape(-1, 2)
        arrays[f"{r.sid}_keys"] = np.array([[k.tonic, int(k.minor)] for k in r.keys], np.int16).reshape(-1, 2)
        meta[r.sid] = {"bars": r.bars, "labels": r.labels, "tempo": r.tempo}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_path(out, make_folders=True) as tmp, open(tmp, "wb") as fh:  # a file object: no ".npz" added
        np.savez_compressed(fh, allow_pickle=False, **arrays)


def load_cache(path: Path, ids: list[str] | None = None) -> list[Song]:
    """Songs from a cache built by :func:`build_cache`, optionally only the given ids."""
    z = np.load(path)
    meta = json.loads(z["meta"].tobytes().decode())
    songs = []
    for sid in sorted(meta) if ids is None else ids:
        if sid not in meta:
            continue
        ch = z[f"{sid}_chords"]
        chords = [None if r < 0 else Chord(int(r), QUALITY_NAMES[int(q)]) for r, q in ch.tolist()]
        keys = [Key(int(t), bool(m)) for t, m in z[f"{sid}_keys"].tolist()]
        songs.append(
            Song(
                sid,
                int(meta[sid]["bars"]),
                _notes_from(z[f"{sid}_mel"]),
                _notes_from(z[f"{sid}_bass"]),
                _notes_from(z[f"{sid}_acc"]),
                list(meta[sid]["labels"]),
                chords,
                keys,
                float(meta[sid]["tempo"]),
            )
        )
    return songs


def song_steps(song: Song) -> int:
    return song.bars * STEPS_PER_BAR


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--out", type=Path, default=CACHE)
    ap.add_argument("--write-split", action="store_true", help="(re)write the committed split file")
    args = ap.parse_args(argv)
    if args.write_split:
        with atomic_path(SPLIT_FILE) as tmp:
            tmp.write_text(json.dumps(make_split(song_ids(args.root)), indent=0) + "\n")
    print(json.dumps(build_cache(args.root, args.out)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
