"""The command line, run as a user would (`python -m sigcodegen`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sigcodegen", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_build_show_plan_cache(tmp_path):
    env = {"SIGCODEGEN_CACHE_DIR": str(tmp_path / "c"), "SIGCODEGEN_PREBUILT": "0"}
    built = run("build", "--dim", "5", "--depth", "4", env=env)
    assert built.returncode == 0, built.stderr
    paths = [Path(line.split()[-1]) for line in built.stdout.splitlines()]
    assert [p.name.split("_")[3].split("-")[0] for p in paths] == ["jax", "keras", "c", "c", "triton"]
    assert [p.suffix for p in paths] == [".py", ".py", ".so", ".so", ".py"]
    assert paths[2].stem.endswith("-f32") and paths[3].stem.endswith("-f64")
    assert all(p.is_file() and p.parent == tmp_path / "c" for p in paths)

    shown = run("show", "--dim", "5", "--depth", "4", "--target", "jax", env=env)
    assert shown.returncode == 0 and shown.stdout == paths[0].read_text()

    plan = run("plan", "--dim", "5", "--depth", "4", "--batch", "128", "--length", "100")
    assert plan.returncode == 0
    assert "a4 = a4 + t3 ⊗ dx" in plan.stdout and "MFLOP" in plan.stdout

    assert run("cache", "path", env=env).stdout.strip() == str(tmp_path / "c")
    listed = run("cache", "list", env=env)
    assert "6 entries" in listed.stdout and "sig_d5_m4_jax_" in listed.stdout
    assert "c library" in listed.stdout
    c_source = run("show", "--dim", "5", "--depth", "4", "--target", "c", env=env)
    assert "int sigcodegen_forward_f32" in c_source.stdout and c_source.stderr == ""
    cleared = run("cache", "clear", env=env)
    assert cleared.returncode == 0 and not any(p.exists() for p in paths)


def test_build_into_folder(tmp_path):
    out = run("build", "--dim", "2", "--depth", "2", "--target", "keras", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert len(list(tmp_path.glob("sig_d2_m2_keras_*.py"))) == 1
    assert len(list(tmp_path.glob("sig_d2_m2_keras_*.json"))) == 1


@pytest.mark.parametrize(
    "args,message",
    [
        ((), "a command is required"),
        (("build", "--dim", "x", "--depth", "2"), "expected an integer"),
        (("build", "--dim", "0", "--depth", "2"), "dim must be >= 1"),
        (("build", "--dim", "2", "--depth", "-1"), "depth must be >= 1"),
        (("build", "--dim", "2", "--depth", "40"), "coefficients per path"),
        (("build", "--depth", "3"), "--dim and --depth are required"),
        (("show", "--dim", "2", "--depth", "2", "--target", "cuda"), "unknown target 'cuda'"),
        (("plan", "--dim", "2", "--depth", "2", "--target", "cuda"), "invalid choice"),
        (("plan", "--dim", "3"), "required: --depth"),
        (("plan", "--dim", "3", "--depth", "2", "--batch", "4"), "--batch and --length together"),
        (("cache", "wipe"), "invalid choice"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
