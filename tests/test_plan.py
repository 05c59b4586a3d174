"""The plan is data: frozen, printable, and its costs match the formulas of docs/architecture.md (the plan IR)."""

from __future__ import annotations

import dataclasses

import numpy as np

import pytest

from sigcodegen.plan import explain, make_plan, num_chunks, block_steps, strategy_cost
from sigcodegen.spec import KernelSpec


def horner_cost(d, m):
    """H(d, m) = sum_{j=2..m} (m-j+1) d^j multiply-adds per step (docs/architecture.md), plus the
    O(m d) adds and scalings of the degree-1 terms."""
    top = sum((m - j + 1) * d**j for j in range(2, m + 1))
    low = d * (m - 1)  # t1 = a1 + dx/n for n = 2..m
    return top + low + d + d * (m - 1)  # + a1 += dx + dx/k for k = 2..m


@pytest.mark.parametrize("d,m", [(1, 1), (2, 3), (5, 4), (3, 6), (10, 2)])
def test_exp_step_cost_is_horner_formula(d, m):
    plan = make_plan(KernelSpec(dim=d, depth=m))
    assert plan.routine("exp_step").macs(d) == horner_cost(d, m)


@pytest.mark.parametrize("d,m", [(2, 3), (5, 4), (3, 6)])
def test_chen_cost(d, m):
    plan = make_plan(KernelSpec(dim=d, depth=m))
    expected = sum((n - 1) * d**n + d**n for n in range(1, m + 1))  # products + the a_n + b_n add
    assert plan.routine("chen").macs(d) == expected


