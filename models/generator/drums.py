"""The drum part: a groove arranger that follows the form (General MIDI drums, channel 10).

POP909 has no drums, so this part is arranged, not learned: each section letter gets one groove (the same
pattern in same-letter sections), chosen by the section's energy (intro, outro and instrumental sections
lighter; later melody sections, usually choruses, fuller) and by tempo (16th hi-hats at slow tempi, 8ths
at fast ones); phrase ends get a kick pickup, section ends a fill, section starts a crash, and the piece
ends on a crash. Velocities carry accents (downbeats, backbeats) and a small seeded humanisation.
"""

from __future__ import annotations

import numpy as np

from models.generator.codec import STEPS_PER_BAR, Notes
from models.generator.conditions import Layout

DRUM_CHANNEL = 9
KICK, SIDE_STICK, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 36, 37, 38, 39, 42, 44, 46
TOM_LOW, TOM_MID, TOM_HIGH, CRASH, RIDE = 45, 47, 50, 49, 51

# Grooves: per instrument a 16-step string ("X" accent, "x" hit, "." rest), lightest first.
GROOVES: list[dict[int, str]] = [
    {KICK: "x.......x.......", SIDE_STICK: "....x.......x...", CLOSED_HAT: "x...x...x...x..."},  # light
    {KICK: "x.........x.....", SNARE: "........X.......", CLOSED_HAT: "x.x.x.x.x.x.x.x."},  # half time
    {KICK: "x.......x.x.....", SNARE: "....X.......X...", CLOSED_HAT: "x.x.x.x.x.x.x.x."},  # straight 8ths
    {KICK: "x......x..x.....", SNARE: "....X.......X...", RIDE: "x.x.x.x.x.x.x.x."},  # ride
    {KICK: "x.....x...x.....", SNARE: "....X.......X...", CLOSED_HAT: "xxxxxxxxxxxxxxxx"},  # 16ths
    {KICK: "x...x...x...x...", CLAP: "....X.......X...", OPEN_HAT: "..x...x...x...x."},  # four on the floor
]
FILLS = [
    {SNARE: "............xxxx"},
    {SNARE: "........x.x.xxxx", TOM_MID: "................"},
    {TOM_HIGH: "............xx..", TOM_LOW: "..............xx"},
    {SNARE: "........xx..xx..", TOM_LOW: "..........xx..xx"},
]


def drum_part(layout: Layout, tempo: float, seed: int = 0, density: float = 1.0) -> Notes:
    """The drum notes of a piece with this form (start, duration, GM drum key, velocity; in 16th steps).

    ``density`` 0 gives no drums; below 1 lighter grooves, above 1 busier ones.
    """
    if density <= 0 or layout.bars == 0:
        return Notes.empty()
    rng = np.random.default_rng([seed, 10])
    rows: list[tuple[int, int, int, int]] = []
    groove_of: dict[str, dict[int, str]] = {}
    fill_of: dict[str, dict[int, str]] = {}
    n_sec = int(layout.section.max()) + 1
    for k in range(n_sec):
        letter = layout.letters[k]
        if letter not in groove_of:
            level = layout.energy(k) + round((density - 1.0) * 2)
            choices = {0: [0], 1: [0, 1], 2: [1, 2, 3], 3: [2, 3, 4, 5]}[int(np.clip(level, 0, 3))]
            g = dict(GROOVES[int(rng.choice(choices))])
            if tempo < 85 and CLOSED_HAT in g and level >= 2:
                g[CLOSED_HAT] = "x" * 16  # slow songs: 16th hats keep the pulse
            elif tempo > 135 and CLOSED_HAT in g:
                g[CLOSED_HAT] = "x.x.x.x.x.x.x.x." if level >= 2 else g[CLOSED_HAT]
            groove_of[letter] = g
            fill_of[letter] = FILLS[int(rng.integers(len(FILLS)))]
        groove, fill = groove_of[letter], fill_of[letter]
        bars = layout.section_bars(k)
        for j, bar in enumerate(bars.tolist()):
            base = bar * STEPS_PER_BAR
            last_of_section = j == bars.shape[0] - 1
            last_of_piece = bar == layout.bars - 1
            pattern = dict(groove)
            if last_of_section and not last_of_piece and bars.shape[0] >= 2:
                pattern = {i: p[:8] + "." * 8 for i, p in groove.items()}  # the groove stops for the fill
                for inst, fp in fill.items():
                    pattern[inst] = pattern.get(inst, "." * 16)[:8] + fp[8:]
            elif j % 4 == 3 and KICK in pattern:
                pattern[KICK] = pattern[KICK][:14] + "x."  # a pickup into the next phrase
            if (j == 0 and bar > 0) or last_of_piece:
                rows.append((base, 4, CRASH, 100))
            if last_of_piece:
                rows.append((base, 4, KICK, 105))
                continue
            for inst, pat in pattern.items():
                for s, ch in enumerate(pat):
                    if ch == ".":
                        continue
                    accent = ch == "X" or s % 4 == 0
                    vel = (100 if accent else 72) + (8 if s == 0 else 0) + int(rng.integers(-6, 7))
                    if inst in (CLOSED_HAT, RIDE, OPEN_HAT, PEDAL_HAT):
                        vel -= 14 if s % 2 else 4
                    rows.append((base + s, 1, inst, int(np.clip(vel, 1, 127))))
    rows.sort()
    return Notes.from_rows(rows)
