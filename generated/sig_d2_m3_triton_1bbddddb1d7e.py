"""sigcodegen kernel module: signature, dim 2, depth 3, target triton.

Generated code: do not edit. Rebuild with `sigcodegen build --dim 2 --depth 3 --target triton`;
print with `sigcodegen show --dim 2 --depth 3 --target triton`; explain with
`sigcodegen plan --dim 2 --depth 3 --target triton`. Run this file on its own for a self-check.

    spec       kind=signature dim=2 depth=3 target=triton (every strategy, stream mode and float dtype)
    key        1bbddddb1d7e00aad58de3dd417f4e2139d40cfceecb3d1b221544c479465553
    generator  sigcodegen 0.1.0, generator sources 492bb6fde9a3f326
    plan       siglen 14 (2 + 4 + 8); multiply-adds per path: exp_step 26, chen 34, levelwise_block
               38, exp_step_vjp 58, exp_steps 78, log_series 46, exp_series 46, exp_step_lower 10,
               exp_steps_wide 156

triton lanes: dim=2, depth=3
  prefix length p = 0: each path spreads over 1 lane(s), one per 0-letter word prefix,
  padded to PP = 1; 128 path(s) x 1 = 128 lanes per program
  registers per lane (tile values named per step, elements): forward 20, backward 34
  multiply-adds per path per time step: forward 26 (the plan's exp_step: 26; the rest recomputes levels <= p on every lane that shares them), backward 68
  FLOPs per path per time step: forward 52, backward 136
"""

import torch
import triton
import triton.language as tl

DIM = 2
DEPTH = 3
LEVEL_SIZES = (2, 4, 8)
SIGLEN = 14
STRATEGIES = ("horner", "chunked")
#: Lane layout: words split by their first PREFIX letters, LANES of them per path, padded to PP.
PREFIX = 0
LANES = 1
PP = 1
BP = 128
#: Chunked strategy: enough chunks that CHUNKED_LANES paths x chunks fill the GPU, each chunk at
#: least CHUNKED_MIN_STEPS increments long (the Chen tree that joins them is a few dozen small
#: torch ops per round, so short paths run as one chunk). The strategies' parameters for this
#: target, from the plan (`sigcodegen plan --dim 2 --depth 3 --target triton`):
CHUNKED_LANES = 8192
CHUNKED_MIN_STEPS = 256


