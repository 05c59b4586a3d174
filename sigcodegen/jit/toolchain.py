"""The ``c`` target's toolchain: find and probe the C compiler, and compile an emitted source
into a shared library (one per precision). Loading and binding the library is
``sigcodegen.runtime.bindings``.

The toolchain identity (compiler path and version, flags, the vector width the CPU offers, the
CPU family the compiler targets, the XLA FFI header version) is part of the library's cache
key, so a new compiler or machine builds anew. The TensorFlow op shim has a toolchain of its
own (:func:`tensorflow_toolchain`): the C++ compiler and the installed tensorflow's version and
``tf.sysconfig`` flags.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import config
from .cache import default_cache

__all__ = ["Toolchain", "CompilerUnavailable", "CompileError", "toolchain", "compile_library",
           "TensorflowToolchain", "tensorflow_toolchain", "compile_tensorflow_op"]


class CompilerUnavailable(RuntimeError):
    """No working C compiler: the c target cannot be built here."""


class CompileError(RuntimeError):
    """The C compiler rejected an emitted source; ``log`` holds its output."""

    def __init__(self, message: str, log: str):
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class Toolchain:
    compiler: str
    version: str
    flags: tuple[str, ...]
    vector_bytes: int
    ffi_include: str | None
    jaxlib: str | None
    #: the CPU the compiler targets with these flags, as its lower-case macros name it
    #: ("tune_znver3,znver3"; "" where none): emitted code chooses by them (the sigkernel kind's
    #: products on AMD Zen), so machines of two CPU families sharing a cache build apart. No
    #: default: a probe memo written before this field existed is probed again.
    arch: str

    def key(self) -> dict:
        return asdict(self)

    def compile_command(self, source: Path, output: Path, bits: int, part: int) -> list[str]:
        """One object: precision ``bits`` (32/64), part 1 (forward) or 2 (backward)."""
        cmd = [self.compiler, *self.flags, "-c", "-fPIC", "-pthread", "-std=gnu11",
               f"-DSIGCODEGEN_VECTOR_BYTES={self.vector_bytes}",
               f"-DSIGCODEGEN_PRECISION={bits}", f"-DSIGCODEGEN_PART={part}"]
        if self.ffi_include:
            cmd += ["-DSIGCODEGEN_XLA_FFI", "-I", self.ffi_include]
        return cmd + ["-o", str(output), str(source)]

    def link_command(self, objects: list[Path], output: Path) -> list[str]:
        return [self.compiler, *self.flags, "-shared", "-pthread", "-o", str(output),
                *map(str, objects), "-lm"]


def _run(cmd: list[str], stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)


def _ffi_include() -> tuple[str | None, str | None]:
    """jaxlib's XLA FFI headers and jaxlib's version, found without importing jax."""
    found = importlib.util.find_spec("jaxlib")
    if found is None or not found.submodule_search_locations:
        return None, None
    package = Path(list(found.submodule_search_locations)[0])
    include = package / "include"
    if not (include / "xla" / "ffi" / "api" / "c_api.h").is_file():
        return None, None
    match = re.search(r'^_version\s*(?::\s*str)?\s*=\s*"([^"]+)"', (package / "version.py").read_text(),
                      flags=re.M)
    return str(include), match.group(1) if match else "unknown"


def _probe_file(compiler_path: str, flags: tuple[str, ...], include: str | None) -> Path | None:
    """Where a probe of this exact compiler binary (path, size, mtime) and flags is kept, so
    later processes skip starting the compiler: `cc --version` and `cc -dM -E` cost ~25 ms."""
    try:
        info = os.stat(os.path.realpath(compiler_path))
    except OSError:
        return None
    ident = json.dumps([compiler_path, info.st_size, info.st_mtime_ns, flags, include])
    return default_cache().root / f"toolchain-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.json"


@functools.lru_cache(maxsize=8)
def _probe(compiler: str, flags: tuple[str, ...]) -> Toolchain:
    path = shutil.which(compiler)
    if path is None:
        raise CompilerUnavailable(
            f"sigcodegen: the C compiler {compiler!r} was not found (set SIGCODEGEN_CC to a "
            f"working compiler, or install one: apt-get install gcc)")
    include, jaxlib = _ffi_include()
    memo = _probe_file(path, flags, include)
    if memo is not None and memo.is_file():
        try:
            return Toolchain(**{**json.loads(memo.read_text()), "flags": flags})
        except (OSError, ValueError, TypeError):
            pass
    tc = _probe_compiler(path, flags, include, jaxlib)
    if memo is not None:
        try:
            memo.write_text(json.dumps(tc.key()))
        except OSError:
            pass
    return tc


def _probe_compiler(path: str, flags: tuple[str, ...], include: str | None,
                    jaxlib: str | None) -> Toolchain:
    try:
        version = _run([path, "--version"]).stdout.splitlines()[0].strip()
        macros = _run([path, *flags, "-dM", "-E", "-x", "c", "-"])
    except (OSError, IndexError, subprocess.TimeoutExpired) as err:
        raise CompilerUnavailable(f"sigcodegen: the C compiler {path} does not run: {err}") from err
    if macros.returncode != 0:
        raise CompilerUnavailable(
            f"sigcodegen: the C compiler {path} rejects the flags {' '.join(flags)}: "
            f"{macros.stderr.strip()[:500]} (set SIGCODEGEN_CFLAGS)")
    defined = set(line.split()[1] for line in macros.stdout.splitlines() if line.startswith("#define"))
    vector_bytes = 64 if "__AVX512F__" in defined else 32 if "__AVX__" in defined else 16
    return Toolchain(path, version, flags, vector_bytes, include, jaxlib, _arch(defined))


#: the lower-case macros __name__ the compiler defines name the CPU it targets (GCC and clang:
#: __znver3__, __tune_znver3__, __skylake_avx512__, __sapphirerapids__, ...) besides these,
#: which name the platform; the feature macros (__AVX2__, __FMA__, ...) are upper case
_LOWER_MACRO = re.compile(r"^__([a-z][a-z0-9_]*)__$")
_PLATFORM = {"amd64", "x86_64", "i386", "aarch64", "arm", "code_model_small", "gnu_linux", "linux",
             "unix", "pic", "pie", "clang", "llvm", "apple", "mach", "elf"}


def _arch(defined: set[str]) -> str:
    """The CPU the macros ``defined`` name (see _LOWER_MACRO), sorted and joined by commas."""
    names = (m.group(1) for m in map(_LOWER_MACRO.match, defined) if m)
    return ",".join(sorted(n for n in names if n not in _PLATFORM))


def toolchain() -> Toolchain:
    """The configured compiler, probed once per process (raises CompilerUnavailable)."""
    return _probe(config.c_compiler(), config.c_flags())


def compile_library(source: Path, output: Path, tc: Toolchain, bits: int) -> None:
    """Compile the ``bits``-bit half of ``source`` into the shared library ``output``: its
    forward and backward parts are compiled side by side (two compiler processes), then linked.
    Raises CompileError with the compiler's output."""
    objects = [output.with_name(f"{output.stem}.part{part}.o") for part in (1, 2)]
    commands = [tc.compile_command(source, obj, bits, part) for part, obj in zip((1, 2), objects)]
    try:
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for cmd in commands]
        results = [(cmd, *proc.communicate(timeout=600), proc.returncode)
                   for cmd, proc in zip(commands, procs)]
        if all(code == 0 for *_, code in results):
            link = tc.link_command(objects, output)
            done = _run(link, timeout=600)
            results = [(link, done.stdout, done.stderr, done.returncode)]
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CompileError(f"sigcodegen: compiling {source} failed: {err}", str(err)) from err
    failed = [(cmd, out, err) for cmd, out, err, code in results if code != 0]
    if failed:
        log = "".join(f"$ {' '.join(cmd)}\n{out}{err}" for cmd, out, err in failed)
        first = next((line for _, _, err in failed for line in err.splitlines() if "error" in line), "")
        raise CompileError(f"sigcodegen: the C compiler failed on {source}: {first.strip()}", log)


