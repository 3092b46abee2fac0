"""The versioned JSON project: tracks, clips, plugin chains, buses, master, SSM template and generation
settings. Media paths are stored relative to the project; saves are atomic; autosaves live beside the
user's state so a crash loses at most one autosave interval."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.files import atomic_path
from engine.midi import MIDI_SUFFIXES

FORMAT = "refrain-project"
AUTOSAVE_KEY = "autosave_of"  # in an autosave: the absolute path of its project ("" for untitled)
VERSION = 2  # 2: tracks have stable ids, and a stem's ``group`` is its source's id (1: the source's name)


def new_track_id() -> str:
    """A stable id for a track: kept through renames, undo and saves."""
    return secrets.token_hex(6)


@dataclass
class PluginSpec:
    plugin: str
    params: dict[str, float] = field(default_factory=dict)
    bypass: bool = False
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class Clip:
    path: str  # absolute in memory, relative to the project file on disk
    start: float = 0.0  # seconds on the timeline
    offset: float = 0.0  # seconds into the file
    length: float | None = None  # seconds, None = to the end of the file
    gain_db: float = 0.0
    follow_tempo: bool = True  # MIDI: play at the project's tempo (False: as written, in absolute time)

    @property
    def is_midi(self) -> bool:
        return self.path.lower().endswith(MIDI_SUFFIXES)


@dataclass
class TrackSpec:
    name: str
    clips: list[Clip] = field(default_factory=list)
    instrument: PluginSpec | None = None  # plays the MIDI clips; a GM synth when None and there are MIDI clips
    chain: list[PluginSpec] = field(default_factory=list)
    gain_db: float = 0.0
    pan: float = 0.0
    mute: bool = False
    solo: bool = False
    output: str = "master"  # or a bus name
    group: str = ""  # the id of the track this one was separated from: its lane shows under that track's
    id: str = field(default_factory=new_track_id)


@dataclass
class BusSpec:
    name: str
    chain: list[PluginSpec] = field(default_factory=list)
    gain_db: float = 0.0
    pan: float = 0.0
    mute: bool = False


@dataclass
class MasterSpec:
    chain: list[PluginSpec] = field(default_factory=list)
    gain_db: float = 0.0


@dataclass
class Project:
    sample_rate: int = 44100
    tempo: float = 120.0
    tracks: list[TrackSpec] = field(default_factory=list)
    buses: list[BusSpec] = field(default_factory=list)
    master: MasterSpec = field(default_factory=MasterSpec)
    template: list[list[float]] | None = None  # bars x bars SSM the piece was generated from
    template_labels: list[str] | None = None  # per bar: a section letter or "" (what the form editor shows)
    generation: dict[str, Any] | None = None  # model, seed, temperature, tempo, ... of the last generation

    @staticmethod
    def from_files(paths: list[str | os.PathLike[str]], sample_rate: int = 44100) -> Project:
        """One track per file at unity gain and centre pan, no master processing: a plain sum, every MIDI file
        as written. The tempo (the grid) is the first MIDI file's."""
        tracks = []
        tempo = None
        for p in paths:
            ap = os.path.abspath(os.fspath(p))
            if not os.path.isfile(ap):
                raise UserError(f"no such file: {os.fspath(p)}")
            tracks.append(TrackSpec(name=Path(ap).stem, clips=[Clip(ap, follow_tempo=False)]))  # as written
            if tempo is None and tracks[-1].clips[0].is_midi:
                from engine.midi import read_midi_file

                tempo = read_midi_file(ap).tempo_bpm
        return Project(sample_rate=sample_rate, tempo=min(400.0, max(20.0, tempo or 120.0)), tracks=tracks)


# -- JSON ------------------------------------------------------------------------------------------


def to_json(project: Project, base_dir: Path) -> dict[str, Any]:
    data = asdict(project)
    for t in data["tracks"]:
        for c in t["clips"]:
            c["path"] = _relative(c["path"], base_dir)
    return {"format": FORMAT, "version": VERSION, **data}


def _relative(path: str, base_dir: Path) -> str:
    try:
        return Path(os.path.relpath(path, base_dir)).as_posix()
    except ValueError:  # another drive on Windows
        return path


