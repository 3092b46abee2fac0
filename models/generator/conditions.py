"""What the generator is told besides the music so far: chords per half bar, key, section role and
position, tempo; and the per-step vectors the network reads (``COND_DIM`` wide).

The same :class:`Conditions` come from POP909 annotations in training and from the harmony layer, the
user's chords and key, and the form in generation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from models.generator.chords import CHORD_DIM, KEY_DIM, Chord, Key, chord_vector, key_vector
from models.generator.codec import STEPS_PER_BAR
from models.structure.strings import Section

HALF = STEPS_PER_BAR // 2
TO_END_N = 5  # bars to the section's end: 0, 1, 2, 3, 4+
IN_SECTION_N = 4  # bar in the section: 0, 1, 2, 3+
COND_DIM = STEPS_PER_BAR + 2 * CHORD_DIM + KEY_DIM + 1 + TO_END_N + IN_SECTION_N + 1
MAX_PHRASE = 8  # a drawn template's run of continuing bars is cut into phrases of at most this


@dataclass
class Layout:
    """Per bar: whether the melody plays (upper-case section), bars to the section's end, bar in the
    section, the section's index and letter."""

    melody_on: np.ndarray  # (bars,) bool
    to_end: np.ndarray  # (bars,) int
    in_section: np.ndarray  # (bars,) int
    section: np.ndarray  # (bars,) int
    letters: list[str]  # per section

    @property
    def bars(self) -> int:
        return int(self.melody_on.shape[0])

    def section_bars(self, k: int) -> np.ndarray:
        return np.nonzero(self.section == k)[0]

    def energy(self, k: int) -> int:
        """0 (lightest) .. 3 for section ``k``: intro/outro 0, instrumental 1, the first melody letter
        (usually the verse) 2, later melody letters (choruses) 3. Drives drums and section dynamics."""
        letter = self.letters[k]
        if letter in "io":
            return 0
        if letter.islower() or letter == "X":
            return 1
        order = [c for c in dict.fromkeys(self.letters) if c.isupper() and c != "X"]  # by first appearance
        return 2 if order.index(letter) == 0 else 3


def layout_from_sections(sections: list[Section]) -> Layout:
    on, to_end, ins, idx = [], [], [], []
    for k, s in enumerate(sections):
        for b in range(s.bars):
            on.append(s.letter.isupper())
            to_end.append(s.bars - 1 - b)
            ins.append(b)
            idx.append(k)
    return Layout(np.array(on, bool), np.array(to_end), np.array(ins), np.array(idx), [s.letter for s in sections])


def layout_from_template(t: np.ndarray, threshold: float = 0.5) -> Layout:
    """Sections of a drawn template: every repeated passage (a run of bars similar to a run of earlier bars)
    bounds a section where it starts and ends, and so does the passage it repeats; what is left is cut into
    phrases of at most ``MAX_PHRASE`` bars. A section whose first bar repeats an earlier section's first bar
    takes its letter. Every section has melody (a template says nothing of roles)."""
    n = t.shape[0]
    sim = [set(np.nonzero(t[i, :i] >= threshold)[0].tolist()) for i in range(n)]
    bounds = {0, n}
    i = 0
    while i < n:
        if not sim[i]:
            i += 1
            continue
        src = min(sim[i])
        length = 1
        while i + length < n and (src + length) in sim[i + length] and src + length < i:
            length += 1
        bounds.update({i, i + length, src, src + length})
        i += length
    edges = sorted(bounds)
    cuts = []
    for a, b in itertools.pairwise(edges):
        parts = -(-(b - a) // MAX_PHRASE)
        cuts += [a + (b - a) * k // parts for k in range(parts)]
    cuts.append(n)
    sections: list[Section] = []
    letter_at: dict[int, str] = {}
    names = iter("ABCDEFGHJKLMNPQRSTUVWYZ" * 8)
    for a, b in itertools.pairwise(cuts):
        letter = next((letter_at[j] for j in sorted(sim[a]) if j in letter_at), None) or next(names)
        letter_at[a] = letter
        sections.append(Section(letter, b - a))
    return layout_from_sections(sections)


@dataclass
class Conditions:
    """Everything besides the notes that one piece is generated under."""

    chords: list[Chord | None]  # per half bar
    keys: list[Key]  # per bar
    layout: Layout
    tempo: float  # BPM

    @property
    def bars(self) -> int:
        return self.layout.bars

    def transposed(self, s: int) -> Conditions:
        return replace(
            self,
            chords=[None if c is None else c.transposed(s) for c in self.chords],
            keys=[k.transposed(s) for k in self.keys],
        )

    def vectors(self) -> np.ndarray:
        """(bars * 16, COND_DIM) float32: position in bar, chord now and next, key, role, position in the
        section, tempo."""
        bars = self.bars
        T = bars * STEPS_PER_BAR
        x = np.zeros((T, COND_DIM), np.float32)
        t = np.arange(T)
        x[t, t % STEPS_PER_BAR] = 1.0
        o = STEPS_PER_BAR
        halves = np.stack([chord_vector(c) for c in self.chords[: 2 * bars]] + [chord_vector(None)])
        h = t // HALF
        x[:, o : o + CHORD_DIM] = halves[h]
        o += CHORD_DIM
        x[:, o : o + CHORD_DIM] = halves[np.minimum(h + 1, 2 * bars)]
        o += CHORD_DIM
        keys = np.stack([key_vector(k) for k in self.keys[:bars]])
        b = t // STEPS_PER_BAR
        x[:, o : o + KEY_DIM] = keys[b]
        o += KEY_DIM
        lay = self.layout
        x[:, o] = lay.melody_on[b]
        o += 1
        x[t, o + np.minimum(lay.to_end[b], TO_END_N - 1)] = 1.0
        o += TO_END_N
        x[t, o + np.minimum(lay.in_section[b], IN_SECTION_N - 1)] = 1.0
        o += IN_SECTION_N
        x[:, o] = tempo_feature(self.tempo)
        return x


def tempo_feature(bpm: float) -> float:
    """Tempo as the network reads it: log2(bpm / 100), clipped to +-1.5."""
    return float(np.clip(np.log2(max(bpm, 1.0) / 100.0), -1.5, 1.5))
