"""Whether numba can keep compiled kernels on disk for this install (``cache=True``).

numba raises at decoration time when it has no writable cache folder (a read-only install with no writable
home folder, for example), so every cached kernel asks here first and compiles per process otherwise."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar


def cache_usable(module_file: str) -> bool:
    """True when numba will find a writable cache folder for kernels defined in ``module_file``:
    ``NUMBA_CACHE_DIR``, the module's own ``__pycache__`` (a source install), or numba's per-user folder
    (where frozen bundles cache, keyed by the executable)."""
    folders = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        folders.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    if not getattr(sys, "frozen", False):
        folders.append(Path(module_file).resolve().parent / "__pycache__")
    from numba.misc import appdirs

    app_dirs: Any = appdirs.AppDirs  # untyped in numba
    folders.append(Path(app_dirs(appname="numba", appauthor=False).user_cache_dir))
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return True
    return False


F = TypeVar("F", bound=Callable[..., Any])


def stable_source(fn: F) -> F:
    """In a frozen bundle, give ``fn`` its module's absolute file name before numba sees it. PyInstaller
    stores relative file names (``engine/callback.py``), and numba keys a frozen program's cache folder by
    that name made absolute from the current folder, so every start folder compiled again (measured: 9 s
    from /tmp after a warm start from home). Outside a bundle, ``fn`` is returned as it is."""
    if getattr(sys, "frozen", False) and not os.path.isabs(fn.__code__.co_filename):
        root = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
        fn.__code__ = fn.__code__.replace(co_filename=os.path.join(root, fn.__code__.co_filename))
    return fn
