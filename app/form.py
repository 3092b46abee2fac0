"""Form-editor operations on a template and its per-bar section letters (pure numpy; the SSM editor and
the tests call these)."""

from __future__ import annotations

import numpy as np

from models.structure import resample_template
from models.structure.strings import UNIQUE_LETTERS


def paint(matrix: np.ndarray, i: int, j: int, value: float) -> np.ndarray:
    """Set cell (i, j) and its mirror; the diagonal stays 1 (a bar is always like itself)."""
    m = np.array(matrix, np.float32, copy=True)
    if i == j:
        return m
    m[i, j] = m[j, i] = float(np.clip(value, 0.0, 1.0))
    return m


def runs(labels: list[str]) -> list[tuple[str, int, int]]:
    """Contiguous runs of one label: (letter, first bar, bars)."""
    out: list[tuple[str, int, int]] = []
    for k, lab in enumerate(labels):
        if out and out[-1][0] == lab and lab:
            letter, start, n = out[-1]
            out[-1] = (letter, start, n + 1)
        else:
            out.append((lab, k, 1))
    return out


def assign_section(matrix: np.ndarray, labels: list[str], a: int, b: int, letter: str) -> tuple[np.ndarray, list[str]]:
    """Label bars ``a..b`` (inclusive, 0-based) with ``letter``: their old similarities are cleared and bar k
    of the range becomes similar to bar k of every other section with the same letter (and case), as a
    structure string would say. ``i``, ``o``, ``x`` and ``X`` repeat nothing; "" removes the label."""
    n = matrix.shape[0]
    a, b = max(0, min(a, b)), min(n - 1, max(a, b))
    m = np.array(matrix, np.float32, copy=True)
    lab = list(labels) + [""] * (n - len(labels))
    for k in range(a, b + 1):
        lab[k] = letter
    rows = np.arange(a, b + 1)
    keep = m[rows, rows].copy()
    m[rows, :] = 0.0
    m[:, rows] = 0.0
    m[rows, rows] = keep
    if letter and letter not in UNIQUE_LETTERS:
        others = [*lab[:a], *(["\0"] * (b - a + 1)), *lab[b + 1 :]]  # the new section is not its own partner
        for other, start, length in runs(others):
            if other != letter:
                continue
            for k in range(min(length, b - a + 1)):
                m[a + k, start + k] = m[start + k, a + k] = 1.0
    np.fill_diagonal(m, 1.0)
    return m, lab


def structure_text(labels: list[str]) -> str:
    """The structure string the labels spell (unlabelled bars count as ``x``)."""
    return "".join(f"{letter or 'x'}{n}" for letter, _, n in runs(labels))


def resize(matrix: np.ndarray, labels: list[str], bars: int) -> tuple[np.ndarray, list[str]]:
    n = matrix.shape[0]
    if bars == n:
        return np.array(matrix, np.float32), list(labels)
    m = resample_template(np.asarray(matrix, np.float32), bars)
    src = np.minimum((np.arange(bars) * n) // bars, n - 1)
    lab = [labels[k] if k < len(labels) else "" for k in src.tolist()]
    return m, lab


def labels_for(sections: list[object] | None, bars: int) -> list[str]:
    if not sections:
        return [""] * bars
    out: list[str] = []
    for sec in sections:
        out += [sec.letter] * sec.bars  # type: ignore[attr-defined]
    return out[:bars] + [""] * max(0, bars - len(out))
