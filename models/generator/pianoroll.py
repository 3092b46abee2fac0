"""Piano-roll pictures of pieces, stacked one above the other, to look at what a model writes beside real
songs: melody red, accompaniment blue, bass green, drums grey; bar lines every bar, section starts bold.

    python -m models.generator.pianoroll docs/pianoroll.png --midi p.mid --pop909 001 --bars 32
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from models.generator.codec import STEPS_PER_BAR, Notes

COLOURS = {"melody": (214, 39, 40), "acc": (31, 119, 180), "bass": (44, 160, 44), "drums": (150, 150, 150)}
LO, HI = 24, 96  # pitch range drawn


def draw_rolls(
    rolls: list[tuple[str, dict[str, Notes], list[int]]], path: Path, bars: int, step_px: int = 3, pitch_px: int = 3
) -> None:
    """One roll per (title, parts, section-start bars); ``bars`` bars each; written as PNG at ``path``."""
    width = bars * STEPS_PER_BAR * step_px + 20
    roll_h = (HI - LO) * pitch_px
    title_h = 16
    img = Image.new("RGB", (width, len(rolls) * (roll_h + title_h + 8)), "white")
    d = ImageDraw.Draw(img)
    for r, (title, parts, starts) in enumerate(rolls):
        top = r * (roll_h + title_h + 8) + title_h
        d.text((4, top - title_h + 2), title, fill=(0, 0, 0))
        for b in range(bars + 1):
            x = 10 + b * STEPS_PER_BAR * step_px
            d.line([(x, top), (x, top + roll_h)], fill=(60, 60, 60) if b in starts else (225, 225, 225),
                   width=2 if b in starts else 1)  # fmt: skip
        for name in ("acc", "bass", "drums", "melody"):
            n = parts.get(name)
            if n is None:
                continue
            for s, dur, p, _ in n.rows():
                if s >= bars * STEPS_PER_BAR:
                    continue
                pitch = 30 + (p - 35) // 2 if name == "drums" else p  # drums in a band of their own
                if not LO <= pitch < HI:
                    continue
                x0 = 10 + s * step_px
                x1 = 10 + min(s + dur, bars * STEPS_PER_BAR) * step_px - 1
                y = top + (HI - 1 - pitch) * pitch_px
                d.rectangle([x0, y, max(x0, x1), y + pitch_px - 1], fill=COLOURS[name])
    img.save(path)


def main(argv: list[str] | None = None) -> int:
    from models.data.pop909 import data_root
    from models.generator.conditions import layout_from_sections
    from models.generator.midi import read_midi
    from models.generator.pop909 import Song, load_song
    from models.structure import parse_structure

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--midi", type=Path, action="append", default=[], help="a generated MIDI file")
    ap.add_argument("--pop909", action="append", default=[], help="a POP909 song id (the real song)")
    ap.add_argument("--bars", type=int, default=32)
    a = ap.parse_args(argv)
    rolls: list[tuple[str, dict[str, Notes], list[int]]] = []
    for m in a.midi:
        piece = read_midi(m)
        rolls.append((f"generated: {m.name}", piece.parts(), [b for b, _ in piece.sections] or [0]))
    for sid in a.pop909:
        song = load_song(sid, data_root())
        if not isinstance(song, Song):
            raise SystemExit(f"POP909 song {sid}: {song}")
        lay = layout_from_sections(parse_structure(song.labels[0]))
        starts = [int(lay.section_bars(k)[0]) for k in range(len(lay.letters))]
        parts = {"melody": song.melody, "acc": song.accomp, "bass": song.bass}
        rolls.append((f"real: POP909 {sid} ({song.labels[0]})", parts, starts))
    draw_rolls(rolls, a.out, a.bars)
    print(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
