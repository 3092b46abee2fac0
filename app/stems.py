"""The stems controller: separate a track into stems, find a separation's group, hear everything but one
stem, and export a group's stems. Stems belong to their source by the source's track id (``group``), so a
rename never breaks the link; a stem can be separated again, and its stems nest under it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.tasks import export_stems_task, separate_task, split_task, stamp
from app.workers import Job
from engine.audio_io import SUBTYPES
from engine.errors import UserError
from engine.project import Clip, Project, TrackSpec

if TYPE_CHECKING:
    from app.session import Session


def stem_name(source: str, stem: str) -> str:
    """The track name of a separated stem: ``song · drums``."""
    return f"{source} · {stem}"


def stem_label(track: TrackSpec, source_name: str) -> str:
    """A stem's own name: ``drums`` for ``song · drums`` under ``song``; the whole name otherwise."""
    prefix = stem_name(source_name, "")
    return track.name[len(prefix) :] if track.group and track.name.startswith(prefix) else track.name


def depth(tracks: list[TrackSpec], index: int) -> int:
    """How many separations deep track ``index`` sits (0: not a stem)."""
    return _depth(tracks[index], {t.id: t for t in tracks})


def depths(tracks: list[TrackSpec]) -> list[int]:
    """:func:`depth` of every track, for one paint (one id lookup table, not one per lane)."""
    by_id = {t.id: t for t in tracks}
    return [_depth(t, by_id) for t in tracks]


def _depth(t: TrackSpec, by_id: dict[str, TrackSpec]) -> int:
    d, seen = 0, set()
    while t.group in by_id and t.group not in seen:
        seen.add(t.group)
        t = by_id[t.group]
        d += 1
    return d


def descendants(tracks: list[TrackSpec], track_id: str) -> set[str]:
    """Ids of the stems of ``track_id``, their stems, and so on."""
    out: set[str] = set()
    frontier = {track_id}
    while frontier:
        frontier = {t.id for t in tracks if t.group in frontier and t.id not in out}
        out |= frontier
    return out


def audio_clip_of(project: Project, index: int, verb: str) -> tuple[TrackSpec, Clip]:
    """Track ``index`` and its one audio clip, for a command that works on a track's audio (separate,
    transcribe); UserError naming ``verb`` otherwise."""
    if not 0 <= index < len(project.tracks):
        raise UserError(f"select an audio track to {verb}")
    track = project.tracks[index]
    audio = [c for c in track.clips if not c.is_midi]
    if len(audio) != 1:
        raise UserError(f"{track.name} must hold one audio clip to {verb}")
    return track, audio[0]


