"""Choose the sampling defaults on the validation split (never the test split): for each temperature and
top-p, generate the validation forms and compare the pieces' musicality figures with the real songs'.

    python -m models.generator.calibrate --limit 40 [--model sing]

Prints one JSON object: per setting, the mean absolute relative difference of the figures from the
songs' and the real-versus-generated classifier accuracy.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

import numpy as np

from models.generator.dataset import song_conditions
from models.generator.evaluate import load_eval_songs
from models.generator.metrics import FIGURES, mean_figures, musicality, real_vs_generated_accuracy
from models.generator.piece import GenerateRequest, generate_pieces
from models.generator.sampler import StructuredGenerator
from models.structure import parse_structure, template_from_structure


def sweep(model: str, limit: int, temperatures: list[float], top_ps: list[float], seed: int = 0) -> dict[str, Any]:
    songs = load_eval_songs("valid", limit)
    conds = [song_conditions(s) for s in songs]
    real = [musicality((s.melody, s.bass, s.accomp), s.bars, c.layout) for s, c in zip(songs, conds, strict=True)]
    ref = mean_figures(real)
    gen = StructuredGenerator(model)
    base = []
    for s in songs:
        sections = parse_structure(s.labels[0])
        base.append(GenerateRequest(template_from_structure(sections), sections, model=model, seed=seed,
                                    tempo=s.tempo))  # fmt: skip
    out: dict[str, Any] = {"model": model, "songs": len(songs), "data": ref, "settings": []}
    for t in temperatures:
        for p in top_ps:
            pieces = generate_pieces([replace(r, temperature=t, top_p=p) for r in base], generator=gen)
            figs = []
            for piece, c in zip(pieces, conds, strict=True):
                parts = piece.parts()
                figs.append(musicality((parts["melody"], parts["bass"], parts["acc"]), piece.bars, c.layout))
            m = mean_figures(figs)
            rel = [abs(m[k] - ref[k]) / abs(ref[k]) for k in FIGURES if ref[k] and np.isfinite(m[k])]
            out["settings"].append({
                "temperature": t, "top_p": p, "mean_abs_rel_diff": float(np.mean(rel)),
                "classifier_accuracy": real_vs_generated_accuracy(real, figs, seed), "figures": m,
            })  # fmt: skip
    return out


def tempo_effect(model: str, limit: int, tempos: tuple[float, ...] = (60.0, 120.0, 180.0)) -> dict[str, Any]:
    """The same validation forms and seed at several tempi: notes per bar and the melody's mean note length
    (16ths) per tempo. In POP909, slower songs have more notes per bar."""
    songs = load_eval_songs("valid", limit)
    gen = StructuredGenerator(model)
    out: dict[str, Any] = {}
    for bpm in tempos:
        reqs = []
        for s in songs:
            sections = parse_structure(s.labels[0])
            reqs.append(GenerateRequest(template_from_structure(sections), sections, model=model, tempo=bpm))
        pieces = generate_pieces(reqs, generator=gen)
        notes = [sum(len(n) for k, n in p.parts().items() if k != "drums") / p.bars for p in pieces]
        mel = np.concatenate([p.parts()["melody"].dur for p in pieces])
        out[f"{bpm:g}"] = {"notes_per_bar": float(np.mean(notes)), "melody_mean_16ths": float(mel.mean())}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="sing")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--temperatures", default="0.8,0.9,1.0")
    ap.add_argument("--top-p", default="0.9,0.95,1.0")
    ap.add_argument("--tempo", action="store_true", help="also report the effect of tempo")
    a = ap.parse_args(argv)
    res = sweep(a.model, a.limit, [float(x) for x in a.temperatures.split(",")], [float(x) for x in a.top_p.split(",")])
    if a.tempo:
        res["tempo_effect"] = tempo_effect(a.model, a.limit)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
