"""The spectrum analyser of the selected strip: the engine keeps the strip's last 4,096 samples
(post-fader, mono; ``SetAnalyser``), the bridge delivers them about 40 times a second while playing, and this
view draws their magnitude spectrum (Hann window, dBFS of a full-scale sine) on a log-frequency axis, with
the peaks falling back at :data:`FALL_DB_PER_S`."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

LOW_HZ, HIGH_HZ = 20.0, 20000.0
FLOOR_DB, TOP_DB = -96.0, 0.0
FALL_DB_PER_S = 24.0
POINTS = 160  # log-spaced columns drawn
UPDATES_HZ = 15.0  # redraws per second at most (the engine reports about 40 times a second)


def spectrum_db(samples: np.ndarray, rate: int, points: int = POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies (points,), level dBFS (points,)) of (n,) ``samples``: Hann-windowed magnitude, scaled so
    a full-scale sine reads 0 dB, taking the largest bin within each log-spaced column."""
    n = samples.shape[0]
    w = np.hanning(n).astype(np.float32)
    mag = np.abs(np.fft.rfft(samples.astype(np.float32) * w)) * (2.0 / w.sum())
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    edges = np.geomspace(LOW_HZ, min(HIGH_HZ, rate / 2), points + 1)
    lo = np.minimum(np.searchsorted(freqs, edges[:-1]), mag.shape[0] - 1)
    # the largest bin from each column's first bin to the next column's (one reduceat, no Python loop);
    # columns narrower than a bin repeat their bin
    peak = np.maximum.reduceat(mag, lo)
    out = 20 * np.log10(np.maximum(peak, 1e-9))
    centres = np.sqrt(edges[:-1] * edges[1:])
    return centres, np.clip(out, FLOOR_DB, TOP_DB + 12)


class SpectrumView(QWidget):
    def __init__(self, rate: int = 44100) -> None:
        super().__init__()
        self.rate = rate
        self.title = ""
        self.freqs = np.geomspace(LOW_HZ, HIGH_HZ, POINTS)
        self.levels = np.full(POINTS, FLOOR_DB)
        self._last = 0.0
        self._grid: QPixmap | None = None
        self.setMinimumSize(220, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Spectrum of the selected strip while playing (click a strip to choose)")

    def set_strip_name(self, name: str) -> None:
        self.title = name
        self.levels[:] = FLOOR_DB
        self.update()

    def show_samples(self, samples: np.ndarray, rate: int | None = None) -> None:
        """New samples of the analysed strip: the display rises at once and falls at FALL_DB_PER_S. At most
        UPDATES_HZ redraws, and none while hidden: the GUI thread's time is the app's."""
        now = time.monotonic()
        if not self.isVisible() or now - self._last < 1.0 / UPDATES_HZ:
            return
        fall = FALL_DB_PER_S * min(1.0, now - self._last)
        self._last = now
        self.freqs, level = spectrum_db(samples, rate or self.rate)
        self.levels = np.maximum(level, self.levels - fall)
        self.update()

    def _plot(self) -> QRectF:
        return QRectF(self.rect()).adjusted(30, 16, -6, -14)

    def _x(self, f: np.ndarray | float, r: QRectF) -> np.ndarray:
        return np.asarray(r.left() + r.width() * np.log(np.asarray(f) / LOW_HZ) / np.log(HIGH_HZ / LOW_HZ))

    def _y(self, db: np.ndarray | float, r: QRectF) -> np.ndarray:
        y = r.top() + r.height() * (TOP_DB - np.asarray(db)) / (TOP_DB - FLOOR_DB)
        return np.clip(y, r.top(), r.bottom())

    def _background(self, r: QRectF) -> QPixmap:
        """The grid and its labels, drawn once per size."""
        if self._grid is not None and self._grid.size() == self.size():
            return self._grid
        grid = QPixmap(self.size())
        p = QPainter(grid)
        p.fillRect(self.rect(), QColor(24, 26, 30))
        p.setPen(QColor(60, 64, 72))
        for f in (100, 1000, 10000):
            x = float(self._x(f, r))
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            label = f"{f // 1000}k" if f >= 1000 else str(f)
            p.drawText(QRectF(x - 20, r.bottom() + 1, 40, 12), Qt.AlignmentFlag.AlignCenter, label)
        for db in (-24, -48, -72):
            y = float(self._y(db, r))
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
            p.drawText(QRectF(0, y - 6, 28, 12), Qt.AlignmentFlag.AlignRight, str(db))
        p.end()
        self._grid = grid
        return grid

    def paintEvent(self, _ev: Any) -> None:
        r = self._plot()
        p = QPainter(self)
        p.drawPixmap(0, 0, self._background(r))
        xs, ys = self._x(self.freqs, r), self._y(self.levels, r)
        p.setPen(QPen(QColor(86, 156, 214), 1.5))
        p.drawPolyline(QPolygonF([QPointF(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]))
        p.setPen(QColor(180, 180, 190))
        p.drawText(QRectF(r.left(), 0, r.width(), 14), Qt.AlignmentFlag.AlignLeft, f"Spectrum: {self.title}")
        p.end()
