"""Jobs in a worker process: results, relayed progress, cancel, one-line errors, a crashed child."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from app.process_jobs import ProcessPool, Relay
from app.workers import JobRunner
from engine.errors import Cancelled, UserError


def square_steps(task: Any, n: int) -> list[int]:
    out = []
    for i in range(n):
        task.progress((i + 1) / n)
        out.append(i * i)
    return out


def spin_until_cancelled(task: Any) -> None:
    while True:
        task.progress(0.5)
        time.sleep(0.01)


def refuse(task: Any) -> None:
    raise UserError("that file is not a song")


def crash(task: Any) -> None:
    os._exit(3)


def pid(task: Any) -> int:
    return os.getpid()


def cautious(task: Any) -> str:
    from engine.errors import warn

    warn("take.wav is truncated: read as far as it goes")
    return "done"


class _Flag:
    def __init__(self, value: bool = False) -> None:
        self.value = value

    def is_set(self) -> bool:
        return self.value


@pytest.fixture
def pool():  # type: ignore[no-untyped-def]
    p = ProcessPool(1)
    yield p
    p.close()


def test_warnings_cross_to_the_parent(pool: ProcessPool) -> None:
    warned: list[str] = []
    assert pool.run(cautious, (), Relay(lambda f: None, _Flag(), warned.append)) == "done"
    assert warned == ["take.wav is truncated: read as far as it goes"]


def test_result_progress_and_reuse(pool: ProcessPool) -> None:
    seen: list[float] = []
    assert pool.run(square_steps, (5,), Relay(seen.append, _Flag())) == [0, 1, 4, 9, 16]
    assert seen and seen[-1] == 1.0
    first = pool.run(pid, (), Relay(seen.append, _Flag()))
    assert first != os.getpid()
    assert pool.run(pid, (), Relay(seen.append, _Flag())) == first  # the same child serves the next task


def test_cancel_error_and_crash_keep_the_pool_usable(pool: ProcessPool) -> None:
    flag = _Flag()

    def cancel_soon(frac: float) -> None:
        flag.value = True

    with pytest.raises(Cancelled):
        pool.run(spin_until_cancelled, (), Relay(cancel_soon, flag))
    with pytest.raises(UserError, match="not a song"):
        pool.run(refuse, (), Relay(lambda f: None, _Flag()))
    child = pool.run(pid, (), Relay(lambda f: None, _Flag()))
    with pytest.raises(RuntimeError, match="ended unexpectedly"):
        pool.run(crash, (), Relay(lambda f: None, _Flag()))
    assert pool.run(square_steps, (2,), Relay(lambda f: None, _Flag())) == [0, 1]  # a fresh child took over
    assert pool.run(pid, (), Relay(lambda f: None, _Flag())) != child


def test_runner_reports_on_the_gui_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    runner = JobRunner(threads=1, processes=1)
    try:
        got: list[Any] = []
        errors: list[str] = []
        job = runner.submit_process("squares", square_steps, (3,), got.append, errors.append)
        bad = runner.submit_process("refuse", refuse, (), got.append, errors.append)
        qtbot.waitUntil(lambda: job.settled and bad.settled, timeout=60000)
        assert got == [[0, 1, 4]] and errors == ["that file is not a song"]
        assert job.state == "done" and job.fraction == 1.0 and bad.state == "failed"
        spin = runner.submit_process("spin", spin_until_cancelled)
        qtbot.waitUntil(lambda: spin.fraction > 0, timeout=60000)
        spin.cancel()
        qtbot.waitUntil(lambda: spin.settled, timeout=10000)
        assert spin.state == "cancelled"
    finally:
        runner.close()
