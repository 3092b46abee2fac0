"""Where rendered training data lives: one versioned cache folder per renderer."""

from __future__ import annotations

import os
from pathlib import Path


def render_cache(root: str | os.PathLike[str] | None, env: str, name: str, version: int) -> Path:
    """``root``, else ``$env``, else the user cache folder's ``name``; then ``v<version>`` inside it, so a
    renderer whose output changes (a new version) never reads an older render."""
    if root is None:
        root = os.environ.get(env)
    if root is None:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("refrain")) / name
    return Path(root) / f"v{version}"
