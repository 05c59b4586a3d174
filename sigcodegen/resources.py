"""Where the shipped data lives, in a checkout and in an installed wheel.

The wheel maps the top-level ``templates/`` and ``generated/`` folders to
``sigcodegen/templates`` and ``sigcodegen/generated`` (pyproject ``force-include``); in a
checkout (or an editable install) they sit beside the package. Both are only ever read.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__all__ = ["templates_dir", "generated_dir", "generator_hash"]

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path | None:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    return None


def templates_dir() -> Path:
    found = _find("templates")
    if found is None:
        raise FileNotFoundError(
            f"sigcodegen: no templates folder next to {_PACKAGE} or inside it; the install is "
            f"incomplete: reinstall with `pip install --force-reinstall sigcodegen` (or from the "
            f"checkout: `pip install .`)"
        )
    return found


def generated_dir() -> Path | None:
    """The committed prebuilt kernels, or None when this install has none."""
    return _find("generated")


#: Sources whose text decides what the generator emits (besides the target's templates).
_GENERATOR_SOURCES = ("spec.py", "algebra.py", "plan", "emit")


@functools.lru_cache(maxsize=None)
def generator_hash(target: str) -> str:
    """sha256 over the planner, the emitters and the templates ``target`` renders, named by
    their path relative to the package or the templates folder (same in a checkout and a
    wheel). Any edit to them changes every cache key of that target."""
    digest = hashlib.sha256()
    files: list[tuple[str, Path]] = []
    for name in _GENERATOR_SOURCES:
        path = _PACKAGE / name
        found = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        files += [(f"sigcodegen/{p.relative_to(_PACKAGE).as_posix()}", p) for p in found]
    templates = templates_dir()
    for folder in ("common", target):
        found = sorted(p for p in (templates / folder).rglob("*") if p.is_file())
        files += [(f"templates/{p.relative_to(templates).as_posix()}", p) for p in found]
    for name, path in sorted(files):
        if "__pycache__" in name:
            continue
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
