"""Training data for the stem separator, made here: POP909 songs rendered to four 44.1 kHz stereo stems
with the shared stem synth (:mod:`models.data`).

* ``vocals``: the MELODY track on a voice-like program (choir, voice oohs, synth voice, voice lead);
* ``bass``: a bass line written from ``chord_midi.txt`` on the beats of ``beat_midi.txt`` in one of
  several patterns, on a bass program;
* ``drums``: a kit pattern on the beats and downbeats (kick, snare or side stick, hats or ride, crashes
  at phrase starts, fills), on an acoustic kit;
* ``other``: PIANO and BRIDGE on keys, guitar, string, brass or reed programs.

Each song draws its SoundFont, programs, levels, pan, reverb, chorus and EQ from one seed
(:mod:`models.data.recipe`), so a render is reproducible. One SoundFont (TimGM6mb) never appears in
training; the held-out set uses it to measure timbre generalisation. Renders are cached as int16 ``.npy``
files outside git (see :func:`cache_dir`)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.files import atomic_files
from models.data.cache import render_cache
from models.data.kits import play_kit, play_loop
from models.data.parts import bass_notes, drum_notes
from models.data.pop909 import Note, load_split, read_song
from models.data.production import Master, StemFx, master_gain, process_stem
from models.data.recipe import GUITARS, STEMS, StemRecipe, draw_recipe
from models.data.synth import SAMPLE_RATE, Line, SynthPool, level_factor, note_events, render_part, stem_eq
from models.data.vocals import vocal_stem

RENDER_VERSION = 3  # bump when the renderer's output changes; the cache folder is versioned by it
# v2: notes come from the one MIDI reader (engine.midi), which keeps overlapping notes of one pitch that v1 lost
# v3: sung vocals, recorded kits and loops, more programs, per-stem production, mastered evaluation sets
STEM_RMS = 0.06  # each stem's level before its drawn gain (-6..0 dB)
SET_KINDS = {"train": "train", "valid": "train", "test": "train", "heldout": "heldout", "recorded": "recorded"}


def render_stems(
    song_dir: Path, seed: int, seconds: float, kind: str, pool: SynthPool, mastered: bool = False
) -> tuple[np.ndarray, StemRecipe]:
    """Render one song excerpt to (4, 2, frames) float32 stems in ``STEMS`` order, and its recipe.
    ``kind``: see :func:`models.data.recipe.draw_recipe`; ``mastered`` applies the recipe's mastering."""
    parts = read_song(song_dir)
    r = draw_recipe(song_dir.name, seed, parts, seconds, kind, mastered)
    rng = np.random.default_rng([seed, 7, int(song_dir.name) if song_dir.name.isdigit() else 0])
    t0, t1 = r.start, r.start + seconds
    frames = round(seconds * SAMPLE_RATE)
    sources: dict[str, list[tuple[int, list[Note]]]] = {
        "vocals": [(r.programs["vocals"][0], parts.melody)],
        "bass": [(r.programs["bass"][0], bass_notes(parts, r.bass_style, rng))],
        "other": [(r.programs["other"][0], parts.piano), (r.programs["other"][1], parts.bridge)],
    }
    out = np.zeros((len(STEMS), 2, frames), np.float32)
    for si, stem in enumerate(STEMS):
        mix = {"pan": r.pan[stem], "send": r.send[stem]}
        amp_part: np.ndarray | None = None
        if stem == "drums" and r.drum_source == "loop":
            audio = play_loop(r.drum_sample, parts.beats, t0, t1, SAMPLE_RATE, rng)
        elif stem == "drums" and r.drum_source == "kit":
            audio = play_kit(r.drum_sample, drum_notes(parts, r.drum_style, rng), t0, t1, SAMPLE_RATE, rng)
        elif stem == "drums":
            ch = 9 if r.drum_preset[0] == 128 else 0
            events = note_events(drum_notes(parts, r.drum_style, rng), ch, t0, t1)
            lines = [Line(ch, *r.drum_preset, events, **mix, chorus=int(rng.integers(0, 30)))]
            audio = render_part(pool, r.drum_kit, lines, r.reverb, frames)
        elif stem == "vocals" and r.vocal_source == "sung":
            audio, _takes = vocal_stem(parts.melody, t0, t1, SAMPLE_RATE, rng)
        else:
            rendered = []
            for ch, (prog, notes) in enumerate(sources[stem]):
                # voices and leads sit an octave up when the source part is low
                shift = 12 if stem == "vocals" and notes and np.median([n.pitch for n in notes]) < 55 else 0
                line = Line(ch, 0, prog, note_events(notes, ch, t0, t1, shift), **mix, chorus=int(rng.integers(0, 30)))
                rendered.append((prog, render_part(pool, r.soundfont, [line], r.reverb, frames)))
            audio = np.sum([a for _, a in rendered], axis=0)
            guitars = [a for prog, a in rendered if prog in GUITARS]
            amp_part = np.sum(guitars, axis=0) if guitars else None
        audio = stem_eq(audio, r.eq[stem])
        factor = np.float32(level_factor(audio, STEM_RMS, r.gain_db[stem]))
        if amp_part is not None:
            amp_part = stem_eq(amp_part, r.eq[stem]) * factor
        out[si] = process_stem(audio * factor, SAMPLE_RATE, StemFx(**r.fx[stem]), amp_part)
    if r.master:
        out *= master_gain(out.sum(0), SAMPLE_RATE, Master(**r.master))
    return out, r


