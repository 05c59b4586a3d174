"""The architecture contract: imports point down the layers named in pyproject.toml's
``[tool.importlinter]`` (checked by import-linter), and no module takes another module's private
names. See docs/architecture.md for the layers and why they are in this order."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sigcodegen"


def test_import_contracts_hold():
    """``lint-imports`` checks every contract in pyproject.toml (layers, independence)."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.fail("import-linter is not installed: pip install -e '.[test]'")
    result = subprocess.run([command, str(ROOT / "pyproject.toml"), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout and "KEPT" in result.stdout


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_crossings(package: Path = PACKAGE) -> list[str]:
    """Every place a module of ``package`` imports a private name (``_x``) from another module,
    or reads ``mod._x`` from a module it imported: ``file:line: what``."""
    found, root = [], package.parent
    for path in sorted(package.rglob("*.py")):
        module = _module_name(path, root)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        imported: dict[str, str] = {}  # local name -> module it names
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _resolve(module, is_package, node.level, node.module)
                if not source.startswith("sigcodegen"):
                    continue
                for alias in node.names:
                    target = f"{source}.{alias.name}"
                    if _private(alias.name) and source != module:
                        # a private submodule imported from its own package is fine
                        if not (target.startswith(module + ".") and is_package):
                            found.append(f"{path.relative_to(root)}:{node.lineno}: "
                                         f"from {source} import {alias.name}")
                    imported[alias.asname or alias.name] = target
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("sigcodegen"):
                        imported[alias.asname or alias.name.split(".")[0]] = (
                            alias.name if alias.asname else alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr)
                    and isinstance(node.value, ast.Name) and node.value.id in imported):
                owner = imported[node.value.id]
                if owner != module:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: "
                                 f"{node.value.id}.{node.attr} (from {owner})")
    return found


def test_no_module_takes_another_modules_private_names():
    crossings = private_crossings()
    assert not crossings, "private names cross module boundaries:\n" + "\n".join(crossings)


def test_private_name_check_can_fail(tmp_path):
    """The checker itself finds both forms of crossing (so the test above can fail)."""
    package = tmp_path / "sigcodegen"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def _hidden():\n    pass\n")
    (package / "b.py").write_text("from .a import _hidden\nfrom . import a\nx = a._hidden\n")
    crossings = private_crossings(package)
    assert any("import _hidden" in c for c in crossings)
    assert any("a._hidden" in c for c in crossings)


def test_importing_sigcodegen_loads_no_planner_emitter_or_array_library():
    """`import sigcodegen` stays light: the planner, the emitters, jinja2 and the array
    libraries load on first use (docs/architecture.md, section 1)."""
    import subprocess
    import sys

    code = ("import sys, sigcodegen; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('jinja2', 'jax', 'torch', 'tensorflow', 'keras') or m.startswith(("
            "'sigcodegen.plan', 'sigcodegen.emit'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", out