# ---- the TensorFlow op shim (C++, built against the installed tensorflow) ---------------------


@dataclass(frozen=True)
class TensorflowToolchain:
    """The C++ compiler and the installed tensorflow's build flags (``tf.sysconfig``)."""

    compiler: str
    version: str
    tf_version: str
    compile_flags: tuple[str, ...]
    link_flags: tuple[str, ...]

    def key(self) -> dict:
        return asdict(self)

    def command(self, source: Path, output: Path) -> list[str]:
        # -O2: the shim only forwards buffers to the c library, which carries the arithmetic
        return [self.compiler, "-std=c++17", "-O2", "-shared", "-fPIC", *self.compile_flags,
                "-o", str(output), str(source), *self.link_flags, "-ldl"]


@functools.lru_cache(maxsize=4)
def _probe_tensorflow(compiler: str) -> TensorflowToolchain:
    import tensorflow as tf  # only asked for on the tensorflow path, where it is imported

    path = shutil.which(compiler)
    if path is None:
        raise CompilerUnavailable(
            f"sigcodegen: the C++ compiler {compiler!r} for the TensorFlow op was not found (set "
            f"SIGCODEGEN_CXX to a working one, or install one: apt-get install g++)")
    try:
        version = _run([path, "--version"]).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired) as err:
        raise CompilerUnavailable(f"sigcodegen: the C++ compiler {path} does not run: {err}") from err
    compile_flags = tuple(tf.sysconfig.get_compile_flags())
    include = next((f[2:] for f in compile_flags if f.startswith("-I")), "")
    if not (Path(include) / "tensorflow" / "core" / "framework" / "op_kernel.h").is_file():
        raise CompilerUnavailable(
            f"sigcodegen: tensorflow {tf.__version__} ships no C++ headers (looked in "
            f"{include or 'tf.sysconfig.get_include()'}), so its custom op cannot be built; "
            f"install the tensorflow or tensorflow-cpu wheel from PyPI")
    return TensorflowToolchain(path, version, tf.__version__, compile_flags,
                               tuple(tf.sysconfig.get_link_flags()))


def tensorflow_toolchain() -> TensorflowToolchain:
    """The C++ compiler and tensorflow's flags, probed once per process (imports tensorflow;
    raises CompilerUnavailable)."""
    return _probe_tensorflow(config.cxx_compiler())


def compile_tensorflow_op(source: Path, output: Path, tc: TensorflowToolchain) -> None:
    """Compile the op shim ``source`` into the shared library ``output`` (raises CompileError
    with the compiler's output)."""
    cmd = tc.command(source, output)
    try:
        done = _run(cmd, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CompileError(f"sigcodegen: compiling {source} failed: {err}", str(err)) from err
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if "error" in line), "")
        raise CompileError(f"sigcodegen: the C++ compiler failed on {source}: {first.strip()}",
                           f"$ {' '.join(cmd)}\n{done.stdout}{done.stderr}")
