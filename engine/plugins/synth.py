"""General MIDI synthesiser instrument on fluidsynth, rendering float samples straight into the block."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.plugin import MidiEvent, Param, Plugin
from engine.soundfont import find_soundfont

_FUNCS: dict[str, Any] = {}
_VP, _INT = ctypes.c_void_p, ctypes.c_int
_SIGNATURES: dict[str, list[Any]] = {
    "fluid_synth_write_float": [_VP, _INT, _VP, _INT, _INT, _VP, _INT, _INT],
    "fluid_synth_set_gain": [_VP, ctypes.c_float],
    "fluid_synth_reverb_on": [_VP, _INT, _INT],
    "fluid_synth_chorus_on": [_VP, _INT, _INT],
}


def _fl(name: str) -> Any:
    """A libfluidsynth function pyfluidsynth does not wrap (float output, gain, effect switches)."""
    fn = _FUNCS.get(name)
    if fn is None:
        import fluidsynth

        fn = getattr(fluidsynth._fl, name)
        fn.argtypes = _SIGNATURES[name]
        fn.restype = None
        _FUNCS[name] = fn
    return fn


def select_gm_defaults(synth: Any, sfid: int) -> None:
    """Piano on every channel, the drum kit (bank 128) on channel 10."""
    for ch in range(16):
        synth.program_select(ch, sfid, 128 if ch == 9 else 0, 0)


def send_midi(synth: Any, status: int, data1: int, data2: int) -> None:
    """Play one short MIDI message on a pyfluidsynth ``Synth``; other message kinds are ignored."""
    kind, ch = status & 0xF0, status & 0x0F
    if kind == 0x90 and data2 > 0:
        synth.noteon(ch, data1, data2)
    elif kind == 0x80 or kind == 0x90:
        synth.noteoff(ch, data1)
    elif kind == 0xB0:
        synth.cc(ch, data1, data2)
    elif kind == 0xC0:
        synth.program_change(ch, data1)
    elif kind == 0xE0:
        synth.pitch_bend(ch, (data1 | (data2 << 7)) - 8192)


class FluidSynthGM(Plugin):
    """A GM synth for MIDI tracks. Events land on fluidsynth's timeline at their exact frame."""

    kind = "fluidsynth"
    is_instrument = True

    def __init__(self, soundfont: str | os.PathLike[str] | None = None) -> None:
        super().__init__(
            [
                Param("gain", 0.0, 2.0, 0.5),
                Param("reverb", 0.0, 1.0, 1.0, kind="bool"),
                Param("chorus", 0.0, 1.0, 1.0, kind="bool"),
            ]
        )
        self.soundfont = str(find_soundfont(soundfont))
        self._option_soundfont = None if soundfont is None else os.fspath(soundfont)
        self._synth: Any = None
        self._sfid = -1

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        import fluidsynth

        self.close()
        self._synth = fluidsynth.Synth(gain=0.5, samplerate=float(sample_rate))
        self._sfid = self._synth.sfload(self.soundfont)
        if self._sfid < 0:
            self.close()
            raise UserError(f"cannot load SoundFont {self.soundfont}")
        self._program_defaults()
        super().prepare(sample_rate, max_block, channels)

    def _program_defaults(self) -> None:
        select_gm_defaults(self._synth, self._sfid)

    def _apply(self, values: dict[str, float]) -> None:
        if self._synth is None:
            return
        handle = self._synth.synth
        _fl("fluid_synth_set_gain")(handle, values["gain"])
        _fl("fluid_synth_reverb_on")(handle, -1, int(values["reverb"]))
        _fl("fluid_synth_chorus_on")(handle, -1, int(values["chorus"]))

    def reset(self) -> None:
        """All sound off and every channel back to its GM default (also clears reverb and chorus)."""
        self._synth.system_reset()
        self._program_defaults()

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        n = buf.shape[1]
        done = 0
        for ev in events:
            if ev.offset > done:
                self._render(buf, done, ev.offset)
                done = ev.offset
            send_midi(self._synth, ev.status, ev.data1, ev.data2)
        if done < n:
            self._render(buf, done, n)
        if buf.shape[0] > 2:
            buf[2:] = 0.0

    def _render(self, buf: np.ndarray, start: int, stop: int) -> None:
        left = buf[0, start:stop]
        right = buf[1 if buf.shape[0] > 1 else 0, start:stop]
        if buf.shape[0] == 1:
            # Mono track: render stereo into scratch and average.
            tmp = np.zeros((2, stop - start), dtype=np.float32)
            self._render(tmp, 0, stop - start)
            buf[0, start:stop] = tmp.mean(axis=0)
            return
        assert left.flags.c_contiguous and right.flags.c_contiguous
        _fl("fluid_synth_write_float")(self._synth.synth, stop - start, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)

    def close(self) -> None:
        if self._synth is not None:
            self._synth.delete()
            self._synth = None

    def state(self) -> dict[str, Any]:
        st = super().state()
        if self._option_soundfont is not None:
            st["options"] = {"soundfont": self._option_soundfont}
        return st
