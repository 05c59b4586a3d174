"""Every environment variable sigcodegen reads, read here and nowhere else.

Values are read when asked for (not at import time), so a test or a user can change the
environment between calls.

| variable                    | meaning                                                     |
|-----------------------------|-------------------------------------------------------------|
| ``SIGCODEGEN_CACHE_DIR``    | cache folder for emitted kernels (default: XDG cache)       |
| ``XDG_CACHE_HOME``          | base of the default cache folder (default ``~/.cache``)     |
| ``SIGCODEGEN_PREBUILT``     | ``0`` ignores the committed kernels in ``generated/``       |
| ``SIGCODEGEN_LOCK_TIMEOUT`` | seconds to wait for another process building the same key   |
| ``SIGCODEGEN_CC``           | C compiler for the ``c`` target (default ``cc``)             |
| ``SIGCODEGEN_CFLAGS``       | its flags (default ``-O3 -march=native``)                    |
| ``SIGCODEGEN_CXX``          | C++ compiler for the TensorFlow op shim (default ``c++``)    |
| ``SIGCODEGEN_NUM_THREADS``  | threads of the c target's pool (default: the usable CPUs)   |
| ``OMP_NUM_THREADS``         | the same, when ``SIGCODEGEN_NUM_THREADS`` is not set         |
| ``SIGCODEGEN_BUCKETS``      | ``0`` runs the jit targets at exact shapes, not in buckets   |
| ``SIGCODEGEN_MAX_COMPILED`` | compiled jax functions kept per process (default 64)         |
| ``SIGCODEGEN_MAX_BYTES``    | bytes one call may allocate (default: half the physical memory) |
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

__all__ = ["cache_dir", "use_prebuilt", "lock_timeout", "c_compiler", "c_flags", "cxx_compiler",
           "num_threads", "shape_buckets", "max_compiled", "max_bytes", "set_max_bytes"]

DEFAULT_CFLAGS = "-O3 -march=native"


def cache_dir() -> Path:
    """The cache folder: ``$SIGCODEGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/sigcodegen``,
    else ``~/.cache/sigcodegen``."""
    explicit = os.environ.get("SIGCODEGEN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "sigcodegen"


def use_prebuilt() -> bool:
    """Whether the loader may import the committed modules in ``generated/``."""
    return os.environ.get("SIGCODEGEN_PREBUILT", "1").strip().lower() not in ("0", "false", "no")


def lock_timeout() -> float:
    """Seconds to wait on another process's build lock before giving up (default 600)."""
    raw = os.environ.get("SIGCODEGEN_LOCK_TIMEOUT", "600")
    try:
        return float(raw)
    except ValueError:
        raise ValueError(
            f"SIGCODEGEN_LOCK_TIMEOUT={raw!r} is not a number of seconds; unset it or set e.g. 600"
        ) from None


def c_compiler() -> str:
    """The C compiler command for the ``c`` target: ``$SIGCODEGEN_CC``, else ``cc``."""
    return os.environ.get("SIGCODEGEN_CC", "").strip() or "cc"


def c_flags() -> tuple[str, ...]:
    """Optimisation flags for the ``c`` target: ``$SIGCODEGEN_CFLAGS`` (split on spaces), else
    ``-O3 -march=native``. ``-shared -fPIC -pthread`` and the include paths are always added."""
    return tuple((os.environ.get("SIGCODEGEN_CFLAGS") or DEFAULT_CFLAGS).split())


def cxx_compiler() -> str:
    """The C++ compiler for the TensorFlow custom-op shim (Keras on tensorflow):
    ``$SIGCODEGEN_CXX``, else ``c++``."""
    return os.environ.get("SIGCODEGEN_CXX", "").strip() or "c++"


def num_threads() -> int | None:
    """The thread count asked for in the environment: ``$SIGCODEGEN_NUM_THREADS``, else the
    first value of ``$OMP_NUM_THREADS`` (which may list one count per nesting level), else None.
    """
    for name in ("SIGCODEGEN_NUM_THREADS", "OMP_NUM_THREADS"):
        raw = os.environ.get(name, "").strip()
        if not raw:
            continue
        try:
            value = int(raw.split(",")[0])
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"{name}={raw!r} is not a positive number of threads; unset it or "
                             f"set e.g. {name}=2")
        return value
    return None


def shape_buckets() -> bool:
    """Whether the jit targets pad shapes to buckets (``$SIGCODEGEN_BUCKETS``, default on)."""
    return os.environ.get("SIGCODEGEN_BUCKETS", "1").strip().lower() not in ("0", "false", "no")


def max_compiled() -> int:
    """How many compiled jax functions the runtime keeps (``$SIGCODEGEN_MAX_COMPILED``, default
    64); past it the least recently used is dropped."""
    raw = os.environ.get("SIGCODEGEN_MAX_COMPILED", "64").strip()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"SIGCODEGEN_MAX_COMPILED={raw!r} is not a positive count; unset it or "
                         f"set e.g. SIGCODEGEN_MAX_COMPILED=64")
    return value


#: set by :func:`set_max_bytes` (None: the environment or the default decides)
_max_bytes_override: list[int | None] = [None]


@functools.lru_cache(maxsize=1)
def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume 8 GiB
        return 8 * 2**30


def max_bytes() -> int:
    """The most bytes one call may allocate (its output plus its kernel's workspace):
    ``sigcodegen.set_max_bytes(n)`` if set, else ``$SIGCODEGEN_MAX_BYTES`` (an integer, or with a
    suffix K, M, G, T: powers of 1024), else half the physical memory."""
    if _max_bytes_override[0] is not None:
        return _max_bytes_override[0]
    raw = os.environ.get("SIGCODEGEN_MAX_BYTES", "").strip()
    if not raw:
        return _physical_memory() // 2
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(raw[-1:].upper(), 1)
    try:
        value = int(float(raw[:-1] if scale > 1 else raw) * scale)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"SIGCODEGEN_MAX_BYTES={raw!r} is not a positive number of bytes; unset "
                         f"it or set e.g. SIGCODEGEN_MAX_BYTES=16G")
    return value


def set_max_bytes(value: int | None) -> None:
    """Set the per-call memory limit of :func:`max_bytes` for this process (None: back to
    ``$SIGCODEGEN_MAX_BYTES`` or the default)."""
    if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
        raise ValueError(f"set_max_bytes: expected a positive number of bytes or None, got "
                         f"{value!r}")
    _max_bytes_override[0] = None if value is None else int(value)
