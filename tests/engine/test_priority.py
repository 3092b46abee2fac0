"""The audio callback's scheduling (engine.priority)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from engine.priority import raise_audio_priority

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux scheduling calls")


def _in_thread(fn):  # type: ignore[no-untyped-def]
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(fn()))
    t.start()
    t.join()
    return got[0]


def test_a_thread_the_host_runs_real_time_is_left_alone() -> None:
    """JACK runs its clients' process threads at a real-time priority just under the server's; the callback
    must not raise itself above the server."""

    def run() -> tuple[str, int, int] | None:
        tid = threading.get_native_id()
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(5))
        except PermissionError:
            return None
        granted = raise_audio_priority()
        return granted, os.sched_getscheduler(tid), os.sched_getparam(tid).sched_priority

    got = _in_thread(run)
    if got is None:
        pytest.skip("this user may not set SCHED_FIFO (no rtprio limit), so no host could have set it either")
    assert got == ("host", os.SCHED_FIFO, 5)


def test_a_normal_thread_asks_for_real_time() -> None:
    def run() -> tuple[str, int]:
        granted = raise_audio_priority()
        return granted, os.sched_getscheduler(threading.get_native_id())

    granted, policy = _in_thread(run)
    assert granted in ("host", "fifo", "nice", "normal")  # host: pytest itself runs real-time
    if granted == "fifo":
        assert policy & ~getattr(os, "SCHED_RESET_ON_FORK", 0) == os.SCHED_FIFO
