"""Scheduling priority of background work: jobs (inference, analysis, renders) run at a lower priority than
the audio and GUI threads, so on a busy 2-core machine the device callback and the render thread get a core
when they wake instead of waiting out a job's time slice."""

from __future__ import annotations

import os
import sys
import threading
import weakref

BACKGROUND_NICE = 10


def lower_thread_priority(nice: int = BACKGROUND_NICE) -> None:
    """Run the calling thread at ``nice`` (Linux: per-thread nice, which needs no privilege to raise); a
    thread already at that nice or lower priority is left alone. Elsewhere, or when refused, nothing."""
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:
        pass


AUDIO_RT_PRIORITY = 60  # SCHED_FIFO priority asked for the device callback (JACK's clients run near 60-70)


def raise_audio_priority(tid: int | None = None, rt_priority: int = AUDIO_RT_PRIORITY) -> str:
    """Ask for real-time scheduling of a thread, as DAWs do for their audio callback: SCHED_FIFO where the
    user may (root, or an ``rtprio`` limit such as Debian's ``audio`` group gives), else a negative nice,
    else nothing. ``tid``: the thread's id (``gettid``; None: the calling thread); it must be a thread that
    does nothing but audio I/O (never the main thread). Returns what was granted: ``"host"`` (the audio
    host already runs the thread real-time; it is left as it is), ``"fifo"``, ``"nice"`` or ``"normal"``."""
    if not sys.platform.startswith("linux"):
        return "normal"
    if tid is None:
        tid = threading.get_native_id()
    try:
        if os.sched_getscheduler(tid) & ~getattr(os, "SCHED_RESET_ON_FORK", 0) in (os.SCHED_FIFO, os.SCHED_RR):
            # the host already runs this thread real-time (JACK gives its clients' threads a priority just
            # under its own): raising it above the server's would let the client starve the server
            return "host"
    except (OSError, AttributeError):
        pass
    try:
        # reset on fork: a thread or process this one starts must not inherit real-time scheduling
        policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
        os.sched_setscheduler(tid, policy, os.sched_param(rt_priority))
        return "fifo"
    except (OSError, AttributeError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, tid, -10)
        return "nice"
    except OSError:
        return "normal"


class CpuWakeupLatency:
    """Hold the CPUs' wake-up latency at zero (Linux PM QoS, ``/dev/cpu_dma_latency``), as real-time audio
    tuning guides advise; the engine holds it while a device plays the timeline. An idle core then polls
    instead of entering a sleep state, so the device thread wakes on time. On a virtual machine a halted
    virtual core can take longer than a 128-frame period to wake: a JACK dummy server alone on this
    project's 2-core VM logs 20 late periods in 15 s. The request lasts while the file stays open; it needs
    write access (root, or a udev rule for an audio group) and is skipped otherwise. It costs power (the
    cores never sleep), so it is held only while the transport plays."""

    PATH = "/dev/cpu_dma_latency"

    def __init__(self) -> None:
        self._fd: int | None = None
        self._finalizer: weakref.finalize[[int], CpuWakeupLatency] | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def hold(self) -> bool:
        """Ask for zero wake-up latency; returns whether the request is in force."""
        if self._fd is None and sys.platform.startswith("linux"):
            try:
                fd = os.open(self.PATH, os.O_WRONLY)
            except OSError:
                return False
            try:
                os.write(fd, (0).to_bytes(4, sys.byteorder, signed=True))
            except OSError:
                os.close(fd)
                return False
            self._fd = fd
            # an engine dropped without close() must not keep the cores awake until the process exits
            self._finalizer = weakref.finalize(self, os.close, fd)
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            if self._finalizer is not None:
                self._finalizer()  # closes the file: the request ends
            self._fd = None
