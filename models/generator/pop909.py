"""POP909 to bar-aligned grids, for training and evaluation.

The phrase labels and ``melody.txt`` of the structure analysis (Dai, Zhang, Dannenberg) are aligned
to bar lines; the original POP909 MIDI is not (its downbeats are offset). We quantise each MIDI note
to 16ths through the song's ``beat_midi.txt`` beat times, then find the whole-16th shift that best
matches the MIDI MELODY track to ``melody.txt`` and apply it to all tracks. Songs whose match is
poor, or that are not in 4/4, are dropped and counted.

Run ``python -m models.generator.pop909`` to build the cache (``.cache/pop909.npz``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.files import atomic_path
from models.data.pop909 import DEFAULT_ROOT, SPLIT_FILE, make_split, read_beats, song_ids, track_notes
from models.generator.codec import STEPS_PER_BAR, Notes
from models.structure.strings import parse_structure

MIN_MATCH = 0.6


@dataclass
class Song:
    """One aligned song: notes in grid steps from bar 0, bar count and both human labelings."""

    sid: str
    bars: int
    melody: Notes
    accomp: Notes
    labels: list[str]


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
            k = np.clip(np.searchsorted(mel0.start, acc.start, side="right") - 1, 0, len(d) - 1)
            acc.start = acc.start + d[k]
            return Song(sid, bars, mel, acc, labels)
    ref_set = set(ref)
    # Candidate shifts from same-pitch pairs among the first notes, then score each on all notes.
    cands: Counter[int] = Counter()
    for t_ref, p_ref in ref[:40]:
        for s, p in zip(mel0.start[:60].tolist(), mel0.pitch[:60].tolist(), strict=True):
            if p == p_ref:
                cands[t_ref - s] += 1
    best_shift, best_rate = 0, 0.0
    for shift, _ in cands.most_common(8):
        hits = sum((s + shift, p) in ref_set for s, p in zip(mel0.start.tolist(), mel0.pitch.tolist(), strict=True))
        rate = hits / len(ref)
        if rate > best_rate:
            best_shift, best_rate = shift, rate
    if best_rate < MIN_MATCH:
        return "melody does not align"
    acc_rows = tracks.get("PIANO", []) + tracks.get("BRIDGE", [])
    return Song(sid, bars, to_notes(tracks["MELODY"], best_shift), to_notes(acc_rows, best_shift), labels)


def _notes_arrays(n: Notes) -> np.ndarray:
    return np.stack([n.start, n.dur, n.pitch, n.vel], axis=1).astype(np.int32)


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
        arrays[f"{r.sid}_acc"] = _notes_arrays(r.accomp)
        meta[r.sid] = {"bars": r.bars, "labels": r.labels}
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
        m, a = z[f"{sid}_mel"].astype(np.int64), z[f"{sid}_acc"].astype(np.int64)
        songs.append(
            Song(
                sid,
                int(meta[sid]["bars"]),
                Notes(m[:, 0], m[:, 1], m[:, 2], m[:, 3]),
                Notes(a[:, 0], a[:, 1], a[:, 2], a[:, 3]),
                list(meta[sid]["labels"]),
            )
        )
    return songs


def song_steps(song: Song) -> int:
    return song.bars * STEPS_PER_BAR


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--out", type=Path, default=Path(".cache/pop909.npz"))
    ap.add_argument("--write-split", action="store_true", help="(re)write the committed split file")
    args = ap.parse_args(argv)
    if args.write_split:
        with atomic_path(SPLIT_FILE) as tmp:
            tmp.write_text(json.dumps(make_split(song_ids(args.root)), indent=0) + "\n")
    print(json.dumps(build_cache(args.root, args.out)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
