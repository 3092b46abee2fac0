"""Built-in processors: the gain/pan fader and effects on pedalboard's DSP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from engine.plugin import MidiEvent, Param, Plugin


def pedalboard_module() -> Any:
    import importlib

    return importlib.import_module("pedalboard")  # typed as Any: its stubs do not export every class


def prime_board(board: Any, channels: int, max_block: int, sample_rate: int) -> None:
    """Run a pedalboard processor once on ``max_block`` frames of silence. Pedalboard sizes its DSP to the
    largest block it has seen and prepares it again, dropping its state (delay lines, reverb tails,
    envelopes), when a larger one comes; a chain that glides in short pieces before its first full block
    would lose its state there. Silence leaves the state as fresh as it was."""
    board.process(np.zeros((channels, max_block), np.float32), float(sample_rate), reset=False)


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


class _BlockRamp(Plugin):
    """A plugin whose setting ``_target`` ramps from ``_prev`` across the next block; prepare and reset start
    it settled."""

    _prev: Any  # a gain pair for GainPan, a width for StereoWidth
    _target: Any

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        super().prepare(sample_rate, max_block, channels)
        self._prev = self._target

    def reset(self) -> None:
        self._prev = self._target


class GainPan(_BlockRamp):
    """Gain and balance pan. Centre leaves a stereo signal unchanged; changes ramp per sample."""

    kind = "gain"

    def __init__(self) -> None:
        super().__init__(
            [
                Param("gain_db", -60.0, 24.0, 0.0, "dB"),
                Param("pan", -1.0, 1.0, 0.0),
            ]
        )
        self._mute = 1.0
        self._prev: np.ndarray = np.ones(2, dtype=np.float32)
        self._target: np.ndarray = np.ones(2, dtype=np.float32)
        self._unity = True

    def set_mute(self, muted: bool) -> None:
        """Silence (or restore) the output with the same click-free ramp as gain changes."""
        mute = 0.0 if muted else 1.0
        if mute != self._mute:
            self._mute = mute
            self._set_target(self.values())

    def _apply(self, values: dict[str, float]) -> None:
        self._set_target(values)  # the per-channel gains change only when a value moves, not every block

    def _set_target(self, v: dict[str, float]) -> None:
        g = db_to_gain(v["gain_db"]) * self._mute
        pan = v["pan"]
        self._target = np.array([g * (1.0 - max(pan, 0.0)), g * (1.0 + min(pan, 0.0))], dtype=np.float32)
        self._unity = bool(np.all(self._target == 1.0))

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        target = self._target
        channels = buf.shape[0]
        if target is self._prev:  # steady (the common case): no comparison, no ramp
            if not self._unity:
                buf *= target[:channels, None]
            return
        gains, prev = target[:channels], self._prev[:channels]
        if np.array_equal(gains, prev):
            if not np.all(gains == 1.0):
                buf *= gains[:, None]
        else:
            n = buf.shape[1]
            ramp = np.arange(1, n + 1, dtype=np.float32) / n
            buf *= prev[:, None] + (gains - prev)[:, None] * ramp[None, :]
        self._prev = target


class StereoWidth(_BlockRamp):
    """Mid/side stereo width: the side signal ``(L - R) / 2`` scaled by ``width`` (0 mono, 1 unchanged, 2 twice
    as wide), the mid ``(L + R) / 2`` untouched, so a mix's tone and mono sum stay as they were. A mono
    buffer passes unchanged. A change ramps across the block (on top of the parameter glide), so it never
    clicks."""

    kind = "width"
    PARAMS = (Param("width", 0.0, 2.0, 1.0),)

    def __init__(self) -> None:
        super().__init__(self.PARAMS)
        self._prev = 1.0
        self._target = 1.0

    def _apply(self, values: dict[str, float]) -> None:
        self._target = values["width"]

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        w0, w1 = self._prev, self._target
        self._prev = w1
        if buf.shape[0] != 2 or w0 == w1 == 1.0:
            return
        mid = 0.5 * (buf[0] + buf[1])
        side = 0.5 * (buf[0] - buf[1])
        if w0 == w1:
            side *= np.float32(w1)
        else:
            n = buf.shape[1]
            side *= (w0 + (w1 - w0) * np.arange(1, n + 1, dtype=np.float32) / n).astype(np.float32)
        buf[0] = mid + side
        buf[1] = mid - side


class PedalboardEffect(Plugin):
    """A processor backed by a pedalboard DSP object, streamed with ``reset=False``."""

    PARAMS: ClassVar[tuple[Param, ...]] = ()
    BOARD: ClassVar[str] = ""  # a single pedalboard processor by class name; chains override _build

    def __init__(self) -> None:
        super().__init__(self.PARAMS)
        self._board: Any = None

    def _build(self) -> Any:
        return getattr(pedalboard_module(), self.BOARD)()

    @property
    def board(self) -> Any:
        """The pedalboard processor (after ``prepare``): a chain may run several of them in one native call."""
        return self._board

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        self._board = self._build()
        super().prepare(sample_rate, max_block, channels)
        prime_board(self._board, channels, max_block, sample_rate)

    def reset(self) -> None:
        self._board.reset()  # pedalboard prepares again on the next call: at the largest block, not a piece
        prime_board(self._board, self.channels, self.max_block, self.sample_rate)

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        buf[...] = self._board.process(buf, float(self.sample_rate), reset=False)

    def _nyquist_safe(self, hz: float) -> float:
        return min(hz, 0.45 * self.sample_rate)


class _NativeEffect(Plugin):
    """A built-in effect whose DSP is an :mod:`engine.dsp` kernel over parameter and state arrays it owns.
    The graph may ``bind`` them to rows of its own arrays, to run many strips in one call
    (:meth:`engine.graph.Graph`); the plugin then keeps using the same memory, so either path continues the
    other's state."""

    PARAMS: ClassVar[tuple[Param, ...]] = ()

    def __init__(self) -> None:
        super().__init__(self.PARAMS)
        # allocated in prepare: making the arrays imports (and may compile) the kernels, which an editor
        # listing the parameters or a project being read must not pay for
        self.dsp_params = self.dsp_state = np.zeros(0, np.float32)
        self._bound = False

    def _arrays(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _load_kernel(self) -> Any:
        """The :mod:`engine.dsp` kernel ``(block, params, state)``; importing it compiles the kernels (or
        loads them from numba's cache), so it happens in ``prepare``, off the render thread."""
        raise NotImplementedError

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        self._kernel = self._load_kernel()
        params, state = self._arrays(channels)
        if self._bound and self.dsp_params.shape == params.shape and self.dsp_state.shape == state.shape:
            self.dsp_state[...] = 0.0  # stay in the rows bind() gave: the graph's batched call reads them
        else:
            self.dsp_params, self.dsp_state = params, state
            self._bound = False
        super().prepare(sample_rate, max_block, channels)

    def process(self, buf: np.ndarray, events: Sequence[MidiEvent] = ()) -> None:
        self._kernel(buf, self.dsp_params, self.dsp_state)

    def reset(self) -> None:
        self.dsp_state[...] = 0.0

    def bind(self, params: np.ndarray, state: np.ndarray) -> None:
        """Move the DSP's parameters and state into ``params`` and ``state`` (views of the caller's arrays,
        of the same shapes) and use them from now on, a later ``prepare`` included (it zeroes the state in
        place)."""
        params[...] = self.dsp_params
        state[...] = self.dsp_state
        self.dsp_params, self.dsp_state = params, state
        self._bound = True


class ParametricEQ(_NativeEffect):
    """Low shelf, two peaks and a high shelf, plus a high-pass for rumble: JUCE's filters
    (:mod:`engine.eqdesign`) run by :func:`engine.dsp.iir`."""

    kind = "eq"
    PARAMS = (
        Param("highpass_hz", 10.0, 1000.0, 10.0, "Hz", log=True),
        Param("low_hz", 20.0, 1000.0, 100.0, "Hz", log=True),
        Param("low_db", -24.0, 24.0, 0.0, "dB"),
        Param("mid1_hz", 40.0, 16000.0, 500.0, "Hz", log=True),
        Param("mid1_db", -24.0, 24.0, 0.0, "dB"),
        Param("mid1_q", 0.1, 10.0, 0.707, log=True),
        Param("mid2_hz", 40.0, 16000.0, 3000.0, "Hz", log=True),
        Param("mid2_db", -24.0, 24.0, 0.0, "dB"),
        Param("mid2_q", 0.1, 10.0, 0.707, log=True),
        Param("high_hz", 1000.0, 20000.0, 8000.0, "Hz", log=True),
        Param("high_db", -24.0, 24.0, 0.0, "dB"),
    )

    def _arrays(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        from engine.dsp import SECTIONS

        return np.zeros((SECTIONS, 5), np.float32), np.zeros((channels, SECTIONS, 2), np.float32)

    def _apply(self, v: dict[str, float]) -> None:
        from engine.eqdesign import eq_coefficients

        self.dsp_params[...] = eq_coefficients(v, self.sample_rate)

    def _load_kernel(self) -> Any:
        from engine.dsp import iir

        return iir


class Compressor(_NativeEffect):
    """JUCE's compressor (peak ballistics, hard knee) and a makeup gain, run by :func:`engine.dsp.compress`."""

    kind = "compressor"
    PARAMS = (
        Param("threshold_db", -60.0, 0.0, -18.0, "dB"),
        Param("ratio", 1.0, 20.0, 3.0, log=True),
        Param("attack_ms", 0.1, 200.0, 5.0, "ms", log=True),
        Param("release_ms", 5.0, 2000.0, 120.0, "ms", log=True),
        Param("makeup_db", 0.0, 24.0, 0.0, "dB"),
    )

    def _arrays(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        from engine.dsp import COMP_PARAMS

        return np.zeros(COMP_PARAMS, np.float32), np.zeros(channels, np.float32)

    def _apply(self, v: dict[str, float]) -> None:
        from engine.dsp import compressor_params

        self.dsp_params[...] = compressor_params(
            v["threshold_db"], v["ratio"], v["attack_ms"], v["release_ms"], v["makeup_db"], self.sample_rate
        )

    def _load_kernel(self) -> Any:
        from engine.dsp import compress

        return compress


class Reverb(PedalboardEffect):
    kind = "reverb"
    BOARD = "Reverb"
    PARAMS = (
        Param("room_size", 0.0, 1.0, 0.5),
        Param("damping", 0.0, 1.0, 0.5),
        Param("wet", 0.0, 1.0, 0.25),
        Param("dry", 0.0, 1.0, 0.8),
        Param("width", 0.0, 1.0, 1.0),
    )

    def _apply(self, v: dict[str, float]) -> None:
        r = self._board
        r.room_size, r.damping, r.wet_level, r.dry_level, r.width = (
            v["room_size"],
            v["damping"],
            v["wet"],
            v["dry"],
            v["width"],
        )


class Delay(PedalboardEffect):
    kind = "delay"
    BOARD = "Delay"
    PARAMS = (
        Param("time_s", 0.001, 2.0, 0.375, "s", log=True),
        Param("feedback", 0.0, 0.95, 0.35),
        Param("mix", 0.0, 1.0, 0.3),
    )

    def _apply(self, v: dict[str, float]) -> None:
        self._board.delay_seconds, self._board.feedback, self._board.mix = v["time_s"], v["feedback"], v["mix"]


class Limiter(PedalboardEffect):
    """A peak limiter that is transparent at 0 dB: peaks above ``threshold_db`` are held there (a 1000:1
    compressor with a 1 us attack, as the second stage of JUCE's ``dsp::Limiter``), the result is raised by
    ``-threshold_db`` so they reach 0 dBFS, and a hard clip at 0 dBFS catches what the attack lets through.
    Unlike JUCE's limiter it has no fixed -10 dB 4:1 first stage and no fixed makeup, so lowering the
    threshold from 0 dB raises the level smoothly from the plain signal (a blend or an A/B from "no limiter"
    has no step)."""

    kind = "limiter"
    PARAMS = (
        Param("threshold_db", -24.0, 0.0, -1.0, "dB"),
        Param("release_ms", 1.0, 1000.0, 100.0, "ms", log=True),
    )
    RATIO = 1000.0
    ATTACK_MS = 0.001

    def _build(self) -> Any:
        pb = pedalboard_module()
        return pb.Pedalboard(
            [pb.Compressor(ratio=self.RATIO, attack_ms=self.ATTACK_MS), pb.Gain(), pb.Clipping(threshold_db=0.0)]
        )

    def _apply(self, v: dict[str, float]) -> None:
        comp, gain, _clip = list(self._board)
        comp.threshold_db, comp.release_ms = v["threshold_db"], v["release_ms"]
        gain.gain_db = -v["threshold_db"]