@triton.jit
def sig_forward(x_ptr, out_ptr, n_paths, n_points, sx_b, sx_t, so_b, so_t,
                STREAM: tl.constexpr, BP: tl.constexpr):
    """Signature of BP paths (levels 1..DEPTH, each lane its prefix's words): one Horner step
    per increment; with STREAM every step's state is written (row t-1 for step t)."""
    DTYPE = x_ptr.dtype.element_ty
    pid = tl.program_id(0)
    path = pid * BP + tl.arange(0, BP)[:, None]  # (BP, 1)
    lane = tl.arange(0, 1)[None, :]  # (1, PP): the word prefix q
    path_ok = path < n_paths
    ok = path_ok & (lane < 1)
    F_1_3 = tl.full((1, 1), 1 / 3, DTYPE)
    F_1_2 = tl.full((1, 1), 1 / 2, DTYPE)
    xb = x_ptr + path.to(tl.int64) * sx_b
    ob = out_ptr + path.to(tl.int64) * so_b
    prev_c0 = tl.load(xb + 0, mask=path_ok, other=0.0)
    prev_c1 = tl.load(xb + 1, mask=path_ok, other=0.0)
    a1_0 = tl.zeros((BP, 1), DTYPE)
    a1_1 = tl.zeros((BP, 1), DTYPE)
    a2_0 = tl.zeros((BP, 1), DTYPE)
    a2_1 = tl.zeros((BP, 1), DTYPE)
    a2_2 = tl.zeros((BP, 1), DTYPE)
    a2_3 = tl.zeros((BP, 1), DTYPE)
    a3_0 = tl.zeros((BP, 1), DTYPE)
    a3_1 = tl.zeros((BP, 1), DTYPE)
    a3_2 = tl.zeros((BP, 1), DTYPE)
    a3_3 = tl.zeros((BP, 1), DTYPE)
    a3_4 = tl.zeros((BP, 1), DTYPE)
    a3_5 = tl.zeros((BP, 1), DTYPE)
    a3_6 = tl.zeros((BP, 1), DTYPE)
    a3_7 = tl.zeros((BP, 1), DTYPE)
    for t in range(1, n_points):
        xt = xb + t * sx_t
        cur_c0 = tl.load(xt + 0, mask=path_ok, other=0.0)
        dx_c0 = cur_c0 - prev_c0
        prev_c0 = cur_c0
        cur_c1 = tl.load(xt + 1, mask=path_ok, other=0.0)
        dx_c1 = cur_c1 - prev_c1
        prev_c1 = cur_c1
        # scaled increments dx/k
        dx2_c0 = dx_c0 * F_1_2
        dx2_c1 = dx_c1 * F_1_2
        dx3_c0 = dx_c0 * F_1_3
        dx3_c1 = dx_c1 * F_1_3
        # degree 3: Horner chain on the old levels 1..2
        t1_0 = a1_0 + dx3_c0
        t1_1 = a1_1 + dx3_c1
        t2_0 = a2_0 + t1_0 * dx2_c0
        t2_1 = a2_1 + t1_0 * dx2_c1
        t2_2 = a2_2 + t1_1 * dx2_c0
        t2_3 = a2_3 + t1_1 * dx2_c1
        a3_0 = a3_0 + t2_0 * dx_c0
        a3_1 = a3_1 + t2_0 * dx_c1
        a3_2 = a3_2 + t2_1 * dx_c0
        a3_3 = a3_3 + t2_1 * dx_c1
        a3_4 = a3_4 + t2_2 * dx_c0
        a3_5 = a3_5 + t2_2 * dx_c1
        a3_6 = a3_6 + t2_3 * dx_c0
        a3_7 = a3_7 + t2_3 * dx_c1
        # degree 2: Horner chain on the old levels 1..1
        t1_0 = a1_0 + dx2_c0
        t1_1 = a1_1 + dx2_c1
        a2_0 = a2_0 + t1_0 * dx_c0
        a2_1 = a2_1 + t1_0 * dx_c1
        a2_2 = a2_2 + t1_1 * dx_c0
        a2_3 = a2_3 + t1_1 * dx_c1
        # degree 1
        a1_0 = a1_0 + dx_c0
        a1_1 = a1_1 + dx_c1
        if STREAM:
            row = (t - 1) * so_t
            tl.store(ob + row + (0 + lane * 2 + 0), a1_0, mask=ok)
            tl.store(ob + row + (0 + lane * 2 + 1), a1_1, mask=ok)
            tl.store(ob + row + (2 + lane * 4 + 0), a2_0, mask=ok)
            tl.store(ob + row + (2 + lane * 4 + 1), a2_1, mask=ok)
            tl.store(ob + row + (2 + lane * 4 + 2), a2_2, mask=ok)
            tl.store(ob + row + (2 + lane * 4 + 3), a2_3, mask=ok)
            tl.store(ob + row + (6 + lane * 8 + 0), a3_0, mask=ok)
            tl.store(ob + row + (6 + lane * 8 + 1), a3_1, mask=ok)
            tl.store(ob + row + (6 + lane * 8 + 2), a3_2, mask=ok)
            tl.store(ob + row + (6 + lane * 8 + 3), a3_3, mask=ok)
            tl.store(ob + row + (6 + lane * 8 + 4), a3_4, mask=ok)
            tl.store(ob + row + (6 + lane * 8 + 5), a3_5, mask=ok)
            tl.store(ob + row + (6 + lane * 8 + 6), a3_6, mask=ok)
            tl.store(ob + row + (6 + lane * 8 + 7), a3_7, mask=ok)
    if not STREAM:
        tl.store(ob + (0 + lane * 2 + 0), a1_0, mask=ok)
        tl.store(ob + (0 + lane * 2 + 1), a1_1, mask=ok)
        tl.store(ob + (2 + lane * 4 + 0), a2_0, mask=ok)
        tl.store(ob + (2 + lane * 4 + 1), a2_1, mask=ok)
        tl.store(ob + (2 + lane * 4 + 2), a2_2, mask=ok)
        tl.store(ob + (2 + lane * 4 + 3), a2_3, mask=ok)
        tl.store(ob + (6 + lane * 8 + 0), a3_0, mask=ok)
        tl.store(ob + (6 + lane * 8 + 1), a3_1, mask=ok)
        tl.store(ob + (6 + lane * 8 + 2), a3_2, mask=ok)
        tl.store(ob + (6 + lane * 8 + 3), a3_3, mask=ok)
        tl.store(ob + (6 + lane * 8 + 4), a3_4, mask=ok)
        tl.store(ob + (6 + lane * 8 + 5), a3_5, mask=ok)
        tl.store(ob + (6 + lane * 8 + 6), a3_6, mask=ok)
        tl.store(ob + (6 + lane * 8 + 7), a3_7, mask=ok)


