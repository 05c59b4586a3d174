"""What the emitters write: provenance, straight-line per-degree code, no loop over time,
StrictUndefined templates, and a standalone self-check."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import jinja2
import pytest

from sigcodegen.emit import Provenance, emitter_for
from sigcodegen.jit.loader import build, render
from sigcodegen.plan import make_plan
from sigcodegen.spec import TARGETS, KernelSpec


PYTHON_TARGETS = ("jax", "keras")


@pytest.mark.parametrize("target", TARGETS)
def test_provenance_header(target):
    spec = KernelSpec(dim=3, depth=4, target=target)
    source, meta = render(spec)
    header = source[:source.index("*/")] if target == "c" else source.split('"""')[1]
    assert f"key        {meta['key']}" in header
    assert "dim=3 depth=4" in header and f"target={target}" in header
    assert "siglen 120 (3 + 9 + 27 + 81)" in header
    assert f"sigcodegen build --dim 3 --depth 4 --target {target}" in header


@pytest.mark.parametrize("target", PYTHON_TARGETS)
def test_straight_line_per_degree_code(target):
    source, _ = render(KernelSpec(dim=2, depth=4, target=target))
    exp_step = source[source.index("def exp_step"):source.index("def chen")]
    # every degree's Horner chain is written out, no loops
    assert "a4 = a4 + _outer(t3, dx)" in exp_step
    assert "t3 = a3 + _outer(t2, dx2)" in exp_step
    assert "for " not in exp_step and "while " not in exp_step
    for n in range(2, 5):
        assert f"# degree {n}: Horner chain" in exp_step


def test_c_routines_have_constant_bounds_only():
    source, _ = render(KernelSpec(dim=5, depth=4, target="c"))
    for name in ("exp_step_f32v", "exp_step_vjp_f64v", "chen_f32s"):
        body = source[source.index(f"static void {name}("):]
        body = body[:body.index("\n}\n")]
        loops = re.findall(r"for \((.*?)\)", body)
        assert loops and all(re.fullmatch(r"int (\w+) = 0; \1 < \d+; \+\+\1", loop) for loop in loops), loops
    exp_step = source[source.index("static void exp_step_f32v("):]
    for n in range(2, 5):
        assert f"/* degree {n}: Horner chain" in exp_step
    assert "a4[p * 5 + j] = a4[p * 5 + j] + l * dx[j];" in exp_step


@pytest.mark.parametrize("target", PYTHON_TARGETS)
def test_no_python_loop_over_time(target):
    """Time is walked by scan / cumsum only; the only Python loops are over levels, structure
    leaves, the log2(P) chunk tree or the octaves of the bucket rule."""
    source, _ = render(KernelSpec(dim=3, depth=3, target=target))
    body = source[:source.index("def _reference")]  # the self-check's reference is plain numpy
    lines = [line.strip() for line in re.findall(r"^\s*(?:for|while) .*$", body, flags=re.M)]
    allowed = ("while p > 1:", "while 2 * p", "while 2 * base < n:", "while shift < x.shape[1]:",
               "for r, y in zip(rows, tree.flatten(ys))]")
    assert all(line.startswith(allowed) for line in lines), lines
    assert "scan(" in body


def test_templates_are_strict():
    emitter = emitter_for("jax")
    plan = make_plan(KernelSpec(dim=2, depth=2))
    with pytest.raises(jinja2.UndefinedError):
        emitter.env.get_template(emitter.template_name).render(plan=plan)
    prov = Provenance("0" * 64, "0", "0" * 64, (("dim", 2),))
    assert emitter.render(plan, prov).startswith('"""sigcodegen kernel module')


@pytest.mark.parametrize("target,backend", [("jax", None), ("keras", "torch")])
def test_emitted_module_self_check_runs_standalone(target, backend):
    path, _ = build(KernelSpec(dim=3, depth=3, target=target))
    env = {**os.environ, **({"KERAS_BACKEND": backend} if backend else {})}
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: dim=3 depth=3" in result.stdout


# ---- the rules are written once (plan/rules.py) and every constant comes from the plan ------

RULE_TARGETS = ("jax", "keras", "triton")


def _module_parts(source):
    """(top-level functions by name -> source, top-level UPPER_CASE literal constants)."""
    import ast

    tree = ast.parse(source)
    functions, constants = {}, {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            assert node.name not in functions, f"two definitions of {node.name}"
            functions[node.name] = ast.get_source_segment(source, node)
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper()):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return functions, constants


