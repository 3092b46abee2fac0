"""Mixer: one strip per track plus the master (gain, pan, mute, solo, peak/RMS meters), and the selected
strip's plugin chain with a parameter editor generated from the plugins' typed parameters."""

from __future__ import annotations

import functools
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.itemmodels.tracks import ChainModel
from app.session import Session, plugin_label
from app.views.spectrum import SpectrumView
from app.views.toggles import MUTE, SOLO, show_state, toggle
from app.workers import Job
from engine import commands as c
from engine.errors import UserError
from engine.plugin import Param
from engine.project import PluginSpec

METER_FLOOR_DB = -60.0
METER_TOP_DB = 6.0
EFFECTS = ("eq", "compressor", "reverb", "delay", "limiter", "width", "gain")
_gestures = itertools.count(1)


def to_db(x: float) -> float:
    return 20 * math.log10(x) if x > 1e-6 else -120.0


class MeterWidget(QWidget):
    """Two channel bars: RMS filled, peak as a line, with a peak hold that falls back slowly."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.peak = np.full(2, -120.0)
        self.rms = np.full(2, -120.0)
        self.hold = np.full(2, -120.0)
        self.setMinimumSize(18, 70)

    def sizeHint(self) -> QSize:
        return QSize(20, 140)

    def set_levels(self, peak: np.ndarray, rms: np.ndarray) -> None:
        self.peak = np.array([to_db(float(v)) for v in peak[:2]])
        self.rms = np.array([to_db(float(v)) for v in rms[:2]])
        self.hold = np.maximum(self.hold - 0.6, self.peak)
        self.update()

    def _y(self, db: float) -> float:
        h = self.height()
        f = (min(max(db, METER_FLOOR_DB), METER_TOP_DB) - METER_FLOOR_DB) / (METER_TOP_DB - METER_FLOOR_DB)
        return h - f * h

    def paintEvent(self, _ev: Any) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 26, 30))
        w = self.width() / 2
        grad = QLinearGradient(0, self.height(), 0, 0)
        grad.setColorAt(0.0, QColor(40, 170, 90))
        grad.setColorAt(0.75, QColor(220, 200, 60))
        grad.setColorAt(0.92, QColor(230, 60, 50))
        for ch in range(2):
            x = ch * w + 1
            y = self._y(float(self.rms[ch]))
            p.fillRect(int(x), int(y), int(w - 2), self.height() - int(y), grad)
            p.setPen(QColor(240, 240, 240))
            yp = int(self._y(float(self.peak[ch])))
            p.drawLine(int(x), yp, int(x + w - 3), yp)
            p.setPen(QColor(255, 120, 80) if self.hold[ch] > 0 else QColor(180, 180, 180))
            yh = int(self._y(float(self.hold[ch])))
            p.drawLine(int(x), yh, int(x + w - 3), yh)
        p.setPen(QColor(90, 90, 90))
        y0 = int(self._y(0.0))
        p.drawLine(0, y0, self.width(), y0)
        p.end()


class StripWidget(QFrame):
    """One channel strip. ``kind`` is "track" or "master"."""

    selected = Signal(str, int)

    def __init__(self, session: Session, kind: str, index: int) -> None:
        super().__init__()
        self.session, self.kind, self.index = session, kind, index
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(96)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.name = QPushButton()
        self.name.setFlat(True)
        self.full_name = ""
        self.name.clicked.connect(lambda: self.selected.emit(self.kind, self.index))
        lay.addWidget(self.name)
        row = QHBoxLayout()
        self.meter = MeterWidget()
        self.fader = QSlider(Qt.Orientation.Vertical)
        self.fader.setRange(-600, 120)  # tenths of a dB
        self.fader.setToolTip("Gain (double-click the value to type it)")
        row.addWidget(self.meter)
        row.addWidget(self.fader)
        lay.addLayout(row, 1)
        self.gain = QDoubleSpinBox()
        self.gain.setRange(-60.0, 12.0)
        self.gain.setSingleStep(0.5)
        self.gain.setSuffix(" dB")
        self.gain.setDecimals(1)
        lay.addWidget(self.gain)
        self.pan = QSlider(Qt.Orientation.Horizontal)
        self.pan.setRange(-100, 100)
        self.pan.setToolTip("Pan (double-click to centre)")
        self.mute = toggle("M", MUTE, "Mute")
        self.solo = toggle("S", SOLO, "Solo")
        if kind == "track":
            lay.addWidget(self.pan)
            ms = QHBoxLayout()
            ms.addWidget(self.mute)
            ms.addWidget(self.solo)
            lay.addLayout(ms)
        self._gesture: object = None
        self.fader.sliderPressed.connect(self._new_gesture)
        self.pan.sliderPressed.connect(self._new_gesture)
        self.fader.valueChanged.connect(lambda v: self._set_gain(v / 10.0, self._gesture))
        self.gain.valueChanged.connect(lambda v: self._set_gain(float(v), ("gain-spin", self.kind, self.index)))
        self.pan.valueChanged.connect(lambda v: self._set_pan(v / 100.0))
        self.mute.toggled.connect(lambda on: self.session.mixer.set_track(self.index, mute=on))
        self.solo.toggled.connect(lambda on: self.session.mixer.set_track(self.index, solo=on))
        self.refresh()

    def _new_gesture(self) -> None:
        self._gesture = ("strip", next(_gestures))

    def _set_gain(self, db: float, merge: object) -> None:
        if self.kind == "track":
            self.session.mixer.set_track(self.index, merge, gain_db=db)
        else:
            self.session.mixer.set_master_gain(db, merge)

    def _set_pan(self, pan: float) -> None:
        self.session.mixer.set_track(self.index, self._gesture, pan=pan)

    def refresh(self) -> None:
        p = self.session.project
        if self.kind == "track":
            if self.index >= len(p.tracks):
                return
            t = p.tracks[self.index]
            name, gain, pan, mute, solo = t.name, t.gain_db, t.pan, t.mute, t.solo
        else:
            name, gain, pan, mute, solo = "Master", p.master.gain_db, 0.0, False, False
        widgets = (self.fader, self.gain, self.pan, self.mute, self.solo)
        for w in widgets:
            w.blockSignals(True)
        self.full_name = name
        self._show_name()
        self.fader.setValue(round(gain * 10))
        self.gain.setValue(gain)
        self.pan.setValue(round(pan * 100))
        self.pan.setToolTip(f"Pan {pan:+.2f}")
        self.mute.setChecked(mute)
        self.solo.setChecked(solo)
        for w in widgets:
            w.blockSignals(False)
        show_state(self.mute)
        show_state(self.solo)

    def _show_name(self) -> None:
        """The name elided in the middle, so stems of one source ("song · drums", "song · bass") stay
        distinguishable; the whole name is the tooltip."""
        room = max(20, self.name.width() - 10)
        self.name.setText(self.name.fontMetrics().elidedText(self.full_name, Qt.TextElideMode.ElideMiddle, room))
        self.name.setToolTip(f"{self.full_name}: show this strip's plugin chain")

    def resizeEvent(self, ev: Any) -> None:
        super().resizeEvent(ev)
        self._show_name()

    def mouseDoubleClickEvent(self, ev: Any) -> None:
        if self.kind == "track" and self.pan.geometry().contains(ev.position().toPoint()):
            self.session.mixer.set_track(self.index, pan=0.0)


class ParamEditor(QWidget):
    """A form generated from a plugin's typed parameters: sliders with spin boxes for floats, spin boxes for
    integers, check boxes for switches, combo boxes for choices."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.form = QFormLayout(self)
        self.target: tuple[str, int, int] | None = None
        self.editors: dict[str, Any] = {}

    def show_slot(self, kind: str, index: int, slot: int | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        self.target = None
        if slot is None:
            return
        specs = self.session.mixer.chain_of(self.session.project, kind, index)
        if not 0 <= slot < len(specs):
            return
        spec = specs[slot]
        from engine.plugins import plugin_params

        try:
            params = plugin_params(spec.plugin, spec.options)
        except UserError as exc:
            self.form.addRow(QLabel(str(exc)))
            return
        self.target = (kind, index, slot)
        self.form.addRow(QLabel(f"<b>{plugin_label(spec)}</b>"))
        for prm in params:
            value = spec.params.get(prm.name, prm.default)
            self.form.addRow(prm.name.replace("_", " "), self._editor(prm, value))

    def refresh(self) -> None:
        if self.target is None:
            return
        kind, index, slot = self.target
        specs = (
            self.session.mixer.chain_of(self.session.project, kind, index)
            if kind != "track" or index < len(self.session.project.tracks)
            else []
        )
        if slot >= len(specs):
            self.show_slot(kind, index, None)
            return
        from engine.plugins import plugin_params

        for prm in plugin_params(specs[slot].plugin, specs[slot].options):
            ed = self.editors.get(prm.name)
            if ed is not None:
                ed.set_value(specs[slot].params.get(prm.name, prm.default))

    def _set(self, name: str, value: float, merge: object) -> None:
        if self.target is None:
            return
        kind, index, slot = self.target
        self.session.mixer.set_plugin_param(kind, index, slot, name, value, merge)

    def _editor(self, prm: Param, value: float) -> QWidget:
        ed = _ParamWidget(prm, value, self._set)
        self.editors[prm.name] = ed
        return ed


class _ParamWidget(QWidget):
    STEPS = 1000

    def __init__(self, prm: Param, value: float, commit: Any) -> None:
        super().__init__()
        self.prm, self.commit = prm, commit
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.gesture: object = ("param", next(_gestures))
        self.widget: Any
        if prm.kind == "bool":
            self.widget = QCheckBox()
            self.widget.toggled.connect(lambda on: self.commit(prm.name, 1.0 if on else 0.0, None))
            lay.addWidget(self.widget)
        elif prm.kind == "choice":
            self.widget = QComboBox()
            self.widget.addItems(list(prm.choices))
            self.widget.currentIndexChanged.connect(lambda i: self.commit(prm.name, float(i), None))
            lay.addWidget(self.widget)
        elif prm.kind == "int":
            self.widget = QSpinBox()
            self.widget.setRange(int(prm.minimum), int(prm.maximum))
            self.widget.valueChanged.connect(lambda v: self.commit(prm.name, float(v), ("int", prm.name)))
            lay.addWidget(self.widget)
        else:
            self.slider = QSlider(Qt.Orientation.Horizontal)
            self.slider.setRange(0, self.STEPS)
            self.widget = QDoubleSpinBox()
            self.widget.setRange(prm.minimum, prm.maximum)
            span = prm.maximum - prm.minimum
            self.widget.setDecimals(3 if span <= 10 else 1)
            self.widget.setSingleStep(span / 100)
            if prm.unit:
                self.widget.setSuffix(f" {prm.unit}")
            self.slider.sliderPressed.connect(self._new_gesture)
            self.slider.valueChanged.connect(lambda v: self._from_slider(v))
            self.widget.valueChanged.connect(lambda v: self._from_spin(float(v)))
            lay.addWidget(self.slider, 1)
            lay.addWidget(self.widget)
        self.set_value(value)

    def _new_gesture(self) -> None:
        self.gesture = ("param", next(_gestures))

    def _to_pos(self, v: float) -> int:
        p = self.prm
        if p.log and p.minimum > 0:
            f = math.log(v / p.minimum) / math.log(p.maximum / p.minimum)
        else:
            f = (v - p.minimum) / max(p.maximum - p.minimum, 1e-12)
        return round(min(max(f, 0.0), 1.0) * self.STEPS)

    def _from_pos(self, pos: int) -> float:
        p, f = self.prm, pos / self.STEPS
        if p.log and p.minimum > 0:
            return float(p.minimum * (p.maximum / p.minimum) ** f)
        return p.minimum + f * (p.maximum - p.minimum)

    def _from_slider(self, pos: int) -> None:
        v = self._from_pos(pos)
        self.widget.blockSignals(True)
        self.widget.setValue(v)
        self.widget.blockSignals(False)
        self.commit(self.prm.name, v, self.gesture)

    def _from_spin(self, v: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._to_pos(v))
        self.slider.blockSignals(False)
        self.commit(self.prm.name, v, ("spin", self.prm.name))

    def set_value(self, v: float) -> None:
        self.widget.blockSignals(True)
        if self.prm.kind == "bool":
            self.widget.setChecked(v >= 0.5)
        elif self.prm.kind == "choice":
            self.widget.setCurrentIndex(int(v))
        elif self.prm.kind == "int":
            self.widget.setValue(int(v))
        else:
            self.widget.setValue(v)
            self.slider.blockSignals(True)
            self.slider.setValue(self._to_pos(v))
            self.slider.blockSignals(False)
        self.widget.blockSignals(False)


class ChainEditor(QWidget):
    """The selected strip's plugin chain: add (built-in, LV2, VST3), remove, reorder, bypass, edit."""

    strip_changed = Signal(str, int, str)  # kind, index, name: the strip shown (and analysed)

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.model = ChainModel(session)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel()
        lay.addWidget(self.title)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setMaximumHeight(140)
        lay.addWidget(self.view)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add…")
        self.add_menu = QMenu(self)
        self.add_button.setMenu(self.add_menu)
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("▲")
        self.down_button = QPushButton("▼")
        self.up_button.setToolTip("Move earlier in the chain")
        self.down_button.setToolTip("Move later in the chain")
        for b in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.params = ParamEditor(session)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.params)
        lay.addWidget(scroll, 1)
        self.lv2: list[tuple[str, str]] | None = None
        self._lv2_job: Job | None = None
        self._build_menu()
        self.view.selectionModel().currentChanged.connect(lambda cur, _prev: self._show(cur.row()))
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        session.changed.connect(self._after_change)
        self.set_strip("master", 0)

    def set_strip(self, kind: str, index: int) -> None:
        self.model.set_strip(kind, index)
        p = self.session.project
        name = "Master" if kind == "master" else p.tracks[index].name if index < len(p.tracks) else "?"
        self.title.setText(f"<b>Plugins on {name}</b>")
        self.params.show_slot(kind, index, None)
        self.strip_changed.emit(kind, index, name)

    def _show(self, row: int) -> None:
        self.params.show_slot(self.model.kind, self.model.strip_index, row if row >= 0 else None)

    def _after_change(self) -> None:
        if self.model.kind == "track" and self.model.strip_index >= len(self.session.project.tracks):
            self.set_strip("master", 0)
            return
        self.params.refresh()

    def _build_menu(self) -> None:
        m = self.add_menu
        m.clear()
        for k in EFFECTS:
            m.addAction(k.capitalize() if k != "eq" else "EQ", functools.partial(self.add_kind, k))
        sub = m.addMenu("LV2")
        if self.lv2 is None:
            act = sub.addAction("Scanning installed plugins…")
            act.setEnabled(False)
            sub.aboutToShow.connect(self._scan_lv2)
        else:
            by_letter: dict[str, QMenu] = {}
            for uri, name in sorted(self.lv2, key=lambda x: x[1].lower()):
                letter = name[:1].upper() or "?"
                if letter not in by_letter:
                    by_letter[letter] = sub.addMenu(letter)
                spec = PluginSpec("lv2", options={"uri": uri, "name": name})
                by_letter[letter].addAction(name, functools.partial(self.add, spec))
            if not self.lv2:
                sub.addAction("No LV2 plugins found").setEnabled(False)
        m.addAction("VST3 file…", self._add_vst3)

    def _scan_lv2(self) -> None:
        if self._lv2_job is not None:
            return

        def work(job: Job) -> list[tuple[str, str]]:
            from engine.plugins.lv2 import installed_plugins

            try:
                return installed_plugins()
            except (OSError, UserError):
                return []

        def done(found: list[tuple[str, str]]) -> None:
            self.lv2 = found
            self._build_menu()

        self._lv2_job = self.session.jobs.submit("Scanning LV2 plugins", work, done)

    def _add_vst3(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a VST3 plugin", str(Path.home()), "VST3 plugins (*.vst3)")
        if path:
            self.add(PluginSpec("vst3", options={"path": path}))

    def add_kind(self, kind: str) -> None:
        self.add(PluginSpec(kind))

    def add(self, spec: PluginSpec) -> None:
        try:
            self.session.mixer.add_plugin(self.model.kind, self.model.strip_index, spec)
        except UserError as exc:
            self.session.message.emit(str(exc))
            return
        row = self.model.rowCount() - 1
        self.view.setCurrentIndex(self.model.index(row))

    def selected_row(self) -> int:
        return self.view.currentIndex().row()

    def remove_selected(self) -> None:
        row = self.selected_row()
        if row >= 0:
            self.session.mixer.remove_plugin(self.model.kind, self.model.strip_index, row)

    def move_selected(self, delta: int) -> None:
        row = self.selected_row()
        to = row + delta
        if row >= 0 and 0 <= to < self.model.rowCount():
            self.session.mixer.move_plugin(self.model.kind, self.model.strip_index, row, to)
            self.view.setCurrentIndex(self.model.index(to))


class MixerView(QWidget):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        split = QSplitter(Qt.Orientation.Horizontal, self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.top = QHBoxLayout()  # a row above the strips (the auto-mix controls)
        lay.addLayout(self.top)
        lay.addWidget(split)
        self.strip_area = QScrollArea()
        self.strip_area.setWidgetResizable(True)
        self.strip_holder = QWidget()
        self.strip_layout = QHBoxLayout(self.strip_holder)
        self.strip_layout.setContentsMargins(2, 2, 2, 2)
        self.strip_area.setWidget(self.strip_holder)
        split.addWidget(self.strip_area)
        self.chain = ChainEditor(session)
        split.addWidget(self.chain)
        self.spectrum = SpectrumView(session.bridge.sample_rate if session.bridge else session.project.sample_rate)
        split.addWidget(self.spectrum)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setStretchFactor(2, 2)
        split.setSizes([600, 380, 300])
        self.chain.strip_changed.connect(self._analyse)
        self.strip_area.setMinimumWidth(2 * 100 + 20)
        self.strips: list[StripWidget] = []
        self.master: StripWidget | None = None
        session.structure_changed.connect(self.rebuild)
        session.changed.connect(self.refresh)
        if session.bridge is not None:
            session.bridge.meters.connect(self.on_meters)
            bridge = session.bridge  # the engine's rate: the analysed samples are at it
            bridge.analysed.connect(lambda _strip, x: self.spectrum.show_samples(x, bridge.sample_rate))
        self.rebuild()
        self._analyse("master", 0, "Master")

    def _analyse(self, kind: str, index: int, name: str) -> None:
        """The spectrum follows the strip whose chain is shown (the engine's strip index: master is -1)."""
        self.spectrum.set_strip_name(name)
        if self.session.bridge is not None:
            self.session.bridge.send(c.SetAnalyser(-1 if kind == "master" else index))

    def rebuild(self) -> None:
        for s in [*self.strips, *([self.master] if self.master else [])]:
            self.strip_layout.removeWidget(s)
            s.hide()  # deleteLater waits for the event loop: until then it would still be drawn, over new strips
            s.deleteLater()
        while self.strip_layout.count():
            self.strip_layout.takeAt(0)
        self.strips = [StripWidget(self.session, "track", i) for i in range(len(self.session.project.tracks))]
        self.master = StripWidget(self.session, "master", 0)
        for s in [*self.strips]:
            self.strip_layout.addWidget(s)
            s.selected.connect(self.chain.set_strip)
        self.strip_layout.addStretch(1)
        self.strip_layout.addWidget(self.master)
        self.master.selected.connect(self.chain.set_strip)

    def refresh(self) -> None:
        if len(self.strips) != len(self.session.project.tracks):
            self.rebuild()
            return
        for s in self.strips:
            s.refresh()
        if self.master is not None:
            self.master.refresh()

    def on_meters(self, peak: np.ndarray, rms: np.ndarray) -> None:
        n = len(self.session.project.tracks) + len(self.session.project.buses) + 1
        if peak.shape[0] != n or not self.session.graph_current:
            return
        for i, s in enumerate(self.strips):
            s.meter.set_levels(peak[i], rms[i])
        if self.master is not None:
            self.master.meter.set_levels(peak[-1], rms[-1])
