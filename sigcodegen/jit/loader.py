"""From a spec to artifacts on disk: render the emitted source, compile the c target's
libraries, import a Python target's module. Every artifact goes through the one lifecycle of
:class:`sigcodegen.jit.cache.Artifact`; remembering what is loaded in this process is the
runtime's job (``sigcodegen.runtime.dispatch.load_module``).

The key of an emitted source is the sha256 of its key material: a schema number, the package
version, the hash of the generator's own sources (planner, emitters, templates) and the spec
fields that decide the source. Emitted sources do not depend on the installed jax, keras or
compiler, so those are not part of it: a new jax does not invalidate the cache, and generated/
is the same on every machine. The c target's compiled library has a key of its own: the source
key plus the toolchain identity (compiler, version, flags, vector width, XLA FFI headers), and
lives beside its source as ``<stem>-<library digest>-f<bits>.so``. docs/architecture.md
describes the cache and its guarantees.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

from .. import config
from ..resources import generated_dir, generator_hash, templates_dir
from ..spec import SOURCE_SUFFIX, KernelSpec
from ..version import __version__
from . import toolchain as tools
from .cache import Artifact, Cache, CacheEntry, default_cache, sha256_bytes

__all__ = ["SCHEMA", "NativeBuild", "key_material", "cache_key", "stem", "render",
           "source_artifact", "library_artifact", "build", "build_library", "library_key",
           "compile_logs", "write_to", "import_source", "native_build", "tensorflow_op_key",
           "render_tensorflow_op", "build_tensorflow_op"]

SCHEMA = 1
KIND_PREFIX = {"signature": "sig", "logsignature": "logsig", "sigkernel": "sig_kernel",
               "coefficients": "sig_coef"}
#: What each target needs installed to import its modules.
REQUIRES = {"jax": ("jax", "sigcodegen[jax]"), "keras": ("keras", "sigcodegen[keras]"),
            "c": ("numpy", "sigcodegen"), "triton": ("triton", "sigcodegen[triton]")}


def key_material(spec: KernelSpec) -> dict:
    return {
        "schema": SCHEMA,
        "package": __version__,
        "generator": generator_hash(spec.target),
        "module": spec.module_fields(),
        "toolchain": {},
    }


def _digest(material: dict) -> str:
    return sha256_bytes(json.dumps(material, sort_keys=True, separators=(",", ":")).encode())


def cache_key(spec: KernelSpec) -> str:
    return _digest(key_material(spec))


def stem(spec: KernelSpec, key: str | None = None) -> str:
    """Readable file name without suffix: ``sig_d5_m4_jax_<digest12>``."""
    key = key or cache_key(spec)
    depth = "" if spec.depth is None else f"_m{spec.depth}"  # signature kernels have no depth
    return f"{KIND_PREFIX[spec.kind]}_d{spec.dim}{depth}_{spec.target}_{key[:12]}"


def render(spec: KernelSpec) -> tuple[str, dict]:
    """The module source for ``spec`` and the meta that goes with it."""
    from ..emit import Provenance, emitter_for  # jinja2 and the planner load only to build
    from ..plan import make_plan

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


def source_artifact(spec: KernelSpec, shipped: Path | None = None) -> Artifact:
    """The emitted source of ``spec`` as a cache artifact (``shipped``: a folder of committed
    sources to look in after the cache)."""
    key = cache_key(spec)

    def make(entry: CacheEntry) -> tuple[bytes, dict]:
        source, meta = render(spec)
        return source.encode(), meta

    def check(data: bytes) -> None:
        if SOURCE_SUFFIX[spec.target] == ".py":  # a Python module that does not parse is a bug
            compile(data, f"<{spec}>", "exec", dont_inherit=True)

    return Artifact(stem(spec, key), SOURCE_SUFFIX[spec.target], key, make, shipped, check)


def build(spec: KernelSpec, cache: Cache | None = None) -> tuple[Path, bytes]:
    """Make sure the source for ``spec`` is on disk and verified; return its path and bytes.
    Order: the cache, then a committed module in generated/ with the same key, then a build into
    the cache under the entry's lock."""
    shipped = generated_dir() if config.use_prebuilt() else None
    return source_artifact(spec, shipped).build(cache)


def library_key(spec: KernelSpec, tc: tools.Toolchain) -> str:
    return _digest({"source": cache_key(spec), "toolchain": tc.key()})


def _library_stem(spec: KernelSpec, key: str, bits: int) -> str:
    return f"{stem(spec)}-{key[:12]}-f{bits}"


def library_artifact(spec: KernelSpec, source: bytes, tc: tools.Toolchain, bits: int) -> Artifact:
    """The c target's ``bits``-bit shared library compiled from the verified ``source``."""
    key = library_key(spec, tc)

    def make(entry: CacheEntry) -> tuple[bytes, dict]:
        log_path = entry.folder / f"{entry.stem}.log"
        with tempfile.TemporaryDirectory(dir=entry.folder, prefix=f".{entry.stem}") as tmp:
            c_file, so_file = Path(tmp) / f"{stem(spec)}.c", Path(tmp) / "library.so"
            c_file.write_bytes(source)  # exactly the verified source
            try:
                tools.compile_library(c_file, so_file, tc, bits)
            except tools.CompileError as err:
                log_path.write_text(err.log)
                raise tools.CompileError(f"{err} (full output: {log_path})", err.log) from None
            data = so_file.read_bytes()
        log_path.unlink(missing_ok=True)
        meta = {"source_key": cache_key(spec), "source_sha256": sha256_bytes(source),
                "toolchain": tc.key(), "bits": bits, "library_of": stem(spec)}
        return data, meta

    return Artifact(_library_stem(spec, key, bits), ".so", key, make)


