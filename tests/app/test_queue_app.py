"""The Queue panel on real widgets: files dropped on it are separated one after the other on the worker
process, each row shows its state, a bad file fails alone, Cancel stops the running file without writing any
of it, Retry finishes it, and the manifest is the command line's (a CLI rerun has nothing left to do). The
View menu shows and hides every panel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.batch import MANIFEST
from app.main_window import MainWindow
from tests.app.test_batch import ROOT, _songs


def _drop(panel, paths: list[Path]) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    ev = QDropEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    panel.dropEvent(ev)


def test_queue_runs_dropped_files_with_cancel_and_retry(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    q, panel = window.queue, window.queue_panel
    q.set_output(tmp_path / "out")
    short = _songs(tmp_path / "in", 2, 1.0)
    (tmp_path / "in" / "broken.wav").write_text("not audio")
    _drop(panel, [tmp_path / "in"])
    assert panel.table.rowCount() == 3
    qtbot.waitUntil(lambda: all(r.state in ("done", "failed") for r in q.rows), timeout=120000)
    states = {r.item.name: r.state for r in q.rows}
    assert states == {"broken": "failed", "song 01": "done", "song 02": "done"}
    assert panel.table.item(0, 1).text().startswith("failed: cannot decode")
    for s in short:
        assert sorted(f.name for f in (tmp_path / "out" / s.stem).iterdir()) == [
            "bass.wav", "drums.wav", "other.wav", "vocals.wav",
        ]  # fmt: skip

    long = _songs(tmp_path / "long", 1, 120.0)[0]
    panel.add([str(long)])
    row = len(q.rows) - 1
    qtbot.waitUntil(lambda: q.rows[row].state == "running" and q.rows[row].progress > 0.05, timeout=60000)
    panel.table.selectRow(row)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: q.rows[row].state == "cancelled", timeout=60000)
    name = q.rows[row].item.name
    assert name == "song 01 (2)"  # two inputs of one name get two folders
    assert not (tmp_path / "out" / name).exists()  # nothing of a cancelled file is written
    panel.retry_button.click()
    qtbot.waitUntil(lambda: q.rows[row].state == "done", timeout=120000)
    assert (tmp_path / "out" / name / "vocals.wav").exists()
    assert "3 done" in panel.summary.text() and "1 failed" in panel.summary.text()

    items = json.loads((tmp_path / "out" / MANIFEST).read_text())["items"]
    assert sorted(i["state"] for i in items) == ["done", "done", "done", "failed"]
    files = [str(s) for s in short] + [str(long)]
    cli = subprocess.run(
        [sys.executable, "-m", "app.cli", "separate", *files, "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "3 inputs: 3 already done, 0 to separate" in cli.stderr


def test_view_menu_toggles_every_panel(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    toggles = {a.text(): a for a in view.actions() if a.isCheckable()}
    assert set(toggles) == {"Form Panel", "Mixer Panel", "Jobs Panel", "Queue Panel", "Transport Bar"}
    for name, dock in (("Mixer Panel", window.mixer_dock), ("Queue Panel", window.queue_dock)):
        assert toggles[name].isChecked()
        toggles[name].trigger()
        assert dock.isHidden() and not toggles[name].isChecked()
        toggles[name].trigger()
        assert not dock.isHidden() and toggles[name].isChecked()
    toggles["Transport Bar"].trigger()
    assert window.transport_bar.isHidden()
