"""Transcription quality: note F1 (onset within 50 ms, pitch within 50 cents, offsets ignored; mir_eval's
definition) of ``refrain transcribe``'s decoding on single parts of the rendered test songs, whose notes
are known:

* ``melody``: the MELODY track on a lead program (flute, sax, violin, trumpet, synth lead);
* ``sung``: the MELODY sung by Festival (one take, no double), against the notes it was given;
* ``bass``: the written bass line on a bass program;
* ``piano``: the PIANO track (polyphonic) on a piano program.

    python -m models.features.evaluate --songs 24 --json > docs/transcription-eval.json

Each part is a 20 s excerpt from the song's render recipe start (POP909 test split), through FluidR3_GM
(training SoundFont of the separator, but this model never trained on it). Needs ../shared/data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from models.data.pop909 import Note

LEADS = (73, 65, 40, 56, 81)
BASSES = (33, 34, 38)
SECONDS = 20.0


def note_f1(ref: list[Note], est: list[tuple[float, float, int]], t0: float) -> tuple[float, float, float]:
    """(precision, recall, F1) of estimated (start, end, pitch) notes against ``ref`` shifted by ``t0``."""
    import mir_eval

    def hz(p: int) -> float:
        return float(440 * 2 ** ((p - 69) / 12))

    ri = np.array([[n.start - t0, max(n.end - t0, n.start - t0 + 0.01)] for n in ref]).reshape(-1, 2)
    rp = np.array([hz(n.pitch) for n in ref])
    ei = np.array([[s, max(e, s + 0.01)] for s, e, _ in est]).reshape(-1, 2)
    ep = np.array([hz(p) for *_, p in est])
    if len(ri) == 0 or len(ei) == 0:
        return 0.0, 0.0, 0.0
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=None
    )
    return float(p), float(r), float(f)


def render_cases(songs: int, split: str, log: bool) -> list[tuple[str, np.ndarray, list[Note], float]]:
    """(kind, mono audio at 22,050 Hz, reference notes, excerpt start) for each part of each song."""
    from engine.audio_io import resample
    from models.data.parts import bass_notes
    from models.data.pop909 import data_root, load_split, read_song
    from models.data.recipe import draw_recipe
    from models.data.synth import SAMPLE_RATE, Line, SynthPool, note_events, render_part
    from models.data.vocals import VocalTake, phrases, sing_take
    from models.features.basic_pitch import RATE

    root = data_root() / "pop909" / "POP909"
    ids = [i for i in load_split()[split] if (root / i).is_dir()][:songs]
    pool = SynthPool()
    reverb = {"room": 0.4, "damp": 0.4, "width": 0.7, "level": 0.3}
    frames = round(SECONDS * SAMPLE_RATE)
    out: list[tuple[str, np.ndarray, list[Note], float]] = []
    try:
        for k, sid in enumerate(ids):
            parts = read_song(root / sid)
            r = draw_recipe(sid, 0, parts, SECONDS, "train", mastered=True)  # starts near a melody note
            t0, t1 = r.start, r.start + SECONDS
            rng = np.random.default_rng(int(sid))

            def within(notes: list[Note], t0: float = t0, t1: float = t1) -> list[Note]:
                return [n for n in notes if t0 <= n.start < t1 - 0.1]

            lead = Line(0, 0, LEADS[k % len(LEADS)], note_events(parts.melody, 0, t0, t1))
            bass = within(bass_notes(parts, "roots", rng))
            bline = Line(0, 0, BASSES[k % len(BASSES)], note_events(bass, 0, t0, t1))
            pline = Line(0, 0, 0, note_events(parts.piano, 0, t0, t1))
            # sung an octave down (a low voice, no formant shift): the reference is the melody an octave
            # down; phrases Festival would move by another octave are left out of the audio and the reference
            take = VocalTake(str(("kal_diphone", "ked_diphone")[k % 2]), -12, 0.0, 5.5, 20.0)
            singable = [n for g in phrases(parts.melody, t0, t1) if max(x.pitch for x in g) <= 83 for n in g]
            sung = sing_take(singable, t0, t1, take, SAMPLE_RATE, rng)
            low = [Note(n.start, n.end, n.pitch - 12, n.velocity) for n in within(singable)]
            cases = {
                "melody": (render_part(pool, "FluidR3_GM.sf2", [lead], reverb, frames), within(parts.melody)),
                "bass": (render_part(pool, "FluidR3_GM.sf2", [bline], reverb, frames), bass),
                "piano": (render_part(pool, "FluidR3_GM.sf2", [pline], reverb, frames), within(parts.piano)),
                "sung": (sung[None], low),
            }
            for name, (audio, ref) in cases.items():
                if ref:
                    out.append((name, resample(audio.mean(0, keepdims=True), SAMPLE_RATE, RATE)[0], ref, t0))
            if log:
                print(f"rendered {k + 1}/{len(ids)} {sid}", file=sys.stderr)
    finally:
        pool.close()
    return out


def basic_pitch_pipeline(model: Any, mono: np.ndarray) -> list[tuple[float, float, int]]:
    """basic-pitch's own pipeline on (samples,) mono at 22,050 Hz: its windowing (windows advance 36,164
    samples and keep 142 frames each; its ``model_frames_to_time`` corrects the times afterwards) and its
    note decoding (``model_output_to_notes`` with its defaults), on the same ONNX model: the baseline for
    Refrain's windowing and decoding. Needs the basic-pitch package (benchmark only:
    ``pip install --no-deps basic-pitch==0.4.0 resampy``)."""
    from models.features.basic_pitch import FRAMES, HOP, OVERLAP, WINDOW

    try:
        from basic_pitch.note_creation import model_output_to_notes
    except ImportError as exc:
        raise SystemExit(f"--baseline needs the basic-pitch package ({exc}); see basic_pitch_pipeline") from exc
    hop = WINDOW - OVERLAP * HOP
    padded = np.concatenate([np.zeros(OVERLAP * HOP // 2, np.float32), mono])
    out: dict[str, list[np.ndarray]] = {"note": [], "onset": [], "contour": []}
    for start in range(0, len(padded), hop):
        win = np.zeros((1, WINDOW, 1), np.float32)
        seg = padded[start : start + WINDOW]
        win[0, : len(seg), 0] = seg
        res = model.model.predict({model.input: win})
        for k in out:
            out[k].append(res[k][0, OVERLAP // 2 : FRAMES - OVERLAP // 2])
    n = int(np.floor(len(mono) * (22050 // 256) / 22050))  # as its unwrap_output trims
    posts = {k: np.concatenate(v)[:n] for k, v in out.items()}
    _midi, events = model_output_to_notes(posts, onset_thresh=0.5, frame_thresh=0.3)
    return [(float(e[0]), float(e[1]), int(e[2])) for e in events]


def run_eval(
    songs: int,
    log: bool,
    split: str = "test",
    settings: list[dict[str, float]] | None = None,
    baseline: bool = False,
) -> list[dict[str, Any]]:
    """Note F1 per kind of part over ``songs`` songs of ``split``, one result per decoding ``settings``
    (onset_threshold, frame_threshold, min_note_ms; default: the defaults), plus basic-pitch's own
    pipeline with ``baseline``. The model runs once per part (twice with ``baseline``)."""
    from models.features.basic_pitch import BasicPitch
    from models.features.transcribe import decode_notes, frame_loudness
    from models.platform.registry import load_model

    model = load_model("basic-pitch", "features")
    assert isinstance(model, BasicPitch)
    cases = render_cases(songs, split, log)
    posts = []
    for _name, mono, _ref, _t0 in cases:
        res = model.run(mono, ("note", "onset"))
        posts.append((res["note"], res["onset"], frame_loudness(mono, res["note"].shape[0])))
    results = []
    runs: list[dict[str, Any] | str] = [*(settings or [{}]), *(["basic-pitch decoding"] if baseline else [])]
    for st in runs:
        scores: dict[str, list[tuple[float, float, float]]] = {}
        for (name, mono, ref, t0), (note, onset, loud) in zip(cases, posts, strict=True):
            if isinstance(st, str):
                est = basic_pitch_pipeline(model, mono)
            else:
                est = [(n.start, n.end, n.pitch) for n in decode_notes(note, onset, loud, **st)]
            scores.setdefault(name, []).append(note_f1(ref, est, t0))
        out: dict[str, Any] = {
            "metric": "note F1, onset within 50 ms, pitch within 50 cents (mir_eval)",
            "split": split,
            "songs": songs,
            "settings": st or "defaults",
        }
        for name, v in scores.items():
            a = np.array(v)
            out[name] = {"precision": round(float(a[:, 0].mean()), 3), "recall": round(float(a[:, 1].mean()), 3),
                         "f1": round(float(a[:, 2].mean()), 3), "excerpts": len(v)}  # fmt: skip
        results.append(out)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.features.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--songs", type=int, default=24)
    ap.add_argument("--split", choices=["valid", "test"], default="test", help="tune on valid, report on test")
    ap.add_argument("--baseline", action="store_true", help="also basic-pitch's own pipeline (needs its package)")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    found = run_eval(args.songs, not args.json, args.split, baseline=args.baseline)
    res = found[0] | ({"baseline": found[1]} if args.baseline else {})
    text = json.dumps(res, indent=2)
    if args.out is not None:
        from engine.files import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