def build_library(spec: KernelSpec, cache: Cache | None = None, bits: int = 32) -> Path:
    """The c target's shared library of one precision (32 or 64 bits) for ``spec``, compiled
    into the cache unless a verified one is there. Raises toolchain.CompilerUnavailable /
    toolchain.CompileError (the compiler's output is kept beside it in ``<stem>.log``)."""
    cache = cache or default_cache()
    _, source = build(spec, cache)
    path, _ = library_artifact(spec, source, tools.toolchain(), bits).build(cache)
    return path


def compile_logs(spec: KernelSpec, cache: Cache | None = None) -> list[Path]:
    """The compiler's output of failed c builds of ``spec`` with the current toolchain."""
    cache = cache or default_cache()
    try:
        key = library_key(spec, tools.toolchain())
    except tools.CompilerUnavailable:
        return []
    logs = [cache.root / f"{_library_stem(spec, key, bits)}.log" for bits in (32, 64)]
    return [log for log in logs if log.is_file()]


def write_to(spec: KernelSpec, folder: Path) -> Path:
    """Render ``spec`` into ``folder`` (e.g. generated/) with its meta; returns the source path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    artifact = source_artifact(spec)
    path, _ = artifact.build(Cache(folder))
    artifact.entry(folder).lock_path.unlink(missing_ok=True)
    return path


@dataclass(frozen=True)
class NativeBuild:
    """What the runtime needs to load a c module: its verified source, its name, whether the
    toolchain had the XLA FFI headers, and ``library(bits)``, the path of the ``bits``-bit
    library (compiled on first call)."""

    spec: KernelSpec
    source: Path
    name: str
    has_ffi: bool
    library: Callable[[int], Path]


def native_build(spec: KernelSpec) -> NativeBuild:
    """The c module's source on disk, and its libraries to build on demand (raises
    toolchain.CompilerUnavailable here, before anything is loaded)."""
    path, _ = build(spec)
    tc = tools.toolchain()
    return NativeBuild(spec, path, path.stem, tc.ffi_include is not None,
                       lambda bits: build_library(spec, bits=bits))


def import_source(spec: KernelSpec) -> ModuleType:
    """Build (or find) the Python module of ``spec`` and import exactly its verified bytes."""
    package, hint = REQUIRES[spec.target]
    if importlib.util.find_spec(package) is None:
        raise ImportError(
            f"sigcodegen: target {spec.target!r} ({spec}) needs {package}, which is not "
            f"installed; install it with `pip install '{hint}'` or choose another target"
        )
    path, data = build(spec)
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


# ---- the TensorFlow op shim -----------------------------------------------------------------
# templates/tensorflow/op.cc.j2: C++ registering SigcodegenSignature and SigcodegenSignatureGrad,
# which call a c-target library's exported forward and backward. It is not a target (one shim
# serves every (dim, depth) and depends on no plan), so it is rendered here, not by an emitter,
# and it is outside every target's generator hash.

TENSORFLOW_OP_TEMPLATE = ("tensorflow", "op.cc.j2")


def _tensorflow_op_template() -> Path:
    return templates_dir().joinpath(*TENSORFLOW_OP_TEMPLATE)


def tensorflow_op_key(tc: tools.TensorflowToolchain) -> str:
    """The op library's key: the shim template's hash, the package version and the toolchain
    (C++ compiler, tensorflow version and flags). It holds no kernel, so no (dim, depth)."""
    return _digest({"schema": SCHEMA, "package": __version__,
                    "template": sha256_bytes(_tensorflow_op_template().read_bytes()),
                    "toolchain": tc.key()})


def render_tensorflow_op(key: str, tf_version: str) -> str:
    """The shim's C++ source, its provenance header naming ``key``, the package version, the
    template's hash and the tensorflow it is built for."""
    import jinja2  # only to build

    template = _tensorflow_op_template()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template.parent)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    source = env.get_template(template.name).render(
        key=key, package_version=__version__, tf_version=tf_version,
        template_sha=sha256_bytes(template.read_bytes()))
    return source.rstrip() + "\n"


def build_tensorflow_op(cache: Cache | None = None) -> Path:
    """The TensorFlow custom-op library, compiled into the cache against the installed
    tensorflow unless a verified one is there. Imports tensorflow; raises
    toolchain.CompilerUnavailable / toolchain.CompileError (the compiler's output is kept beside
    it in ``<stem>.log``)."""
    cache = cache or default_cache()
    tc = tools.tensorflow_toolchain()
    key = tensorflow_op_key(tc)
    name = f"tf_op_{tc.tf_version.replace('.', '_')}_{key[:12]}"

    def make(entry: CacheEntry) -> tuple[bytes, dict]:
        log_path = entry.folder / f"{entry.stem}.log"
        source = render_tensorflow_op(key, tc.tf_version)
        with tempfile.TemporaryDirectory(dir=entry.folder, prefix=f".{entry.stem}") as tmp:
            cc_file, so_file = Path(tmp) / f"{name}.cc", Path(tmp) / "library.so"
            cc_file.write_text(source)
            try:
                tools.compile_tensorflow_op(cc_file, so_file, tc)
            except tools.CompileError as err:
                log_path.write_text(err.log)
                raise tools.CompileError(f"{err} (full output: {log_path})", err.log) from None
            data = so_file.read_bytes()
        log_path.unlink(missing_ok=True)
        return data, {"toolchain": tc.key(), "source_sha256": sha256_bytes(source.encode())}

    path, _ = Artifact(name, ".so", key, make).build(cache)
    return path
