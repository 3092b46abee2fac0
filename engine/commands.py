"""Messages sent to the engine (any thread -> render thread). Strips are addressed by index:
tracks first, then buses, then the master (which is also index -1). Slot -1 is the strip's fader."""

from __future__ import annotations

from dataclasses import dataclass

from engine.graph import Graph


@dataclass(frozen=True)
class Play:
    """Start (or continue) at the current position; plugin state starts fresh there."""


@dataclass(frozen=True)
class Pause:
    """Stop where we are; the position is kept."""


@dataclass(frozen=True)
class Stop:
    """Stop and return to the start of the timeline."""


@dataclass(frozen=True)
class Seek:
    """Jump to a timeline frame (clamped at 0); MIDI program and controller state in force there is resent."""

    frame: int


@dataclass(frozen=True)
class SetLoop:
    """Loop ``[start, end)`` while playing; ``end`` None turns looping off."""

    start: int = 0
    end: int | None = None


@dataclass(frozen=True)
class SetParam:
    """Move a parameter's target (continuous ones glide there); ``slot`` -1 is the strip's fader."""

    strip: int
    slot: int
    name: str
    value: float


@dataclass(frozen=True)
class SetBypass:
    """Bypass a plugin (or bring it back); a latent plugin's dry path keeps its delay, so nothing shifts."""

    strip: int
    slot: int
    bypass: bool


@dataclass(frozen=True)
class SetStrip:
    """Mute or solo a strip (``None`` leaves that flag as it is); the fader ramps, so it never clicks."""

    strip: int
    mute: bool | None = None
    solo: bool | None = None


@dataclass(frozen=True)
class SetAnalyser:
    """Keep the last ANALYSER_FRAMES of one strip's output (post-fader, mono) for the spectrum analyser:
    ``strip`` as in SetParam (-1: the master), or None for none."""

    strip: int | None


@dataclass(frozen=True)
class ReplaceGraph:
    """Swap in a graph that was built and prepared elsewhere; the old one is retired, not freed here."""

    graph: Graph


Command = Play | Pause | Stop | Seek | SetLoop | SetParam | SetBypass | SetStrip | SetAnalyser | ReplaceGraph
