"""The harmony layer: a chord per half bar that follows the form, generated or typed by the user.

Generated progressions come from a chord n-gram learned on POP909's chord annotations (training split
only), in scale degrees relative to the key, conditioned on the mode and on whether the half bar is in a
section's last bar (so section ends cadence). Sections with the same letter repeat their chords; a new
section of 8 or more bars is usually a 4-bar progression played twice, as in the data; the piece ends
on the tonic.

Build the table with ``python -m models.generator.harmony`` (writes ``assets/harmony/chords.json``).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.errors import UserError, warn
from models.generator.chords import QUALITY_NAMES, Chord, Key, parse_symbol
from models.generator.conditions import Layout
from models.platform.onnx import ASSETS
from models.structure.strings import UNIQUE_LETTERS

TABLE = ASSETS.parent / "harmony" / "chords.json"
NONE = "N"
LOOP_SHARE = (
    0.33  # POP909 sections of 8+ bars whose chords agree at a 4-bar lag on at least half the half bars (train split)
)


def token(c: Chord | None, key: Key) -> str:
    return NONE if c is None else f"{(c.root - key.tonic) % 12}:{c.quality}"


def untoken(tok: str, key: Key) -> Chord | None:
    if tok == NONE:
        return None
    r, q = tok.split(":")
    return Chord((int(r) + key.tonic) % 12, q)


def _context(minor: bool, cadence: bool, *prev: str) -> str:
    return "|".join([("m" if minor else "M") + ("c" if cadence else "-"), *prev])


def build_table(cache: Path) -> dict[str, dict[str, int]]:
    """Chord n-gram counts (orders 0-2) from the training split of the POP909 cache."""
    from models.data.pop909 import load_split
    from models.generator.dataset import song_conditions
    from models.generator.pop909 import load_cache

    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for song in load_cache(cache, load_split()["train"]):
        cond = song_conditions(song)
        prev = ["^", "^"]
        for h, c in enumerate(song.chords[: 2 * cond.bars]):
            bar = h // 2
            key = cond.keys[bar]
            cad = bool(cond.layout.to_end[bar] == 0)
            tok = token(c, key)
            for ctx in (_context(key.minor, cad), _context(key.minor, cad, prev[1]), _context(key.minor, cad, *prev)):
                counts[ctx][tok] += 1
            prev = [prev[1], tok]
    return {k: dict(v) for k, v in counts.items()}


@lru_cache(maxsize=1)
def load_table(path: Path = TABLE) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise UserError(f"chord table {path} is missing: reinstall Refrain")
    data: dict[str, dict[str, int]] = json.loads(path.read_text())["counts"]
    return data


def _next_chord(rng: np.random.Generator, key: Key, cadence: bool, prev: list[str], allowed: set[str] | None) -> str:
    """Draw the next token from the interpolated 2nd/1st/0th-order distributions."""
    table = load_table()
    probs: dict[str, float] = defaultdict(float)
    for weight, ctx in ((0.7, _context(key.minor, cadence, *prev)), (0.25, _context(key.minor, cadence, prev[1])),
                        (0.05, _context(key.minor, cadence))):  # fmt: skip
        row = table.get(ctx)
        if not row:
            continue
        total = sum(row.values())
        for tok, n in row.items():
            probs[tok] += weight * n / total
    toks = [t for t in probs if t != NONE and (allowed is None or t in allowed)]
    if not toks:
        return "0:min" if key.minor else "0:maj"
    p = np.array([probs[t] for t in toks])
    return toks[int(rng.choice(len(toks), p=p / p.sum()))]


def diatonic_tokens(key: Key) -> set[str]:
    """Tokens whose chord tones are all in the key's scale."""
    scale = set(key.scale)
    out = set()
    for q in QUALITY_NAMES:
        for r in range(12):
            c = Chord((key.tonic + r) % 12, q)
            if set(c.pcs) <= scale:
                out.add(token(c, key))
    return out


def _recadence(
    toks: list[str], before: list[str], rng: np.random.Generator, key: Key, allowed: set[str] | None
) -> None:
    """Redraw a section's last bar (its two half bars) as a cadence, in place."""
    ctx = ["^", "^", *before, *toks[:-2]][-2:]
    for h in (len(toks) - 2, len(toks) - 1):
        toks[h] = _next_chord(rng, key, True, ctx, allowed)
        ctx = [ctx[1], toks[h]]


