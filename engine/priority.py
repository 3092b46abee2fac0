"""Scheduling priority of background work: jobs (inference, analysis, renders) run at a lower priority than
the audio and GUI threads, so on a busy 2-core machine the device callback and the render thread get a core
when they wake instead of waiting out a job's time slice."""

from __future__ import annotations

import os
import sys
import threading

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


def raise_audio_priority(rt_priority: int = AUDIO_RT_PRIORITY) -> str:
    """Ask for real-time scheduling of the calling thread, as DAWs do for their audio callback: SCHED_FIFO
    where the user may (root, or an ``rtprio`` limit such as Debian's ``audio`` group gives), else a
    negative nice, else nothing. Call it only from a thread that does nothing but audio I/O (never the main
    thread). Returns what was granted: ``"host"`` (the audio host already runs the thread real-time; it is
    left as it is), ``"fifo"``, ``"nice"`` or ``"normal"``."""
    if not sys.platform.startswith("linux"):
        return "normal"
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
