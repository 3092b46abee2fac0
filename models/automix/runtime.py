"""Auto-mix at run time (onnxruntime and the engine; no torch): balance mode proposes console settings for
a set of tracks with the shipped controller; reference mode (:mod:`models.automix.reference`) then matches a
reference track when one is given. The proposal is written as the engine's own plugins
(:func:`engine.console.apply_console`), so it plays, bounces and stays editable like any mixer setting.

``refrain automix STEM.wav ... --out MIX.wav`` and ``refrain automix PROJECT.refrain --out P2.refrain`` run
through :func:`automix_files` and :func:`automix_project`."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize

from engine.console import (
    ConsoleSettings,
    MasterSettings,
    StripSettings,
    apply_console,
    blend,
    clamp,
    defaults,
    neutral,
    read_console,
)
from engine.errors import Cancelled, UserError
from engine.files import atomic_files
from engine.project import Project, is_project_file, load_project, to_json
from models.automix import FORMAT
from models.automix.practice import MASTER_CEILING_DB, MASTER_LUFS
from models.automix.stemfeatures import NAMES, stem_features
from models.automix.tracks import bounce, loudest_window, run_master, run_strip, track_audio
from models.data.production import loudness
from models.features.basic_pitch import BasicPitch
from models.platform.onnx import OnnxModel
from models.platform.registry import resolve_model

DEFAULT_MODEL = "automix"
ANALYSIS_SECONDS = 30.0
# the booster summarises the middle of the analysis excerpt, as long as the training excerpts
# (models.automix.examples.EXCERPT_SECONDS): its pooled statistics then match training's, at 40 % of the cost
BOOSTER_SECONDS = 12.0
MIN_SOUNDING_SECONDS = 1.0
Progress = Callable[[float, str], None]


class Automixer:
    """The balance controller loaded for inference."""

    def __init__(self, model: str | os.PathLike[str] = DEFAULT_MODEL, threads: int = 1) -> None:
        folder = resolve_model(model, "automix")
        self.model = OnnxModel(folder / "model.onnx", threads, formats=(FORMAT,))
        m = self.model.meta
        try:
            self.low_hz, self.high_hz = (float(v) for v in m["shelves_hz"])
            self.roles = tuple(str(r) for r in m["roles"])
            self.master_lufs = float(m.get("master_lufs", MASTER_LUFS))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{folder}/model.json is not an auto-mix sidecar (needs shelves_hz, roles)") from exc
        self.name = str(m.get("name", folder.name))
        self.booster = bool((m.get("config") or {}).get("booster", False))
        self.threads = threads
        self._extractor: BasicPitch | None = None

    def _summaries(self, excerpts: Sequence[np.ndarray], sr: int) -> np.ndarray:
        """(tracks, SUMMARY_DIM) booster summaries of the middle BOOSTER_SECONDS of each excerpt."""
        from models.features.booster import load_booster, stem_summary

        if self._extractor is None:
            self._extractor = load_booster(self.threads)
        win = int(BOOSTER_SECONDS * sr)
        rows = []
        for x in excerpts:
            s0 = max(0, (x.shape[-1] - win) // 2)
            rows.append(stem_summary(self._extractor, x[..., s0 : s0 + win], sr))
        return np.stack(rows)

    def strips(self, excerpts: Sequence[np.ndarray], sr: int) -> tuple[list[StripSettings], list[str]]:
        """Each track's strip and role from its (2, n) analysis excerpt."""
        with ThreadPoolExecutor(max(1, min(len(excerpts), os.cpu_count() or 1))) as pool:  # numpy/scipy free the GIL
            feats = np.stack(list(pool.map(lambda x: stem_features(x, sr), excerpts)))[None]
        if self.booster:
            feats = np.concatenate([feats, self._summaries(excerpts, sr)[None]], -1)
        # A silent track, or one that sounds for less than MIN_SOUNDING_SECONDS (a single hit, a 0.2 s file),
        # is left out of the set and left alone: its loudness and features mean little, and the controller
        # never met such a stem.
        seconds = np.array([x.shape[-1] / sr for x in excerpts])
        active = feats[0, :, NAMES.index("activity")] * seconds
        audible = feats[0, :, 0] > -70.0
        sounding = audible & (active >= MIN_SOUNDING_SECONDS)
        if not sounding.any():
            return [StripSettings() for _ in excerpts], ["silent" if not a else "short" for a in audible]
        mask = sounding[None].astype(np.float32)
        out = self.model.predict({"features": feats[:, sounding], "mask": mask[:, sounding]})["settings"][0]
        gains = out[:, 0] - out[:, 0].mean()
        strips = [StripSettings() for _ in excerpts]
        roles = ["silent" if not a else "short" for a in audible]
        for k, row, gain in zip(np.flatnonzero(sounding), out, gains, strict=True):
            eq = neutral("eq") | {
                "low_hz": self.low_hz, "low_db": float(row[2]), "high_hz": self.high_hz, "high_db": float(row[3]),
            }  # fmt: skip
            strips[k] = StripSettings(float(gain), float(np.clip(row[1], -1, 1)), clamp("eq", eq))
            roles[k] = self.roles[int(np.argmax(row[4:]))]
        return strips, roles


