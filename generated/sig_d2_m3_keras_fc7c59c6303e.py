"""sigcodegen kernel module: signature, dim 2, depth 3, target keras.

Generated code: do not edit. Rebuild with `sigcodegen build --dim 2 --depth 3 --target keras`;
print with `sigcodegen show --dim 2 --depth 3 --target keras`; explain with
`sigcodegen plan --dim 2 --depth 3 --target keras`. Run this file on its own for a self-check.

    spec       kind=signature dim=2 depth=3 target=keras (every strategy, stream mode and float dtype)
    key        fc7c59c6303e999ce4720a701dceb2e89f86a6da8c7a0cd9c62f12d5a23bcc96
    generator  sigcodegen 0.1.0, generator sources 44f759f15e4b872f
    plan       siglen 14 (2 + 4 + 8); multiply-adds per path: exp_step 26, chen 34, levelwise_block
               38, exp_step_vjp 58, exp_steps 78, log_series 46, exp_series 46, exp_step_lower 10,
               exp_steps_wide 156

Layout: batch first, as Keras layers see tensors. A degree-k level for N paths is
(N, DIM**k); with a time axis, (N, T, DIM**k). Only keras.ops is used, so the module runs on
the active backend (jax, torch or tensorflow), traces in graphs and keeps autodiff.
"""

import math

from keras import backend, ops, tree

DIM = 2
DEPTH = 3
LEVEL_SIZES = (2, 4, 8)
SIGLEN = 14
STRATEGIES = ("horner", "chunked", "levelwise")
#: The strategies' parameters for this target, from the plan: see
#: `sigcodegen plan --dim 2 --depth 3 --target keras`.
CHUNKED_LANES = 256
CHUNKED_MIN_STEPS = 64
LEVELWISE_BLOCK_ELEMENTS = 4194304
LEVELWISE_MIN_STEPS = 16
#: Calls on concrete arrays run at shape buckets (sigcodegen.runtime.buckets pads the increments
#: and the paths up to bucket(n, minimum, per_octave)), so that varying shapes compile a bounded
#: number of times.
BUCKET_MIN_STEPS = 16
BUCKET_STEPS_PER_OCTAVE = 2
BUCKET_MIN_PATHS = 8
BUCKET_PATHS_PER_OCTAVE = 1


