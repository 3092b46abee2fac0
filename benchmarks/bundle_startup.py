"""The installable bundle (packaging/build.sh): its size, and start-up time of ``refrain --version`` and of
the app (``refrain app --screenshot``, offscreen: start, first frame, exit) from the bundle and from the
source checkout's venv in the same run. Prints one JSON object; the goal is the app under 3 s.

    packaging/build.sh && .venv/bin/python benchmarks/bundle_startup.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "packaging" / "dist" / "refrain"


def wall(cmd: list[str], cwd: str) -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if not (BUNDLE / "refrain").is_file():
        raise SystemExit("no bundle: run packaging/build.sh first")
    size = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file() and not p.is_symlink())
    out: dict[str, object] = {"bundle_mb": round(size / 2**20, 1), "files": sum(1 for _ in BUNDLE.rglob("*"))}
    with tempfile.TemporaryDirectory() as tmp:
        for name, exe in (("bundle", [str(BUNDLE / "refrain")]), ("venv", [sys.executable, "-m", "app.cli"])):
            for what, args in (("version", ["--version"]), ("app", ["app", "--screenshot", "s.png"])):
                times = [wall([*exe, *args], tmp) for _ in range(a.repeats)]
                out[f"{name}_{what}_s"] = round(statistics.median(times), 2)
    out["goal_app_s"] = 3.0
    out["bundle_app_within_goal"] = bool(float(out["bundle_app_s"]) < 3.0)  # type: ignore[arg-type]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
