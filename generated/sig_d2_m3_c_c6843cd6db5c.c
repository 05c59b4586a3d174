/* sigcodegen kernel module: signature, dim 2, depth 3, target c.
 *
 * Generated code: do not edit. Rebuild with `sigcodegen build --dim 2 --depth 3 --target c`;
 * print with `sigcodegen show --dim 2 --depth 3 --target c`; explain with
 * `sigcodegen plan --dim 2 --depth 3 --target c`.
 *
 *     spec       kind=signature dim=2 depth=3 target=c (float and double, final and stream, forward and backward)
 *     key        c6843cd6db5c0c4c3f8caa7b5fb2123b0959e442197a6422dcf1af55975c46e5
 *     generator  sigcodegen 0.1.0, generator sources 1c5782b32c11f2bc
 *     plan       siglen 14 (2 + 4 + 8); multiply-adds per path: exp_step 26, chen 34,
 *                levelwise_block 38, exp_step_vjp 58, exp_steps 78, log_series 46, exp_series 46,
 *                exp_step_lower 10
 *
 * Layout: paths on the SIMD lanes. A block of W paths (W = SIGCODEGEN_VECTOR_BYTES / element
 * size) steps through time together; every coefficient is a vector of W lanes. OpenMP runs blocks
 * (and, for small batches, time chunks of the same path joined by Chen's identity) in parallel.
 * Build: cc -O3 -march=native -fopenmp -shared -fPIC [-DSIGCODEGEN_XLA_FFI -I<jaxlib include>]
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef SIGCODEGEN_VECTOR_BYTES
#define SIGCODEGEN_VECTOR_BYTES 32
#endif
#define ALIGN 64

#define DIM 2
#define DEPTH 3
#define SIGLEN 14
/* chunked parallelism: a time chunk has at least this many steps (the plan's chunked
 * min_steps for c) */
#define CHUNK_MIN_STEPS 16
/* the backward pass walks time back while steps * eps * max|S| stays at or below this */
#define REVERSAL_TOLERANCE 0.0001
/* a parallel pass of fewer vector multiply-adds than this (~20 us of work) runs on one thread */
#define TEAM_MIN_OPS 100000
/* increments per exp_steps call (the top level is updated once per call) */
#define FUSED_STEPS 3
/* multiply-adds per path of one exp_step and of one chen product (for sizing thread teams) */
#define STEP_OPS 26
#define CHEN_OPS 34

enum { SIGCODEGEN_OK = 0, SIGCODEGEN_NO_MEMORY = 1 };

/* sigcodegen builds one library per precision from two objects compiled side by side:
 * -DSIGCODEGEN_PRECISION=32|64 picks the precision, -DSIGCODEGEN_PART=1 the forward pass (and
 * sigcodegen_info), =2 the backward pass. Without them everything is compiled at once. */
#ifndef SIGCODEGEN_PRECISION
#define BUILD_F32_FORWARD 1
#define BUILD_F32_BACKWARD 1
#define BUILD_F64_FORWARD 1
#define BUILD_F64_BACKWARD 1
#else
#define BUILD_F32_FORWARD (SIGCODEGEN_PRECISION == 32 && SIGCODEGEN_PART == 1)
#define BUILD_F32_BACKWARD (SIGCODEGEN_PRECISION == 32 && SIGCODEGEN_PART == 2)
#define BUILD_F64_FORWARD (SIGCODEGEN_PRECISION == 64 && SIGCODEGEN_PART == 1)
#define BUILD_F64_BACKWARD (SIGCODEGEN_PRECISION == 64 && SIGCODEGEN_PART == 2)
#endif

static int num_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Threads for a pass of `blocks` blocks costing `vector_ops` vector multiply-adds in all: one
 * thread when the pass is too small to pay for waking a team (TEAM_MIN_OPS), else at most one
 * per block. */
static int team_size(int64_t blocks, double vector_ops)
{
    int threads = num_threads();
    if (blocks < threads) threads = (int)blocks;
    if (vector_ops < TEAM_MIN_OPS) threads = 1;
    return threads < 1 ? 1 : threads;
}

static void *aligned_buffer(size_t bytes)
{
    return aligned_alloc(ALIGN, (bytes + ALIGN - 1) / ALIGN * ALIGN);
}

/* Chunks per path for the forward pass: the smallest power of two giving every thread a block
 * of lanes, as long as each chunk keeps CHUNK_MIN_STEPS steps (joining chunks costs a Chen
 * product per chunk, so no more than needed: measured at configs D and F). */
static int64_t forward_chunks(int64_t paths, int64_t steps, int64_t lanes)
{
    int64_t p = 1;
    const int64_t want = (int64_t)num_threads();
    while ((paths * p + lanes - 1) / lanes < want && 2 * p * CHUNK_MIN_STEPS <= steps) p *= 2;
    return p;
}

/* One lane of a block: which path, and which of its increments (start .. start + steps - 1). */
typedef struct { int64_t path, start, steps; } lane_t;

/* ======================= float =================================================== */
#if BUILD_F32_FORWARD || BUILD_F32_BACKWARD

typedef float vec_f32 __attribute__((vector_size(SIGCODEGEN_VECTOR_BYTES)));
#define LANES_f32 ((int)(SIGCODEGEN_VECTOR_BYTES / sizeof(float)))
#define SCRATCH_f32 12

#if BUILD_F32_FORWARD
/* One Chen step, state ⊗ exp(dx), in fused Horner form (levels updated top-down).
 * 26 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_f32v(vec_f32 *restrict a, const vec_f32 *restrict dx, vec_f32 *restrict w)
{
    vec_f32 *restrict a1 = a + 0;
    vec_f32 *restrict a2 = a + 2;
    vec_f32 *restrict a3 = a + 6;
    vec_f32 dx2[2];
    vec_f32 dx3[2];
    vec_f32 t1[2];
    vec_f32 *restrict t2 = w + 0;
    /* scaled increments dx/k */
    for (int i = 0; i < 2; ++i) dx2[i] = dx[i] * (float)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dx3[i] = dx[i] * (float)(1.0 / 3);
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2[p * 2 + j] = a2[p * 2 + j] + l * dx2[j];
    }
    for (int p = 0; p < 4; ++p) {
        const vec_f32 l = t2[p];
        for (int j = 0; j < 2; ++j)
            a3[p * 2 + j] = a3[p * 2 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if BUILD_F32_FORWARD
/* exp_step for 3 increment(s) in a row, the top level updated once for all of them.
 * 78 multiply-adds per path per 3 time step(s), each on a vector of paths. */
static void exp_steps_f32v(vec_f32 *restrict a, const vec_f32 *restrict dxa, const vec_f32 *restrict dxb, const vec_f32 *restrict dxc, vec_f32 *restrict w)
{
    vec_f32 *restrict a1 = a + 0;
    vec_f32 *restrict a2 = a + 2;
    vec_f32 *restrict a3 = a + 6;
    vec_f32 dxa2[2];
    vec_f32 dxa3[2];
    vec_f32 t1[2];
    vec_f32 *restrict t2a = w + 0;
    vec_f32 dxb2[2];
    vec_f32 dxb3[2];
    vec_f32 *restrict t2b = w + 4;
    vec_f32 dxc2[2];
    vec_f32 dxc3[2];
    vec_f32 *restrict t2c = w + 8;
    /* increment dxa: top-level term, then levels 2..1 */
    for (int i = 0; i < 2; ++i) dxa2[i] = dxa[i] * (float)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dxa3[i] = dxa[i] * (float)(1.0 / 3);
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxa3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2a[p * 2 + j] = a2[p * 2 + j] + l * dxa2[j];
    }
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxa2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dxa[j];
    }
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dxa[i];
    /* increment dxb: top-level term, then levels 2..1 */
    for (int i = 0; i < 2; ++i) dxb2[i] = dxb[i] * (float)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dxb3[i] = dxb[i] * (float)(1.0 / 3);
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxb3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2b[p * 2 + j] = a2[p * 2 + j] + l * dxb2[j];
    }
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxb2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dxb[j];
    }
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dxb[i];
    /* increment dxc: top-level term, then levels 2..1 */
    for (int i = 0; i < 2; ++i) dxc2[i] = dxc[i] * (float)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dxc3[i] = dxc[i] * (float)(1.0 / 3);
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxc3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2c[p * 2 + j] = a2[p * 2 + j] + l * dxc2[j];
    }
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxc2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dxc[j];
    }
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dxc[i];
    /* degree 3: the 3 terms in one pass */
    for (int p = 0; p < 3; p += 3) {
        const vec_f32 l00 = t2a[p + 0], l01 = t2b[p + 0], l02 = t2c[p + 0];
        const vec_f32 l10 = t2a[p + 1], l11 = t2b[p + 1], l12 = t2c[p + 1];
        const vec_f32 l20 = t2a[p + 2], l21 = t2b[p + 2], l22 = t2c[p + 2];
        for (int j = 0; j < 2; ++j) {
            const vec_f32 x0 = dxa[j], x1 = dxb[j], x2 = dxc[j];
            a3[(p + 0) * 2 + j] = a3[(p + 0) * 2 + j] + l00 * x0 + l01 * x1 + l02 * x2;
            a3[(p + 1) * 2 + j] = a3[(p + 1) * 2 + j] + l10 * x0 + l11 * x1 + l12 * x2;
            a3[(p + 2) * 2 + j] = a3[(p + 2) * 2 + j] + l20 * x0 + l21 * x1 + l22 * x2;
        }
    }
    for (int p = 3; p < 4; p += 1) {
        const vec_f32 l00 = t2a[p + 0], l01 = t2b[p + 0], l02 = t2c[p + 0];
        for (int j = 0; j < 2; ++j) {
            const vec_f32 x0 = dxa[j], x1 = dxb[j], x2 = dxc[j];
            a3[(p + 0) * 2 + j] = a3[(p + 0) * 2 + j] + l00 * x0 + l01 * x1 + l02 * x2;
        }
    }

}
#endif

