"""User preferences and recent files, kept as JSON in the platform's config folder (no Qt here)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

BLOCK_SIZES = (64, 128, 256, 512, 1024, 2048)
MAX_RECENT = 10


def config_dir() -> Path:
    """``REFRAIN_CONFIG_DIR`` when set (tests, portable installs), else the platform's user config folder."""
    override = os.environ.get("REFRAIN_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("refrain"))


@dataclass
class Preferences:
    device: str | None = None  # None: the system default; "null": silent, clocked
    block: int = 512  # 11.6 ms at 44.1 kHz; with the 8-block ring, ~93 ms of margin while jobs run
    soundfont: str | None = None  # None: the system's General MIDI SoundFont
    threads: int = 1  # onnxruntime intra-op threads for the generator
    render_threads: int = 1  # threads rendering the tracks (engine.graph.Graph workers); more helps big sessions
    autosave_seconds: int = 60
    export_lufs: float | None = None  # loudness target of audio exports; None: no normalisation
    recent: list[str] = field(default_factory=list)

    @staticmethod
    def path() -> Path:
        return config_dir() / "preferences.json"

    @classmethod
    def load(cls) -> Preferences:
        """Read the saved preferences; a missing or broken file gives the defaults (never an error at start)."""
        try:
            data = json.loads(cls.path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        out = cls()
        known = {f.name for f in fields(cls)}
        for k, v in data.items():
            if k in known:
                setattr(out, k, v)
        out._sanitise()
        return out

    def _sanitise(self) -> None:
        d = Preferences()
        if not (self.device is None or isinstance(self.device, str)):
            self.device = d.device
        if self.block not in BLOCK_SIZES:
            self.block = d.block
        if not (self.soundfont is None or isinstance(self.soundfont, str)):
            self.soundfont = d.soundfont
        if not isinstance(self.threads, int) or not 1 <= self.threads <= 64:
            self.threads = d.threads
        if not isinstance(self.render_threads, int) or not 1 <= self.render_threads <= 64:
            self.render_threads = d.render_threads
        if not isinstance(self.autosave_seconds, int) or not 5 <= self.autosave_seconds <= 3600:
            self.autosave_seconds = d.autosave_seconds
        if not (
            self.export_lufs is None or (isinstance(self.export_lufs, int | float) and -60 <= self.export_lufs <= 0)
        ):
            self.export_lufs = d.export_lufs
        if not isinstance(self.recent, list):
            self.recent = []
        self.recent = [r for r in self.recent if isinstance(r, str)][:MAX_RECENT]

    def save(self) -> None:
        from engine.files import atomic_path

        target = self.path()
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    def add_recent(self, path: str | os.PathLike[str]) -> None:
        ap = os.path.abspath(os.fspath(path))
        self.recent = [ap, *[r for r in self.recent if r != ap]][:MAX_RECENT]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
