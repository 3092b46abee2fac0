"""The form editor: a bars x bars canvas to paint (left button) and erase (right button) similarity, kept
symmetric with a fixed diagonal; a letter band to select bars (drag) and name sections; a structure
string, presets, "from track" and resize. Beside it, the generated piece's SSM and its adherence."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app import form
from app.session import Session
from app.tasks import GenerationResult
from engine.errors import UserError

BAND = 16  # the letter band above the matrix
NO_PIECE = "no piece yet"
ADHERENCE_HINT = "Generate to see how the piece follows the form."
_strokes = itertools.count(1)
LETTER_COLOURS = {
    "A": QColor(86, 156, 214),
    "B": QColor(214, 157, 86),
    "C": QColor(120, 190, 110),
    "D": QColor(197, 134, 192),
    "E": QColor(220, 200, 90),
}


def letter_colour(letter: str) -> QColor:
    if not letter:
        return QColor(70, 70, 76)
    base = LETTER_COLOURS.get(letter.upper(), QColor(150, 150, 160))
    return base if letter.isupper() else base.darker(140)


class SsmCanvas(QWidget):
    """Draws a similarity matrix; when editable, strokes paint or erase cells and the letter band selects bars."""

    stroke = Signal(object, object)  # new matrix, stroke id (edits of one stroke merge into one undo step)
    selection_changed = Signal(int, int)  # first, last bar (0-based, inclusive); -1, -1 when cleared

    def __init__(self, editable: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editable = editable
        self.matrix = np.eye(8, dtype=np.float32)
        self.labels: list[str] = [""] * 8
        self.selection: tuple[int, int] | None = None
        self.brush = 1.0
        self.placeholder = ""  # drawn instead of the matrix (the generated view before any generation)
        self._stroke_id: object = None
        self._erase = False
        self._sel_from: int | None = None
        self._image: QImage | None = None
        self.setMinimumSize(160, 160 + BAND)
        self.setMouseTracking(editable)
        self.setToolTip(
            "Left-drag: paint similarity · right-drag: erase · drag the letter band to select bars"
            if editable
            else "SSM of the generated piece"
        )

    def sizeHint(self) -> QSize:
        return QSize(320, 320 + BAND)

    def set_matrix(self, m: np.ndarray, labels: list[str] | None = None) -> None:
        self.matrix = np.asarray(m, np.float32)
        n = self.matrix.shape[0]
        self.labels = list(labels) if labels is not None and len(labels) == n else [""] * n
        if self.selection is not None and self.selection[1] >= n:
            self.selection = None
        self._image = None
        self.update()

    @property
    def bars(self) -> int:
        return int(self.matrix.shape[0])

    def _geometry(self) -> tuple[float, float, float]:
        side = max(10.0, min(self.width(), self.height() - BAND) - 2.0)
        return 1.0, BAND + 1.0, side / self.bars

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        x0, y0, cell = self._geometry()
        i, j = int((pos.y() - y0) // cell), int((pos.x() - x0) // cell)
        if 0 <= i < self.bars and 0 <= j < self.bars and pos.y() >= y0:
            return i, j
        return None

    def bar_at_x(self, x: float) -> int:
        x0, _, cell = self._geometry()
        return int(min(max((x - x0) // cell, 0), self.bars - 1))

    def paintEvent(self, _ev: Any) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 32, 36))
        x0, y0, cell = self._geometry()
        n = self.bars
        if self._image is None:
            v = np.clip(self.matrix, 0, 1)[..., None]
            lo, hi = np.array([28, 30, 36]), np.array([120, 190, 250])
            rgb = (lo + v * (hi - lo)).astype(np.uint8)
            self._rgb = np.ascontiguousarray(rgb)
            self._image = QImage(self._rgb.data, n, n, 3 * n, QImage.Format.Format_RGB888)
        p.drawImage(QRectF(x0, y0, cell * n, cell * n), self._image)
        if self.placeholder:
            p.fillRect(QRectF(x0, y0, cell * n, cell * n), QColor(30, 32, 36))
            p.setPen(QColor(140, 140, 150))
            p.drawText(QRectF(x0, y0, cell * n, cell * n), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            p.end()
            return
        # letter band
        p.setFont(QFont(p.font().family(), max(6, min(10, int(cell * 0.8)))))
        for k, run in enumerate(form.runs(self.labels)):
            letter, start, length = run
            r = QRectF(x0 + start * cell, 0, length * cell, BAND - 2)
            p.fillRect(r, letter_colour(letter))
            if letter and length * cell >= 9:
                p.setPen(QColor(20, 20, 20))
                p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{letter}{length}" if length * cell > 22 else letter)
            del k
        if self.selection is not None:
            a, b = self.selection
            p.setPen(QPen(QColor(255, 230, 120), 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(x0 + a * cell, 0, (b - a + 1) * cell, BAND + n * cell))
            p.drawRect(QRectF(x0, y0 + a * cell, n * cell, (b - a + 1) * cell))
        if cell >= 6:
            p.setPen(QColor(255, 255, 255, 25))
            for k in range(0, n + 1, 4 if cell < 12 else 1):
                p.drawLine(QPointF(x0 + k * cell, y0), QPointF(x0 + k * cell, y0 + n * cell))
                p.drawLine(QPointF(x0, y0 + k * cell), QPointF(x0 + n * cell, y0 + k * cell))
        p.end()

    # -- input ----------------------------------------------------------------------------------------
    def mousePressEvent(self, ev: Any) -> None:
        if not self.editable:
            return
        pos = ev.position()
        if pos.y() < BAND:
            self._sel_from = self.bar_at_x(pos.x())
            self._select(self._sel_from, self._sel_from)
            return
        self._stroke_id = ("paint", next(_strokes))
        self._erase = ev.button() == Qt.MouseButton.RightButton
        self._paint_at(pos)

    def mouseMoveEvent(self, ev: Any) -> None:
        if self._sel_from is not None:
            self._select(self._sel_from, self.bar_at_x(ev.position().x()))
        elif self._stroke_id is not None:
            self._paint_at(ev.position())
        elif self.editable:
            c = self.cell_at(ev.position())
            if c is not None:
                i, j = c
                self.setToolTip(f"bars {i + 1} and {j + 1}: similarity {self.matrix[i, j]:.2f}")

    def mouseReleaseEvent(self, _ev: Any) -> None:
        self._stroke_id = None
        self._sel_from = None

    def _select(self, a: int, b: int) -> None:
        self.selection = (min(a, b), max(a, b))
        self.selection_changed.emit(*self.selection)
        self.update()

    def clear_selection(self) -> None:
        self.selection = None
        self.selection_changed.emit(-1, -1)
        self.update()

    def _paint_at(self, pos: QPointF) -> None:
        c = self.cell_at(pos)
        if c is None or c[0] == c[1]:
            return
        i, j = c
        value = 0.0 if self._erase else self.brush
        if self.matrix[i, j] == value:
            return
        self.set_matrix(form.paint(self.matrix, i, j, value), self.labels)
        self.stroke.emit(self.matrix, self._stroke_id)


class FormEditor(QWidget):
    """The SSM template editor panel (template + generated piece side by side)."""

    def __init__(self, session: Session, selected_track: Any = None) -> None:
        super().__init__()
        self.session = session
        self.selected_track = selected_track or (lambda: -1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        # structure string / presets
        row = QHBoxLayout()
        self.structure = QLineEdit()
        self.structure.setPlaceholderText("structure, e.g. i4A8B8A8b4B8o4")
        self.structure.setToolTip("A letter and a length in bars per section; same letter = repeated material")
        self.structure.returnPressed.connect(self.apply_structure)
        row.addWidget(QLabel("Structure"))
        row.addWidget(self.structure, 1)
        self.preset = QComboBox()
        from models.structure import DESCRIPTIONS, preset_names

        self.preset.addItem("Preset…")
        for name in preset_names():
            self.preset.addItem(name)
            self.preset.setItemData(self.preset.count() - 1, DESCRIPTIONS[name], Qt.ItemDataRole.ToolTipRole)
        self.preset.activated.connect(self._preset_chosen)
        row.addWidget(self.preset)
        outer.addLayout(row)
        # canvases
        canvases = QHBoxLayout()
        left = QGroupBox("Template")
        ll = QVBoxLayout(left)
        self.canvas = SsmCanvas(editable=True)
        ll.addWidget(self.canvas, 1)
        right = QGroupBox("Generated")
        rl = QVBoxLayout(right)
        self.generated = SsmCanvas(editable=False)
        self.generated.placeholder = NO_PIECE
        self.adherence = QLabel(ADHERENCE_HINT)
        self.adherence.setWordWrap(True)
        rl.addWidget(self.generated, 1)
        canvases.addWidget(left, 1)
        canvases.addWidget(right, 1)
        outer.addLayout(canvases, 1)
        outer.addWidget(self.adherence)
        # tools
        tools = QGridLayout()
        self.brush = QSlider(Qt.Orientation.Horizontal)
        self.brush.setRange(5, 100)
        self.brush.setValue(100)
        self.brush.setToolTip("Similarity the left button paints")
        self.brush.valueChanged.connect(lambda v: setattr(self.canvas, "brush", v / 100.0))
        tools.addWidget(QLabel("Brush"), 0, 0)
        tools.addWidget(self.brush, 0, 1)
        self.letter = QComboBox()
        self.letter.setEditable(True)
        self.letter.addItems(["A", "B", "C", "D", "a", "b", "i", "o", "x", "X", "(none)"])
        self.letter.setToolTip("Upper case: with melody; lower case: instrumental; i/o/x/X repeat nothing")
        self.assign = QPushButton("Assign to selected bars")
        self.assign.setEnabled(False)
        self.assign.clicked.connect(self.assign_letter)
        tools.addWidget(QLabel("Section"), 1, 0)
        tools.addWidget(self.letter, 1, 1)
        tools.addWidget(self.assign, 1, 2)
        self.bars = QSpinBox()
        self.bars.setRange(1, 512)
        self.bars.setSuffix(" bars")
        self.resize_button = QPushButton("Resize")
        self.resize_button.clicked.connect(lambda: self.resize_to(self.bars.value()))
        tools.addWidget(QLabel("Length"), 2, 0)
        tools.addWidget(self.bars, 2, 1)
        tools.addWidget(self.resize_button, 2, 2)
        self.from_track = QPushButton("From track…")
        self.from_track.setToolTip("Derive the form from the selected track (or a file) at the length above")
        self.from_track.clicked.connect(self.derive_from_track)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("No repeats: only the diagonal")
        self.clear_button.clicked.connect(self.clear)
        tools.addWidget(self.from_track, 3, 1)
        tools.addWidget(self.clear_button, 3, 2)
        self.selection_label = QLabel("")
        tools.addWidget(self.selection_label, 0, 2)
        outer.addLayout(tools)
        self.canvas.stroke.connect(self._stroke)
        self.canvas.selection_changed.connect(self._selected)
        session.changed.connect(self.refresh)
        session.generated.connect(self.show_generated)
        session.piece_restored.connect(self.show_generated)
        session.document_reset.connect(self.reset)
        self.refresh()

    def reset(self) -> None:
        """Another document: no generated piece, adherence, bar selection or section letter carries over."""
        self.generated.placeholder = NO_PIECE
        self.generated.set_matrix(np.eye(8, dtype=np.float32))
        self.adherence.setText(ADHERENCE_HINT)
        self.canvas.clear_selection()
        self.letter.setCurrentIndex(0)
        self.structure.clear()

    # -- session -> view -------------------------------------------------------------------------------
    def refresh(self) -> None:
        m = self.session.generation.template()
        labels = self.session.generation.labels()
        same = m.shape == self.canvas.matrix.shape and np.array_equal(m, self.canvas.matrix)
        if not same or labels != self.canvas.labels:
            self.canvas.set_matrix(m, labels)
        if not self.structure.hasFocus():
            self.structure.setText(form.structure_text(labels) if any(labels) else "")
        self.bars.setValue(m.shape[0])

    def show_generated(self, res: GenerationResult) -> None:
        self.generated.placeholder = ""
        labels = self.session.generation.labels()
        self.generated.set_matrix(res.ssm, labels if res.ssm.shape[0] == len(labels) else None)
        a = res.adherence
        verdict = "n/a (the template has no repeats)" if not np.isfinite(a) else f"{a:.3f}"
        self.adherence.setText(
            f"<b>Adherence {verdict}</b> — ROC AUC of bar-pair similarity in the piece for the pairs the "
            f"template marks (0.5 = ignores the form, 1 = follows it exactly). {res.settings.get('model', '')}, "
            f"seed {res.settings.get('seed', '')}"
        )

    # -- edits ------------------------------------------------------------------------------------------------
    def _stroke(self, m: np.ndarray, stroke_id: object) -> None:
        self.session.generation.set_template(m, self.canvas.labels, "Paint form", merge=stroke_id)

    def _selected(self, a: int, b: int) -> None:
        self.assign.setEnabled(a >= 0)
        self.selection_label.setText("" if a < 0 else f"bars {a + 1}–{b + 1}")

    def selected_bars(self) -> list[int]:
        s = self.canvas.selection
        return [] if s is None else list(range(s[0], s[1] + 1))

    def apply_structure(self) -> None:
        from models.structure import parse_structure, template_from_structure

        text = self.structure.text().strip()
        try:
            sections = parse_structure(text)
            m = template_from_structure(sections)
        except UserError as exc:
            self.session.message.emit(str(exc))
            return
        self.session.generation.set_template(m, form.labels_for(list(sections), m.shape[0]), f"Form {text}")

    def _preset_chosen(self, index: int) -> None:
        if index <= 0:
            return
        name = self.preset.itemText(index)
        self.preset.setCurrentIndex(0)
        self.apply_preset(name)

    def apply_preset(self, name: str) -> None:
        from models.structure import resolve_template

        m, sections = resolve_template(preset=name)
        self.session.generation.set_template(m, form.labels_for(list(sections or []), m.shape[0]), f"Preset {name}")

    def assign_letter(self) -> None:
        s = self.canvas.selection
        if s is None:
            return
        text = self.letter.currentText().strip()
        letter = "" if text in ("", "(none)") else text[:1]
        if letter and not letter.isalpha():
            self.session.message.emit("a section letter must be a letter")
            return
        m, labels = form.assign_section(self.canvas.matrix, self.canvas.labels, s[0], s[1], letter)
        self.session.generation.set_template(m, labels, f"Section {letter or 'none'} on bars {s[0] + 1}-{s[1] + 1}")

    def resize_to(self, bars: int) -> None:
        m, labels = form.resize(self.canvas.matrix, self.canvas.labels, bars)
        self.canvas.clear_selection()
        self.session.generation.set_template(m, labels, f"Resize form to {bars} bars")

    def clear(self) -> None:
        n = self.canvas.bars
        self.session.generation.set_template(np.eye(n, dtype=np.float32), [""] * n, "Clear form")

    def derive_from_track(self) -> None:
        idx = self.selected_track()
        tracks = self.session.project.tracks
        path = tracks[idx].clips[0].path if 0 <= idx < len(tracks) and tracks[idx].clips else ""
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self, "Derive the form from a track", "", "Tracks (*.mid *.midi *.wav *.flac *.ogg *.mp3)"
            )
        if path:
            try:
                self.session.generation.template_from_track(path, self.bars.value())
            except UserError as exc:
                self.session.message.emit(str(exc))
