"""Structure strings in the POP909 phrase-label grammar, e.g. ``i4A8B8A8b4B8o4``.

A section is a letter and a length in bars. Same letter and same case: similar material
(bar k of one section repeats bar k of the other). Upper case: with melody; lower case:
instrumental. ``i``, ``o``, ``x`` and ``X`` (intro, outro, transitions) are similar to nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.errors import UserError

MAX_BARS = 512
UNIQUE_LETTERS = frozenset("ioxX")
_TOKEN = re.compile(r"([A-Za-z])(\d+)")


@dataclass(frozen=True)
class Section:
    """One section of a structure string."""

    letter: str
    bars: int

    @property
    def repeats(self) -> bool:
        """Whether the section can be similar to another section."""
        return self.letter not in UNIQUE_LETTERS


def parse_structure(text: str) -> list[Section]:
    """Parse a structure string; raise UserError with the offending position when it is malformed."""
    s = "".join(text.split())
    if not s:
        raise UserError("empty structure string: expected sections like 'A8B8A8'")
    sections: list[Section] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            raise UserError(
                f"malformed structure string {text!r} at position {pos + 1}: "
                "expected a letter followed by a number of bars, e.g. 'A8B8A8'"
            )
        bars = int(m.group(2))
        if bars < 1:
            raise UserError(f"section {m.group(0)!r} in {text!r} has no bars")
        sections.append(Section(m.group(1), bars))
        pos = m.end()
    check_bar_count(sum(sec.bars for sec in sections))
    return sections


def check_bar_count(n: int) -> int:
    """Return ``n`` if it is a usable number of bars, else raise UserError."""
    if not 1 <= n <= MAX_BARS:
        raise UserError(f"number of bars must be between 1 and {MAX_BARS}, got {n}")
    return n


def bar_labels(sections: list[Section]) -> tuple[list[str], list[int], list[int]]:
    """Per bar: section letter, offset inside its section, and section index."""
    letters: list[str] = []
    offsets: list[int] = []
    index: list[int] = []
    for k, sec in enumerate(sections):
        letters += [sec.letter] * sec.bars
        offsets += list(range(sec.bars))
        index += [k] * sec.bars
    return letters, offsets, index


def similar_pairs(sections: list[Section]) -> np.ndarray:
    """Boolean (bars, bars) matrix: True where two bars sit at the same offset in two sections
    of the same label (the pairs a template calls similar; the diagonal is False)."""
    letters, offsets, index = bar_labels(sections)
    n = len(letters)
    lab = np.array([ord(c) for c in letters])
    off = np.array(offsets)
    idx = np.array(index)
    rep = np.array([c not in UNIQUE_LETTERS for c in letters])
    same = (lab[:, None] == lab[None, :]) & (off[:, None] == off[None, :])
    same &= idx[:, None] != idx[None, :]
    same &= rep[:, None] & rep[None, :]
    assert same.shape == (n, n)
    return np.asarray(same)


def template_from_structure(text: str | list[Section]) -> np.ndarray:
    """The block template of a structure string: 1 on the diagonal and on similar pairs, 0 elsewhere."""
    sections = parse_structure(text) if isinstance(text, str) else text
    sim = similar_pairs(sections).astype(np.float32)
    np.fill_diagonal(sim, 1.0)
    return sim
