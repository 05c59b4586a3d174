"""sigcodegen kernel module: signature, dim 2, depth 3, target jax.

Generated code: do not edit. Rebuild with `sigcodegen build --dim 2 --depth 3 --target jax`;
print with `sigcodegen show --dim 2 --depth 3 --target jax`; explain with
`sigcodegen plan --dim 2 --depth 3 --target jax`. Run this file on its own for a self-check.

    spec       kind=signature dim=2 depth=3 target=jax (every strategy, stream mode and float dtype)
    key        775a0b8cfc2e768f95df8a7d5c6eb2cd02a99798a6fbeafbc796dae64ecfcdd0
    generator  sigcodegen 0.1.0, generator sources 891a351104d2773f
    plan       siglen 14 (2 + 4 + 8); multiply-adds per path: exp_step 26, chen 34, levelwise_block
               38, exp_step_vjp 58, exp_steps 78, log_series 46, exp_series 46, exp_step_lower 10,
               exp_steps_wide 156

Layout: paths on the last (vector) axis, which is 4-10x faster on XLA CPU than batch-first.
A degree-k level for N paths is (DIM**k, N); with a time axis in front, (T, DIM**k, N).
"""

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax

DIM = 2
DEPTH = 3
LEVEL_SIZES = (2, 4, 8)
SIGLEN = 14
STRATEGIES = ("horner", "chunked", "levelwise")
#: The strategies' parameters for this target, from the plan: see
#: `sigcodegen plan --dim 2 --depth 3 --target jax`.
CHUNKED_LANES = 256
CHUNKED_MIN_STEPS = 64
LEVELWISE_BLOCK_ELEMENTS = 4194304
LEVELWISE_MIN_STEPS = 16
#: Walking time back by S(t-1) = S(t) ⊗ exp(-dx) loses about steps * eps * max|S| relative; above
#: this the gradient recomputes the states from checkpoints instead.
REVERSAL_TOLERANCE = 0.0001
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
    """x ⊗ y for (..., a, N) and (..., b, N) -> (..., a*b, N); word u v lands at u*b + v."""
    z = x[..., :, None, :] * y[..., None, :, :]
    return z.reshape(z.shape[:-3] + (z.shape[-3] * z.shape[-2], z.shape[-1]))


def _shift(x):
    """Levels one step back in time (axis 0), zero first: the state before each step."""
    return jnp.concatenate([jnp.zeros_like(x[:1]), x[:-1]], axis=0)


def _cumsum(x):
    return jnp.cumsum(x, axis=0)


def _outer_vjp(g, left, right):
    """Both adjoints of g = left ⊗ right: (sum_v g[u v] right[v], sum_u left[u] g[u v])."""
    g = g.reshape(left.shape[0], right.shape[0], g.shape[-1])
    return jnp.einsum("ujn,jn->un", g, right), jnp.einsum("un,ujn->jn", left, g)


def exp_step(a1, a2, a3, dx):
    """One Chen step, state ⊗ exp(dx), in fused Horner form (levels updated top-down).

    26 multiply-adds per path per time step; shapes per path in comments.
    """
    # scaled increments dx/k
    dx2 = dx * (1 / 2)                  # (2, N)
    dx3 = dx * (1 / 3)                  # (2, N)
    # degree 3: Horner chain on the old levels 1..2
    t1 = a1 + dx3                       # (2, N)
    t2 = a2 + _outer(t1, dx2)           # (4, N)
    a3 = a3 + _outer(t2, dx)            # (8, N)
    # degree 2: Horner chain on the old levels 1..1
    t1 = a1 + dx2                       # (2, N)
    a2 = a2 + _outer(t1, dx)            # (4, N)
    # degree 1
    a1 = a1 + dx                        # (2, N)
    return a1, a2, a3


def chen(a1, a2, a3, b1, b2, b3):
    """Truncated product a ⊗ b of two signatures (Chen's identity).

    34 multiply-adds per path per product; shapes per path in comments.
    """
    # degree 1
    c1 = a1 + b1                        # (2, N)
    # degree 2
    c2 = a2 + b2                        # (4, N)
    c2 = c2 + _outer(a1, b1)            # (4, N)
    # degree 3
    c3 = a3 + b3                        # (8, N)
    c3 = c3 + _outer(a1, b2)            # (8, N)
    c3 = c3 + _outer(a2, b1)            # (8, N)
    return c1, c2, c3