def load(folder: Path, threads: int = 1) -> Automixer:
    return Automixer(folder, threads)


def fit_master(pre: np.ndarray, sr: int, target_lufs: float, cancel: threading.Event | None = None) -> MasterSettings:
    """Master settings (the limiter's threshold, then the fader) that bring the (2, n) pre-master mix to
    ``target_lufs`` integrated, through the engine's limiter, with the master fader at the practice's peak
    ceiling (:data:`MASTER_CEILING_DB`) after it. The limiter only raises loudness: a mix that is already
    louder is turned down further by the fader."""

    def level(threshold: float) -> float:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        lim = clamp("limiter", defaults("limiter") | {"threshold_db": threshold})
        return loudness(run_master(pre, MasterSettings(limiter=lim, gain_db=MASTER_CEILING_DB), sr), sr)

    lo, hi = -24.0, 0.0
    gain = MASTER_CEILING_DB
    if level(hi) >= target_lufs:  # loud enough with the gentlest limiting: the fader turns it down
        threshold = hi
        gain += target_lufs - level(hi)
    elif level(lo) <= target_lufs:  # as loud as the limiter goes
        threshold = lo
    else:
        threshold = float(scipy.optimize.brentq(lambda t: level(t) - target_lufs, lo, hi, xtol=0.1, maxiter=12))
    limiter = clamp("limiter", defaults("limiter") | {"threshold_db": threshold})
    return MasterSettings(neutral("compressor"), limiter, float(gain))


@dataclass(frozen=True)
class Proposal:
    settings: ConsoleSettings
    roles: list[str]
    report: dict[str, Any]


