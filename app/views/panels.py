"""Transport bar and job panel (the Generate panel is in ``generate_panel.py``)."""

from __future__ import annotations

import functools
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPainter
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.session import Session
from app.views.toggles import LOOP, toggle
from app.workers import Job


def clock(seconds: float, tempo: float) -> str:
    """``bar.beat  m:ss.mmm`` for the transport display."""
    beats = seconds * tempo / 60.0
    bar, beat = int(beats // 4) + 1, int(beats % 4) + 1
    m, s = divmod(max(0.0, seconds), 60.0)
    return f"{bar:3d}.{beat}   {int(m)}:{s:06.3f}"


def _button(icon: QIcon | None, text: str = "") -> QToolButton:
    b = QToolButton()
    if icon is not None:
        b.setIcon(icon)
    if text:
        b.setText(text)
    return b


class TransportBar(QWidget):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        style = self.style()
        SP = QStyle.StandardPixmap
        self._icons = {"play": style.standardIcon(SP.SP_MediaPlay), "pause": style.standardIcon(SP.SP_MediaPause)}
        self.to_start = _button(style.standardIcon(SP.SP_MediaSkipBackward))
        self.to_start.setToolTip("Return to start (Home)")
        self.play = _button(self._icons["play"])
        self.play.setToolTip("Play / pause (Space)")
        self.stop = _button(style.standardIcon(SP.SP_MediaStop))
        self.stop.setToolTip("Stop and return to start (Ctrl+Space)")
        loop_icon = style.standardIcon(SP.SP_BrowserReload)
        self.loop = toggle("", LOOP, "Loop the region dragged on the ruler (L)", loop_icon)
        for b in (self.to_start, self.play, self.stop, self.loop):
            b.setMinimumWidth(34)
            lay.addWidget(b)
        self.position = QLabel(clock(0.0, 120.0))
        self.position.setStyleSheet("font-family: monospace; font-size: 15px; padding: 0 12px;")
        self.position.setToolTip("bar.beat and minutes:seconds")
        lay.addWidget(self.position)
        lay.addWidget(QLabel("Tempo"))
        self.tempo = QDoubleSpinBox()
        self.tempo.setRange(20.0, 300.0)
        self.tempo.setDecimals(1)
        self.tempo.setSuffix(" BPM")
        self.tempo.setToolTip("Tempo of the project grid and of the next generated piece")
        lay.addWidget(self.tempo)
        lay.addStretch(1)
        self.device = QLabel("")
        lay.addWidget(self.device)
        self.tempo.valueChanged.connect(
            lambda v: session.edit("Set tempo", lambda p: setattr(p, "tempo", float(v)), merge="tempo")
        )
        session.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.tempo.blockSignals(True)
        self.tempo.setValue(self.session.project.tempo)
        self.tempo.blockSignals(False)
        b = self.session.bridge
        if b is not None:
            dev = "no sound (null device)" if b.device_used == "null" else (b.device_used or "default output")
            self.device.setText(f"{dev} · {b.block} frames")

    def show_position(self, seconds: float, playing: bool) -> None:
        self.position.setText(clock(seconds, self.session.project.tempo))
        self.play.setIcon(self._icons["pause" if playing else "play"])


class ProgressStrip(QWidget):
    """A progress bar that repaints lazily (QProgressBar repaints synchronously on every setValue, which
    makes the whole window composite again while jobs report progress)."""

    def __init__(self) -> None:
        super().__init__()
        self.fraction = 0.0
        self.setMinimumSize(80, 16)

    def set_fraction(self, frac: float) -> None:
        if abs(frac - self.fraction) >= 0.002 or frac in (0.0, 1.0):
            self.fraction = frac
            self.update()

    def paintEvent(self, _ev: Any) -> None:
        p = QPainter(self)
        r = self.rect().adjusted(0, 2, -1, -3)
        p.fillRect(r, QColor(30, 32, 36))
        p.fillRect(r.adjusted(0, 0, -round(r.width() * (1.0 - self.fraction)), 0), QColor(70, 130, 200))
        p.setPen(QColor(230, 230, 235))
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{self.fraction * 100:.0f}%")
        p.end()


class JobRow(QWidget):
    """One job: title, progress, time left, cancel."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 1, 2, 1)
        self.job = job
        self.title = QLabel(job.title)
        self.title.setMinimumWidth(160)
        self.bar = ProgressStrip()
        self.eta = QLabel("queued")
        self.eta.setMinimumWidth(90)
        self.cancel = _button(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogCancelButton))
        self.cancel.setToolTip("Cancel")
        self.cancel.clicked.connect(job.cancel)
        for w in (self.title, self.bar, self.eta, self.cancel):
            lay.addWidget(w)
        job.progressed.connect(self.update_progress)
        job.finished.connect(self.finish)

    def update_progress(self, frac: float) -> None:
        self.bar.set_fraction(frac)
        eta = self.job.eta_seconds()
        self.eta.setText("running" if eta is None else f"{eta:.1f} s left")

    def finish(self) -> None:
        self.cancel.setEnabled(False)
        state = self.job.state
        if state == "done":
            self.bar.set_fraction(1.0)
        self.eta.setText({"done": "done", "cancelled": "cancelled"}.get(state, "failed"))
        if self.job.error:
            self.eta.setToolTip(self.job.error)


class JobPanel(QWidget):
    """Every background job with progress, ETA and cancel; finished rows fade out after a few seconds."""

    KEEP_MS = 4000

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.lay = QVBoxLayout(self)
        self.lay.setContentsMargins(2, 2, 2, 2)
        self.empty = QLabel("No jobs running.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.lay.addWidget(self.empty)
        self.lay.addStretch(1)
        self.rows: dict[int, JobRow] = {}
        session.jobs.added.connect(self.add)

    def add(self, job: Job) -> None:
        row = JobRow(job)
        self.rows[id(job)] = row
        self.lay.insertWidget(self.lay.count() - 1, row)
        self.empty.hide()
        job.finished.connect(functools.partial(self._finished, job))

    def _finished(self, job: Job) -> None:
        QTimer.singleShot(self.KEEP_MS, self, functools.partial(self.remove, job))

    def remove(self, job: Job) -> None:
        row = self.rows.pop(id(job), None)
        if row is not None:
            self.lay.removeWidget(row)
            row.deleteLater()
        self.session.jobs.forget_finished()
        if not self.rows:
            self.empty.show()
