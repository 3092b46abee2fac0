"""SSM templates: the form of a piece as a bars x bars similarity matrix (the API the app calls)."""

from __future__ import annotations

import os

import numpy as np

from engine.errors import UserError
from models.structure.matrix import (
    load_template_file,
    resample_template,
    save_template_file,
    ssm_from_features,
    validate_template,
)
from models.structure.presets import DESCRIPTIONS, preset_names, preset_template
from models.structure.strings import (
    MAX_BARS,
    Section,
    bar_labels,
    check_bar_count,
    parse_structure,
    similar_pairs,
    template_from_structure,
)
from models.structure.tracks import template_from_track

__all__ = [
    "DESCRIPTIONS",
    "MAX_BARS",
    "Section",
    "bar_labels",
    "check_bar_count",
    "load_template_file",
    "parse_structure",
    "preset_names",
    "preset_template",
    "resample_template",
    "resolve_template",
    "save_template_file",
    "similar_pairs",
    "ssm_from_features",
    "template_from_structure",
    "template_from_track",
    "validate_template",
]


def resolve_template(
    structure: str | None = None,
    preset: str | None = None,
    template_file: str | os.PathLike[str] | None = None,
    from_track: str | os.PathLike[str] | None = None,
    bars: int | None = None,
) -> tuple[np.ndarray, list[Section] | None]:
    """One template from exactly one source, resampled to ``bars`` when given.

    Returns the matrix and, for structure strings and string presets, the sections (for labels).
    """
    given = [x is not None for x in (structure, preset, template_file, from_track)]
    if sum(given) != 1:
        raise UserError("give exactly one of: a structure string, a preset, a template file, a track")
    sections: list[Section] | None = None
    if structure is not None:
        sections = parse_structure(structure)
        t = template_from_structure(sections)
    elif preset is not None:
        t = preset_template(preset)
        from models.structure.presets import PRESET_STRINGS

        sections = parse_structure(PRESET_STRINGS[preset.strip().lower()])
    elif template_file is not None:
        t = load_template_file(template_file)
    else:
        assert from_track is not None
        t = template_from_track(from_track)
    if bars is not None:
        check_bar_count(bars)
        if bars != t.shape[0]:
            if sections is not None:  # scale the sections, so roles and section ends survive
                sections = scale_sections(sections, bars)
                t = template_from_structure(sections)
            else:
                t = resample_template(t, bars)
    return t, sections


def scale_sections(sections: list[Section], bars: int) -> list[Section]:
    """The same sections in ``bars`` bars in all, each at least one bar (lengths rounded, sum kept)."""
    total = sum(s.bars for s in sections)
    if bars < len(sections):
        raise UserError(f"{bars} bars cannot hold the form's {len(sections)} sections")
    ends = [round(bars * sum(s.bars for s in sections[: k + 1]) / total) for k in range(len(sections))]
    out, prev = [], 0
    for k, s in enumerate(sections):
        end = max(ends[k], prev + 1)
        end = min(end, bars - (len(sections) - 1 - k))
        out.append(Section(s.letter, end - prev))
        prev = end
    return out
