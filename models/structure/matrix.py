"""SSM templates as matrices: validation, resampling, file I/O and similarity from features."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.errors import UserError
from models.structure.strings import check_bar_count


def validate_template(m: np.ndarray, source: str = "template") -> np.ndarray:
    """Check a template and return it as a symmetric float32 matrix in [0, 1] with a unit diagonal.

    Raises UserError for non-square, empty, non-finite, negative or above-one matrices.
    Slight asymmetry (hand-made files) is averaged away.
    """
    a = np.asarray(m)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise UserError(f"{source}: a template must be a square matrix, got shape {a.shape}")
    check_bar_count(a.shape[0])
    try:
        a = a.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{source}: template values must be numbers") from exc
    if not np.all(np.isfinite(a)):
        raise UserError(f"{source}: template contains NaN or infinite values")
    if a.min() < 0.0:
        raise UserError(f"{source}: template contains negative values (min {a.min():.3g})")
    if a.max() > 1.0 + 1e-6:
        raise UserError(f"{source}: template values must be in [0, 1] (max {a.max():.3g})")
    a = 0.5 * (a + a.T)
    np.fill_diagonal(a, 1.0)
    return np.asarray(a, dtype=np.float32)


def resample_template(m: np.ndarray, bars: int) -> np.ndarray:
    """Resample a template to ``bars`` bars by nearest-bar mapping (keeps blocks and stripes crisp)."""
    check_bar_count(bars)
    n = m.shape[0]
    if n == bars:
        return m.astype(np.float32, copy=True)
    idx = np.minimum(((np.arange(bars) + 0.5) * n / bars).astype(np.int64), n - 1)
    out = m[np.ix_(idx, idx)].astype(np.float32)
    np.fill_diagonal(out, 1.0)
    return out


def ssm_from_features(features: np.ndarray) -> np.ndarray:
    """Cosine self-similarity of per-bar feature rows (bars, dims), clipped to [0, 1].

    Two empty bars are similar (1); an empty bar and a non-empty one are not (0).
    """
    f = np.asarray(features, dtype=np.float64)
    norm = np.linalg.norm(f, axis=1)
    empty = norm < 1e-9
    unit = f / np.where(empty, 1.0, norm)[:, None]
    sim = np.clip(unit @ unit.T, 0.0, 1.0)
    sim[np.ix_(empty, empty)] = 1.0
    np.fill_diagonal(sim, 1.0)
    return sim.astype(np.float32)


def load_template_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a template from ``.npy``, ``.csv`` (comma or whitespace separated) or greyscale ``.png``."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"template file not found: {p}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            m = np.load(p, allow_pickle=False)
        elif suffix in (".csv", ".txt"):
            text = p.read_text()
            if not text.strip():
                raise UserError(f"template file {p.name} is empty")
            delimiter = "," if "," in text else None
            m = np.loadtxt(p, delimiter=delimiter, dtype=np.float64, ndmin=2)
        elif suffix == ".png":
            from PIL import Image

            with Image.open(p) as img:
                grey = np.asarray(img.convert("L"), dtype=np.float64)
            m = grey / 255.0
        else:
            raise UserError(f"unsupported template file type {suffix!r}: use .npy, .csv or .png")
    except UserError:
        raise
    except Exception as exc:  # any reader failure is the user's file, not our bug
        raise UserError(f"cannot read template {p.name}: {type(exc).__name__}: {exc}") from exc
    if m.size == 0:
        raise UserError(f"template file {p.name} is empty")
    return validate_template(m, p.name)


def save_template_file(m: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write a template as ``.npy``, ``.csv`` or ``.png`` (atomically)."""
    from engine.files import atomic_path

    p = Path(path)
    suffix = p.suffix.lower()
    with atomic_path(p) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, m.astype(np.float32))
        elif suffix == ".csv":
            np.savetxt(tmp, m, delimiter=",", fmt="%.4f")
        elif suffix == ".png":
            from PIL import Image

            Image.fromarray(np.round(np.clip(m, 0, 1) * 255).astype(np.uint8), "L").save(tmp, "PNG")
        else:
            raise UserError(f"unsupported template file type {suffix!r}: use .npy, .csv or .png")
