"""Arrangement: a time ruler over one lane per track (waveform for audio, piano roll for MIDI), with zoom,
scroll, the playhead and a loop region. Click the ruler to seek, drag on it to set the loop. Drag a clip to
move it, an audio clip's edge to trim it (both snap to the beat; Shift: free), each one undo step."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QLineF, QMimeData, QPointF, QRectF, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QImage, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget

from app.media import AudioOverview, MidiOverview, clip_seconds
from app.session import Session
from app.stems import depths
from app.views.clip_drag import ClipDrag, snap
from engine.build import has_midi
from engine.errors import UserError
from engine.project import Clip

HEADER = 150
RULER = 26
LANE = 72
MIN_PPS, MAX_PPS = 2.0, 2000.0
LANE_COLOURS = [QColor(86, 156, 214), QColor(206, 145, 120), QColor(106, 190, 120), QColor(197, 134, 192)]
INDENT = 14  # a stem's header sits this far right of its source's, under a bracket in the source's colour


def lane_colours(tracks: list[Any]) -> list[QColor]:
    """One colour per lane; stems take their source's colour so a separation reads as one group."""
    by_id: dict[str, QColor] = {}
    out = []
    for i, t in enumerate(tracks):
        colour = by_id.get(t.group) if t.group else None
        colour = colour if colour is not None else LANE_COLOURS[i % len(LANE_COLOURS)]
        by_id.setdefault(t.id, colour)
        out.append(colour)
    return out


