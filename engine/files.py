"""The one all-or-nothing writer, for one file or a set of files.

Each target is first written under a short temporary name in its own folder and renamed onto the target
only when every file of the set was written. On any error (or Ctrl-C, or a cancel) the temporary files
are removed, so is every folder the writer created, and nothing the user can see has changed. Errors
of the file system become one line that names the problem: a read-only file system, no space left (with
the mount point), permission denied, a name that is too long.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

from engine.errors import UserError

NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems, when pathconf cannot tell
_MESSAGES = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENAMETOOLONG: "file name too long",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOENT: "no such folder",
    errno.EISDIR: "it is a folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EEXIST: "a file is in the way",
}


def mount_point(path: str | os.PathLike[str]) -> str:
    """The mount point of the file system holding ``path`` (or its nearest existing parent)."""
    p = Path(os.path.abspath(os.fspath(path)))
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return str(p)


def os_error(exc: OSError, path: str | os.PathLike[str], verb: str = "write") -> UserError:
    """A one-line :class:`UserError` for a file-system error on ``path``."""
    where = os.fspath(path)
    if exc.errno == errno.ENOSPC:
        return UserError(f"cannot {verb} {where}: no space left on device ({mount_point(where)})")
    reason = _MESSAGES.get(exc.errno or 0) or exc.strerror or type(exc).__name__
    return UserError(f"cannot {verb} {where}: {reason}")


def name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return NAME_MAX


def _temp_name(dest: Path, kind: str = "part") -> str:
    """A short temporary name: it fits wherever the target's name fits, however long that name is."""
    suffix = dest.suffix if 0 < len(dest.suffix) <= 8 else ""
    return f".rf-{secrets.token_hex(4)}.{kind}{suffix}"


class _Folders:
    """Creates missing folders and remembers which, so a failed write can remove them again."""

    def __init__(self) -> None:
        self.created: list[Path] = []

    def ensure(self, folder: Path, create: bool) -> None:
        if folder.is_dir():
            return
        if not create:
            raise UserError(f"output folder does not exist: {folder}")
        missing = []
        p = folder
        while not p.exists() and p != p.parent:
            missing.append(p)
            p = p.parent
        for m in reversed(missing):
            try:
                m.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise os_error(exc, m, "create") from None
            self.created.append(m)

    def remove_empty(self) -> None:
        for m in reversed(self.created):
            with contextlib.suppress(OSError):
                m.rmdir()


@contextlib.contextmanager
def atomic_files(targets: Sequence[str | os.PathLike[str]], make_folders: bool = False) -> Iterator[list[Path]]:
    """Yield one temporary path per target; move them all onto their targets when the block succeeds.

    ``make_folders`` creates missing output folders (removed again if the write fails). Raises
    :class:`UserError` with one line for file-system errors, raised here or by the block (an
    :class:`OSError`, named after the output it was writing). Files the set replaces are first moved
    aside, so a failure while moving the set in puts every old file back."""
    dests = [Path(t) for t in targets]
    if len({os.path.abspath(d) for d in dests}) != len(dests):
        raise UserError("two outputs have the same name")
    folders = _Folders()
    temps: list[Path] = []
    current = dests[0] if dests else Path(".")
    try:
        for d in dests:
            current = d
            folder = d.parent if str(d.parent) else Path(".")
            if d.is_dir():
                raise UserError(f"cannot write {d}: it is a folder")
            folders.ensure(folder, make_folders)
            if len(os.fsencode(d.name)) > name_max(folder):
                raise UserError(f"cannot write {d}: file name too long ({len(os.fsencode(d.name))} bytes)")
            temps.append(_create(folder / _temp_name(d)))
        try:
            yield temps
        except OSError as exc:
            raise os_error(exc, _target_of(exc, temps, dests)) from None
        _commit(temps, dests)
    except BaseException as exc:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        folders.remove_empty()
        if isinstance(exc, OSError):
            raise os_error(exc, current) from None
        raise


def _create(tmp: Path) -> Path:
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode follows the umask
    os.close(fd)
    return tmp


def _target_of(exc: OSError, temps: list[Path], dests: list[Path]) -> Path:
    """The output an error in the block concerns (by the temporary file it names), else the first one."""
    named = os.path.abspath(exc.filename) if isinstance(exc.filename, str) else ""
    return next((d for t, d in zip(temps, dests, strict=True) if os.path.abspath(t) == named), dests[0])


def _commit(temps: list[Path], dests: list[Path]) -> None:
    """Move the temporaries in; on any failure put back the files they replaced and leave none of the new.
    One file needs no set-aside: ``os.replace`` swaps it in one step."""
    if len(dests) == 1:
        os.replace(temps[0], dests[0])
        return
    backups: list[tuple[Path, Path]] = []
    done: list[Path] = []
    try:
        for d in dests:
            if d.exists():
                aside = d.parent / _temp_name(d, "old")
                os.replace(d, aside)
                backups.append((aside, d))
        for tmp, d in zip(temps, dests, strict=True):
            os.replace(tmp, d)
            done.append(d)
    except OSError as exc:
        for d in done:
            with contextlib.suppress(OSError):
                d.unlink()
        for aside, d in backups:
            with contextlib.suppress(OSError):
                os.replace(aside, d)
        raise os_error(exc, dests[len(done)] if len(done) < len(dests) else dests[-1]) from None
    for aside, _ in backups:
        with contextlib.suppress(OSError):
            aside.unlink()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], make_folders: bool = False) -> Iterator[Path]:
    """:func:`atomic_files` for one file: yield its temporary path."""
    with atomic_files([target], make_folders) as (tmp,):
        yield tmp


def remove_temporaries(folder: str | os.PathLike[str]) -> None:
    """Delete what a write killed mid-way (a process stopped from outside) left in ``folder``: the
    atomic writer's temporary files; then the folder itself when that leaves it empty. Missing is fine."""
    d = Path(folder)
    if not d.is_dir():
        return
    for f in d.glob(".rf-*.part*"):
        with contextlib.suppress(OSError):
            f.unlink()
    with contextlib.suppress(OSError):
        d.rmdir()  # only succeeds when empty
