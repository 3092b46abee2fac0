"""``refrain app [FILE_OR_PROJECT] [--screenshot PNG] [--quit-after SECONDS]``: the desktop app."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
import time
from pathlib import Path

from engine.errors import UserError


def add_app_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("app", help="start the desktop app", description="Start the Refrain desktop app.")
    p.add_argument("file", nargs="?", metavar="FILE_OR_PROJECT", help="a track (audio/MIDI) or a .refrain project")
    p.add_argument(
        "--screenshot", metavar="PNG", help="save a picture of the window once the file is loaded, then quit"
    )
    p.add_argument(
        "--quit-after", type=float, metavar="SECONDS", help="quit after this long (default with --screenshot: 60)"
    )
    p.add_argument("--generate", action="store_true", help="generate a piece at start (for screenshots and demos)")
    p.set_defaults(func=cmd_app)


def cmd_app(a: argparse.Namespace) -> int:
    if a.file is not None and not os.path.exists(a.file):
        raise UserError(f"no such file: {a.file}")
    if a.screenshot is not None and not a.screenshot.lower().endswith(".png"):
        raise UserError("--screenshot must name a .png file")
    if a.screenshot is not None and not Path(a.screenshot).resolve().parent.is_dir():
        raise UserError(f"output folder does not exist: {Path(a.screenshot).resolve().parent}")
    if a.quit_after is not None and not 0 < a.quit_after <= 86400:
        raise UserError("--quit-after must be between 0 and 86400 seconds")
    headless = not os.environ.get("QT_QPA_PLATFORM") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if headless and sys.platform.startswith("linux"):
        raise UserError("no display: run it on a desktop, or set QT_QPA_PLATFORM=offscreen (e.g. with --screenshot)")
    return run_app(a.file, a.screenshot, a.quit_after, a.generate)


def run_app(file: str | None, screenshot: str | None, quit_after: float | None, generate: bool = False) -> int:
    # The engine's native callback (numba and its compiled kernels, about 1 s) loads on a second core while
    # this thread imports Qt and builds the window; the session's engine then finds it loaded.
    threading.Thread(target=importlib.import_module, args=("engine.callback",), daemon=True).start()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import ICON, MainWindow
    from app.session import Session

    _quiet_offscreen_notes()
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("Refrain")
    qapp.setOrganizationName("Refrain")
    qapp.setDesktopFileName("refrain")
    if ICON.is_file():
        from PySide6.QtGui import QIcon

        qapp.setWindowIcon(QIcon(str(ICON)))
    _dark_palette(qapp)
    session = Session()
    win = MainWindow(session)
    win.show()
    status = {"code": 0}

    def fail(message: str) -> None:
        """A smoke run (--screenshot) whose file cannot be used ends with one line and status 2."""
        print(f"refrain: error: {message}", file=sys.stderr)
        status["code"] = 2
        session.undo.setClean()
        win.close()
        qapp.quit()

    def start() -> None:
        try:
            if file is not None:
                name = Path(file).name

                def load_failed(msg: str) -> None:
                    fail(f"cannot load {name}: {msg}")

                win.open_file(file, prompt=False, on_failed=load_failed if screenshot is not None else None)
            elif screenshot is None:
                win.offer_recovery(startup=True)
            if generate:
                win.generate(False)
        except UserError as exc:
            if screenshot is not None:
                fail(str(exc))
                return
            win.statusBar().showMessage(str(exc), 15000)

    QTimer.singleShot(0, start)
    limit = quit_after if quit_after is not None else (60.0 if screenshot is not None else None)
    t0 = time.monotonic()
    if screenshot is not None:

        def shoot() -> None:
            busy = bool(session.jobs.active()) or not session.graph_current
            loaded = file is None or session.path is not None or bool(session.project.tracks)
            if generate:
                loaded = loaded and session.generation.last is not None
            late = limit is not None and time.monotonic() - t0 >= limit - 0.5
            if (busy or not loaded) and not late:
                return
            timer.stop()
            win.arrangement.zoom_fit()
            qapp.processEvents()
            _save_png(win.grab(), screenshot)
            print(f"wrote {screenshot}")
            win.session.undo.setClean()  # a screenshot run never prompts
            win.close()

        timer = QTimer()
        timer.timeout.connect(shoot)
        timer.start(250)
    elif limit is not None:

        def finish() -> None:
            session.undo.setClean()  # a timed run never prompts
            win.close()

        QTimer.singleShot(int(limit * 1000), finish)
    qapp.exec()
    if session.bridge is not None:
        session.close()
    return status["code"]


def _quiet_offscreen_notes() -> None:
    """The offscreen platform (smoke runs, screenshots) reports every window feature it lacks on stderr;
    those notes say nothing to the user, so drop them and pass every other Qt message on."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_kind: object, _context: object, message: str) -> None:
        if "This plugin does not support" not in message:
            print(message, file=sys.stderr)

    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        qInstallMessageHandler(handler)


def _save_png(pixmap: object, path: str) -> None:
    from engine.files import atomic_path

    with atomic_path(path) as tmp:
        if not pixmap.save(str(tmp), "PNG"):  # type: ignore[attr-defined]
            raise UserError(f"cannot write {path}")


def _dark_palette(qapp: object) -> None:
    """A dark theme like the DAWs musicians use; Fusion draws the same on every platform."""
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    assert isinstance(qapp, QApplication)
    qapp.setStyle("Fusion")
    pal = QPalette()
    R = QPalette.ColorRole
    colours = {  # role: (r, g, b)
        R.Window: (40, 42, 48), R.WindowText: (220, 220, 225), R.Base: (30, 32, 36),
        R.AlternateBase: (45, 48, 54), R.Text: (220, 220, 225), R.Button: (52, 55, 62),
        R.ButtonText: (220, 220, 225), R.Highlight: (70, 130, 200), R.HighlightedText: (255, 255, 255),
        R.ToolTipBase: (50, 52, 58), R.ToolTipText: (230, 230, 230), R.PlaceholderText: (130, 130, 140),
    }  # fmt: skip
    for role, rgb in colours.items():
        pal.setColor(role, QColor(*rgb))
    pal.setColor(QPalette.ColorGroup.Disabled, R.ButtonText, QColor(110, 110, 115))
    pal.setColor(QPalette.ColorGroup.Disabled, R.Text, QColor(110, 110, 115))
    qapp.setPalette(pal)
