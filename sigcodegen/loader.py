"""load_module(spec): in-process memo -> disk cache -> prebuilt (generated/) -> build.

The key of an emitted source is the sha256 of its key material (DESIGN.md §5): a schema number,
the package version, the hash of the generator's own sources (planner, emitters, templates) and
the spec fields that decide the source. Emitted sources do not depend on the installed jax,
keras or compiler, so those are not part of it: a new jax does not invalidate the cache, and
generated/ is the same on every machine. The c target's compiled library has a key of its own:
the source key plus the toolchain identity (compiler, version, flags, vector width, XLA FFI
headers), and lives beside its source as ``<stem>-<library digest>.so``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

from . import __version__, config, native
from .cache import (Cache, CacheEntry, default_cache, fallback_cache, read_verified,
                    sha256_bytes)
from .resources import generated_dir, generator_hash
from .spec import SOURCE_SUFFIX, KernelSpec

__all__ = ["SCHEMA", "key_material", "cache_key", "stem", "render", "load_module", "build",
           "build_library", "library_key", "compile_logs", "write_to", "clear_memo", "loaded"]

logger = logging.getLogger("sigcodegen.loader")

SCHEMA = 1
_KIND_PREFIX = {"signature": "sig", "logsignature": "logsig"}
#: What each target needs installed to import its modules.
_REQUIRES = {"jax": ("jax", "sigcodegen[jax]"), "keras": ("keras", "sigcodegen[keras]"),
             "c": ("numpy", "sigcodegen"), "triton": ("triton", "sigcodegen[triton]")}

_memo: dict[tuple, ModuleType] = {}
_memo_lock = threading.RLock()


def key_material(spec: KernelSpec) -> dict:
    return {
        "schema": SCHEMA,
        "package": __version__,
        "generator": generator_hash(spec.target),
        "module": spec.module_fields(),
        "toolchain": {},
    }


def cache_key(spec: KernelSpec) -> str:
    material = json.dumps(key_material(spec), sort_keys=True, separators=(",", ":"))
    return sha256_bytes(material.encode())


def stem(spec: KernelSpec, key: str | None = None) -> str:
    """Readable file name without suffix: ``sig_d5_m4_jax_<digest12>``."""
    key = key or cache_key(spec)
    return f"{_KIND_PREFIX[spec.kind]}_d{spec.dim}_m{spec.depth}_{spec.target}_{key[:12]}"


def render(spec: KernelSpec) -> tuple[str, dict]:
    """The module source for ``spec`` and the meta that goes with it."""
    from .emit import Provenance, emitter_for  # jinja2 and the planner load only to build
    from .plan import make_plan

    key = cache_key(spec)
    plan = make_plan(spec)
    prov = Provenance(
        key=key,
        package_version=__version__,
        generator=generator_hash(spec.target),
        module_fields=tuple(spec.module_fields().items()),
    )
    source = emitter_for(spec.target).render(plan, prov)
    meta = {"key": key, "stem": stem(spec, key), "key_material": key_material(spec),
            "plan": plan.summary()}
    return source, meta


def _entry(folder: Path, spec: KernelSpec, key: str) -> CacheEntry:
    return CacheEntry(folder, stem(spec, key), SOURCE_SUFFIX[spec.target])


def build(spec: KernelSpec, cache: Cache | None = None) -> tuple[Path, bytes]:
    """Make sure the module for ``spec`` is on disk and verified; return its path and bytes.

    Order: the cache, then a prebuilt module in generated/ with the same key, then a build into
    the cache under the entry's lock (re-checked once the lock is held, so concurrent processes
    build each key once).
    """
    cache = cache or default_cache()
    key = cache_key(spec)
    entry = _entry(cache.root, spec, key)
    data = read_verified(entry, key)
    if data is not None:
        return entry.source, data
    prebuilt = generated_dir()
    if prebuilt is not None and config.use_prebuilt():
        shipped = _entry(prebuilt, spec, key)
        data = read_verified(shipped, key) if shipped.meta.exists() else None
        if data is not None:
            return shipped.source, data
    try:
        return _build_into(cache, spec, key)
    except OSError as err:  # a read-only or full cache folder: build where we can write
        return _build_into(fallback_cache(f"sigcodegen: cannot write to {cache.root} ({err})"),
                           spec, key)


def _build_into(cache: Cache, spec: KernelSpec, key: str) -> tuple[Path, bytes]:
    entry = _entry(cache.root, spec, key)
    with cache.lock(entry):
        data = read_verified(entry, key)
        if data is None:
            source, meta = render(spec)
            data = source.encode()
            cache.write(entry, data, meta)
            logger.info("sigcodegen: built %s", entry.source)
    return entry.source, data


def library_key(spec: KernelSpec, tc: native.Toolchain) -> str:
    material = {"source": cache_key(spec), "toolchain": tc.key()}
    return sha256_bytes(json.dumps(material, sort_keys=True, separators=(",", ":")).encode())


def _library_entry(folder: Path, spec: KernelSpec, key: str, bits: int) -> CacheEntry:
    return CacheEntry(folder, f"{stem(spec)}-{key[:12]}-f{bits}", ".so")


def compile_logs(spec: KernelSpec, cache: Cache | None = None) -> list[Path]:
    """The compiler's output of failed c builds of ``spec`` with the current toolchain."""
    cache = cache or default_cache()
    try:
        key = library_key(spec, native.toolchain())
    except native.CompilerUnavailable:
        return []
    logs = [_library_entry(cache.root, spec, key, bits) for bits in (32, 64)]
    return [log for e in logs if (log := e.folder / f"{e.stem}.log").is_file()]


