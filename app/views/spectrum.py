"""The spectrum analyser of the selected strip: the engine keeps the strip's last 4,096 samples
(post-fader, mono; ``SetAnalyser``), the bridge delivers them about 40 times a second while playing, and this
view draws their magnitude spectrum (Hann window, dBFS of a full-scale sine) on a log-frequency axis, with
the peaks falling back at :data:`FALL_DB_PER_S`."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LOW_HZ, HIGH_HZ = 20.0, 20000.0
FLOOR_DB, TOP_DB = -96.0, 0.0
FALL_DB_PER_S = 24.0
POINTS = 160  # log-spaced columns drawn


def spectrum_db(samples: np.ndarray, rate: int, points: int = POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies (points,), level dBFS (points,)) of (n,) ``samples``: Hann-windowed magnitude, scaled so
    a full-scale sine reads 0 dB, taking the largest bin within each log-spaced column."""
    n = samples.shape[0]
    w = np.hanning(n).astype(np.float32)
    mag = np.abs(np.fft.rfft(samples.astype(np.float32) * w)) * (2.0 / w.sum())
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    edges = np.geomspace(LOW_HZ, min(HIGH_HZ, rate / 2), points + 1)
    idx = np.searchsorted(freqs, edges)
    out = np.full(points, FLOOR_DB)
    for k in range(points):
        lo, hi = idx[k], max(idx[k + 1], idx[k] + 1)
        if lo < mag.shape[0]:
            out[k] = 20 * np.log10(max(float(mag[lo:hi].max()), 1e-9))
    centres = np.sqrt(edges[:-1] * edges[1:])
    return centres, np.clip(out, FLOOR_DB, TOP_DB + 12)


class SpectrumView(QWidget):
    def __init__(self, rate: int = 44100) -> None:
        super().__init__()
        self.rate = rate
        self.title = ""
        self.freqs = np.geomspace(LOW_HZ, HIGH_HZ, POINTS)
        self.levels = np.full(POINTS, FLOOR_DB)
        self._last = time.monotonic()
        self.setMinimumSize(220, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Spectrum of the selected strip while playing (click a strip to choose)")

    def set_strip_name(self, name: str) -> None:
        self.title = name
        self.levels[:] = FLOOR_DB
        self.update()

    def show_samples(self, samples: np.ndarray, rate: int | None = None) -> None:
        """New samples of the analysed strip: the display rises at once and falls at FALL_DB_PER_S."""
        now = time.monotonic()
        fall = FALL_DB_PER_S * min(1.0, now - self._last)
        self._last = now
        self.freqs, level = spectrum_db(samples, rate or self.rate)
        self.levels = np.maximum(level, self.levels - fall)
        self.update()

    def _xy(self, f: float, db: float, r: QRectF) -> QPointF:
        x = r.left() + r.width() * np.log(f / LOW_HZ) / np.log(HIGH_HZ / LOW_HZ)
        y = r.top() + r.height() * (TOP_DB - db) / (TOP_DB - FLOOR_DB)
        return QPointF(float(x), float(min(max(y, r.top()), r.bottom())))

    def paintEvent(self, _ev: Any) -> None:
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(30, 16, -6, -14)
        p.fillRect(self.rect(), QColor(24, 26, 30))
        p.setPen(QColor(60, 64, 72))
        for f in (100, 1000, 10000):
            a = self._xy(f, TOP_DB, r)
            p.drawLine(QPointF(a.x(), r.top()), QPointF(a.x(), r.bottom()))
            p.drawText(
                QRectF(a.x() - 20, r.bottom() + 1, 40, 12),
                Qt.AlignmentFlag.AlignCenter,
                f"{f // 1000}k" if f >= 1000 else str(f),
            )
        for db in (-24, -48, -72):
            a = self._xy(LOW_HZ, db, r)
            p.drawLine(QPointF(r.left(), a.y()), QPointF(r.right(), a.y()))
            p.drawText(QRectF(0, a.y() - 6, 28, 12), Qt.AlignmentFlag.AlignRight, str(db))
        path = QPainterPath()
        for k, (f, db) in enumerate(zip(self.freqs, self.levels, strict=True)):
            pt = self._xy(float(f), float(db), r)
            path.moveTo(pt) if k == 0 else path.lineTo(pt)
        p.setPen(QPen(QColor(86, 156, 214), 1.5))
        p.drawPath(path)
        p.setPen(QColor(180, 180, 190))
        p.drawText(QRectF(r.left(), 0, r.width(), 14), Qt.AlignmentFlag.AlignLeft, f"Spectrum: {self.title}")
        p.end()