def from_json(data: Any, base_dir: Path) -> Project:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError("not a Refrain project (no 'format': 'refrain-project')")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise UserError(f"broken project: bad version {version!r}")
    if version > VERSION:
        raise UserError(f"project was saved by a newer Refrain (format {version}); this version reads up to {VERSION}")
    r = _Reader(data)
    tracks = [_track(t, base_dir) for t in r.items("tracks")]
    ids = [t.id for t in tracks]
    if len(set(ids)) != len(ids):
        raise UserError("broken project: two tracks have the same id")
    if version == 1:  # groups named their source track; they hold its id since format 2
        by_name = {t.name: t.id for t in tracks}
        for t in tracks:
            t.group = by_name.get(t.group, "")
            for c in t.clips:  # format 1 played MIDI as written, whatever the project's tempo: keep it so
                c.follow_tempo = not c.is_midi
    return Project(
        sample_rate=r.integer("sample_rate", 44100, 8000, 384000),
        tempo=r.num("tempo", 120.0, 20.0, 400.0),
        tracks=tracks,
        buses=[_bus(b) for b in r.items("buses")],
        master=_master(r.sub("master")),
        template=_template(data.get("template")),
        template_labels=_labels(data.get("template_labels"), data.get("template")),
        generation=r.opt_dict("generation"),
    )


class _Reader:
    """Typed access with errors that name the path of the broken field."""

    def __init__(self, data: Any, where: str = "") -> None:
        if not isinstance(data, dict):
            raise UserError(f"broken project: {where or 'top level'} must be an object")
        self.data, self.where = data, where

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise UserError(f"broken project: missing {self._path(key)}")
            return default
        return self.data[key]

    def num(self, key: str, default: Any = ..., lo: float = -1e9, hi: float = 1e9) -> float:
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            raise UserError(f"broken project: {self._path(key)} must be a number in [{lo:g}, {hi:g}], got {v!r}")
        return float(v)

    def integer(self, key: str, default: Any = ..., lo: int = 0, hi: int = 1 << 31) -> int:
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise UserError(f"broken project: {self._path(key)} must be an integer in [{lo}, {hi}], got {v!r}")
        return v

    def text(self, key: str, default: Any = ...) -> str:
        v = self.get(key, default)
        if not isinstance(v, str):
            raise UserError(f"broken project: {self._path(key)} must be a string")
        return v

    def flag(self, key: str, default: bool = False) -> bool:
        v = self.get(key, default)
        if not isinstance(v, bool):
            raise UserError(f"broken project: {self._path(key)} must be true or false")
        return v

    def items(self, key: str) -> list[_Reader]:
        v = self.get(key, [])
        if not isinstance(v, list):
            raise UserError(f"broken project: {self._path(key)} must be a list")
        return [_Reader(x, f"{self._path(key)}[{i}]") for i, x in enumerate(v)]

    def sub(self, key: str) -> _Reader:
        return _Reader(self.get(key, {}), self._path(key))

    def opt_dict(self, key: str) -> dict[str, Any] | None:
        v = self.get(key, None)
        if v is not None and not isinstance(v, dict):
            raise UserError(f"broken project: {self._path(key)} must be an object")
        return v


def _plugin(r: _Reader) -> PluginSpec:
    params = r.sub("params")
    options = r.sub("options")
    return PluginSpec(
        plugin=r.text("plugin"),
        params={k: params.num(k) for k in params.data},
        bypass=r.flag("bypass"),
        options={k: options.text(k) for k in options.data},
    )


def _track(r: _Reader, base_dir: Path) -> TrackSpec:
    inst = r.get("instrument", None)
    return TrackSpec(
        name=r.text("name"),
        clips=[_clip(c, base_dir) for c in r.items("clips")],
        instrument=None if inst is None else _plugin(r.sub("instrument")),
        chain=[_plugin(p) for p in r.items("chain")],
        gain_db=r.num("gain_db", 0.0, -60.0, 24.0),
        pan=r.num("pan", 0.0, -1.0, 1.0),
        mute=r.flag("mute"),
        solo=r.flag("solo"),
        output=r.text("output", "master"),
        group=r.text("group", ""),
        id=r.text("id", "") or new_track_id(),
    )


def _clip(r: _Reader, base_dir: Path) -> Clip:
    length = r.get("length", None)
    return Clip(
        path=os.path.normpath(base_dir / r.text("path")),
        start=r.num("start", 0.0, 0.0),
        offset=r.num("offset", 0.0, 0.0),
        length=None if length is None else r.num("length", None, 0.0),
        gain_db=r.num("gain_db", 0.0, -60.0, 24.0),
        follow_tempo=r.flag("follow_tempo", True),
    )


def _bus(r: _Reader) -> BusSpec:
    return BusSpec(
        name=r.text("name"),
        chain=[_plugin(p) for p in r.items("chain")],
        gain_db=r.num("gain_db", 0.0, -60.0, 24.0),
        pan=r.num("pan", 0.0, -1.0, 1.0),
        mute=r.flag("mute"),
    )


def _master(r: _Reader) -> MasterSpec:
    return MasterSpec(chain=[_plugin(p) for p in r.items("chain")], gain_db=r.num("gain_db", 0.0, -60.0, 24.0))


