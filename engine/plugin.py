"""The plugin contract every processor in the graph follows.

A plugin is prepared once for a sample rate, a maximum block and a channel count, then processes
``(channels, frames)`` float32 blocks in place. Parameters are typed, have ranges and defaults, and
continuous ones are smoothed so a change never clicks: ``set_param`` only moves a target, and the
host calls ``advance(frames)`` before each block to glide the current values towards it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np

from engine.errors import UserError

ParamKind = Literal["float", "int", "bool", "choice"]
SMOOTHING_SECONDS = 0.02  # time constant of the parameter glide: short enough to feel instant, long enough not to click


class MidiEvent(NamedTuple):
    """A short MIDI message at a frame offset inside the current block."""

    offset: int
    status: int
    data1: int
    data2: int


@dataclass(frozen=True)
class Param:
    """A typed plugin parameter. ``choice`` parameters hold the index into ``choices``."""

    name: str
    minimum: float
    maximum: float
    default: float
    unit: str = ""
    kind: ParamKind = "float"
    choices: tuple[str, ...] = ()
    log: bool = False

    def clamp(self, value: float) -> float:
        """Return ``value`` limited to the range (rounded for stepped kinds); NaN is rejected."""
        v = float(value)
        if math.isnan(v):
            raise UserError(f"parameter {self.name!r}: NaN is not a value")
        v = min(max(v, self.minimum), self.maximum)
        if self.kind != "float":
            v = float(round(v))
        return v

    @property
    def smoothed(self) -> bool:
        return self.kind == "float"


@dataclass
class _Smoother:
    current: float
    target: float
    moving: bool = field(default=False)


class Plugin(ABC):
    """Base class of every processor: built-ins, instruments, the clip player and hosted LV2/VST3 plugins."""

    kind: ClassVar[str] = ""
    is_instrument: ClassVar[bool] = False

    def __init__(self, params: Sequence[Param]) -> None:
        self.params: tuple[Param, ...] = tuple(params)
        self._by_name = {p.name: p for p in self.params}
        self._values = {p.name: _Smoother(p.default, p.default) for p in self.params}
        self._gliding = False  # some smoothed parameter is moving (kept so idle blocks cost no loop)
        self.sample_rate = 0
        self.max_block = 0
        self.channels = 0

    # -- lifecycle -------------------------------------------------------------------------
    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        """Allocate for this rate, largest block and channel count; parameters jump to their targets."""
        self.sample_rate, self.max_block, self.channels = sample_rate, max_block, channels
        for s in self._values.values():
            s.current, s.moving = s.target, False
        self._gliding = False
        self._apply(self.values())

    @abstractmethod
    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        """Process ``buf`` (channels, frames) in place. Instruments overwrite it from ``events``."""

    def reset(self) -> None:  # noqa: B027 - stateless plugins need nothing
        """Forget internal state (tails, envelopes, sounding notes) without reallocating."""

    @property
    def latency(self) -> int:
        """Frames of delay the plugin adds; the graph compensates it across tracks."""
        return 0

    def close(self) -> None:  # noqa: B027 - most plugins hold no native resources
        """Free native resources; the plugin is not used again."""

    # -- parameters ------------------------------------------------------------------------
    def param(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise UserError(f"{self.kind}: no parameter {name!r} (known: {known})") from None

    def set_param(self, name: str, value: float) -> None:
        """Move the parameter's target; stepped parameters (bool, int, choice) change at the next block."""
        p = self.param(name)
        s = self._values[name]
        s.target = p.clamp(value)
        if not p.smoothed or self.sample_rate == 0:
            s.current = s.target
            if self.sample_rate:
                self._apply(self.values())
        else:
            s.moving = s.current != s.target
            self._gliding = self._gliding or s.moving

    def get_param(self, name: str) -> float:
        """The target value (what the user set), not the momentary smoothed one."""
        self.param(name)
        return self._values[name].target

    @property
    def gliding(self) -> bool:
        """Whether a smoothed parameter is still on its way to its target."""
        return self._gliding

    def values(self) -> dict[str, float]:
        """The current (smoothed) values."""
        return {k: s.current for k, s in self._values.items()}

    def advance(self, frames: int) -> None:
        """Glide smoothed parameters by ``frames``; calls ``_apply`` when something moved."""
        if not self._gliding:
            return
        moved = False
        k = math.exp(-frames / (SMOOTHING_SECONDS * max(self.sample_rate, 1)))
        for name, s in self._values.items():
            if not s.moving:
                continue
            span = self._by_name[name].maximum - self._by_name[name].minimum
            s.current = s.target + (s.current - s.target) * k
            if abs(s.current - s.target) <= 1e-4 * max(span, 1e-9):
                s.current, s.moving = s.target, False
            moved = True
        self._gliding = any(s.moving for s in self._values.values())
        if moved:
            self._apply(self.values())

    def settle(self) -> None:
        """Jump every parameter to its target: playback and bounces start at the set values, never with a
        glide from earlier ones."""
        moved = False
        for s in self._values.values():
            if s.moving or s.current != s.target:
                s.current, s.moving = s.target, False
                moved = True
        self._gliding = False
        if moved and self.sample_rate:
            self._apply(self.values())

    def _apply(self, values: dict[str, float]) -> None:  # noqa: B027 - plugins that read values lazily
        """Push parameter values into the DSP (called at prepare and whenever they change)."""

    def state(self) -> dict[str, Any]:
        """What a project stores: the kind, options and parameter targets."""
        return {"plugin": self.kind, "params": {p.name: self.get_param(p.name) for p in self.params}}
