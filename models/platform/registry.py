"""The model-family contract and the registry of families and shipped models.

A family (``generator``, ``separator``, ...) declares, in its package's ``__init__``, a :class:`Family`:
the sidecar formats its runtime reads, how to load a model folder for inference, and where its train,
export and evaluate entry points live (as ``module:function`` strings, so listing families imports no
torch). The CLI and the app list models from here, never from hard-coded lists, and load them through
:func:`load_model`, which checks the sidecar's ``format`` and keeps one loaded model per process.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UserError
from models.platform.onnx import ASSETS, read_sidecar

# Every model family's package; a new family adds its package here and a FAMILY in its __init__.
FAMILY_PACKAGES = ("models.generator", "models.separator", "models.splitter", "models.features", "models.automix")


@dataclass(frozen=True)
class Family:
    """What a model family offers the platform. Entry points are ``"module:function"`` strings.

    * ``load``: ``fn(folder: Path, threads: int) -> model`` for inference (onnxruntime, no torch);
    * ``train`` / ``export``: ``fn(argv: list[str]) -> int`` command lines (torch), or "" for a family
      that ships a model trained elsewhere (the pretrained feature extractor);
    * ``evaluate``: ``fn(args: argparse.Namespace) -> dict`` held-out figures, or "" when it has none.
    """

    name: str
    title: str
    formats: tuple[str, ...]
    default: str  # the shipped model used when none is named
    load: str
    train: str
    export: str
    evaluate: str = ""

    @classmethod
    def of(cls, package: str, title: str, format: str, default: str, runtime: str, evaluate: bool = True) -> Family:
        """A family laid out the usual way: ``<package>.<runtime>:load``, ``<package>.train:main``,
        ``<package>.export:main`` and ``<package>.evaluate:run``; its name is the package's last part."""
        return cls(
            name=package.rsplit(".", 1)[-1],
            title=title,
            formats=(format,),
            default=default,
            load=f"{package}.{runtime}:load",
            train=f"{package}.train:main",
            export=f"{package}.export:main",
            evaluate=f"{package}.evaluate:run" if evaluate else "",
        )


@dataclass(frozen=True)
class ModelEntry:
    """A shipped (or user) model folder: its name, family, sidecar format and a one-line description."""

    name: str
    family: str
    folder: Path
    format: str
    description: str


def families() -> dict[str, Family]:
    out: dict[str, Family] = {}
    for pkg in FAMILY_PACKAGES:
        fam = importlib.import_module(pkg).FAMILY
        out[fam.name] = fam
    return out


def family(name: str) -> Family:
    fams = families()
    if name not in fams:
        raise UserError(f"unknown model family {name!r} (families: {', '.join(fams)})")
    return fams[name]


def entry_point(spec: str, what: str = "") -> Callable[..., Any]:
    """The function a ``module:function`` string names (imported on demand); UserError naming ``what``
    when the family has no such entry point."""
    if not spec:
        raise UserError(f"this model family has no {what or 'such'} command (its model is trained elsewhere)")
    module, _, fn = spec.partition(":")
    return getattr(importlib.import_module(module), fn)  # type: ignore[no-any-return]


def _entry(folder: Path, fams: dict[str, Family]) -> ModelEntry | None:
    try:
        meta = read_sidecar(folder)
    except UserError:
        return None
    fmt = str(meta.get("format", ""))
    fam = next((f for f in fams.values() if fmt in f.formats), None)
    if fam is None:
        return None
    desc = str(meta.get("description", "") or meta.get("title", "") or meta.get("name", folder.name))
    return ModelEntry(str(meta.get("name", folder.name)), fam.name, folder, fmt, desc)


def shipped_models(family_name: str | None = None) -> list[ModelEntry]:
    """The models in ``assets/models`` (optionally of one family), the family's default first."""
    fams = families()
    entries = [e for d in sorted(ASSETS.iterdir()) if (e := _entry(d, fams)) is not None] if ASSETS.is_dir() else []
    if family_name is not None:
        entries = [e for e in entries if e.family == family_name]
    return sorted(entries, key=lambda e: (e.family, e.name != fams[e.family].default, e.name))


def resolve_model(name: str | os.PathLike[str], family_name: str) -> Path:
    """The folder of a shipped model by name, or a model folder given as a path; its sidecar must be of the
    family's format. UserError lists the family's shipped models otherwise."""
    fam = family(family_name)
    p = Path(name)
    folder = p if p.is_dir() else ASSETS / os.fspath(name)
    if not folder.is_dir():
        known = ", ".join(e.name for e in shipped_models(family_name)) or "none"
        raise UserError(f"unknown {fam.name} model {os.fspath(name)!r}; shipped: {known}")
    fmt = read_sidecar(folder).get("format")
    if fmt is None:
        raise UserError(f"{folder}/model.json is not a Refrain model sidecar (it names no 'format')")
    if fmt not in fam.formats:
        raise UserError(f"{folder} holds a {fmt!r} model, not a {fam.name} model ({' or '.join(fam.formats)})")
    return folder


_LOADED: dict[tuple[str, str, int, int], Any] = {}


def load_model(name: str | os.PathLike[str], family_name: str, threads: int = 1) -> Any:
    """A model ready for inference, loaded once per process (per folder, file version and thread count)."""
    folder = resolve_model(name, family_name).resolve()
    stamp = (folder / "model.onnx").stat().st_mtime_ns if (folder / "model.onnx").exists() else 0
    key = (family_name, str(folder), stamp, threads)
    if key not in _LOADED:
        _LOADED[key] = entry_point(family(family_name).load)(folder, threads)
    return _LOADED[key]
