"""``refrain eval generator``: NLL, structure adherence, musicality and a real-versus-generated classifier
on held-out POP909 songs, and how well ``--from-track`` recovers their forms.

For every song of the split, its first human labelling gives the form, and its annotated tempo and key
are the controls (chords come from the harmony layer, not from the song). SING and the baseline are
scored (teacher-forced event NLL) on the real song, and each generates a piece of the same form; the
figures of the generated pieces are reported beside those of the real songs, measured the same way.
Adherence is reported with the default variation (repeats partly copied) and with free sampling
(``adherence_auc_free``: nothing copied, the model alone).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from models.generator.codec import parts_from_grid
from models.generator.dataset import feature_template, song_conditions, song_grid
from models.generator.metrics import (
    adherence_auc,
    mean_figures,
    musicality,
    real_vs_generated_accuracy,
    roc_auc,
)
from models.generator.piece import DEFAULT_TEMPERATURE, GenerateRequest, generate_pieces
from models.generator.pop909 import Song
from models.generator.sampler import Plan, StructuredGenerator
from models.structure import parse_structure, similar_pairs, template_from_structure


def load_eval_songs(split: str, limit: int = 0) -> list[Song]:
    """The aligned songs of a split (read from the POP909 data)."""
    from models.data.pop909 import data_root, load_split
    from models.generator.pop909 import load_song

    ids = load_split().get(split)
    if ids is None:
        raise UserError(f"unknown split {split!r}: use train, valid or test")
    root = data_root()
    out = []
    for sid in ids:
        s = load_song(sid, root)
        if isinstance(s, Song):
            out.append(s)
        if limit and len(out) >= limit:
            break
    return out


def _rel(a: dict[str, float], ref: dict[str, float]) -> dict[str, float]:
    return {k: (a[k] - ref[k]) / ref[k] if ref[k] else float("nan") for k in a if k in ref}


def from_track_figures(songs: list[Song]) -> dict[str, float]:
    """How the ``--from-track`` template of each song's MIDI notes matches its human labels: ROC AUC and the
    share of bar pairs marked similar (>= 0.5), beside the labels' own share."""
    from models.generator.features import template_features
    from models.structure.tracks import form_template

    auc, share, label_share = [], [], []
    for s in songs:
        sim = similar_pairs(parse_structure(s.labels[0]))
        n = sim.shape[0]
        t = form_template(template_features(song_grid(s))[:n])
        iu = np.triu_indices(n, 1)
        auc.append(roc_auc(t[iu], sim[iu]))
        share.append(float((t[iu] >= 0.5).mean()))
        label_share.append(float(sim[iu].mean()))
    return {
        "midi_template_auc": float(np.nanmean(auc)),
        "midi_similar_share": float(np.mean(share)),
        "label_similar_share": float(np.mean(label_share)),
    }


def from_audio_figures(songs: list[Song], work: Path) -> dict[str, float]:
    """``--from-track`` on audio: each song's notes rendered through fluidsynth at its own tempo, then
    analysed as any audio file. ROC AUC of the derived template (resampled to the labels' bars) against
    the human labels, the share of songs whose tempo is found within 4 % (or at double/half), and the
    share whose key is found."""
    from engine.audio_io import write_audio
    from engine.midi_render import render_midi
    from engine.soundfont import find_soundfont
    from models.generator.midi import Piece, write_midi
    from models.structure.matrix import resample_template
    from models.structure.tracks import track_form

    sf2 = find_soundfont()
    auc, tempo_ok, key_ok = [], [], []
    for s in songs:
        mid, wav = work / f"{s.sid}.mid", work / f"{s.sid}.wav"
        write_midi(Piece(song_grid(s), tempo=s.tempo, key=s.keys[0]), mid)
        write_audio(wav, render_midi(mid, 22050, sf2), 22050)
        form = track_form(wav)
        sim = similar_pairs(parse_structure(s.labels[0]))
        n = sim.shape[0]
        t = resample_template(form.template, n)
        iu = np.triu_indices(n, 1)
        auc.append(roc_auc(t[iu], sim[iu]))
        ratio = form.tempo / s.tempo
        tempo_ok.append(any(abs(ratio / m - 1.0) < 0.04 for m in (0.5, 1.0, 2.0)))
        key_ok.append(form.key == s.keys[0])
    return {
        "songs": len(songs),
        "audio_template_auc": float(np.nanmean(auc)),
        "tempo_found_share": float(np.mean(tempo_ok)),
        "key_found_share": float(np.mean(key_ok)),
    }