#if BUILD_F32_BACKWARD
/* Adjoint of exp_step: g becomes the adjoint of the state before the step; returns gdx.
 * 58 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_vjp_f32v(const vec_f32 *restrict a, const vec_f32 *restrict dx, vec_f32 *restrict g, vec_f32 *restrict gdx, vec_f32 *restrict w)
{
    const vec_f32 *restrict a1 = a + 0;
    vec_f32 *restrict g1 = g + 0;
    const vec_f32 *restrict a2 = a + 2;
    vec_f32 *restrict g2 = g + 2;
    vec_f32 *restrict g3 = g + 6;
    vec_f32 dx2[2];
    vec_f32 dx3[2];
    vec_f32 t1[2];
    vec_f32 u1[2];
    vec_f32 *restrict t2 = w + 0;
    vec_f32 *restrict u2 = w + 4;
    /* scaled increments dx/k */
    for (int i = 0; i < 2; ++i) dx2[i] = dx[i] * (float)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dx3[i] = dx[i] * (float)(1.0 / 3);
    /* degree 1: a1 += dx */
    for (int i = 0; i < 2; ++i) gdx[i] = g1[i];
    /* degree 2: recompute the chain, then its adjoint */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx2[i];
    {
        vec_f32 sum[2];
        for (int j = 0; j < 2; ++j) sum[j] = (vec_f32){0};
        for (int p = 0; p < 2; ++p) {
            const vec_f32 l = t1[p];
            vec_f32 acc = (vec_f32){0};
            for (int j = 0; j < 2; ++j) {
                const vec_f32 gv = g2[p * 2 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 2; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 2; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 2; ++i) gdx[i] = gdx[i] + u1[i] * (float)(1.0 / 2);
    /* degree 3: recompute the chain, then its adjoint */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2[p * 2 + j] = a2[p * 2 + j] + l * dx2[j];
    }
    {
        vec_f32 sum[2];
        for (int j = 0; j < 2; ++j) sum[j] = (vec_f32){0};
        for (int p = 0; p < 4; ++p) {
            const vec_f32 l = t2[p];
            vec_f32 acc = (vec_f32){0};
            for (int j = 0; j < 2; ++j) {
                const vec_f32 gv = g3[p * 2 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 2; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 4; ++i) g2[i] = g2[i] + u2[i];
    {
        vec_f32 sum[2];
        for (int j = 0; j < 2; ++j) sum[j] = (vec_f32){0};
        for (int p = 0; p < 2; ++p) {
            const vec_f32 l = t1[p];
            vec_f32 acc = (vec_f32){0};
            for (int j = 0; j < 2; ++j) {
                const vec_f32 gv = u2[p * 2 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 2; ++j)
            gdx[j] = gdx[j] + sum[j] * (float)(1.0 / 2);
    }
    for (int i = 0; i < 2; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 2; ++i) gdx[i] = gdx[i] + u1[i] * (float)(1.0 / 3);
}
#endif

#if BUILD_F32_FORWARD
/* Truncated product a ⊗ b of two signatures (Chen's identity).
 * 34 multiply-adds per path per product. */
static void chen_f32s(const float *restrict a, const float *restrict b, float *restrict c)
{
    const float *restrict a1 = a + 0;
    const float *restrict b1 = b + 0;
    float *restrict c1 = c + 0;
    const float *restrict a2 = a + 2;
    const float *restrict b2 = b + 2;
    float *restrict c2 = c + 2;
    const float *restrict a3 = a + 6;
    const float *restrict b3 = b + 6;
    float *restrict c3 = c + 6;
    /* degree 1 */
    for (int i = 0; i < 2; ++i) c1[i] = a1[i] + b1[i];
    /* degree 2 */
    for (int i = 0; i < 4; ++i) c2[i] = a2[i] + b2[i];
    for (int p = 0; p < 2; ++p) {
        const float l = a1[p];
        for (int j = 0; j < 2; ++j)
            c2[p * 2 + j] = c2[p * 2 + j] + l * b1[j];
    }
    /* degree 3 */
    for (int i = 0; i < 8; ++i) c3[i] = a3[i] + b3[i];
    for (int p = 0; p < 2; ++p) {
        const float l = a1[p];
        for (int j = 0; j < 4; ++j)
            c3[p * 4 + j] = c3[p * 4 + j] + l * b2[j];
    }
    for (int p = 0; p < 4; ++p) {
        const float l = a2[p];
        for (int j = 0; j < 2; ++j)
            c3[p * 2 + j] = c3[p * 2 + j] + l * b1[j];
    }
}
#endif

#if BUILD_F32_BACKWARD
/* exp_step on levels 1..2 only: the backward pass walks the state back with it, as nothing there reads the top level.
 * 10 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_lower_f32v(vec_f32 *restrict a, const vec_f32 *restrict dx, vec_f32 *restrict w)
{
    vec_f32 *restrict a1 = a + 0;
    vec_f32 *restrict a2 = a + 2;
    vec_f32 dx2[2];
    vec_f32 t1[2];
    /* scaled increments dx/k */
    for (int i = 0; i < 2; ++i) dx2[i] = dx[i] * (float)(1.0 / 2);
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dx[i];
}
#endif

/* dx[j] lane l = increment `step` of lane l (zero past its steps: the identity), times sign */
static void load_increment_f32(vec_f32 *dx, const float *x, const lane_t *lanes, int64_t length,
                                   int64_t step, float sign)
{
    float buf[DIM][LANES_f32];
    for (int l = 0; l < LANES_f32; ++l) {
        const lane_t *ln = &lanes[l];
        if (ln->path < 0 || step >= ln->steps) {
            for (int j = 0; j < DIM; ++j) buf[j][l] = 0;
            continue;
        }
        const float *pt = x + (ln->path * length + ln->start + step) * DIM;
        for (int j = 0; j < DIM; ++j) buf[j][l] = sign * (pt[DIM + j] - pt[j]);
    }
    memcpy(dx, buf, sizeof buf);
}

#if BUILD_F32_FORWARD
/* rows[lane path][row] = state, for the active lanes (row stride SIGLEN, path stride rows_per_path) */
static void store_state_f32(float *rows, const vec_f32 *state, const lane_t *lanes,
                                int64_t rows_per_path, int64_t row)
{
    for (int l = 0; l < LANES_f32; ++l) {
        if (lanes[l].path < 0) continue;
        float *dst = rows + (lanes[l].path * rows_per_path + row) * SIGLEN;
        for (int c = 0; c < SIGLEN; ++c) dst[c] = state[c][l];
    }
}

#endif

#if BUILD_F32_BACKWARD
/* state lane l = rows[lane path][row] (zero for inactive lanes) */
static void load_state_f32(vec_f32 *state, const float *rows, const lane_t *lanes,
                               int64_t rows_per_path, int64_t row, int accumulate)
{
    if (!accumulate) memset(state, 0, SIGLEN * sizeof(vec_f32));
    for (int l = 0; l < LANES_f32; ++l) {
        if (lanes[l].path < 0) continue;
        const float *src = rows + (lanes[l].path * rows_per_path + row) * SIGLEN;
        for (int c = 0; c < SIGLEN; ++c) state[c][l] += src[c];
    }
}

#endif

#if BUILD_F32_FORWARD
/* Forward: x (B, L, DIM) -> out (B, SIGLEN), or every prefix (B, L-1, SIGLEN) when stream.
 * chunk_hint: time chunks per path (<= 0: the rule of forward_chunks; stream runs unchunked). */
int sigcodegen_forward_f32(const float *x, int64_t batch, int64_t length, float *out, int32_t stream,
                             int32_t chunk_hint)
{
    const int64_t steps = length - 1;
    const int W = LANES_f32;
    if (batch <= 0 || steps <= 0) {
        if (!stream && batch > 0) memset(out, 0, (size_t)batch * SIGLEN * sizeof(float));
        return SIGCODEGEN_OK;
    }
    int64_t chunks = stream ? 1 : chunk_hint > 0 ? chunk_hint : forward_chunks(batch, steps, W);
    if (chunks > steps) chunks = steps;
    const int64_t chunk_steps = (steps + chunks - 1) / chunks;
    const int64_t virtual_paths = batch * chunks; /* v = path * chunks + chunk */
    const int64_t blocks = (virtual_paths + W - 1) / W;
    float *chunk_sigs = chunks > 1 ? aligned_buffer((size_t)virtual_paths * SIGLEN * sizeof(float)) : NULL;
    float *ends = chunks > 1 ? chunk_sigs : out;
    int failed = 0;
    if (chunks > 1 && !chunk_sigs) return SIGCODEGEN_NO_MEMORY;

#pragma omp parallel num_threads(team_size(blocks, (double)blocks * chunk_steps * STEP_OPS)) reduction(|| : failed)
    {
        vec_f32 *state = aligned_buffer((SIGLEN + SCRATCH_f32 + 1) * sizeof(vec_f32));
        vec_f32 *scratch = state ? state + SIGLEN : NULL;
        failed = failed || !state;
#pragma omp for schedule(dynamic, 1)
        for (int64_t block = 0; block < blocks; ++block) {
            if (failed) continue;
            lane_t lanes[LANES_f32];
            for (int l = 0; l < W; ++l) {
                const int64_t v = block * W + l, chunk = v % chunks;
                lanes[l].path = v < virtual_paths ? v / chunks : -1;
                lanes[l].start = chunk * chunk_steps;
                lanes[l].steps = steps - lanes[l].start < chunk_steps ? steps - lanes[l].start : chunk_steps;
            }
            memset(state, 0, SIGLEN * sizeof(vec_f32));
            if (stream) {
                for (int64_t step = 0; step < chunk_steps; ++step) {
                    vec_f32 dx[DIM];
                    load_increment_f32(dx, x, lanes, length, step, 1);
                    exp_step_f32v(state, dx, scratch);
                    store_state_f32(out, state, lanes, steps, step);
                }
            } else { /* FUSED_STEPS increments per call; past a lane's end they are zero */
                for (int64_t step = 0; step < chunk_steps; step += FUSED_STEPS) {
                    vec_f32 dx[FUSED_STEPS * DIM];
                    for (int k = 0; k < FUSED_STEPS; ++k)
                        load_increment_f32(dx + k * DIM, x, lanes, length, step + k, 1);
                    exp_steps_f32v(state, dx + 0 * DIM, dx + 1 * DIM, dx + 2 * DIM, scratch);
                }
            }
            if (!stream) {
                for (int l = 0; l < W; ++l) { /* chunk-level rows: virtual path v */
                    const int64_t v = block * W + l;
                    if (v >= virtual_paths) continue;
                    float *dst = ends + v * SIGLEN;
                    for (int c = 0; c < SIGLEN; ++c) dst[c] = state[c][l];
                }
            }
        }
        free(state);
    }
    if (chunks > 1 && !failed) { /* join each path's chunks left to right (Chen's identity) */
#pragma omp parallel for schedule(static) reduction(|| : failed) \
    num_threads(team_size(batch, (double)batch * chunks * CHEN_OPS / LANES_f32))
        for (int64_t b = 0; b < batch; ++b) {
            float *acc = aligned_buffer(SIGLEN * sizeof(float));
            if (!acc) { failed = 1; continue; }
            memcpy(acc, chunk_sigs + b * chunks * SIGLEN, SIGLEN * sizeof(float));
            for (int64_t c = 1; c < chunks; ++c) {
                chen_f32s(acc, chunk_sigs + (b * chunks + c) * SIGLEN, out + b * SIGLEN);
                memcpy(acc, out + b * SIGLEN, SIGLEN * sizeof(float));
            }
            memcpy(out + b * SIGLEN, acc, SIGLEN * sizeof(float));
            free(acc);
        }
    }
    free(chunk_sigs);
    return failed ? SIGCODEGEN_NO_MEMORY : SIGCODEGEN_OK;
}

#endif

#if BUILD_F32_BACKWARD
/* Whether walking time backwards by S(t-1) = S(t) ⊗ exp(-dx) is accurate enough for this block:
 * its rounding error grows like steps * eps * |S|, so large states (unnormalised paths) or long
 * float32 paths recompute states from checkpoints instead. */
static int reversible_f32(const vec_f32 *state, int64_t steps)
{
    float largest = 0;
    for (int c = 0; c < SIGLEN; ++c)
        for (int l = 0; l < LANES_f32; ++l) {
            const float a = state[c][l] < 0 ? -state[c][l] : state[c][l];
            if (!(a <= largest)) largest = a; /* NaN propagates into the test below */
        }
    const double eps = sizeof(float) == 4 ? 5.96e-8 : 1.11e-16;
    return (double)steps * eps * (double)largest <= REVERSAL_TOLERANCE;
}

/* Add one step's increment adjoint into gx: dx(i) = x(i+1) - x(i). */
static void scatter_increment_f32(float *gx, const vec_f32 *gdx, const lane_t *lanes, int64_t length,
                                      int64_t step)
{
    for (int l = 0; l < LANES_f32; ++l) {
        if (lanes[l].path < 0) continue;
        float *pt = gx + (lanes[l].path * length + step) * DIM;
        for (int j = 0; j < DIM; ++j) {
            pt[DIM + j] += gdx[j][l];
            pt[j] -= gdx[j][l];
        }
    }
}

/* Backward: given x, the forward output y and its adjoint gy (shapes as the forward's), write
 * gx = d<gy, y>/dx (B, L, DIM). mode: 0 chooses per block (reversible when accurate, else
 * checkpoints), 1 forces reversal, 2 forces checkpoints. Stream mode reads the states from y. */
int sigcodegen_backward_f32(const float *x, int64_t batch, int64_t length, const float *y,
                              const float *gy, int32_t stream, int32_t mode, float *gx)
{
    const int64_t steps = length - 1;
    const int W = LANES_f32;
    if (batch > 0 && length > 0) memset(gx, 0, (size_t)batch * length * DIM * sizeof(float));
    if (batch <= 0 || steps <= 0) return SIGCODEGEN_OK;
    const int64_t blocks = (batch + W - 1) / W;
    int64_t segment = 1;
    while (segment * segment < steps) ++segment; /* checkpoints every ~sqrt(steps) steps */
    const int64_t checkpoints = (steps + segment - 1) / segment;
    int failed = 0;

#pragma omp parallel num_threads(team_size(blocks, 4.0 * blocks * steps * STEP_OPS)) reduction(|| : failed)
    {
        const size_t vectors = 2 * SIGLEN + SCRATCH_f32 + 1
                               + (stream ? 0 : (size_t)(checkpoints + segment) * SIGLEN);
        vec_f32 *state = aligned_buffer(vectors * sizeof(vec_f32));
        failed = failed || !state;
        vec_f32 *adjoint = state ? state + SIGLEN : NULL, *scratch = state ? adjoint + SIGLEN : NULL;
        vec_f32 *saved = state ? scratch + SCRATCH_f32 + 1 : NULL;
        vec_f32 *inside = saved && !stream ? saved + checkpoints * SIGLEN : NULL;
#pragma omp for schedule(dynamic, 1)
        for (int64_t block = 0; block < blocks; ++block) {
            if (failed) continue;
            lane_t lanes[LANES_f32];
            for (int l = 0; l < W; ++l) {
                const int64_t b = block * W + l;
                lanes[l].path = b < batch ? b : -1;
                lanes[l].start = 0;
                lanes[l].steps = steps;
            }
            vec_f32 dx[DIM], gdx[DIM];
            if (stream) {
                memset(adjoint, 0, SIGLEN * sizeof(vec_f32));
                for (int64_t i = steps - 1; i >= 0; --i) {
                    load_state_f32(adjoint, gy, lanes, steps, i, 1);
                    if (i > 0) load_state_f32(state, y, lanes, steps, i - 1, 0);
                    else memset(state, 0, SIGLEN * sizeof(vec_f32));
                    load_increment_f32(dx, x, lanes, length, i, 1);
                    exp_step_vjp_f32v(state, dx, adjoint, gdx, scratch);
                    scatter_increment_f32(gx, gdx, lanes, length, i);
                }
                continue;
            }
            load_state_f32(adjoint, gy, lanes, 1, 0, 0);
            load_state_f32(state, y, lanes, 1, 0, 0);
            if (mode == 1 || (mode == 0 && reversible_f32(state, steps))) {
                for (int64_t i = steps - 1; i >= 0; --i) {
                    load_increment_f32(dx, x, lanes, length, i, -1);
                    exp_step_lower_f32v(state, dx, scratch); /* levels < DEPTH before step i */
                    for (int j = 0; j < DIM; ++j) dx[j] = -dx[j];
                    exp_step_vjp_f32v(state, dx, adjoint, gdx, scratch);
                    scatter_increment_f32(gx, gdx, lanes, length, i);
                }
                continue;
            }
            /* checkpoints: states before steps 0, segment, 2*segment, ... (levels < DEPTH:
             * the adjoint never reads the top level) */
            memset(state, 0, SIGLEN * sizeof(vec_f32));
            for (int64_t i = 0; i < steps; ++i) {
                if (i % segment == 0) memcpy(saved + (i / segment) * SIGLEN, state, SIGLEN * sizeof(vec_f32));
                load_increment_f32(dx, x, lanes, length, i, 1);
                exp_step_lower_f32v(state, dx, scratch);
            }
            for (int64_t s = checkpoints - 1; s >= 0; --s) {
                const int64_t first = s * segment, last = first + segment < steps ? first + segment : steps;
                memcpy(state, saved + s * SIGLEN, SIGLEN * sizeof(vec_f32));
                for (int64_t i = first; i < last; ++i) { /* states before each step of the segment */
                    memcpy(inside + (i - first) * SIGLEN, state, SIGLEN * sizeof(vec_f32));
                    load_increment_f32(dx, x, lanes, length, i, 1);
                    exp_step_lower_f32v(state, dx, scratch);
                }
                for (int64_t i = last - 1; i >= first; --i) {
                    load_increment_f32(dx, x, lanes, length, i, 1);
                    exp_step_vjp_f32v(inside + (i - first) * SIGLEN, dx, adjoint, gdx, scratch);
                    scatter_increment_f32(gx, gdx, lanes, length, i);
                }
            }
        }
        free(state);
    }
    return failed ? SIGCODEGEN_NO_MEMORY : SIGCODEGEN_OK;
}
#endif
#endif /* float */

/* ======================= double =================================================== */
#if BUILD_F64_FORWARD || BUILD_F64_BACKWARD

typedef double vec_f64 __attribute__((vector_size(SIGCODEGEN_VECTOR_BYTES)));
#define LANES_f64 ((int)(SIGCODEGEN_VECTOR_BYTES / sizeof(double)))
#define SCRATCH_f64 12

#if BUILD_F64_FORWARD
/* One Chen step, state ⊗ exp(dx), in fused Horner form (levels updated top-down).
 * 26 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_f64v(vec_f64 *restrict a, const vec_f64 *restrict dx, vec_f64 *restrict w)
{
    vec_f64 *restrict a1 = a + 0;
    vec_f64 *restrict a2 = a + 2;
    vec_f64 *restrict a3 = a + 6;
    vec_f64 dx2[2];
    vec_f64 dx3[2];
    vec_f64 t1[2];
    vec_f64 *restrict t2 = w + 0;
    /* scaled increments dx/k */
    for (int i = 0; i < 2; ++i) dx2[i] = dx[i] * (double)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dx3[i] = dx[i] * (double)(1.0 / 3);
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2[p * 2 + j] = a2[p * 2 + j] + l * dx2[j];
    }
    for (int p = 0; p < 4; ++p) {
        const vec_f64 l = t2[p];
        for (int j = 0; j < 2; ++j)
            a3[p * 2 + j] = a3[p * 2 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if BUILD_F64_FORWARD
/* exp_step for 3 increment(s) in a row, the top level updated once for all of them.
 * 78 multiply-adds per path per 3 time step(s), each on a vector of paths. */
static void exp_steps_f64v(vec_f64 *restrict a, const vec_f64 *restrict dxa, const vec_f64 *restrict dxb, const vec_f64 *restrict dxc, vec_f64 *restrict w)
{
    vec_f64 *restrict a1 = a + 0;
    vec_f64 *restrict a2 = a + 2;
    vec_f64 *restrict a3 = a + 6;
    vec_f64 dxa2[2];
    vec_f64 dxa3[2];
    vec_f64 t1[2];
    vec_f64 *restrict t2a = w + 0;
    vec_f64 dxb2[2];
    vec_f64 dxb3[2];
    vec_f64 *restrict t2b = w + 4;
    vec_f64 dxc2[2];
    vec_f64 dxc3[2];
    vec_f64 *restrict t2c = w + 8;
    /* increment dxa: top-level term, then levels 2..1 */
    for (int i = 0; i < 2; ++i) dxa2[i] = dxa[i] * (double)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dxa3[i] = dxa[i] * (double)(1.0 / 3);
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxa3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2a[p * 2 + j] = a2[p * 2 + j] + l * dxa2[j];
    }
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxa2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dxa[j];
    }
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dxa[i];
    /* increment dxb: top-level term, then levels 2..1 */
    for (int i = 0; i < 2; ++i) dxb2[i] = dxb[i] * (double)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dxb3[i] = dxb[i] * (double)(1.0 / 3);
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxb3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2b[p * 2 + j] = a2[p * 2 + j] + l * dxb2[j];
    }
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxb2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dxb[j];
    }
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dxb[i];
    /* increment dxc: top-level term, then levels 2..1 */
    for (int i = 0; i < 2; ++i) dxc2[i] = dxc[i] * (double)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dxc3[i] = dxc[i] * (double)(1.0 / 3);
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxc3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2c[p * 2 + j] = a2[p * 2 + j] + l * dxc2[j];
    }
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dxc2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dxc[j];
    }
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dxc[i];
    /* degree 3: the 3 terms in one pass */
    for (int p = 0; p < 3; p += 3) {
        const vec_f64 l00 = t2a[p + 0], l01 = t2b[p + 0], l02 = t2c[p + 0];
        const vec_f64 l10 = t2a[p + 1], l11 = t2b[p + 1], l12 = t2c[p + 1];
        const vec_f64 l20 = t2a[p + 2], l21 = t2b[p + 2], l22 = t2c[p + 2];
        for (int j = 0; j < 2; ++j) {
            const vec_f64 x0 = dxa[j], x1 = dxb[j], x2 = dxc[j];
            a3[(p + 0) * 2 + j] = a3[(p + 0) * 2 + j] + l00 * x0 + l01 * x1 + l02 * x2;
            a3[(p + 1) * 2 + j] = a3[(p + 1) * 2 + j] + l10 * x0 + l11 * x1 + l12 * x2;
            a3[(p + 2) * 2 + j] = a3[(p + 2) * 2 + j] + l20 * x0 + l21 * x1 + l22 * x2;
        }
    }
    for (int p = 3; p < 4; p += 1) {
        const vec_f64 l00 = t2a[p + 0], l01 = t2b[p + 0], l02 = t2c[p + 0];
        for (int j = 0; j < 2; ++j) {
            const vec_f64 x0 = dxa[j], x1 = dxb[j], x2 = dxc[j];
            a3[(p + 0) * 2 + j] = a3[(p + 0) * 2 + j] + l00 * x0 + l01 * x1 + l02 * x2;
        }
    }

}
#endif

