"""The one exception type for errors a user can cause (bad input, missing files, missing SoundFont)."""

from __future__ import annotations


class UserError(Exception):
    """An error caused by the user's input; its message is one line, shown as is.

    The CLI prints it and exits with status 2; the GUI shows it in a dialog or the status bar.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class Cancelled(Exception):
    """Long work stopped because the user asked it to; nothing was written."""