@pytest.mark.parametrize("dim,depth", [(2, 3), (5, 4)])
@pytest.mark.parametrize("target", RULE_TARGETS)
def test_emitted_chunk_rule_is_the_plan_rule(target, dim, depth):
    """The module's num_chunks is rules.num_chunks verbatim, its constants are the plan's
    parameters for the target, and on a grid of (steps, paths) the module's rule with them gives
    what the plan's rule gives; the module holds no second copy of the rule."""
    import inspect

    from sigcodegen.plan import num_chunks, rules

    plan = make_plan(KernelSpec(dim=dim, depth=depth))
    source, _ = render(KernelSpec(dim=dim, depth=depth, target=target))
    functions, constants = _module_parts(source)
    assert functions["num_chunks"] == inspect.getsource(rules.num_chunks).rstrip()
    assert "# copied from sigcodegen/plan/rules.py" in source
    schedule = plan.schedule("chunked")
    params = dict(schedule.params_for(target))
    assert constants["CHUNKED_LANES"] == params["lanes"]
    assert constants["CHUNKED_MIN_STEPS"] == params["min_steps"]
    assert constants["STRATEGIES"] == plan.target_params(target).strategies
    namespace = {}
    exec(functions["num_chunks"], namespace)
    emitted = namespace["num_chunks"]
    for steps in (0, 1, 63, 64, 127, 128, 255, 256, 511, 512, 999, 2047, 4096, 10**5, 10**6):
        for paths in (0, 1, 2, 3, 16, 31, 32, 64, 100, 128, 256, 1000, 8192, 10**5):
            want = num_chunks(schedule, steps, paths, target)
            assert want == rules.num_chunks(steps, paths, params["lanes"], params["min_steps"])
            assert emitted(steps, paths, constants["CHUNKED_LANES"],
                           constants["CHUNKED_MIN_STEPS"]) == want, (steps, paths)
    # one copy of the rule, and the drivers call it with the plan's constants
    assert source.count("2 * p * max(paths, 1)") == 1
    assert source.count("def num_chunks(") == 1
    calls = re.findall(r"(?<!def )num_chunks\(([^)]*)\)", source)
    assert calls and all(c.endswith("CHUNKED_LANES, CHUNKED_MIN_STEPS") for c in calls), calls
    if target == "triton":
        assert constants["REVERSAL_TOLERANCE"] == plan.target_params(target).param(
            "reversal_tolerance")


@pytest.mark.parametrize("target", ("jax", "keras"))
def test_emitted_block_rule_is_the_plan_rule(target):
    import inspect

    from sigcodegen.plan import rules

    plan = make_plan(KernelSpec(dim=5, depth=4))
    source, _ = render(KernelSpec(dim=5, depth=4, target=target))
    functions, constants = _module_parts(source)
    assert functions["levelwise_block_steps"] == inspect.getsource(
        rules.levelwise_block_steps).rstrip()
    params = dict(plan.schedule("levelwise").params_for(target))
    assert constants["LEVELWISE_BLOCK_ELEMENTS"] == params["block_elements"]
    assert constants["LEVELWISE_MIN_STEPS"] == params["min_steps"]
    assert source.count("// max(1, paths * siglen)") == 1
    calls = re.findall(r"(?<!def )levelwise_block_steps\(([^)]*)\)", source)
    assert calls and all(c.endswith("SIGLEN, LEVELWISE_BLOCK_ELEMENTS, LEVELWISE_MIN_STEPS")
                         for c in calls), calls


def _changed_plan(plan):
    """The plan with every constant that decides what runs set to another value."""
    import dataclasses

    chunked = plan.schedule("chunked")
    chunked = dataclasses.replace(
        chunked, params=(("lanes", 1234), ("min_steps", 77)),
        overrides=(("c", (("lanes", None), ("min_steps", 5))),
                   ("triton", (("lanes", 4321), ("min_steps", 99)))))
    levelwise = dataclasses.replace(plan.schedule("levelwise"),
                                    params=(("block_elements", 5555), ("min_steps", 3)))
    schedules = tuple({"chunked": chunked, "levelwise": levelwise}.get(s.strategy, s)
                      for s in plan.schedules)
    new = {"reversal_tolerance": 3e-05, "team_min_ops": 777, "pool_spin_ns": 321,
           "pool_straggle_ns": 4321, "pool_strikes": 5, "pool_backoff_ns": 654321,
           "pool_backoff_min_ns": 54321, "top_tile_rows": 2, "top_tile_rows_avx512": 4, "subtree_depth": 0, "pin_increments": True,
           "register_budget": 10**6,
           "lanes_per_program": 256, "max_lane_block": 1024, "optimize": "O1",
           "bucket_min_steps": 40, "bucket_min_paths": 6, "bucket_steps_per_octave": 4,
           "bucket_paths_per_octave": 3, "lane_max_bytes": 12345}
    targets = tuple(dataclasses.replace(t, params=tuple((k, new[k]) for k, _ in t.params))
                    for t in plan.targets)
    return dataclasses.replace(plan, schedules=schedules, targets=targets)