#if BUILD_F64_BACKWARD
/* Adjoint of exp_step: g becomes the adjoint of the state before the step; returns gdx.
 * 58 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_vjp_f64v(const vec_f64 *restrict a, const vec_f64 *restrict dx, vec_f64 *restrict g, vec_f64 *restrict gdx, vec_f64 *restrict w)
{
    const vec_f64 *restrict a1 = a + 0;
    vec_f64 *restrict g1 = g + 0;
    const vec_f64 *restrict a2 = a + 2;
    vec_f64 *restrict g2 = g + 2;
    vec_f64 *restrict g3 = g + 6;
    vec_f64 dx2[2];
    vec_f64 dx3[2];
    vec_f64 t1[2];
    vec_f64 u1[2];
    vec_f64 *restrict t2 = w + 0;
    vec_f64 *restrict u2 = w + 4;
    /* scaled increments dx/k */
    for (int i = 0; i < 2; ++i) dx2[i] = dx[i] * (double)(1.0 / 2);
    for (int i = 0; i < 2; ++i) dx3[i] = dx[i] * (double)(1.0 / 3);
    /* degree 1: a1 += dx */
    for (int i = 0; i < 2; ++i) gdx[i] = g1[i];
    /* degree 2: recompute the chain, then its adjoint */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx2[i];
    {
        vec_f64 sum[2];
        for (int j = 0; j < 2; ++j) sum[j] = (vec_f64){0};
        for (int p = 0; p < 2; ++p) {
            const vec_f64 l = t1[p];
            vec_f64 acc = (vec_f64){0};
            for (int j = 0; j < 2; ++j) {
                const vec_f64 gv = g2[p * 2 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 2; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 2; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 2; ++i) gdx[i] = gdx[i] + u1[i] * (double)(1.0 / 2);
    /* degree 3: recompute the chain, then its adjoint */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            t2[p * 2 + j] = a2[p * 2 + j] + l * dx2[j];
    }
    {
        vec_f64 sum[2];
        for (int j = 0; j < 2; ++j) sum[j] = (vec_f64){0};
        for (int p = 0; p < 4; ++p) {
            const vec_f64 l = t2[p];
            vec_f64 acc = (vec_f64){0};
            for (int j = 0; j < 2; ++j) {
                const vec_f64 gv = g3[p * 2 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 2; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 4; ++i) g2[i] = g2[i] + u2[i];
    {
        vec_f64 sum[2];
        for (int j = 0; j < 2; ++j) sum[j] = (vec_f64){0};
        for (int p = 0; p < 2; ++p) {
            const vec_f64 l = t1[p];
            vec_f64 acc = (vec_f64){0};
            for (int j = 0; j < 2; ++j) {
                const vec_f64 gv = u2[p * 2 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 2; ++j)
            gdx[j] = gdx[j] + sum[j] * (double)(1.0 / 2);
    }
    for (int i = 0; i < 2; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 2; ++i) gdx[i] = gdx[i] + u1[i] * (double)(1.0 / 3);
}
#endif

#if BUILD_F64_FORWARD
/* Truncated product a ⊗ b of two signatures (Chen's identity).
 * 34 multiply-adds per path per product. */
static void chen_f64s(const double *restrict a, const double *restrict b, double *restrict c)
{
    const double *restrict a1 = a + 0;
    const double *restrict b1 = b + 0;
    double *restrict c1 = c + 0;
    const double *restrict a2 = a + 2;
    const double *restrict b2 = b + 2;
    double *restrict c2 = c + 2;
    const double *restrict a3 = a + 6;
    const double *restrict b3 = b + 6;
    double *restrict c3 = c + 6;
    /* degree 1 */
    for (int i = 0; i < 2; ++i) c1[i] = a1[i] + b1[i];
    /* degree 2 */
    for (int i = 0; i < 4; ++i) c2[i] = a2[i] + b2[i];
    for (int p = 0; p < 2; ++p) {
        const double l = a1[p];
        for (int j = 0; j < 2; ++j)
            c2[p * 2 + j] = c2[p * 2 + j] + l * b1[j];
    }
    /* degree 3 */
    for (int i = 0; i < 8; ++i) c3[i] = a3[i] + b3[i];
    for (int p = 0; p < 2; ++p) {
        const double l = a1[p];
        for (int j = 0; j < 4; ++j)
            c3[p * 4 + j] = c3[p * 4 + j] + l * b2[j];
    }
    for (int p = 0; p < 4; ++p) {
        const double l = a2[p];
        for (int j = 0; j < 2; ++j)
            c3[p * 2 + j] = c3[p * 2 + j] + l * b1[j];
    }
}
#endif

#if BUILD_F64_BACKWARD
/* exp_step on levels 1..2 only: the backward pass walks the state back with it, as nothing there reads the top level.
 * 10 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_lower_f64v(vec_f64 *restrict a, const vec_f64 *restrict dx, vec_f64 *restrict w)
{
    vec_f64 *restrict a1 = a + 0;
    vec_f64 *restrict a2 = a + 2;
    vec_f64 dx2[2];
    vec_f64 t1[2];
    /* scaled increments dx/k */
    for (int i = 0; i < 2; ++i) dx2[i] = dx[i] * (double)(1.0 / 2);
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 2; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 2; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 2; ++j)
            a2[p * 2 + j] = a2[p * 2 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 2; ++i) a1[i] = a1[i] + dx[i];
}
#endif

/* dx[j] lane l = increment `step` of lane l (zero past its steps: the identity), times sign */
static void load_increment_f64(vec_f64 *dx, const double *x, const lane_t *lanes, int64_t length,
                                   int64_t step, double sign)
{
    double buf[DIM][LANES_f64];
    for (int l = 0; l < LANES_f64; ++l) {
        const lane_t *ln = &lanes[l];
        if (ln->path < 0 || step >= ln->steps) {
            for (int j = 0; j < DIM; ++j) buf[j][l] = 0;
            continue;
        }
        const double *pt = x + (ln->path * length + ln->start + step) * DIM;
        for (int j = 0; j < DIM; ++j) buf[j][l] = sign * (pt[DIM + j] - pt[j]);
    }
    memcpy(dx, buf, sizeof buf);
}

#if BUILD_F64_FORWARD
/* rows[lane path][row] = state, for the active lanes (row stride SIGLEN, path stride rows_per_path) */
static void store_state_f64(double *rows, const vec_f64 *state, const lane_t *lanes,
                                int64_t rows_per_path, int64_t row)
{
    for (int l = 0; l < LANES_f64; ++l) {
        if (lanes[l].path < 0) continue;
        double *dst = rows + (lanes[l].path * rows_per_path + row) * SIGLEN;
        for (int c = 0; c < SIGLEN; ++c) dst[c] = state[c][l];
    }
}

#endif

#if BUILD_F64_BACKWARD
/* state lane l = rows[lane path][row] (zero for inactive lanes) */
static void load_state_f64(vec_f64 *state, const double *rows, const lane_t *lanes,
                               int64_t rows_per_path, int64_t row, int accumulate)
{
    if (!accumulate) memset(state, 0, SIGLEN * sizeof(vec_f64));
    for (int l = 0; l < LANES_f64; ++l) {
        if (lanes[l].path < 0) continue;
        const double *src = rows + (lanes[l].path * rows_per_path + row) * SIGLEN;
        for (int c = 0; c < SIGLEN; ++c) state[c][l] += src[c];
    }
}

#endif

#if BUILD_F64_FORWARD
/* Forward: x (B, L, DIM) -> out (B, SIGLEN), or every prefix (B, L-1, SIGLEN) when stream.
 * chunk_hint: time chunks per path (<= 0: the rule of forward_chunks; stream runs unchunked). */
int sigcodegen_forward_f64(const double *x, int64_t batch, int64_t length, double *out, int32_t stream,
                             int32_t chunk_hint)
{
    const int64_t steps = length - 1;
    const int W = LANES_f64;
    if (batch <= 0 || steps <= 0) {
        if (!stream && batch > 0) memset(out, 0, (size_t)batch * SIGLEN * sizeof(double));
        return SIGCODEGEN_OK;
    }
    int64_t chunks = stream ? 1 : chunk_hint > 0 ? chunk_hint : forward_chunks(batch, steps, W);
    if (chunks > steps) chunks = steps;
    const int64_t chunk_steps = (steps + chunks - 1) / chunks;
    const int64_t virtual_paths = batch * chunks; /* v = path * chunks + chunk */
    const int64_t blocks = (virtual_paths + W - 1) / W;
    double *chunk_sigs = chunks > 1 ? aligned_buffer((size_t)virtual_paths * SIGLEN * sizeof(double)) : NULL;
    double *ends = chunks > 1 ? chunk_sigs : out;
    int failed = 0;
    if (chunks > 1 && !chunk_sigs) return SIGCODEGEN_NO_MEMORY;

#pragma omp parallel num_threads(team_size(blocks, (double)blocks * chunk_steps * STEP_OPS)) reduction(|| : failed)
    {
        vec_f64 *state = aligned_buffer((SIGLEN + SCRATCH_f64 + 1) * sizeof(vec_f64));
        vec_f64 *scratch = state ? state + SIGLEN : NULL;
        failed = failed || !state;
#pragma omp for schedule(dynamic, 1)
        for (int64_t block = 0; block < blocks; ++block) {
            if (failed) continue;
            lane_t lanes[LANES_f64];
            for (int l = 0; l < W; ++l) {
                const int64_t v = block * W + l, chunk = v % chunks;
                lanes[l].path = v < virtual_paths ? v / chunks : -1;
                lanes[l].start = chunk * chunk_steps;
                lanes[l].steps = steps - lanes[l].start < chunk_steps ? steps - lanes[l].start : chunk_steps;
            }
            memset(state, 0, SIGLEN * sizeof(vec_f64));
            if (stream) {
                for (int64_t step = 0; step < chunk_steps; ++step) {
                    vec_f64 dx[DIM];
                    load_increment_f64(dx, x, lanes, length, step, 1);
                    exp_step_f64v(state, dx, scratch);
                    store_state_f64(out, state, lanes, steps, step);
                }
            } else { /* FUSED_STEPS increments per call; past a lane's end they are zero */
                for (int64_t step = 0; step < chunk_steps; step += FUSED_STEPS) {
                    vec_f64 dx[FUSED_STEPS * DIM];
                    for (int k = 0; k < FUSED_STEPS; ++k)
                        load_increment_f64(dx + k * DIM, x, lanes, length, step + k, 1);
                    exp_steps_f64v(state, dx + 0 * DIM, dx + 1 * DIM, dx + 2 * DIM, scratch);
                }
            }
            if (!stream) {
                for (int l = 0; l < W; ++l) { /* chunk-level rows: virtual path v */
                    const int64_t v = block * W + l;
                    if (v >= virtual_paths) continue;
                    double *dst = ends + v * SIGLEN;
                    for (int c = 0; c < SIGLEN; ++c) dst[c] = state[c][l];
                }
            }
        }
        free(state);
    }
    if (chunks > 1 && !failed) { /* join each path's chunks left to right (Chen's identity) */
#pragma omp parallel for schedule(static) reduction(|| : failed) \
    num_threads(team_size(batch, (double)batch * chunks * CHEN_OPS / LANES_f64))
        for (int64_t b = 0; b < batch; ++b) {
            double *acc = aligned_buffer(SIGLEN * sizeof(double));
            if (!acc) { failed = 1; continue; }
            memcpy(acc, chunk_sigs + b * chunks * SIGLEN, SIGLEN * sizeof(double));
            for (int64_t c = 1; c < chunks; ++c) {
                chen_f64s(acc, chunk_sigs + (b * chunks + c) * SIGLEN, out + b * SIGLEN);
                memcpy(acc, out + b * SIGLEN, SIGLEN * sizeof(double));
            }
            memcpy(out + b * SIGLEN, acc, SIGLEN * sizeof(double));
            free(acc);
        }
    }
    free(chunk_sigs);
    return failed ? SIGCODEGEN_NO_MEMORY : SIGCODEGEN_OK;
}

#endif

#if BUILD_F64_BACKWARD
/* Whether walking time backwards by S(t-1) = S(t) ⊗ exp(-dx) is accurate enough for this block:
 * its rounding error grows like steps * eps * |S|, so large states (unnormalised paths) or long
 * float32 paths recompute states from checkpoints instead. */
static int reversible_f64(const vec_f64 *state, int64_t steps)
{
    double largest = 0;
    for (int c = 0; c < SIGLEN; ++c)
        for (int l = 0; l < LANES_f64; ++l) {
            const double a = state[c][l] < 0 ? -state[c][l] : state[c][l];
            if (!(a <= largest)) largest = a; /* NaN propagates into the test below */
        }
    const double eps = sizeof(double) == 4 ? 5.96e-8 : 1.11e-16;
    return (double)steps * eps * (double)largest <= REVERSAL_TOLERANCE;
}

/* Add one step's increment adjoint into gx: dx(i) = x(i+1) - x(i). */
static void scatter_increment_f64(double *gx, const vec_f64 *gdx, const lane_t *lanes, int64_t length,
                                      int64_t step)
{
    for (int l = 0; l < LANES_f64; ++l) {
        if (lanes[l].path < 0) continue;
        double *pt = gx + (lanes[l].path * length + step) * DIM;
        for (int j = 0; j < DIM; ++j) {
            pt[DIM + j] += gdx[j][l];
            pt[j] -= gdx[j][l];
        }
    }
}

/* Backward: given x, the forward output y and its adjoint gy (shapes as the forward's), write
 * gx = d<gy, y>/dx (B, L, DIM). mode: 0 chooses per block (reversible when accurate, else
 * checkpoints), 1 forces reversal, 2 forces checkpoints. Stream mode reads the states from y. */
int sigcodegen_backward_f64(const double *x, int64_t batch, int64_t length, const double *y,
                              const double *gy, int32_t stream, int32_t mode, double *gx)
{
    const int64_t steps = length - 1;
    const int W = LANES_f64;
    if (batch > 0 && length > 0) memset(gx, 0, (size_t)batch * length * DIM * sizeof(double));
    if (batch <= 0 || steps <= 0) return SIGCODEGEN_OK;
    const int64_t blocks = (batch + W - 1) / W;
    int64_t segment = 1;
    while (segment * segment < steps) ++segment; /* checkpoints every ~sqrt(steps) steps */
    const int64_t checkpoints = (steps + segment - 1) / segment;
    int failed = 0;

#pragma omp parallel num_threads(team_size(blocks, 4.0 * blocks * steps * STEP_OPS)) reduction(|| : failed)
    {
        const size_t vectors = 2 * SIGLEN + SCRATCH_f64 + 1
                               + (stream ? 0 : (size_t)(checkpoints + segment) * SIGLEN);
        vec_f64 *state = aligned_buffer(vectors * sizeof(vec_f64));
        failed = failed || !state;
        vec_f64 *adjoint = state ? state + SIGLEN : NULL, *scratch = state ? adjoint + SIGLEN : NULL;
        vec_f64 *saved = state ? scratch + SCRATCH_f64 + 1 : NULL;
        vec_f64 *inside = saved && !stream ? saved + checkpoints * SIGLEN : NULL;
#pragma omp for schedule(dynamic, 1)
        for (int64_t block = 0; block < blocks; ++block) {
            if (failed) continue;
            lane_t lanes[LANES_f64];
            for (int l = 0; l < W; ++l) {
                const int64_t b = block * W + l;
                lanes[l].path = b < batch ? b : -1;
                lanes[l].start = 0;
                lanes[l].steps = steps;
            }
            vec_f64 dx[DIM], gdx[DIM];
            if (stream) {
                memset(adjoint, 0, SIGLEN * sizeof(vec_f64));
                for (int64_t i = steps - 1; i >= 0; --i) {
                    load_state_f64(adjoint, gy, lanes, steps, i, 1);
                    if (i > 0) load_state_f64(state, y, lanes, steps, i - 1, 0);
                    else memset(state, 0, SIGLEN * sizeof(vec_f64));
                    load_increment_f64(dx, x, lanes, length, i, 1);
                    exp_step_vjp_f64v(state, dx, adjoint, gdx, scratch);
                    scatter_increment_f64(gx, gdx, lanes, length, i);
                }
                continue;
            }
            load_state_f64(adjoint, gy, lanes, 1, 0, 0);
            load_state_f64(state, y, lanes, 1, 0, 0);
            if (mode == 1 || (mode == 0 && reversible_f64(state, steps))) {
                for (int64_t i = steps - 1; i >= 0; --i) {
                    load_increment_f64(dx, x, lanes, length, i, -1);
                    exp_step_lower_f64v(state, dx, scratch); /* levels < DEPTH before step i */
                    for (int j = 0; j < DIM; ++j) dx[j] = -dx[j];
                    exp_step_vjp_f64v(state, dx, adjoint, gdx, scratch);
                    scatter_increment_f64(gx, gdx, lanes, length, i);
                }
                continue;
            }
            /* checkpoints: states before steps 0, segment, 2*segment, ... (levels < DEPTH:
             * the adjoint never reads the top level) */
            memset(state, 0, SIGLEN * sizeof(vec_f64));
            for (int64_t i = 0; i < steps; ++i) {
                if (i % segment == 0) memcpy(saved + (i / segment) * SIGLEN, state, SIGLEN * sizeof(vec_f64));
                load_increment_f64(dx, x, lanes, length, i, 1);
                exp_step_lower_f64v(state, dx, scratch);
            }
            for (int64_t s = checkpoints - 1; s >= 0; --s) {
                const int64_t first = s * segment, last = first + segment < steps ? first + segment : steps;
                memcpy(state, saved + s * SIGLEN, SIGLEN * sizeof(vec_f64));
                for (int64_t i = first; i < last; ++i) { /* states before each step of the segment */
                    memcpy(inside + (i - first) * SIGLEN, state, SIGLEN * sizeof(vec_f64));
                    load_increment_f64(dx, x, lanes, length, i, 1);
                    exp_step_lower_f64v(state, dx, scratch);
                }
                for (int64_t i = last - 1; i >= first; --i) {
                    load_increment_f64(dx, x, lanes, length, i, 1);
                    exp_step_vjp_f64v(inside + (i - first) * SIGLEN, dx, adjoint, gdx, scratch);
                    scatter_increment_f64(gx, gdx, lanes, length, i);
                }
            }
        }
        free(state);
    }
    return failed ? SIGCODEGEN_NO_MEMORY : SIGCODEGEN_OK;
}
#endif
#endif /* double */

#if BUILD_F32_FORWARD || BUILD_F64_FORWARD/* What this library was built for: 0 dim, 1 depth, 2 siglen, 3 vector bytes, 4 XLA FFI,
 * 5 precision bits (0: both). */
int64_t sigcodegen_info(int32_t what)
{
    switch (what) {
    case 0: return DIM;
    case 1: return DEPTH;
    case 2: return SIGLEN;
    case 3: return SIGCODEGEN_VECTOR_BYTES;
#ifdef SIGCODEGEN_XLA_FFI
    case 4: return 1;
#endif
#ifdef SIGCODEGEN_PRECISION
    case 5: return SIGCODEGEN_PRECISION;
#endif
    default: return 0;
    }
}
#endif

/* ---- XLA FFI handlers (compiled with -DSIGCODEGEN_XLA_FFI and jaxlib's include folder) ------
 * jax.ffi.ffi_call runs these inside jax.jit. Buffers: x (..., L, DIM) [, y, gy]; the leading
 * axes are the batch. Attributes: stream (int32); chunks (forward), mode (backward). */
#ifdef SIGCODEGEN_XLA_FFI
#include "xla/ffi/api/c_api.h"

static XLA_FFI_Error *ffi_error(const XLA_FFI_Api *api, XLA_FFI_Error_Code code, const char *message)
{
    XLA_FFI_Error_Create_Args args;
    memset(&args, 0, sizeof args);
    args.struct_size = XLA_FFI_Error_Create_Args_STRUCT_SIZE;
    args.message = message;
    args.errc = code;
    return api->XLA_FFI_Error_Create(&args);
}

/* Registration asks each handler for its metadata through an extension of the call frame. */
static int ffi_metadata(XLA_FFI_CallFrame *frame)
{
    XLA_FFI_Extension_Base *ext = frame->extension_start;
    if (!ext || ext->type != XLA_FFI_Extension_Metadata) return 0;
    XLA_FFI_Metadata *meta = ((XLA_FFI_Metadata_Extension *)ext)->metadata;
    meta->api_version.struct_size = XLA_FFI_Api_Version_STRUCT_SIZE;
    meta->api_version.extension_start = NULL;
    meta->api_version.major_version = XLA_FFI_API_MAJOR;
    meta->api_version.minor_version = XLA_FFI_API_MINOR;
    meta->traits = 0;
    return 1;
}

static int32_t ffi_attr_i32(const XLA_FFI_CallFrame *frame, const char *name)
{
    const size_t length = strlen(name);
    for (int64_t i = 0; i < frame->attrs.size; ++i) {
        const XLA_FFI_ByteSpan *key = frame->attrs.names[i];
        if (frame->attrs.types[i] != XLA_FFI_AttrType_SCALAR || key->len != length ||
            memcmp(key->ptr, name, length) != 0)
            continue;
        const XLA_FFI_Scalar *scalar = (const XLA_FFI_Scalar *)frame->attrs.attrs[i];
        if (scalar->dtype == XLA_FFI_DataType_S32) return *(const int32_t *)scalar->value;
        if (scalar->dtype == XLA_FFI_DataType_S64) return (int32_t)*(const int64_t *)scalar->value;
    }
    return 0;
}

/* batch = product of the leading axes, length = axis -2 of a (..., L, DIM) buffer */
static int ffi_path_shape(const XLA_FFI_Buffer *x, int64_t *batch, int64_t *length)
{
    if (x->rank < 2 || x->dims[x->rank - 1] != DIM) return 0;
    *length = x->dims[x->rank - 2];
    *batch = 1;
    for (int64_t i = 0; i < x->rank - 2; ++i) *batch *= x->dims[i];
    return 1;
}

#if BUILD_F32_FORWARD
XLA_FFI_Error *sigcodegen_ffi_forward_f32(XLA_FFI_CallFrame *frame)
{
    if (ffi_metadata(frame)) return NULL;
    const XLA_FFI_Api *api = frame->api;
    if (frame->stage != XLA_FFI_ExecutionStage_EXECUTE) return NULL;
    if (frame->args.size != 1 || frame->rets.size != 1)
        return ffi_error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, "sigcodegen forward: expects 1 argument, 1 result");
    const XLA_FFI_Buffer *x = (const XLA_FFI_Buffer *)frame->args.args[0];
    XLA_FFI_Buffer *out = (XLA_FFI_Buffer *)frame->rets.rets[0];
    int64_t batch, length;
    if (!ffi_path_shape(x, &batch, &length))
        return ffi_error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, "sigcodegen forward: path must be (..., L, DIM)");
    if (sigcodegen_forward_f32(x->data, batch, length, out->data, ffi_attr_i32(frame, "stream"),
                                          ffi_attr_i32(frame, "chunks")))
        return ffi_error(api, XLA_FFI_Error_Code_RESOURCE_EXHAUSTED, "sigcodegen forward: out of memory");
    return NULL;
}

#endif

#if BUILD_F32_BACKWARD
XLA_FFI_Error *sigcodegen_ffi_backward_f32(XLA_FFI_CallFrame *frame)
{
    if (ffi_metadata(frame)) return NULL;
    const XLA_FFI_Api *api = frame->api;
    if (frame->stage != XLA_FFI_ExecutionStage_EXECUTE) return NULL;
    if (frame->args.size != 3 || frame->rets.size != 1)
        return ffi_error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, "sigcodegen backward: expects 3 arguments, 1 result");
    const XLA_FFI_Buffer *x = (const XLA_FFI_Buffer *)frame->args.args[0];
    const XLA_FFI_Buffer *y = (const XLA_FFI_Buffer *)frame->args.args[1];
    const XLA_FFI_Buffer *gy = (const XLA_FFI_Buffer *)frame->args.args[2];
    XLA_FFI_Buffer *gx = (XLA_FFI_Buffer *)frame->rets.rets[0];
    int64_t batch, length;
    if (!ffi_path_shape(x, &batch, &length))
        return ffi_error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, "sigcodegen backward: path must be (..., L, DIM)");
    if (sigcodegen_backward_f32(x->data, batch, length, y->data, gy->data,
                                           ffi_attr_i32(frame, "stream"), ffi_attr_i32(frame, "mode"), gx->data))
        return ffi_error(api, XLA_FFI_Error_Code_RESOURCE_EXHAUSTED, "sigcodegen backward: out of memory");
    return NULL;
}
#endif

