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


def run_eval(songs: int, log: bool) -> dict[str, Any]:
    from models.data.parts import bass_notes
    from models.data.pop909 import data_root, load_split, read_song
    from models.data.recipe import draw_recipe
    from models.data.synth import SAMPLE_RATE, Line, SynthPool, note_events, render_part
    from models.data.vocals import VocalTake, phrases, sing_take
    from models.features.transcribe import transcribe
    from models.platform.registry import load_model

    root = data_root() / "pop909" / "POP909"
    ids = [i for i in load_split()["test"] if (root / i).is_dir()][:songs]
    model = load_model("basic-pitch", "features")
    pool = SynthPool()
    reverb = {"room": 0.4, "damp": 0.4, "width": 0.7, "level": 0.3}
    frames = round(SECONDS * SAMPLE_RATE)
    scores: dict[str, list[tuple[float, float, float]]] = {k: [] for k in ("melody", "sung", "bass", "piano")}
    try:
        for k, sid in enumerate(ids):
            parts = read_song(root / sid)
            r = draw_recipe(sid, 0, parts, SECONDS, "train", mastered=True)  # starts near a melody note
            t0, t1 = r.start, r.start + SECONDS
            rng = np.random.default_rng(int(sid))
            inside = [n for n in parts.melody if t0 <= n.start < t1 - 0.1]
            cases: dict[str, tuple[np.ndarray, list[Note]]] = {}
            lead = Line(0, 0, LEADS[k % len(LEADS)], note_events(parts.melody, 0, t0, t1))
            cases["melody"] = (render_part(pool, "FluidR3_GM.sf2", [lead], reverb, frames), inside)
            bass = [n for n in bass_notes(parts, "roots", rng) if t0 <= n.start < t1 - 0.1]
            bline = Line(0, 0, BASSES[k % len(BASSES)], note_events(bass, 0, t0, t1))
            cases["bass"] = (render_part(pool, "FluidR3_GM.sf2", [bline], reverb, frames), bass)
            piano = [n for n in parts.piano if t0 <= n.start < t1 - 0.1]
            pline = Line(0, 0, 0, note_events(piano, 0, t0, t1))
            cases["piano"] = (render_part(pool, "FluidR3_GM.sf2", [pline], reverb, frames), piano)
            # sung at the written pitch (register 0, no formant shift) so the reference is the melody itself;
            # phrases that Festival would take an octave down are left out of the reference and the audio
            take = VocalTake(str(("kal_diphone", "ked_diphone")[k % 2]), 0, 0.0, 5.5, 20.0)
            singable = [n for g in phrases(parts.melody, t0, t1) if max(x.pitch for x in g) + 12 <= 83 for n in g]
            sung = sing_take(singable, t0, t1, take, SAMPLE_RATE, rng)
            cases["sung"] = (np.stack([sung, sung]), [n for n in singable if n.start < t1 - 0.1])
            for name, (audio, ref) in cases.items():
                if not ref:
                    continue
                t = transcribe(audio, SAMPLE_RATE, model)
                scores[name].append(note_f1(ref, [(n.start, n.end, n.pitch) for n in t.notes], t0))
            if log:
                print(
                    f"{k + 1}/{len(ids)} {sid}: " + ", ".join(f"{n} {v[-1][2]:.2f}" for n, v in scores.items() if v),
                    file=sys.stderr,
                )
    finally:
        pool.close()
    out: dict[str, Any] = {"metric": "note F1, onset within 50 ms, pitch within 50 cents (mir_eval)", "songs": len(ids)}
    for name, v in scores.items():
        a = np.array(v)
        out[name] = {"precision": round(float(a[:, 0].mean()), 3), "recall": round(float(a[:, 1].mean()), 3),
                     "f1": round(float(a[:, 2].mean()), 3), "excerpts": len(v)}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.features.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--songs", type=int, default=24)
    ap.add_argument("--json", action="store_true", help="print JSON only")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    res = run_eval(args.songs, not args.json)
    text = json.dumps(res, indent=2)
    if args.out is not None:
        from engine.files import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
