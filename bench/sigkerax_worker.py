"""Times sigkerax's ``SigKernel.kernel_matrix`` for bench/sigkernel.py, in the interpreter that
has sigkerax (it pins jax < 0.5, so it lives in a virtual environment of its own). Reads the
cases from an .npz file (arrays ``x_<name>``, ``y_<name>``), prints one JSON object:
{name: {"ms": median ms, "value": kernel_matrix[0, 0]}}.

    python bench/sigkerax_worker.py CASES.npz REPEAT
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import jax
import numpy as np
from sigkerax.sigkernel import SigKernel


def main() -> int:
    cases = np.load(sys.argv[1])
    repeat = int(sys.argv[2])
    names = sorted({key.split("_", 1)[1] for key in cases.files})
    kernel = SigKernel(static_kernel_kind="linear", refinement_factor=1.0)
    result = {}
    for name in names:
        x, y = jax.device_put(cases[f"x_{name}"]), jax.device_put(cases[f"y_{name}"])
        value = kernel.kernel_matrix(x, y).block_until_ready()  # compiles
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            kernel.kernel_matrix(x, y).block_until_ready()
            times.append(time.perf_counter() - start)
        result[name] = {"ms": statistics.median(times) * 1e3,
                        "value": float(np.asarray(value).reshape(-1)[0])}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
