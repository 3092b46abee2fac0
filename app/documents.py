"""The document controller: new, open, save, autosave and recovery, and exports of the mix. No widgets here:
the main window asks the questions, this does the work."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from app.tasks import export_task
from app.workers import Job
from engine.audio_io import check_output
from engine.errors import UserError
from engine.project import (
    Project,
    TrackSpec,
    discard_autosave,
    latest_recovery,
    load_project,
    load_recovery,
    save_project,
    state_dir,
    write_autosave,
)

if TYPE_CHECKING:
    from app.session import Session


def untitled_media_dir() -> Path:
    """Where media made before a project is first saved wait (copied beside it at the first save)."""
    return state_dir() / "untitled-media"


class Documents:
    def __init__(self, session: Session) -> None:
        self.s = session

    # -- new / open / recover ----------------------------------------------------------------------------
    def new(self) -> None:
        """An empty project with the default form; the old one's autosave is dropped (it was saved or the
        user chose to discard it)."""
        from app.session import new_project

        old = self.s.path
        self.s.replace(new_project(), None, clean=True)
        discard_autosave(old)

    def open(self, path: str | os.PathLike[str], project: Project | None = None) -> None:
        """Open a project file (or take a recovered ``project`` for it); UserError leaves the session as it
        was. The transport stays where it is: opening never starts playback."""
        p = Path(path).resolve()
        proj = project if project is not None else load_project(p)
        self.s.replace(proj, p, clean=project is None)
        self.s.prefs.add_recent(p)
        self.save_prefs()
        self.s.generation.restore()

    def adopt(self, project: Project) -> None:
        """Take a recovered untitled project; it counts as unsaved."""
        self.s.replace(project, None, clean=False)
        self.s.generation.restore()

    def pending_recovery(self) -> tuple[str | None] | None:
        """What a crash left behind for a plain start: ``(project path,)`` (None: untitled) or None."""
        return latest_recovery()

    def recover(self, project_path: str | None) -> None:
        """Load the autosave of ``project_path`` (None: the untitled project) as unsaved changes."""
        project = load_recovery(project_path)
        if project_path is None:
            self.adopt(project)
        else:
            self.open(project_path, project)

    # -- save ----------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Save (atomically) to ``path`` or the current file; generated media move next to the project."""
        s = self.s
        target = Path(path).resolve() if path is not None else s.path
        if target is None:
            raise UserError("no file name: use Save As")
        if target.suffix.lower() not in (".refrain", ".json"):
            target = target.with_suffix(".refrain")
        old = s.path
        s.path = target
        moved = self._adopt_untitled_media()
        save_project(s.project, target)
        if moved:
            s.rebuild()
            s.ensure_overviews()
            s.changed.emit()
        s.undo.setClean()
        discard_autosave(old)
        discard_autosave(target)
        s.prefs.add_recent(target)
        self.save_prefs()
        s.path_changed.emit()
        s.message.emit(f"saved {target.name}")
        return target

    def media_dir(self) -> Path:
        """Where generated media go: beside a saved project, else in the user's state folder."""
        path = self.s.path
        return path.parent / f"{path.stem}-media" if path is not None else untitled_media_dir()

    def _adopt_untitled_media(self) -> bool:
        """Copy media generated before the first save into the project's media folder."""
        src = untitled_media_dir().resolve()
        moved = False
        for t in self.s.project.tracks:
            for cl in t.clips:
                cp = Path(cl.path).resolve()
                if src in cp.parents and cp.is_file():
                    dest_dir = self.media_dir()
                    dest_dir.mkdir(parents=True, exist_ok=True)
                    dest = dest_dir / cp.name
                    if not dest.exists():
                        shutil.copyfile(cp, dest)
                    cl.path = str(dest)
                    moved = True
        return moved

    def autosave(self) -> Path | None:
        if not self.s.dirty:
            return None
        try:
            return write_autosave(self.s.project, self.s.path)
        except (OSError, UserError) as exc:
            self.s.message.emit(f"autosave failed: {exc}")
            return None

    def save_prefs(self) -> None:
        try:
            self.s.prefs.save()
        except (OSError, UserError) as exc:
            self.s.message.emit(f"cannot save preferences: {exc}")

    # -- export ---------------------------------------------------------------------------------------------
    def export_audio(
        self, target: str | os.PathLike[str], bits: str = "24", only_generated: bool = False, lufs: float | None = None
    ) -> Job:
        """Bounce the mix (or the generated piece alone) to WAV/FLAC on a worker; atomic, cancellable."""
        s = self.s
        snapshot = s.playable(s.project)
        if only_generated:
            t = s.generation.generated_track()
            if t is None:
                raise UserError("nothing to export: generate a piece first")
            snapshot.tracks = [TrackSpec(name=t.name, clips=list(t.clips), instrument=t.instrument)]
            snapshot.buses, snapshot.master = [], type(snapshot.master)()
            snapshot = s.playable(snapshot)
        if not snapshot.tracks:
            raise UserError("nothing to export: the project has no tracks")
        check_output(target, bits)
        return s.jobs.submit_process(
            f"Exporting {Path(target).name}",
            export_task,
            (snapshot, os.fspath(target), bits, lufs),
            lambda p: s.message.emit(f"exported {Path(p).name}"),
            s.failed("export failed"),
        )
