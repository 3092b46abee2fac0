"""Messages the engine reports (render thread -> whoever polls)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Position:
    """The timeline frame being heard now (-1 while stopped) and whether the transport runs."""

    frame: int
    playing: bool


@dataclass(frozen=True)
class Meters:
    """Peak and RMS per strip (tracks, buses, master) and channel, linear, since the previous Meters."""

    peak: np.ndarray
    rms: np.ndarray


@dataclass(frozen=True)
class Analyser:
    """The analysed strip's latest output, oldest sample first: (ANALYSER_FRAMES,) mono float32."""

    strip: int
    samples: np.ndarray


@dataclass(frozen=True)
class XRun:
    """The device ran dry (total count since the engine started)."""

    total: int


@dataclass(frozen=True)
class PluginError:
    """A plugin raised or output NaN/inf and was bypassed (until the graph is rebuilt): the strip's name,
    the slot in its chain, and why."""

    strip: str
    slot: int
    message: str


@dataclass(frozen=True)
class DeviceLost:
    """The output stream stopped on its own (the device vanished, or its server died); the engine keeps its
    transport and graph, and ``Engine.restart`` goes on, on this device or another."""

    message: str


@dataclass(frozen=True)
class CommandError:
    """A command could not be applied (bad index or parameter); nothing changed."""

    message: str


Event = Position | Meters | Analyser | XRun | PluginError | DeviceLost | CommandError
