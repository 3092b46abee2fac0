"""The app's batch queue: files dropped on the Queue panel are separated, split or transcribed one after the
other on the worker process, into ``OUT/<input name>/`` with the same manifest as ``refrain separate DIR
--out OUT`` (:mod:`app.batch`), so the command line can resume what the app started and the other way round.

Each row has a state the panel shows: ``queued``, ``running`` (with progress), ``done``, ``failed`` (with
the reason), ``cancelled``. Cancel stops the running file (nothing of it is written) or takes a queued one
out; Retry puts a failed or cancelled file back in the queue."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from app.batch import COMMANDS, Item, Manifest, gather
from app.tasks import batch_task
from app.workers import Job
from engine.errors import UserError

if TYPE_CHECKING:
    from app.session import Session

STATES = ("queued", "running", "done", "failed", "cancelled")


@dataclass
class Row:
    item: Item
    state: str = "queued"
    progress: float = 0.0
    job: Job | None = None


def default_options(command: str) -> dict[str, Any]:
    """What the queue runs each command with: the CLI's defaults, so either side resumes the other's batch."""
    if command == "separate":
        return {"model": "separator", "stems": None, "without": None, "bits": None}
    if command == "split":
        return {"model": "splitter", "sources": 2, "bits": None}
    return {"program": 0, "tempo_bpm": None, "onset_threshold": 0.6, "frame_threshold": 0.4, "min_note_ms": 60.0}


class BatchQueue(QObject):
    """``changed(row)``: a row's state or progress moved (-1: rows were added or the settings changed)."""

    changed = Signal(int)

    def __init__(self, session: Session, out_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.s = session
        self.command = "separate"
        self.out = (Path(out_dir) if out_dir is not None else Path.home() / "Refrain batch").resolve()
        self.rows: list[Row] = []
        self.stopped = False  # a cancel from outside the panel (Esc: cancel all jobs) stops the queue
        self._panel_cancel = False
        self._manifests: dict[tuple[str, str], Manifest] = {}

    def set_command(self, command: str) -> None:
        if command not in COMMANDS:
            raise UserError(f"the queue runs {', '.join(COMMANDS)}, not {command!r}")
        self.command = command
        self.changed.emit(-1)

    def set_output(self, folder: str | os.PathLike[str]) -> None:
        self.out = Path(folder).resolve()
        self.changed.emit(-1)

    def _manifest(self, command: str) -> Manifest:
        key = (command, os.fspath(self.out))
        if key not in self._manifests:
            self._manifests[key] = Manifest.open(self.out, command, default_options(command), [])
        return self._manifests[key]

    def add(self, paths: list[str]) -> int:
        """Queue the audio files among ``paths`` (folders give their audio files) with the current command
        and output folder; files the manifest already has done are shown done, not redone. Returns how many
        rows were added."""
        files = gather(paths)
        m = self._manifest(self.command)
        todo = {id(i) for i in m.todo()}
        queued = {id(r.item) for r in self.rows if r.state in ("queued", "running")}
        added = 0
        items = m.add(files)
        for item in items:
            if id(item) in queued:
                continue  # already waiting or running
            done = item.state == "done" and id(item) not in todo
            self.rows.append(Row(item, "done" if done else "queued", 1.0 if done else 0.0))
            added += 1
        m.save(items)
        self.stopped = False
        self.changed.emit(-1)
        self._next()
        return added

    def _row_manifest(self, row: Row) -> Manifest:
        for m in self._manifests.values():
            if any(i is row.item for i in m.items):
                return m
        raise KeyError(row.item.input)

    def running(self) -> Row | None:
        return next((r for r in self.rows if r.state == "running"), None)

    def _next(self) -> None:
        """Start the first queued row when none runs (one at a time: the worker process is shared)."""
        if self.stopped or self.running() is not None:
            return
        row = next((r for r in self.rows if r.state == "queued"), None)
        if row is None:
            return
        m = self._row_manifest(row)
        k = self.rows.index(row)
        row.state, row.progress = "running", 0.0
        out_dir = str(m.out / row.item.name)
        args = (m.command, m.options, row.item.input, out_dir)
        job = self.s.jobs.submit_process(f"Queue: {m.command} {Path(row.item.input).name}", batch_task, args)
        row.job = job
        job.progressed.connect(lambda f, r=row: self._progress(r, f))
        job.succeeded.connect(lambda outputs, r=row: self._settle(r, "done", "", list(outputs)))
        job.failed.connect(lambda message, r=row: self._settle(r, "failed", message, []))
        job.cancelled_signal.connect(lambda r=row: self._settle(r, "cancelled", "", []))
        self.changed.emit(k)

    def _progress(self, row: Row, frac: float) -> None:
        row.progress = frac
        self.changed.emit(self.rows.index(row))

    def _settle(self, row: Row, state: str, error: str, outputs: list[str]) -> None:
        row.state, row.job = state, None
        row.progress = 1.0 if state == "done" else row.progress
        row.item.state = state if state in ("done", "failed") else "pending"
        row.item.error, row.item.outputs = error.splitlines()[0] if error else "", outputs
        self._row_manifest(row).save([row.item])
        if state == "cancelled" and not self._panel_cancel:
            self.stopped = True  # cancelled from outside (Esc cancels all jobs): do not start the next file
        self._panel_cancel = False
        self.changed.emit(self.rows.index(row))
        self._next()

    def cancel(self, index: int) -> None:
        """Stop the row's file if it runs (nothing of it is written), or take it out of the queue."""
        row = self.rows[index]
        if row.state == "running" and row.job is not None:
            self._panel_cancel = True  # this file only: the queue goes on with the next
            row.job.cancel()
        elif row.state == "queued":
            row.state = "cancelled"
            self.changed.emit(index)

    def retry(self, index: int) -> None:
        """Queue a failed or cancelled row again."""
        row = self.rows[index]
        if row.state not in ("failed", "cancelled"):
            raise UserError(f"only a failed or cancelled file can be retried ({row.item.name} is {row.state})")
        row.state, row.progress = "queued", 0.0
        self.stopped = False
        self.changed.emit(index)
        self._next()

    def counts(self) -> dict[str, int]:
        return {s: sum(r.state == s for r in self.rows) for s in STATES}
