"""The layers point one way: app -> models -> engine. This parses every module's imports (AST) and fails on
a forbidden arrow: engine -> models, engine -> app, models -> app, models -> the engine's real-time core,
Qt outside ``app/``, and torch on the inference path (imported when a module that runs inference is)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "engine", "models")
QT = ("PySide6", "shiboken6", "pyqtgraph")
REALTIME = ("engine.api", "engine.stream", "engine.ring", "engine.render", "engine.commands", "engine.events",
            "engine.jack", "engine.bench", "engine.graph", "engine.callback")  # fmt: skip
# Modules that run inference (besides every app and engine module): they and what they import at module level
# must never import torch, so the CLI and the app start fast and the bundle needs no torch.
INFERENCE = (
    "models.platform.onnx",
    "models.platform.registry",
    "models.platform.stft",
    "models.platform.stream",
    "models.separator.runtime",
    "models.generator.sampler",
    "models.generator.piece",
    "models.structure",
)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path, top_level_only: bool) -> list[tuple[int, str]]:
    """(line, imported module) of every import, or only those that run when the module is imported."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if _is_type_checking(node):
                continue
            if isinstance(node, ast.Import):
                found.extend((node.lineno, a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.lineno, node.module))
                found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])
            elif not top_level_only:
                visit([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)])

    visit(tree.body)
    return found


def _starts(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def forbidden(importer: str, imported: str) -> str | None:
    if importer.startswith("engine") and _starts(imported, ("models", "app")):
        return "the engine imports nothing from models or app"
    if importer.startswith("models") and _starts(imported, ("app",)):
        return "models import nothing from app"
    if importer.startswith("models") and _starts(imported, REALTIME):
        return "models use the engine's offline parts only, never its real-time core"
    if not importer.startswith("app") and _starts(imported, QT):
        return "Qt belongs to app/ only"
    return None


def test_no_forbidden_arrow() -> None:
    bad = []
    for name, path in modules().items():
        for line, imported in imports(path, top_level_only=False):
            why = forbidden(name, imported)
            if why:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {name} -> {imported} ({why})")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_each_kind_of_arrow(tmp_path: Path) -> None:
    """The rules catch what they are for, including imports inside functions (so the test can fail)."""
    assert forbidden("engine.bounce", "models.platform.onnx")
    assert forbidden("engine.graph", "app.session")
    assert forbidden("models.separator.runtime", "app.cli")
    assert forbidden("models.data.synth", "engine.render")
    assert forbidden("models.x", "PySide6.QtCore") and forbidden("engine.x", "pyqtgraph")
    assert not forbidden("app.session", "PySide6.QtCore") and not forbidden("models.x", "engine.audio_io")
    p = tmp_path / "m.py"
    p.write_text("import numpy\ndef f():\n    from app import cli\nif True:\n    import torch\n")
    assert [m for _, m in imports(p, top_level_only=True)] == ["numpy", "torch"]
    assert "app" in [m for _, m in imports(p, top_level_only=False)]


def _closure(roots: list[str], mods: dict[str, Path]) -> dict[str, str]:
    """Every module imported (at module level, transitively, with parent packages) from ``roots``: name ->
    the module that imported it first."""
    seen: dict[str, str] = {}
    todo = [(r, "") for r in roots]
    while todo:
        name, parent = todo.pop()
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            mod = ".".join(parts[:k])
            if mod in seen:
                continue
            seen[mod] = parent
            if mod in mods:
                todo.extend((imp, mod) for _, imp in imports(mods[mod], top_level_only=True))
    return seen


def test_torch_is_not_on_the_inference_path() -> None:
    mods = modules()
    roots = [m for m in mods if m.startswith(("app", "engine"))] + [m for m in mods if _starts(m, INFERENCE)]
    seen = _closure(roots, mods)
    if "torch" in seen:
        chain, m = [], "torch"
        while m:
            chain.append(m)
            m = seen[m]
        pytest.fail("torch is imported on the inference path: " + " <- ".join(chain))


def test_inference_imports_no_torch_when_run() -> None:
    """The same, checked by importing the inference entry points in a fresh interpreter."""
    code = (
        "import sys, app.cli, app.main, app.tasks, models.separator.runtime, models.generator.piece, "
        "models.platform.stream; print('torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