def levelwise_block(dx):
    """Signatures of every prefix of a block of increments, degree by degree.

    38 multiply-adds per path per time step; shapes per path per time step in comments.
    """
    # scaled increments dx/k
    dx2 = dx * (1 / 2)                  # (T, 2, N)
    dx3 = dx * (1 / 3)                  # (T, 2, N)
    # degree 1: running sum of the increments
    s1 = _cumsum(dx)                    # (T, 2, N)
    # degree 2: increments from levels 1..1 at t-1, then cumsum
    p1 = _shift(s1)                     # (T, 2, N)
    t1 = p1 + dx2                       # (T, 2, N)
    i2 = _outer(t1, dx)                 # (T, 4, N)
    s2 = _cumsum(i2)                    # (T, 4, N)
    # degree 3: increments from levels 1..2 at t-1, then cumsum
    p2 = _shift(s2)                     # (T, 4, N)
    t1 = p1 + dx3                       # (T, 2, N)
    t2 = p2 + _outer(t1, dx2)           # (T, 4, N)
    i3 = _outer(t2, dx)                 # (T, 8, N)
    s3 = _cumsum(i3)                    # (T, 8, N)
    return s1, s2, s3


def exp_step_vjp(a1, a2, a3, dx, g1, g2, g3):
    """Adjoint of exp_step: g becomes the adjoint of the state before the step; returns gdx.

    58 multiply-adds per path per time step; shapes per path in comments.
    """
    # scaled increments dx/k
    dx2 = dx * (1 / 2)                  # (2, N)
    dx3 = dx * (1 / 3)                  # (2, N)
    # degree 1: a1 += dx
    gdx = g1                            # (2, N)
    # degree 2: recompute the chain, then its adjoint
    t1 = a1 + dx2                       # (2, N)
    g_left, g_right = _outer_vjp(g2, t1, dx)
    u1 = g_left
    gdx = gdx + g_right
    g1 = g1 + u1                        # (2, N)
    gdx = gdx + u1 * (1 / 2)            # (2, N)
    # degree 3: recompute the chain, then its adjoint
    t1 = a1 + dx3                       # (2, N)
    t2 = a2 + _outer(t1, dx2)           # (4, N)
    g_left, g_right = _outer_vjp(g3, t2, dx)
    u2 = g_left
    gdx = gdx + g_right
    g2 = g2 + u2                        # (4, N)
    g_left, g_right = _outer_vjp(u2, t1, dx2)
    u1 = g_left
    gdx = gdx + g_right * (1 / 2)
    g1 = g1 + u1                        # (2, N)
    gdx = gdx + u1 * (1 / 3)            # (2, N)
    return g1, g2, g3, gdx


def log_series(x1, x2, x3):
    """Tensor logarithm log(1 + x) = x - x^2/2 + x^3/3 - ... of a signature x.

    46 multiply-adds per path per element; shapes per path in comments.
    """
    # r = -1/2 + x ⊗ r (levels 1..1)
    r1 = x1 * (1 / 3)                   # (2, N)
    # r = 1 + x ⊗ r (levels 1..2)
    r2 = x2 * (-1 / 2)                  # (4, N)
    r2 = r2 + _outer(x1, r1)            # (4, N)
    r1 = x1 * (-1 / 2)                  # (2, N)
    # result = x ⊗ r
    y3 = x3                             # (8, N)
    y3 = y3 + _outer(x1, r2)            # (8, N)
    y3 = y3 + _outer(x2, r1)            # (8, N)
    y2 = x2                             # (4, N)
    y2 = y2 + _outer(x1, r1)            # (4, N)
    y1 = x1                             # (2, N)
    return y1, y2, y3


def exp_series(x1, x2, x3):
    """Tensor exponential exp(x) - 1 = x + x^2/2 + x^3/6 + ... of a Lie element x.

    46 multiply-adds per path per element; shapes per path in comments.
    """
    # r = 1/2 + x ⊗ r (levels 1..1)
    r1 = x1 * (1 / 6)                   # (2, N)
    # r = 1 + x ⊗ r (levels 1..2)
    r2 = x2 * (1 / 2)                   # (4, N)
    r2 = r2 + _outer(x1, r1)            # (4, N)
    r1 = x1 * (1 / 2)                   # (2, N)
    # result = x ⊗ r
    y3 = x3                             # (8, N)
    y3 = y3 + _outer(x1, r2)            # (8, N)
    y3 = y3 + _outer(x2, r1)            # (8, N)
    y2 = x2                             # (4, N)
    y2 = y2 + _outer(x1, r1)            # (4, N)
    y1 = x1                             # (2, N)
    return y1, y2, y3


