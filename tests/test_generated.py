"""generated/ holds the committed output of `sigcodegen build --reference --out generated`; it
must equal what the generator emits now, and the loader uses it (verified) before building."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigcodegen.jit.cache import sha256_bytes
from sigcodegen.cli import REFERENCE_SPECS
from sigcodegen.jit.loader import render
from sigcodegen.runtime.dispatch import load_module
from sigcodegen.spec import TARGETS, KernelSpec

GENERATED = Path(__file__).resolve().parents[1] / "generated"
REFRESH = "refresh it with `sigcodegen build --reference --out generated`"


def _expected():
    out = {}
    for dim, depth in REFERENCE_SPECS:
        for target in TARGETS:
            source, meta = render(KernelSpec(dim=dim, depth=depth, target=target))
            out[meta["stem"]] = (source, meta, ".c" if target == "c" else ".py")
    return out


def test_generated_matches_the_generator():
    expected = _expected()
    present = {p.stem for p in GENERATED.iterdir() if p.suffix in (".py", ".c")}
    assert present == set(expected), f"generated/ is stale: {sorted(present ^ set(expected))}; {REFRESH}"
    for stem, (source, meta, suffix) in expected.items():
        text = (GENERATED / f"{stem}{suffix}").read_text()
        assert text == source, f"generated/{stem}{suffix} differs from the generator; {REFRESH}"
        stored = json.loads((GENERATED / f"{stem}.json").read_text())
        assert stored["key"] == meta["key"]
        assert stored["source_sha256"] == sha256_bytes(source.encode())


def test_loader_imports_the_prebuilt_module(fresh_cache):
    module = load_module(KernelSpec(dim=2, depth=3, target="jax"))
    assert Path(module.__file__).parent == GENERATED
    assert not fresh_cache.exists() or not list(fresh_cache.glob("*.py"))


def test_tampered_prebuilt_module_is_not_imported(fresh_cache, tmp_path, monkeypatch):
    import shutil

    import sigcodegen.jit.loader as loader

    copy = tmp_path / "generated"
    shutil.copytree(GENERATED, copy)
    target = next(copy.glob("sig_d2_m3_jax_*.py"))
    target.write_text(target.read_text() + "\nraise SystemExit('tampered')\n")
    monkeypatch.setattr(loader, "generated_dir", lambda: copy)
    module = load_module(KernelSpec(dim=2, depth=3, target="jax"))
    assert Path(module.__file__).parent == fresh_cache  # rebuilt into the cache instead


def test_committed_modules_hold_the_plan_rules_verbatim():
    """Each committed Python module carries plan/rules.py's functions for the strategies it
    runs, word for word, once."""
    import inspect

    from sigcodegen.plan import rules

    modules = sorted(GENERATED.glob("*.py"))
    assert modules
    for path in modules:
        text = path.read_text()
        wanted = [rules.num_chunks] + ([rules.levelwise_block_steps, rules.bucket]
                                       if "_triton_" not in path.name else [])
        for fn in wanted:
            assert text.count(inspect.getsource(fn)) == 1, f"{path.name}: {fn.__name__}; {REFRESH}"
        if "_triton_" in path.name:
            assert "def levelwise_block_steps" not in text
            assert "def bucket" not in text