@triton.jit
def sig_backward(x_ptr, state_ptr, grad_ptr, gdx_ptr, n_paths, n_points, sx_b, sx_t, ss_b, ss_t,
                 sg_b, sg_t, sd_b, sd_t, STREAM: tl.constexpr, READ_STATES: tl.constexpr,
                 BP: tl.constexpr):
    """Adjoint of sig_forward, walking time back. The state before each step is recomputed,
    S(t-1) = S(t) ⊗ exp(-dx) (state_ptr: the final states), or with READ_STATES read from the
    stored stream (state_ptr: every step's state). grad_ptr: the output's cotangent (every
    row with STREAM). Writes each increment's adjoint to gdx_ptr (n_paths, n_points-1, DIM)."""
    DTYPE = x_ptr.dtype.element_ty
    pid = tl.program_id(0)
    path = pid * BP + tl.arange(0, BP)[:, None]
    lane = tl.arange(0, 1)[None, :]
    path_ok = path < n_paths
    ok = path_ok & (lane < 1)
    F_1_3 = tl.full((1, 1), 1 / 3, DTYPE)
    F_1_2 = tl.full((1, 1), 1 / 2, DTYPE)
    xb = x_ptr + path.to(tl.int64) * sx_b
    sb = state_ptr + path.to(tl.int64) * ss_b
    gb = grad_ptr + path.to(tl.int64) * sg_b
    db = gdx_ptr + tl.arange(0, BP).to(tl.int64) * sd_b + pid.to(tl.int64) * BP * sd_b
    last = n_points - 2  # row of the final state in a stream
    if STREAM:
        gb0 = gb + last * sg_t
    else:
        gb0 = gb
    g1_0 = tl.load(gb0 + (0 + lane * 2 + 0), mask=ok, other=0.0)
    g1_1 = tl.load(gb0 + (0 + lane * 2 + 1), mask=ok, other=0.0)
    g2_0 = tl.load(gb0 + (2 + lane * 4 + 0), mask=ok, other=0.0)
    g2_1 = tl.load(gb0 + (2 + lane * 4 + 1), mask=ok, other=0.0)
    g2_2 = tl.load(gb0 + (2 + lane * 4 + 2), mask=ok, other=0.0)
    g2_3 = tl.load(gb0 + (2 + lane * 4 + 3), mask=ok, other=0.0)
    g3_0 = tl.load(gb0 + (6 + lane * 8 + 0), mask=ok, other=0.0)
    g3_1 = tl.load(gb0 + (6 + lane * 8 + 1), mask=ok, other=0.0)
    g3_2 = tl.load(gb0 + (6 + lane * 8 + 2), mask=ok, other=0.0)
    g3_3 = tl.load(gb0 + (6 + lane * 8 + 3), mask=ok, other=0.0)
    g3_4 = tl.load(gb0 + (6 + lane * 8 + 4), mask=ok, other=0.0)
    g3_5 = tl.load(gb0 + (6 + lane * 8 + 5), mask=ok, other=0.0)
    g3_6 = tl.load(gb0 + (6 + lane * 8 + 6), mask=ok, other=0.0)
    g3_7 = tl.load(gb0 + (6 + lane * 8 + 7), mask=ok, other=0.0)
    if not READ_STATES:
        a1_0 = tl.load(sb + (0 + lane * 2 + 0), mask=ok, other=0.0)
        a1_1 = tl.load(sb + (0 + lane * 2 + 1), mask=ok, other=0.0)
        a2_0 = tl.load(sb + (2 + lane * 4 + 0), mask=ok, other=0.0)
        a2_1 = tl.load(sb + (2 + lane * 4 + 1), mask=ok, other=0.0)
        a2_2 = tl.load(sb + (2 + lane * 4 + 2), mask=ok, other=0.0)
        a2_3 = tl.load(sb + (2 + lane * 4 + 3), mask=ok, other=0.0)
    for i in range(0, n_points - 1):
        t = n_points - 1 - i  # step t takes S(t-1) to S(t) with dx = x[t] - x[t-1]
        xt = xb + t * sx_t
        dx_c0 = tl.load(xt + 0, mask=path_ok, other=0.0) - tl.load(xt - sx_t + 0, mask=path_ok, other=0.0)
        ndx_c0 = -dx_c0
        dx_c1 = tl.load(xt + 1, mask=path_ok, other=0.0) - tl.load(xt - sx_t + 1, mask=path_ok, other=0.0)
        ndx_c1 = -dx_c1
        if READ_STATES:
            before = ok & (tl.full((1, 1), t, tl.int32) >= 2)
            row = (t - 2) * ss_t
            a1_0 = tl.load(sb + row + (0 + lane * 2 + 0), mask=before, other=0.0)
            a1_1 = tl.load(sb + row + (0 + lane * 2 + 1), mask=before, other=0.0)
            a2_0 = tl.load(sb + row + (2 + lane * 4 + 0), mask=before, other=0.0)
            a2_1 = tl.load(sb + row + (2 + lane * 4 + 1), mask=before, other=0.0)
            a2_2 = tl.load(sb + row + (2 + lane * 4 + 2), mask=before, other=0.0)
            a2_3 = tl.load(sb + row + (2 + lane * 4 + 3), mask=before, other=0.0)
        # the state before the step: S(t-1) = S(t) ⊗ exp(-dx), levels below the top
        if not READ_STATES:
            # scaled increments dx/k
            dx2_c0 = ndx_c0 * F_1_2
            dx2_c1 = ndx_c1 * F_1_2
            # degree 2: Horner chain on the old levels 1..1
            t1_0 = a1_0 + dx2_c0
            t1_1 = a1_1 + dx2_c1
            a2_0 = a2_0 + t1_0 * ndx_c0
            a2_1 = a2_1 + t1_0 * ndx_c1
            a2_2 = a2_2 + t1_1 * ndx_c0
            a2_3 = a2_3 + t1_1 * ndx_c1
            # degree 1
            a1_0 = a1_0 + ndx_c0
            a1_1 = a1_1 + ndx_c1
        # scaled increments dx/k
        dx2_c0 = dx_c0 * F_1_2
        dx2_c1 = dx_c1 * F_1_2
        dx3_c0 = dx_c0 * F_1_3
        dx3_c1 = dx_c1 * F_1_3
        # degree 1: a1 += dx
        gdx_p0 = g1_0
        gdx_p1 = g1_1
        # degree 2: recompute the chain, then its adjoint
        t1_0 = a1_0 + dx2_c0
        t1_1 = a1_1 + dx2_c1
        u1_0 = g2_0 * dx_c0 + g2_1 * dx_c1
        u1_1 = g2_2 * dx_c0 + g2_3 * dx_c1
        gdx_p0 = gdx_p0 + t1_0 * g2_0 + t1_1 * g2_2
        gdx_p1 = gdx_p1 + t1_0 * g2_1 + t1_1 * g2_3
        g1_0 = g1_0 + u1_0
        g1_1 = g1_1 + u1_1
        gdx_p0 = gdx_p0 + u1_0 * F_1_2
        gdx_p1 = gdx_p1 + u1_1 * F_1_2
        # degree 3: recompute the chain, then its adjoint
        t1_0 = a1_0 + dx3_c0
        t1_1 = a1_1 + dx3_c1
        t2_0 = a2_0 + t1_0 * dx2_c0
        t2_1 = a2_1 + t1_0 * dx2_c1
        t2_2 = a2_2 + t1_1 * dx2_c0
        t2_3 = a2_3 + t1_1 * dx2_c1
        u2_0 = g3_0 * dx_c0 + g3_1 * dx_c1
        u2_1 = g3_2 * dx_c0 + g3_3 * dx_c1
        u2_2 = g3_4 * dx_c0 + g3_5 * dx_c1
        u2_3 = g3_6 * dx_c0 + g3_7 * dx_c1
        gdx_p0 = gdx_p0 + t2_0 * g3_0 + t2_1 * g3_2 + t2_2 * g3_4 + t2_3 * g3_6
        gdx_p1 = gdx_p1 + t2_0 * g3_1 + t2_1 * g3_3 + t2_2 * g3_5 + t2_3 * g3_7
        g2_0 = g2_0 + u2_0
        g2_1 = g2_1 + u2_1
        g2_2 = g2_2 + u2_2
        g2_3 = g2_3 + u2_3
        u1_0 = u2_0 * dx2_c0 + u2_1 * dx2_c1
        u1_1 = u2_2 * dx2_c0 + u2_3 * dx2_c1
        gdx_p0 = gdx_p0 + (t1_0 * u2_0 + t1_1 * u2_2) * F_1_2
        gdx_p1 = gdx_p1 + (t1_0 * u2_1 + t1_1 * u2_3) * F_1_2
        g1_0 = g1_0 + u1_0
        g1_1 = g1_1 + u1_1
        gdx_p0 = gdx_p0 + u1_0 * F_1_3
        gdx_p1 = gdx_p1 + u1_1 * F_1_3
        drow = db + (t - 1) * sd_t
        tl.store(drow + 0, tl.sum(tl.where(ok, gdx_p0, 0.0), axis=1), mask=tl.arange(0, BP) + pid * BP < n_paths)
        tl.store(drow + 1, tl.sum(tl.where(ok, gdx_p1, 0.0), axis=1), mask=tl.arange(0, BP) + pid * BP < n_paths)
        if STREAM:
            before = ok & (tl.full((1, 1), t, tl.int32) >= 2)
            row = (t - 2) * sg_t
            g1_0 = g1_0 + tl.load(gb + row + (0 + lane * 2 + 0), mask=before, other=0.0)
            g1_1 = g1_1 + tl.load(gb + row + (0 + lane * 2 + 1), mask=before, other=0.0)
            g2_0 = g2_0 + tl.load(gb + row + (2 + lane * 4 + 0), mask=before, other=0.0)
            g2_1 = g2_1 + tl.load(gb + row + (2 + lane * 4 + 1), mask=before, other=0.0)
            g2_2 = g2_2 + tl.load(gb + row + (2 + lane * 4 + 2), mask=before, other=0.0)
            g2_3 = g2_3 + tl.load(gb + row + (2 + lane * 4 + 3), mask=before, other=0.0)
            g3_0 = g3_0 + tl.load(gb + row + (6 + lane * 8 + 0), mask=before, other=0.0)
            g3_1 = g3_1 + tl.load(gb + row + (6 + lane * 8 + 1), mask=before, other=0.0)
            g3_2 = g3_2 + tl.load(gb + row + (6 + lane * 8 + 2), mask=before, other=0.0)
            g3_3 = g3_3 + tl.load(gb + row + (6 + lane * 8 + 3), mask=before, other=0.0)
            g3_4 = g3_4 + tl.load(gb + row + (6 + lane * 8 + 4), mask=before, other=0.0)
            g3_5 = g3_5 + tl.load(gb + row + (6 + lane * 8 + 5), mask=before, other=0.0)
            g3_6 = g3_6 + tl.load(gb + row + (6 + lane * 8 + 6), mask=before, other=0.0)
            g3_7 = g3_7 + tl.load(gb + row + (6 + lane * 8 + 7), mask=before, other=0.0)