def balance(
    project: Project,
    tracks: Sequence[int] | None = None,
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    reference: tuple[np.ndarray, int] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Proposal:
    """Console settings for ``tracks`` of ``project`` (default all): the controller's balance, then, with a
    ``reference`` ((channels, n) audio and its rate), matched to it. For a subset of the tracks the master
    stays as it is (it belongs to the whole mix). Raises :class:`UserError` for no tracks, :class:`Cancelled`
    on ``cancel``."""
    idx = list(range(len(project.tracks))) if tracks is None else list(tracks)
    if not idx:
        raise UserError("auto-mix needs at least one track")
    say = progress or (lambda f, s: None)
    mixer = Automixer(model)
    sr = project.sample_rate
    audio = track_audio(project, idx, lambda f: say(0.3 * f, "reading tracks"), cancel)
    s0, win = loudest_window(audio, sr, ANALYSIS_SECONDS)
    excerpts = [x[:, s0 : s0 + win] for x in audio]
    say(0.35, "balancing")
    strips, roles = mixer.strips(excerpts, sr)
    if all(r in ("silent", "short") for r in roles):
        raise UserError(
            f"nothing to mix: every track is silent or sounds for under {MIN_SOUNDING_SECONDS:g} s in its loudest "
            f"{win / sr:.0f} s"
        )
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    if len(idx) < len(project.tracks):
        settings = ConsoleSettings(strips, read_console(project).master)
    else:
        pre = np.sum([run_strip(x, s, sr) for x, s in zip(excerpts, strips, strict=True)], axis=0)
        settings = ConsoleSettings(strips, fit_master(pre, sr, mixer.master_lufs, cancel))
    report: dict[str, Any] = {"model": mixer.name, "roles": roles, "excerpt_seconds": [s0 / sr, win / sr]}
    if reference is not None:
        from models.automix.reference import match_reference

        def sub(f: float, s: str) -> None:
            say(0.5 + 0.5 * f, s)

        m = match_reference(project, reference[0], reference[1], idx, settings, sub, cancel, roles)
        settings = m.settings
        report["reference"] = m.report()
    say(1.0, "done")
    return Proposal(settings, roles, report)


def _read_reference(path: str | os.PathLike[str] | None) -> tuple[np.ndarray, int] | None:
    if path is None:
        return None
    from engine.audio_io import read_audio

    return read_audio(path)


SUFFIXES = {"project": (".refrain",), "settings": (".json",)}


def _check_targets(targets: dict[str, Path], inputs: Sequence[str | os.PathLike[str]]) -> None:
    """Before any work: each output has its kind's suffix and is none of the inputs (an auto-mix never
    overwrites a stem, the reference or the project it reads)."""
    for key, path in targets.items():
        if key in SUFFIXES and path.suffix.lower() not in SUFFIXES[key]:
            raise UserError(f"{path} must end in {' or '.join(SUFFIXES[key])}")
    ins = {os.path.realpath(p) for p in inputs}
    for path in targets.values():
        if os.path.realpath(path) in ins:
            raise UserError(f"{path} is one of the inputs: choose another output name")


def _write_outputs(
    targets: dict[str, Path],
    project: Project,
    settings: ConsoleSettings,
    report: dict[str, Any],
    mix: np.ndarray | None,
) -> None:
    """Every requested output, all or none: ``mix`` (WAV/FLAC), ``project`` (.refrain), ``settings`` (JSON)."""
    from engine.audio_io import check_output, write_audio_into

    if "mix" in targets:
        check_output(targets["mix"], "24")
    keys = list(targets)
    with atomic_files([targets[k] for k in keys]) as temps:
        for key, tmp in zip(keys, temps, strict=True):
            if key == "mix" and mix is not None:
                write_audio_into(tmp, mix, project.sample_rate, "24", os.fspath(targets["mix"]))
            elif key == "project":
                data = to_json(project, targets["project"].parent.resolve())
                tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            elif key == "settings":
                tmp.write_text(json.dumps({"settings": settings.to_dict(), "report": report}, indent=2) + "\n")


def _report_written(report: dict[str, Any], mix: np.ndarray, sr: int, ref: tuple[np.ndarray, int] | None) -> None:
    """With a reference, add what the mix as written measures on the analysis excerpt (``written``: its
    features and distance to the reference): the report's ``after`` is the full proposal's, and ``--amount``
    under 1 writes less than that."""
    if ref is None or "reference" not in report:
        return
    from models.automix.features import feature_distance, mix_features

    start, length = report["reference"]["excerpt_seconds"]
    excerpt = mix[:, round(start * sr) : round((start + length) * sr)]
    written = mix_features(excerpt, sr)
    distance = feature_distance(written, mix_features(ref[0], ref[1]))
    report["reference"]["written"] = {"amount": report["amount"], "distance": round(distance, 3)} | written.as_dict()


def automix_files(
    stems: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    reference: str | os.PathLike[str] | None = None,
    save_project: str | os.PathLike[str] | None = None,
    settings_json: str | os.PathLike[str] | None = None,
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    amount: float = 1.0,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Mix ``stems`` (audio files) to ``out`` (WAV/FLAC at the first stem's rate); optionally also save a
    project holding the settings and a JSON of them. ``amount`` blends from the plain sum (0) to the
    proposal (1). Returns the report."""
    from engine.audio_io import audio_info

    if not stems:
        raise UserError("auto-mix needs at least one stem")
    targets = {"mix": Path(out)}
    if save_project is not None:
        targets["project"] = Path(save_project)
    if settings_json is not None:
        targets["settings"] = Path(settings_json)
    _check_targets(targets, [*stems, *([reference] if reference is not None else [])])
    sr = max(audio_info(s).sample_rate for s in stems)  # the finest rate among the stems: none is degraded
    project = Project.from_files(list(stems), sr)
    say = progress or (lambda f, s: None)
    ref = _read_reference(reference)
    prop = balance(project, None, model, ref, lambda f, s: say(0.8 * f, s), cancel)
    settings = blend(prop.settings, amount)
    mixed = apply_console(project, settings)
    say(0.85, "bouncing")
    mix = bounce(mixed)
    report = prop.report | {"amount": amount, "lufs": round(loudness(mix, sr), 2)}
    report["tracks"] = [Path(s).name for s in stems]  # the strips' order
    _report_written(report, mix, sr, ref)
    _write_outputs(targets, mixed, settings, report, mix)
    say(1.0, "done")
    return report


def automix_project(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    reference: str | os.PathLike[str] | None = None,
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    amount: float = 1.0,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Propose settings for every track of the project at ``path`` and save the result to ``out``."""
    if not is_project_file(path):
        raise UserError(f"not a Refrain project: {path}")
    _check_targets({"project": Path(out)}, [path, *([reference] if reference is not None else [])])
    project = load_project(path)
    ref = _read_reference(reference)
    prop = balance(project, None, model, ref, progress, cancel)
    settings = blend(prop.settings, amount)
    mixed = apply_console(project, settings)
    mix = bounce(mixed)
    report = prop.report | {"amount": amount, "lufs": round(loudness(mix, project.sample_rate), 2)}
    report["tracks"] = [t.name for t in project.tracks]
    _report_written(report, mix, project.sample_rate, ref)
    _write_outputs({"project": Path(out)}, mixed, settings, report, None)
    return report
