"""Toggle buttons whose on state is plain to see: Mute, Solo and Loop light up in their own colour when on
(Fusion draws a checked tool button almost like an unchecked one on a dark palette)."""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QToolButton

MUTE, SOLO, LOOP = "#d9a21b", "#3fae5a", "#3b82d6"


def toggle(text: str, colour: str, tip: str, icon: QIcon | None = None) -> QToolButton:
    """A checkable tool button: dim when off, filled with ``colour`` (dark text) when on."""
    b = QToolButton()
    if icon is not None:
        b.setIcon(icon)
    if text:
        b.setText(text)
    b.setCheckable(True)
    b.setToolTip(tip)
    b.setStyleSheet(
        "QToolButton { color: #9a9aa2; background: #2b2d33; border: 1px solid #3c3f47; border-radius: 3px;"
        " padding: 2px 6px; font-weight: bold; }"
        f" QToolButton:checked {{ color: #15161a; background: {colour}; border-color: {colour}; }}"
    )
    return b
