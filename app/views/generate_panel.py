"""The Generate panel: every control of a generation (form length, model, seed, key, chords, variation,
temperature, top-p, density and instrument per part, dynamics, time signature, primer), the chord lane
of the generated piece, regenerate-selected-bars, and export of the generated piece."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.session import Session
from app.workers import Job
from engine.build import has_midi
from engine.errors import UserError
from models.generator.chords import Key

KEYS = ["Auto"] + [Key(pc, minor).name for minor in (False, True) for pc in range(12)]
PARTS = (("melody", "Melody"), ("acc", "Accomp."), ("bass", "Bass"), ("drums", "Drums"))


def _spin(lo: float, hi: float, step: float, value: float, tip: str) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(lo, hi)
    s.setSingleStep(step)
    s.setValue(value)
    s.setToolTip(tip)
    return s


class ChordLane(QWidget):
    """The generated piece's chords, one cell per bar (two symbols when the chord changes mid-bar), with
    section starts marked by their letter."""

    def __init__(self) -> None:
        super().__init__()
        self.chords: list[str] = []  # per half bar
        self.sections: list[tuple[int, str]] = []
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Chords of the generated piece, bar by bar (section letters above)")

    def sizeHint(self) -> QSize:
        return QSize(300, 34)

    def show_piece(self, chords: list[str], sections: list[tuple[int, str]]) -> None:
        self.chords, self.sections = chords, sections
        self.update()

    def bar_text(self, bar: int) -> str:
        a, b = self.chords[2 * bar : 2 * bar + 2] + [""] * (2 - len(self.chords[2 * bar : 2 * bar + 2]))
        return a if b in ("", a) else f"{a} {b}"

    def paintEvent(self, _ev: Any) -> None:
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        bars = len(self.chords) // 2
        if bars == 0:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "chords appear here after generating")
            return
        w = self.width() / bars
        starts = dict(self.sections)
        font = p.font()
        font.setPointSizeF(max(6.0, min(9.0, w / 4)))
        p.setFont(font)
        for b in range(bars):
            r = QRectF(b * w, 12, w, self.height() - 12)
            p.setPen(pal.color(QPalette.ColorRole.Mid))
            p.drawLine(r.topLeft(), r.bottomLeft())
            if b in starts:
                p.setPen(pal.color(QPalette.ColorRole.Highlight))
                p.drawText(QRectF(b * w + 2, 0, 40, 12), Qt.AlignmentFlag.AlignLeft, starts[b])
            text = self.bar_text(b)
            if b == 0 or b in starts or text != self.bar_text(b - 1):  # a chord held on is not repeated
                p.setPen(pal.color(QPalette.ColorRole.Text))
                p.drawText(r.adjusted(2, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)


class GeneratePanel(QWidget):
    """Settings for a generation, regenerate-selected-bars, and export of the generated piece."""

    def __init__(self, session: Session, selected_bars: Callable[[], list[int]]) -> None:
        super().__init__()
        from models.generator.gm import GM_PROGRAMS
        from models.generator.midi import DEFAULT_PROGRAMS
        from models.generator.piece import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, DEFAULT_VARIATION
        from models.platform.registry import shipped_models

        self.session = session
        self.selected_bars = selected_bars
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        f = QGridLayout()
        self.bars = QSpinBox()
        self.bars.setRange(1, 512)
        self.bars.setToolTip("Length of the piece: changing it resizes the form (the template is resampled)")
        self.bars.editingFinished.connect(self._resize)
        self.model = QComboBox()
        for m in shipped_models("generator"):  # the registry's models, the family's default first
            self.model.addItem(m.name, m.name)
            self.model.setItemData(self.model.count() - 1, m.description, Qt.ItemDataRole.ToolTipRole)
        self.model.setToolTip("Which generator writes the piece (hover an entry for what it does)")
        seed_row = QHBoxLayout()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.dice = QPushButton("Random")
        self.dice.setToolTip("New random seed")
        self.dice.clicked.connect(lambda: self.seed.setValue(random.randrange(0, 1_000_000)))
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        self.key = QComboBox()
        self.key.setEditable(True)
        self.key.addItems(KEYS)
        self.key.setToolTip("Key of the piece ('Auto': the seed picks one); notes stay in its scale")
        self.chromatic = QCheckBox("Chromatic")
        self.chromatic.setToolTip("Allow notes outside the key's scale")
        self.time_signature = QComboBox()
        self.time_signature.addItems(["4/4", "3/4"])
        self.time_signature.setToolTip("The shipped generator writes 4/4 only (3/4 tells you why)")
        self.chords = QLineEdit()
        self.chords.setPlaceholderText("chords: generated from the form, or type 'Dm Bb F C' / 'A=C G Am F; B=F G C C'")
        self.chords.setToolTip("One chord per bar, '|' for two per bar, 'A=...; B=...' per section; empty: generated")
        self.chord_fit = QComboBox()
        self.chord_fit.addItems(["loop", "stretch"])
        self.chord_fit.setToolTip("Loop the typed chords over each section, or stretch them over it")
        self.temperature = _spin(0.05, 5.0, 0.05, DEFAULT_TEMPERATURE, "Variety of pitches and lengths (not density)")
        self.top_p = _spin(0.05, 1.0, 0.05, DEFAULT_TOP_P, "Nucleus sampling: lower keeps only the likeliest notes")
        self.variation = _spin(0.0, 1.0, 0.05, DEFAULT_VARIATION, "How much repeated bars differ: 0 exact, 1 free")
        self.dynamics = _spin(0.0, 2.0, 0.1, 1.0, "Downbeat accents and section levels: 0 flat, 2 strong")
        self.density: dict[str, QDoubleSpinBox] = {}
        dens_row = QHBoxLayout()
        for part, label in PARTS:
            s = _spin(0.0, 4.0, 0.1, 1.0, f"{label} density: onsets relative to the model's (0: silent)")
            self.density[part] = s
            dens_row.addWidget(QLabel(label))
            dens_row.addWidget(s)
        self.programs: dict[str, QComboBox] = {}
        prog_row = QHBoxLayout()
        for part, label in PARTS[:3]:
            c = QComboBox()
            for i, name in enumerate(GM_PROGRAMS):
                c.addItem(f"{i} {name}", i)
            c.setCurrentIndex(DEFAULT_PROGRAMS[part])
            c.setToolTip(f"{label} instrument (General MIDI program)")
            self.programs[part] = c
            prog_row.addWidget(QLabel(label))
            prog_row.addWidget(c, 1)
        self.primer = QComboBox()
        self.primer.setToolTip("Continue a MIDI track: its bars are kept, the rest is generated")
        self.regen = QLineEdit()
        self.regen.setPlaceholderText("bars to redo, e.g. 5-8,13 (or select bars in the form)")
        rows: list[tuple[str, QWidget | QHBoxLayout, str, QWidget | QHBoxLayout]] = [
            ("Bars", self.bars, "Model", self.model),
            ("Key", self.key, "Seed", seed_row),
            ("Time", self.time_signature, "", self.chromatic),
            ("Chords", self.chords, "Fit", self.chord_fit),
            ("Temperature", self.temperature, "Top-p", self.top_p),
            ("Variation", self.variation, "Dynamics", self.dynamics),
            ("Primer", self.primer, "Redo bars", self.regen),
        ]
        for r, (la, wa, lb, wb) in enumerate(rows):
            for col, (text, w) in enumerate(((la, wa), (lb, wb))):
                f.addWidget(QLabel(text), r, 2 * col)
                if isinstance(w, QHBoxLayout):
                    f.addLayout(w, r, 2 * col + 1)
                else:
                    f.addWidget(w, r, 2 * col + 1)
        f.setColumnStretch(1, 1)
        f.setColumnStretch(3, 1)
        lay.addLayout(f)
        lay.addLayout(dens_row)
        lay.addLayout(prog_row)
        self.chord_lane = ChordLane()
        lay.addWidget(self.chord_lane)
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
        session.generated.connect(self.show_result)
        session.piece_restored.connect(self.show_result)
        session.form_derived.connect(self._track_key)
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
        if not has_piece:
            self.chord_lane.show_piece([], [])

    def _track_key(self, _tempo: float, key: str) -> None:
        """A form taken from a track brings its key into the key box (the tempo is only reported)."""
        if key:
            self.key.setCurrentText(key)

    def show_result(self, res: Any) -> None:
        piece = res.piece
        self.chord_lane.show_piece([c.symbol if c is not None else "N.C." for c in piece.chords], piece.sections)

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

    def controls(self) -> dict[str, Any]:
        """The musical controls as the generation settings hold them (checked before anything runs)."""
        from models.generator.chords import parse_key
        from models.generator.harmony import parse_progression
        from models.generator.piece import parse_time_signature

        key = self.key.currentText().strip()
        if key.lower() != "auto":
            parse_key(key)
        chords = self.chords.text().strip()
        if chords:
            parse_progression(chords)
        parse_time_signature(self.time_signature.currentText())
        return {
            "key": None if key.lower() == "auto" else key,
            "chromatic": self.chromatic.isChecked(),
            "chords": chords or None,
            "chord_fit": self.chord_fit.currentText(),
            "top_p": self.top_p.value(),
            "variation": self.variation.value(),
            "dynamics": self.dynamics.value(),
            "density": {k: s.value() for k, s in self.density.items()},
            "programs": {k: int(c.currentData()) for k, c in self.programs.items()},
            "time_signature": self.time_signature.currentText(),
        }

    def request(self, regenerate: bool) -> Job:
        return self.session.generation.generate(
            model=str(self.model.currentData()),
            seed=self.seed.value(),
            temperature=self.temperature.value(),
            tempo=self.session.project.tempo,
            primer=None if regenerate else self.primer.currentData(),
            regenerate=self.regenerate_bars() if regenerate else None,
            controls=self.controls(),
        )
