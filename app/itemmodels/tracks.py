"""Qt item models over the session's project: the track table and a strip's plugin chain. They read the
project on demand and write through ``Session`` edits, so every change made through a view is undoable."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app.session import Session, plugin_label
from engine.build import has_midi
from engine.project import PluginSpec

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


class TrackListModel(QAbstractTableModel):
    COLUMNS = ("Name", "Kind", "Gain (dB)", "Pan", "Mute", "Solo")
    NAME, KIND, GAIN, PAN, MUTE, SOLO = range(6)

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        session.changed.connect(self._refresh)

    def _refresh(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.session.project.tracks)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        t = self.session.project.tracks[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == self.NAME:
                return t.name
            if col == self.KIND:
                return "MIDI" if has_midi(t) else "Audio"
            if col == self.GAIN:
                return round(t.gain_db, 2)
            if col == self.PAN:
                return round(t.pan, 2)
        if role == Qt.ItemDataRole.CheckStateRole and col in (self.MUTE, self.SOLO):
            on = t.mute if col == self.MUTE else t.solo
            return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() in (self.NAME, self.GAIN, self.PAN):
            f |= Qt.ItemFlag.ItemIsEditable
        if index.column() in (self.MUTE, self.SOLO):
            f |= Qt.ItemFlag.ItemIsUserCheckable
        return f

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        row, col = index.row(), index.column()
        try:
            if col == self.NAME and role == Qt.ItemDataRole.EditRole:
                name = str(value).strip()
                if not name:
                    return False
                self.session.mixer.set_track(row, name=name)
            elif col == self.GAIN and role == Qt.ItemDataRole.EditRole:
                self.session.mixer.set_track(row, gain_db=min(24.0, max(-60.0, float(value))))
            elif col == self.PAN and role == Qt.ItemDataRole.EditRole:
                self.session.mixer.set_track(row, pan=min(1.0, max(-1.0, float(value))))
            elif col in (self.MUTE, self.SOLO) and role == Qt.ItemDataRole.CheckStateRole:
                on = Qt.CheckState(value) == Qt.CheckState.Checked
                self.session.mixer.set_track(row, **{"mute" if col == self.MUTE else "solo": on})
            else:
                return False
        except (TypeError, ValueError):
            return False
        return True


class ChainModel(QAbstractListModel):
    """The plugin chain of one strip (a track or the master); checkable rows are "enabled" (not bypassed)."""

    def __init__(self, session: Session, kind: str = "master", index: int = 0) -> None:
        super().__init__()
        self.session = session
        self.kind, self.strip_index = kind, index
        session.changed.connect(self._refresh)

    def set_strip(self, kind: str, index: int) -> None:
        self.beginResetModel()
        self.kind, self.strip_index = kind, index
        self.endResetModel()

    def _refresh(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def specs(self) -> list[PluginSpec]:
        p = self.session.project
        if self.kind == "track" and not 0 <= self.strip_index < len(p.tracks):
            return []
        return self.session.mixer.chain_of(p, self.kind, self.strip_index)

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.specs())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.specs()):
            return None
        spec = self.specs()[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{index.row() + 1}. {plugin_label(spec)}"
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Unchecked if spec.bypass else Qt.CheckState.Checked
        if role == Qt.ItemDataRole.ToolTipRole:
            return "Uncheck to bypass"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid():
            return False
        bypass = Qt.CheckState(value) != Qt.CheckState.Checked
        self.session.mixer.set_bypass(self.kind, self.strip_index, index.row(), bypass)
        return True