def test_plan_is_frozen_and_hashable():
    plan = make_plan(KernelSpec(dim=3, depth=3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.dim = 4
    hash(plan)
    assert make_plan(KernelSpec(dim=3, depth=3, target="keras")) == plan


def test_exp_step_updates_levels_top_down():
    """Each degree's Horner chain must read the *old* lower levels: degree n is written before
    any degree below it."""
    routine = make_plan(KernelSpec(dim=2, depth=5)).routine("exp_step")
    written = [op.out.name for op in routine.ops if op.out.name.startswith("a")]
    assert written == ["a5", "a4", "a3", "a2", "a1"]


def test_explain_shows_shapes_and_flops():
    text = explain(make_plan(KernelSpec(dim=5, depth=4)), paths=128, length=100)
    assert "a4 = a4 + t3 ⊗ dx" in text
    assert "(625, paths)" in text
    assert "siglen 780" in text
    # config A: 2 * H(5,4) * 99 * 128 FLOP for horner, H = 950 (+ 35 low-order terms)
    assert f"{2 * horner_cost(5, 4) * 99 * 128 / 1e6:.3f} MFLOP" in text
    for strategy in ("horner", "chunked", "levelwise"):
        assert strategy in text


def test_chunk_rule():
    schedule = make_plan(KernelSpec(dim=5, depth=4)).schedule("chunked")
    assert num_chunks(schedule, steps=99, paths=128) == 1  # a chunk needs >= 64 steps
    assert num_chunks(schedule, steps=499, paths=32) == 4  # 4 * 64 <= 499 < 8 * 64
    assert num_chunks(schedule, steps=999, paths=16) == 8
    assert num_chunks(schedule, steps=10**6, paths=64) == 4  # 64 * 4 = 256 lanes
    assert num_chunks(schedule, steps=10**6, paths=1024) == 1


def test_block_rule_bounds_memory():
    plan = make_plan(KernelSpec(dim=8, depth=3))
    schedule = plan.schedule("levelwise")
    tb = block_steps(schedule, steps=9999, paths=256, siglen=plan.siglen)
    assert 256 * tb * plan.siglen <= 2**22 or tb == schedule.param("min_steps")
    cost = strategy_cost(plan, "levelwise", 256, 9999, stream=False)
    assert cost["peak_block_elements"] <= 2**22 * 2


# ---- the routines compute what they claim (run by tests/plan_interpreter.py) ------------------


def _levels(rng, prefix, d, m, n=3):
    return {f"{prefix}{k}": rng.standard_normal((d**k, n)) for k in range(1, m + 1)}


def _flat(values, prefix, m):
    return np.concatenate([values[f"{prefix}{k}"] for k in range(1, m + 1)])


@pytest.mark.parametrize("d,m", [(1, 1), (2, 3), (3, 4), (2, 6)])
def test_exp_step_and_chen_agree_with_the_reference(d, m):
    import plan_interpreter
    from reference import chen_product, tensor_exp

    rng = np.random.default_rng(d * 10 + m)
    plan = make_plan(KernelSpec(dim=d, depth=m))
    a, dx = _levels(rng, "a", d, m), rng.standard_normal((d, 3))
    b = _levels(rng, "b", d, m)
    stepped = plan_interpreter.run(plan.routine("exp_step"), d, {**a, "dx": dx})
    product = plan_interpreter.run(plan.routine("chen"), d, {**a, **b})
    for n in range(3):
        a_n = [a[f"a{k}"][:, n].reshape((d,) * k) for k in range(1, m + 1)]
        b_n = [b[f"b{k}"][:, n].reshape((d,) * k) for k in range(1, m + 1)]
        want = np.concatenate([x.ravel() for x in chen_product(a_n, tensor_exp(dx[:, n], m))])
        np.testing.assert_allclose(_flat(stepped, "a", m)[:, n], want, rtol=1e-12, atol=1e-12)
        want = np.concatenate([x.ravel() for x in chen_product(a_n, b_n)])
        np.testing.assert_allclose(_flat(product, "c", m)[:, n], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("d,m", [(1, 2), (2, 3), (3, 4), (2, 6)])
def test_exp_step_vjp_is_the_adjoint(d, m):
    """<g, J(a, dx)·(va, vdx)> = <J^T g, (va, vdx)> with J by central differences of exp_step."""
    import plan_interpreter

    rng = np.random.default_rng(m)
    plan = make_plan(KernelSpec(dim=d, depth=m))
    a, dx, g = _levels(rng, "a", d, m), rng.standard_normal((d, 3)), _levels(rng, "g", d, m)
    va, vdx = _levels(rng, "a", d, m), rng.standard_normal((d, 3))
    eps = 1e-6

    def step(shift):
        inputs = {k: a[k] + shift * va[k] for k in a}
        return _flat(plan_interpreter.run(plan.routine("exp_step"), d,
                                          {**inputs, "dx": dx + shift * vdx}), "a", m)

    jv = (step(eps) - step(-eps)) / (2 * eps)
    adj = plan_interpreter.run(plan.routine("exp_step_vjp"), d, {**a, "dx": dx, **g})
    lhs = np.sum(_flat(g, "g", m) * jv, axis=0)
    rhs = np.sum(_flat(adj, "g", m) * _flat(va, "a", m), axis=0) + np.sum(adj["gdx"] * vdx, axis=0)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-7)


@pytest.mark.parametrize("d,m", [(1, 1), (2, 2), (3, 4), (2, 6)])
def test_fused_and_lower_steps_agree_with_exp_step(d, m):
    """exp_steps (K increments, the top level once) equals K exp_steps; exp_step_lower equals
    exp_step on levels 1..m-1."""
    import plan_interpreter

    rng = np.random.default_rng(d + m)
    plan = make_plan(KernelSpec(dim=d, depth=m))
    fused = plan.routine("exp_steps")
    names = [v.name for v in fused.params if v.name.startswith("dx")]
    a = _levels(rng, "a", d, m)
    dxs = {name: rng.standard_normal((d, 3)) for name in names}
    state = dict(a)
    for name in names:
        state = plan_interpreter.run(plan.routine("exp_step"), d, {**state, "dx": dxs[name]})
    together = plan_interpreter.run(fused, d, {**a, **dxs})
    np.testing.assert_allclose(_flat(together, "a", m), _flat(state, "a", m), rtol=1e-12, atol=1e-12)
    if m > 1:
        one = plan_interpreter.run(plan.routine("exp_step"), d, {**a, "dx": dxs[names[0]]})
        lower = {k: v for k, v in a.items() if k != f"a{m}"}
        low = plan_interpreter.run(plan.routine("exp_step_lower"), d, {**lower, "dx": dxs[names[0]]})
        np.testing.assert_allclose(_flat(low, "a", m - 1), _flat(one, "a", m - 1), rtol=1e-12)


@pytest.mark.parametrize("d,m,q,pruned", [
    (2, 4, 1, False), (3, 4, 1, False), (2, 6, 1, False), (2, 6, 3, False), (3, 5, 2, False),
    (2, 10, None, False), (3, 6, None, False),
    (2, 10, None, True), (3, 6, None, True), (2, 9, None, True),  # exp_steps_subtree_lyndon
])
def test_subtree_steps_agree_with_exp_step(d, m, q, pruned):
    """exp_steps_prefix on levels 1..q, then exp_steps_subtree on each of the d**q subtrees
    (levels q+1..m of the words under one prefix, each chain from its root R at the prefix),
    equals K exp_steps on the whole state; q=None: the plan's own cut (it holds the routines).
    pruned: the log-signature plan's exp_steps_subtree_lyndon (subtree u reads its own table
    of first letters: the interpreter's tree argument), equal at the top level's Lyndon words
    (the interpreter sets the others to NaN)."""
    import itertools

    import plan_interpreter
    from sigcodegen.plan.logsignature import logsignature_plan
    from sigcodegen.plan.signature import subtree_depth, subtree_routines

    rng = np.random.default_rng(10 * d + m)
    plan = logsignature_plan(d, m) if pruned else make_plan(KernelSpec(dim=d, depth=m))
    if q is None:
        q = subtree_depth(d, m)
        assert q > 0 and plan.target_params("c").param("subtree_depth") == q
        prefix = plan.routine("exp_steps_prefix")
        subtree = plan.routine("exp_steps_subtree_lyndon" if pruned else "exp_steps_subtree")
    else:
        prefix, subtree = subtree_routines(d, m, q)
    names = [v.name for v in prefix.params if v.name.startswith("dx")]
    a = _levels(rng, "a", d, m, n=2)
    dxs = {name: 0.5 * rng.standard_normal((d, 2)) for name in names}
    state = dict(a)
    for name in names:
        state = plan_interpreter.run(plan.routine("exp_step"), d, {**state, "dx": dxs[name]})
    low = plan_interpreter.run(prefix, d, {**{f"a{k}": a[f"a{k}"] for k in range(1, q + 1)},
                                           **dxs})
    cut = {f"a{k}": low[f"a{k}"] for k in range(1, q + 1)}
    for k in range(q + 1, m + 1):
        cut[f"a{k}"] = np.empty_like(a[f"a{k}"])
    for u in range(d**q):
        part = {f"a{k}": a[f"a{q + k}"][u * d**k:(u + 1) * d**k] for k in range(1, m - q + 1)}
        roots = {f"r{name[2:]}{k}": low[f"R{q + k}{name[2:]}"][u:u + 1]
                 for name in names for k in range(1, m - q + 1)}
        out = plan_interpreter.run(subtree, d, {**part, **roots, **dxs}, tree=u)
        for k in range(1, m - q + 1):
            cut[f"a{q + k}"][u * d**k:(u + 1) * d**k] = out[f"a{k}"]
    if pruned:
        lyndon = np.array([_is_lyndon(w) for w in itertools.product(range(d), repeat=m)])
        # the interpreter marks what the op's table leaves out: exactly the non-Lyndon words
        np.testing.assert_array_equal(np.isnan(cut[f"a{m}"]).all(axis=1), ~lyndon)
        np.testing.assert_allclose(cut[f"a{m}"][lyndon], state[f"a{m}"][lyndon],
                                   rtol=1e-11, atol=1e-11)
        m -= 1  # the levels below the top: whole
    np.testing.assert_allclose(_flat(cut, "a", m), _flat(state, "a", m), rtol=1e-11, atol=1e-11)


def test_subtree_routines_refuse_a_shallow_cut():
    from sigcodegen.plan.signature import subtree_routines

    with pytest.raises(ValueError, match="depth >= 3"):
        subtree_routines(2, 5, 3)


def _is_lyndon(word):
    """Strictly smaller than each of its proper rotations (the definition)."""
    return all(word < word[i:] + word[:i] for i in range(1, len(word)))


@pytest.mark.parametrize("d,m", [(2, 2), (3, 2), (2, 7), (3, 4), (4, 3), (5, 3), (1, 3)])
def test_lyndon_last_letters_bound_exactly_the_lyndon_words(d, m):
    import itertools

    from sigcodegen.algebra import lyndon_last_letters

    first = lyndon_last_letters(d, m)
    assert len(first) == d ** (m - 1)
    for row, prefix in enumerate(itertools.product(range(d), repeat=m - 1)):
        lyndon = [v for v in range(d) if _is_lyndon(prefix + (v,))]
        assert lyndon == list(range(first[row], d)), prefix


@pytest.mark.parametrize("d,m", [(2, 2), (5, 2), (3, 3), (4, 3), (3, 4), (2, 6)])
def test_lyndon_steps_agree_with_exp_step_at_the_lyndon_words(d, m):
    """exp_steps_lyndon (the log-signature plan's fused steps, the top level pruned) equals K
    exp_steps on levels 1..m-1 and at the top level's Lyndon words, twice in a row: the plan
    interpreter sets every coefficient the pruned op leaves unspecified to NaN, so a read of
    one by the next call would show."""
    import itertools

    import plan_interpreter
    from sigcodegen.plan.logsignature import logsignature_plan

    rng = np.random.default_rng(7 * d + m)
    plan = logsignature_plan(d, m)
    pruned, full = plan.routine("exp_steps_lyndon"), plan.routine("exp_steps")
    assert pruned.macs(d) < full.macs(d)
    names = [v.name for v in full.params if v.name.startswith("dx")]
    a = _levels(rng, "a", d, m, n=2)
    state, stepped = dict(a), dict(a)
    for _ in range(2):
        dxs = {name: 0.5 * rng.standard_normal((d, 2)) for name in names}
        for name in names:
            state = plan_interpreter.run(plan.routine("exp_step"), d, {**state, "dx": dxs[name]})
        stepped = plan_interpreter.run(pruned, d, {**stepped, **dxs})
    for k in range(1, m):
        np.testing.assert_allclose(stepped[f"a{k}"], state[f"a{k}"], rtol=1e-12, atol=1e-12)
    words = list(itertools.product(range(d), repeat=m))
    lyndon = np.array([_is_lyndon(w) for w in words])
    top, want = stepped[f"a{m}"], state[f"a{m}"]
    np.testing.assert_allclose(top[lyndon], want[lyndon], rtol=1e-12, atol=1e-12)
    # the interpreter marks what the op's table leaves out: exactly the non-Lyndon words
    np.testing.assert_array_equal(np.isnan(top).all(axis=1), ~lyndon)


def test_the_log_signature_plan_prunes_the_steps_it_runs():
    from sigcodegen.plan.logsignature import logsignature_plan

    def names(d, m):
        return {r.name for r in logsignature_plan(d, m).routines}

    assert "exp_steps_lyndon" in names(20, 2) and "exp_steps_lyndon" in names(5, 4)
    assert "exp_steps_subtree_lyndon" not in names(5, 4)
    assert logsignature_plan(2, 10).target_params("c").param("subtree_depth") > 0
    assert "exp_steps_subtree_lyndon" in names(2, 10)  # cut: the subtrees are pruned
    assert "exp_steps_lyndon" not in names(2, 10)
    assert "subtrees' tables]" in logsignature_plan(2, 10).text("c")
    assert "exp_steps_lyndon" not in names(3, 1) and "exp_steps_lyndon" not in names(1, 4)
    assert "exp_steps_lyndon" not in names(9, 5)  # 6,561 rows: above LYNDON_MAX_ROWS
    assert "[pruned]" in logsignature_plan(5, 4).text("c")


@pytest.mark.parametrize("d,m", [(1, 3), (2, 3), (3, 4), (2, 6)])
def test_log_and_exp_series(d, m):
    """log_series is the tensor logarithm (checked against a plain series of truncated
    products) and exp_series inverts it."""
    import plan_interpreter
    from reference import chen_product

    rng = np.random.default_rng(d + 10 * m)
    plan = make_plan(KernelSpec(dim=d, depth=m))
    x = {f"x{k}": rng.standard_normal((d**k, 2)) / 2 for k in range(1, m + 1)}
    logged = plan_interpreter.run(plan.routine("log_series"), d, x)
    for n in range(2):
        s = [x[f"x{k}"][:, n].reshape((d,) * k) for k in range(1, m + 1)]

        def times(a, b):  # product of elements without scalar term
            both = chen_product(a, b)
            return [p - u - v for p, u, v in zip(both, a, b)]

        want, power = [np.zeros_like(level) for level in s], s
        for k in range(1, m + 1):
            want = [w + (-1) ** (k + 1) / k * p for w, p in zip(want, power)]
            power = times(power, s)
        np.testing.assert_allclose(_flat(logged, "y", m)[:, n],
                                   np.concatenate([w.ravel() for w in want]), rtol=1e-12, atol=1e-12)
    back = plan_interpreter.run(plan.routine("exp_series"), d,
                                {f"x{k}": logged[f"y{k}"] for k in range(1, m + 1)})
    np.testing.assert_allclose(_flat(back, "y", m), _flat(x, "x", m), rtol=1e-10, atol=1e-12)


# ---- parameters: schedule defaults with per-target overrides, and each target's constants ----


def test_schedule_parameters_per_target():
    plan = make_plan(KernelSpec(dim=5, depth=4))
    chunked = plan.schedule("chunked")
    assert dict(chunked.params_for()) == {"lanes": 256, "min_steps": 64}
    assert dict(chunked.params_for("jax")) == dict(chunked.params_for("keras")) == {
        "lanes": 256, "min_steps": 64}
    assert dict(chunked.params_for("triton")) == {"lanes": 8192, "min_steps": 256}
    assert dict(chunked.params_for("c")) == {"min_steps": 16}  # c's rule has no lane budget
    assert chunked.param("min_steps", "triton") == 256
    with pytest.raises(KeyError):
        chunked.param("lanes", "c")
    levelwise = plan.schedule("levelwise")
    assert dict(levelwise.params_for("jax")) == {"block_elements": 2**22, "min_steps": 16}


def test_every_target_has_its_strategies_and_constants():
    from sigcodegen.spec import TARGETS

    plan = make_plan(KernelSpec(dim=2, depth=3))
    assert tuple(t.target for t in plan.targets) == TARGETS
    for target in TARGETS:
        params = plan.target_params(target)
        assert set(params.strategies) <= set(plan.strategies)
        assert [s.strategy for s in plan.schedules_for(target)] == list(params.strategies)
    assert plan.target_params("triton").strategies == ("horner", "chunked")
    assert plan.target_params("c").strategies == ("horner", "chunked")
    assert plan.target_params("jax").strategies == ("horner", "chunked", "levelwise")
    triton = plan.target_params("triton")
    assert (triton.param("register_budget"), triton.param("lanes_per_program")) == (64, 128)
    for target in ("c", "jax", "triton"):
        assert plan.target_params(target).param("reversal_tolerance") == 1e-4
    assert plan.target_params("c").param("optimize") == "flags"
    assert make_plan(KernelSpec(dim=2, depth=8)).target_params("c").param("optimize") == "O2"
    with pytest.raises(KeyError):
        plan.target_params("cuda")


def test_plan_prints_itself_with_every_parameter():
    """str(plan) needs nothing but the IR: routines, strategies with their defaults and each
    target's overrides, and every target's constants."""
    text = str(make_plan(KernelSpec(dim=5, depth=4)))
    assert "a4 = a4 + t3 ⊗ dx" in text
    assert "[lanes=256, min_steps=64]" in text
    assert "triton: lanes=8192, min_steps=256" in text and "c: min_steps=16" in text
    assert "reversal_tolerance=0.0001" in text and "register_budget=64" in text
    assert "lanes_per_program=128" in text and "team_min_ops=100000" in text


def _cli_plan(capsys, *args):
    from sigcodegen.cli import main

    assert main(["plan", "--dim", "5", "--depth", "4", *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("target,lanes,min_steps", [("triton", 8192, 256), ("jax", 256, 64),
                                                    ("keras", 256, 64)])
def test_cli_plan_prints_the_parameters_in_force(capsys, target, lanes, min_steps):
    out = _cli_plan(capsys, "--target", target, "--batch", "8", "--length", "5000")
    strategies = out[out.index(f"strategies of target {target}"):out.index(f"target {target}:")]
    assert f"[lanes={lanes}, min_steps={min_steps}]" in strategies
    assert ("levelwise" in strategies) == (target != "triton")
    schedule = make_plan(KernelSpec(dim=5, depth=4)).schedule("chunked")
    chunked = next(line for line in out.splitlines()
                   if line.startswith("  chunked ") and "MFLOP" in line)
    assert chunked.endswith(f"chunks={num_chunks(schedule, 4999, 8, target)}")
    assert num_chunks(schedule, 4999, 8, target) == (16 if target == "triton" else 32)
    assert ("triton lanes: dim=5, depth=4" in out) == (target == "triton")


def test_cli_plan_for_c_and_without_target(capsys):
    out = _cli_plan(capsys, "--target", "c")
    assert "[min_steps=16]" in out and "lanes=256" not in out
    assert "team_min_ops=100000" in out and "levelwise_block inside" not in out
    out = _cli_plan(capsys)
    for target in ("jax", "keras", "c", "triton"):
        assert f"\n  {target:<10} runs " in out
    assert "overrides: c: min_steps=16, lanes not used; triton: lanes=8192, min_steps=256" in out


# ---- the rules, against brute-force definitions written here --------------------------------


def test_chunk_rule_is_the_largest_power_of_two_that_fits():
    """num_chunks is the largest power of two P with paths*P <= lanes and P*min_steps <= steps,
    1 when none fits (a batch of no paths counts as one path)."""
    from sigcodegen.plan import rules

    for lanes, min_steps in ((256, 64), (8192, 256), (1, 1), (100, 7), (3, 1000)):
        for steps in (*range(0, 70), 127, 128, 255, 256, 257, 511, 512, 999, 4096, 10**6):
            for paths in (1, 2, 3, 5, 31, 64, 100, 255, 256, 257, 1024, 9000):
                fits = [2**k for k in range(64)
                        if paths * 2**k <= lanes and 2**k * min_steps <= steps]
                want = max(fits, default=1)
                assert rules.num_chunks(steps, paths, lanes, min_steps) == want, (
                    steps, paths, lanes, min_steps)
            assert rules.num_chunks(steps, 0, lanes, min_steps) == rules.num_chunks(
                steps, 1, lanes, min_steps)


def test_block_rule_against_brute_force():
    """levelwise_block_steps: the most steps a block can hold within block_elements
    coefficients (paths*Tb*siglen), raised to min_steps, never past the path, at least 1."""
    from sigcodegen.plan import rules

    for siglen, elements, min_steps in ((14, 2**10, 4), (780, 2**22, 16), (6, 50, 1), (30, 7, 3)):
        for steps in (0, 1, 2, 3, 5, 17, 64, 100, 333):
            for paths in (1, 2, 7, 64, 1000):
                fitting = [tb for tb in range(1, steps + 1) if paths * tb * siglen <= elements]
                want = max(1, min(steps, max(min_steps, max(fitting, default=0))))
                got = rules.levelwise_block_steps(steps, paths, siglen, elements, min_steps)
                assert got == want, (steps, paths, siglen, elements, min_steps)


def test_rules_are_plain_python():
    """rules.py imports nothing, so its functions' source runs inside an emitted module."""
    import ast
    import inspect

    from sigcodegen.plan import rules

    tree = ast.parse(inspect.getsource(rules))
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_target_params_refuse_a_parameter_named_twice():
    """A parameter given twice would leave one value unused (dict() keeps the last)."""
    from sigcodegen.plan.ir import TargetParams

    with pytest.raises(AssertionError, match="named twice"):
        TargetParams("c", ("pde",), (("product_tile", 64), ("product_tile", 32)))