def _template(v: Any) -> list[list[float]] | None:
    if v is None:
        return None
    ok = isinstance(v, list) and all(isinstance(row, list) and len(row) == len(v) for row in v)
    if not ok or not all(isinstance(x, int | float) and 0.0 <= x <= 1.0 for row in v for x in row):
        raise UserError("broken project: template must be a square matrix of numbers in [0, 1]")
    return [[float(x) for x in row] for row in v]


def _labels(v: Any, template: Any) -> list[str] | None:
    if v is None:
        return None
    ok = isinstance(v, list) and all(isinstance(x, str) and len(x) <= 1 and (x == "" or x.isalpha()) for x in v)
    if not ok or not isinstance(template, list) or len(v) != len(template):
        raise UserError("broken project: template_labels must be one letter (or empty) per template bar")
    return list(v)


# -- files -----------------------------------------------------------------------------------------


def save_project(
    project: Project, path: str | os.PathLike[str], base_dir: Path | None = None, autosave_of: str | None = None
) -> None:
    """Write atomically; clip paths are stored relative to the project's folder (or ``base_dir``). An
    autosave records the project it belongs to (``autosave_of``), so a plain start can offer it."""
    target = Path(path)
    data = to_json(project, (base_dir or target.parent).resolve())
    if autosave_of is not None:
        data[AUTOSAVE_KEY] = autosave_of
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load_project(path: str | os.PathLike[str], base_dir: Path | None = None) -> Project:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no such project: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read project {p}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"broken project {p.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return from_json(data, (base_dir or p.parent).resolve())


def is_project_file(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).lower().endswith((".refrain", ".json"))


# -- autosave and recovery -------------------------------------------------------------------------


def state_dir() -> Path:
    """Where Refrain keeps per-user state (autosaves, media of unsaved projects); REFRAIN_STATE_DIR overrides."""
    override = os.environ.get("REFRAIN_STATE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_state_dir("refrain"))


def autosave_dir() -> Path:
    return state_dir() / "autosave"


def autosave_path(project_path: str | os.PathLike[str] | None) -> Path:
    """Where the autosave of ``project_path`` goes (one per project; ``None`` is the untitled project)."""
    if project_path is None:
        return autosave_dir() / "untitled.autosave.json"
    ap = os.path.abspath(os.fspath(project_path))
    digest = hashlib.sha256(ap.encode()).hexdigest()[:12]
    return autosave_dir() / f"{Path(ap).stem}-{digest}.autosave.json"


def write_autosave(project: Project, project_path: str | os.PathLike[str] | None) -> Path:
    """Save a recovery copy; media paths stay relative to the real project's folder."""
    target = autosave_path(project_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    base = _recovery_base(project_path)
    owner = os.path.abspath(os.fspath(project_path)) if project_path is not None else ""
    save_project(project, target, base_dir=base, autosave_of=owner)
    return target


def latest_recovery() -> tuple[str | None] | None:
    """What a crash left behind, for a plain start: ``(project path,)`` of the newest autosave that is
    newer than its project (``(None,)`` for the untitled project), or None when there is nothing."""
    folder = autosave_dir()
    found: list[tuple[float, str | None]] = []
    for a in folder.glob("*.autosave.json") if folder.is_dir() else []:
        try:
            owner = json.loads(a.read_text(encoding="utf-8")).get(AUTOSAVE_KEY, "")
        except (OSError, ValueError, AttributeError):
            continue
        project_path = owner if isinstance(owner, str) and owner else None
        if find_recovery(project_path) == a:
            found.append((a.stat().st_mtime, project_path))
    if not found:
        return None
    return (max(found, key=lambda f: f[0])[1],)


def find_recovery(project_path: str | os.PathLike[str] | None) -> Path | None:
    """An autosave newer than the saved project (what a crash left behind), or None."""
    a = autosave_path(project_path)
    if not a.is_file():
        return None
    saved = project_path is not None and os.path.isfile(project_path)
    if saved and a.stat().st_mtime <= os.path.getmtime(project_path):  # type: ignore[arg-type]
        return None
    return a


def load_recovery(project_path: str | os.PathLike[str] | None) -> Project:
    a = find_recovery(project_path)
    if a is None:
        raise UserError("nothing to recover")
    return load_project(a, base_dir=_recovery_base(project_path))


def _recovery_base(project_path: str | os.PathLike[str] | None) -> Path:
    """What an autosave's media paths are relative to: the project's folder, or, for an untitled project,
    the file-system root (so a start from another working folder still finds them)."""
    if project_path is None:
        return Path(os.path.abspath(os.sep))
    return Path(os.fspath(project_path)).resolve().parent


def discard_autosave(project_path: str | os.PathLike[str] | None) -> None:
    autosave_path(project_path).unlink(missing_ok=True)
