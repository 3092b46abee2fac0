"""The mixer's auto-mix row: Auto-mix, Match Reference…, the amount slider (0 % = the mix before, 100 % = the
proposal) and the A/B switch, plus the Mix menu with their shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QMenu, QPushButton, QSlider, QWidget

from app.session import Session
from engine.errors import UserError

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.opus *.mp3 *.aif *.aiff)"


class AutoMixBar(QWidget):
    def __init__(self, session: Session, selected: Callable[[], list[int]]) -> None:
        super().__init__()
        self.session, self.selected = session, selected
        self.am = session.automix
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        self.run_button = QPushButton("Auto-mix")
        self.run_button.setToolTip("Propose gain, pan and EQ for the tracks and a master limiter")
        self.run_button.clicked.connect(lambda: self.guard(self.run))
        self.reference_button = QPushButton("Match Reference…")
        self.reference_button.setToolTip("Match a reference track's loudness, tone, width and dynamics")
        self.reference_button.clicked.connect(lambda: self.guard(self.match_reference))
        self.amount = QSlider(Qt.Orientation.Horizontal)
        self.amount.setRange(0, 100)
        self.amount.setValue(100)
        self.amount.setToolTip("How much of the proposal: 0 % is the mix before, 100 % the proposal")
        self.amount.valueChanged.connect(lambda v: self.guard(lambda: self.am.set_amount(v / 100)))
        self.amount_label = QLabel("100 %")
        self.ab = QPushButton("B: auto-mix")
        self.ab.setCheckable(True)
        self.ab.setToolTip("Switch between the mix before (A) and the proposal (B) while playing (Ctrl+Alt+A)")
        self.ab.clicked.connect(lambda: self.guard(self.am.toggle_ab))
        for w in (self.run_button, self.reference_button, QLabel("Amount"), self.amount, self.amount_label, self.ab):
            lay.addWidget(w)
        lay.addStretch(1)
        self.am.changed.connect(self.refresh)
        self.refresh()

    def guard(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except UserError as exc:
            self.session.message.emit(str(exc))

    def run(self, reference: str | None = None) -> Any:
        return self.am.run(self.selected(), reference)

    def match_reference(self) -> Any:
        path, _ = QFileDialog.getOpenFileName(self, "Reference Track", "", AUDIO_FILTER)
        return self.run(path) if path else None

    def refresh(self) -> None:
        ready = self.am.ready
        for w in (self.amount, self.ab):
            w.setEnabled(ready)
        self.amount.blockSignals(True)
        self.amount.setValue(round(self.am.amount * 100))
        self.amount.blockSignals(False)
        self.amount_label.setText(f"{round(self.am.amount * 100)} %")
        self.ab.setChecked(self.am.showing_before)
        self.ab.setText("A: before" if self.am.showing_before else "B: auto-mix")


def add_mix_menu(menubar: Any, act: Callable[..., Any], bar: AutoMixBar) -> QMenu:
    """The Mix menu: ``act(menu, text, slot, shortcut, tip)`` is the window's action maker."""
    m: QMenu = menubar.addMenu("&Mix")
    act(
        m,
        "&Auto-mix",
        lambda: bar.guard(bar.run),
        "Ctrl+Alt+M",
        "Propose a mix of the selected tracks (all when none)",
    )
    act(m, "Match &Reference…", lambda: bar.guard(bar.match_reference), "Ctrl+Alt+R", "Match a reference track")
    act(m, "A/B Auto-mix", lambda: bar.guard(bar.am.toggle_ab), "Ctrl+Alt+A", "The mix before / the proposal")
    return m
