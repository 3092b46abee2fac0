"""The installable app: PyInstaller's one-folder bundle of the inference product (packaging/refrain.spec)
is built and its own executable generates, separates and starts the app offscreen; packaging/install.sh
installs the command, the desktop entry, the icon and the .refrain MIME type for a user."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "packaging" / "dist" / "refrain"


@pytest.fixture(scope="module")
def bundle() -> Path:
    r = subprocess.run([str(ROOT / "packaging" / "build.sh")], capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert (BUNDLE / "refrain").is_file()
    return BUNDLE / "refrain"


@pytest.mark.slow
def test_the_bundle_generates_separates_and_starts_the_app(bundle: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([str(bundle), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (args, r.stderr[-3000:])
        return r

    assert run("--version").stdout.startswith("refrain ")
    run("generate", "--preset", "aaba", "--out", "p.mid")
    assert (tmp_path / "p.mid").stat().st_size > 100
    t = np.arange(44100 * 3) / 44100
    sf.write(tmp_path / "song.wav", np.stack([np.sin(2 * np.pi * 110 * t)] * 2).T * 0.3, 44100)
    run("separate", "song.wav", "--out", "stems")
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == [
        "bass.wav",
        "drums.wav",
        "other.wav",
        "vocals.wav",
    ]
    run("app", "--screenshot", "shot.png")
    assert (tmp_path / "shot.png").stat().st_size > 10_000
    assert not any("torch" in p.name for p in (BUNDLE / "_internal").iterdir())  # inference only


@pytest.mark.slow
def test_install_script_registers_the_app_for_the_user(bundle: Path, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share"), "PREFIX_BIN": str(tmp_path / "bin")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    engine_dir = tmp_path / "share" / "refrain" / "_internal" / "engine"  # where the installed bundle's sources live
    kernels = tmp_path / "cache" / "numba" / f"engine_{hashlib.sha1(str(engine_dir).encode()).hexdigest()}"
    r = subprocess.run([str(ROOT / "packaging" / "install.sh")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    desktop = (tmp_path / "share" / "applications" / "refrain.desktop").read_text()
    assert f"Exec={tmp_path / 'bin' / 'refrain'} app %f" in desktop and "application/x-refrain-project" in desktop
    assert (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "refrain.svg").exists()
    assert "*.refrain" in (tmp_path / "share" / "mime" / "packages" / "refrain-project.xml").read_text()
    out = subprocess.run([str(tmp_path / "bin" / "refrain"), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("refrain ")
    assert any(kernels.glob("*.nbi")), "the install compiles the engine's kernels"
    r = subprocess.run([str(ROOT / "packaging" / "install.sh"), "--uninstall"], env=env, capture_output=True)
    assert r.returncode == 0 and not (tmp_path / "bin" / "refrain").exists()
    assert not kernels.exists()  # the uninstall takes the compiled kernels with it
