"""Named form presets. Most are structure strings; theme-and-variations is a matrix of its own."""

from __future__ import annotations

import numpy as np

from engine.errors import UserError
from models.structure.strings import parse_structure, similar_pairs, template_from_structure

PRESET_STRINGS: dict[str, str] = {
    "aaba": "A8A8B8A8",
    "abab": "A8B8A8B8",
    "verse-chorus": "i4A8B8A8B8b4B8o4",
    "rondo": "A8B8A8C8A8",
    "theme-variations": "A8A8A8A8",
    "pop-song": "i4A8A8B8b4A8B8X4B8o4",
    "twelve-bar": "A4A4A4",
    "through-composed": "x32",
}
DESCRIPTIONS: dict[str, str] = {
    "aaba": "32-bar song form: theme, repeat, bridge, theme",
    "abab": "two alternating sections",
    "verse-chorus": "intro, verse, chorus, verse, chorus, instrumental, chorus, outro",
    "rondo": "a refrain returning between two episodes",
    "theme-variations": "a theme and three looser variations of it",
    "pop-song": "intro, two verses, chorus, interlude, verse, chorus, bridge, chorus, outro",
    "twelve-bar": "three four-bar phrases over the same material",
    "through-composed": "32 bars with no repeats",
}
VARIATION_SIMILARITY = 0.62  # partial similarity: the attention mixes the theme with new material


def preset_names() -> list[str]:
    return list(PRESET_STRINGS)


def preset_template(name: str) -> np.ndarray:
    """The template of a preset; raise UserError listing the presets for an unknown name."""
    key = name.strip().lower()
    if key not in PRESET_STRINGS:
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(PRESET_STRINGS)}")
    if key == "theme-variations":
        sections = parse_structure(PRESET_STRINGS[key])
        t = similar_pairs(sections).astype(np.float32) * VARIATION_SIMILARITY
        np.fill_diagonal(t, 1.0)
        return t
    return template_from_structure(PRESET_STRINGS[key])
