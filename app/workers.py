"""Long work off the GUI thread: jobs run on a QThreadPool, report progress through Qt signals and stop
cooperatively when cancelled. Every long task in the app (generation, rendering, decoding, model loading,
template analysis) is a Job, so each one gets the same progress bar, ETA and cancel button."""

from __future__ import annotations

import functools
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.process_jobs import ProcessPool, Relay, TaskFn, warm_up
from engine.errors import Cancelled, UserError, warnings_to
from engine.priority import lower_thread_priority

JobFn = Callable[["Job"], Any]


class Job(QObject):
    """One unit of background work. The function receives the job: it calls ``job.progress(frac)`` and
    checks ``job.cancelled`` (or calls ``job.check()``) between steps."""

    progressed = Signal(float)
    warned = Signal(str)  # a one-line warning from the work (a truncated file, clipped samples)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled_signal = Signal()
    finished = Signal()

    def __init__(self, title: str, fn: JobFn) -> None:
        super().__init__()
        self.title = title
        self.fn = fn
        self.cancel_event = threading.Event()
        self.fraction = 0.0
        self.started = 0.0
        self.ended = 0.0
        self.state = "queued"  # queued, running, done, failed, cancelled
        self.settled = False  # True once the GUI thread has run the job's result or error handlers
        self.error: str | None = None
        self.result: Any = None
        self._last_emit = 0.0

    # -- called from the worker thread --------------------------------------------------------------
    def progress(self, frac: float) -> None:
        """Report progress (0..1) and stop here if cancelled."""
        self.report(frac)
        if self.cancel_event.is_set():
            raise Cancelled()

    def report(self, frac: float) -> None:
        """Report progress (0..1); throttled to 20 Hz so a fast loop cannot flood the GUI thread."""
        self.fraction = min(max(float(frac), 0.0), 1.0)
        now = time.monotonic()
        if now - self._last_emit >= 0.05 or self.fraction >= 1.0:
            self._last_emit = now
            self.progressed.emit(self.fraction)

    def warn(self, message: str) -> None:
        """Pass a warning to the GUI thread (the session shows it in the status bar)."""
        self.warned.emit(message)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()

    # -- called from the GUI thread ----------------------------------------------------------------
    def cancel(self) -> None:
        self.cancel_event.set()

    def eta_seconds(self) -> float | None:
        """Time left, extrapolated from the progress so far (None until there is enough to go on)."""
        if self.state != "running" or self.fraction < 0.02:
            return None
        el = time.monotonic() - self.started
        return max(0.0, el / self.fraction - el)

    @property
    def seconds(self) -> float:
        """How long the job ran (so far)."""
        return (self.ended or time.monotonic()) - self.started if self.started else 0.0


class _Runnable(QRunnable):
    def __init__(self, job: Job, on_end: Callable[[Job], None]) -> None:
        super().__init__()
        self.job = job
        self.on_end = on_end
        self.setAutoDelete(True)

    def run(self) -> None:
        lower_thread_priority()
        job = self.job
        job.started = time.monotonic()
        job.state = "running"
        job.progressed.emit(0.0)
        try:
            if job.cancel_event.is_set():
                raise Cancelled()
            with warnings_to(job.warn):
                job.result = job.fn(job)
        except Cancelled:
            job.state = "cancelled"
        except Exception as exc:  # anything else is reported in the job panel, never fatal to the app
            job.state = "failed"
            job.error = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, UserError):
                traceback.print_exc()
        else:
            job.state = "done"
        job.ended = time.monotonic()
        self.on_end(job)


class JobRunner(QObject):
    """Owns the worker pool and the list of jobs the job panel shows."""

    added = Signal(object)
    ended = Signal(object)
    warned = Signal(str)  # any job's warning

    def __init__(self, threads: int = 2, processes: int = 1) -> None:
        super().__init__()
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(threads)
        self.jobs: list[Job] = []
        self.processes = ProcessPool(processes)
        # Threads that only wait on worker processes: separate, so a long generation never queues a
        # decode or a graph build behind it.
        self.relay_pool = QThreadPool()
        self.relay_pool.setMaxThreadCount(max(1, processes))

    def submit(
        self,
        title: str,
        fn: JobFn,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        pool: QThreadPool | None = None,
    ) -> Job:
        """Run ``fn(job)`` on the pool. ``on_done(result)`` / ``on_error(message)`` run on the GUI thread."""
        job = Job(title, fn)
        if on_done is not None:
            job.succeeded.connect(on_done)
        if on_error is not None:
            job.failed.connect(on_error)
        job.finished.connect(functools.partial(setattr, job, "settled", True))
        job.warned.connect(self.warned)
        self.jobs.append(job)
        self.added.emit(job)
        (pool or self.pool).start(_Runnable(job, self._end))
        return job

    def submit_process(
        self,
        title: str,
        fn: TaskFn,
        args: tuple[Any, ...] = (),
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> Job:
        """Run ``fn(task, *args)`` in a worker process (see :mod:`app.process_jobs`); the job's pool thread
        only waits on it, relaying progress and cancel. ``fn`` and ``args`` must pickle."""

        def relay(job: Job) -> Any:
            return self.processes.run(fn, args, Relay(job.report, job.cancel_event, job.warn))

        return self.submit(title, relay, on_done, on_error, self.relay_pool)

    def warm_process(self) -> Job:
        """Start a worker process and import the heavy modules in it, so the first generation is quick."""
        return self.submit_process("Starting the worker process", warm_up)

    def _end(self, job: Job) -> None:
        # Emitted from the worker thread; Qt queues the calls onto the receivers' (GUI) thread.
        if job.state == "done":
            job.succeeded.emit(job.result)
        elif job.state == "failed":
            job.failed.emit(job.error or "failed")
        else:
            job.cancelled_signal.emit()
        job.finished.emit()
        self.ended.emit(job)

    def active(self) -> list[Job]:
        """Jobs still running or whose results the GUI thread has not handled yet."""
        return [j for j in self.jobs if not j.settled]

    def cancel_all(self) -> None:
        for j in self.jobs:
            j.cancel()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until every job has finished (tests' teardown and app exit)."""
        return bool(self.pool.waitForDone(timeout_ms)) and bool(self.relay_pool.waitForDone(timeout_ms))

    def close(self, timeout_ms: int = 30000) -> None:
        """Cancel everything, wait for the threads and end the worker processes."""
        self.cancel_all()
        self.wait(timeout_ms)
        self.processes.close()

    def forget_finished(self) -> None:
        self.jobs = [j for j in self.jobs if not j.settled]
