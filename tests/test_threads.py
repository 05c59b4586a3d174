"""The c target's thread pool and thread policy: results do not depend on who runs the tasks,
a call never waits for a thread that has not started, and every way of setting the thread count
takes effect (SIGCODEGEN_NUM_THREADS, OMP_NUM_THREADS, CPU affinity, set_num_threads,
threadpoolctl)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import sigcodegen as sc
from reference import signature as reference_signature
from sigcodegen.runtime import threads
from sigcodegen.runtime.dispatch import load_native


def _path(batch, length, dim, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.standard_normal((batch, length, dim)), axis=1).astype(dtype) / np.sqrt(length)


def _run_child(code: str, env: dict | None = None, timeout: float = 120) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object last."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# the case matrix: every pass of the pool (forward final with time chunks, stream, backward
# reversible and checkpointed, the Chen join), at sizes with more tasks than threads
CASES = [
    ("final", (40, 60, 3, 4), {}),
    ("chunked", (3, 400, 2, 5), {}),       # few paths, long: time chunks + the Chen join
    ("stream", (20, 30, 3, 3), {"stream": True}),
]


@pytest.mark.parametrize("name,shape,kwargs", CASES, ids=[c[0] for c in CASES])
def test_same_results_for_1_2_and_7_threads(name, shape, kwargs):
    batch, length, dim, depth = shape
    x = _path(batch, length, dim, seed=1)
    want = reference_signature(x, depth, stream=kwargs.get("stream", False))
    outputs = {}
    for count in (1, 2, 7):
        with sc.num_threads(count):
            first = sc.signature(x, depth, **kwargs)
            again = sc.signature(x, depth, **kwargs)
            grad = sc.signature_vjp(x, np.ones_like(first), depth, **kwargs)
        assert np.array_equal(first, again), f"{count} threads: two calls differ"
        outputs[count] = (first, grad)
        scale = np.abs(want).max()
        assert np.abs(first - want).max() <= 1e-12 * scale
    for count in (2, 7):
        assert np.abs(outputs[count][0] - outputs[1][0]).max() <= 1e-12 * np.abs(want).max()
        assert np.abs(outputs[count][1] - outputs[1][1]).max() <= 1e-12 * np.abs(outputs[1][1]).max()


def test_backward_checkpointed_same_for_every_thread_count():
    x = _path(24, 80, 3, seed=2) * 40  # large: the reversal guard picks checkpoints
    module = load_native(3, 3, "numpy", "float64")
    y = module.forward(x)
    grads = []
    for count in (1, 2, 7):
        with sc.num_threads(count):
            grads.append(module.backward(x, y, np.ones_like(y), mode="checkpoint"))
    assert np.array_equal(grads[0], grads[1]) and np.array_equal(grads[0], grads[2])


def test_identical_with_a_competitor_process_running():
    x = _path(64, 100, 4, seed=3)
    quiet = sc.signature(x, 4)
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 60\n"
                             "while time.time() < end: pass"])
    try:
        loaded = [sc.signature(x, 4) for _ in range(20)]
    finally:
        busy.kill()
        busy.wait()
    assert all(np.array_equal(out, quiet) for out in loaded)


def test_eight_python_threads_at_once():
    inputs = [_path(16 + i, 50, 3, seed=10 + i) for i in range(8)]
    wants = [reference_signature(x, 4) for x in inputs]
    sc.signature(inputs[0], 4)  # load the library before the threads race
    results: dict[int, list] = {}
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        results[i] = [sc.signature(inputs[i], 4) for _ in range(25)]

    workers = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    assert len(results) == 8
    for i, outs in results.items():
        for out in outs:
            assert np.abs(out - wants[i]).max() <= 1e-12 * np.abs(wants[i]).max()


def test_a_worker_that_never_starts_does_not_block_a_call():
    """The test hook holds pool worker 1 at the top of its loop until released: a call must
    still finish (the caller claims every task), and give the right values. A pool that waited
    for its threads would hang here; the child's timeout turns that into a failure."""
    got = _run_child("""
        import json, time, numpy as np, sigcodegen as sc
        from sigcodegen.runtime.dispatch import load_native
        sc.set_num_threads(2)
        x = np.cumsum(np.random.default_rng(0).standard_normal((256, 200, 4)), axis=1) / 14
        module = load_native(4, 4, "numpy", "float64")
        lib = module.lib(64)
        first = module.forward(x)                 # starts worker 1
        started = lib.sigcodegen_pool_started()
        lib.sigcodegen_pool_debug_stall(1, 0)     # hold worker 1 when it next wakes
        outs = [module.forward(x) for _ in range(5)]
        lib.sigcodegen_pool_debug_stall(1, 1)     # release it
        after = module.forward(x)
        print(json.dumps({"started": started, "same": all(bool(np.array_equal(o, first))
                                                          for o in outs + [after])}))
    """, timeout=120)
    assert got["started"] == 1 and got["same"]


