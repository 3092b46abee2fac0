"""VST3 effects through ``pedalboard.load_plugin``.

Parameters are exposed as the plugin's normalised (0..1) raw values, which every VST3 parameter has,
so automation and saved projects do not depend on each plugin's display units. Debian ships no VST3
plugins, so only the loading errors are exercised by the test suite; see the engine's closing note.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.plugin import MidiEvent, Param, ParamKind, Plugin
from engine.plugins.builtin import prime_board


class Vst3Plugin(Plugin):
    kind = "vst3"

    def __init__(self, path: str) -> None:
        import importlib

        pedalboard: Any = importlib.import_module("pedalboard")
        if not os.path.exists(path):
            raise UserError(f"no such VST3 plugin: {path}")
        if not path.rstrip("/").lower().endswith(".vst3"):
            raise UserError(f"not a VST3 plugin (expected a .vst3 bundle): {path}")
        try:
            self._pb: Any = pedalboard.load_plugin(path)
        except Exception as exc:  # pedalboard raises ImportError/RuntimeError with JUCE's message
            raise UserError(f"cannot load VST3 plugin {path}: {str(exc).splitlines()[0]}") from exc
        if getattr(self._pb, "is_instrument", False):
            self._pb = None
            raise UserError(f"{path} is an instrument; Refrain hosts VST3 effects only")
        self.path = path
        self._names = list(self._pb.parameters)
        params = []
        for name in self._names:
            p = self._pb.parameters[name]
            boolean = bool(getattr(p, "is_boolean", False)) or int(getattr(p, "num_steps", 0) or 0) == 2
            kind: ParamKind = "bool" if boolean else "float"
            params.append(Param(name, 0.0, 1.0, float(p.raw_value), unit=str(getattr(p, "label", "")), kind=kind))
        super().__init__(params)

    @property
    def latency(self) -> int:
        return int(getattr(self._pb, "reported_latency_samples", 0) or 0)

    def _apply(self, values: dict[str, float]) -> None:
        for name in self._names:
            self._pb.parameters[name].raw_value = values[name]

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        super().prepare(sample_rate, max_block, channels)
        prime_board(self._pb, channels, max_block, sample_rate)

    def reset(self) -> None:
        self._pb.reset()
        prime_board(self._pb, self.channels, self.max_block, self.sample_rate)

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        buf[...] = self._pb.process(buf, float(self.sample_rate), reset=False)

    def state(self) -> dict[str, Any]:
        return {**super().state(), "options": {"path": self.path}}
