"""The error and warning types every layer shares: the one user-error type, the cancel type and one-line
warnings. They live at the bottom layer so the engine, the models and the app all raise the same ones."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator


class UserError(Exception):
    """An error caused by the user's input; its message is one line, shown as is.

    The CLI prints it and exits with status 2; the GUI shows it in a dialog or the status bar.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class Cancelled(Exception):
    """Long work stopped because the user asked it to; nothing was written."""


class RefrainWarning(UserWarning):
    """Something the user should know that does not stop the work (a truncated file, clipped samples).
    The CLI prints it as ``refrain: warning: ...``; the app shows it in the status bar."""


_local = threading.local()


def warn(message: str) -> None:
    """Issue a one-line :class:`RefrainWarning` (whitespace collapsed, as for :class:`UserError`): to the
    handler this thread installed with :func:`warnings_to` (the app's jobs), else through :mod:`warnings`
    (the CLI prints those as ``refrain: warning: ...``)."""
    text = " ".join(message.split())
    handler: Callable[[str], None] | None = getattr(_local, "handler", None)
    if handler is not None:
        handler(text)
    else:
        warnings.warn(RefrainWarning(text), stacklevel=2)


@contextlib.contextmanager
def warnings_to(handler: Callable[[str], None]) -> Iterator[None]:
    """Send this thread's :func:`warn` messages to ``handler`` inside the block (thread-safe, unlike
    ``warnings.catch_warnings``)."""
    previous = getattr(_local, "handler", None)
    _local.handler = handler
    try:
        yield
    finally:
        _local.handler = previous