def test_a_preempted_worker_makes_the_caller_run_alone_for_a_while():
    """The test hook holds pool worker 1 inside the task it claims, as a preemption would, and a
    Python thread releases it 30 ms later: after POOL_STRIKES such waits in a row the caller
    runs its passes alone for a while (the hold stays armed, released only after a second, and
    the next call finishes at once, on the caller: with the team it would wait for that
    release), with the same values; ending the backoff brings the team back."""
    got = _run_child("""
        import ctypes, json, threading, time, numpy as np, sigcodegen as sc
        from sigcodegen.runtime.dispatch import load_native
        sc.set_num_threads(2)
        x = np.cumsum(np.random.default_rng(0).standard_normal((256, 2000, 4)), axis=1) / 45
        module = load_native(4, 4, "numpy", "float64")  # ~10 ms a call: worker 1 wakes in it
        lib = module.lib(64)
        lib.sigcodegen_pool_straggles.restype = ctypes.c_int64
        first = module.forward(x)
        def held_call():
            lib.sigcodegen_pool_debug_hold(1, 0)
            release = threading.Timer(0.03, lib.sigcodegen_pool_debug_hold, (1, 1))
            release.start()
            t = time.perf_counter()
            out = module.forward(x)
            release.join()
            return out, time.perf_counter() - t
        runs = [held_call() for _ in range(2)]  # two strikes
        backoffs = lib.sigcodegen_pool_straggles(0)
        lib.sigcodegen_pool_debug_hold(1, 0)    # armed, released only after a second
        late = threading.Timer(1.0, lib.sigcodegen_pool_debug_hold, (1, 1))
        late.start()
        t = time.perf_counter()
        alone = [module.forward(x)]             # one call: the first backoff lasts a few ms
        alone_s = time.perf_counter() - t
        late.join()
        lib.sigcodegen_pool_debug_hold(0, 1)
        lib.sigcodegen_pool_straggles(1)        # end the backoff: the team runs again
        again, again_s = held_call()
        print(json.dumps({"held": [s for _, s in runs], "backoffs": backoffs,
                          "alone_s": alone_s, "again_s": again_s,
                          "same": all(bool(np.array_equal(o, first))
                                      for o in [r for r, _ in runs] + alone + [again])}))
    """, timeout=120)
    assert got["same"]
    assert min(got["held"]) >= 0.02 and got["again_s"] >= 0.02  # the team waited for worker 1
    assert got["backoffs"] == 1 and got["alone_s"] < 0.5


def test_threads_on_one_cpu_yield_instead_of_spinning():
    """Two threads (set_num_threads(2)) on one CPU (affinity): a thread that waits for another
    of the pool's on its own CPU yields to it instead of spinning (sigcodegen_pool_counter
    counts), and the values are those of one thread."""
    got = _run_child("""
        import ctypes, json, os, numpy as np, sigcodegen as sc
        from sigcodegen.runtime.dispatch import load_native
        os.sched_setaffinity(0, {0})
        x = np.cumsum(np.random.default_rng(0).standard_normal((64, 300, 4)), axis=1) / 17
        module = load_native(4, 4, "numpy", "float64")
        with sc.num_threads(1):
            alone = module.forward(x)
        sc.set_num_threads(2)
        lib = module.lib(64)
        lib.sigcodegen_pool_counter.restype = ctypes.c_int64
        before = lib.sigcodegen_pool_counter(0)
        outs = [module.forward(x) for _ in range(50)]
        print(json.dumps({"started": lib.sigcodegen_pool_started(),
                          "yields": lib.sigcodegen_pool_counter(0) - before,
                          "close": all(bool(np.abs(o - alone).max() <= 1e-12) for o in outs)}))
    """, timeout=120)
    assert got["started"] == 1 and got["close"]
    assert got["yields"] > 0