# copied from sigcodegen/plan/rules.py (`sigcodegen plan` prints the buckets with the same function)
def bucket(n, minimum, per_octave):
    """The size a jit target runs a size n (increments or paths) at: the smallest grid value
    >= n, the grid being minimum, then per_octave evenly spaced values in each octave above
    (minimum * 2**k * (1 + j / per_octave)); minimum must be a multiple of per_octave."""
    if n <= minimum:
        return minimum
    base = minimum
    while 2 * base < n:
        base *= 2
    step = base // per_octave
    return base + step * -(-(n - base) // step)


def _outer(x, y):
    """x ⊗ y for (..., a) and (..., b) -> (..., a*b); word u v lands at u*b + v."""
    z = ops.expand_dims(x, -1) * ops.expand_dims(y, -2)
    return ops.reshape(z, (*ops.shape(z)[:-2], x.shape[-1] * y.shape[-1]))


def _shift(x):
    """Levels one step back in time (axis 1), zero first: the state before each step."""
    return ops.concatenate([ops.zeros_like(x[:, :1]), x[:, :-1]], axis=1)


def _cumsum(x):
    """Running sum over time (axis 1) in the dtype of x."""
    if backend.result_type(x.dtype) == backend.standardize_dtype(x.dtype):
        return ops.cumsum(x, axis=1)
    # Keras computes ops.cumsum of float64 in float32 on some backends (its result_type maps
    # 64-bit to 32-bit); log2(T) rounds of shifted adds keep float64 exact.
    shift = 1
    while shift < x.shape[1]:
        x = x + ops.concatenate([ops.zeros_like(x[:, :shift]), x[:, :-shift]], axis=1)
        shift *= 2
    return x


def exp_step(a1, a2, a3, dx):
    """One Chen step, state ⊗ exp(dx), in fused Horner form (levels updated top-down).

    26 multiply-adds per path per time step; shapes per path in comments.
    """
    # scaled increments dx/k
    dx2 = dx * (1 / 2)                  # (N, 2)
    dx3 = dx * (1 / 3)                  # (N, 2)
    # degree 3: Horner chain on the old levels 1..2
    t1 = a1 + dx3                       # (N, 2)
    t2 = a2 + _outer(t1, dx2)           # (N, 4)
    a3 = a3 + _outer(t2, dx)            # (N, 8)
    # degree 2: Horner chain on the old levels 1..1
    t1 = a1 + dx2                       # (N, 2)
    a2 = a2 + _outer(t1, dx)            # (N, 4)
    # degree 1
    a1 = a1 + dx                        # (N, 2)
    return a1, a2, a3


def chen(a1, a2, a3, b1, b2, b3):
    """Truncated product a ⊗ b of two signatures (Chen's identity).

    34 multiply-adds per path per product; shapes per path in comments.
    """
    # degree 1
    c1 = a1 + b1                        # (N, 2)
    # degree 2
    c2 = a2 + b2                        # (N, 4)
    c2 = c2 + _outer(a1, b1)            # (N, 4)
    # degree 3
    c3 = a3 + b3                        # (N, 8)
    c3 = c3 + _outer(a1, b2)            # (N, 8)
    c3 = c3 + _outer(a2, b1)            # (N, 8)
    return c1, c2, c3


def levelwise_block(dx):
    """Signatures of every prefix of a block of increments, degree by degree.

    38 multiply-adds per path per time step; shapes per path per time step in comments.
    """
    # scaled increments dx/k
    dx2 = dx * (1 / 2)                  # (N, T, 2)
    dx3 = dx * (1 / 3)                  # (N, T, 2)
    # degree 1: running sum of the increments
    s1 = _cumsum(dx)                    # (N, T, 2)
    # degree 2: increments from levels 1..1 at t-1, then cumsum
    p1 = _shift(s1)                     # (N, T, 2)
    t1 = p1 + dx2                       # (N, T, 2)
    i2 = _outer(t1, dx)                 # (N, T, 4)
    s2 = _cumsum(i2)                    # (N, T, 4)
    # degree 3: increments from levels 1..2 at t-1, then cumsum
    p2 = _shift(s2)                     # (N, T, 4)
    t1 = p1 + dx3                       # (N, T, 2)
    t2 = p2 + _outer(t1, dx2)           # (N, T, 4)
    i3 = _outer(t2, dx)                 # (N, T, 8)
    s3 = _cumsum(i3)                    # (N, T, 8)
    return s1, s2, s3


def log_series(x1, x2, x3):
    """Tensor logarithm log(1 + x) = x - x^2/2 + x^3/3 - ... of a signature x.

    46 multiply-adds per path per element; shapes per path in comments.
    """
    # r = -1/2 + x ⊗ r (levels 1..1)
    r1 = x1 * (1 / 3)                   # (N, 2)
    # r = 1 + x ⊗ r (levels 1..2)
    r2 = x2 * (-1 / 2)                  # (N, 4)
    r2 = r2 + _outer(x1, r1)            # (N, 4)
    r1 = x1 * (-1 / 2)                  # (N, 2)
    # result = x ⊗ r
    y3 = x3                             # (N, 8)
    y3 = y3 + _outer(x1, r2)            # (N, 8)
    y3 = y3 + _outer(x2, r1)            # (N, 8)
    y2 = x2                             # (N, 4)
    y2 = y2 + _outer(x1, r1)            # (N, 4)
    y1 = x1                             # (N, 2)
    return y1, y2, y3


def exp_series(x1, x2, x3):
    """Tensor exponential exp(x) - 1 = x + x^2/2 + x^3/6 + ... of a Lie element x.

    46 multiply-adds per path per element; shapes per path in comments.
    """
    # r = 1/2 + x ⊗ r (levels 1..1)
    r1 = x1 * (1 / 6)                   # (N, 2)
    # r = 1 + x ⊗ r (levels 1..2)
    r2 = x2 * (1 / 2)                   # (N, 4)
    r2 = r2 + _outer(x1, r1)            # (N, 4)
    r1 = x1 * (1 / 2)                   # (N, 2)
    # result = x ⊗ r
    y3 = x3                             # (N, 8)
    y3 = y3 + _outer(x1, r2)            # (N, 8)
    y3 = y3 + _outer(x2, r1)            # (N, 8)
    y2 = x2                             # (N, 4)
    y2 = y2 + _outer(x1, r1)            # (N, 4)
    y1 = x1                             # (N, 2)
    return y1, y2, y3


# ---- drivers: how each strategy walks time --------------------------------------------------


def _identity(n, dtype):
    """Levels 1..DEPTH of the identity (all zero) for n paths (n may be a symbolic size)."""
    return (
        ops.zeros((n, 2), dtype),
        ops.zeros((n, 4), dtype),
        ops.zeros((n, 8), dtype),
    )


def _flat(levels):
    """Concatenate levels 1..DEPTH along the last axis: the output layout."""
    return ops.concatenate(levels, axis=-1)


def _final(levels):
    """The last time step of levels that carry a time axis (axis 1)."""
    return tuple(level[:, -1] for level in levels)


def _static(size):
    """A dimension as a Python int, or None when only known at run time (TensorFlow graphs)."""
    return size if isinstance(size, int) else None


def _scan(step, init, xs, collect):
    """lax.scan over axis 0 of ``xs``; ``step(carry, x) -> (carry, ys)`` where ys is None, or
    (when ``collect``) has the structure and shapes of the carry."""
    if backend.backend() != "tensorflow":
        return ops.scan(step, init, xs)
    # TensorFlow: keras' scan is a while loop without an iteration bound, which XLA
    # (jit_compile=True) needs in order to differentiate it. This loop sets the bound and writes
    # each step's outputs with scatter_update (slice_update has no TensorFlow gradient).
    first = tree.flatten(xs)[0]
    n = _static(first.shape[0]) or ops.shape(first)[0]

    def body(i, carry, rows):
        carry, ys = step(tree.pack_sequence_as(init, carry), tree.map_structure(lambda a: a[i], xs))
        if collect:
            at = ops.reshape(i, (1, 1))
            rows = [ops.scatter_update(r, at, ops.expand_dims(y, 0))
                    for r, y in zip(rows, tree.flatten(ys))]
        return i + 1, tree.flatten(carry), rows

    flat = tree.flatten(init)
    rows = [ops.zeros((n, *ops.shape(c)), c.dtype) for c in flat] if collect else []
    _, flat, rows = ops.while_loop(lambda i, c, r: i < n, body, (0, flat, rows),
                                   maximum_iterations=n)
    return tree.pack_sequence_as(init, flat), tree.pack_sequence_as(init, rows) if collect else None


def _horner(dx, stream, chunks=None, block_steps=None):
    """dx (N, T, DIM) -> (N, SIGLEN); stream: every prefix, (N, T, SIGLEN)."""

    def step(state, x):
        state = exp_step(*state, x)
        return state, (state if stream else None)

    xs = ops.transpose(dx, (1, 0, 2))  # (T, N, DIM): the scan walks axis 0
    state, rows = _scan(step, _identity(ops.shape(dx)[0], dx.dtype), xs, stream)
    if stream:
        return ops.transpose(_flat(rows), (1, 0, 2))
    return _flat(state)


# copied from sigcodegen/plan/rules.py (`sigcodegen plan` sizes the chunks with the same function)
def num_chunks(steps, paths, lanes, min_steps):
    """Time chunks P for the chunked strategy: the largest power of two with
    paths * P <= lanes and P * min_steps <= steps, 1 when none fits."""
    p = 1
    while 2 * p * max(paths, 1) <= lanes and 2 * p * min_steps <= steps:
        p *= 2
    return p


def _chunked(dx, stream, chunks=None, block_steps=None):
    """P time chunks side by side as extra lanes (P*N), joined by a tree of chen."""
    n, steps = _static(dx.shape[0]), _static(dx.shape[1])
    if chunks is not None:
        p = chunks
    elif n is None or steps is None:  # sizes only known at run time: one chunk
        p = 1
    else:
        p = num_chunks(steps, n, CHUNKED_LANES, CHUNKED_MIN_STEPS)
    if p == 1 or n is None or steps is None:
        return _horner(dx, stream)
    c = -(-steps // p)
    # zero increments are the identity, so padding time to P*c changes nothing
    dx = ops.pad(dx, ((0, 0), (0, p * c - steps), (0, 0)))
    lanes = ops.reshape(ops.transpose(ops.reshape(dx, (n, p, c, DIM)), (2, 1, 0, 3)),
                        (c, p * n, DIM))  # (c, P*N, DIM), chunk-major lanes

    def step(state, x):
        return exp_step(*state, x), None

    ends, _ = _scan(step, _identity(p * n, dx.dtype), lanes, False)
    ends = tuple(ops.reshape(e, (p, n, e.shape[-1])) for e in ends)  # (P, N, size)
    if not stream:
        while p > 1:  # log2(P) rounds: chunk 2i times chunk 2i+1
            pairs = tuple(ops.reshape(e, (p // 2, 2, n, e.shape[-1])) for e in ends)
            ends = chen(*(e[:, 0] for e in pairs), *(e[:, 1] for e in pairs))
            p //= 2
        return _flat(tuple(e[0] for e in ends))

    # stream: each chunk restarts from the product of the chunks before it
    def prefix(acc, end):
        return chen(*acc, *end), acc

    _, starts = _scan(prefix, _identity(n, dx.dtype), ends, True)  # (P, N, size)
    starts = tuple(ops.reshape(s, (p * n, s.shape[-1])) for s in starts)

    def stream_step(state, x):
        state = exp_step(*state, x)
        return state, state

    _, rows = _scan(stream_step, starts, lanes, True)  # (c, P*N, size) per level
    rows = ops.reshape(_flat(rows), (c, p, n, SIGLEN))
    rows = ops.reshape(ops.transpose(rows, (2, 1, 0, 3)), (n, p * c, SIGLEN))
    return rows[:, :steps]


# copied from sigcodegen/plan/rules.py (`sigcodegen plan` sizes the blocks with the same function)
def levelwise_block_steps(steps, paths, siglen, block_elements, min_steps):
    """Time steps Tb per block for the levelwise strategy: paths * Tb * siglen <= block_elements,
    but at least min_steps (and 1), at most the whole path."""
    budget = block_elements // max(1, paths * siglen)
    return max(1, min(steps, max(min_steps, budget)))


def _levelwise(dx, stream, chunks=None, block_steps=None):
    """levelwise_block over blocks of time, blocks joined by chen: memory set by the block."""
    n, steps = _static(dx.shape[0]), _static(dx.shape[1])
    if block_steps is not None:
        tb = block_steps
    elif n is None or steps is None:  # sizes only known at run time: one block
        tb = steps
    else:
        tb = levelwise_block_steps(steps, n, SIGLEN, LEVELWISE_BLOCK_ELEMENTS, LEVELWISE_MIN_STEPS)
    if steps is None or tb >= steps:  # one block: keras_sig's whole-sequence method
        levels = levelwise_block(dx)
        return _flat(levels) if stream else _flat(_final(levels))
    blocks = -(-steps // tb)
    dx = ops.pad(dx, ((0, 0), (0, blocks * tb - steps), (0, 0)))
    xs = ops.transpose(ops.reshape(dx, (n, blocks, tb, DIM)), (1, 0, 2, 3))  # (blocks, N, Tb, DIM)

    # the carry also holds the block's rows: _scan collects outputs shaped like the carry
    def step(carry, block):
        state, _ = carry
        local = levelwise_block(block)
        if stream:
            rows = chen(*(ops.expand_dims(s, 1) for s in state), *local)
            carry = (_final(rows), _flat(rows))
            return carry, carry
        return (chen(*state, *_final(local)), carry[1]), None

    empty = ops.zeros((n, tb, SIGLEN) if stream else (1,), dx.dtype)
    (state, _), out = _scan(step, (_identity(n, dx.dtype), empty), xs, stream)
    if stream:
        rows = ops.transpose(out[1], (1, 0, 2, 3))  # (N, blocks, Tb, SIGLEN)
        return ops.reshape(rows, (n, blocks * tb, SIGLEN))[:, :steps]
    return _flat(state)


_DRIVERS = {"horner": _horner, "chunked": _chunked, "levelwise": _levelwise}


def signature(path, stream=False, strategy="horner", chunks=None, block_steps=None):
    """Signature of paths (..., L, DIM) -> (..., SIGLEN); stream -> (..., L-1, SIGLEN).

    ``path`` is a tensor of the active Keras backend. Levels 1..DEPTH, row-major words, no scalar
    term; the float dtype is kept. L = 1 gives zeros (a constant path); ``strategy`` is one of
    STRATEGIES. ``chunks`` (a power of two) and ``block_steps`` override the chunked and
    levelwise rules.
    """
    path = ops.convert_to_tensor(path)
    if len(path.shape) < 2 or path.shape[-1] != DIM:
        raise ValueError(f"expected a path of shape (..., L, {DIM}), got {tuple(path.shape)}")
    if "float" not in str(path.dtype):
        raise TypeError(f"expected a floating-point path, got dtype {path.dtype}")
    if strategy not in _DRIVERS:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {STRATEGIES}")
    if chunks is not None and (chunks < 1 or chunks & (chunks - 1)):
        raise ValueError(f"chunks must be a power of two, got {chunks}")
    if block_steps is not None and block_steps < 1:
        raise ValueError(f"block_steps must be >= 1, got {block_steps}")
    shape = ops.shape(path)
    lead, length = shape[:-2], shape[-2]
    if _static(length) is not None and length < 1:
        raise ValueError("a path needs at least one point (L >= 1)")
    steps = length - 1
    if _static(length) == 1 or any(_static(size) == 0 for size in lead):
        return ops.zeros((*lead, steps, SIGLEN) if stream else (*lead, SIGLEN), path.dtype)
    flat = len(lead) == 1
    if not flat:  # leading axes -> one batch axis of N paths
        known = all(_static(size) is not None for size in lead)
        path = ops.reshape(path, (math.prod(lead) if known else -1, length, DIM))
    x = path
    dx = x[:, 1:] - x[:, :-1]  # (N, T, DIM)
    out = _DRIVERS[strategy](dx, stream, chunks, block_steps)
    if flat:
        return out
    return ops.reshape(out, (*lead, steps, SIGLEN) if stream else (*lead, SIGLEN))


# ---- the tensor algebra on flat signatures (..., SIGLEN) ----------------------------------------


def _levels(flat):
    """The flat signature (..., SIGLEN) as levels 1..DEPTH."""
    return (
        flat[..., 0:2],
        flat[..., 2:6],
        flat[..., 6:14],
    )


def _apply(routine, *flats):
    """routine on flat elements (..., SIGLEN) of one shape."""
    flats = [ops.convert_to_tensor(f) for f in flats]
    shape = ops.shape(flats[0])
    columns = [ops.reshape(f, (-1, SIGLEN)) for f in flats]
    out = _flat(routine(*(level for column in columns for level in _levels(column))))
    return ops.reshape(out, (*shape[:-1], SIGLEN))


def tensor_log(sig):
    """Tensor logarithm of signatures (..., SIGLEN): the expanded log-signature."""
    return _apply(log_series, sig)


def tensor_exp(log):
    """Tensor exponential of Lie elements (..., SIGLEN): the signature with that logarithm."""
    return _apply(exp_series, log)


def combine(a, b):
    """Chen's product a ⊗ b of signatures of one shape (..., SIGLEN)."""
    return _apply(chen, a, b)


def _run_float64(path, stream, strategy, **options):
    if backend.backend() == "jax":  # float64 needs x64 on JAX
        import jax

        jax.config.update("jax_enable_x64", True)
    return ops.convert_to_numpy(signature(ops.convert_to_tensor(path, "float64"), stream, strategy, **options))


def _reference(path):
    """float64 numpy reference, independent of the kernels above: explicit tensor
    exponentials of each increment multiplied by Chen's identity, one path at a time."""
    import numpy as np

    def product(a, b):
        return [a[n] + b[n] + sum(np.multiply.outer(a[i], b[n - i - 1]).ravel()
                                  for i in range(n)) for n in range(DEPTH)]

    out = []
    for p in path:
        sig = [np.zeros(size) for size in LEVEL_SIZES]
        rows = []
        for step in np.diff(p, axis=0):
            exp = [step]
            for k in range(2, DEPTH + 1):
                exp.append(np.multiply.outer(exp[-1], step).ravel() / k)
            sig = product(sig, exp)
            rows.append(np.concatenate(sig))
        out.append(np.stack(rows))
    return np.stack(out)


def _self_check():
    """Compare every strategy and stream mode with the reference on a random path."""
    import numpy as np

    rng = np.random.default_rng(0)
    path = np.cumsum(rng.standard_normal((3, 37, DIM)), axis=1) / np.sqrt(37)
    expected = _reference(path)
    worst = 0.0
    variants = [(s, {}) for s in STRATEGIES]
    variants += [("chunked", {"chunks": 8})]
    if "levelwise" in STRATEGIES:
        variants += [("levelwise", {"block_steps": 5})]
    for strategy, options in variants:
        for stream in (False, True):
            got = _run_float64(path, stream, strategy, **options)
            want = expected if stream else expected[:, -1]
            error = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
            worst = max(worst, error)
            label = " ".join([strategy] + [f"{k}={v}" for k, v in options.items()])
            print(f"{label:<24} stream={stream!s:<5} relative error {error:.2e}")
    ok = worst <= 1e-12
    print(("ok" if ok else "FAILED") + f": dim={DIM} depth={DEPTH}, worst relative error {worst:.2e}")
    return ok


if __name__ == "__main__":
    import sys

    sys.exit(0 if _self_check() else 1)
