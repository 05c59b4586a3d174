"""The thread policy of the c target's pool (templates/c/pool.j2, compiled into every library).

- The default count is the number of CPUs this process may use: its CPU affinity
  (``os.sched_getaffinity``) and, in a container, its cgroup CPU quota — not the machine's core
  count. ``SIGCODEGEN_NUM_THREADS`` (else ``OMP_NUM_THREADS``) overrides it (read by
  ``sigcodegen.config``).
- :func:`set_num_threads` / :func:`num_threads` (a context manager) change it for every loaded
  library and every library loaded later.
- threadpoolctl sees the libraries (user_api ``"sigcodegen"``) and can limit them:
  ``threadpool_limits(1, user_api="sigcodegen")``.

A call's tasks are claimed by the calling thread and by the pool threads that are awake, so the
count is an upper bound on the threads a call uses, never a number it waits for.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from pathlib import Path

from .. import config

__all__ = ["available_cpus", "default_threads", "get_num_threads", "set_num_threads",
           "num_threads", "attach"]

_lock = threading.Lock()
_setting: int | None = None
_libraries: list = []  # loaded ctypes libraries with a pool
_controller_registered = False


def cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the cgroup's quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), or None."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def default_threads() -> int:
    """``SIGCODEGEN_NUM_THREADS``, else ``OMP_NUM_THREADS``, else :func:`available_cpus`."""
    return config.num_threads() or available_cpus()


def get_num_threads() -> int:
    """The threads a c-target call may use (the caller's own thread included)."""
    with _lock:
        return _setting if _setting is not None else default_threads()


def set_num_threads(n: int | None) -> int:
    """Use at most ``n`` threads per c-target call (None: back to the default); returns the
    previous setting."""
    global _setting
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"set_num_threads: n must be a positive integer or None, got {n!r}")
    with _lock:
        previous = _setting if _setting is not None else default_threads()
        _setting = n
        count = n if n is not None else default_threads()
        for lib in _libraries:
            lib.sigcodegen_pool_set_threads(count)
    return previous


@contextlib.contextmanager
def num_threads(n: int | None):
    """``with sigcodegen.num_threads(1): ...`` runs the block with at most ``n`` threads."""
    with _lock:
        before = _setting
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(before)


def attach(lib) -> None:
    """Give a newly loaded library the current setting, and make threadpoolctl aware of it."""
    import ctypes

    lib.sigcodegen_pool_set_threads.argtypes = [ctypes.c_int]
    lib.sigcodegen_pool_set_threads.restype = None
    lib.sigcodegen_pool_get_threads.restype = ctypes.c_int
    with _lock:
        lib.sigcodegen_pool_set_threads(_setting if _setting is not None else default_threads())
        _libraries.append(lib)
    _register_controller()


def _register_controller() -> None:
    """Register a threadpoolctl controller for the libraries (when threadpoolctl is installed)."""
    global _controller_registered
    if _controller_registered:
        return
    _controller_registered = True
    try:
        from threadpoolctl import LibController, register
    except ImportError:
        return

    from ..version import __version__

    class SigcodegenController(LibController):
        """threadpoolctl's view of one sigcodegen library's pool."""

        user_api = "sigcodegen"
        internal_api = "sigcodegen"
        filename_prefixes = ("sig_",)
        check_symbols = ("sigcodegen_pool_set_threads", "sigcodegen_pool_get_threads")

        def get_num_threads(self):
            return self.dynlib.sigcodegen_pool_get_threads()

        def set_num_threads(self, num_threads):
            self.dynlib.sigcodegen_pool_set_threads(num_threads)

        def get_version(self):
            return __version__

    register(SigcodegenController)
