"""The machine's float32 FMA peak, measured: 12 independent chains of vector fused multiply-adds
at the widest vector width the compiler targets (``-march=native``), on one thread and on every
usable CPU at once. This is the physical limit the kernels' GFLOP/s are compared with.

    python bench/fma_peak.py
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import tempfile
import time
from pathlib import Path

SOURCE = r"""
#include <pthread.h>
#include <stdint.h>
#ifndef VB
#define VB 32
#endif
typedef float vec __attribute__((vector_size(VB)));
#define CHAINS 12

static double chains(int64_t iters)
{
    vec a[CHAINS], b, c;
    for (int k = 0; k < VB / 4; ++k) { b[k] = 0.999999f; c[k] = 1e-7f; }
    for (int j = 0; j < CHAINS; ++j) a[j] = b * (float)(j + 1);
    for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
        for (int j = 0; j < CHAINS; ++j) a[j] = a[j] * b + c;
        __asm__ volatile("" : "+x"(b));  /* keep the loop from being folded */
    }
    double s = 0;
    for (int j = 0; j < CHAINS; ++j) for (int k = 0; k < VB / 4; ++k) s += a[j][k];
    return s;
}

int lanes(void) { return VB / 4; }
int flops_per_iter(void) { return 2 * CHAINS * VB / 4; }

typedef struct { int64_t iters; double out; } job_t;
static void *worker(void *p) { job_t *j = p; j->out = chains(j->iters); return 0; }

/* run `threads` copies at once; returns the sum (so nothing is optimised away) */
double run(int64_t iters, int threads)
{
    pthread_t t[64];
    job_t jobs[64];
    if (threads > 64) threads = 64;
    for (int i = 1; i < threads; ++i) { jobs[i].iters = iters; pthread_create(&t[i], 0, worker, &jobs[i]); }
    jobs[0].iters = iters;
    worker(&jobs[0]);
    double s = jobs[0].out;
    for (int i = 1; i < threads; ++i) { pthread_join(t[i], 0); s += jobs[i].out; }
    return s;
}
"""


def _vector_bytes(compiler: str) -> int:
    macros = subprocess.run([compiler, "-march=native", "-dM", "-E", "-x", "c", "-"], input="",
                            capture_output=True, text=True).stdout
    return 64 if "__AVX512F__" in macros else 32 if "__AVX__" in macros else 16


def measure(threads: int | None = None, seconds: float = 0.3) -> dict:
    """GFLOP/s of the FMA chains on one thread and on ``threads`` threads (default: the CPUs
    this process may use)."""
    compiler = os.environ.get("SIGCODEGEN_CC") or "cc"
    threads = threads or len(os.sched_getaffinity(0))
    vb = _vector_bytes(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = Path(tmp) / "peak.c", Path(tmp) / "peak.so"
        src.write_text(SOURCE)
        subprocess.run([compiler, "-O2", "-march=native", "-pthread", "-shared", "-fPIC",
                        f"-DVB={vb}", "-o", str(lib), str(src)], check=True)
        dll = ctypes.CDLL(str(lib))
        dll.run.restype = ctypes.c_double
        dll.run.argtypes = [ctypes.c_int64, ctypes.c_int]
        per_iter = dll.flops_per_iter()

        def rate(n_threads: int) -> float:
            iters = 1 << 20
            while True:
                start = time.perf_counter()
                dll.run(iters, n_threads)
                elapsed = time.perf_counter() - start
                if elapsed > seconds / 4:
                    break
                iters *= 2
            best = min(_timed(dll, iters, n_threads) for _ in range(3))
            return per_iter * iters * n_threads / best / 1e9

        one = rate(1)
        every = rate(threads) if threads > 1 else one
    return {"vector_bytes": vb, "one_thread_gflops": one, "threads": threads,
            "all_threads_gflops": every}


def _timed(dll, iters: int, threads: int) -> float:
    start = time.perf_counter()
    dll.run(iters, threads)
    return time.perf_counter() - start


if __name__ == "__main__":
    got = measure()
    print(f"float32 FMA peak ({8 * got['vector_bytes']}-bit vectors, 12 chains): "
          f"{got['one_thread_gflops']:.1f} GFLOP/s on one thread, "
          f"{got['all_threads_gflops']:.1f} on {got['threads']} threads")
