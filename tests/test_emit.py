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
from sigcodegen.build.loader import build, render
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
    leaves or the log2(P) chunk tree."""
    source, _ = render(KernelSpec(dim=3, depth=3, target=target))
    body = source[:source.index("def _reference")]  # the self-check's reference is plain numpy
    lines = [line.strip() for line in re.findall(r"^\s*(?:for|while) .*$", body, flags=re.M)]
    allowed = ("while p > 1:", "while 2 * p", "while shift < x.shape[1]:",
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
