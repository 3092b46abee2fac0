"""The device callback in native code: it copies the ring into the device's buffer without the GIL.

A Python callback must take the GIL before it can copy a single sample, so whenever the render thread, a
plugin or a background job runs Python code, the device waits, up to the interpreter's switch interval,
which at 128 frames is a third of the period. JACK then logs "client was not finished" and the period is
lost. :data:`device_callback` is a numba ``cfunc`` with PortAudio's ``PaStreamCallback`` signature: PortAudio
calls it directly (:class:`engine.stream.DeviceOutput`), and the clocked null device calls it through
ctypes, which releases the GIL, so both run the same code.

Everything the callback touches is in one int64 array, the ring's *state* (``userData``): counters that
either side reads, and the addresses and shapes of the ring's sample, position, timing and capture arrays,
which the Python side allocates and keeps alive. The ring is single-producer/single-consumer: the render
thread owns ``WRITTEN`` and the callback ``READ``; each side publishes its index after a fence, so the
other never sees an index before the samples it covers (:func:`publish`). Aligned int64 loads and stores
are atomic on the 64-bit CPUs this runs on.

Linux and macOS (POSIX ``clock_gettime``).
"""

from __future__ import annotations

import ctypes
import platform
import sys
import time
from typing import Any

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic
from numba.np.numpy_support import carray as _carray

from engine.ring import (
    BLOCK,
    BLOCKS,
    CALLBACKS,
    CAPACITY,
    CAPTURE_ACK,
    CAPTURE_FRAMES,
    CAPTURE_FRAMES_NEXT,
    CAPTURE_LAST,
    CAPTURE_PTR,
    CAPTURE_PTR_NEXT,
    CAPTURE_REQ,
    CHANNELS,
    DATA_PTR,
    DEVICE_XRUNS,
    DURATIONS_PTR,
    FIRST_AUDIO_NS,
    HEARD,
    POSITIONS_PTR,
    READ,
    STATE_SIZE,
    TID,
    TIMESPEC,
    TIMING_SLOTS,
    UNDERRUNS,
    WRITTEN,
)

OUTPUT_UNDERFLOW = 0x4  # PortAudio's paOutputUnderflow status flag

_ULONG = types.uint64 if ctypes.sizeof(ctypes.c_ulong) == 8 else types.uint32
_MONOTONIC = time.CLOCK_MONOTONIC
_SYS_GETTID = {"x86_64": 186, "aarch64": 178}.get(platform.machine(), -1) if sys.platform == "linux" else -1
# libc functions by symbol (resolved in this process at compile time): unlike ctypes function pointers they
# let numba cache the compiled callback on disk
_clock_gettime: Any = types.ExternalFunction("clock_gettime", types.int32(types.int32, types.voidptr))
_syscall: Any = types.ExternalFunction("syscall", types.int64(types.int64))
carray: Any = _carray  # numba's view of memory at a pointer (typed Any: numba's stubs do not export it)


def monotonic_ns() -> int:
    """The clock the callback stamps with (``CLOCK_MONOTONIC``), in ns."""
    return time.clock_gettime_ns(_MONOTONIC)


@intrinsic
def _as_pointer_intrinsic(typingctx: Any, address: Any) -> Any:
    """An integer address as a ``void *`` (numba's carray needs a pointer)."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))

    return types.voidptr(address), codegen


@intrinsic
def _fence_intrinsic(typingctx: Any) -> Any:
    """A full memory fence: no load or store moves across it (compiler and CPU)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


# called from compiled code only; typed Any because mypy sees the intrinsics' typing signatures
_as_pointer: Any = _as_pointer_intrinsic
_fence: Any = _fence_intrinsic


@numba.njit(nogil=True, cache=True)
def _now_ns(state: np.ndarray) -> int:  # pragma: no cover - compiled
    spec = state[TIMESPEC : TIMESPEC + 2]
    _clock_gettime(_MONOTONIC, _as_pointer(spec.ctypes.data))
    ns: int = spec[0] * 1_000_000_000 + spec[1]
    return ns


@numba.njit(nogil=True, cache=True)
def _thread_id() -> int:  # pragma: no cover - compiled
    if _SYS_GETTID < 0:
        return -1  # no per-thread scheduling by id here
    tid: int = _syscall(_SYS_GETTID)  # gettid(2): the id the scheduler knows the thread by
    return tid


