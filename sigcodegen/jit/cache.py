"""The on-disk kernel cache and the one build lifecycle every artifact goes through (model:
FlashInfer's ``JitSpec.build_and_load``, Inductor's code cache, Triton's cache).

An entry is two files named by a readable stem, ``sig_d5_m4_jax_<digest12>``:

- ``<stem>.py``   the emitted source;
- ``<stem>.json`` its meta (key, key material, sha256 of the source), written last: it is the
  commit marker, so an entry without it was never finished and is not loaded.

Writes happen under a per-stem file lock (``filelock``), into a temporary file in the same folder
that is then ``os.replace``-d into place. Reads verify the meta and the source hash and hand back
exactly the bytes that were verified, so what is imported is what was checked.

:class:`Artifact` is that lifecycle, written once for emitted sources and compiled libraries
alike: try to load a verified entry (from the cache, then from a read-only shipped folder) ->
take the entry's lock -> check again -> build -> check what was built -> commit (source, then
meta) -> read it back verified; when the cache folder cannot be written, the same steps in a
private temporary folder.

The cache holds code that gets imported, so its folder must belong to the current user and not be
writable by group or others; otherwise it is refused (with a message naming the path and the fix)
and a private temporary folder is used instead, with one warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import config

__all__ = ["Artifact", "Cache", "CacheEntry", "UnsafeCacheError", "default_cache",
           "fallback_cache", "read_verified", "sha256_bytes"]

log = logging.getLogger(__name__)

_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class UnsafeCacheError(RuntimeError):
    """The cache folder could let someone else change code that sigcodegen imports."""


@dataclass(frozen=True)
class CacheEntry:
    folder: Path
    stem: str
    suffix: str = ".py"

    @property
    def source(self) -> Path:
        return self.folder / f"{self.stem}{self.suffix}"

    @property
    def meta(self) -> Path:
        return self.folder / f"{self.stem}.json"

    @property
    def lock_path(self) -> Path:
        return self.folder / f"{self.stem}.lock"


def read_verified(entry: CacheEntry, key: str) -> bytes | None:
    """The entry's source bytes if its meta is complete, names ``key`` and matches the source's
    sha256; otherwise None (the reason is logged). An entry whose files are symlinks is refused:
    the cache only ever holds regular files it wrote itself."""
    for path in (entry.meta, entry.source):
        if path.is_symlink():
            log.warning("sigcodegen: %s is a symlink; not importing it, rebuilding (the build "
                        "replaces the link)", path)
            return None
    try:
        meta = json.loads(entry.meta.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        log.warning("sigcodegen: unreadable meta %s (%s); rebuilding", entry.meta, err)
        return None
    if not isinstance(meta, dict) or meta.get("key") != key:
        log.warning("sigcodegen: %s belongs to another key; rebuilding", entry.meta)
        return None
    try:
        data = entry.source.read_bytes()
    except OSError as err:
        log.warning("sigcodegen: %s has a meta but no readable source (%s); rebuilding",
                    entry.source, err)
        return None
    if sha256_bytes(data) != meta.get("source_sha256"):
        log.warning("sigcodegen: %s does not match the sha256 in its meta (truncated or "
                    "edited); not importing it, rebuilding", entry.source)
        return None
    return data


class Cache:
    """A checked cache folder."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def entry(self, stem: str, suffix: str = ".py") -> CacheEntry:
        return CacheEntry(self.root, stem, suffix)

    def lock(self, entry: CacheEntry):
        """The entry's inter-process build lock (a filelock.FileLock)."""
        from filelock import FileLock  # only builds need it

        return FileLock(str(entry.lock_path), timeout=config.lock_timeout())

    def write(self, entry: CacheEntry, data: bytes, meta: dict) -> None:
        """Atomically publish ``data`` and then its meta. Call with the entry's lock held."""
        meta = {**meta, "source_sha256": sha256_bytes(data), "source_file": entry.source.name}
        entry.meta.unlink(missing_ok=True)  # an old marker must not vouch for the new source
        _atomic_write(entry.source, data)
        _atomic_write(entry.meta, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
        for stray in self.root.glob(f".{entry.stem}*.tmp"):  # left by killed writers
            stray.unlink(missing_ok=True)

    def entries(self) -> list[dict]:
        """Complete entries with their meta, sorted by stem."""
        out = []
        for meta_path in sorted(self.root.glob("*.json")):
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue
            if not isinstance(meta, dict) or "key" not in meta:  # e.g. a toolchain probe
                continue
            source = self.root / meta.get("source_file", "")
            size = source.stat().st_size if source.is_file() else 0
            out.append({**meta, "path": str(source), "bytes": size})
        return out

    def clear(self) -> int:
        """Delete every cache file; returns how many were removed."""
        removed = 0
        for path in self.root.iterdir():
            if path.is_file() and (path.suffix in (".py", ".json", ".lock", ".tmp", ".c", ".so", ".log")):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_folder(root: Path) -> None:
    """Create ``root`` private (0700) if missing; refuse a folder that is a symlink, belongs to
    another user, or is writable by group or others."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(root)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeCacheError(
            f"sigcodegen: the cache folder {root} is a symlink; point SIGCODEGEN_CACHE_DIR at a "
            f"real folder you own"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise UnsafeCacheError(
            f"sigcodegen: the cache folder {root} belongs to uid {info.st_uid}, not to you "
            f"(uid {os.getuid()}); code in it would be imported. Set SIGCODEGEN_CACHE_DIR to a "
            f"folder of your own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCacheError(
            f"sigcodegen: the cache folder {root} is writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):o}); code in it would be imported. Fix it with "
            f"`chmod go-w {root}` or set SIGCODEGEN_CACHE_DIR to a private folder"
        )
    if not os.access(root, os.W_OK | os.X_OK):
        raise PermissionError(f"sigcodegen: the cache folder {root} is not writable")


_fallback: Path | None = None


def fallback_cache(reason: Exception | str) -> Cache:
    """A private temporary cache folder for this process, announced once with ``reason``."""
    global _fallback
    if _fallback is None:
        _fallback = Path(tempfile.mkdtemp(prefix="sigcodegen-cache-"))
    _warn_once(f"{reason}. Using a private temporary cache {_fallback} for this process.")
    return Cache(_fallback)


def default_cache() -> Cache:
    """The configured cache; if it is unsafe or not writable, a private temporary folder for
    this process (one warning says why and how to fix it)."""
    root = config.cache_dir()
    try:
        check_folder(root)
        return Cache(root)
    except (UnsafeCacheError, OSError) as err:
        return fallback_cache(err)


@dataclass(frozen=True)
class Artifact:
    """One cache entry and how to make it: the build lifecycle, written once.

    ``make(entry)`` builds the entry's bytes (an emitted source, a compiled library) and returns
    them with their meta; it runs with the entry's lock held and may use ``entry.folder`` for
    temporary files. ``check(data)`` raises if what was made must not be committed (e.g. a
    Python source that does not compile). ``shipped`` is a read-only folder searched after the
    cache (the committed kernels in generated/); it is never written.
    """

    stem: str
    suffix: str
    key: str
    make: Callable[[CacheEntry], tuple[bytes, dict]]
    shipped: Path | None = None
    check: Callable[[bytes], None] | None = None

    def entry(self, folder: Path) -> CacheEntry:
        return CacheEntry(Path(folder), self.stem, self.suffix)

    def find(self, cache: Cache) -> tuple[Path, bytes] | None:
        """A verified copy in the cache or the shipped folder, or None."""
        for folder in (cache.root, self.shipped):
            if folder is None:
                continue
            entry = self.entry(folder)
            data = read_verified(entry, self.key)
            if data is not None:
                return entry.source, data
        return None

    def build(self, cache: Cache | None = None) -> tuple[Path, bytes]:
        """The verified entry's path and bytes: found, or built into the cache (or, when that
        folder cannot be written, into a private temporary folder, with one warning)."""
        cache = cache or default_cache()
        found = self.find(cache)
        if found is not None:
            return found
        try:
            return self._build_into(cache)
        except OSError as err:  # a read-only or full cache folder: build where we can write
            return self._build_into(fallback_cache(f"sigcodegen: cannot write to {cache.root} "
                                                   f"({err})"))

    def _build_into(self, cache: Cache) -> tuple[Path, bytes]:
        entry = self.entry(cache.root)
        with cache.lock(entry):
            data = read_verified(entry, self.key)  # another process may have built it meanwhile
            if data is None:
                made, meta = self.make(entry)
                if self.check is not None:
                    self.check(made)
                cache.write(entry, made, {**meta, "key": self.key, "stem": self.stem})
                data = read_verified(entry, self.key)
                if data != made:
                    raise OSError(f"sigcodegen: {entry.source} did not read back as written")
                log.info("sigcodegen: built %s", entry.source)
        return entry.source, data