@pytest.mark.parametrize("target", TARGETS)
def test_constants_come_from_the_plan(target):
    """Render a plan whose constants all differ from the defaults: the module follows it, so no
    template or emitter keeps its own copy of them."""
    plan = _changed_plan(make_plan(KernelSpec(dim=5, depth=4)))
    prov = Provenance("0" * 64, "0", "0" * 64, (("dim", 5),))
    source = emitter_for(target).render(plan, prov)
    if target == "c":
        for line in ("#define CHUNK_MIN_STEPS 5", "#define REVERSAL_TOLERANCE 3e-05",
                     "#define TEAM_MIN_OPS 777", "#define POOL_SPIN_NS 321",
                     "#define POOL_STRAGGLE_NS 4321", "#define POOL_STRIKES 5",
                     "#define POOL_BACKOFF_NS 654321", "#define POOL_BACKOFF_MIN_NS 54321",
                     "#define LANE_MAX_BYTES 12345",
                     # the top pass's tiles (rules.top_tiles): 5 letters in 2 + 2 + 1, 3 + 2
                     "letters 4..4 */", "letters 0..2 */", "IN_REGISTER(x0); IN_REGISTER(x1);",
                     '#pragma GCC optimize("O1")'):
            assert line in source
        assert "1e-4" not in source and "1e5" not in source
        return
    _, constants = _module_parts(source)
    lanes, min_steps = (4321, 99) if target == "triton" else (1234, 77)
    assert (constants["CHUNKED_LANES"], constants["CHUNKED_MIN_STEPS"]) == (lanes, min_steps)
    if target != "triton":
        assert constants["LEVELWISE_BLOCK_ELEMENTS"] == 5555
        assert constants["LEVELWISE_MIN_STEPS"] == 3
    if target != "keras":
        assert constants["REVERSAL_TOLERANCE"] == 3e-05
    if target != "triton":
        assert (constants["BUCKET_MIN_STEPS"], constants["BUCKET_MIN_PATHS"],
                constants["BUCKET_STEPS_PER_OCTAVE"],
                constants["BUCKET_PATHS_PER_OCTAVE"]) == (40, 6, 4, 3)
    assert "1e-4" not in source and "8192" not in source
    if target == "triton":  # the register budget sets the prefix, lanes per program BP
        assert (constants["PREFIX"], constants["BP"]) == (0, 256)


def test_emitters_of_python_modules_share_a_base():
    from sigcodegen.emit.jax import JaxEmitter
    from sigcodegen.emit.keras import KerasEmitter
    from sigcodegen.emit.python import PythonEmitter
    from sigcodegen.emit.triton import TritonEmitter

    assert all(issubclass(e, PythonEmitter) for e in (JaxEmitter, KerasEmitter, TritonEmitter))


@pytest.mark.parametrize("target", ("jax", "keras"))
def test_emitted_bucket_rule_is_the_plan_rule(target):
    """The jit targets' modules hold rules.bucket verbatim, once, with the plan's constants."""
    import inspect

    from sigcodegen.plan import rules

    plan = make_plan(KernelSpec(dim=2, depth=3))
    source, _ = render(KernelSpec(dim=2, depth=3, target=target))
    functions, constants = _module_parts(source)
    assert functions["bucket"] == inspect.getsource(rules.bucket).rstrip()
    assert source.count("def bucket(") == 1
    params = plan.target_params(target)
    for name in ("bucket_min_steps", "bucket_min_paths", "bucket_steps_per_octave",
                 "bucket_paths_per_octave"):
        assert constants[name.upper()] == params.param(name)
    namespace = {}
    exec(functions["bucket"], namespace)
    for n in range(1, 600):
        assert namespace["bucket"](n, constants["BUCKET_MIN_STEPS"],
                                   constants["BUCKET_STEPS_PER_OCTAVE"]) == rules.bucket(
            n, params.param("bucket_min_steps"), params.param("bucket_steps_per_octave"))
        assert namespace["bucket"](n, constants["BUCKET_MIN_PATHS"],
                                   constants["BUCKET_PATHS_PER_OCTAVE"]) == rules.bucket(
            n, params.param("bucket_min_paths"), params.param("bucket_paths_per_octave"))
