"""Shared test setup: a private kernel cache for the whole run (subprocesses inherit it)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

# Before sigcodegen is imported anywhere: never touch the user's cache from the tests.
os.environ.setdefault(
    "SIGCODEGEN_CACHE_DIR", tempfile.mkdtemp(prefix="sigcodegen-test-cache-")
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder for one test, and no modules remembered in-process."""
    from sigcodegen.runtime.dispatch import clear_memo

    folder = tmp_path / "cache"
    monkeypatch.setenv("SIGCODEGEN_CACHE_DIR", str(folder))
    clear_memo()
    yield folder
    clear_memo()
