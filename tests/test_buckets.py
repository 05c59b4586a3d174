"""Shape buckets of the jit targets (sigcodegen.runtime.buckets): the rule against its
definition, results at lengths and batch sizes on and off the bucket edges against the float64
reference, gradients against finite differences, the number of compilations, and the bounds
of the in-process caches."""

from __future__ import annotations

import numpy as np
import pytest

import sigcodegen as sc
from reference import (chen_product, finite_difference_gradient, flatten, level_slices,
                       relative_error, signature as reference_signature, tensor_log)
from sigcodegen.plan import rules
from sigcodegen.runtime import dispatch
from sigcodegen.runtime.buckets import COMPILED

pytest.importorskip("jax")

#: increments on and off the edges of the grid 16, 24, 32, 48, 64
STEPS = (1, 2, 15, 16, 17, 23, 24, 25, 33, 48, 49)
#: paths on and off the edges of the grid 8, 16, 32
PATHS = (1, 7, 8, 9, 16, 17)


def grid(minimum, per_octave, largest):
    """The bucket grid by its definition: minimum, then per_octave evenly spaced values in
    each octave [m 2^k, m 2^(k+1))."""
    values, base = [minimum], minimum
    while base <= largest:
        values += [base + j * base // per_octave for j in range(1, per_octave + 1)]
        base *= 2
    return sorted(set(values))


@pytest.mark.parametrize("minimum,per_octave", [(16, 2), (8, 2), (8, 4), (1, 1), (4, 1)])
def test_bucket_rule_is_the_smallest_grid_value_at_or_above(minimum, per_octave):
    values = grid(minimum, per_octave, 5000)
    for n in range(1, 4000):
        assert rules.bucket(n, minimum, per_octave) == min(v for v in values if v >= n), n


def test_the_issue_loops_stay_within_twelve_buckets():
    """L = 2..401 and 200 batch sizes: at most 12 shapes each with the plan's constants."""
    from sigcodegen.plan.signature import (BUCKET_MIN_PATHS, BUCKET_MIN_STEPS,
                                           BUCKET_PATHS_PER_OCTAVE, BUCKET_STEPS_PER_OCTAVE)

    lengths = {rules.bucket(n - 1, BUCKET_MIN_STEPS, BUCKET_STEPS_PER_OCTAVE)
               for n in range(2, 402)}
    batches = {rules.bucket(n, BUCKET_MIN_PATHS, BUCKET_PATHS_PER_OCTAVE) for n in range(1, 201)}
    assert len(lengths) <= 12 and len(batches) <= 12
    # and padding past the smallest bucket costs at most 1.5x the work
    for n in range(BUCKET_MIN_STEPS + 1, 5000):
        assert rules.bucket(n, BUCKET_MIN_STEPS, BUCKET_STEPS_PER_OCTAVE) <= 1.5 * n


def _paths(rng, n, steps, dim=3):
    return np.cumsum(rng.standard_normal((n, steps + 1, dim)), axis=1) / np.sqrt(steps + 1)


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("stream", [False, True])
def test_jax_target_at_every_length_equals_the_reference(steps, stream):
    rng = np.random.default_rng(steps)
    x = _paths(rng, 3, steps)
    got = sc.signature(x, 3, stream, target="jax")
    want = reference_signature(x, 3, stream)
    assert got.shape == want.shape
    assert relative_error(got, want, 3, 3) <= 1e-12


@pytest.mark.parametrize("n", PATHS)
@pytest.mark.parametrize("strategy", ["horner", "chunked", "levelwise"])
def test_jax_target_at_every_batch_size_equals_the_reference(n, strategy):
    rng = np.random.default_rng(n)
    x = _paths(rng, n, 20, dim=2)
    got = sc.signature(x, 4, target="jax", strategy=strategy)
    assert relative_error(got, reference_signature(x, 4), 2, 4) <= 1e-12
    one = sc.signature(x[0], 4, target="jax", strategy=strategy)  # a single path, no batch axis
    assert one.shape == (sc.signature_channels(2, 4),)
    assert relative_error(one, reference_signature(x[0], 4), 2, 4) <= 1e-12


def test_leading_axes_and_float32_keep_their_shape_and_dtype():
    rng = np.random.default_rng(3)
    x = _paths(rng, 6, 10).reshape(2, 3, 11, 3)
    for dtype, tol in (("float64", 1e-12), ("float32", 1e-5)):
        got = sc.signature(x.astype(dtype), 3, True, target="jax")
        assert got.dtype == dtype and got.shape == (2, 3, 10, 39)
        assert relative_error(got, reference_signature(x, 3, True), 3, 3) <= tol


@pytest.mark.parametrize("steps", (3, 16, 17))
@pytest.mark.parametrize("n", (1, 9))
@pytest.mark.parametrize("stream", [False, True])
def test_numpy_vjp_on_the_jax_target_matches_finite_differences(steps, n, stream):
    """The padded points' gradient folds into the last real point; padded rows get none."""
    rng = np.random.default_rng(steps * 10 + n)
    x = _paths(rng, n, steps, dim=2)
    weights = rng.standard_normal(reference_signature(x, 2, stream).shape)
    got = sc.signature_vjp(x, weights, 2, stream, target="jax")
    want = finite_difference_gradient(x, 2, weights, stream)
    assert got.shape == x.shape
    assert np.max(np.abs(got - want)) <= 1e-7 * max(1.0, np.max(np.abs(want)))


@pytest.mark.parametrize("steps", (5, 16, 17))
def test_torch_autograd_through_the_jax_target_matches_finite_differences(steps):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(steps)
    x = _paths(rng, 9, steps, dim=2)
    weights = rng.standard_normal(reference_signature(x, 3, True).shape)
    leaf = torch.tensor(x, requires_grad=True)
    out = sc.signature(leaf, 3, True, target="jax")
    (grad,) = torch.autograd.grad(out, leaf, torch.tensor(weights))
    assert tuple(out.shape) == weights.shape
    want = finite_difference_gradient(x, 3, weights, True)
    assert np.max(np.abs(grad.numpy() - want)) <= 1e-7 * max(1.0, np.max(np.abs(want)))


def _reference_combine(a, b, dim, depth):
    def levels(flat):
        return [flat[s].reshape((dim,) * (k + 1)) for k, s in enumerate(level_slices(dim, depth))]

    return flatten(chen_product(levels(a), levels(b)))


@pytest.mark.parametrize("n", PATHS)
def test_routines_at_every_batch_size_equal_the_reference(n):
    """combine (numpy and torch, broadcast) and the tensor log behind logsignature."""
    rng = np.random.default_rng(n)
    x, y = _paths(rng, n, 6), _paths(rng, n, 6)
    a, b = reference_signature(x, 3), reference_signature(y, 3)
    want = np.stack([_reference_combine(a[i], b[i], 3, 3) for i in range(n)])
    assert np.max(np.abs(sc.signature_combine(a, b, 3, 3) - want)) <= 1e-12
    broadcast = sc.signature_combine(a, b[:1], 3, 3)
    assert broadcast.shape == a.shape
    assert np.max(np.abs(broadcast[-1] - _reference_combine(a[-1], b[0], 3, 3))) <= 1e-12
    torch = pytest.importorskip("torch")
    got = sc.signature_combine(torch.tensor(a), torch.tensor(b), 3, 3)
    assert np.max(np.abs(got.numpy() - want)) <= 1e-12
    log = sc.logsignature(x, 3, mode="expand")
    assert np.max(np.abs(log - np.stack([tensor_log(s, 3, 3) for s in a]))) <= 1e-12


def test_compilations_are_bounded_by_the_buckets(monkeypatch):
    """30 lengths in 3 buckets and 16 batch sizes in 2 compile 3 and 2 times; without buckets
    (SIGCODEGEN_BUCKETS=0) every new shape compiles."""
    rng = np.random.default_rng(0)
    sc.clear_caches()
    before = COMPILED.compilations
    for steps in range(17, 47):  # buckets 24, 32, 48
        sc.signature(_paths(rng, 3, steps), 2, target="jax")
    assert COMPILED.compilations - before == 3
    before = COMPILED.compilations
    for n in range(1, 17):  # buckets 8, 16
        sc.signature_combine(np.ones((n, 6)), np.ones((n, 6)), 2, 2)
    assert COMPILED.compilations - before == 2
    monkeypatch.setenv("SIGCODEGEN_BUCKETS", "0")
    before = COMPILED.compilations
    for steps in range(17, 22):
        sc.signature(_paths(rng, 3, steps), 2, target="jax")
    assert COMPILED.compilations - before == 5


def test_compiled_store_drops_the_least_recently_used(monkeypatch):
    monkeypatch.setenv("SIGCODEGEN_MAX_COMPILED", "2")
    rng = np.random.default_rng(1)
    sc.clear_caches()
    shapes = [_paths(rng, 3, s) for s in (10, 20, 40)]  # buckets 16, 24, 48
    for x in shapes:
        sc.signature(x, 2, target="jax")
    assert len(COMPILED) == 2
    before = COMPILED.compilations
    sc.signature(shapes[2], 2, target="jax")  # the newest: kept
    assert COMPILED.compilations == before
    sc.signature(shapes[0], 2, target="jax")  # the oldest: dropped, compiled again
    assert COMPILED.compilations == before + 1
    monkeypatch.setenv("SIGCODEGEN_MAX_COMPILED", "none")
    with pytest.raises(ValueError, match="SIGCODEGEN_MAX_COMPILED"):
        sc.signature(_paths(rng, 3, 90), 2, target="jax")


def test_clear_caches_forgets_modules_and_executables():
    sc.signature(np.ones((2, 5, 2)), 2, target="jax")
    assert len(COMPILED) > 0 and dispatch.loaded("signature", 2, 2, "jax") is not None
    sc.clear_caches()
    assert len(COMPILED) == 0 and dispatch.loaded("signature", 2, 2, "jax") is None
    assert np.allclose(sc.signature(np.ones((2, 5, 2)), 2, target="jax"), 0.0)


def test_module_memo_drops_the_least_recently_used(monkeypatch):
    monkeypatch.setattr(dispatch, "MAX_MODULES", 2)
    sc.clear_caches()
    for depth in (1, 2, 3):
        dispatch.load(2, depth, "jax")
    assert dispatch.loaded("signature", 2, 1, "jax") is None
    assert dispatch.loaded("signature", 2, 3, "jax") is not None
    sc.clear_caches()


def test_inside_jit_nothing_is_padded():
    """A traced call keeps the caller's shapes (its own jit compiles per shape)."""
    import jax
    import jax.numpy as jnp

    x = _paths(np.random.default_rng(2), 3, 20).astype(np.float32)
    before = COMPILED.compilations
    got = jax.jit(lambda p: sc.signature(p, 3, True, target="jax"))(jnp.asarray(x))
    assert got.shape == (3, 20, 39) and COMPILED.compilations == before
    assert relative_error(np.asarray(got, np.float64), reference_signature(x, 3, True), 3, 3) <= 1e-5


@pytest.mark.parametrize("steps", (1, 16, 17, 30))
def test_bucket_paths_pads_by_the_last_point(steps):
    x = _paths(np.random.default_rng(steps), 2, steps)
    padded = sc.bucket_paths(x)
    want_steps = min(v for v in grid(16, 2, 100) if v >= steps)
    assert padded.shape == (2, want_steps + 1, 3)
    assert np.array_equal(padded[:, :steps + 1], x)
    assert np.array_equal(padded[:, steps + 1:], np.repeat(x[:, -1:], want_steps - steps, 1))
    assert np.array_equal(sc.bucket_paths(x[:, :1]), x[:, :1])  # one point: nothing to repeat


_XLA_COMPILES = []


def _count_xla_compiles():
    """A counter of every XLA compilation in this process (registered once)."""
    import jax

    if not _XLA_COMPILES:
        _XLA_COMPILES.append(0)

        def listen(event, duration, **kwargs):
            if event == "/jax/core/compile/backend_compile_duration":
                _XLA_COMPILES[0] += 1

        jax.monitoring.register_event_duration_secs_listener(listen)
    return lambda: _XLA_COMPILES[0]


@pytest.mark.parametrize("target,most", [("c", 0), ("jax", 3)])
def test_eager_jax_arrays_of_many_lengths_compile_per_bucket_at_most(target, most):
    """Concrete jax arrays on the CPU: the c target runs their numpy view (no compilation at
    all), the jax target pads the view (one compilation per bucket: 16, 24, 32 here); the
    results are jax arrays of the input's dtype equal to the reference."""
    import jax

    compiles = _count_xla_compiles()
    rng = np.random.default_rng(4)
    xs = [jax.device_put(_paths(rng, 3, steps).astype(np.float32)) for steps in range(9, 31)]
    sc.signature(xs[0], 3, target=target)  # the first call may load and compile
    before = compiles()
    for x in xs:
        got = sc.signature(x, 3, target=target)
        assert isinstance(got, jax.Array) and got.dtype == np.float32
        want = reference_signature(np.asarray(x, np.float64), 3)
        assert relative_error(np.asarray(got, np.float64), want, 3, 3) <= 1e-5
    assert compiles() - before <= most