def _thread_report(prelude: str = "") -> str:
    return textwrap.dedent(prelude) + textwrap.dedent("""
        import json, numpy as np, sigcodegen as sc
        from sigcodegen.runtime.dispatch import load_native
        x = np.random.default_rng(0).standard_normal((512, 100, 4))
        module = load_native(4, 3, "numpy", "float64")
        module.forward(x)
        lib = module.lib(64)
        print(json.dumps({"policy": sc.get_num_threads(), "lib": lib.sigcodegen_pool_get_threads(),
                          "started": lib.sigcodegen_pool_started()}))
    """)


@pytest.mark.parametrize("env,want", [
    ({"SIGCODEGEN_NUM_THREADS": "1"}, 1),
    ({"SIGCODEGEN_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}, 3),
    ({"OMP_NUM_THREADS": "1,2"}, 1),
], ids=["sigcodegen-1", "sigcodegen-over-omp", "omp-list"])
def test_environment_sets_the_thread_count(env, want):
    clean = {k: v for k, v in os.environ.items() if k not in ("SIGCODEGEN_NUM_THREADS",
                                                              "OMP_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", _thread_report()],
                            env={**clean, **env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["policy"] == want and got["lib"] == want
    assert got["started"] <= want - 1  # never more pool threads than the setting allows


def test_affinity_limits_the_default():
    clean = {k: v for k, v in os.environ.items() if k not in ("SIGCODEGEN_NUM_THREADS",
                                                              "OMP_NUM_THREADS")}
    code = _thread_report("import os\nos.sched_setaffinity(0, {0})\n")
    result = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got == {"policy": 1, "lib": 1, "started": 0}


def test_set_num_threads_and_threadpoolctl_take_effect():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    x = _path(64, 40, 3)
    module = load_native(3, 4, "numpy", "float64")
    module.forward(x)
    lib = module.lib(64)
    before = sc.get_num_threads()
    previous = sc.set_num_threads(3)
    try:
        assert previous == before and sc.get_num_threads() == 3
        assert lib.sigcodegen_pool_get_threads() == 3
        with sc.num_threads(1):
            assert lib.sigcodegen_pool_get_threads() == 1
        assert lib.sigcodegen_pool_get_threads() == 3
        mine = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "sigcodegen"]
        assert mine and all(i["num_threads"] == 3 for i in mine)
        with threadpoolctl.threadpool_limits(1, user_api="sigcodegen"):
            assert lib.sigcodegen_pool_get_threads() == 1
            assert np.array_equal(module.forward(x), module.forward(x))
        assert lib.sigcodegen_pool_get_threads() == 3
    finally:
        sc.set_num_threads(None)
    assert sc.get_num_threads() == threads.default_threads()
    with pytest.raises(ValueError, match="positive integer"):
        sc.set_num_threads(0)


def test_bad_environment_value_is_refused(monkeypatch):
    monkeypatch.setenv("SIGCODEGEN_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="SIGCODEGEN_NUM_THREADS='many'"):
        threads.default_threads()


def testcgroup_quota_is_read(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads.cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_quota(tmp_path) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert threads.cgroup_quota(v1) == 0.5


def test_a_forked_child_computes_with_a_new_pool():
    got = _run_child("""
        import json, os, numpy as np, sigcodegen as sc
        sc.set_num_threads(2)
        x = np.random.default_rng(0).standard_normal((256, 60, 3))
        parent = sc.signature(x, 4)                 # the pool runs in the parent
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            ok = bool(np.array_equal(sc.signature(x, 4), parent))
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
        os.waitpid(pid, 0)
        print(json.dumps({"child_ok": os.read(read, 1) == b"1"}))
    """, timeout=120)
    assert got["child_ok"]
