"""Transport bar, generate panel and job panel."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.session import Session
from app.views.toggles import LOOP, toggle
from app.workers import Job
from engine.build import has_midi
from engine.errors import UserError


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


class GeneratePanel(QWidget):
    """Settings for a generation, regenerate-selected-bars, and export of the generated piece."""

    def __init__(self, session: Session, selected_bars: Callable[[], list[int]]) -> None:
        super().__init__()
        self.session = session
        self.selected_bars = selected_bars
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        f = QGridLayout()
        self.bars = QSpinBox()
        self.bars.setRange(1, 512)
        self.bars.setToolTip("Length of the piece: changing it resizes the form (the template is resampled)")
        self.bars.editingFinished.connect(self._resize)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.05, 5.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setValue(0.9)
        self.temperature.setToolTip("Lower: safer, more repetitive; higher: more surprising")
        seed_row = QHBoxLayout()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.dice = _button(None, "Random")
        self.dice.setToolTip("New random seed")
        self.dice.clicked.connect(lambda: self.seed.setValue(random.randrange(0, 1_000_000)))
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        self.model = QComboBox()
        from models.platform.registry import shipped_models

        for m in shipped_models("generator"):  # the registry's models, the family's default first
            self.model.addItem(m.name, m.name)
            self.model.setItemData(self.model.count() - 1, m.description, Qt.ItemDataRole.ToolTipRole)
        self.model.setToolTip("Which generator writes the piece (hover an entry for what it does)")
        self.primer = QComboBox()
        self.primer.setToolTip("Continue a MIDI track: its bars are kept, the rest is generated")
        self.regen = QLineEdit()
        self.regen.setPlaceholderText("bars to redo, e.g. 5-8,13 (or select bars in the form)")
        f.addWidget(QLabel("Bars"), 0, 0)
        f.addWidget(self.bars, 0, 1)
        f.addWidget(QLabel("Temperature"), 0, 2)
        f.addWidget(self.temperature, 0, 3)
        f.addWidget(QLabel("Model"), 1, 0)
        f.addWidget(self.model, 1, 1)
        f.addWidget(QLabel("Seed"), 1, 2)
        f.addLayout(seed_row, 1, 3)
        f.addWidget(QLabel("Primer"), 2, 0)
        f.addWidget(self.primer, 2, 1)
        f.addWidget(QLabel("Redo bars"), 2, 2)
        f.addWidget(self.regen, 2, 3)
        f.setColumnStretch(1, 1)
        f.setColumnStretch(3, 1)
        lay.addLayout(f)
        buttons = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip("Generate a piece that follows the form (Ctrl+G)")
        self.regen_button = QPushButton("Regenerate bars")
        self.regen_button.setToolTip("Redo only the given or selected bars of the generated piece (Ctrl+Shift+G)")
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.regen_button)
        lay.addLayout(buttons)
        exports = QHBoxLayout()
        self.export_midi = QPushButton("Export MIDI…")
        self.export_wav = QPushButton("Export WAV…")
        exports.addWidget(self.export_midi)
        exports.addWidget(self.export_wav)
        self.play_after = QCheckBox("Play when done")
        self.play_after.setChecked(True)
        exports.addWidget(self.play_after)
        lay.addLayout(exports)
        session.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        if not self.bars.hasFocus():
            self.bars.setValue(self.session.generation.template().shape[0])
        current = self.primer.currentData()
        self.primer.blockSignals(True)
        self.primer.clear()
        self.primer.addItem("(none)", None)
        for t in self.session.project.tracks:
            if has_midi(t) and t.clips:
                self.primer.addItem(t.name, t.clips[0].path)
        k = self.primer.findData(current)
        self.primer.setCurrentIndex(max(0, k))
        self.primer.blockSignals(False)
        has_piece = self.session.generation.generated_track() is not None
        for b in (self.regen_button, self.export_midi, self.export_wav):
            b.setEnabled(has_piece)

    def _resize(self) -> None:
        from app import form

        n = self.bars.value()
        if n != self.session.generation.template().shape[0]:
            m, labels = form.resize(self.session.generation.template(), self.session.generation.labels(), n)
            self.session.generation.set_template(m, labels, f"Resize form to {n} bars")

    def regenerate_bars(self) -> list[int]:
        from models.generator.piece import parse_bar_ranges

        text = self.regen.text().strip()
        if text:
            return parse_bar_ranges(text, self.session.generation.template().shape[0])
        bars = self.selected_bars()
        if not bars:
            raise UserError("choose bars to regenerate: type them, or drag over the form's letter band")
        return bars

    def request(self, regenerate: bool) -> Job:
        return self.session.generation.generate(
            model=str(self.model.currentData()),
            seed=self.seed.value(),
            temperature=self.temperature.value(),
            tempo=self.session.project.tempo,
            primer=None if regenerate else self.primer.currentData(),
            regenerate=self.regenerate_bars() if regenerate else None,
        )


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
