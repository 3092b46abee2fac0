"""The device callback in native code: it copies the ring into the device's buffer without the GIL.

A Python callback must take the GIL before it can copy a single sample, so whenever the render thread, a
plugin or a background job runs Python code, the device waits, up to the interpreter's switch interval,
which at 128 frames is a third of the period. JACK then logs "client was not finished" and the period is
lost. :data:`device_callback` is a numba ``cfunc`` with PortAudio's ``PaStreamCallback`` signature: PortAudio
calls it directly (:class:`engine.stream.DeviceOutput`), and the clocked null device calls it through
ctypes, which releases the GIL, so both run the same code.

Everything the callback touches is in one int64 array, the ring's *state* (``userData``): counters that
either side reads, and the addresses and shapes of the ring's sample, position, timing and capture arrays,
which the Python side allocates and keeps alive (the layout: the slot constants below). The ring is
single-producer/single-consumer: the render
thread owns ``WRITTEN`` and the callback ``READ``; each side publishes its index after a fence, so the
other never sees an index before the samples it covers (:func:`publish`). Aligned int64 loads and stores
are atomic on the 64-bit CPUs this runs on.

Linux and macOS (POSIX ``clock_gettime``; the thread id for scheduling on Linux).
"""

from __future__ import annotations

import ctypes
import sys
import time
from typing import Any

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic
from numba.np.numpy_support import carray as _carray

from engine.jitcache import cache_usable, stable_source

# The state's layout. It is here, beside the compiled code that reads it, because numba compiles these
# values in as constants and decides whether its on-disk cache is current from this file alone.
WRITTEN, READ, HEARD, UNDERRUNS, DEVICE_XRUNS, CALLBACKS, FIRST_AUDIO_NS, TID = range(8)
# the capture being recorded: the address of its descriptor, an int64 [address, frames, last] array that
# never changes but for `last`; 0: none. One word, so the callback never pairs one capture's address with
# another's length.
CAPTURE = 8
DATA_PTR, POSITIONS_PTR, DURATIONS_PTR, CAPACITY, BLOCK, BLOCKS, CHANNELS = range(9, 16)
TIMESPEC = 16  # two slots the callback's clock reads write into (no allocation in the callback)
STATE_SIZE = 18
TIMING_SLOTS = 1 << 16
CAPTURE_PTR, CAPTURE_FRAMES, CAPTURE_LAST = range(3)  # a capture descriptor's slots
OUTPUT_UNDERFLOW = 0x4  # PortAudio's paOutputUnderflow status flag

_ULONG = types.uint64 if ctypes.sizeof(ctypes.c_ulong) == 8 else types.uint32
_TIMESPEC_DTYPE = np.int64 if ctypes.sizeof(ctypes.c_long) == 8 else np.int32  # struct timespec's fields
_MONOTONIC = time.CLOCK_MONOTONIC
_LINUX = sys.platform.startswith("linux")
# libc functions by symbol (resolved in this process at compile time): unlike ctypes function pointers they
# let numba cache the compiled callback on disk
_clock_gettime: Any = types.ExternalFunction("clock_gettime", types.int32(types.int32, types.voidptr))
_gettid: Any = types.ExternalFunction("gettid", types.int32()) if _LINUX else None  # glibc >= 2.30
carray: Any = _carray  # numba's view of memory at a pointer (typed Any: numba's stubs do not export it)
CACHE = cache_usable(__file__)


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


@numba.njit(nogil=True, cache=CACHE)
@stable_source
def _now_ns(state: np.ndarray) -> int:  # pragma: no cover - compiled
    spec = carray(_as_pointer(state[TIMESPEC:].ctypes.data), (2,), _TIMESPEC_DTYPE)
    _clock_gettime(_MONOTONIC, _as_pointer(spec.ctypes.data))
    return int(np.int64(spec[0]) * 1_000_000_000 + np.int64(spec[1]))


if _LINUX:

    @numba.njit(nogil=True, cache=CACHE)
    @stable_source
    def _thread_id() -> int:  # pragma: no cover - compiled
        tid: int = _gettid()  # the id the scheduler knows the thread by
        return tid

else:

    @numba.njit(nogil=True, cache=CACHE)
    @stable_source
    def _thread_id() -> int:  # pragma: no cover - compiled
        return -1  # no per-thread scheduling by id here


@numba.njit("void(int64[:], intp, int64)", nogil=True, cache=CACHE)
@stable_source
def publish(state: np.ndarray, slot: int, value: int) -> None:  # pragma: no cover - compiled
    """Store ``value`` in ``state[slot]`` after a fence: whatever the caller wrote before (a block's samples,
    a capture's address) is visible to the other side before the new value is."""
    _fence()
    state[slot] = value


@numba.njit(nogil=True, cache=CACHE, error_model="numpy")  # numpy errors: no path takes the GIL
@stable_source
def fill(out: np.ndarray, underflow: bool, state: np.ndarray) -> None:  # pragma: no cover - compiled
    """Copy the ring into ``out`` (frames, channels) float32 and count: an underrun when the ring runs dry
    while the timeline plays, a device xrun when the device says it underflowed while playing, the
    callback's duration. Silence while stopped counts as nothing. See the module docstring for ``state``."""
    t0 = _now_ns(state)
    if state[TID] == 0:
        state[TID] = _thread_id()
    channels, block, blocks = state[CHANNELS], state[BLOCK], state[BLOCKS]
    data = carray(_as_pointer(state[DATA_PTR]), (state[CAPACITY], channels), np.float32)
    positions = carray(_as_pointer(state[POSITIONS_PTR]), (blocks,), np.int64)
    cap_desc = state[CAPTURE]  # one load: this period records into one capture or none
    cap_frames = 0
    desc = carray(_as_pointer(state.ctypes.data), (3,), np.int64)  # typed placeholders, unused without one
    capture = carray(_as_pointer(state[DATA_PTR]), (0, channels), np.float32)
    if cap_desc != 0:
        desc = carray(_as_pointer(cap_desc), (3,), np.int64)
        cap_frames = desc[CAPTURE_FRAMES]
        capture = carray(_as_pointer(desc[CAPTURE_PTR]), (cap_frames, channels), np.float32)
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
                if at + m > desc[CAPTURE_LAST]:
                    _fence()  # the samples before the length that covers them
                    desc[CAPTURE_LAST] = at + m
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
    types.int32(types.voidptr, types.voidptr, _ULONG, types.voidptr, _ULONG, types.voidptr), nogil=True, cache=CACHE
)
@stable_source
def device_callback(inp: Any, out: Any, frames: int, time_info: Any, flags: int, user: Any) -> int:  # pragma: no cover
    """PortAudio's ``PaStreamCallback`` for a float32 interleaved output: ``user`` is the ring's state."""
    state = carray(user, (STATE_SIZE,), np.int64)
    block = carray(out, (frames, state[CHANNELS]), np.float32)
    fill(block, (flags & OUTPUT_UNDERFLOW) != 0, state)
    return 0  # paContinue
