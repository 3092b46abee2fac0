"""Finding a General MIDI SoundFont on the system."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import UserError

# Debian's fluid-soundfont-gm first (the best of the free GM sets), then other common places.
CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM_mono.sf2",
    "/usr/local/share/soundfonts/default.sf2",
)


def find_soundfont(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The SoundFont to use: ``explicit``, else ``$REFRAIN_SOUNDFONT``, else the first system one.

    Raises UserError with install advice when none exists.
    """
    for cand in (explicit, os.environ.get("REFRAIN_SOUNDFONT")):
        if cand:
            p = Path(cand)
            if not p.is_file():
                raise UserError(f"SoundFont not found: {p}")
            return p
    for c in CANDIDATES:
        if Path(c).is_file():
            return Path(c)
    raise UserError(
        "no General MIDI SoundFont found: install one (Debian: apt-get install fluid-soundfont-gm) "
        "or set REFRAIN_SOUNDFONT=/path/to/file.sf2"
    )