#if BUILD_F64_FORWARD
XLA_FFI_Error *sigcodegen_ffi_forward_f64(XLA_FFI_CallFrame *frame)
{
    if (ffi_metadata(frame)) return NULL;
    const XLA_FFI_Api *api = frame->api;
    if (frame->stage != XLA_FFI_ExecutionStage_EXECUTE) return NULL;
    if (frame->args.size != 1 || frame->rets.size != 1)
        return ffi_error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, "sigcodegen forward: expects 1 argument, 1 result");
    const XLA_FFI_Buffer *x = (const XLA_FFI_Buffer *)frame->args.args[0];
    XLA_FFI_Buffer *out = (XLA_FFI_Buffer *)frame->rets.rets[0];
    int64_t batch, length;
    if (!ffi_path_shape(x, &batch, &length))
        return ffi_error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, "sigcodegen forward: path must be (..., L, DIM)");
    if (sigcodegen_forward_f64(x->data, batch, length, out->data, ffi_attr_i32(frame, "stream"),
                                          ffi_attr_i32(frame, "chunks")))
        return ffi_error(api, XLA_FFI_Error_Code_RESOURCE_EXHAUSTED, "sigcodegen forward: out of memory");
    return NULL;
}

#endif

#if BUILD_F64_BACKWARD
XLA_FFI_Error *sigcodegen_ffi_backward_f64(XLA_FFI_CallFrame *frame)
{
    if (ffi_metadata(frame)) return NULL;
    const XLA_FFI_Api *api = frame->api;
    if (frame->stage != XLA_FFI_ExecutionStage_EXECUTE) return NULL;
    if (frame->args.size != 3 || frame->rets.size != 1)
        return ffi_error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, "sigcodegen backward: expects 3 arguments, 1 result");
    const XLA_FFI_Buffer *x = (const XLA_FFI_Buffer *)frame->args.args[0];
    const XLA_FFI_Buffer *y = (const XLA_FFI_Buffer *)frame->args.args[1];
    const XLA_FFI_Buffer *gy = (const XLA_FFI_Buffer *)frame->args.args[2];
    XLA_FFI_Buffer *gx = (XLA_FFI_Buffer *)frame->rets.rets[0];
    int64_t batch, length;
    if (!ffi_path_shape(x, &batch, &length))
        return ffi_error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, "sigcodegen backward: path must be (..., L, DIM)");
    if (sigcodegen_backward_f64(x->data, batch, length, y->data, gy->data,
                                           ffi_attr_i32(frame, "stream"), ffi_attr_i32(frame, "mode"), gx->data))
        return ffi_error(api, XLA_FFI_Error_Code_RESOURCE_EXHAUSTED, "sigcodegen backward: out of memory");
    return NULL;
}
#endif
#endif /* SIGCODEGEN_XLA_FFI */
