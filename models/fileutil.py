"""Atomic file writing: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed and the target is
    left untouched, so no partial output is ever visible.
    """
    dest = Path(target)
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        from models.errors import UserError

        raise UserError(f"output folder does not exist: {folder}")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part" + dest.suffix, dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
