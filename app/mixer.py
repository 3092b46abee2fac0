"""The mixer controller: tracks (load, remove, name, gain, pan, mute, solo), the master, and every strip's
plugin chain. Each change is one undoable edit; what the running graph can take goes to it live."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.media import MidiOverview, Overview, check_media, overview
from app.workers import Job
from engine.project import Clip, PluginSpec, Project, TrackSpec

if TYPE_CHECKING:
    from app.session import Session


class Mixer:
    def __init__(self, session: Session) -> None:
        self.s = session

    # -- tracks ------------------------------------------------------------------------------------------
    def load_track(
        self,
        path: str | os.PathLike[str],
        on_loaded: Callable[[int], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
    ) -> Job:
        """Decode on a worker; on success add a track playing the file (one undoable step). The first MIDI
        file of a project without tracks sets the project's tempo, so it plays as written. ``on_failed``
        also hears a failure (connected before the job starts, so it cannot be missed)."""
        from app.session import unique_name

        s = self.s
        ap = check_media(path)
        sr = s.project.sample_rate

        def work(job: Job) -> Overview:
            return overview(ap, sr)

        def done(ov: Overview) -> None:
            s.media[ap] = ov
            name = unique_name(Path(ap).stem, [t.name for t in s.project.tracks])

            def add(p: Project) -> None:
                if isinstance(ov, MidiOverview) and not p.tracks:
                    p.tempo = round(min(400.0, max(20.0, ov.tempo)), 3)
                p.tracks.append(TrackSpec(name=name, clips=[Clip(ap)]))

            s.edit(f"Load {Path(ap).name}", add)
            s.prefs.add_recent(ap)
            s.documents.save_prefs()
            s.media_changed.emit()
            s.message.emit(f"loaded {Path(ap).name} ({ov.seconds:.1f} s)")
            if on_loaded is not None:
                on_loaded(len(s.project.tracks) - 1)

        report = s.failed(f"cannot load {Path(ap).name}")

        def failed(msg: str) -> None:
            report(msg)
            if on_failed is not None:
                on_failed(msg)

        return s.jobs.submit(f"Loading {Path(ap).name}", work, done, failed)

    def remove_track(self, index: int) -> None:
        """Remove a track; its stems stay, as ordinary tracks."""
        t = self.s.project.tracks[index]

        def fn(p: Project) -> None:
            del p.tracks[index]
            for other in p.tracks:
                if other.group == t.id:
                    other.group = ""

        self.s.edit(f"Remove track {t.name}", fn)

    def set_track(self, index: int, merge: object = None, **values: Any) -> None:
        """Set fields of one track (gain_db, pan, mute, solo, name) as one step. A renamed source renames its
        stems: "old · drums" becomes "new · drums"."""
        from app.session import unique_name
        from app.stems import stem_label, stem_name

        def renamed(p: Project, t: TrackSpec, old: str) -> None:
            for other in p.tracks:  # its stems, and theirs ("song · other · drums")
                if other.group == t.id:
                    label, before = stem_label(other, old), other.name
                    if label != other.name:
                        other.name = unique_name(stem_name(t.name, label), [x.name for x in p.tracks])
                        renamed(p, other, before)

        def fn(p: Project) -> None:
            t = p.tracks[index]
            old = t.name
            for k, v in values.items():
                setattr(t, k, v)
            if t.name != old:
                renamed(p, t, old)

        what = ", ".join(values)
        self.s.edit(f"Set {what} of {self.s.project.tracks[index].name}", fn, merge)

    def set_master_gain(self, db: float, merge: object = None) -> None:
        self.s.edit("Set master gain", lambda p: setattr(p.master, "gain_db", db), merge)

    # -- plugin chains (strip: "track", i / "bus", i / "master", 0) -------------------------------------------
    @staticmethod
    def chain_of(p: Project, kind: str, index: int) -> list[PluginSpec]:
        if kind == "track":
            return p.tracks[index].chain
        if kind == "bus":
            return p.buses[index].chain
        return p.master.chain

    def add_plugin(self, kind: str, index: int, spec: PluginSpec) -> None:
        from app.session import plugin_label
        from engine.plugins import plugin_params

        plugin_params(spec.plugin, spec.options)  # a bad plugin fails here, not in the build; the editor reuses it
        spec = copy.deepcopy(spec)
        self.s.edit(f"Add {plugin_label(spec)}", lambda p: self.chain_of(p, kind, index).append(spec))

    def remove_plugin(self, kind: str, index: int, slot: int) -> None:
        def fn(p: Project) -> None:
            del self.chain_of(p, kind, index)[slot]

        self.s.edit("Remove plugin", fn)

    def move_plugin(self, kind: str, index: int, slot: int, to: int) -> None:
        def fn(p: Project) -> None:
            ch = self.chain_of(p, kind, index)
            if 0 <= to < len(ch):
                ch.insert(to, ch.pop(slot))

        self.s.edit("Reorder plugins", fn)

    def set_bypass(self, kind: str, index: int, slot: int, bypass: bool) -> None:
        self.s.edit(
            "Bypass plugin" if bypass else "Enable plugin",
            lambda p: setattr(self.chain_of(p, kind, index)[slot], "bypass", bypass),
        )

    def set_plugin_param(self, kind: str, index: int, slot: int, name: str, value: float, merge: object = None) -> None:
        def fn(p: Project) -> None:
            self.chain_of(p, kind, index)[slot].params[name] = float(value)

        self.s.edit(f"Set {name}", fn, merge)