def exp_step_lower(a1, a2, dx):
    """exp_step on levels 1..2 only: the backward pass walks the state back with it, as nothing there reads the top level.

    10 multiply-adds per path per time step; shapes per path in comments.
    """
    # scaled increments dx/k
    dx2 = dx * (1 / 2)                  # (2, N)
    # degree 2: Horner chain on the old levels 1..1
    t1 = a1 + dx2                       # (2, N)
    a2 = a2 + _outer(t1, dx)            # (4, N)
    # degree 1
    a1 = a1 + dx                        # (2, N)
    return a1, a2


# ---- drivers: how each strategy walks time --------------------------------------------------


def _identity(n, dtype):
    """Levels 1..DEPTH of the identity (all zero) for n paths."""
    return (
        jnp.zeros((2, n), dtype),
        jnp.zeros((4, n), dtype),
        jnp.zeros((8, n), dtype),
    )


def _flat(levels):
    """Concatenate levels 1..DEPTH along the coefficient axis (-2): the output layout."""
    return jnp.concatenate(levels, axis=-2)


def _final(levels):
    """The last time step of levels that carry a time axis."""
    return tuple(level[-1] for level in levels)


def _levels(flat):
    """The flat signature (..., SIGLEN, N) as levels 1..DEPTH."""
    return (
        flat[..., 0:2, :],
        flat[..., 2:6, :],
        flat[..., 6:14, :],
    )


def _scan(step, init, xs, reverse=False):
    """lax.scan(step, init, xs, reverse=reverse) with each step's input handed over in the
    carry: when XLA fuses the slice of xs into the level kernels it emits scalar code, 4-7x
    slower on CPU."""
    pad = jax.tree.map(lambda x: jnp.zeros_like(x[:1]), xs)
    if reverse:
        first = jax.tree.map(lambda x: x[-1], xs)
        later = jax.tree.map(lambda p, x: jnp.concatenate([p, x[:-1]]), pad, xs)
    else:
        first = jax.tree.map(lambda x: x[0], xs)
        later = jax.tree.map(lambda x, p: jnp.concatenate([x[1:], p]), xs, pad)

    def body(carry, upcoming):
        state, current = carry
        state, out = step(state, current)
        return (state, upcoming), out

    (state, _), outs = lax.scan(body, (init, first), later, reverse=reverse)
    return state, outs