def generate_progression(
    layout: Layout, key: Key, rng: np.random.Generator, variation: float = 0.3, diatonic: bool = True
) -> list[Chord | None]:
    """One chord per half bar for the whole form (``2 * bars``)."""
    allowed = diatonic_tokens(key) if diatonic else None
    out: list[str] = []
    by_letter: dict[str, list[str]] = {}
    n_sec = int(layout.section.max()) + 1 if layout.bars else 0
    for k in range(n_sec):
        bars = layout.section_bars(k)
        n = 2 * bars.shape[0]
        letter = layout.letters[k]
        prev = ["^", "^", *out][-2:]
        if letter in by_letter and letter not in UNIQUE_LETTERS:
            src = by_letter[letter]
            toks = [src[h % len(src)] for h in range(n)]
            if rng.random() < variation:  # the repeat's last bar varies most
                _recadence(toks, out, rng, key, allowed)
        else:
            toks = []
            loop = n >= 16 and n % 8 == 0 and rng.random() < LOOP_SHARE
            length = 8 if loop else n
            for h in range(length):
                cad = not loop and h >= n - 2
                tok = _next_chord(rng, key, cad, prev, allowed)
                toks.append(tok)
                prev = [prev[1], tok]
            if loop:
                toks = [toks[h % 8] for h in range(n)]
                _recadence(toks, out, rng, key, allowed)
            by_letter.setdefault(letter, toks)
        out.extend(toks)
    if out:  # the piece ends on the tonic
        out[-1] = "0:min" if key.minor else "0:maj"
    return [untoken(t, key) for t in out]


_SECTION_CHORDS = re.compile(r"^\s*([A-Za-z])\s*[=:]\s*(.+)$")


def parse_progression(text: str) -> dict[str | None, list[list[Chord | None]]]:
    """A typed progression: bars separated by spaces (``"C G Am F"``) or by ``|`` with one or two chords
    per bar (``"C G | Am F"``); per section with ``"A=C G Am F; B=F G C C"``. Returns bars (each one or
    two chords) per section letter, ``None`` for the progression every other section uses."""
    out: dict[str | None, list[list[Chord | None]]] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        m = _SECTION_CHORDS.match(part)
        letter, body = (m.group(1), m.group(2)) if m else (None, part)
        if "|" in body:
            bars = [[parse_symbol(s) for s in b.split()] for b in body.split("|") if b.strip()]
        else:
            bars = [[parse_symbol(s)] for s in body.split()]
        if not bars or any(not 1 <= len(b) <= 2 for b in bars):
            raise UserError(f"chords {part.strip()!r}: give one or two chords per bar, bars separated by spaces or '|'")
        out[letter] = bars
    if not out:
        raise UserError("no chords given: use symbols like 'C G Am F'")
    return out


def fit_progression(
    given: dict[str | None, list[list[Chord | None]]], layout: Layout, fit: str = "loop"
) -> list[Chord | None]:
    """Lay a typed progression over the form: it restarts at each section and is looped (``fit="loop"``)
    or stretched over the section's bars (``"stretch"``). Sections without chords of their own use the
    common progression; when there is none they repeat the first given section's."""
    if fit not in ("loop", "stretch"):
        raise UserError(f"chord fit must be 'loop' or 'stretch', got {fit!r}")
    unknown = sorted(k for k in given if k is not None and k not in layout.letters)
    if unknown:
        raise UserError(
            f"chords for section {', '.join(unknown)}, "
            f"but the form has sections {''.join(dict.fromkeys(layout.letters))}"
        )
    default = given.get(None) or next(iter(given.values()))
    out: list[Chord | None] = []
    for k, letter in enumerate(layout.letters):
        bars = given.get(letter, default)
        n = layout.section_bars(k).shape[0]
        for b in range(n):
            src = bars[b % len(bars)] if fit == "loop" else bars[min(len(bars) - 1, b * len(bars) // n)]
            out.extend(src if len(src) == 2 else src * 2)
    return out


def out_of_key(chords: list[Chord | None], key: Key) -> list[str]:
    """Symbols of the chords with tones outside the key's scale (warned about when notes are kept in key)."""
    scale = set(key.scale)
    return sorted({c.symbol for c in chords if c is not None and not set(c.pcs) <= scale})


def warn_out_of_key(chords: list[Chord | None], key: Key) -> None:
    bad = out_of_key(chords, key)
    if bad:
        warn(f"chords {', '.join(bad)} have notes outside {key.name}: those notes are left out (use --chromatic)")


def main(argv: list[str] | None = None) -> int:
    from models.generator.pop909 import CACHE

    ap = argparse.ArgumentParser(description="Build the chord n-gram table from POP909's training split.")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, default=TABLE)
    a = ap.parse_args(argv)
    from engine.files import atomic_path

    table = build_table(a.cache)
    doc = {"source": "POP909 chord_midi.txt, training split (models/data/split.json)", "counts": table}
    with atomic_path(a.out, make_folders=True) as tmp:
        tmp.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True))
    print(f"{len(table)} contexts -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