# -- the cache ---------------------------------------------------------------------------------------------
def cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """``$REFRAIN_STEM_CACHE``, else the user cache folder; versioned by the renderer."""
    return render_cache(root, "REFRAIN_STEM_CACHE", "separator-stems", RENDER_VERSION)


def render_set(
    pop909: Path,
    ids: list[str],
    out: Path,
    seed: int,
    seconds: float,
    kind: str = "train",
    mastered: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Render songs into ``out`` (skipping ones already there); returns the ids rendered or cached.
    ``kind`` and ``mastered``: see :func:`render_stems`."""
    out.mkdir(parents=True, exist_ok=True)
    pool = SynthPool()
    done: list[str] = []
    try:
        for k, sid in enumerate(ids):
            target = out / f"{sid}.npy"
            if not target.exists():
                song_dir = pop909 / sid
                if not song_dir.is_dir():
                    continue
                try:
                    stems, recipe = render_stems(song_dir, seed, seconds, kind, pool, mastered)
                except (UserError, ValueError, OSError) as exc:
                    print(f"skipping {sid}: {exc}", file=sys.stderr)
                    continue
                peak = float(np.abs(stems.sum(0)).max())
                if peak > 0.99:  # keep the mixture unclipped; the same factor for every stem
                    stems *= np.float32(0.99 / peak)
                pcm = np.round(np.clip(stems, -1, 1) * 32767).astype(np.int16)
                with atomic_files([target, out / f"{sid}.json"]) as (tmp_npy, tmp_json):
                    np.save(tmp_npy, pcm)
                    tmp_json.write_text(json.dumps(asdict(recipe)))
            done.append(sid)
            if progress is not None:
                progress(k + 1, len(ids))
    finally:
        pool.close()
    return done


def splits(pop909: Path, n_train: int, n_valid: int = 12, n_test: int = 24) -> dict[str, list[str]]:
    """Song ids per set, from the generator's song split (so no test song is ever trained on).
    ``train`` takes the first ``n_train`` of a fixed shuffle: a smaller set is a prefix of a larger one."""
    sp = load_split()
    have = {p.name for p in pop909.iterdir()} if pop909.is_dir() else set()
    order = np.random.default_rng(909).permutation(sorted(i for i in sp["train"] if i in have))
    return {
        "train": [str(i) for i in order[:n_train]],
        "valid": [i for i in sp["valid"] if i in have][:n_valid],
        "test": [i for i in sp["test"] if i in have][:n_test],
    }


SETS = ("train", "valid", "test", "heldout", "recorded")  # heldout, recorded: the test songs (see SET_KINDS)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from tqdm import tqdm

    ap = argparse.ArgumentParser(prog="python -m models.separator.render", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pop909", type=Path, default=Path("../shared/data/pop909/POP909"))
    ap.add_argument("--out", type=Path, default=None, help="cache folder (default: see cache_dir)")
    ap.add_argument("--train", type=int, default=240, help="training songs")
    ap.add_argument("--seconds", type=float, default=30.0, help="excerpt length per song")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args(argv)
    root = cache_dir(args.out)
    ids = splits(args.pop909, args.train)
    for name in args.sets.split(","):
        song_ids = ids["test" if name in ("heldout", "recorded") else name]
        bar = tqdm(total=len(song_ids), desc=name, file=sys.stderr)

        def tick(k: int, n: int, bar: Any = bar) -> None:
            bar.update(1)

        got = render_set(
            args.pop909,
            song_ids,
            root / name,
            args.seed,
            args.seconds,
            kind=SET_KINDS[name],
            mastered=name != "train",
            progress=tick,
        )
        bar.close()
        print(json.dumps({"set": name, "songs": len(got), "folder": str(root / name)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