@numba.njit("void(int64[:], intp, int64)", nogil=True, cache=True)
def publish(state: np.ndarray, slot: int, value: int) -> None:  # pragma: no cover - compiled
    """Store ``value`` in ``state[slot]`` after a fence: whatever the caller wrote before (a block's samples,
    a capture's address) is visible to the other side before the new value is."""
    _fence()
    state[slot] = value


@numba.njit(nogil=True, cache=True)
def fill(out: np.ndarray, underflow: bool, state: np.ndarray) -> None:  # pragma: no cover - compiled
    """Copy the ring into ``out`` (frames, channels) float32 and count: an underrun when the ring runs dry
    while the timeline plays, a device xrun when the device says it underflowed while playing, the
    callback's duration. Silence while stopped counts as nothing. See the module docstring for ``state``."""
    t0 = _now_ns(state)
    if state[TID] == 0:
        state[TID] = _thread_id()
    if state[CAPTURE_REQ] != state[CAPTURE_ACK]:
        req = state[CAPTURE_REQ]
        _fence()
        state[CAPTURE_PTR] = state[CAPTURE_PTR_NEXT]
        state[CAPTURE_FRAMES] = state[CAPTURE_FRAMES_NEXT]
        state[CAPTURE_LAST] = 0
        state[CAPTURE_ACK] = req
    channels, block, blocks = state[CHANNELS], state[BLOCK], state[BLOCKS]
    data = carray(_as_pointer(state[DATA_PTR]), (state[CAPACITY], channels), np.float32)
    positions = carray(_as_pointer(state[POSITIONS_PTR]), (blocks,), np.int64)
    cap_frames = state[CAPTURE_FRAMES]
    capture = carray(_as_pointer(state[CAPTURE_PTR]), (cap_frames, channels), np.float32)
    frames = out.shape[0]
    was_playing = state[HEARD] >= 0
    written = state[WRITTEN]
    _fence()  # the samples up to `written` are read after `written` is
    read = state[READ]
    got = min(frames, written - read)
    done = 0
    while done < got:
        r = read + done
        slot = (r // block) % blocks
        off = r % block
        m = min(block - off, got - done)
        start = slot * block + off
        out[done : done + m] = data[start : start + m]
        pos = positions[slot]
        if cap_frames > 0 and pos >= 0:
            at = pos + off
            if at + m <= cap_frames:
                capture[at : at + m] = data[start : start + m]
                if at + m > state[CAPTURE_LAST]:
                    state[CAPTURE_LAST] = at + m
        if done == 0:
            state[HEARD] = pos + off if pos >= 0 else -1
        done += m
    _fence()  # the samples are copied before the producer may overwrite them
    state[READ] = read + got
    # A dropout is a gap in the music: late or missing blocks while the transport is stopped are silence
    # either way, and counting them made "audio dropouts" climb on an idle null device.
    playing = was_playing or state[HEARD] >= 0
    if got < frames:
        out[got:] = 0.0
        if playing:
            state[UNDERRUNS] += 1
    elif state[FIRST_AUDIO_NS] == 0 and state[HEARD] >= 0:
        state[FIRST_AUDIO_NS] = t0
    if underflow and playing:
        state[DEVICE_XRUNS] += 1
    durations = carray(_as_pointer(state[DURATIONS_PTR]), (TIMING_SLOTS,), np.float64)
    durations[state[CALLBACKS] % TIMING_SLOTS] = (_now_ns(state) - t0) * 1e-9
    state[CALLBACKS] += 1


@numba.cfunc(
    types.int32(types.voidptr, types.voidptr, _ULONG, types.voidptr, _ULONG, types.voidptr), nogil=True, cache=True
)
def device_callback(inp: Any, out: Any, frames: int, time_info: Any, flags: int, user: Any) -> int:  # pragma: no cover
    """PortAudio's ``PaStreamCallback`` for a float32 interleaved output: ``user`` is the ring's state."""
    state = carray(user, (STATE_SIZE,), np.int64)
    block = carray(out, (frames, state[CHANNELS]), np.float32)
    fill(block, (flags & OUTPUT_UNDERFLOW) != 0, state)
    return 0  # paContinue