def build_library(spec: KernelSpec, cache: Cache | None = None, bits: int = 32) -> Path:
    """The c target's shared library of one precision (32 or 64 bits) for ``spec``, compiled
    into the cache unless a verified one is there. Raises native.CompilerUnavailable /
    native.CompileError (the compiler's output is kept beside it in ``<stem>.log``)."""
    cache = cache or default_cache()
    _, source = build(spec, cache)
    tc = native.toolchain()
    key = library_key(spec, tc)
    entry = _library_entry(cache.root, spec, key, bits)
    if read_verified(entry, key) is not None:
        return entry.source
    try:
        return _compile_into(cache, spec, source, tc, key, bits)
    except OSError as err:  # a read-only or full cache folder: build where we can write
        fallback = fallback_cache(f"sigcodegen: cannot write to {cache.root} ({err})")
        return _compile_into(fallback, spec, source, tc, key, bits)


def _compile_into(cache: Cache, spec: KernelSpec, source: bytes, tc: native.Toolchain, key: str,
                  bits: int) -> Path:
    entry = _library_entry(cache.root, spec, key, bits)
    with cache.lock(entry):
        if read_verified(entry, key) is None:
            log_path = entry.folder / f"{entry.stem}.log"
            with tempfile.TemporaryDirectory(dir=cache.root, prefix=f".{entry.stem}") as tmp:
                c_file, so_file = Path(tmp) / f"{stem(spec)}.c", Path(tmp) / "library.so"
                c_file.write_bytes(source)  # exactly the verified source
                try:
                    native.compile_library(c_file, so_file, tc, bits)
                except native.CompileError as err:
                    log_path.write_text(err.log)
                    raise native.CompileError(f"{err} (full output: {log_path})", err.log) from None
                meta = {"key": key, "stem": entry.stem, "source_key": cache_key(spec),
                        "source_sha256": sha256_bytes(source), "toolchain": tc.key(),
                        "bits": bits, "library_of": stem(spec)}
                cache.write(entry, so_file.read_bytes(), meta)
            log_path.unlink(missing_ok=True)
            logger.info("sigcodegen: built %s", entry.source)
    return entry.source


def write_to(spec: KernelSpec, folder: Path) -> Path:
    """Render ``spec`` into ``folder`` (e.g. generated/) with its meta; returns the source path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source, meta = render(spec)
    out = Cache(folder)
    entry = _entry(folder, spec, meta["key"])
    with out.lock(entry):
        out.write(entry, source.encode(), meta)
    entry.lock_path.unlink(missing_ok=True)
    return entry.source


def _load_native(spec: KernelSpec) -> native.NativeModule:
    """The c module: its libraries (one per precision) are built on first use of each."""
    path, _ = build(spec)
    tc = native.toolchain()  # raises CompilerUnavailable here, before anything is loaded
    return native.NativeModule(
        spec.dim, spec.depth, spec.siglen, name=path.stem,
        library=lambda bits: build_library(spec, bits=bits),
        has_ffi=tc.ffi_include is not None, source=path)


def _import(path: Path, data: bytes, spec: KernelSpec) -> ModuleType:
    package, hint = _REQUIRES[spec.target]
    if importlib.util.find_spec(package) is None:
        raise ImportError(
            f"sigcodegen: target {spec.target!r} ({spec}) needs {package}, which is not "
            f"installed; install it with `pip install '{hint}'` or choose another target"
        )
    name = f"sigcodegen._kernels.{path.stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    code = compile(data, str(path), "exec", dont_inherit=True)  # exactly the verified bytes
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except Exception as err:
        del sys.modules[name]
        raise ImportError(
            f"sigcodegen: the emitted module {path} for {spec} failed to import: {err!r}. "
            f"Run `sigcodegen cache clear` and retry; if it persists, report it with that file"
        ) from err
    return module


def _memo_key(kind: str, dim: int, depth: int, target: str) -> tuple:
    """The memo key of a module: the fields of KernelSpec.module_fields, which decide it."""
    return kind, dim, depth, target


def loaded(kind: str, dim: int, depth: int, target: str) -> ModuleType | None:
    """The module already imported in this process for these fields, or None (no spec is
    built: the fast path of every call after the first)."""
    return _memo.get(_memo_key(kind, dim, depth, target))


def load_module(spec: KernelSpec) -> ModuleType:
    """The imported module for ``spec`` (memoised per process: later calls touch no disk)."""
    fields = _memo_key(**spec.module_fields())
    module = _memo.get(fields)
    if module is not None:
        return module
    with _memo_lock:
        module = _memo.get(fields)
        if module is None:
            if spec.target == "c":
                module = _memo[fields] = _load_native(spec)
            else:
                path, data = build(spec)
                module = _memo[fields] = _import(path, data, spec)
    return module


def clear_memo() -> None:
    """Forget the modules imported in this process (tests; after `sigcodegen cache clear`)."""
    with _memo_lock:
        _memo.clear()