def _horner(dx, stream, chunks=None, block_steps=None):
    """dx (T, DIM, N) -> (SIGLEN, N); stream: every prefix, (T, SIGLEN, N)."""

    def step(state, x):
        state = exp_step(*state, x)
        return state, (_flat(state) if stream else None)

    state, rows = _scan(step, _identity(dx.shape[-1], dx.dtype), dx)
    return rows if stream else _flat(state)


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
    steps, _, n = dx.shape
    p = num_chunks(steps, n, CHUNKED_LANES, CHUNKED_MIN_STEPS) if chunks is None else chunks
    if p == 1:
        return _horner(dx, stream)
    c = -(-steps // p)
    # zero increments are the identity, so padding time to P*c changes nothing
    dx = jnp.pad(dx, ((0, p * c - steps), (0, 0), (0, 0)))
    lanes = dx.reshape(p, c, DIM, n).transpose(1, 2, 0, 3).reshape(c, DIM, p * n)

    def step(state, x):
        return exp_step(*state, x), None

    ends, _ = _scan(step, _identity(p * n, dx.dtype), lanes)
    # (size, P*N) -> (P, size, N): chunks in front, each a batch of N paths
    ends = tuple(e.reshape(e.shape[0], p, n).transpose(1, 0, 2) for e in ends)
    if not stream:
        while p > 1:  # log2(P) rounds: chunk 2i times chunk 2i+1
            pairs = tuple(e.reshape(p // 2, 2, *e.shape[1:]) for e in ends)
            ends = chen(*(e[:, 0] for e in pairs), *(e[:, 1] for e in pairs))
            p //= 2
        return _flat(tuple(e[0] for e in ends))

    # stream: each chunk restarts from the product of the chunks before it
    def prefix(acc, end):
        return chen(*acc, *end), acc

    _, starts = _scan(prefix, _identity(n, dx.dtype), ends)  # (P, size, N)
    starts = tuple(s.transpose(1, 0, 2).reshape(s.shape[1], p * n) for s in starts)

    def stream_step(state, x):
        state = exp_step(*state, x)
        return state, _flat(state)

    _, rows = _scan(stream_step, starts, lanes)  # (c, SIGLEN, P*N)
    rows = rows.reshape(c, SIGLEN, p, n).transpose(2, 0, 1, 3).reshape(p * c, SIGLEN, n)
    return rows[:steps]


# copied from sigcodegen/plan/rules.py (`sigcodegen plan` sizes the blocks with the same function)
def levelwise_block_steps(steps, paths, siglen, block_elements, min_steps):
    """Time steps Tb per block for the levelwise strategy: paths * Tb * siglen <= block_elements,
    but at least min_steps (and 1), at most the whole path."""
    budget = block_elements // max(1, paths * siglen)
    return max(1, min(steps, max(min_steps, budget)))


def _levelwise(dx, stream, chunks=None, block_steps=None):
    """levelwise_block over blocks of time, blocks joined by chen: memory set by the block."""
    steps, _, n = dx.shape
    if block_steps is None:
        tb = levelwise_block_steps(steps, n, SIGLEN, LEVELWISE_BLOCK_ELEMENTS, LEVELWISE_MIN_STEPS)
    else:
        tb = min(block_steps, steps)
    if tb == steps:  # one block: keras_sig's whole-sequence method
        levels = levelwise_block(dx)
        return _flat(levels) if stream else _flat(_final(levels))
    blocks = -(-steps // tb)
    dx = jnp.pad(dx, ((0, blocks * tb - steps), (0, 0), (0, 0))).reshape(blocks, tb, DIM, n)

    def step(state, block):
        local = levelwise_block(block)
        if stream:
            rows = chen(*(s[None] for s in state), *local)
            return _final(rows), _flat(rows)
        return chen(*state, *_final(local)), None

    state, rows = _scan(step, _identity(n, dx.dtype), dx)
    if stream:
        return rows.reshape(blocks * tb, SIGLEN, n)[:steps]
    return _flat(state)


_DRIVERS = {"horner": _horner, "chunked": _chunked, "levelwise": _levelwise}


# ---- gradients: walk time back instead of storing every state --------------------------------


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _signature_of_increments(dx, stream, strategy, chunks, block_steps):
    """dx (T, DIM, N) -> the signature (SIGLEN, N) or stream (T, SIGLEN, N), with a VJP whose
    memory does not grow with T."""
    return _DRIVERS[strategy](dx, stream, chunks, block_steps)


def _signature_fwd(dx, stream, strategy, chunks, block_steps):
    out = _DRIVERS[strategy](dx, stream, chunks, block_steps)
    return out, (dx, out)


def _signature_bwd(stream, strategy, chunks, block_steps, residuals, g_out):
    dx, out = residuals
    if stream:
        return (_backward_stream(dx, out, g_out),)
    # Reversal loses about steps * eps * max|S| per coefficient: beyond REVERSAL_TOLERANCE
    # (large states, long float32 paths) recompute the states from checkpoints instead.
    eps = jnp.finfo(dx.dtype).eps / 2
    reversible = dx.shape[0] * eps * jnp.max(jnp.abs(out)) <= REVERSAL_TOLERANCE
    return (lax.cond(reversible, _backward_reversible, _backward_checkpointed, dx, out, g_out),)


_signature_of_increments.defvjp(_signature_fwd, _signature_bwd)


def _backward_reversible(dx, out, g_out):
    """S(t-1) = S(t) ⊗ exp(-dx(t)) on the levels below DEPTH (the adjoint never reads the top
    level), and the adjoint of each step from exp_step_vjp; carries O(SIGLEN * N) only."""

    def step(carry, x):
        lower, g = carry
        lower = exp_step_lower(*lower, -x)
        *g, gdx = exp_step_vjp(*lower, None, x, *g)
        return (lower, tuple(g)), gdx

    _, gdx = _scan(step, (_levels(out)[:-1], _levels(g_out)), dx, reverse=True)
    return gdx


def _backward_checkpointed(dx, out, g_out):
    """Autodiff through time segments of ~sqrt(T) steps whose inner states are recomputed
    (jax.checkpoint): exact, memory O(sqrt(T) * SIGLEN * N)."""
    steps, _, n = dx.shape
    seg = max(1, math.isqrt(steps - 1) + 1)
    count = -(-steps // seg)
    blocks = jnp.pad(dx, ((0, count * seg - steps), (0, 0), (0, 0))).reshape(count, seg, DIM, n)

    @jax.checkpoint
    def segment(state, block):
        return _scan(lambda s, x: (exp_step(*s, x), None), state, block)[0], None

    def forward(blocks):
        return _flat(lax.scan(segment, _identity(n, dx.dtype), blocks)[0])

    (g_blocks,) = jax.vjp(forward, blocks)[1](g_out)
    return g_blocks.reshape(count * seg, DIM, n)[:steps]


def _backward_stream(dx, rows, g_rows):
    """The stored stream gives the state before every step; no reversal needed."""
    before = jnp.concatenate([jnp.zeros_like(rows[:1]), rows[:-1]])

    def step(g, inputs):
        x, state, g_row = inputs
        g = tuple(a + b for a, b in zip(g, _levels(g_row)))
        *g, gdx = exp_step_vjp(*_levels(state)[:-1], None, x, *g)
        return tuple(g), gdx

    _, gdx = _scan(step, _identity(dx.shape[-1], dx.dtype), (dx, before, g_rows), reverse=True)
    return gdx


def _check_call(path, strategy, chunks, block_steps):
    """Refuse a path or options the drivers cannot run, naming what to change."""
    if path.ndim < 2 or path.shape[-1] != DIM:
        raise ValueError(f"expected a path of shape (..., L, {DIM}), got {path.shape}")
    if not jnp.issubdtype(path.dtype, jnp.floating):
        raise TypeError(f"expected a floating-point path, got dtype {path.dtype}")
    if strategy not in _DRIVERS:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {STRATEGIES}")
    if chunks is not None and (chunks < 1 or chunks & (chunks - 1)):
        raise ValueError(f"chunks must be a power of two, got {chunks}")
    if block_steps is not None and block_steps < 1:
        raise ValueError(f"block_steps must be >= 1, got {block_steps}")
    if path.shape[-2] < 1:
        raise ValueError("a path needs at least one point (L >= 1)")


@functools.partial(jax.jit, static_argnames=("stream", "strategy", "chunks", "block_steps"))
def signature(path, stream=False, strategy="horner", chunks=None, block_steps=None):
    """Signature of paths (..., L, DIM) -> (..., SIGLEN); stream -> (..., L-1, SIGLEN).

    Levels 1..DEPTH, row-major words, no scalar term. The float dtype of ``path`` is kept.
    L = 1 gives zeros (a constant path); ``strategy`` is one of STRATEGIES. ``chunks`` (a power
    of two) and ``block_steps`` override the chunked and levelwise rules. Reverse-mode
    gradients walk time back (memory independent of L); forward mode (jax.jvp) is not defined.
    """
    _check_call(path, strategy, chunks, block_steps)
    *lead, length, _ = path.shape
    n, steps = math.prod(lead), length - 1
    if n == 0 or steps == 0:
        return jnp.zeros((*lead, steps, SIGLEN) if stream else (*lead, SIGLEN), path.dtype)
    x = path.reshape(n, length, DIM)
    dx = jnp.transpose(x[:, 1:] - x[:, :-1], (1, 2, 0))  # (T, DIM, N): paths on the lanes
    out = _signature_of_increments(dx, stream, strategy, chunks, block_steps)
    if stream:
        return jnp.transpose(out, (2, 0, 1)).reshape(*lead, steps, SIGLEN)
    return out.T.reshape(*lead, SIGLEN)


# ---- the tensor algebra on flat signatures (..., SIGLEN) ----------------------------------------


def _apply(routine, *flats):
    """routine on flat elements (..., SIGLEN), leading axes broadcast together."""
    lead = jnp.broadcast_shapes(*(f.shape[:-1] for f in flats))
    columns = [jnp.broadcast_to(f, (*lead, SIGLEN)).reshape(-1, SIGLEN).T for f in flats]
    out = _flat(routine(*(level for column in columns for level in _levels(column))))
    return out.T.reshape(*lead, SIGLEN)


@jax.jit
def tensor_log(sig):
    """Tensor logarithm of signatures (..., SIGLEN): the expanded log-signature."""
    return _apply(log_series, sig)


@jax.jit
def tensor_exp(log):
    """Tensor exponential of Lie elements (..., SIGLEN): the signature with that logarithm."""
    return _apply(exp_series, log)


@jax.jit
def combine(a, b):
    """Chen's product a ⊗ b of signatures (..., SIGLEN): the signature of path a then path b."""
    return _apply(chen, a, b)


def _run_float64(path, stream, strategy, **options):
    import numpy as np

    with jax.enable_x64(True):
        x = jnp.asarray(path, jnp.float64)
        return np.asarray(signature(x, stream, strategy, **options))


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
