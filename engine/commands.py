"""Messages sent to the engine (any thread -> render thread). Strips are addressed by index:
tracks first, then buses, then the master (which is also index -1). Slot -1 is the strip's fader."""

from __future__ import annotations

from dataclasses import dataclass

from engine.graph import Graph


@dataclass(frozen=True)
class Play:
    pass


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Stop:
    """Stop and return to the start of the timeline."""


@dataclass(frozen=True)
class Seek:
    frame: int


@dataclass(frozen=True)
class SetLoop:
    """Loop ``[start, end)`` while playing; ``end`` None turns looping off."""

    start: int = 0
    end: int | None = None


@dataclass(frozen=True)
class SetParam:
    strip: int
    slot: int
    name: str
    value: float


@dataclass(frozen=True)
class SetBypass:
    strip: int
    slot: int
    bypass: bool


@dataclass(frozen=True)
class SetStrip:
    strip: int
    mute: bool | None = None
    solo: bool | None = None


@dataclass(frozen=True)
class ReplaceGraph:
    """Swap in a graph that was built and prepared elsewhere; the old one is retired, not freed here."""

    graph: Graph


Command = Play | Pause | Stop | Seek | SetLoop | SetParam | SetBypass | SetStrip | ReplaceGraph
