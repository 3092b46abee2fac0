"""Render the splitter's duets into a cache: ``<cache>/v<RENDER_VERSION>/<set>/<song>-<kind>.npy``, int16
(2, frames) mono sources at 22.05 kHz, with ``.json`` beside it (the recipe and the usable seconds).

    python -m models.splitter.render --pop909 ../shared/data/pop909/POP909 --train 120

Sets: ``train``, ``valid``, ``test`` (the separator's song split: no test song is trained on),
``heldout`` (the test songs on the held-out SoundFont and speech voice) and ``long`` (72-second duets of
a few test songs, for the order check). Reproducible from ``--seed``;
songs already in the cache are skipped, so an interrupted render resumes."""

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
from models.data.synth import SynthPool
from models.splitter.data import KINDS, render_duet

RENDER_VERSION = 3  # bump when the renderer's output changes; the cache folder is versioned by it
# v2: excerpts where both lines sound, levels by the level while sounding, sources sounding under 30 % skipped
# v3: the heldout set is seeded apart, reads speech with two held-out voices and has no sung duets
SETS = ("train", "valid", "test", "heldout", "long")
# the order check's 70-second duets: a few test songs, two kinds
LONG_SONGS, LONG_SECONDS, LONG_KINDS = 6, 72.0, ("instrument", "sung")


def cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """``$REFRAIN_DUET_CACHE``, else the user cache folder; versioned by the renderer."""
    return render_cache(root, "REFRAIN_DUET_CACHE", "splitter-duets", RENDER_VERSION)


def render_set(
    pop909: Path,
    ids: list[str],
    out: Path,
    seed: int,
    seconds: float,
    kinds: tuple[str, ...] = KINDS,
    heldout: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Render every kind of duet of each song into ``out`` (skipping what is there); returns the names
    (``<song>-<kind>``) rendered or cached. A song that lacks a kind's material is skipped for that kind."""
    out.mkdir(parents=True, exist_ok=True)
    pool = SynthPool()
    done: list[str] = []
    jobs = [(sid, kind) for sid in ids for kind in kinds]
    try:
        for k, (sid, kind) in enumerate(jobs):
            name = f"{sid}-{kind}"
            target = out / f"{name}.npy"
            if not target.exists() and (pop909 / sid).is_dir():
                try:
                    audio, usable, recipe = render_duet(pop909 / sid, kind, seed, seconds, pool, heldout)
                except (UserError, ValueError, OSError) as exc:
                    print(f"skipping {name}: {exc}", file=sys.stderr)
                    audio = None
                if audio is not None:
                    peak = float(np.abs(audio).max() + np.abs(audio.sum(0)).max())
                    if peak > 0.99:
                        audio *= np.float32(0.99 / peak)
                    pcm = np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16)
                    meta = {"recipe": asdict(recipe), "usable": usable.astype(int).tolist()}
                    with atomic_files([target, out / f"{name}.json"]) as (tmp_npy, tmp_json):
                        np.save(tmp_npy, pcm)
                        tmp_json.write_text(json.dumps(meta))
            if target.exists():
                done.append(name)
            if progress is not None:
                progress(k + 1, len(jobs))
    finally:
        pool.close()
    return done


def main(argv: list[str] | None = None) -> int:
    import argparse

    from tqdm import tqdm

    from models.separator.render import splits

    ap = argparse.ArgumentParser(prog="python -m models.splitter.render", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pop909", type=Path, default=Path("../shared/data/pop909/POP909"))
    ap.add_argument("--out", type=Path, default=None, help="cache folder (default: see cache_dir)")
    ap.add_argument("--train", type=int, default=120, help="training songs")
    ap.add_argument("--seconds", type=float, default=30.0, help="excerpt length per song")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args(argv)
    root = cache_dir(args.out)
    ids = splits(args.pop909, args.train)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    for name in args.sets.split(","):
        song_ids = ids["test" if name in ("heldout", "long") else name]
        seconds, set_kinds = args.seconds, kinds
        if name == "heldout":
            set_kinds = tuple(k for k in kinds if k != "sung")  # no singing voice is held out
        if name == "long":
            song_ids, seconds = song_ids[:LONG_SONGS], LONG_SECONDS
            set_kinds = tuple(k for k in kinds if k in LONG_KINDS)
        bar = tqdm(total=len(song_ids) * len(set_kinds), desc=name, file=sys.stderr)

        def tick(k: int, n: int, bar: Any = bar) -> None:
            bar.update(1)

        got = render_set(args.pop909, song_ids, root / name, args.seed, seconds, set_kinds, name == "heldout", tick)
        bar.close()
        print(json.dumps({"set": name, "duets": len(got), "folder": str(root / name)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
