"""Quick start: build the seed's (dim 5, depth 4) kernels, run them, and check them.

    python examples/quickstart.py

Prints where the kernel modules live, the signature shape for a batch of 128 Brownian paths of
length 100, the agreement of every strategy with a plain numpy float64 computation (Chen's
identity, step by step), and the time per call.
"""

import time

import numpy as np

import sigcodegen as sc
from sigcodegen.jit.loader import build, build_library
from sigcodegen.jit.toolchain import CompileError, CompilerUnavailable


def numpy_signature(path, depth):
    """float64 signature of one path (L, d) by Chen's identity, written out plainly."""
    dim = path.shape[1]
    levels = [np.zeros(dim**k) for k in range(1, depth + 1)]
    for dx in np.diff(path, axis=0):
        exp = [dx]
        for k in range(2, depth + 1):
            exp.append(np.outer(exp[-1], dx).ravel() / k)
        levels = [levels[n] + exp[n] + sum(np.outer(levels[i], exp[n - i - 1]).ravel()
                                           for i in range(n)) for n in range(depth)]
    return np.concatenate(levels)


def main():
    dim, depth = 5, 4
    for target in ("jax", "keras"):
        path, _ = build(sc.KernelSpec(dim=dim, depth=depth, target=target))
        print(f"{target:<5} kernel module: {path}")
    try:
        print(f"c     kernel library: {build_library(sc.KernelSpec(dim=dim, depth=depth, target='c'))}")
    except (CompilerUnavailable, CompileError) as err:
        print(f"c     not available here ({err}); signature() uses the jax target")

    rng = np.random.default_rng(0)
    paths = np.cumsum(rng.standard_normal((128, 100, dim)), axis=1) / 10
    print(f"signature of {paths.shape} paths at depth {depth}: {sc.signature(paths, depth).shape}")

    expected = np.stack([numpy_signature(p, depth) for p in paths[:8]])
    for target, strategy in (("c", "horner"), ("c", "chunked"), ("jax", "horner"),
                             ("jax", "chunked"), ("jax", "levelwise")):
        got = sc.signature(paths[:8], depth, target=target, strategy=strategy)
        error = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
        print(f"{target:<4} {strategy:<10} float64 relative error vs numpy: {error:.1e}")
        assert error < 1e-12, (target, strategy)

    x32 = paths.astype(np.float32)
    sc.signature(x32, depth)  # compile once
    start = time.perf_counter()
    for _ in range(10):
        sc.signature(x32, depth)
    print(f"float32, 128 paths x 100 points: {(time.perf_counter() - start) / 10 * 1e3:.2f} ms per call")
    print("ok")


if __name__ == "__main__":
    main()
