"""The Queue panel: drop many audio files (or folders) to separate, split or transcribe them one after the
other, each file's state in a row, with Cancel and Retry (see :mod:`app.batch_queue`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.batch_queue import BatchQueue
from engine.errors import UserError

COMMAND_LABELS = {"separate": "Separate into stems", "split": "Split into voices", "transcribe": "Transcribe to MIDI"}
COLUMNS = ("File", "State", "Output")


class QueuePanel(QWidget):
    def __init__(self, queue: BatchQueue, say: Callable[[str], None]) -> None:
        super().__init__()
        self.queue, self.say = queue, say
        self.setAcceptDrops(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.command = QComboBox()
        for key, label in COMMAND_LABELS.items():
            self.command.addItem(label, key)
        self.command.setToolTip("What the files added next go through")
        self.command.currentIndexChanged.connect(lambda _i: self._guard(self._set_command))
        self.out_label = QLabel()
        self.out_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        choose = QPushButton("Output…")
        choose.setToolTip("Folder for the results: one subfolder per file")
        choose.clicked.connect(self.choose_output)
        add = QPushButton("Add Files…")
        add.clicked.connect(self.add_files)
        for w in (self.command, add, choose):
            top.addWidget(w)
        top.addWidget(self.out_label, 1)
        lay.addLayout(top)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        lay.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        self.summary = QLabel("Drop audio files or folders here")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the selected file (nothing of it is written) or take it out of the queue")
        self.cancel_button.clicked.connect(lambda: self._guard(lambda: self._each_selected(self.queue.cancel)))
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Queue the selected failed or cancelled files again")
        self.retry_button.clicked.connect(lambda: self._guard(lambda: self._each_selected(self.queue.retry)))
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(self.retry_button)
        lay.addLayout(bottom)
        queue.changed.connect(self._refresh)
        self._refresh(-1)

    def _guard(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except UserError as exc:
            self.say(str(exc))

    def _set_command(self) -> None:
        self.queue.set_command(str(self.command.currentData()))

    def _each_selected(self, fn: Callable[[int], None]) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if not rows:
            raise UserError("select files in the queue first")
        for r in rows:
            fn(r)

    def add(self, paths: list[str]) -> None:
        self._guard(lambda: self.say(f"queued {self.queue.add(paths)} files for {self.queue.command}"))

    def add_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add audio files to the queue", str(Path.home()))
        if paths:
            self.add(paths)

    def choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder for the queue", str(self.queue.out))
        if folder:
            self.queue.set_output(folder)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add(paths)

    def _refresh(self, index: int) -> None:
        q = self.queue
        self.out_label.setText(f"→ {q.out}")
        rows = range(len(q.rows)) if index < 0 else [index]
        self.table.setRowCount(len(q.rows))
        for k in rows:
            r = q.rows[k]
            state = f"running {r.progress * 100:.0f} %" if r.state == "running" else r.state
            if r.item.error and r.state == "failed":
                state += f": {r.item.error}"
            cells = (Path(r.item.input).name, state, r.item.name)
            for c, text in enumerate(cells):
                item = self.table.item(k, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(k, c, item)
                item.setText(text)
                if c == 1:
                    item.setToolTip(text)
        n = q.counts()
        self.summary.setText(", ".join(f"{v} {s}" for s, v in n.items() if v) or "Drop audio files or folders here")


def add_panel_toggles(menu: QMenu, docks: list[QDockWidget], toolbar: QToolBar) -> None:
    """View-menu entries that show and hide every panel (Alt+1, Alt+2, ...) and the transport bar; each
    entry is checked while its panel is shown."""
    for k, dock in enumerate(docks, start=1):
        action = dock.toggleViewAction()
        action.setText(f"{dock.windowTitle()} Panel")
        action.setShortcut(QKeySequence(f"Alt+{k}"))
        menu.addAction(action)
    bar = toolbar.toggleViewAction()
    bar.setText("Transport Bar")
    menu.addAction(bar)
