"""GUI fixtures: offscreen Qt, private config/state folders, a session on the clocked null device, and
teardown that cancels and joins every worker before the engine closes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFRAIN_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("REFRAIN_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def prefs():  # type: ignore[no-untyped-def]
    from app.prefs import Preferences

    return Preferences(device="null", block=256, autosave_seconds=3600)


@pytest.fixture
def session(qtbot, prefs) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from app.session import Session

    s = Session(prefs)
    qtbot.waitUntil(lambda: s.graph_current, timeout=10000)
    yield s
    s.close()


@pytest.fixture
def window(qtbot, prefs) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from app.main_window import MainWindow
    from app.session import Session

    s = Session(prefs)
    w = MainWindow(s)
    w.ask = lambda *a, **k: pytest.fail(f"unexpected dialog: {a[:2]}")  # tests answer dialogs explicitly
    w.show()
    qtbot.waitUntil(lambda: s.graph_current, timeout=10000)
    yield w
    s.undo.setClean()
    w.close()  # joins the workers and closes the engine
    s.close()
    w.deleteLater()


def wait_jobs(qtbot, session, timeout: int = 60000) -> None:  # type: ignore[no-untyped-def]
    """Wait until every job has ended and the engine runs the current project."""
    qtbot.waitUntil(lambda: not session.jobs.active() and session.graph_current, timeout=timeout)