def evaluate(
    split: str = "test",
    limit: int = 0,
    seed: int = 0,
    temperature: float = DEFAULT_TEMPERATURE,
    models: tuple[str, ...] = ("sing", "lstm"),
    log: Callable[[str], None] | None = None,
    audio_songs: int = 12,
) -> dict[str, Any]:
    """Run the whole evaluation and return the metrics as one JSON-ready dict (``audio_songs``: how many
    songs to render and analyse as audio for ``--from-track``; 0 skips it)."""
    t0 = time.monotonic()
    songs = load_eval_songs(split, limit)
    if not songs:
        raise UserError(f"no aligned songs in split {split!r}")
    grids = [song_grid(s) for s in songs]
    conds = [song_conditions(s) for s in songs]
    sections = [parse_structure(s.labels[0]) for s in songs]
    label_t = [template_from_structure(sec) for sec in sections]
    similar = [similar_pairs(sec) for sec in sections]
    real_fig = [musicality((s.melody, s.bass, s.accomp), s.bars, c.layout) for s, c in zip(songs, conds, strict=True)]
    real_auc = [adherence_auc(g, sim) for g, sim in zip(grids, similar, strict=True)]
    data = {"adherence_auc": float(np.nanmean(real_auc)), **mean_figures(real_fig)}
    res: dict[str, Any] = {
        "split": split,
        "songs": len(songs),
        "bars": int(sum(s.bars for s in songs)),
        "seed": seed,
        "temperature": temperature,
        "data": data,
        # The same songs through the note-event codec (what the representation can express at best).
        "data_through_codec": mean_figures(
            [musicality(parts_from_grid(g), g.bars, c.layout) for g, c in zip(grids, conds, strict=True)]
        ),
        "from_track": from_track_figures(songs),
    }
    if audio_songs:
        import tempfile

        if log:
            log(f"from-track on audio renders of {min(audio_songs, len(songs))} songs")
        with tempfile.TemporaryDirectory() as d:
            res["from_track"]["audio"] = from_audio_figures(songs[:audio_songs], Path(d))
    for name in models:
        gen = StructuredGenerator(name)
        if log:
            log(f"{name}: scoring NLL")
        plans = [Plan(t, c) for t, c in zip(label_t, conds, strict=True)]
        nll = gen.event_nll(grids, plans)
        entry: dict[str, Any] = {"nll": nll["total"], "nll_parts": {k: v for k, v in nll.items() if k != "total"}}
        if gen.attention:
            own = [Plan(feature_template(g), c) for g, c in zip(grids, conds, strict=True)]
            entry["nll_own_ssm"] = gen.event_nll(grids, own)["total"]
        if log:
            log(f"{name}: generating {len(songs)} pieces")
        # The form and the song's tempo, as a user gives them; key and chords drawn (no scale mask).
        reqs = [
            GenerateRequest(t, sec, model=name, seed=seed, temperature=temperature, tempo=s.tempo)
            for t, sec, s in zip(label_t, sections, songs, strict=True)
        ]
        t1 = time.monotonic()
        pieces = generate_pieces(reqs, generator=gen)
        entry["generation_seconds_per_bar"] = (time.monotonic() - t1) / max(1, res["bars"])
        auc = [adherence_auc(p.grid, sim) for p, sim in zip(pieces, similar, strict=True)]
        figs = []
        for p, c in zip(pieces, conds, strict=True):
            parts = p.parts()
            figs.append(musicality((parts["melody"], parts["bass"], parts["acc"]), p.bars, c.layout))
        entry["adherence_auc"] = float(np.nanmean(auc))
        # Free sampling (no bar copied by the variation control): only the attention can follow the form.
        free = generate_pieces([replace(r, variation=1.0) for r in reqs], generator=gen)
        entry["adherence_auc_free"] = float(
            np.nanmean([adherence_auc(p.grid, sim) for p, sim in zip(free, similar, strict=True)])
        )
        entry["musicality"] = mean_figures(figs)
        entry["musicality_rel_to_data"] = _rel(entry["musicality"], data)
        entry["real_vs_generated_accuracy"] = real_vs_generated_accuracy(real_fig, figs, seed)
        # With the key named (the song's), every note must be in its scale.
        keyed = generate_pieces(
            [replace(r, key=s.keys[0]) for r, s in zip(reqs[:8], songs, strict=False)], generator=gen
        )
        inside = True
        for p, s in zip(keyed, songs, strict=False):
            pitched = np.concatenate([n.pitch for k, n in p.parts().items() if k != "drums"])
            inside &= set((pitched % 12).tolist()) <= set(s.keys[0].scale)
        entry["key_given_all_notes_in_scale"] = inside
        res[name] = entry
    res["seconds"] = round(time.monotonic() - t0, 1)
    return res


def run(a: argparse.Namespace) -> dict[str, Any]:
    """``refrain eval generator``: the options of the eval command -> the figures."""
    temp = DEFAULT_TEMPERATURE if a.temperature is None else a.temperature
    log = None if a.json else (lambda m: print(m, file=sys.stderr))
    models = tuple(m.strip() for m in a.model.split(",") if m.strip()) if a.model else ("sing", "lstm")
    return evaluate(a.split, a.limit, a.seed, temp, models=models, log=log)
