"""Jobs that run in a worker *process*. Generation, export and form analysis are long Python loops; on a
thread they hold the GIL in slices that stall the GUI thread (and can starve the audio callback) on a
2-core machine. A persistent spawn-context child runs them instead: the GUI process only relays progress
and cancel, so its event loop stays free.

A task is a picklable module-level function ``fn(task, *args)``; ``task`` offers the same ``progress``,
``check``, ``cancelled`` and ``cancel_event`` that a thread :class:`~app.workers.Job` offers, so one
function body serves both."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing as mp
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from engine.errors import Cancelled, UserError, warnings_to
from engine.priority import BACKGROUND_NICE

PROGRESS_HZ = 20.0
CANCEL_GRACE_S = 5.0  # a child that ignores a cancel this long is killed and replaced

TaskFn = Callable[..., Any]


def _ignore(_message: str) -> None:
    pass


@dataclass(frozen=True)
class Relay:
    """Where a task's reports go in the parent: progress (0..1), one-line warnings, and the cancel flag
    (anything with ``is_set()``, such as a ``threading.Event``)."""

    progress: Callable[[float], None]
    cancelled: Any
    warn: Callable[[str], None] = _ignore


class _ChildTask:
    """What a task function sees in the child: progress (throttled) and the cancel flag."""

    def __init__(self, conn: Connection, cancel_event: Any) -> None:
        self._conn = conn
        self.cancel_event = cancel_event
        self._last = 0.0

    def progress(self, frac: float) -> None:
        now = time.monotonic()
        if now - self._last >= 1.0 / PROGRESS_HZ or frac >= 1.0:
            self._last = now
            self._conn.send(("progress", float(frac)))
        self.check()

    @property
    def cancelled(self) -> bool:
        return bool(self.cancel_event.is_set())

    def check(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()


def _serve(conn: Connection, cancel_event: Any) -> None:
    """The child's loop: run one task at a time until the parent closes the pipe."""
    with contextlib.suppress(OSError):
        os.nice(BACKGROUND_NICE)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, args = msg
        task = _ChildTask(conn, cancel_event)
        try:
            with warnings_to(functools.partial(_send_warning, conn)):
                result = fn(task, *args)
        except BaseException as exc:  # reported to the parent; the child lives on for the next task
            if isinstance(exc, Cancelled):
                reply: tuple[Any, ...] = ("cancelled", None)
            elif isinstance(exc, UserError):
                reply = ("failed", str(exc))
            else:
                traceback.print_exc()
                reply = ("failed", f"{type(exc).__name__}: {exc}")
        else:
            reply = ("done", result)
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result must not kill the worker
            conn.send(("failed", f"cannot return the result: {exc}"))


def _send_warning(conn: Connection, message: str) -> None:
    conn.send(("warning", message))


def warm_up(task: Any) -> None:
    """Import the heavy modules once so the first real task starts at once."""
    import importlib

    for name in ("engine.bounce", "engine.build", "models.generator.piece", "models.generator.sampler"):
        importlib.import_module(name)


class ProcessWorker:
    """One persistent child process with its pipe and cancel flag."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.cancel_event = ctx.Event()
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, self.cancel_event), daemon=True, name="refrain-worker")
        self.proc.start()
        child.close()

    @property
    def alive(self) -> bool:
        return self.proc.is_alive()

    def run(self, fn: TaskFn, args: tuple[Any, ...], relay: Relay) -> Any:
        """Run ``fn(task, *args)`` in the child and wait, relaying progress and warnings; raises ``Cancelled`` or
        ``UserError`` (the child's one-line message) or ``RuntimeError`` if the child died."""
        cancelled = relay.cancelled
        self.cancel_event.clear()
        self.conn.send((fn, args))
        cancel_sent = 0.0
        while True:
            if cancelled.is_set() and not cancel_sent:
                self.cancel_event.set()
                cancel_sent = time.monotonic()
            if cancel_sent and time.monotonic() - cancel_sent > CANCEL_GRACE_S:
                self.kill()
                raise Cancelled()
            msg: tuple[str, Any] | None
            try:
                ready = self.conn.poll(0.05)
                msg = self.conn.recv() if ready else None
            except (EOFError, OSError):
                msg = ("died", None)
            if msg is None:
                if not self.proc.is_alive():
                    msg = ("died", None)
                else:
                    continue
            kind: str = msg[0]
            payload: Any = msg[1]
            if kind == "progress":
                relay.progress(float(payload))
                continue
            if kind == "warning":
                relay.warn(str(payload))
                continue
            self.cancel_event.clear()
            if kind == "done":
                return payload
            if kind == "cancelled":
                raise Cancelled()
            if kind == "failed":
                raise UserError(str(payload))
            self.kill()
            raise RuntimeError(f"the worker process ended unexpectedly (exit code {self.proc.exitcode})")

    def close(self, timeout: float = 2.0) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.proc.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(1.0)
        self.conn.close()


class ProcessPool:
    """Idle workers kept for reuse; a task takes one (starting a new child if none is idle)."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._idle: list[ProcessWorker] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> ProcessWorker:
        with self._lock:
            if self._closed:
                raise UserError("the app is closing")
            while self._idle:
                w = self._idle.pop()
                if w.alive:
                    return w
                w.kill()
        return ProcessWorker()

    def release(self, w: ProcessWorker) -> None:
        with self._lock:
            if not self._closed and w.alive and len(self._idle) < self.size:
                self._idle.append(w)
                return
        w.close()

    def run(self, fn: TaskFn, args: tuple[Any, ...], relay: Relay) -> Any:
        w = self.acquire()
        try:
            result = w.run(fn, args, relay)
        except (Cancelled, UserError):  # the task ended cleanly: the child serves the next one
            self.release(w)
            raise
        except BaseException:
            w.kill()
            raise
        self.release(w)
        return result

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for w in idle:
            w.close()