def file_mime(path: str) -> QMimeData:
    """What a lane dragged out of the app carries: its audio file, as a file manager or another DAW takes it."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(path)])
    return mime


class ArrangementView(QAbstractScrollArea):
    seek_requested = Signal(float)  # seconds
    loop_changed = Signal(object)  # (start_s, end_s) or None
    track_selected = Signal(int)
    context_requested = Signal(int, object)  # lane, global position

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.pps = 40.0  # pixels per second
        self.playhead = 0.0
        self.playing = False
        self.loop: tuple[float, float] | None = None
        self.selected = -1
        self._drag_from: float | None = None
        self._press_header: tuple[int, QPointF] | None = None  # a left press on a header may start a drag out
        self._clip_drag: ClipDrag | None = None
        self._x_lo, self._x_hi = HEADER, 0
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)  # the cursor shows where a press trims a clip
        self.viewport().setAutoFillBackground(False)
        session.changed.connect(self._content_changed)
        session.document_reset.connect(self.reset)
        session.media_changed.connect(self._content_changed)
        self.horizontalScrollBar().valueChanged.connect(self.viewport().update)
        self.verticalScrollBar().valueChanged.connect(self.viewport().update)
        self._content_changed()

    def reset(self) -> None:
        """A new document: no selection, loop or playhead from the old one; default zoom, scrolled home."""
        self.selected = -1
        self.loop = None
        self.playhead, self.playing = 0.0, False
        self.pps = 40.0
        self._update_scrollbars()
        self.horizontalScrollBar().setValue(0)
        self.verticalScrollBar().setValue(0)
        self.viewport().update()

    # -- geometry --------------------------------------------------------------------------------------
    def seconds(self) -> float:
        return max(30.0, self.session.seconds() + 8.0)

    def _content_changed(self) -> None:
        if self.selected >= len(self.session.project.tracks):
            self.selected = len(self.session.project.tracks) - 1
        self._update_scrollbars()
        self.viewport().update()

    def _update_scrollbars(self) -> None:
        vw = max(1, self.viewport().width() - HEADER)
        total = int(self.seconds() * self.pps)
        hs = self.horizontalScrollBar()
        hs.setRange(0, max(0, total - vw))
        hs.setPageStep(vw)
        hs.setSingleStep(max(1, vw // 20))
        vh = max(1, self.viewport().height() - RULER)
        vs = self.verticalScrollBar()
        vs.setRange(0, max(0, len(self.session.project.tracks) * LANE - vh))
        vs.setPageStep(vh)
        vs.setSingleStep(LANE // 3)

    def resizeEvent(self, ev: Any) -> None:
        super().resizeEvent(ev)
        self._update_scrollbars()

    def x_of(self, seconds: float) -> float:
        return HEADER + seconds * self.pps - self.horizontalScrollBar().value()

    def t_of(self, x: float) -> float:
        return max(0.0, (x - HEADER + self.horizontalScrollBar().value()) / self.pps)

    def set_zoom(self, pps: float, anchor_x: float | None = None) -> None:
        """Zoom horizontally, keeping the time under ``anchor_x`` (default: the playhead or left edge) fixed."""
        pps = float(min(max(pps, MIN_PPS), MAX_PPS))
        ax = anchor_x if anchor_x is not None else max(float(HEADER), min(self.x_of(self.playhead), self.width()))
        t = self.t_of(ax)
        self.pps = pps
        self._update_scrollbars()
        self.horizontalScrollBar().setValue(int(t * pps - (ax - HEADER)))
        self.viewport().update()

    def zoom_in(self) -> None:
        self.set_zoom(self.pps * 1.5)

    def zoom_out(self) -> None:
        self.set_zoom(self.pps / 1.5)

    def zoom_fit(self) -> None:
        w = max(100, self.viewport().width() - HEADER - 10)
        self.set_zoom(w / self.seconds())
        self.horizontalScrollBar().setValue(0)

    # -- transport feedback ------------------------------------------------------------------------------
    def set_playhead(self, seconds: float, playing: bool) -> None:
        old = self.x_of(self.playhead)
        self.playhead, self.playing = seconds, playing
        x = self.x_of(seconds)
        if playing and (x > self.viewport().width() - 20 or x < HEADER):
            hs = self.horizontalScrollBar()
            hs.setValue(int(seconds * self.pps) - 40)  # follow: page on when the playhead leaves the view
            return
        h = self.viewport().height()
        lo, hi = min(old, x), max(old, x)
        self.viewport().update(int(lo) - 2, 0, int(hi - lo) + 5, h)

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        self.loop = loop
        self.viewport().update()

    # -- painting -------------------------------------------------------------------------------------------
    def paintEvent(self, ev: Any) -> None:
        p = QPainter(self.viewport())
        w, h = self.viewport().width(), self.viewport().height()
        dirty = ev.rect()  # playhead moves repaint a thin strip: compute only what is in it
        self._x_lo, self._x_hi = max(HEADER, dirty.left() - 1), min(w, dirty.right() + 2)
        p.fillRect(0, 0, w, h, QColor(30, 32, 36))
        tracks = self.session.project.tracks
        top = RULER - self.verticalScrollBar().value()
        p.setClipRect(HEADER, RULER, w - HEADER, h - RULER)
        if self.loop is not None:
            x0, x1 = self.x_of(self.loop[0]), self.x_of(self.loop[1])
            p.fillRect(QRectF(x0, RULER, x1 - x0, h), QColor(80, 120, 200, 40))
        colours = lane_colours(tracks)
        for i, t in enumerate(tracks):
            y = top + i * LANE
            if y + LANE < RULER or y > h:
                continue
            bg = QColor(44, 48, 56) if i != self.selected else QColor(56, 62, 76)
            p.fillRect(HEADER, y, w - HEADER, LANE - 1, bg)
            colour = colours[i]
            for k, cl in enumerate(t.clips):
                d = self._clip_drag
                if d is not None and (d.lane, d.index) == (i, k):
                    cl = d.preview()
                ov = self.session.media.get(cl.path)
                if ov is None:
                    continue
                length = clip_seconds(cl, ov, self.session.project.tempo)
                x0, x1 = self.x_of(cl.start), self.x_of(cl.start + length)
                if x1 < self._x_lo or x0 > self._x_hi:
                    continue
                box = QRectF(x0, y + 2, max(1.0, x1 - x0), LANE - 5)
                p.fillRect(box, colour.darker(260))
                p.setPen(colour.darker(150))
                p.drawRect(box)
                if isinstance(ov, AudioOverview):
                    self._draw_wave(p, ov, cl.start, cl.offset, box, colour, t.gain_db + cl.gain_db)
                else:
                    self._draw_notes(p, ov, cl.start, box, colour, cl.follow_tempo)
        self._draw_grid(p, w, h)
        p.setClipping(False)
        self._draw_headers(p, top, h, colours)
        self._draw_ruler(p, w)
        x = self.x_of(self.playhead)
        if x >= HEADER:
            p.setPen(QPen(QColor(255, 80, 70), 1.5))
            p.drawLine(QLineF(x, 0, x, h))
        p.end()

    def _draw_wave(
        self, p: QPainter, ov: AudioOverview, start: float, offset: float, box: QRectF, colour: QColor, gain_db: float
    ) -> None:
        x0 = max(int(box.left()), self._x_lo)
        x1 = min(int(box.right()), self._x_hi)
        if x1 <= x0:
            return
        xs = np.arange(x0, x1 + 1, dtype=np.float64)
        t = (xs - HEADER + self.horizontalScrollBar().value()) / self.pps - start + offset
        idx = np.clip((t * ov.rate).astype(np.int64), 0, ov.lo.shape[0] - 1)
        lo = np.minimum.reduceat(ov.lo, idx[:-1]) if len(idx) > 1 else ov.lo[idx]
        hi = np.maximum.reduceat(ov.hi, idx[:-1]) if len(idx) > 1 else ov.hi[idx]
        g = min(4.0, 10 ** (gain_db / 20))
        rows = max(2, int(box.height()) - 2)
        half = rows / 2
        # One image for the whole visible waveform, filled column by column in numpy: no Python loop per pixel.
        top = np.clip(half - hi * g * half, 0, rows - 1)
        bottom = np.clip(half - lo * g * half, 0, rows - 1)
        yy = np.arange(rows, dtype=np.float32)[:, None]
        mask = (yy >= np.floor(top)[None, :]) & (yy <= np.ceil(bottom)[None, :])
        rgba = np.zeros((rows, mask.shape[1], 4), np.uint8)
        c = colour.lighter(120)
        rgba[mask] = (c.blue(), c.green(), c.red(), 255)  # QImage ARGB32 is BGRA in memory
        img = QImage(rgba.data, mask.shape[1], rows, 4 * mask.shape[1], QImage.Format.Format_ARGB32)
        p.drawImage(QPointF(x0, box.top() + 1), img)

    def _draw_notes(
        self, p: QPainter, ov: MidiOverview, start: float, box: QRectF, colour: QColor, follow: bool
    ) -> None:
        if ov.notes.shape[0] == 0:
            return
        lo, hi = ov.low - 1, ov.high + 1
        step = (box.height() - 4) / max(1, hi - lo + 1)
        k = ov.scale(self.session.project.tempo) if follow else 1.0  # the clip plays at the project's tempo
        t0, t1 = (self.t_of(self._x_lo) - start) / k, (self.t_of(self._x_hi) - start) / k
        notes = ov.notes[(ov.notes[:, 1] >= t0) & (ov.notes[:, 0] <= t1)]
        if notes.shape[0] == 0:
            return
        xs = HEADER - self.horizontalScrollBar().value() + (start + notes[:, 0] * k) * self.pps
        ys = box.bottom() - 2 - (notes[:, 2] - lo + 1) * step
        ws = np.maximum(1.5, (notes[:, 1] - notes[:, 0]) * k * self.pps)
        hh = max(1.5, step)
        loud = notes[:, 3] >= 80
        p.setPen(Qt.PenStyle.NoPen)
        for group, shade in ((~loud, 110), (loud, 150)):  # two velocity shades: one brush change each
            p.setBrush(colour.lighter(shade))
            p.drawRects([QRectF(x, y, ww, hh) for x, y, ww in zip(xs[group], ys[group], ws[group], strict=True)])

    def _bar_lines(self, min_px: float, w: int) -> list[tuple[int, float]]:
        """(bar number, x) of the visible bar lines, thinned by powers of two to at least ``min_px`` apart."""
        bar = 4 * 60.0 / self.session.project.tempo
        every = 1
        while bar * every * self.pps < min_px:
            every *= 2
        out = []
        k = int(self.t_of(HEADER) / (bar * every))
        while (x := self.x_of(k * bar * every)) <= w:
            out.append((k * every + 1, x))
            k += 1
        return out

    def _draw_grid(self, p: QPainter, w: int, h: int) -> None:
        p.setPen(QColor(255, 255, 255, 18))
        p.drawLines([QLineF(x, RULER, x, h) for _, x in self._bar_lines(24, w)])

    def _draw_ruler(self, p: QPainter, w: int) -> None:
        p.fillRect(0, 0, w, RULER, QColor(38, 40, 46))
        p.setPen(QColor(160, 160, 170))
        p.setFont(QFont(p.font().family(), 8))
        p.setClipRect(HEADER, 0, w - HEADER, RULER)
        if self.loop is not None:
            x0, x1 = self.x_of(self.loop[0]), self.x_of(self.loop[1])
            p.fillRect(QRectF(x0, 2, x1 - x0, RULER - 4), QColor(80, 130, 220, 120))
        for number, x in self._bar_lines(48, w):
            p.drawLine(QLineF(x, RULER - 8, x, RULER))
            p.drawText(QPointF(x + 3, RULER - 10), str(number))
        p.setClipping(False)
        p.fillRect(0, 0, HEADER, RULER, QColor(38, 40, 46))
        p.drawText(QPointF(8, RULER - 9), "bar")

    def _draw_headers(self, p: QPainter, top: int, h: int, colours: list[QColor]) -> None:
        p.fillRect(0, RULER, HEADER, h, QColor(36, 38, 44))
        p.setClipRect(0, RULER, HEADER, h - RULER)
        tracks = self.session.project.tracks
        levels, labels = depths(tracks), self.session.stems.labels()
        for i, t in enumerate(tracks):
            y = top + i * LANE
            if y + LANE < RULER or y > h:
                continue
            level = levels[i]
            stem = level > 0
            x = INDENT * level
            p.fillRect(x, y, HEADER - 1 - x, LANE - 1, QColor(50, 54, 62) if i == self.selected else QColor(42, 45, 52))
            p.fillRect(x, y, 4, LANE - 1, colours[i])
            if stem:  # the bracket that ties a stem to the source above it
                p.fillRect(x - INDENT // 2 - 1, y - 1, 2, LANE, colours[i].darker(140))
            p.setPen(QColor(225, 225, 230))
            label = labels[i]
            p.drawText(QRectF(x + 10, y + 6, HEADER - 14 - x, 18), Qt.AlignmentFlag.AlignLeft, label)
            p.setPen(QColor(150, 150, 160))
            kind = "Stem" if stem else "MIDI" if has_midi(t) else "Audio"
            flags = kind + ("  M" if t.mute else "") + ("  S" if t.solo else "")
            p.drawText(QRectF(x + 10, y + 26, HEADER - 14 - x, 16), Qt.AlignmentFlag.AlignLeft, flags)
            p.drawText(QRectF(x + 10, y + 44, HEADER - 14 - x, 16), Qt.AlignmentFlag.AlignLeft, f"{t.gain_db:+.1f} dB")
        p.setClipping(False)

    # -- input ------------------------------------------------------------------------------------------------
    def lane_at(self, y: float) -> int:
        if y < RULER:
            return -1
        i = int((y - RULER + self.verticalScrollBar().value()) // LANE)
        return i if 0 <= i < len(self.session.project.tracks) else -1

    def clip_under(self, lane: int, x: float) -> tuple[int, Clip, float, float, float] | None:
        """(index, clip, x0, x1, file seconds) of the topmost clip of ``lane`` under ``x``, or None."""
        if lane < 0 or x < HEADER:
            return None
        hit = None
        for k, cl in enumerate(self.session.project.tracks[lane].clips):
            ov = self.session.media.get(cl.path)
            if ov is None:
                continue
            x0, x1 = self.x_of(cl.start), self.x_of(cl.start + clip_seconds(cl, ov, self.session.project.tempo))
            if x0 - 2 <= x <= x1 + 2:
                hit = (k, cl, x0, x1, float(ov.seconds))
        return hit

    def split_at_playhead(self) -> None:
        """Split the selected track's clip under the playhead in two (one undo step)."""
        from app.clip_edits import clip_at, split_clip

        lane = self.selected
        if not 0 <= lane < len(self.session.project.tracks):
            raise UserError("select a track first")
        project, t = self.session.project, self.playhead
        lengths, files = {}, {}
        for i, cl in enumerate(project.tracks[lane].clips):  # by time: the playhead may be scrolled out of view
            ov = self.session.media.get(cl.path)
            if ov is not None:
                lengths[i], files[i] = clip_seconds(cl, ov, project.tempo), float(ov.seconds)
        k = clip_at(project, lane, t, lengths)
        if k is None:
            raise UserError("put the playhead inside a clip of the selected track to split it")
        self.session.edit("Split Clip", lambda p: split_clip(p, lane, k, t, files[k]))

    def mousePressEvent(self, ev: Any) -> None:
        pos = ev.position()
        if pos.y() < RULER and pos.x() >= HEADER:
            self._drag_from = self.t_of(pos.x())
            return
        lane = self.lane_at(pos.y())
        under = self.clip_under(lane, pos.x()) if ev.button() == Qt.MouseButton.LeftButton else None
        if under is not None:
            k, cl, x0, x1, secs = under
            t = self.t_of(pos.x())
            self._clip_drag = ClipDrag(lane, k, ClipDrag.mode_at(pos.x(), x0, x1, cl.is_midi), t, cl, secs, t)
        if lane >= 0:
            self.selected = lane
            self.track_selected.emit(lane)
            self.viewport().update()
            if ev.button() == Qt.MouseButton.RightButton:
                self.context_requested.emit(lane, ev.globalPosition().toPoint())
                return
            if pos.x() < HEADER and ev.button() == Qt.MouseButton.LeftButton:
                self._press_header = (lane, pos)
        if pos.x() >= HEADER and ev.button() == Qt.MouseButton.LeftButton and lane < 0:
            self.seek_requested.emit(self.t_of(pos.x()))

    def drag_path(self, lane: int) -> str | None:
        """The file a lane's header drags out: the audio of a track with one audio clip, else nothing."""
        tracks = self.session.project.tracks
        if not 0 <= lane < len(tracks):
            return None
        clips = tracks[lane].clips
        return clips[0].path if len(clips) == 1 and not clips[0].is_midi else None

    def _drag_clip_to(self, x: float, free: bool) -> None:
        d = self._clip_drag
        assert d is not None
        t = self.t_of(x)
        tempo = self.session.project.tempo
        if d.mode == "move":  # the clip's start lands on the grid, wherever it was grabbed
            d.at = d.grab + snap(d.clip.start + t - d.grab, tempo, free) - d.clip.start
        else:
            d.at = snap(t, tempo, free)
        self.viewport().update()

    def mouseMoveEvent(self, ev: Any) -> None:
        free = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if self._clip_drag is not None and ev.buttons() & Qt.MouseButton.LeftButton:
            self._drag_clip_to(ev.position().x(), free)
            return
        if not ev.buttons():
            under = self.clip_under(self.lane_at(ev.position().y()), ev.position().x())
            edge = under is not None and ClipDrag.mode_at(ev.position().x(), under[2], under[3], under[1].is_midi)
            trims = edge in ("left", "right")
            self.viewport().setCursor(Qt.CursorShape.SizeHorCursor if trims else Qt.CursorShape.ArrowCursor)
            return
        if self._press_header is not None and ev.buttons() & Qt.MouseButton.LeftButton:
            lane, at = self._press_header
            path = self.drag_path(lane)
            if path is not None and (ev.position() - at).manhattanLength() >= QApplication.startDragDistance():
                self._press_header = None
                drag = QDrag(self)
                drag.setMimeData(file_mime(path))
                drag.exec(Qt.DropAction.CopyAction)
            return
        if self._drag_from is None:
            return
        t = self.t_of(ev.position().x())
        if abs(t - self._drag_from) * self.pps > 4:
            self.loop = (min(t, self._drag_from), max(t, self._drag_from))
            self.viewport().update()

    def mouseReleaseEvent(self, ev: Any) -> None:
        self._press_header = None
        d, self._clip_drag = self._clip_drag, None
        if d is not None:
            clips = self.session.project.tracks[d.lane].clips if d.lane < len(self.session.project.tracks) else []
            if d.index >= len(clips) or clips[d.index] != d.clip:
                self.session.message.emit("the clip changed while dragging (an undo or a job): drag it again")
            elif d.preview() != d.clip:
                try:
                    self.session.edit(d.text, lambda p: d.apply(p, d.lane, d.index))
                except UserError as exc:
                    self.session.message.emit(str(exc))
            self.viewport().update()
            return
        if self._drag_from is None:
            return
        t = self.t_of(ev.position().x())
        if abs(t - self._drag_from) * self.pps > 4:
            self.loop = (min(t, self._drag_from), max(t, self._drag_from))
            self.loop_changed.emit(self.loop)
        else:
            self.seek_requested.emit(self._drag_from)
        self._drag_from = None
        self.viewport().update()

    def mouseDoubleClickEvent(self, ev: Any) -> None:
        if ev.position().x() >= HEADER:
            self.seek_requested.emit(self.t_of(ev.position().x()))

    def wheelEvent(self, ev: Any) -> None:
        d = ev.angleDelta()
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self.pps * (1.25 if d.y() > 0 else 0.8), ev.position().x())
        elif ev.modifiers() & Qt.KeyboardModifier.ShiftModifier or d.x():
            hs = self.horizontalScrollBar()
            hs.setValue(hs.value() - (d.x() or d.y()))
        else:
            super().wheelEvent(ev)

    def keyPressEvent(self, ev: Any) -> None:
        if ev.matches(QKeySequence.StandardKey.ZoomIn) or ev.key() in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif ev.matches(QKeySequence.StandardKey.ZoomOut) or ev.key() == Qt.Key.Key_Minus:
            self.zoom_out()
        elif ev.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected >= 0:
            self.session.mixer.remove_track(self.selected)
        elif ev.key() == Qt.Key.Key_Up and self.selected > 0:
            self.selected -= 1
            self.track_selected.emit(self.selected)
            self.viewport().update()
        elif ev.key() == Qt.Key.Key_Down and self.selected < len(self.session.project.tracks) - 1:
            self.selected += 1
            self.track_selected.emit(self.selected)
            self.viewport().update()
        else:
            super().keyPressEvent(ev)