class Stems:
    def __init__(self, session: Session) -> None:
        self.s = session

    def label(self, index: int) -> str:
        """What a lane shows for track ``index``: a stem's own name under its source, else the track name."""
        return self.labels()[index]

    def labels(self) -> list[str]:
        """:meth:`label` of every track, for one paint."""
        tracks = self.s.project.tracks
        names = {t.id: t.name for t in tracks}
        return [stem_label(t, names[t.group]) if t.group in names else t.name for t in tracks]

    def separate(self, index: int, model: str = "separator") -> Job:
        """Split an audio track into stems on the worker process. The stems land as tracks right after the
        source (named ``<source> · <stem>``, grouped under it), and the source is muted so the mix sounds
        the same. Separating a track again replaces its earlier stems (one undo step)."""
        return self._derive(index, ("separate", "Separating", "separated"), "stems", separate_task, model, str)

    def split_voices(self, index: int, model: str = "splitter") -> Job:
        """Split an audio track (a duet, or a stem such as the vocals) into its same-timbre sources on the
        worker process: ``<source> · voice 1``, ``voice 2`` land under it like stems (solo, mute, export),
        the source is muted, and splitting again replaces them (one undo step)."""
        words = ("split", "Splitting", "split")
        return self._derive(index, words, "voices", split_task, model, lambda n: n.replace("source_", "voice "))

    def _derive(
        self,
        index: int,
        words: tuple[str, str, str],
        what: str,
        task: Callable[..., dict[str, str]],
        model: str,
        label: Callable[[str], str],
    ) -> Job:
        """Run ``task(path, out_dir, model)`` on the worker and put its files under the track as lanes named
        by ``label``. ``words``: the verb, its -ing form for the job and its past for the status line."""
        from app.session import unique_name

        s = self.s
        verb, doing, did = words
        src, clip = audio_clip_of(s.project, index, verb)
        out_dir = s.documents.media_dir() / f"{what}-{Path(clip.path).stem}-{stamp()}"
        source_id, source_name = src.id, src.name

        def done(paths: dict[str, str]) -> None:
            replaced = 0

            def fn(p: Project) -> None:
                nonlocal replaced
                at = next((i for i, t in enumerate(p.tracks) if t.id == source_id), None)
                if at is None:
                    raise UserError(f"{source_name} was removed while {doing.lower()} it")
                # only what this command made before is replaced: a track's voices and its stems coexist
                prefix, labels = stem_name(p.tracks[at].name, ""), {label(k) for k in paths}
                same = [t.id for t in p.tracks if t.group == source_id and t.name.removeprefix(prefix) in labels]
                old = set(same).union(*(descendants(p.tracks, i) for i in same))
                replaced = len(same)
                p.tracks = [t for t in p.tracks if t.id not in old]
                at = next(i for i, t in enumerate(p.tracks) if t.id == source_id)
                source = p.tracks[at]
                source.mute = True
                names = [t.name for t in p.tracks]
                for k, (part, path) in enumerate(paths.items()):
                    name = unique_name(stem_name(source.name, label(part)), names)
                    names.append(name)
                    part_clip = Clip(path, clip.start, clip.offset, clip.length, clip.gain_db)
                    p.tracks.insert(at + 1 + k, TrackSpec(name=name, clips=[part_clip], group=source_id))

            try:
                s.edit(f"{verb.capitalize()} {source_name}", fn)
            except UserError as exc:
                s.message.emit(str(exc))
                return
            s.ensure_overviews()
            again = f" (replacing {replaced} earlier tracks)" if replaced else ""
            parts = ", ".join(label(k) for k in paths)
            s.message.emit(f"{did} {source_name} into {parts}{again}")

        return s.jobs.submit_process(
            f"{doing} {source_name}",
            task,
            (clip.path, os.fspath(out_dir), model),
            done,
            s.failed(f"cannot {verb} {source_name}"),
        )

    def group(self, index: int) -> tuple[int, list[int]]:
        """(source index, stem indices) of the separation track ``index`` belongs to: its own stems when it has
        some, else those of the source it was separated from. UserError when it is neither."""
        tracks = self.s.project.tracks
        if not 0 <= index < len(tracks):
            raise UserError("select a separated track or one of its stems")
        t = tracks[index]
        own = [i for i, x in enumerate(tracks) if x.group == t.id]
        if own:
            return index, own
        if t.group:
            return self.s.track_index(t.group), [i for i, x in enumerate(tracks) if x.group == t.group]
        raise UserError(f"{t.name} has no stems: separate it first (Ctrl+Shift+D)")

    def audition_without(self, index: int) -> None:
        """Hear everything but stem ``index``: its siblings play, it and the source are muted (one step).
        On a stem that is already the only one left out, every stem plays again."""
        tracks = self.s.project.tracks
        if not 0 <= index < len(tracks) or not tracks[index].group:
            raise UserError("select a stem (a track under a separated source) to leave out")
        at = self.s.track_index(tracks[index].group)
        stems = [i for i, x in enumerate(tracks) if x.group == tracks[index].group]
        again = tracks[index].mute and not any(tracks[i].mute for i in stems if i != index)
        name = tracks[index].name

        def fn(p: Project) -> None:
            if at >= 0:
                p.tracks[at].mute = True
            for i in stems:
                p.tracks[i].mute = False if again else i == index
                p.tracks[i].solo = False

        self.s.edit("Play all stems" if again else f"Play everything but {name}", fn)

    def file_names(self, index: int) -> list[str]:
        """The file names (without suffix) the stems of track ``index``'s separation export to: their labels,
        with characters no file system takes replaced, and made unique."""
        from app.session import unique_name

        names: list[str] = []
        labels = self.labels()
        for i in self.group(index)[1]:
            names.append(unique_name(re.sub(r'[\\/:*?"<>|]', "_", labels[i]) or "stem", names))
        return names

    def export(self, index: int, folder: str | os.PathLike[str], fmt: str = "wav", bits: str = "24") -> Job:
        """Render each stem of the separation that track ``index`` belongs to through its own strip (gain,
        pan, plugins; mute and solo ignored) to ``folder/<stem>.<fmt>`` on the worker: all files or none."""
        s = self.s
        at, stems = self.group(index)
        if fmt not in ("wav", "flac"):
            raise UserError("stems export as wav or flac")
        if bits not in SUBTYPES or (fmt == "flac" and bits == "float"):
            raise UserError(f"cannot write {fmt} with {bits} bits")
        if not os.path.isdir(folder):
            raise UserError(f"no such folder: {os.fspath(folder)}")
        jobs: list[tuple[str, Project]] = []
        for i, name in zip(stems, self.file_names(index), strict=True):
            snapshot = s.playable(s.project)
            t = snapshot.tracks[i]
            t.mute, t.solo, t.output = False, False, "master"
            snapshot.tracks, snapshot.buses, snapshot.master = [t], [], type(snapshot.master)()
            jobs.append((os.path.join(os.fspath(folder), f"{name}.{fmt}"), snapshot))
        source = s.project.tracks[at].name if at >= 0 else "the stems"
        return s.jobs.submit_process(
            f"Exporting stems of {source}",
            export_stems_task,
            (jobs, bits),
            lambda paths: s.message.emit(f"exported {len(paths)} stems to {os.fspath(folder)}"),
            s.failed("stem export failed"),
        )
