"""The wheel ships the templates and the prebuilt kernels, and the installed package works from
outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_builds_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(ROOT)], check=True, timeout=600)
    (wheel,) = wheels.glob("sigcodegen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "sigcodegen/templates/jax/module.py.j2" in names
    assert "sigcodegen/templates/keras/module.py.j2" in names
    assert "sigcodegen/templates/common/header.j2" in names
    assert any(n.startswith("sigcodegen/generated/sig_d5_m4_jax_") for n in names)

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True, timeout=600)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "SIGCODEGEN_CACHE_DIR": str(tmp_path / "cache")}
    where = subprocess.run(
        [sys.executable, "-c", "import sigcodegen.resources as r; print(r.templates_dir())"],
        cwd=outside, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(site)

    script = site / "bin" / "sigcodegen"
    built = subprocess.run([sys.executable, str(script), "build", "--dim", "3", "--depth", "3"],
                           cwd=outside, env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    for line in built.stdout.splitlines():
        assert Path(line.split()[-1]).is_file()
    check = subprocess.run(
        [sys.executable, "-c",
         "import numpy as np, sigcodegen as sc; print(sc.signature(np.ones((2, 4, 3)), 3).shape)"],
        cwd=outside, env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "(2, 39)"
