"""Preferences dialog: audio device, buffer size, SoundFont, inference threads, autosave interval."""

from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.prefs import BLOCK_SIZES, Preferences
from engine.stream import NULL_DEVICE


class PreferencesDialog(QDialog):
    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.prefs = prefs
        f = QFormLayout(self)
        self.device = QComboBox()
        self.device.addItem("System default", None)
        try:
            from engine.stream import output_devices, rescan_devices

            rescan_devices()
            for d in output_devices():
                self.device.addItem(f"{d.index}: {d.name}", d.name)
        except Exception:  # no PortAudio at all: only the null device is offered
            pass
        self.device.addItem("No sound (clocked null device)", NULL_DEVICE)
        k = self.device.findData(prefs.device)
        self.device.setCurrentIndex(k if k >= 0 else 0)
        f.addRow("Audio output", self.device)
        self.block = QComboBox()
        for b in BLOCK_SIZES:
            self.block.addItem(f"{b} frames ({b / 44.1:.1f} ms)", b)
        self.block.setCurrentIndex(self.block.findData(prefs.block))
        f.addRow("Buffer size", self.block)
        sf_row = QHBoxLayout()
        self.soundfont = QLineEdit(prefs.soundfont or "")
        self.soundfont.setPlaceholderText("system General MIDI SoundFont")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        sf_row.addWidget(self.soundfont, 1)
        sf_row.addWidget(browse)
        f.addRow("SoundFont", sf_row)
        self.threads = QSpinBox()
        self.threads.setRange(1, max(1, os.cpu_count() or 1))
        self.threads.setValue(min(prefs.threads, self.threads.maximum()))
        self.threads.setToolTip("Threads onnxruntime uses for generation")
        f.addRow("Inference threads", self.threads)
        self.render_threads = QSpinBox()
        self.render_threads.setRange(1, max(1, os.cpu_count() or 1))
        self.render_threads.setValue(min(prefs.render_threads, self.render_threads.maximum()))
        self.render_threads.setToolTip(
            "Threads the engine renders tracks on: more helps sessions with many tracks when cores are free "
            "(refrain bench engine --workers N measures it)"
        )
        f.addRow("Render threads", self.render_threads)
        self.autosave = QSpinBox()
        self.autosave.setRange(5, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setValue(prefs.autosave_seconds)
        f.addRow("Autosave every", self.autosave)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        f.addRow(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "SoundFont", "", "SoundFonts (*.sf2 *.sf3)")
        if path:
            self.soundfont.setText(path)

    def result_prefs(self) -> Preferences:
        """A copy of the preferences with the dialog's choices (the caller validates and applies them)."""
        p = replace(self.prefs)
        p.device = self.device.currentData()
        p.block = int(self.block.currentData())
        p.soundfont = self.soundfont.text().strip() or None
        p.threads = self.threads.value()
        p.render_threads = self.render_threads.value()
        p.autosave_seconds = self.autosave.value()
        return p