#: The kernels, as (name, constexpr arguments of every variant the launchers use).
KERNELS = (
    ("sig_forward", ({"STREAM": False}, {"STREAM": True})),
    ("sig_backward", ({"STREAM": False, "READ_STATES": False}, {"STREAM": False, "READ_STATES": True},
                      {"STREAM": True, "READ_STATES": True})),
)


# ---- launchers ----------------------------------------------------------------------------


def _check_device(x):
    """x must be on a CUDA GPU, unless the kernels run through Triton's CPU interpreter."""
    if x.is_cuda or triton.knobs.runtime.interpret:
        return
    raise RuntimeError(
        f"sigcodegen triton target (dim={DIM}, depth={DEPTH}, {__file__}): the tensor is on "
        f"{x.device}; the kernels need a CUDA GPU, or TRITON_INTERPRET=1 set before triton is "
        f"imported to run them on the CPU through Triton's interpreter (slow: tests only)")


def _launch_forward(x, stream):
    """x (N, L, D) contiguous -> (N, SIGLEN), or (N, L-1, SIGLEN) with stream."""
    n, length, _ = x.shape
    shape = (n, length - 1, SIGLEN) if stream else (n, SIGLEN)
    out = torch.empty(shape, dtype=x.dtype, device=x.device)
    _check_device(x)
    grid = (triton.cdiv(n, BP),)
    sig_forward[grid](
        x, out, n, length, x.stride(0), x.stride(1), out.stride(0),
        out.stride(1) if stream else 0, STREAM=stream, BP=BP)
    return out


