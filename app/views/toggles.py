"""Toggle buttons whose on state is plain to see: Mute, Solo and Loop light up in their own colour when on
(Fusion draws a checked tool button almost like an unchecked one on a dark palette).

The colour comes from the button's palette, switched by :func:`show_state` whenever the checked state
changes (the button's own ``toggled`` signal, and views that set the state with signals blocked call it).
Two cheaper-looking ways cost the GUI thread: a style sheet per button means style-sheet parsing and
slower painting for every mixer strip, and a Python subclass painting itself means Qt calls back into
Python (taking the GIL) for its virtual methods; both showed up as longer event-loop stalls while the
mixer rebuilt its strips during playback and jobs."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QIcon, QPalette
from PySide6.QtWidgets import QToolButton

MUTE, SOLO, LOOP = "#d9a21b", "#3fae5a", "#3b82d6"
_ON_TEXT = QColor(21, 22, 26)
_COLOUR = "toggleColour"  # the Qt property holding a button's on colour


def toggle(text: str, colour: str, tip: str, icon: QIcon | None = None) -> QToolButton:
    """A checkable tool button: as the theme draws it when off, filled with ``colour`` (dark text) when on."""
    b = QToolButton()
    if icon is not None:
        b.setIcon(icon)
    if text:
        b.setText(text)
        font = QFont(b.font())
        font.setBold(True)
        b.setFont(font)
    b.setCheckable(True)
    b.setToolTip(tip)
    b.setProperty(_COLOUR, colour)
    b.toggled.connect(lambda _on: show_state(b))
    return b


def show_state(b: QToolButton) -> None:
    """Draw ``b`` as its checked state says (call it after ``setChecked`` with signals blocked)."""
    parent = b.parentWidget()
    pal = QPalette(parent.palette() if parent is not None else b.palette())
    if b.isChecked():
        on = QColor(str(b.property(_COLOUR)))
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            pal.setColor(group, QPalette.ColorRole.Button, on)
            pal.setColor(group, QPalette.ColorRole.ButtonText, _ON_TEXT)
    b.setPalette(pal)
