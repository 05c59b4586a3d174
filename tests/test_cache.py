"""The cache: keys, atomic entries, verification before import, rebuilds, concurrency, memo,
and refusal of unsafe folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sigcodegen.jit.loader as loader
import sigcodegen.runtime.dispatch as dispatch
from sigcodegen.jit.loader import cache_key, key_material
from sigcodegen.runtime.dispatch import load_module
from sigcodegen.spec import KernelSpec

SPEC = KernelSpec(dim=3, depth=2, target="jax")  # not in generated/, so it is built


def _entry_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".py", ".json", ".tmp"))


def test_key_material_and_name():
    material = key_material(SPEC)
    assert set(material) == {"schema", "package", "generator", "module", "toolchain"}
    assert material["module"] == {"kind": "signature", "dim": 3, "depth": 2, "target": "jax"}
    # options that the module computes at run time do not split the cache
    assert cache_key(SPEC.replace(stream=True, dtype="float64", strategy="levelwise")) == cache_key(SPEC)
    assert cache_key(SPEC.replace(target="keras")) != cache_key(SPEC)
    assert loader.stem(SPEC).startswith("sig_d3_m2_jax_")


def test_build_writes_source_then_meta(fresh_cache):
    module = load_module(SPEC)
    stem = loader.stem(SPEC)
    assert _entry_files(fresh_cache) == [f"{stem}.json", f"{stem}.py"]
    meta = json.loads((fresh_cache / f"{stem}.json").read_text())
    assert meta["key"] == cache_key(SPEC)
    assert module.__file__ == str(fresh_cache / f"{stem}.py")
    assert oct(fresh_cache.stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize("damage", ["truncate", "drop_meta", "garbage_meta"])
def test_damaged_entry_is_rebuilt_not_imported(fresh_cache, damage, caplog):
    load_module(SPEC)
    stem = loader.stem(SPEC)
    source, meta = fresh_cache / f"{stem}.py", fresh_cache / f"{stem}.json"
    good = source.read_bytes()
    if damage == "truncate":
        source.write_bytes(good[: len(good) // 2])  # a write cut short: a syntax error if imported
    elif damage == "drop_meta":
        meta.unlink()  # a writer killed before its commit marker
    else:
        meta.write_text("{not json")
    dispatch.clear_memo()
    module = load_module(SPEC)
    assert source.read_bytes() == good
    out = np.asarray(module.signature(np.ones((1, 3, 3), np.float32)))
    assert out.shape == (1, 12)
    if damage == "truncate":
        assert "does not match the sha256" in caplog.text


def test_memo_does_not_touch_disk(fresh_cache, monkeypatch):
    first = load_module(SPEC)

    def no_disk(*args, **kwargs):
        raise AssertionError("load_module went to disk for a memoised module")

    monkeypatch.setattr(dispatch, "import_source", no_disk)
    monkeypatch.setattr(dispatch, "native_build", no_disk)
    assert load_module(SPEC.replace(strategy="chunked", stream=True)) is first


def test_cache_dir_override(tmp_path, monkeypatch):
    folder = tmp_path / "elsewhere" / "cache"
    monkeypatch.setenv("SIGCODEGEN_CACHE_DIR", str(folder))
    path, _ = loader.build(SPEC)
    assert path.parent == folder


def test_unsafe_folder_is_refused_with_fallback(tmp_path, monkeypatch):
    import sigcodegen.jit.cache as cache

    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    monkeypatch.setenv("SIGCODEGEN_CACHE_DIR", str(folder))
    monkeypatch.setattr(cache, "_warned", set())
    with pytest.warns(RuntimeWarning, match=r"writable by group or others.*chmod go-w"):
        chosen = cache.default_cache()
    assert chosen.root != folder and (chosen.root.stat().st_mode & 0o077) == 0
    path, _ = loader.build(SPEC)
    assert path.parent == chosen.root and not any(folder.iterdir())


def test_two_processes_build_the_same_new_spec(fresh_cache):
    script = textwrap.dedent(
        """
        import sys, time
        from sigcodegen.runtime.dispatch import load_module
        from sigcodegen.spec import KernelSpec
        start = float(sys.argv[1])
        while time.time() < start:
            pass
        module = load_module(KernelSpec(dim=4, depth=3, target="keras"))
        print(module.SIGLEN)
        """
    )
    import time

    start = time.time() + 2.0
    env = {**os.environ, "SIGCODEGEN_CACHE_DIR": str(fresh_cache), "KERAS_BACKEND": "jax"}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(start)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert out.strip() == str(4 + 16 + 64)
    stem = loader.stem(KernelSpec(dim=4, depth=3, target="keras"))
    assert _entry_files(fresh_cache) == [f"{stem}.json", f"{stem}.py"]


def test_symlinked_entry_is_refused_and_replaced(fresh_cache, tmp_path, caplog):
    load_module(SPEC)
    stem = loader.stem(SPEC)
    source = fresh_cache / f"{stem}.py"
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_bytes(source.read_bytes())
    source.unlink()
    source.symlink_to(elsewhere)  # same bytes, but not a file the cache wrote
    dispatch.clear_memo()
    module = load_module(SPEC)
    assert "is a symlink" in caplog.text
    assert not source.is_symlink() and module.__file__ == str(source)
    assert elsewhere.read_bytes() == source.read_bytes()  # the link's target was left alone


def test_unwritable_cache_builds_in_a_private_temporary_folder(fresh_cache, monkeypatch):
    """A read-only folder (EROFS; as root, permissions alone never block a write): one warning,
    then the build lands in a private temporary cache and works."""
    import errno

    import sigcodegen.jit.cache as cache

    fresh_cache.mkdir(mode=0o700)
    real_write = cache.Cache.write

    def read_only(self, entry, data, meta):
        if self.root == fresh_cache:
            raise OSError(errno.EROFS, "Read-only file system", str(entry.source))
        return real_write(self, entry, data, meta)

    monkeypatch.setattr(cache.Cache, "write", read_only)
    monkeypatch.setattr(cache, "_warned", set())
    with pytest.warns(RuntimeWarning, match="cannot write to .*Read-only file system"):
        module = load_module(SPEC)
    assert not module.__file__.startswith(str(fresh_cache))
    assert (os.stat(os.path.dirname(module.__file__)).st_mode & 0o077) == 0
    assert np.asarray(module.signature(np.ones((1, 4, 3), np.float32))).shape == (1, 12)


STRESS = textwrap.dedent(
    """
    import sys, time
    from sigcodegen.jit.loader import build
    from sigcodegen.spec import KernelSpec
    worker, start = int(sys.argv[1]), float(sys.argv[2])
    shared = [KernelSpec(dim=1, depth=d, target="jax") for d in (21, 22, 23)]
    own = [KernelSpec(dim=1, depth=30 + 3 * worker + i, target="keras") for i in range(3)]
    while time.time() < start:
        pass
    for spec in shared + own:
        path, data = build(spec)
        assert path.read_bytes() == data
    print("ok")
    """
)


@pytest.mark.slow
def test_eight_processes_build_shared_and_own_specs(fresh_cache):
    import time

    start = time.time() + 3.0
    env = {**os.environ, "SIGCODEGEN_CACHE_DIR": str(fresh_cache), "SIGCODEGEN_PREBUILT": "0"}
    procs = [subprocess.Popen([sys.executable, "-c", STRESS, str(i), str(start)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(8)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and out.strip() == "ok", err
    sources = sorted(p.name for p in fresh_cache.glob("*.py"))
    metas = sorted(p.name for p in fresh_cache.glob("*.json"))
    assert len(sources) == 3 + 8 * 3  # one entry per key
    assert [m.replace(".json", ".py") for m in metas] == sources
    assert not list(fresh_cache.glob("*.tmp")) and not list(fresh_cache.glob(".*"))


KILLED = textwrap.dedent(
    """
    import os, signal
    import sigcodegen.jit.cache as cache
    from sigcodegen.jit.loader import build
    from sigcodegen.spec import KernelSpec
    real = cache._atomic_write

    def dies_half_way(path, data):
        if path.suffix == ".py":  # the source's temporary file is written, then the process dies
            fd = os.open(path.parent / f".{path.stem}partial.tmp", os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        real(path, data)

    cache._atomic_write = dies_half_way
    build(KernelSpec(dim=3, depth=2, target="jax"))
    """
)


def test_process_killed_mid_write_leaves_the_cache_usable(fresh_cache):
    env = {**os.environ, "SIGCODEGEN_CACHE_DIR": str(fresh_cache), "SIGCODEGEN_PREBUILT": "0"}
    killed = subprocess.run([sys.executable, "-c", KILLED], env=env, capture_output=True, timeout=300)
    assert killed.returncode == -9
    stem = loader.stem(SPEC)
    assert list(fresh_cache.glob(f".{stem}*.tmp")) and not (fresh_cache / f"{stem}.json").exists()
    module = load_module(SPEC)  # rebuilds: no meta means no entry
    assert module.__file__ == str(fresh_cache / f"{stem}.py")
    assert not list(fresh_cache.glob("*.tmp")) and not list(fresh_cache.glob(".*"))


def test_artifact_lifecycle_builds_once_checks_before_commit(tmp_path):
    """The one lifecycle (sources and libraries): make runs once per key; a failed check commits
    nothing; a shipped copy is used without building; a damaged entry is rebuilt."""
    from sigcodegen.jit.cache import Artifact, Cache

    calls = []

    def make(entry):
        calls.append(entry.folder)
        return b"payload", {"what": "test"}

    folder = tmp_path / "c"
    folder.mkdir(mode=0o700)
    artifact = Artifact("thing", ".bin", "k" * 64, make)
    path, data = artifact.build(Cache(folder))
    assert data == b"payload" and path == folder / "thing.bin" and len(calls) == 1
    assert artifact.build(Cache(folder))[1] == b"payload" and len(calls) == 1
    path.write_bytes(b"tampered")
    assert artifact.build(Cache(folder))[1] == b"payload" and len(calls) == 2

    def refuse(data):
        raise SyntaxError("not committed")

    other = tmp_path / "d"
    other.mkdir(mode=0o700)
    with pytest.raises(SyntaxError):
        Artifact("bad", ".bin", "b" * 64, make, check=refuse).build(Cache(other))
    assert not (other / "bad.json").exists() and not (other / "bad.bin").exists()

    shipped = Artifact("thing", ".bin", "k" * 64, make, shipped=folder)
    empty = tmp_path / "e"
    empty.mkdir(mode=0o700)
    assert shipped.build(Cache(empty)) == (folder / "thing.bin", b"payload")
    assert len(calls) == 3 - 1 + 1 and not list(empty.iterdir())