def _launch_backward(x, states, grad, stream, read_states):
    """The adjoint of the increments, (N, L-1, D); see sig_backward."""
    n, length, _ = x.shape
    gdx = torch.empty((n, length - 1, DIM), dtype=x.dtype, device=x.device)
    _check_device(x)
    grid = (triton.cdiv(n, BP),)
    sig_backward[grid](
        x, states, grad, gdx, n, length, x.stride(0), x.stride(1), states.stride(0),
        states.stride(1) if states.dim() == 3 else 0, grad.stride(0),
        grad.stride(1) if grad.dim() == 3 else 0, gdx.stride(0), gdx.stride(1),
        STREAM=stream, READ_STATES=read_states, BP=BP)
    return gdx


def compile_kernels(capability=90, warp_size=32):
    """Compile every kernel variant, float32 and float64, for a CUDA GPU of compute capability
    ``capability`` with Triton's compiler; no GPU is needed. Returns {(name, dtype, constexprs):
    compiled kernel}; raises what the compiler rejects."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    compiled = {}
    for name, variants in KERNELS:
        kernel = globals()[name]
        for dtype in ("fp32", "fp64"):
            for flags in variants:
                constexprs = {**flags, "BP": BP}
                signature = {arg: ("constexpr" if arg in constexprs
                                   else f"*{dtype}" if arg.endswith("_ptr") else "i32")
                             for arg in kernel.arg_names}
                source = ASTSource(fn=kernel, signature=signature, constexprs=constexprs)
                key = (name, dtype, tuple(sorted(flags.items())))
                compiled[key] = triton.compile(source, target=GPUTarget("cuda", capability, warp_size))
    return compiled


#: Walking time back by S(t-1) = S(t) ⊗ exp(-dx) loses about steps * eps * max|S| relative;
#: above this the backward reads stored states instead (a stream pass), as the jax and c targets.
REVERSAL_TOLERANCE = 0.0001


class _Signature(torch.autograd.Function):
    """The forward kernel with the reversible backward kernel as its gradient."""

    @staticmethod
    def forward(ctx, x, stream):
        out = _launch_forward(x, stream)
        ctx.save_for_backward(x, out)
        ctx.stream = stream
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        grad = grad.contiguous()
        if ctx.stream:
            gdx = _launch_backward(x, out, grad, True, True)
        else:
            eps = torch.finfo(x.dtype).eps
            drift = (x.shape[1] - 1) * eps * float(out.abs().amax()) if out.numel() else 0.0
            if drift > REVERSAL_TOLERANCE:  # reversal would lose accuracy: store the states
                gdx = _launch_backward(x, _launch_forward(x, True), grad, False, True)
            else:
                gdx = _launch_backward(x, out, grad, False, False)
        gx = torch.zeros_like(x)
        gx[:, 1:] += gdx
        gx[:, :-1] -= gdx
        return gx, None


# ---- torch algebra: the Chen tree over time chunks, log-signatures ------------------------


def _outer(x, y):
    """x ⊗ y for (N, a) and (N, b) -> (N, a*b); word u v lands at u*b + v."""
    return (x[:, :, None] * y[:, None, :]).reshape(x.shape[0], -1)


def chen(a1, a2, a3, b1, b2, b3):
    """Truncated product a ⊗ b of two signatures (Chen's identity).

    34 multiply-adds per path per product; shapes per path in comments.
    """
    # degree 1
    c1 = a1 + b1                        # (N, 2)
    # degree 2
    c2 = a2 + b2                        # (N, 4)
    c2 = c2 + _outer(a1, b1)            # (N, 4)
    # degree 3
    c3 = a3 + b3                        # (N, 8)
    c3 = c3 + _outer(a1, b2)            # (N, 8)
    c3 = c3 + _outer(a2, b1)            # (N, 8)
    return c1, c2, c3


def log_series(x1, x2, x3):
    """Tensor logarithm log(1 + x) = x - x^2/2 + x^3/3 - ... of a signature x.

    46 multiply-adds per path per element; shapes per path in comments.
    """
    # r = -1/2 + x ⊗ r (levels 1..1)
    r1 = x1 * (1 / 3)                   # (N, 2)
    # r = 1 + x ⊗ r (levels 1..2)
    r2 = x2 * (-1 / 2)                  # (N, 4)
    r2 = r2 + _outer(x1, r1)            # (N, 4)
    r1 = x1 * (-1 / 2)                  # (N, 2)
    # result = x ⊗ r
    y3 = x3                             # (N, 8)
    y3 = y3 + _outer(x1, r2)            # (N, 8)
    y3 = y3 + _outer(x2, r1)            # (N, 8)
    y2 = x2                             # (N, 4)
    y2 = y2 + _outer(x1, r1)            # (N, 4)
    y1 = x1                             # (N, 2)
    return y1, y2, y3


def exp_series(x1, x2, x3):
    """Tensor exponential exp(x) - 1 = x + x^2/2 + x^3/6 + ... of a Lie element x.

    46 multiply-adds per path per element; shapes per path in comments.
    """
    # r = 1/2 + x ⊗ r (levels 1..1)
    r1 = x1 * (1 / 6)                   # (N, 2)
    # r = 1 + x ⊗ r (levels 1..2)
    r2 = x2 * (1 / 2)                   # (N, 4)
    r2 = r2 + _outer(x1, r1)            # (N, 4)
    r1 = x1 * (1 / 2)                   # (N, 2)
    # result = x ⊗ r
    y3 = x3                             # (N, 8)
    y3 = y3 + _outer(x1, r2)            # (N, 8)
    y3 = y3 + _outer(x2, r1)            # (N, 8)
    y2 = x2                             # (N, 4)
    y2 = y2 + _outer(x1, r1)            # (N, 4)
    y1 = x1                             # (N, 2)
    return y1, y2, y3


def _levels(flat):
    """(N, SIGLEN) -> levels 1..DEPTH."""
    return tuple(torch.split(flat, LEVEL_SIZES, dim=-1))


def combine(a, b):
    """Chen's identity a ⊗ b for flat signatures (..., SIGLEN) (torch autograd)."""
    lead = a.shape[:-1]
    a, b = a.reshape(-1, SIGLEN), b.reshape(-1, SIGLEN)
    return torch.cat(chen(*_levels(a), *_levels(b)), dim=-1).reshape(*lead, SIGLEN)


def tensor_log(x):
    """The tensor logarithm of flat signatures (..., SIGLEN)."""
    lead = x.shape[:-1]
    return torch.cat(log_series(*_levels(x.reshape(-1, SIGLEN))), dim=-1).reshape(*lead, SIGLEN)


def tensor_exp(x):
    """The tensor exponential of flat elements (..., SIGLEN) with zero scalar term."""
    lead = x.shape[:-1]
    return torch.cat(exp_series(*_levels(x.reshape(-1, SIGLEN))), dim=-1).reshape(*lead, SIGLEN)


# copied from sigcodegen/plan/rules.py (`sigcodegen plan` sizes the chunks with the same function)
def num_chunks(steps, paths, lanes, min_steps):
    """Time chunks P for the chunked strategy: the largest power of two with
    paths * P <= lanes and P * min_steps <= steps, 1 when none fits."""
    p = 1
    while 2 * p * max(paths, 1) <= lanes and 2 * p * min_steps <= steps:
        p *= 2
    return p


def signature(path, stream=False, strategy="chunked", chunks=None):
    """Signature of torch paths (..., L, DIM), float32 or float64, on a CUDA device (or on the
    CPU under TRITON_INTERPRET=1): (..., SIGLEN), or (..., L-1, SIGLEN) with stream. Gradients
    flow through torch autograd.

    strategy "horner" walks each path's L-1 steps in one program; "chunked" (final values only)
    cuts time into P chunks run as extra paths and joins them by a tree of Chen products.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"triton target: strategy {strategy!r} is not one of {STRATEGIES}")
    if path.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"triton target: float32 or float64 paths, got {path.dtype}")
    *lead, length, dim = path.shape
    if dim != DIM:
        raise ValueError(f"triton target: this module is for dim={DIM}, got paths of dim {dim}")
    x = path.reshape(-1, length, dim).contiguous()
    n, steps = x.shape[0], length - 1
    if steps == 0 or n == 0:  # the signature of a constant path (or of no paths) is zero
        shape = (*lead, steps, SIGLEN) if stream else (*lead, SIGLEN)
        return path.new_zeros(shape) + 0 * path.sum()  # keeps the graph for autograd
    if stream or strategy == "horner":
        p = 1
    else:
        p = chunks or num_chunks(steps, n, CHUNKED_LANES, CHUNKED_MIN_STEPS)
    p = max(1, min(p, steps))
    if p == 1:
        out = _Signature.apply(x, stream)
        return out.reshape(*lead, steps, SIGLEN) if stream else out.reshape(*lead, SIGLEN)
    c = -(-steps // p)
    # chunk k holds points k*c .. (k+1)*c, held at the last point past the end (zero steps)
    index = torch.clamp(torch.arange(p, device=x.device)[:, None] * c
                        + torch.arange(c + 1, device=x.device)[None], max=length - 1)
    pieces = x[:, index].reshape(n * p, c + 1, dim)
    ends = _Signature.apply(pieces, False).reshape(n, p, SIGLEN)
    while ends.shape[1] > 1:  # log2(P) rounds: chunk 2i times chunk 2i+1
        if ends.shape[1] % 2:
            ends = torch.cat([ends, torch.zeros_like(ends[:, :1])], dim=1)
        ends = combine(ends[:, 0::2], ends[:, 1::2])
    return ends[:, 0].reshape(*lead, SIGLEN)


def _run_float64(path, stream, strategy, **options):
    import numpy as np

    if not (triton.knobs.runtime.interpret or torch.cuda.is_available()):
        raise SystemExit(f"{__file__}: the self-check needs a CUDA GPU, or TRITON_INTERPRET=1 "
                         f"to run the kernels through Triton's CPU interpreter")
    device = "cpu" if triton.knobs.runtime.interpret else "cuda"
    x = torch.as_tensor(np.asarray(path), dtype=torch.float64, device=device)
    return signature(x, stream, strategy, **options).cpu().numpy()


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
