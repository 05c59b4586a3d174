/* sigcodegen kernel module: signature, dim 5, depth 4, target c.
 *
 * Generated code: do not edit. Rebuild with `sigcodegen build --dim 5 --depth 4 --target c`;
 * print with `sigcodegen show --dim 5 --depth 4 --target c`; explain with
 * `sigcodegen plan --dim 5 --depth 4 --target c`.
 *
 *     spec       kind=signature dim=5 depth=4 target=c (float and double, final and stream, forward and backward)
 *     key        f46b43478f70bbdb7b157f7a300014bbf6648746df4efa763a364531bf2ddeeb
 *     generator  sigcodegen 0.1.0, generator sources 8d8bcf1bc9921c23
 *     plan       siglen 780 (5 + 25 + 125 + 625); multiply-adds per path: exp_step 985, chen
 *                2,930, levelwise_block 1,760, exp_step_vjp 2,315, exp_steps 2,955, log_series
 *                3,420, exp_series 3,420, exp_step_lower 200, exp_steps_wide 5,910
 *
 * Layout: paths on the SIMD lanes. A block of W paths (W = SIGCODEGEN_VECTOR_BYTES / element
 * size) steps through time together; every coefficient is a vector of W lanes. The thread pool
 * (pool.j2) runs blocks (and, for small batches, time chunks of the same path joined by Chen's
 * identity) as tasks claimed by the calling thread and the pool threads that are awake.
 * Build: cc -O3 -march=native -pthread -shared -fPIC [-DSIGCODEGEN_XLA_FFI -I<jaxlib include>]
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getcpu, sched_setaffinity: the pool's placement (pool.j2) */
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef SIGCODEGEN_VECTOR_BYTES
#define SIGCODEGEN_VECTOR_BYTES 32
#endif
#define ALIGN 64
/* IN_REGISTER(x): x stays in a vector register from here on (an empty asm that "changes" it),
 * so GCC does not fold a reload of it into every multiply-add that uses it: the register
 * tiles' loops over the letters were bound by loads at large dims (the plan's pin_increments) */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define IN_REGISTER(x) __asm__("" : "+v"(x))
#else
#define IN_REGISTER(x) ((void)0)
#endif

#define DIM 5
#define DEPTH 4
#define SIGLEN 780
/* chunked parallelism: a time chunk has at least this many steps (the plan's chunked
 * min_steps for c) */
#define CHUNK_MIN_STEPS 16
/* the backward pass walks time back while steps * eps * max|S| stays at or below this */
#define REVERSAL_TOLERANCE 0.0001
/* a parallel pass of fewer vector multiply-adds than this (~20 us of work) runs on one thread */
#define TEAM_MIN_OPS 100000
/* a block of fewer paths (or signature rows) than lanes whose lane buffers would take more
 * bytes than this runs each path (row) alone, in scalar code (plan: lane_max_bytes) */
#define LANE_MAX_BYTES 4194304
/* increments per exp_steps call (the top level is updated once per call): the plan's
 * fused_steps, and fused_steps_wide with 32 vector registers (AVX-512: the _wide routines) */
#ifndef SIGCODEGEN_WIDE_STEPS
#define SIGCODEGEN_WIDE_STEPS (SIGCODEGEN_VECTOR_BYTES >= 64)
#endif
#if SIGCODEGEN_WIDE_STEPS
#define FUSED_STEPS 6
#else
#define FUSED_STEPS 3
#endif
/* ... and per call of the one-path routine exp_steps_row */
#define ROW_FUSED_STEPS 3
#define SUBTREE_VECTORS 0 /* the fused steps run on the whole state (the plan's subtree_depth 0) */
/* multiply-adds per path of one exp_step and of one chen product (for sizing thread teams) */
#define STEP_OPS 985
#define CHEN_OPS 2930

enum { SIGCODEGEN_OK = 0, SIGCODEGEN_NO_MEMORY = 1, SIGCODEGEN_BAD_BASIS = 2 };

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

/* ---- the thread pool: a call never waits for a thread that has not started ----------------
 *
 * A parallel pass is a number of tasks (blocks of paths x time chunks, paths of a Chen join).
 * The calling thread publishes the pass, wakes the pool, and then claims tasks itself from an
 * atomic counter, as does every pool thread that is awake; the call returns when every task is
 * done, not when every thread has checked in, so a worker queued behind another process on a
 * busy machine costs nothing: it wakes late, finds no task left and sleeps again. Idle workers
 * spin for a bounded time (POOL_SPIN_NS), then sleep on a condition variable.
 *
 * The counter and the pass's generation share one 64-bit word (generation << 32 | next task),
 * so a late worker can never claim a task of a newer pass with an older pass's function: it
 * reads the pass, checks the generation again, and claims by compare-and-swap on the word.
 * Opening a pass first marks the word closed with the new generation, so a worker that read a
 * half-written pass sees the generation move and reads it again.
 *
 * One pass at a time: a second caller (another thread, or a task calling the library again)
 * finds the pass lock held and runs its tasks on its own thread. Workers start on first use and
 * again after fork() (the child has none). The thread count is set from Python
 * (sigcodegen_pool_set_threads, the thread policy of sigcodegen.runtime.threads). */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX_THREADS 256
#define POOL_CLOSED 0xFFFFFFFFu
/* nanoseconds an idle worker (or a waiting caller) spins before it sleeps */
#define POOL_SPIN_NS 200000
/* a caller that, its own tasks done, waits for a task another thread claimed and has run for
 * longer than twice the caller's mean task time plus POOL_STRAGGLE_NS (that thread was
 * preempted), in POOL_STRIKES team passes in a row (another process wants the cores), runs
 * the passes of the next POOL_BACKOFF_MIN_NS on its own thread, then tries the team again;
 * each backoff that follows one without a clean team pass between them lasts twice as long,
 * up to POOL_BACKOFF_NS: on a busy machine a call then costs one thread's time, not a
 * scheduler slice, and a lone burst of preemptions costs a few ms */
#define POOL_STRAGGLE_NS 50000
#define POOL_BACKOFF_MIN_NS 6250000
#define POOL_BACKOFF_NS 100000000 /* the longest */
#define POOL_STRIKES 2 /* such waits in a row */

typedef void (*pool_task_t)(void *ctx, int64_t task, int worker);

#if defined(__x86_64__) || defined(__i386__)
#define POOL_RELAX() __builtin_ia32_pause()
#else
#define POOL_RELAX() sched_yield()
#endif
/* The CPU this thread runs on (-1: unknown). Two of the pool's threads on one CPU must not
 * spin on it: the spinning one takes the CPU from the one it waits for until the scheduler's
 * slice ends (beside one busy process on 2 cores, a caller spinning for a worker queued behind
 * it on its own CPU made 1 call in 5 take 3-4 x a quiet call); such a thread yields instead.
 * And a worker woken onto its caller's CPU while another CPU is idle stays there, the
 * scheduler placing each wake-up beside the waker again (on a 2-vCPU VM after a pause of a
 * second, 1 time in 4: 40 calls in a row at one thread's speed): such a worker moves itself
 * off (pool_move_off). */
#if defined(__linux__)
#define POOL_CPU() sched_getcpu()
#else
#define POOL_CPU() (-1)
#endif

#if BUILD_F32_FORWARD || BUILD_F64_FORWARD
#define POOL_VISIBLE __attribute__((visibility("default")))
#define POOL_HIDDEN __attribute__((visibility("hidden")))

static struct {
    pthread_mutex_t pass_lock;  /* held by the caller whose pass is open */
    pthread_mutex_t sleep_lock; /* guards the two condition variables */
    pthread_cond_t wake, finished;
    _Atomic uint64_t word;      /* generation << 32 | next task (POOL_CLOSED while opening) */
    _Atomic(pool_task_t) fn;
    _Atomic(void *) ctx;
    _Atomic int64_t tasks, done;
    _Atomic int team;           /* threads of the open pass: ids 0 (the caller) .. team-1 */
    _Atomic uint32_t wake_seq;  /* bumped at every pass, waited on by sleeping workers */
    _Atomic int sleepers, caller_sleeping;
    _Atomic int threads;        /* the thread setting (caller included) */
    int started;                /* workers running, ids 1..started (under pass_lock) */
    int atfork;
    _Atomic int64_t alone_until; /* passes before this time (pool_now_ns) run on the caller */
    _Atomic int64_t claimed_ns;  /* when a worker last claimed a task */
    _Atomic int strikes;         /* team passes in a row that waited for a preempted thread */
    _Atomic int64_t backoff_ns;  /* the next backoff (0: POOL_BACKOFF_MIN_NS), doubling */
    _Atomic int64_t straggles;   /* waits that started a backoff (sigcodegen_pool_straggles) */
    _Atomic int stall_worker, stall_release; /* test hook: hold one worker before it helps */
    _Atomic int hold_worker, hold_release;   /* test hook: hold one worker in its next task */
    _Atomic int cpu[POOL_MAX_THREADS]; /* where each thread was last seen (POOL_CPU) */
    _Atomic int64_t yields;            /* spins given up to a thread on the same CPU */
    _Atomic int64_t moves;             /* workers moved off their caller's CPU */
    _Atomic int64_t helped;            /* tasks the workers ran */
    int64_t idle_checked[POOL_MAX_THREADS]; /* when each worker last read /proc/loadavg */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER};

static int64_t pool_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Whether one of threads first..last-1 was last seen on this thread's CPU (which this thread
 * then records as its own). */
static int pool_shares_cpu(int self, int first, int last)
{
    const int cpu = POOL_CPU();
    atomic_store(&pool.cpu[self], cpu);
    if (cpu < 0) return 0;
    for (int id = first; id < last; ++id)
        if (id != self && atomic_load(&pool.cpu[id]) == cpu) return 1;
    return 0;
}

static void pool_yield(void)
{
    atomic_fetch_add_explicit(&pool.yields, 1, memory_order_relaxed);
    sched_yield();
}

/* Move this (worker) thread off `cpu` to another CPU it may use, keeping its affinity mask:
 * narrowed without `cpu`, which migrates it at once, then restored. Returns whether it moved
 * (not where `cpu` is the only CPU allowed). */
static int pool_move_off(int cpu)
{
#if defined(__linux__)
    cpu_set_t allowed, others;
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof allowed, &allowed)) return 0;
    others = allowed;
    CPU_CLR(cpu, &others);
    if (CPU_COUNT(&others) == 0 || sched_setaffinity(0, sizeof others, &others) != 0) return 0;
    sched_setaffinity(0, sizeof allowed, &allowed);
    atomic_fetch_add_explicit(&pool.moves, 1, memory_order_relaxed);
    return 1;
#else
    (void)cpu;
    return 0;
#endif
}

/* Whether a CPU this process may use is free while this worker shares one with its caller: no
 * more runnable threads on the machine than such CPUs (/proc/loadavg's running count, which
 * counts the two). Read at most once a millisecond per worker (else: no). */
static int pool_free_cpu(int id)
{
#if defined(__linux__)
    const int64_t now = pool_now_ns();
    if (now - pool.idle_checked[id] < 1000000) return 0;
    pool.idle_checked[id] = now;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed)) return 0;
    FILE *file = fopen("/proc/loadavg", "r");
    if (!file) return 0;
    double averages[3];
    int running = 0, threads = 0;
    const int read = fscanf(file, "%lf %lf %lf %d/%d", &averages[0], &averages[1], &averages[2],
                            &running, &threads);
    fclose(file);
    return read == 5 && running <= CPU_COUNT(&allowed);
#else
    (void)id;
    return 0;
#endif
}

/* Worker `id` on its caller's CPU: off to a free CPU if there is one (quiet: the scheduler may
 * keep waking it beside the caller), else yield while it spins (beside another process: moved
 * to that process's CPU it would be preempted mid-task there, and the caller would wait). */
static void pool_beside_caller(int id, int spinning)
{
    if (!pool_free_cpu(id) || !pool_move_off(atomic_load(&pool.cpu[id])))
        if (spinning) pool_yield();
}

/* Worker `id` spins until *value != unchanged or POOL_SPIN_NS have passed, yielding while the
 * caller was last seen on its CPU; returns the last value read. */
static uint32_t pool_spin_while(int id, _Atomic uint32_t *value, uint32_t unchanged)
{
    uint32_t now = atomic_load(value);
    const int64_t until = pool_now_ns() + POOL_SPIN_NS;
    for (int spin = 1; now == unchanged; ++spin) {
        POOL_RELAX();
        now = atomic_load(value);
        if (spin % 64 == 0) {
            if (pool_now_ns() > until) break;
            if (pool_shares_cpu(id, 0, 1)) pool_beside_caller(id, 1);
        }
    }
    return now;
}

static void pool_wake_caller(void)
{
    if (atomic_load(&pool.caller_sleeping)) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.finished);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
}

/* Claim and run tasks of the open pass until none is left (or this thread is not in its team);
 * returns the tasks it ran. */
static int64_t pool_help(int id)
{
    int64_t ran = 0;
    if (id > 0 && pool_shares_cpu(id, 0, 1)) pool_beside_caller(id, 0);
    for (;;) {
        uint64_t word = atomic_load(&pool.word);
        if ((uint32_t)word == POOL_CLOSED) return ran;
        const pool_task_t fn = atomic_load(&pool.fn);
        void *const ctx = atomic_load(&pool.ctx);
        const int64_t tasks = atomic_load(&pool.tasks);
        const int team = atomic_load(&pool.team);
        if (atomic_load(&pool.word) >> 32 != word >> 32) continue; /* a newer pass: read again */
        if (id >= team) return ran;
        const uint64_t generation = word >> 32;
        int claimed = 0;
        while ((int64_t)(uint32_t)word < tasks) {
            if (atomic_compare_exchange_weak(&pool.word, &word, word + 1)) {
                claimed = 1;
                break;
            }
            if (word >> 32 != generation) break;
        }
        if (!claimed) {
            if (word >> 32 != generation && (uint32_t)word != POOL_CLOSED) continue;
            return ran;
        }
        if (id > 0) {
            atomic_store(&pool.claimed_ns, pool_now_ns());
            atomic_store(&pool.cpu[id], POOL_CPU());
            if (atomic_load(&pool.hold_worker) == id)
                while (!atomic_load(&pool.hold_release)) usleep(1000);
        }
        fn(ctx, (int64_t)(uint32_t)word, id); /* the pass stays open until this task is done */
        ++ran;
        if (id > 0) atomic_fetch_add_explicit(&pool.helped, 1, memory_order_relaxed);
        if (atomic_fetch_add(&pool.done, 1) + 1 == tasks) pool_wake_caller();
    }
}

static void *pool_worker(void *arg)
{
    const int id = (int)(intptr_t)arg;
    uint32_t seen = atomic_load(&pool.wake_seq);
    for (;;) {
        if (atomic_load(&pool.stall_worker) == id)
            while (!atomic_load(&pool.stall_release)) usleep(1000);
        pool_help(id);
        uint32_t now = pool_spin_while(id, &pool.wake_seq, seen);
        if (now == seen) {
            pthread_mutex_lock(&pool.sleep_lock);
            atomic_fetch_add(&pool.sleepers, 1);
            while ((now = atomic_load(&pool.wake_seq)) == seen)
                pthread_cond_wait(&pool.wake, &pool.sleep_lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.sleep_lock);
        }
        seen = now;
    }
    return NULL;
}

static void pool_after_fork(void) /* the child has no workers; locks may have been held */
{
    pthread_mutex_init(&pool.pass_lock, NULL);
    pthread_mutex_init(&pool.sleep_lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.finished, NULL);
    atomic_store(&pool.word, ((atomic_load(&pool.word) >> 32) + 1) << 32 | POOL_CLOSED);
    atomic_store(&pool.sleepers, 0);
    atomic_store(&pool.caller_sleeping, 0);
    for (int id = 0; id < POOL_MAX_THREADS; ++id) atomic_store(&pool.cpu[id], -1);
    pool.started = 0;
}

/* Start workers up to id want - 1 (call with pass_lock held); returns the workers running. */
static int pool_start(int want)
{
    if (!pool.atfork) {
        pthread_atfork(NULL, NULL, pool_after_fork);
        pool.atfork = 1;
    }
    while (pool.started < want - 1 && pool.started < POOL_MAX_THREADS - 1) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        atomic_store(&pool.cpu[pool.started + 1], -1); /* not seen yet */
        const int failed = pthread_create(&thread, &attr, pool_worker,
                                          (void *)(intptr_t)(pool.started + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;
        ++pool.started;
    }
    return pool.started;
}

POOL_VISIBLE int sigcodegen_pool_get_threads(void)
{
    const int threads = atomic_load(&pool.threads);
    return threads > 0 ? threads : 1;
}

POOL_VISIBLE void sigcodegen_pool_set_threads(int threads)
{
    atomic_store(&pool.threads, threads < 1 ? 1 : threads > POOL_MAX_THREADS ? POOL_MAX_THREADS : threads);
}

/* Test hook: worker `id` (>= 1) waits before it helps until released (release = 1). */
POOL_VISIBLE void sigcodegen_pool_debug_stall(int id, int release)
{
    atomic_store(&pool.stall_release, release);
    atomic_store(&pool.stall_worker, id);
}

POOL_VISIBLE int sigcodegen_pool_started(void)
{
    return pool.started;
}

/* Test hook: worker `id` (>= 1), once it has claimed a task, holds it until released
 * (release = 1): what a worker preempted mid-task does to the caller. */
POOL_VISIBLE void sigcodegen_pool_debug_hold(int id, int release)
{
    atomic_store(&pool.hold_release, release);
    atomic_store(&pool.hold_worker, id);
}

/* Waits for a preempted thread's task that made the caller run alone for a while (tests,
 * benchmarks); `reset` ends the current backoff. */
POOL_VISIBLE int64_t sigcodegen_pool_straggles(int reset)
{
    if (reset) atomic_store(&pool.alone_until, 0);
    return atomic_load(&pool.straggles);
}

/* Counters for tests and benchmarks: which = 0, the spins the pool's threads gave up to a
 * thread on their CPU; 1, the workers moved off their caller's CPU; 2, the tasks workers ran. */
POOL_VISIBLE int64_t sigcodegen_pool_counter(int which)
{
    return atomic_load(which == 2 ? &pool.helped : which ? &pool.moves : &pool.yields);
}

/* Run fn(ctx, task, worker) for task = 0 .. tasks-1 on at most `team` threads (worker ids
 * 0 .. team-1, 0 the caller); returns when all are done. */
POOL_HIDDEN void sigcodegen_pool_run(int64_t tasks, pool_task_t fn, void *ctx, int team)
{
    if (team > sigcodegen_pool_get_threads()) team = sigcodegen_pool_get_threads();
    if (team > tasks) team = (int)tasks;
    const int64_t start = team > 1 ? pool_now_ns() : 0;
    if (team > 1 && start < atomic_load(&pool.alone_until)) team = 1; /* backing off */
    if (team <= 1 || tasks >= (int64_t)POOL_CLOSED || pthread_mutex_trylock(&pool.pass_lock) != 0) {
        for (int64_t task = 0; task < tasks; ++task) fn(ctx, task, 0);
        return;
    }
    const int running = pool_start(team);
    if (running + 1 < team) team = running + 1;
    const uint64_t generation = (atomic_load(&pool.word) >> 32) + 1;
    atomic_store(&pool.word, generation << 32 | POOL_CLOSED);
    atomic_store(&pool.fn, fn);
    atomic_store(&pool.ctx, ctx);
    atomic_store(&pool.tasks, tasks);
    atomic_store(&pool.team, team);
    atomic_store(&pool.done, 0);
    atomic_store(&pool.word, generation << 32);
    atomic_store(&pool.cpu[0], POOL_CPU());
    atomic_fetch_add(&pool.wake_seq, 1);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    const int64_t ran = pool_help(0);
    /* only tasks that started are left: wait for them (spin a little, yielding to a team
     * thread on this CPU, then sleep) */
    const int64_t helped = pool_now_ns(), until = helped + POOL_SPIN_NS;
    for (int spin = 1; atomic_load(&pool.done) < tasks; ++spin) {
        POOL_RELAX();
        if (spin % 64 == 0) {
            if (pool_now_ns() > until) break;
            if (pool_shares_cpu(0, 1, team)) pool_yield();
        }
    }
    if (atomic_load(&pool.done) < tasks) {
        pthread_mutex_lock(&pool.sleep_lock);
        atomic_store(&pool.caller_sleeping, 1);
        while (atomic_load(&pool.done) < tasks) pthread_cond_wait(&pool.finished, &pool.sleep_lock);
        atomic_store(&pool.caller_sleeping, 0);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    atomic_store(&pool.word, generation << 32 | POOL_CLOSED);
    pthread_mutex_unlock(&pool.pass_lock);
    /* a worker's task that took more than twice the caller's mean: the worker was preempted
     * (one that woke late and ran its task at full speed is not counted). The caller's own
     * preemptions are not counted: beside a process at nice 19 they are frequent and cheap,
     * and backing off for them made the team's calls one thread's (bench/cpu.py --load) */
    const int64_t end = pool_now_ns(), mean = ran > 0 ? (helped - start) / ran : 0;
    if (end - helped > POOL_STRAGGLE_NS &&
        end - atomic_load(&pool.claimed_ns) > 2 * mean + POOL_STRAGGLE_NS) {
        if (atomic_fetch_add(&pool.strikes, 1) + 1 >= POOL_STRIKES) { /* not a lone hiccup */
            const int64_t last = atomic_load(&pool.backoff_ns);
            const int64_t backoff = last > 0 ? last : POOL_BACKOFF_MIN_NS;
            atomic_store(&pool.alone_until, end + backoff);
            atomic_store(&pool.backoff_ns, 2 * backoff < POOL_BACKOFF_NS ? 2 * backoff
                                                                         : POOL_BACKOFF_NS);
            atomic_fetch_add(&pool.straggles, 1);
        }
    } else { /* a clean team pass: the cores are free again */
        atomic_store(&pool.strikes, 0);
        atomic_store(&pool.backoff_ns, 0);
    }
}
#else
void sigcodegen_pool_run(int64_t tasks, pool_task_t fn, void *ctx, int team);
int sigcodegen_pool_get_threads(void);
#endif

static int num_threads(void)
{
    return sigcodegen_pool_get_threads();
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

/* Chunks per path for the forward pass: the smallest power of two giving every thread a full
 * block of lanes (paths x chunks >= threads x lanes), as long as each chunk keeps
 * CHUNK_MIN_STEPS steps. Joining chunks costs a Chen product per chunk, so no more than that;
 * measured at F (8 paths, 16 lanes): one thread 0.83 ms unchunked, 0.45 ms in 2 chunks. */
static int64_t forward_chunks(int64_t paths, int64_t steps, int64_t lanes)
{
    int64_t p = 1;
    const int64_t want = (int64_t)num_threads();
    while (paths * p < want * lanes && 2 * p * CHUNK_MIN_STEPS <= steps) p *= 2;
    return p;
}

/* One lane of a block: which path, and which of its increments (start .. start + steps - 1). */
typedef struct { int64_t path, start, steps; } lane_t;

/* ======================= float =================================================== */
#if BUILD_F32_FORWARD || BUILD_F32_BACKWARD

typedef float vec_f32 __attribute__((vector_size(SIGCODEGEN_VECTOR_BYTES)));
#define LANES_f32 ((int)(SIGCODEGEN_VECTOR_BYTES / sizeof(float)))
#define SCRATCH_f32 300

#if BUILD_F32_FORWARD
/* One Chen step, state ⊗ exp(dx), in fused Horner form (levels updated top-down).
 * 985 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_f32v(vec_f32 *restrict a, const vec_f32 *restrict dx, vec_f32 *restrict w)
{
    vec_f32 *restrict a1 = a + 0;
    vec_f32 *restrict a2 = a + 5;
    vec_f32 *restrict a3 = a + 30;
    vec_f32 *restrict a4 = a + 155;
    vec_f32 dx2[5];
    vec_f32 dx3[5];
    vec_f32 dx4[5];
    vec_f32 t1[5];
    vec_f32 *restrict t2 = w + 0;
    vec_f32 *restrict t3 = w + 25;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dx4[i] = dx[i] * (float)(1.0 / 4);
    /* degree 4: Horner chain on the old levels 1..3 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const vec_f32 l = t2[p];
        for (int j = 0; j < 5; ++j)
            t3[p * 5 + j] = a3[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 125; ++p) {
        const vec_f32 l = t3[p];
        for (int j = 0; j < 5; ++j)
            a4[p * 5 + j] = a4[p * 5 + j] + l * dx[j];
    }
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const vec_f32 l = t2[p];
        for (int j = 0; j < 5; ++j)
            a3[p * 5 + j] = a3[p * 5 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if BUILD_F32_BACKWARD
/* Adjoint of exp_step: g becomes the adjoint of the state before the step; returns gdx.
 * 2315 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_vjp_f32v(const vec_f32 *restrict a, const vec_f32 *restrict dx, vec_f32 *restrict g, vec_f32 *restrict gdx, vec_f32 *restrict w)
{
    const vec_f32 *restrict a1 = a + 0;
    vec_f32 *restrict g1 = g + 0;
    const vec_f32 *restrict a2 = a + 5;
    vec_f32 *restrict g2 = g + 5;
    const vec_f32 *restrict a3 = a + 30;
    vec_f32 *restrict g3 = g + 30;
    vec_f32 *restrict g4 = g + 155;
    vec_f32 dx2[5];
    vec_f32 dx3[5];
    vec_f32 dx4[5];
    vec_f32 t1[5];
    vec_f32 u1[5];
    vec_f32 *restrict t2 = w + 0;
    vec_f32 *restrict u2 = w + 25;
    vec_f32 *restrict t3 = w + 50;
    vec_f32 *restrict u3 = w + 175;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dx4[i] = dx[i] * (float)(1.0 / 4);
    /* degree 1: a1 += dx */
    for (int i = 0; i < 5; ++i) gdx[i] = g1[i];
    /* degree 2: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    {
        vec_f32 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f32){0};
        for (int p = 0; p < 5; ++p) {
            const vec_f32 l = t1[p];
            vec_f32 acc = (vec_f32){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f32 gv = g2[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (float)(1.0 / 2);
    /* degree 3: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    {
        vec_f32 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f32){0};
        for (int p = 0; p < 25; ++p) {
            const vec_f32 l = t2[p];
            vec_f32 acc = (vec_f32){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f32 gv = g3[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 25; ++i) g2[i] = g2[i] + u2[i];
    {
        vec_f32 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f32){0};
        for (int p = 0; p < 5; ++p) {
            const vec_f32 l = t1[p];
            vec_f32 acc = (vec_f32){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f32 gv = u2[p * 5 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (float)(1.0 / 2);
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (float)(1.0 / 3);
    /* degree 4: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const vec_f32 l = t2[p];
        for (int j = 0; j < 5; ++j)
            t3[p * 5 + j] = a3[p * 5 + j] + l * dx2[j];
    }
    {
        vec_f32 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f32){0};
        for (int p = 0; p < 125; ++p) {
            const vec_f32 l = t3[p];
            vec_f32 acc = (vec_f32){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f32 gv = g4[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u3[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 125; ++i) g3[i] = g3[i] + u3[i];
    {
        vec_f32 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f32){0};
        for (int p = 0; p < 25; ++p) {
            const vec_f32 l = t2[p];
            vec_f32 acc = (vec_f32){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f32 gv = u3[p * 5 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (float)(1.0 / 2);
    }
    for (int i = 0; i < 25; ++i) g2[i] = g2[i] + u2[i];
    {
        vec_f32 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f32){0};
        for (int p = 0; p < 5; ++p) {
            const vec_f32 l = t1[p];
            vec_f32 acc = (vec_f32){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f32 gv = u2[p * 5 + j];
                acc += gv * dx3[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (float)(1.0 / 3);
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (float)(1.0 / 4);
}
#endif

#if BUILD_F32_FORWARD
/* Truncated product a ⊗ b of two signatures (Chen's identity).
 * 2930 multiply-adds per path per product. */
static void chen_f32s(const float *restrict a, const float *restrict b, float *restrict c)
{
    const float *restrict a1 = a + 0;
    const float *restrict b1 = b + 0;
    float *restrict c1 = c + 0;
    const float *restrict a2 = a + 5;
    const float *restrict b2 = b + 5;
    float *restrict c2 = c + 5;
    const float *restrict a3 = a + 30;
    const float *restrict b3 = b + 30;
    float *restrict c3 = c + 30;
    const float *restrict a4 = a + 155;
    const float *restrict b4 = b + 155;
    float *restrict c4 = c + 155;
    /* degree 1 */
    for (int i = 0; i < 5; ++i) c1[i] = a1[i] + b1[i];
    /* degree 2 */
    for (int i = 0; i < 25; ++i) c2[i] = a2[i] + b2[i];
    for (int p = 0; p < 5; ++p) {
        const float l = a1[p];
        for (int j = 0; j < 5; ++j)
            c2[p * 5 + j] = c2[p * 5 + j] + l * b1[j];
    }
    /* degree 3 */
    for (int i = 0; i < 125; ++i) c3[i] = a3[i] + b3[i];
    for (int p = 0; p < 5; ++p) {
        const float l = a1[p];
        for (int j = 0; j < 25; ++j)
            c3[p * 25 + j] = c3[p * 25 + j] + l * b2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const float l = a2[p];
        for (int j = 0; j < 5; ++j)
            c3[p * 5 + j] = c3[p * 5 + j] + l * b1[j];
    }
    /* degree 4 */
    for (int i = 0; i < 625; ++i) c4[i] = a4[i] + b4[i];
    for (int p = 0; p < 5; ++p) {
        const float l = a1[p];
        for (int j = 0; j < 125; ++j)
            c4[p * 125 + j] = c4[p * 125 + j] + l * b3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const float l = a2[p];
        for (int j = 0; j < 25; ++j)
            c4[p * 25 + j] = c4[p * 25 + j] + l * b2[j];
    }
    for (int p = 0; p < 125; ++p) {
        const float l = a3[p];
        for (int j = 0; j < 5; ++j)
            c4[p * 5 + j] = c4[p * 5 + j] + l * b1[j];
    }
}
#endif

#if BUILD_F32_BACKWARD
/* exp_step on levels 1..3 only: the backward pass walks the state back with it, as nothing there reads the top level.
 * 200 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_lower_f32v(vec_f32 *restrict a, const vec_f32 *restrict dx, vec_f32 *restrict w)
{
    vec_f32 *restrict a1 = a + 0;
    vec_f32 *restrict a2 = a + 5;
    vec_f32 *restrict a3 = a + 30;
    vec_f32 dx2[5];
    vec_f32 dx3[5];
    vec_f32 t1[5];
    vec_f32 *restrict t2 = w + 0;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (float)(1.0 / 3);
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const vec_f32 l = t2[p];
        for (int j = 0; j < 5; ++j)
            a3[p * 5 + j] = a3[p * 5 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if BUILD_F32_FORWARD
/* One Chen step, state ⊗ exp(dx), in fused Horner form (levels updated top-down).
 * 985 multiply-adds per path per time step. */
static void exp_step_f32s(float *restrict a, const float *restrict dx, float *restrict w)
{
    float *restrict a1 = a + 0;
    float *restrict a2 = a + 5;
    float *restrict a3 = a + 30;
    float *restrict a4 = a + 155;
    float dx2[5];
    float dx3[5];
    float dx4[5];
    float t1[5];
    float *restrict t2 = w + 0;
    float *restrict t3 = w + 25;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dx4[i] = dx[i] * (float)(1.0 / 4);
    /* degree 4: Horner chain on the old levels 1..3 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx4[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const float l = t2[p];
        for (int j = 0; j < 5; ++j)
            t3[p * 5 + j] = a3[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 125; ++p) {
        const float l = t3[p];
        for (int j = 0; j < 5; ++j)
            a4[p * 5 + j] = a4[p * 5 + j] + l * dx[j];
    }
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const float l = t2[p];
        for (int j = 0; j < 5; ++j)
            a3[p * 5 + j] = a3[p * 5 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if BUILD_F32_FORWARD
/* exp_step for 3 increment(s) in a row, the top level updated once for all of them.
 * 2955 multiply-adds per path per 3 time step(s). */
static void exp_steps_f32s(float *restrict a, const float *restrict dxa, const float *restrict dxb, const float *restrict dxc, float *restrict w)
{
    float *restrict a1 = a + 0;
    float *restrict a2 = a + 5;
    float *restrict a3 = a + 30;
    float *restrict a4 = a + 155;
    float dxa2[5];
    float dxa3[5];
    float dxa4[5];
    float t1[5];
    float *restrict p2a = w + 0;
    float *restrict q2a = w + 25;
    float dxb2[5];
    float dxb3[5];
    float dxb4[5];
    float *restrict p2b = w + 50;
    float *restrict q2b = w + 75;
    float dxc2[5];
    float dxc3[5];
    float dxc4[5];
    float *restrict p2c = w + 100;
    float *restrict q2c = w + 125;
    /* increment dxa: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxa2[i] = dxa[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxa3[i] = dxa[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxa4[i] = dxa[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa4[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2a[p * 5 + j] = a2[p * 5 + j] + l * dxa3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa3[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2a[p * 5 + j] = a2[p * 5 + j] + l * dxa2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa2[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxa[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxa[i];
    /* increment dxb: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxb2[i] = dxb[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxb3[i] = dxb[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxb4[i] = dxb[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb4[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2b[p * 5 + j] = a2[p * 5 + j] + l * dxb3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb3[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2b[p * 5 + j] = a2[p * 5 + j] + l * dxb2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb2[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxb[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxb[i];
    /* increment dxc: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxc2[i] = dxc[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxc3[i] = dxc[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxc4[i] = dxc[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc4[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2c[p * 5 + j] = a2[p * 5 + j] + l * dxc3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc3[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2c[p * 5 + j] = a2[p * 5 + j] + l * dxc2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc2[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxc[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxc[i];
    /* degrees 3 and 4: the 3 increments in one pass over level 3 */
    for (int u = 0; u < 25; ++u) {
        const float lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u];
        float *restrict bw = a3 + u * 5;
        float *restrict tw = a4 + u * 25;
        { /* letters 0..2 */
            float b0 = bw[0];
            const float t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const float t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const float t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            bw[0] = b0;
            float b1 = bw[1];
            const float t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const float t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const float t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            bw[1] = b1;
            float b2 = bw[2];
            const float t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const float t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const float t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            bw[2] = b2;
            for (int v = 0; v < 5; ++v) {
                float x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2;
            }
        }
        { /* letters 3..4 */
            float b0 = bw[3];
            const float t0_0 = b0 + lp0 * dxa2[3];
            b0 = b0 + lq0 * dxa[3];
            const float t0_1 = b0 + lp1 * dxb2[3];
            b0 = b0 + lq1 * dxb[3];
            const float t0_2 = b0 + lp2 * dxc2[3];
            b0 = b0 + lq2 * dxc[3];
            bw[3] = b0;
            float b1 = bw[4];
            const float t1_0 = b1 + lp0 * dxa2[4];
            b1 = b1 + lq0 * dxa[4];
            const float t1_1 = b1 + lp1 * dxb2[4];
            b1 = b1 + lq1 * dxb[4];
            const float t1_2 = b1 + lp2 * dxc2[4];
            b1 = b1 + lq2 * dxc[4];
            bw[4] = b1;
            for (int v = 0; v < 5; ++v) {
                float x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[15 + v] = tw[15 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[20 + v] = tw[20 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
            }
        }
    }

}
#endif

#if BUILD_F32_BACKWARD
/* Adjoint of exp_step: g becomes the adjoint of the state before the step; returns gdx.
 * 2315 multiply-adds per path per time step. */
static void exp_step_vjp_f32s(const float *restrict a, const float *restrict dx, float *restrict g, float *restrict gdx, float *restrict w)
{
    const float *restrict a1 = a + 0;
    float *restrict g1 = g + 0;
    const float *restrict a2 = a + 5;
    float *restrict g2 = g + 5;
    const float *restrict a3 = a + 30;
    float *restrict g3 = g + 30;
    float *restrict g4 = g + 155;
    float dx2[5];
    float dx3[5];
    float dx4[5];
    float t1[5];
    float u1[5];
    float *restrict t2 = w + 0;
    float *restrict u2 = w + 25;
    float *restrict t3 = w + 50;
    float *restrict u3 = w + 175;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dx4[i] = dx[i] * (float)(1.0 / 4);
    /* degree 1: a1 += dx */
    for (int i = 0; i < 5; ++i) gdx[i] = g1[i];
    /* degree 2: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    {
        float sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (float)0;
        for (int p = 0; p < 5; ++p) {
            const float l = t1[p];
            float acc = (float)0;
            for (int j = 0; j < 5; ++j) {
                const float gv = g2[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (float)(1.0 / 2);
    /* degree 3: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    {
        float sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (float)0;
        for (int p = 0; p < 25; ++p) {
            const float l = t2[p];
            float acc = (float)0;
            for (int j = 0; j < 5; ++j) {
                const float gv = g3[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 25; ++i) g2[i] = g2[i] + u2[i];
    {
        float sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (float)0;
        for (int p = 0; p < 5; ++p) {
            const float l = t1[p];
            float acc = (float)0;
            for (int j = 0; j < 5; ++j) {
                const float gv = u2[p * 5 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (float)(1.0 / 2);
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (float)(1.0 / 3);
    /* degree 4: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx4[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const float l = t2[p];
        for (int j = 0; j < 5; ++j)
            t3[p * 5 + j] = a3[p * 5 + j] + l * dx2[j];
    }
    {
        float sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (float)0;
        for (int p = 0; p < 125; ++p) {
            const float l = t3[p];
            float acc = (float)0;
            for (int j = 0; j < 5; ++j) {
                const float gv = g4[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u3[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 125; ++i) g3[i] = g3[i] + u3[i];
    {
        float sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (float)0;
        for (int p = 0; p < 25; ++p) {
            const float l = t2[p];
            float acc = (float)0;
            for (int j = 0; j < 5; ++j) {
                const float gv = u3[p * 5 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (float)(1.0 / 2);
    }
    for (int i = 0; i < 25; ++i) g2[i] = g2[i] + u2[i];
    {
        float sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (float)0;
        for (int p = 0; p < 5; ++p) {
            const float l = t1[p];
            float acc = (float)0;
            for (int j = 0; j < 5; ++j) {
                const float gv = u2[p * 5 + j];
                acc += gv * dx3[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (float)(1.0 / 3);
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (float)(1.0 / 4);
}
#endif

#if BUILD_F32_BACKWARD
/* exp_step on levels 1..3 only: the backward pass walks the state back with it, as nothing there reads the top level.
 * 200 multiply-adds per path per time step. */
static void exp_step_lower_f32s(float *restrict a, const float *restrict dx, float *restrict w)
{
    float *restrict a1 = a + 0;
    float *restrict a2 = a + 5;
    float *restrict a3 = a + 30;
    float dx2[5];
    float dx3[5];
    float t1[5];
    float *restrict t2 = w + 0;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (float)(1.0 / 3);
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const float l = t2[p];
        for (int j = 0; j < 5; ++j)
            a3[p * 5 + j] = a3[p * 5 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 5; ++p) {
        const float l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if !SIGCODEGEN_WIDE_STEPS /* the fused steps, 3 increments per call */
/* the scratch (vectors) of the forward's fused steps; SCRATCH (the backward's) is the narrow one's */
#define FUSED_SCRATCH_f32 300

#if BUILD_F32_FORWARD
/* exp_step for 3 increment(s) in a row, the top level updated once for all of them.
 * 2955 multiply-adds per path per 3 time step(s), each on a vector of paths. */
static void exp_steps_f32v(vec_f32 *restrict a, const vec_f32 *restrict dxa, const vec_f32 *restrict dxb, const vec_f32 *restrict dxc, vec_f32 *restrict w)
{
    vec_f32 *restrict a1 = a + 0;
    vec_f32 *restrict a2 = a + 5;
    vec_f32 *restrict a3 = a + 30;
    vec_f32 *restrict a4 = a + 155;
    vec_f32 dxa2[5];
    vec_f32 dxa3[5];
    vec_f32 dxa4[5];
    vec_f32 t1[5];
    vec_f32 *restrict p2a = w + 0;
    vec_f32 *restrict q2a = w + 25;
    vec_f32 dxb2[5];
    vec_f32 dxb3[5];
    vec_f32 dxb4[5];
    vec_f32 *restrict p2b = w + 50;
    vec_f32 *restrict q2b = w + 75;
    vec_f32 dxc2[5];
    vec_f32 dxc3[5];
    vec_f32 dxc4[5];
    vec_f32 *restrict p2c = w + 100;
    vec_f32 *restrict q2c = w + 125;
    /* increment dxa: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxa2[i] = dxa[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxa3[i] = dxa[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxa4[i] = dxa[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2a[p * 5 + j] = a2[p * 5 + j] + l * dxa3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2a[p * 5 + j] = a2[p * 5 + j] + l * dxa2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxa[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxa[i];
    /* increment dxb: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxb2[i] = dxb[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxb3[i] = dxb[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxb4[i] = dxb[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2b[p * 5 + j] = a2[p * 5 + j] + l * dxb3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2b[p * 5 + j] = a2[p * 5 + j] + l * dxb2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxb[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxb[i];
    /* increment dxc: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxc2[i] = dxc[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxc3[i] = dxc[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxc4[i] = dxc[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2c[p * 5 + j] = a2[p * 5 + j] + l * dxc3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2c[p * 5 + j] = a2[p * 5 + j] + l * dxc2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxc[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxc[i];
    /* degrees 3 and 4: the 3 increments in one pass over level 3 */
    #if SIGCODEGEN_VECTOR_BYTES >= 64 /* 32 vector registers */
    for (int u = 0; u < 25; ++u) {
        const vec_f32 lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u];
        vec_f32 *restrict bw = a3 + u * 5;
        vec_f32 *restrict tw = a4 + u * 25;
        { /* letters 0..4 */
            vec_f32 b0 = bw[0];
            const vec_f32 t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const vec_f32 t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const vec_f32 t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            bw[0] = b0;
            vec_f32 b1 = bw[1];
            const vec_f32 t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const vec_f32 t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const vec_f32 t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            bw[1] = b1;
            vec_f32 b2 = bw[2];
            const vec_f32 t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const vec_f32 t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const vec_f32 t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            bw[2] = b2;
            vec_f32 b3 = bw[3];
            const vec_f32 t3_0 = b3 + lp0 * dxa2[3];
            b3 = b3 + lq0 * dxa[3];
            const vec_f32 t3_1 = b3 + lp1 * dxb2[3];
            b3 = b3 + lq1 * dxb[3];
            const vec_f32 t3_2 = b3 + lp2 * dxc2[3];
            b3 = b3 + lq2 * dxc[3];
            bw[3] = b3;
            vec_f32 b4 = bw[4];
            const vec_f32 t4_0 = b4 + lp0 * dxa2[4];
            b4 = b4 + lq0 * dxa[4];
            const vec_f32 t4_1 = b4 + lp1 * dxb2[4];
            b4 = b4 + lq1 * dxb[4];
            const vec_f32 t4_2 = b4 + lp2 * dxc2[4];
            b4 = b4 + lq2 * dxc[4];
            bw[4] = b4;
            for (int v = 0; v < 5; ++v) {
                vec_f32 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2;
                tw[15 + v] = tw[15 + v] + t3_0 * x0 + t3_1 * x1 + t3_2 * x2;
                tw[20 + v] = tw[20 + v] + t4_0 * x0 + t4_1 * x1 + t4_2 * x2;
            }
        }
    }
#else
    for (int u = 0; u < 25; ++u) {
        const vec_f32 lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u];
        vec_f32 *restrict bw = a3 + u * 5;
        vec_f32 *restrict tw = a4 + u * 25;
        { /* letters 0..2 */
            vec_f32 b0 = bw[0];
            const vec_f32 t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const vec_f32 t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const vec_f32 t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            bw[0] = b0;
            vec_f32 b1 = bw[1];
            const vec_f32 t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const vec_f32 t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const vec_f32 t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            bw[1] = b1;
            vec_f32 b2 = bw[2];
            const vec_f32 t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const vec_f32 t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const vec_f32 t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            bw[2] = b2;
            for (int v = 0; v < 5; ++v) {
                vec_f32 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2;
            }
        }
        { /* letters 3..4 */
            vec_f32 b0 = bw[3];
            const vec_f32 t0_0 = b0 + lp0 * dxa2[3];
            b0 = b0 + lq0 * dxa[3];
            const vec_f32 t0_1 = b0 + lp1 * dxb2[3];
            b0 = b0 + lq1 * dxb[3];
            const vec_f32 t0_2 = b0 + lp2 * dxc2[3];
            b0 = b0 + lq2 * dxc[3];
            bw[3] = b0;
            vec_f32 b1 = bw[4];
            const vec_f32 t1_0 = b1 + lp0 * dxa2[4];
            b1 = b1 + lq0 * dxa[4];
            const vec_f32 t1_1 = b1 + lp1 * dxb2[4];
            b1 = b1 + lq1 * dxb[4];
            const vec_f32 t1_2 = b1 + lp2 * dxc2[4];
            b1 = b1 + lq2 * dxc[4];
            bw[4] = b1;
            for (int v = 0; v < 5; ++v) {
                vec_f32 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[15 + v] = tw[15 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[20 + v] = tw[20 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
            }
        }
    }
#endif

}
#endif
#endif /* !SIGCODEGEN_WIDE_STEPS */

#if SIGCODEGEN_WIDE_STEPS /* the fused steps, 6 increments per call */
/* the scratch (vectors) of the forward's fused steps; SCRATCH (the backward's) is the narrow one's */
#define FUSED_SCRATCH_f32 300

#if BUILD_F32_FORWARD
/* exp_step for 6 increment(s) in a row, the top level updated once for all of them.
 * 5910 multiply-adds per path per 6 time step(s), each on a vector of paths. */
static void exp_steps_f32v(vec_f32 *restrict a, const vec_f32 *restrict dxa, const vec_f32 *restrict dxb, const vec_f32 *restrict dxc, const vec_f32 *restrict dxd, const vec_f32 *restrict dxe, const vec_f32 *restrict dxf, vec_f32 *restrict w)
{
    vec_f32 *restrict a1 = a + 0;
    vec_f32 *restrict a2 = a + 5;
    vec_f32 *restrict a3 = a + 30;
    vec_f32 *restrict a4 = a + 155;
    vec_f32 dxa2[5];
    vec_f32 dxa3[5];
    vec_f32 dxa4[5];
    vec_f32 t1[5];
    vec_f32 *restrict p2a = w + 0;
    vec_f32 *restrict q2a = w + 25;
    vec_f32 dxb2[5];
    vec_f32 dxb3[5];
    vec_f32 dxb4[5];
    vec_f32 *restrict p2b = w + 50;
    vec_f32 *restrict q2b = w + 75;
    vec_f32 dxc2[5];
    vec_f32 dxc3[5];
    vec_f32 dxc4[5];
    vec_f32 *restrict p2c = w + 100;
    vec_f32 *restrict q2c = w + 125;
    vec_f32 dxd2[5];
    vec_f32 dxd3[5];
    vec_f32 dxd4[5];
    vec_f32 *restrict p2d = w + 150;
    vec_f32 *restrict q2d = w + 175;
    vec_f32 dxe2[5];
    vec_f32 dxe3[5];
    vec_f32 dxe4[5];
    vec_f32 *restrict p2e = w + 200;
    vec_f32 *restrict q2e = w + 225;
    vec_f32 dxf2[5];
    vec_f32 dxf3[5];
    vec_f32 dxf4[5];
    vec_f32 *restrict p2f = w + 250;
    vec_f32 *restrict q2f = w + 275;
    /* increment dxa: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxa2[i] = dxa[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxa3[i] = dxa[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxa4[i] = dxa[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2a[p * 5 + j] = a2[p * 5 + j] + l * dxa3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2a[p * 5 + j] = a2[p * 5 + j] + l * dxa2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxa[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxa[i];
    /* increment dxb: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxb2[i] = dxb[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxb3[i] = dxb[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxb4[i] = dxb[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2b[p * 5 + j] = a2[p * 5 + j] + l * dxb3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2b[p * 5 + j] = a2[p * 5 + j] + l * dxb2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxb[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxb[i];
    /* increment dxc: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxc2[i] = dxc[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxc3[i] = dxc[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxc4[i] = dxc[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2c[p * 5 + j] = a2[p * 5 + j] + l * dxc3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2c[p * 5 + j] = a2[p * 5 + j] + l * dxc2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxc[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxc[i];
    /* increment dxd: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxd2[i] = dxd[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxd3[i] = dxd[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxd4[i] = dxd[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxd4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2d[p * 5 + j] = a2[p * 5 + j] + l * dxd3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxd3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2d[p * 5 + j] = a2[p * 5 + j] + l * dxd2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxd2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxd[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxd[i];
    /* increment dxe: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxe2[i] = dxe[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxe3[i] = dxe[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxe4[i] = dxe[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxe4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2e[p * 5 + j] = a2[p * 5 + j] + l * dxe3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxe3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2e[p * 5 + j] = a2[p * 5 + j] + l * dxe2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxe2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxe[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxe[i];
    /* increment dxf: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxf2[i] = dxf[i] * (float)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxf3[i] = dxf[i] * (float)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxf4[i] = dxf[i] * (float)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxf4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2f[p * 5 + j] = a2[p * 5 + j] + l * dxf3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxf3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2f[p * 5 + j] = a2[p * 5 + j] + l * dxf2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxf2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f32 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxf[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxf[i];
    /* degrees 3 and 4: the 6 increments in one pass over level 3 */
    #if SIGCODEGEN_VECTOR_BYTES >= 64 /* 32 vector registers */
    for (int u = 0; u < 25; ++u) {
        const vec_f32 lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u], lp3 = p2d[u], lq3 = q2d[u], lp4 = p2e[u], lq4 = q2e[u], lp5 = p2f[u], lq5 = q2f[u];
        vec_f32 *restrict bw = a3 + u * 5;
        vec_f32 *restrict tw = a4 + u * 25;
        { /* letters 0..4 */
            vec_f32 b0 = bw[0];
            const vec_f32 t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const vec_f32 t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const vec_f32 t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            const vec_f32 t0_3 = b0 + lp3 * dxd2[0];
            b0 = b0 + lq3 * dxd[0];
            const vec_f32 t0_4 = b0 + lp4 * dxe2[0];
            b0 = b0 + lq4 * dxe[0];
            const vec_f32 t0_5 = b0 + lp5 * dxf2[0];
            b0 = b0 + lq5 * dxf[0];
            bw[0] = b0;
            vec_f32 b1 = bw[1];
            const vec_f32 t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const vec_f32 t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const vec_f32 t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            const vec_f32 t1_3 = b1 + lp3 * dxd2[1];
            b1 = b1 + lq3 * dxd[1];
            const vec_f32 t1_4 = b1 + lp4 * dxe2[1];
            b1 = b1 + lq4 * dxe[1];
            const vec_f32 t1_5 = b1 + lp5 * dxf2[1];
            b1 = b1 + lq5 * dxf[1];
            bw[1] = b1;
            vec_f32 b2 = bw[2];
            const vec_f32 t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const vec_f32 t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const vec_f32 t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            const vec_f32 t2_3 = b2 + lp3 * dxd2[2];
            b2 = b2 + lq3 * dxd[2];
            const vec_f32 t2_4 = b2 + lp4 * dxe2[2];
            b2 = b2 + lq4 * dxe[2];
            const vec_f32 t2_5 = b2 + lp5 * dxf2[2];
            b2 = b2 + lq5 * dxf[2];
            bw[2] = b2;
            vec_f32 b3 = bw[3];
            const vec_f32 t3_0 = b3 + lp0 * dxa2[3];
            b3 = b3 + lq0 * dxa[3];
            const vec_f32 t3_1 = b3 + lp1 * dxb2[3];
            b3 = b3 + lq1 * dxb[3];
            const vec_f32 t3_2 = b3 + lp2 * dxc2[3];
            b3 = b3 + lq2 * dxc[3];
            const vec_f32 t3_3 = b3 + lp3 * dxd2[3];
            b3 = b3 + lq3 * dxd[3];
            const vec_f32 t3_4 = b3 + lp4 * dxe2[3];
            b3 = b3 + lq4 * dxe[3];
            const vec_f32 t3_5 = b3 + lp5 * dxf2[3];
            b3 = b3 + lq5 * dxf[3];
            bw[3] = b3;
            vec_f32 b4 = bw[4];
            const vec_f32 t4_0 = b4 + lp0 * dxa2[4];
            b4 = b4 + lq0 * dxa[4];
            const vec_f32 t4_1 = b4 + lp1 * dxb2[4];
            b4 = b4 + lq1 * dxb[4];
            const vec_f32 t4_2 = b4 + lp2 * dxc2[4];
            b4 = b4 + lq2 * dxc[4];
            const vec_f32 t4_3 = b4 + lp3 * dxd2[4];
            b4 = b4 + lq3 * dxd[4];
            const vec_f32 t4_4 = b4 + lp4 * dxe2[4];
            b4 = b4 + lq4 * dxe[4];
            const vec_f32 t4_5 = b4 + lp5 * dxf2[4];
            b4 = b4 + lq5 * dxf[4];
            bw[4] = b4;
            for (int v = 0; v < 5; ++v) {
                vec_f32 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v], x3 = dxd[v], x4 = dxe[v], x5 = dxf[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2 + t0_3 * x3 + t0_4 * x4 + t0_5 * x5;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2 + t1_3 * x3 + t1_4 * x4 + t1_5 * x5;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2 + t2_3 * x3 + t2_4 * x4 + t2_5 * x5;
                tw[15 + v] = tw[15 + v] + t3_0 * x0 + t3_1 * x1 + t3_2 * x2 + t3_3 * x3 + t3_4 * x4 + t3_5 * x5;
                tw[20 + v] = tw[20 + v] + t4_0 * x0 + t4_1 * x1 + t4_2 * x2 + t4_3 * x3 + t4_4 * x4 + t4_5 * x5;
            }
        }
    }
#else
    for (int u = 0; u < 25; ++u) {
        const vec_f32 lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u], lp3 = p2d[u], lq3 = q2d[u], lp4 = p2e[u], lq4 = q2e[u], lp5 = p2f[u], lq5 = q2f[u];
        vec_f32 *restrict bw = a3 + u * 5;
        vec_f32 *restrict tw = a4 + u * 25;
        { /* letters 0..2 */
            vec_f32 b0 = bw[0];
            const vec_f32 t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const vec_f32 t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const vec_f32 t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            const vec_f32 t0_3 = b0 + lp3 * dxd2[0];
            b0 = b0 + lq3 * dxd[0];
            const vec_f32 t0_4 = b0 + lp4 * dxe2[0];
            b0 = b0 + lq4 * dxe[0];
            const vec_f32 t0_5 = b0 + lp5 * dxf2[0];
            b0 = b0 + lq5 * dxf[0];
            bw[0] = b0;
            vec_f32 b1 = bw[1];
            const vec_f32 t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const vec_f32 t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const vec_f32 t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            const vec_f32 t1_3 = b1 + lp3 * dxd2[1];
            b1 = b1 + lq3 * dxd[1];
            const vec_f32 t1_4 = b1 + lp4 * dxe2[1];
            b1 = b1 + lq4 * dxe[1];
            const vec_f32 t1_5 = b1 + lp5 * dxf2[1];
            b1 = b1 + lq5 * dxf[1];
            bw[1] = b1;
            vec_f32 b2 = bw[2];
            const vec_f32 t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const vec_f32 t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const vec_f32 t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            const vec_f32 t2_3 = b2 + lp3 * dxd2[2];
            b2 = b2 + lq3 * dxd[2];
            const vec_f32 t2_4 = b2 + lp4 * dxe2[2];
            b2 = b2 + lq4 * dxe[2];
            const vec_f32 t2_5 = b2 + lp5 * dxf2[2];
            b2 = b2 + lq5 * dxf[2];
            bw[2] = b2;
            for (int v = 0; v < 5; ++v) {
                vec_f32 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v], x3 = dxd[v], x4 = dxe[v], x5 = dxf[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2 + t0_3 * x3 + t0_4 * x4 + t0_5 * x5;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2 + t1_3 * x3 + t1_4 * x4 + t1_5 * x5;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2 + t2_3 * x3 + t2_4 * x4 + t2_5 * x5;
            }
        }
        { /* letters 3..4 */
            vec_f32 b0 = bw[3];
            const vec_f32 t0_0 = b0 + lp0 * dxa2[3];
            b0 = b0 + lq0 * dxa[3];
            const vec_f32 t0_1 = b0 + lp1 * dxb2[3];
            b0 = b0 + lq1 * dxb[3];
            const vec_f32 t0_2 = b0 + lp2 * dxc2[3];
            b0 = b0 + lq2 * dxc[3];
            const vec_f32 t0_3 = b0 + lp3 * dxd2[3];
            b0 = b0 + lq3 * dxd[3];
            const vec_f32 t0_4 = b0 + lp4 * dxe2[3];
            b0 = b0 + lq4 * dxe[3];
            const vec_f32 t0_5 = b0 + lp5 * dxf2[3];
            b0 = b0 + lq5 * dxf[3];
            bw[3] = b0;
            vec_f32 b1 = bw[4];
            const vec_f32 t1_0 = b1 + lp0 * dxa2[4];
            b1 = b1 + lq0 * dxa[4];
            const vec_f32 t1_1 = b1 + lp1 * dxb2[4];
            b1 = b1 + lq1 * dxb[4];
            const vec_f32 t1_2 = b1 + lp2 * dxc2[4];
            b1 = b1 + lq2 * dxc[4];
            const vec_f32 t1_3 = b1 + lp3 * dxd2[4];
            b1 = b1 + lq3 * dxd[4];
            const vec_f32 t1_4 = b1 + lp4 * dxe2[4];
            b1 = b1 + lq4 * dxe[4];
            const vec_f32 t1_5 = b1 + lp5 * dxf2[4];
            b1 = b1 + lq5 * dxf[4];
            bw[4] = b1;
            for (int v = 0; v < 5; ++v) {
                vec_f32 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v], x3 = dxd[v], x4 = dxe[v], x5 = dxf[v];

                tw[15 + v] = tw[15 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2 + t0_3 * x3 + t0_4 * x4 + t0_5 * x5;
                tw[20 + v] = tw[20 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2 + t1_3 * x3 + t1_4 * x4 + t1_5 * x5;
            }
        }
    }
#endif

}
#endif
#endif /* SIGCODEGEN_WIDE_STEPS */

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

/* r[i][k] <-> r[k][i]: a LANES x LANES tile transposed in registers, log2(LANES) rounds of
 * two-vector shuffles (GCC's __builtin_shuffle: one vpermt2ps each with AVX-512), 64 shuffles
 * for 16 float lanes where an element-wise copy costs ~31 instructions per 16 elements; other
 * compilers copy element-wise. */
typedef int32_t ivec_f32 __attribute__((vector_size(SIGCODEGEN_VECTOR_BYTES)));
static inline void transpose_f32(vec_f32 *r)
{
#if defined(__GNUC__) && !defined(__clang__) && SIGCODEGEN_VECTOR_BYTES >= 16 && SIGCODEGEN_VECTOR_BYTES <= 64
#if SIGCODEGEN_VECTOR_BYTES == 16 /* 4 lanes */
    { /* swap the off-diagonal 2 x 2 blocks */
        const ivec_f32 lo = {0, 1, 4, 5};
        const ivec_f32 hi = {2, 3, 6, 7};
        const vec_f32 a0 = r[0], b0 = r[2];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[2] = __builtin_shuffle(a0, b0, hi);
        const vec_f32 a1 = r[1], b1 = r[3];
        r[1] = __builtin_shuffle(a1, b1, lo);
        r[3] = __builtin_shuffle(a1, b1, hi);
    }
    { /* swap the off-diagonal 1 x 1 blocks */
        const ivec_f32 lo = {0, 4, 2, 6};
        const ivec_f32 hi = {1, 5, 3, 7};
        const vec_f32 a0 = r[0], b0 = r[1];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[1] = __builtin_shuffle(a0, b0, hi);
        const vec_f32 a2 = r[2], b2 = r[3];
        r[2] = __builtin_shuffle(a2, b2, lo);
        r[3] = __builtin_shuffle(a2, b2, hi);
    }
#elif SIGCODEGEN_VECTOR_BYTES == 32 /* 8 lanes */
    { /* swap the off-diagonal 4 x 4 blocks */
        const ivec_f32 lo = {0, 1, 2, 3, 8, 9, 10, 11};
        const ivec_f32 hi = {4, 5, 6, 7, 12, 13, 14, 15};
        const vec_f32 a0 = r[0], b0 = r[4];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[4] = __builtin_shuffle(a0, b0, hi);
        const vec_f32 a1 = r[1], b1 = r[5];
        r[1] = __builtin_shuffle(a1, b1, lo);
        r[5] = __builtin_shuffle(a1, b1, hi);
        const vec_f32 a2 = r[2], b2 = r[6];
        r[2] = __builtin_shuffle(a2, b2, lo);
        r[6] = __builtin_shuffle(a2, b2, hi);
        const vec_f32 a3 = r[3], b3 = r[7];
        r[3] = __builtin_shuffle(a3, b3, lo);
        r[7] = __builtin_shuffle(a3, b3, hi);
    }
    { /* swap the off-diagonal 2 x 2 blocks */
        const ivec_f32 lo = {0, 1, 8, 9, 4, 5, 12, 13};
        const ivec_f32 hi = {2, 3, 10, 11, 6, 7, 14, 15};
        const vec_f32 a0 = r[0], b0 = r[2];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[2] = __builtin_shuffle(a0, b0, hi);
        const vec_f32 a1 = r[1], b1 = r[3];
        r[1] = __builtin_shuffle(a1, b1, lo);
        r[3] = __builtin_shuffle(a1, b1, hi);
        const vec_f32 a4 = r[4], b4 = r[6];
        r[4] = __builtin_shuffle(a4, b4, lo);
        r[6] = __builtin_shuffle(a4, b4, hi);
        const vec_f32 a5 = r[5], b5 = r[7];
        r[5] = __builtin_shuffle(a5, b5, lo);
        r[7] = __builtin_shuffle(a5, b5, hi);
    }
    { /* swap the off-diagonal 1 x 1 blocks */
        const ivec_f32 lo = {0, 8, 2, 10, 4, 12, 6, 14};
        const ivec_f32 hi = {1, 9, 3, 11, 5, 13, 7, 15};
        const vec_f32 a0 = r[0], b0 = r[1];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[1] = __builtin_shuffle(a0, b0, hi);
        const vec_f32 a2 = r[2], b2 = r[3];
        r[2] = __builtin_shuffle(a2, b2, lo);
        r[3] = __builtin_shuffle(a2, b2, hi);
        const vec_f32 a4 = r[4], b4 = r[5];
        r[4] = __builtin_shuffle(a4, b4, lo);
        r[5] = __builtin_shuffle(a4, b4, hi);
        const vec_f32 a6 = r[6], b6 = r[7];
        r[6] = __builtin_shuffle(a6, b6, lo);
        r[7] = __builtin_shuffle(a6, b6, hi);
    }
#elif SIGCODEGEN_VECTOR_BYTES == 64 /* 16 lanes */
    { /* swap the off-diagonal 8 x 8 blocks */
        const ivec_f32 lo = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
        const ivec_f32 hi = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
        const vec_f32 a0 = r[0], b0 = r[8];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[8] = __builtin_shuffle(a0, b0, hi);
        const vec_f32 a1 = r[1], b1 = r[9];
        r[1] = __builtin_shuffle(a1, b1, lo);
        r[9] = __builtin_shuffle(a1, b1, hi);
        const vec_f32 a2 = r[2], b2 = r[10];
        r[2] = __builtin_shuffle(a2, b2, lo);
        r[10] = __builtin_shuffle(a2, b2, hi);
        const vec_f32 a3 = r[3], b3 = r[11];
        r[3] = __builtin_shuffle(a3, b3, lo);
        r[11] = __builtin_shuffle(a3, b3, hi);
        const vec_f32 a4 = r[4], b4 = r[12];
        r[4] = __builtin_shuffle(a4, b4, lo);
        r[12] = __builtin_shuffle(a4, b4, hi);
        const vec_f32 a5 = r[5], b5 = r[13];
        r[5] = __builtin_shuffle(a5, b5, lo);
        r[13] = __builtin_shuffle(a5, b5, hi);
        const vec_f32 a6 = r[6], b6 = r[14];
        r[6] = __builtin_shuffle(a6, b6, lo);
        r[14] = __builtin_shuffle(a6, b6, hi);
        const vec_f32 a7 = r[7], b7 = r[15];
        r[7] = __builtin_shuffle(a7, b7, lo);
        r[15] = __builtin_shuffle(a7, b7, hi);
    }
    { /* swap the off-diagonal 4 x 4 blocks */
        const ivec_f32 lo = {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27};
        const ivec_f32 hi = {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31};
        const vec_f32 a0 = r[0], b0 = r[4];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[4] = __builtin_shuffle(a0, b0, hi);
        const vec_f32 a1 = r[1], b1 = r[5];
        r[1] = __builtin_shuffle(a1, b1, lo);
        r[5] = __builtin_shuffle(a1, b1, hi);
        const vec_f32 a2 = r[2], b2 = r[6];
        r[2] = __builtin_shuffle(a2, b2, lo);
        r[6] = __builtin_shuffle(a2, b2, hi);
        const vec_f32 a3 = r[3], b3 = r[7];
        r[3] = __builtin_shuffle(a3, b3, lo);
        r[7] = __builtin_shuffle(a3, b3, hi);
        const vec_f32 a8 = r[8], b8 = r[12];
        r[8] = __builtin_shuffle(a8, b8, lo);
        r[12] = __builtin_shuffle(a8, b8, hi);
        const vec_f32 a9 = r[9], b9 = r[13];
        r[9] = __builtin_shuffle(a9, b9, lo);
        r[13] = __builtin_shuffle(a9, b9, hi);
        const vec_f32 a10 = r[10], b10 = r[14];
        r[10] = __builtin_shuffle(a10, b10, lo);
        r[14] = __builtin_shuffle(a10, b10, hi);
        const vec_f32 a11 = r[11], b11 = r[15];
        r[11] = __builtin_shuffle(a11, b11, lo);
        r[15] = __builtin_shuffle(a11, b11, hi);
    }
    { /* swap the off-diagonal 2 x 2 blocks */
        const ivec_f32 lo = {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29};
        const ivec_f32 hi = {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31};
        const vec_f32 a0 = r[0], b0 = r[2];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[2] = __builtin_shuffle(a0, b0, hi);
        const vec_f32 a1 = r[1], b1 = r[3];
        r[1] = __builtin_shuffle(a1, b1, lo);
        r[3] = __builtin_shuffle(a1, b1, hi);
        const vec_f32 a4 = r[4], b4 = r[6];
        r[4] = __builtin_shuffle(a4, b4, lo);
        r[6] = __builtin_shuffle(a4, b4, hi);
        const vec_f32 a5 = r[5], b5 = r[7];
        r[5] = __builtin_shuffle(a5, b5, lo);
        r[7] = __builtin_shuffle(a5, b5, hi);
        const vec_f32 a8 = r[8], b8 = r[10];
        r[8] = __builtin_shuffle(a8, b8, lo);
        r[10] = __builtin_shuffle(a8, b8, hi);
        const vec_f32 a9 = r[9], b9 = r[11];
        r[9] = __builtin_shuffle(a9, b9, lo);
        r[11] = __builtin_shuffle(a9, b9, hi);
        const vec_f32 a12 = r[12], b12 = r[14];
        r[12] = __builtin_shuffle(a12, b12, lo);
        r[14] = __builtin_shuffle(a12, b12, hi);
        const vec_f32 a13 = r[13], b13 = r[15];
        r[13] = __builtin_shuffle(a13, b13, lo);
        r[15] = __builtin_shuffle(a13, b13, hi);
    }
    { /* swap the off-diagonal 1 x 1 blocks */
        const ivec_f32 lo = {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30};
        const ivec_f32 hi = {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31};
        const vec_f32 a0 = r[0], b0 = r[1];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[1] = __builtin_shuffle(a0, b0, hi);
        const vec_f32 a2 = r[2], b2 = r[3];
        r[2] = __builtin_shuffle(a2, b2, lo);
        r[3] = __builtin_shuffle(a2, b2, hi);
        const vec_f32 a4 = r[4], b4 = r[5];
        r[4] = __builtin_shuffle(a4, b4, lo);
        r[5] = __builtin_shuffle(a4, b4, hi);
        const vec_f32 a6 = r[6], b6 = r[7];
        r[6] = __builtin_shuffle(a6, b6, lo);
        r[7] = __builtin_shuffle(a6, b6, hi);
        const vec_f32 a8 = r[8], b8 = r[9];
        r[8] = __builtin_shuffle(a8, b8, lo);
        r[9] = __builtin_shuffle(a8, b8, hi);
        const vec_f32 a10 = r[10], b10 = r[11];
        r[10] = __builtin_shuffle(a10, b10, lo);
        r[11] = __builtin_shuffle(a10, b10, hi);
        const vec_f32 a12 = r[12], b12 = r[13];
        r[12] = __builtin_shuffle(a12, b12, lo);
        r[13] = __builtin_shuffle(a12, b12, hi);
        const vec_f32 a14 = r[14], b14 = r[15];
        r[14] = __builtin_shuffle(a14, b14, lo);
        r[15] = __builtin_shuffle(a14, b14, hi);
    }
#endif
#else
    enum { W = LANES_f32 };
    float t[W][W];
    memcpy(t, r, sizeof t);
    for (int i = 0; i < W; ++i)
        for (int k = 0; k < W; ++k) r[i][k] = t[k][i];
#endif
}

#if BUILD_F32_FORWARD
/* rows[l][c] = state[c][l] for c < columns and every lane l with rows[l] (NULL: skipped), by
 * LANES x LANES tiles (transpose_f32) */
static inline void store_columns_f32(float *const *rows, const vec_f32 *state, int64_t columns)
{
    enum { W = LANES_f32 };
    for (int64_t c0 = 0; c0 < columns; c0 += W) {
        const int n = columns - c0 < W ? (int)(columns - c0) : W;
        vec_f32 r[W];
        if (n == W) {
            memcpy(r, state + c0, sizeof r);
        } else {
            memcpy(r, state + c0, n * sizeof(vec_f32));
            for (int i = n; i < W; ++i) r[i] = (vec_f32){0};
        }
        transpose_f32(r);
        for (int l = 0; l < W; ++l) {
            if (!rows[l]) continue;
            if (n == W) memcpy(rows[l] + c0, &r[l], sizeof r[l]);
            else memcpy(rows[l] + c0, &r[l], n * sizeof(float));
        }
    }
}
#endif

#if BUILD_F32_FORWARD
static void store_rows_f32(float *const *rows, const vec_f32 *state)
{
    store_columns_f32(rows, state, SIGLEN);
}

/* Tiles of columns of one lane's FUSED_STEPS * DIM increments (LANES columns each) */
#define INCREMENT_TILES_f32 ((FUSED_STEPS * DIM + LANES_f32 - 1) / LANES_f32)

/* dx[k * DIM + j] lane l = increment step + k of lane l, for k < FUSED_STEPS, when every lane
 * has those steps and may read INCREMENT_TILES * LANES + DIM values from its point `step`
 * (lane l's points start at first[l]): a lane's increments are differences of contiguous
 * values, taken a vector at a time and turned onto the lanes by transpose_f32 (the
 * per-lane, per-value copy of load_increment costs 15 % of the forward at A). */
static void load_increments_f32(vec_f32 *dx, const float *const *first, int64_t step)
{
    enum { W = LANES_f32, N = FUSED_STEPS * DIM };
    for (int t = 0; t < INCREMENT_TILES_f32; ++t) {
        vec_f32 r[W];
        for (int l = 0; l < W; ++l) {
            const float *pt = first[l] + step * DIM + t * W;
            vec_f32 a, b;
            memcpy(&a, pt, sizeof a);
            memcpy(&b, pt + DIM, sizeof b);
            r[l] = b - a;
        }
        transpose_f32(r);
        const int n = N - t * W < W ? N - t * W : W;
        memcpy(dx + t * W, r, n * sizeof(vec_f32));
    }
}
#endif

#if BUILD_F32_FORWARD
/* rows[lane path][row] = state, for the active lanes (row stride `columns`, path stride
 * rows_per_path) */
static void store_state_f32(float *rows, const vec_f32 *state, const lane_t *lanes,
                                int64_t rows_per_path, int64_t row, int64_t columns)
{
    float *dst[LANES_f32];
    for (int l = 0; l < LANES_f32; ++l)
        dst[l] = lanes[l].path < 0 ? NULL : rows + (lanes[l].path * rows_per_path + row) * columns;
    store_columns_f32(dst, state, columns);
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
/* The forward pass's tasks and their shared state: task `block` steps one block of LANES lanes
 * (virtual paths v = path * chunks + chunk) through its chunk of time. */
typedef struct {
    const float *x;
    float *out, *ends, *chunk_sigs;
    int64_t length, steps, chunks, chunk_steps, virtual_paths, batch;
    int stream;
    _Atomic int failed;
    vec_f32 *buffers[POOL_MAX_THREADS]; /* per worker: state + scratch, allocated on first use */
} forward_pass_f32;

#if !SIGCODEGEN_WIDE_STEPS
/* FUSED_STEPS increments (increment k at dx + k * DIM) on a block's state; `scratch` holds
 * SCRATCH + 1 + SUBTREE_VECTORS vectors */
static inline void fused_steps_f32(vec_f32 *state, const vec_f32 *dx, vec_f32 *scratch)
{
    exp_steps_f32v(state, dx + 0 * DIM, dx + 1 * DIM, dx + 2 * DIM, scratch);
}
#endif
#if SIGCODEGEN_WIDE_STEPS
/* FUSED_STEPS increments (increment k at dx + k * DIM) on a block's state; `scratch` holds
 * SCRATCH + 1 + SUBTREE_VECTORS vectors */
static inline void fused_steps_f32(vec_f32 *state, const vec_f32 *dx, vec_f32 *scratch)
{
    exp_steps_f32v(state, dx + 0 * DIM, dx + 1 * DIM, dx + 2 * DIM, dx + 3 * DIM, dx + 4 * DIM, dx + 5 * DIM, scratch);
}
#endif

static void forward_block_f32(void *arg, int64_t block, int worker)
{
    forward_pass_f32 *pass = arg;
    const int W = LANES_f32;
    size_t vectors = SIGLEN + FUSED_SCRATCH_f32 + 1 + SUBTREE_VECTORS;
    if (!pass->buffers[worker])
        pass->buffers[worker] = aligned_buffer(vectors * sizeof(vec_f32));
    vec_f32 *state = pass->buffers[worker];
    if (!state) {
        atomic_store(&pass->failed, 1);
        return;
    }
    vec_f32 *scratch = state + SIGLEN;
    const float *x = pass->x;
    const int64_t length = pass->length, steps = pass->steps, chunks = pass->chunks;
    const int64_t chunk_steps = pass->chunk_steps, virtual_paths = pass->virtual_paths;
    lane_t lanes[LANES_f32];
    for (int l = 0; l < W; ++l) {
        const int64_t v = block * W + l, chunk = v % chunks;
        lanes[l].path = v < virtual_paths ? v / chunks : -1;
        lanes[l].start = chunk * chunk_steps;
        lanes[l].steps = steps - lanes[l].start < chunk_steps ? steps - lanes[l].start : chunk_steps;
    }
    memset(state, 0, SIGLEN * sizeof(vec_f32));
    if (pass->stream) {
        for (int64_t step = 0; step < chunk_steps; ++step) {
            vec_f32 dx[DIM];
            load_increment_f32(dx, x, lanes, length, step, 1);
            exp_step_f32v(state, dx, scratch);
            if (pass->out) store_state_f32(pass->out, state, lanes, steps, step, SIGLEN);
        }
        return;
    }
    /* load_increments serves the steps up to `last` (every lane active, its FUSED_STEPS steps
     * there, and its vector reads inside x) */
    const float *first[LANES_f32];
    const int64_t values = pass->batch * length * DIM;
    int64_t last = chunk_steps - FUSED_STEPS;
    for (int l = 0; l < W; ++l) {
        if (lanes[l].path < 0) {
            last = -1;
            first[l] = x;
            continue;
        }
        const int64_t start = (lanes[l].path * length + lanes[l].start) * DIM;
        const int64_t inside = (values - start - DIM - INCREMENT_TILES_f32 * W) / DIM;
        first[l] = x + start;
        if (lanes[l].steps - FUSED_STEPS < last) last = lanes[l].steps - FUSED_STEPS;
        if (values - start - DIM - INCREMENT_TILES_f32 * W < 0) last = -1;
        else if (inside < last) last = inside;
    }
    const int64_t fused = chunk_steps - chunk_steps % FUSED_STEPS;
    for (int64_t step = 0; step < fused; step += FUSED_STEPS) { /* zero past a lane's end */
        vec_f32 dx[FUSED_STEPS * DIM];
        if (step <= last)
            load_increments_f32(dx, first, step);
        else
            for (int k = 0; k < FUSED_STEPS; ++k)
                load_increment_f32(dx + k * DIM, x, lanes, length, step + k, 1);
        fused_steps_f32(state, dx, scratch);
    }
    for (int64_t step = fused; step < chunk_steps; ++step) { /* the last chunk_steps % FUSED_STEPS */
        vec_f32 dx[DIM];
        load_increment_f32(dx, x, lanes, length, step, 1);
        exp_step_f32v(state, dx, scratch);
    }
    float *rows[LANES_f32]; /* chunk-level rows: virtual path v */
    for (int l = 0; l < W; ++l) {
        const int64_t v = block * W + l;
        rows[l] = v < virtual_paths ? pass->ends + v * SIGLEN : NULL;
    }
    store_rows_f32(rows, state);
}

/* Task b (paths one at a time, see LANE_MAX_BYTES): path b alone, its state in scalars. */
static void forward_row_f32(void *arg, int64_t b, int worker)
{
    forward_pass_f32 *pass = arg;
    size_t elements = SIGLEN + SCRATCH_f32 + 1;
    if (!pass->buffers[worker])
        pass->buffers[worker] = aligned_buffer(elements * sizeof(float));
    float *state = (float *)pass->buffers[worker];
    if (!state) {
        atomic_store(&pass->failed, 1);
        return;
    }
    float *scratch = state + SIGLEN;
    const float *x = pass->x + b * pass->length * DIM;
    const int64_t steps = pass->steps;
    memset(state, 0, SIGLEN * sizeof(float));
    int64_t step = 0;
    if (!pass->stream)
        for (; step + ROW_FUSED_STEPS <= steps; step += ROW_FUSED_STEPS) {
            float dx[ROW_FUSED_STEPS * DIM];
            for (int k = 0; k < ROW_FUSED_STEPS * DIM; ++k) dx[k] = x[step * DIM + DIM + k] - x[step * DIM + k];
            exp_steps_f32s(state, dx + 0 * DIM, dx + 1 * DIM, dx + 2 * DIM, scratch);
        }
    for (; step < steps; ++step) {
        float dx[DIM];
        for (int j = 0; j < DIM; ++j) dx[j] = x[(step + 1) * DIM + j] - x[step * DIM + j];
        exp_step_f32s(state, dx, scratch);
        if (!pass->stream) continue;
        if (pass->out) memcpy(pass->out + (b * steps + step) * SIGLEN, state, SIGLEN * sizeof(float));
    }
    if (pass->stream) return;
    if (pass->out) memcpy(pass->out + b * SIGLEN, state, SIGLEN * sizeof(float));
}

/* Task b joins path b's chunks left to right (Chen's identity). */
static void forward_join_f32(void *arg, int64_t b, int worker)
{
    forward_pass_f32 *pass = arg;
    const int64_t chunks = pass->chunks;
    float *acc = aligned_buffer(SIGLEN * sizeof(float));
    if (!acc) {
        atomic_store(&pass->failed, 1);
        return;
    }
    float *out = pass->out + b * SIGLEN;
    memcpy(acc, pass->chunk_sigs + b * chunks * SIGLEN, SIGLEN * sizeof(float));
    for (int64_t c = 1; c < chunks; ++c) {
        chen_f32s(acc, pass->chunk_sigs + (b * chunks + c) * SIGLEN, out);
        memcpy(acc, out, SIGLEN * sizeof(float));
    }
    memcpy(out, acc, SIGLEN * sizeof(float));
    free(acc);
}

/* The forward pass: the signature into out (NULL: not kept; only with `log`, which then gets
 * the log-signature, computed on the lanes after the last step or, when chunks were joined,
 * by sigcodegen_log on the joined rows). */
static int forward_run_f32(const float *x, int64_t batch, int64_t length, float *out,
                             int32_t stream, int32_t chunk_hint)
{
    const int64_t steps = length - 1;
    const int W = LANES_f32;
    if (batch <= 0 || steps <= 0) {
        if (!stream && batch > 0 && out) memset(out, 0, (size_t)batch * SIGLEN * sizeof(float));
        return SIGCODEGEN_OK;
    }
    size_t lane_bytes = (SIGLEN + FUSED_SCRATCH_f32 + 1 + SUBTREE_VECTORS) * sizeof(vec_f32);
    const int by_path = batch < W && lane_bytes > LANE_MAX_BYTES;
    int64_t chunks = stream || by_path ? 1 : chunk_hint > 0 ? chunk_hint : forward_chunks(batch, steps, W);
    if (chunks > steps) chunks = steps;
    forward_pass_f32 pass = {.x = x, .out = out, .length = length, .steps = steps,
                                .chunks = chunks, .chunk_steps = (steps + chunks - 1) / chunks,
                                .virtual_paths = batch * chunks, .batch = batch,
                                .stream = stream};
    const int64_t blocks = (pass.virtual_paths + W - 1) / W;
    pass.chunk_sigs = chunks > 1 ? aligned_buffer((size_t)pass.virtual_paths * SIGLEN * sizeof(float)) : NULL;
    int status = SIGCODEGEN_OK;
    if (chunks > 1 && !pass.chunk_sigs) status = SIGCODEGEN_NO_MEMORY;
    pass.ends = chunks > 1 ? pass.chunk_sigs : pass.out;
    if (!status && by_path) {
        sigcodegen_pool_run(batch, forward_row_f32, &pass,
                            team_size(batch, (double)batch * steps * STEP_OPS / W));
        if (atomic_load(&pass.failed)) status = SIGCODEGEN_NO_MEMORY;
    } else if (!status) {
        sigcodegen_pool_run(blocks, forward_block_f32, &pass,
                            team_size(blocks, (double)blocks * pass.chunk_steps * STEP_OPS));
        if (chunks > 1 && !atomic_load(&pass.failed))
            sigcodegen_pool_run(batch, forward_join_f32, &pass,
                                team_size(batch, (double)batch * chunks * CHEN_OPS / LANES_f32));
        if (atomic_load(&pass.failed)) status = SIGCODEGEN_NO_MEMORY;
    }
    for (int i = 0; i < POOL_MAX_THREADS; ++i) free(pass.buffers[i]);
    free(pass.chunk_sigs);
    return status;
}

/* Forward: x (B, L, DIM) -> out (B, SIGLEN), or every prefix (B, L-1, SIGLEN) when stream.
 * chunk_hint: time chunks per path (<= 0: the rule of forward_chunks; stream runs unchunked). */
int sigcodegen_forward_f32(const float *x, int64_t batch, int64_t length, float *out, int32_t stream,
                             int32_t chunk_hint)
{
    return forward_run_f32(x, batch, length, out, stream, chunk_hint);
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

/* The backward pass's tasks: task `block` walks one block of LANES paths back through time. */
typedef struct {
    const float *x, *y, *gy;
    float *gx;
    int64_t batch, length, steps, segment, checkpoints;
    int stream, mode;
    _Atomic int failed;
    vec_f32 *buffers[POOL_MAX_THREADS]; /* per worker: state, adjoint, scratch */
    vec_f32 *saved[POOL_MAX_THREADS];   /* per worker: checkpoints, when a block needs them */
} backward_pass_f32;

static void backward_block_f32(void *arg, int64_t block, int worker)
{
    backward_pass_f32 *pass = arg;
    const int W = LANES_f32;
    const int stream = pass->stream, mode = pass->mode;
    const int64_t steps = pass->steps, length = pass->length, batch = pass->batch;
    const int64_t segment = pass->segment, checkpoints = pass->checkpoints;
    const float *x = pass->x, *y = pass->y, *gy = pass->gy;
    float *gx = pass->gx;
    if (!pass->buffers[worker])
        pass->buffers[worker] = aligned_buffer((2 * SIGLEN + SCRATCH_f32 + 1) * sizeof(vec_f32));
    vec_f32 *state = pass->buffers[worker];
    if (!state) {
        atomic_store(&pass->failed, 1);
        return;
    }
    vec_f32 *adjoint = state + SIGLEN, *scratch = adjoint + SIGLEN;
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
        return;
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
        return;
    }
    /* checkpoints: states before steps 0, segment, 2*segment, ... (levels < DEPTH: the adjoint
     * never reads the top level) */
    if (!pass->saved[worker])
        pass->saved[worker] = aligned_buffer((size_t)(checkpoints + segment) * SIGLEN * sizeof(vec_f32));
    vec_f32 *saved = pass->saved[worker];
    if (!saved) {
        atomic_store(&pass->failed, 1);
        return;
    }
    vec_f32 *inside = saved + checkpoints * SIGLEN;
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

/* Task b (paths one at a time, see LANE_MAX_BYTES): path b alone walked back through time,
 * in scalars; the same choice of reversal or checkpoints as backward_block. */
static void backward_row_f32(void *arg, int64_t b, int worker)
{
    backward_pass_f32 *pass = arg;
    const int stream = pass->stream, mode = pass->mode;
    const int64_t steps = pass->steps, length = pass->length;
    const int64_t segment = pass->segment, checkpoints = pass->checkpoints;
    if (!pass->buffers[worker]) /* the checkpoints only when they are needed (below) */
        pass->buffers[worker] = aligned_buffer((2 * SIGLEN + SCRATCH_f32 + 1) * sizeof(float));
    float *state = (float *)pass->buffers[worker];
    if (!state) {
        atomic_store(&pass->failed, 1);
        return;
    }
    float *adjoint = state + SIGLEN, *scratch = adjoint + SIGLEN;
    const float *x = pass->x + b * length * DIM;
    float *gx = pass->gx + b * length * DIM;
    float dx[DIM], gdx[DIM];
#define INCREMENT(i) for (int j = 0; j < DIM; ++j) dx[j] = x[((i) + 1) * DIM + j] - x[(i) * DIM + j]
#define SCATTER(i) for (int j = 0; j < DIM; ++j) { gx[((i) + 1) * DIM + j] += gdx[j]; gx[(i) * DIM + j] -= gdx[j]; }
#define VJP(a) exp_step_vjp_f32s(a, dx, adjoint, gdx, scratch)
    if (stream) {
        memset(adjoint, 0, SIGLEN * sizeof(float));
        for (int64_t i = steps - 1; i >= 0; --i) {
            const float *g = pass->gy + (b * steps + i) * SIGLEN;
            for (int c = 0; c < SIGLEN; ++c) adjoint[c] += g[c];
            if (i > 0) memcpy(state, pass->y + (b * steps + i - 1) * SIGLEN, SIGLEN * sizeof(float));
            else memset(state, 0, SIGLEN * sizeof(float));
            INCREMENT(i);
            VJP(state);
            SCATTER(i);
        }
        return;
    }
    memcpy(adjoint, pass->gy + b * SIGLEN, SIGLEN * sizeof(float));
    memcpy(state, pass->y + b * SIGLEN, SIGLEN * sizeof(float));
    float largest = 0;
    for (int c = 0; c < SIGLEN; ++c) {
        const float a = state[c] < 0 ? -state[c] : state[c];
        if (!(a <= largest)) largest = a; /* NaN propagates into the test below */
    }
    const double eps = sizeof(float) == 4 ? 5.96e-8 : 1.11e-16;
    if (mode == 1 || (mode == 0 && (double)steps * eps * (double)largest <= REVERSAL_TOLERANCE)) {
        for (int64_t i = steps - 1; i >= 0; --i) {
            INCREMENT(i);
            for (int j = 0; j < DIM; ++j) dx[j] = -dx[j];
            exp_step_lower_f32s(state, dx, scratch); /* levels < DEPTH before step i */
            for (int j = 0; j < DIM; ++j) dx[j] = -dx[j];
            VJP(state);
            SCATTER(i);
        }
        return;
    }
    float *saved = aligned_buffer((size_t)(checkpoints + segment) * SIGLEN * sizeof(float));
    if (!saved) {
        atomic_store(&pass->failed, 1);
        return;
    }
    float *inside = saved + checkpoints * SIGLEN;
    memset(state, 0, SIGLEN * sizeof(float));
    for (int64_t i = 0; i < steps; ++i) {
        if (i % segment == 0) memcpy(saved + (i / segment) * SIGLEN, state, SIGLEN * sizeof(float));
        INCREMENT(i);
        exp_step_lower_f32s(state, dx, scratch);
    }
    for (int64_t s = checkpoints - 1; s >= 0; --s) {
        const int64_t first = s * segment, last = first + segment < steps ? first + segment : steps;
        memcpy(state, saved + s * SIGLEN, SIGLEN * sizeof(float));
        for (int64_t i = first; i < last; ++i) {
            memcpy(inside + (i - first) * SIGLEN, state, SIGLEN * sizeof(float));
            INCREMENT(i);
            exp_step_lower_f32s(state, dx, scratch);
        }
        for (int64_t i = last - 1; i >= first; --i) {
            INCREMENT(i);
            VJP(inside + (i - first) * SIGLEN);
            SCATTER(i);
        }
    }
    free(saved);
#undef INCREMENT
#undef SCATTER
#undef VJP
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
    backward_pass_f32 pass = {.x = x, .y = y, .gy = gy, .gx = gx, .batch = batch,
                                 .length = length, .steps = steps, .segment = segment,
                                 .checkpoints = (steps + segment - 1) / segment,
                                 .stream = stream, .mode = mode};
    const size_t lane_bytes = (2 * SIGLEN + SCRATCH_f32 + 1
                               + (stream ? 0 : (size_t)(pass.checkpoints + segment) * SIGLEN))
                              * sizeof(vec_f32);
    if (batch < W && lane_bytes > LANE_MAX_BYTES) /* one path at a time */
        sigcodegen_pool_run(batch, backward_row_f32, &pass,
                            team_size(batch, 4.0 * batch * steps * STEP_OPS / W));
    else
        sigcodegen_pool_run(blocks, backward_block_f32, &pass,
                            team_size(blocks, 4.0 * blocks * steps * STEP_OPS));
    for (int i = 0; i < POOL_MAX_THREADS; ++i) {
        free(pass.buffers[i]);
        free(pass.saved[i]);
    }
    return atomic_load(&pass.failed) ? SIGCODEGEN_NO_MEMORY : SIGCODEGEN_OK;
}
#endif
#endif /* float */

/* ======================= double =================================================== */
#if BUILD_F64_FORWARD || BUILD_F64_BACKWARD

typedef double vec_f64 __attribute__((vector_size(SIGCODEGEN_VECTOR_BYTES)));
#define LANES_f64 ((int)(SIGCODEGEN_VECTOR_BYTES / sizeof(double)))
#define SCRATCH_f64 300

#if BUILD_F64_FORWARD
/* One Chen step, state ⊗ exp(dx), in fused Horner form (levels updated top-down).
 * 985 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_f64v(vec_f64 *restrict a, const vec_f64 *restrict dx, vec_f64 *restrict w)
{
    vec_f64 *restrict a1 = a + 0;
    vec_f64 *restrict a2 = a + 5;
    vec_f64 *restrict a3 = a + 30;
    vec_f64 *restrict a4 = a + 155;
    vec_f64 dx2[5];
    vec_f64 dx3[5];
    vec_f64 dx4[5];
    vec_f64 t1[5];
    vec_f64 *restrict t2 = w + 0;
    vec_f64 *restrict t3 = w + 25;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dx4[i] = dx[i] * (double)(1.0 / 4);
    /* degree 4: Horner chain on the old levels 1..3 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const vec_f64 l = t2[p];
        for (int j = 0; j < 5; ++j)
            t3[p * 5 + j] = a3[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 125; ++p) {
        const vec_f64 l = t3[p];
        for (int j = 0; j < 5; ++j)
            a4[p * 5 + j] = a4[p * 5 + j] + l * dx[j];
    }
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const vec_f64 l = t2[p];
        for (int j = 0; j < 5; ++j)
            a3[p * 5 + j] = a3[p * 5 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if BUILD_F64_BACKWARD
/* Adjoint of exp_step: g becomes the adjoint of the state before the step; returns gdx.
 * 2315 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_vjp_f64v(const vec_f64 *restrict a, const vec_f64 *restrict dx, vec_f64 *restrict g, vec_f64 *restrict gdx, vec_f64 *restrict w)
{
    const vec_f64 *restrict a1 = a + 0;
    vec_f64 *restrict g1 = g + 0;
    const vec_f64 *restrict a2 = a + 5;
    vec_f64 *restrict g2 = g + 5;
    const vec_f64 *restrict a3 = a + 30;
    vec_f64 *restrict g3 = g + 30;
    vec_f64 *restrict g4 = g + 155;
    vec_f64 dx2[5];
    vec_f64 dx3[5];
    vec_f64 dx4[5];
    vec_f64 t1[5];
    vec_f64 u1[5];
    vec_f64 *restrict t2 = w + 0;
    vec_f64 *restrict u2 = w + 25;
    vec_f64 *restrict t3 = w + 50;
    vec_f64 *restrict u3 = w + 175;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dx4[i] = dx[i] * (double)(1.0 / 4);
    /* degree 1: a1 += dx */
    for (int i = 0; i < 5; ++i) gdx[i] = g1[i];
    /* degree 2: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    {
        vec_f64 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f64){0};
        for (int p = 0; p < 5; ++p) {
            const vec_f64 l = t1[p];
            vec_f64 acc = (vec_f64){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f64 gv = g2[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (double)(1.0 / 2);
    /* degree 3: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    {
        vec_f64 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f64){0};
        for (int p = 0; p < 25; ++p) {
            const vec_f64 l = t2[p];
            vec_f64 acc = (vec_f64){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f64 gv = g3[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 25; ++i) g2[i] = g2[i] + u2[i];
    {
        vec_f64 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f64){0};
        for (int p = 0; p < 5; ++p) {
            const vec_f64 l = t1[p];
            vec_f64 acc = (vec_f64){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f64 gv = u2[p * 5 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (double)(1.0 / 2);
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (double)(1.0 / 3);
    /* degree 4: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const vec_f64 l = t2[p];
        for (int j = 0; j < 5; ++j)
            t3[p * 5 + j] = a3[p * 5 + j] + l * dx2[j];
    }
    {
        vec_f64 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f64){0};
        for (int p = 0; p < 125; ++p) {
            const vec_f64 l = t3[p];
            vec_f64 acc = (vec_f64){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f64 gv = g4[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u3[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 125; ++i) g3[i] = g3[i] + u3[i];
    {
        vec_f64 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f64){0};
        for (int p = 0; p < 25; ++p) {
            const vec_f64 l = t2[p];
            vec_f64 acc = (vec_f64){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f64 gv = u3[p * 5 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (double)(1.0 / 2);
    }
    for (int i = 0; i < 25; ++i) g2[i] = g2[i] + u2[i];
    {
        vec_f64 sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (vec_f64){0};
        for (int p = 0; p < 5; ++p) {
            const vec_f64 l = t1[p];
            vec_f64 acc = (vec_f64){0};
            for (int j = 0; j < 5; ++j) {
                const vec_f64 gv = u2[p * 5 + j];
                acc += gv * dx3[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (double)(1.0 / 3);
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (double)(1.0 / 4);
}
#endif

#if BUILD_F64_FORWARD
/* Truncated product a ⊗ b of two signatures (Chen's identity).
 * 2930 multiply-adds per path per product. */
static void chen_f64s(const double *restrict a, const double *restrict b, double *restrict c)
{
    const double *restrict a1 = a + 0;
    const double *restrict b1 = b + 0;
    double *restrict c1 = c + 0;
    const double *restrict a2 = a + 5;
    const double *restrict b2 = b + 5;
    double *restrict c2 = c + 5;
    const double *restrict a3 = a + 30;
    const double *restrict b3 = b + 30;
    double *restrict c3 = c + 30;
    const double *restrict a4 = a + 155;
    const double *restrict b4 = b + 155;
    double *restrict c4 = c + 155;
    /* degree 1 */
    for (int i = 0; i < 5; ++i) c1[i] = a1[i] + b1[i];
    /* degree 2 */
    for (int i = 0; i < 25; ++i) c2[i] = a2[i] + b2[i];
    for (int p = 0; p < 5; ++p) {
        const double l = a1[p];
        for (int j = 0; j < 5; ++j)
            c2[p * 5 + j] = c2[p * 5 + j] + l * b1[j];
    }
    /* degree 3 */
    for (int i = 0; i < 125; ++i) c3[i] = a3[i] + b3[i];
    for (int p = 0; p < 5; ++p) {
        const double l = a1[p];
        for (int j = 0; j < 25; ++j)
            c3[p * 25 + j] = c3[p * 25 + j] + l * b2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const double l = a2[p];
        for (int j = 0; j < 5; ++j)
            c3[p * 5 + j] = c3[p * 5 + j] + l * b1[j];
    }
    /* degree 4 */
    for (int i = 0; i < 625; ++i) c4[i] = a4[i] + b4[i];
    for (int p = 0; p < 5; ++p) {
        const double l = a1[p];
        for (int j = 0; j < 125; ++j)
            c4[p * 125 + j] = c4[p * 125 + j] + l * b3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const double l = a2[p];
        for (int j = 0; j < 25; ++j)
            c4[p * 25 + j] = c4[p * 25 + j] + l * b2[j];
    }
    for (int p = 0; p < 125; ++p) {
        const double l = a3[p];
        for (int j = 0; j < 5; ++j)
            c4[p * 5 + j] = c4[p * 5 + j] + l * b1[j];
    }
}
#endif

#if BUILD_F64_BACKWARD
/* exp_step on levels 1..3 only: the backward pass walks the state back with it, as nothing there reads the top level.
 * 200 multiply-adds per path per time step, each on a vector of paths. */
static void exp_step_lower_f64v(vec_f64 *restrict a, const vec_f64 *restrict dx, vec_f64 *restrict w)
{
    vec_f64 *restrict a1 = a + 0;
    vec_f64 *restrict a2 = a + 5;
    vec_f64 *restrict a3 = a + 30;
    vec_f64 dx2[5];
    vec_f64 dx3[5];
    vec_f64 t1[5];
    vec_f64 *restrict t2 = w + 0;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (double)(1.0 / 3);
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const vec_f64 l = t2[p];
        for (int j = 0; j < 5; ++j)
            a3[p * 5 + j] = a3[p * 5 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if BUILD_F64_FORWARD
/* One Chen step, state ⊗ exp(dx), in fused Horner form (levels updated top-down).
 * 985 multiply-adds per path per time step. */
static void exp_step_f64s(double *restrict a, const double *restrict dx, double *restrict w)
{
    double *restrict a1 = a + 0;
    double *restrict a2 = a + 5;
    double *restrict a3 = a + 30;
    double *restrict a4 = a + 155;
    double dx2[5];
    double dx3[5];
    double dx4[5];
    double t1[5];
    double *restrict t2 = w + 0;
    double *restrict t3 = w + 25;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dx4[i] = dx[i] * (double)(1.0 / 4);
    /* degree 4: Horner chain on the old levels 1..3 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx4[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const double l = t2[p];
        for (int j = 0; j < 5; ++j)
            t3[p * 5 + j] = a3[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 125; ++p) {
        const double l = t3[p];
        for (int j = 0; j < 5; ++j)
            a4[p * 5 + j] = a4[p * 5 + j] + l * dx[j];
    }
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const double l = t2[p];
        for (int j = 0; j < 5; ++j)
            a3[p * 5 + j] = a3[p * 5 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if BUILD_F64_FORWARD
/* exp_step for 3 increment(s) in a row, the top level updated once for all of them.
 * 2955 multiply-adds per path per 3 time step(s). */
static void exp_steps_f64s(double *restrict a, const double *restrict dxa, const double *restrict dxb, const double *restrict dxc, double *restrict w)
{
    double *restrict a1 = a + 0;
    double *restrict a2 = a + 5;
    double *restrict a3 = a + 30;
    double *restrict a4 = a + 155;
    double dxa2[5];
    double dxa3[5];
    double dxa4[5];
    double t1[5];
    double *restrict p2a = w + 0;
    double *restrict q2a = w + 25;
    double dxb2[5];
    double dxb3[5];
    double dxb4[5];
    double *restrict p2b = w + 50;
    double *restrict q2b = w + 75;
    double dxc2[5];
    double dxc3[5];
    double dxc4[5];
    double *restrict p2c = w + 100;
    double *restrict q2c = w + 125;
    /* increment dxa: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxa2[i] = dxa[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxa3[i] = dxa[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxa4[i] = dxa[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa4[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2a[p * 5 + j] = a2[p * 5 + j] + l * dxa3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa3[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2a[p * 5 + j] = a2[p * 5 + j] + l * dxa2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa2[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxa[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxa[i];
    /* increment dxb: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxb2[i] = dxb[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxb3[i] = dxb[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxb4[i] = dxb[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb4[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2b[p * 5 + j] = a2[p * 5 + j] + l * dxb3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb3[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2b[p * 5 + j] = a2[p * 5 + j] + l * dxb2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb2[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxb[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxb[i];
    /* increment dxc: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxc2[i] = dxc[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxc3[i] = dxc[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxc4[i] = dxc[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc4[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2c[p * 5 + j] = a2[p * 5 + j] + l * dxc3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc3[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2c[p * 5 + j] = a2[p * 5 + j] + l * dxc2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc2[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxc[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxc[i];
    /* degrees 3 and 4: the 3 increments in one pass over level 3 */
    for (int u = 0; u < 25; ++u) {
        const double lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u];
        double *restrict bw = a3 + u * 5;
        double *restrict tw = a4 + u * 25;
        { /* letters 0..2 */
            double b0 = bw[0];
            const double t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const double t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const double t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            bw[0] = b0;
            double b1 = bw[1];
            const double t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const double t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const double t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            bw[1] = b1;
            double b2 = bw[2];
            const double t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const double t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const double t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            bw[2] = b2;
            for (int v = 0; v < 5; ++v) {
                double x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2;
            }
        }
        { /* letters 3..4 */
            double b0 = bw[3];
            const double t0_0 = b0 + lp0 * dxa2[3];
            b0 = b0 + lq0 * dxa[3];
            const double t0_1 = b0 + lp1 * dxb2[3];
            b0 = b0 + lq1 * dxb[3];
            const double t0_2 = b0 + lp2 * dxc2[3];
            b0 = b0 + lq2 * dxc[3];
            bw[3] = b0;
            double b1 = bw[4];
            const double t1_0 = b1 + lp0 * dxa2[4];
            b1 = b1 + lq0 * dxa[4];
            const double t1_1 = b1 + lp1 * dxb2[4];
            b1 = b1 + lq1 * dxb[4];
            const double t1_2 = b1 + lp2 * dxc2[4];
            b1 = b1 + lq2 * dxc[4];
            bw[4] = b1;
            for (int v = 0; v < 5; ++v) {
                double x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[15 + v] = tw[15 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[20 + v] = tw[20 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
            }
        }
    }

}
#endif

#if BUILD_F64_BACKWARD
/* Adjoint of exp_step: g becomes the adjoint of the state before the step; returns gdx.
 * 2315 multiply-adds per path per time step. */
static void exp_step_vjp_f64s(const double *restrict a, const double *restrict dx, double *restrict g, double *restrict gdx, double *restrict w)
{
    const double *restrict a1 = a + 0;
    double *restrict g1 = g + 0;
    const double *restrict a2 = a + 5;
    double *restrict g2 = g + 5;
    const double *restrict a3 = a + 30;
    double *restrict g3 = g + 30;
    double *restrict g4 = g + 155;
    double dx2[5];
    double dx3[5];
    double dx4[5];
    double t1[5];
    double u1[5];
    double *restrict t2 = w + 0;
    double *restrict u2 = w + 25;
    double *restrict t3 = w + 50;
    double *restrict u3 = w + 175;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dx4[i] = dx[i] * (double)(1.0 / 4);
    /* degree 1: a1 += dx */
    for (int i = 0; i < 5; ++i) gdx[i] = g1[i];
    /* degree 2: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    {
        double sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (double)0;
        for (int p = 0; p < 5; ++p) {
            const double l = t1[p];
            double acc = (double)0;
            for (int j = 0; j < 5; ++j) {
                const double gv = g2[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (double)(1.0 / 2);
    /* degree 3: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    {
        double sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (double)0;
        for (int p = 0; p < 25; ++p) {
            const double l = t2[p];
            double acc = (double)0;
            for (int j = 0; j < 5; ++j) {
                const double gv = g3[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 25; ++i) g2[i] = g2[i] + u2[i];
    {
        double sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (double)0;
        for (int p = 0; p < 5; ++p) {
            const double l = t1[p];
            double acc = (double)0;
            for (int j = 0; j < 5; ++j) {
                const double gv = u2[p * 5 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (double)(1.0 / 2);
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (double)(1.0 / 3);
    /* degree 4: recompute the chain, then its adjoint */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx4[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx3[j];
    }
    for (int p = 0; p < 25; ++p) {
        const double l = t2[p];
        for (int j = 0; j < 5; ++j)
            t3[p * 5 + j] = a3[p * 5 + j] + l * dx2[j];
    }
    {
        double sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (double)0;
        for (int p = 0; p < 125; ++p) {
            const double l = t3[p];
            double acc = (double)0;
            for (int j = 0; j < 5; ++j) {
                const double gv = g4[p * 5 + j];
                acc += gv * dx[j];
                sum[j] += l * gv;
            }
            u3[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j];
    }
    for (int i = 0; i < 125; ++i) g3[i] = g3[i] + u3[i];
    {
        double sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (double)0;
        for (int p = 0; p < 25; ++p) {
            const double l = t2[p];
            double acc = (double)0;
            for (int j = 0; j < 5; ++j) {
                const double gv = u3[p * 5 + j];
                acc += gv * dx2[j];
                sum[j] += l * gv;
            }
            u2[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (double)(1.0 / 2);
    }
    for (int i = 0; i < 25; ++i) g2[i] = g2[i] + u2[i];
    {
        double sum[5];
        for (int j = 0; j < 5; ++j) sum[j] = (double)0;
        for (int p = 0; p < 5; ++p) {
            const double l = t1[p];
            double acc = (double)0;
            for (int j = 0; j < 5; ++j) {
                const double gv = u2[p * 5 + j];
                acc += gv * dx3[j];
                sum[j] += l * gv;
            }
            u1[p] = acc;
        }
        for (int j = 0; j < 5; ++j)
            gdx[j] = gdx[j] + sum[j] * (double)(1.0 / 3);
    }
    for (int i = 0; i < 5; ++i) g1[i] = g1[i] + u1[i];
    for (int i = 0; i < 5; ++i) gdx[i] = gdx[i] + u1[i] * (double)(1.0 / 4);
}
#endif

#if BUILD_F64_BACKWARD
/* exp_step on levels 1..3 only: the backward pass walks the state back with it, as nothing there reads the top level.
 * 200 multiply-adds per path per time step. */
static void exp_step_lower_f64s(double *restrict a, const double *restrict dx, double *restrict w)
{
    double *restrict a1 = a + 0;
    double *restrict a2 = a + 5;
    double *restrict a3 = a + 30;
    double dx2[5];
    double dx3[5];
    double t1[5];
    double *restrict t2 = w + 0;
    /* scaled increments dx/k */
    for (int i = 0; i < 5; ++i) dx2[i] = dx[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dx3[i] = dx[i] * (double)(1.0 / 3);
    /* degree 3: Horner chain on the old levels 1..2 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx3[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            t2[p * 5 + j] = a2[p * 5 + j] + l * dx2[j];
    }
    for (int p = 0; p < 25; ++p) {
        const double l = t2[p];
        for (int j = 0; j < 5; ++j)
            a3[p * 5 + j] = a3[p * 5 + j] + l * dx[j];
    }
    /* degree 2: Horner chain on the old levels 1..1 */
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dx2[i];
    for (int p = 0; p < 5; ++p) {
        const double l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dx[j];
    }
    /* degree 1 */
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dx[i];
}
#endif

#if !SIGCODEGEN_WIDE_STEPS /* the fused steps, 3 increments per call */
/* the scratch (vectors) of the forward's fused steps; SCRATCH (the backward's) is the narrow one's */
#define FUSED_SCRATCH_f64 300

#if BUILD_F64_FORWARD
/* exp_step for 3 increment(s) in a row, the top level updated once for all of them.
 * 2955 multiply-adds per path per 3 time step(s), each on a vector of paths. */
static void exp_steps_f64v(vec_f64 *restrict a, const vec_f64 *restrict dxa, const vec_f64 *restrict dxb, const vec_f64 *restrict dxc, vec_f64 *restrict w)
{
    vec_f64 *restrict a1 = a + 0;
    vec_f64 *restrict a2 = a + 5;
    vec_f64 *restrict a3 = a + 30;
    vec_f64 *restrict a4 = a + 155;
    vec_f64 dxa2[5];
    vec_f64 dxa3[5];
    vec_f64 dxa4[5];
    vec_f64 t1[5];
    vec_f64 *restrict p2a = w + 0;
    vec_f64 *restrict q2a = w + 25;
    vec_f64 dxb2[5];
    vec_f64 dxb3[5];
    vec_f64 dxb4[5];
    vec_f64 *restrict p2b = w + 50;
    vec_f64 *restrict q2b = w + 75;
    vec_f64 dxc2[5];
    vec_f64 dxc3[5];
    vec_f64 dxc4[5];
    vec_f64 *restrict p2c = w + 100;
    vec_f64 *restrict q2c = w + 125;
    /* increment dxa: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxa2[i] = dxa[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxa3[i] = dxa[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxa4[i] = dxa[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2a[p * 5 + j] = a2[p * 5 + j] + l * dxa3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2a[p * 5 + j] = a2[p * 5 + j] + l * dxa2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxa[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxa[i];
    /* increment dxb: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxb2[i] = dxb[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxb3[i] = dxb[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxb4[i] = dxb[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2b[p * 5 + j] = a2[p * 5 + j] + l * dxb3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2b[p * 5 + j] = a2[p * 5 + j] + l * dxb2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxb[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxb[i];
    /* increment dxc: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxc2[i] = dxc[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxc3[i] = dxc[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxc4[i] = dxc[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2c[p * 5 + j] = a2[p * 5 + j] + l * dxc3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2c[p * 5 + j] = a2[p * 5 + j] + l * dxc2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxc[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxc[i];
    /* degrees 3 and 4: the 3 increments in one pass over level 3 */
    #if SIGCODEGEN_VECTOR_BYTES >= 64 /* 32 vector registers */
    for (int u = 0; u < 25; ++u) {
        const vec_f64 lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u];
        vec_f64 *restrict bw = a3 + u * 5;
        vec_f64 *restrict tw = a4 + u * 25;
        { /* letters 0..4 */
            vec_f64 b0 = bw[0];
            const vec_f64 t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const vec_f64 t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const vec_f64 t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            bw[0] = b0;
            vec_f64 b1 = bw[1];
            const vec_f64 t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const vec_f64 t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const vec_f64 t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            bw[1] = b1;
            vec_f64 b2 = bw[2];
            const vec_f64 t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const vec_f64 t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const vec_f64 t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            bw[2] = b2;
            vec_f64 b3 = bw[3];
            const vec_f64 t3_0 = b3 + lp0 * dxa2[3];
            b3 = b3 + lq0 * dxa[3];
            const vec_f64 t3_1 = b3 + lp1 * dxb2[3];
            b3 = b3 + lq1 * dxb[3];
            const vec_f64 t3_2 = b3 + lp2 * dxc2[3];
            b3 = b3 + lq2 * dxc[3];
            bw[3] = b3;
            vec_f64 b4 = bw[4];
            const vec_f64 t4_0 = b4 + lp0 * dxa2[4];
            b4 = b4 + lq0 * dxa[4];
            const vec_f64 t4_1 = b4 + lp1 * dxb2[4];
            b4 = b4 + lq1 * dxb[4];
            const vec_f64 t4_2 = b4 + lp2 * dxc2[4];
            b4 = b4 + lq2 * dxc[4];
            bw[4] = b4;
            for (int v = 0; v < 5; ++v) {
                vec_f64 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2;
                tw[15 + v] = tw[15 + v] + t3_0 * x0 + t3_1 * x1 + t3_2 * x2;
                tw[20 + v] = tw[20 + v] + t4_0 * x0 + t4_1 * x1 + t4_2 * x2;
            }
        }
    }
#else
    for (int u = 0; u < 25; ++u) {
        const vec_f64 lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u];
        vec_f64 *restrict bw = a3 + u * 5;
        vec_f64 *restrict tw = a4 + u * 25;
        { /* letters 0..2 */
            vec_f64 b0 = bw[0];
            const vec_f64 t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const vec_f64 t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const vec_f64 t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            bw[0] = b0;
            vec_f64 b1 = bw[1];
            const vec_f64 t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const vec_f64 t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const vec_f64 t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            bw[1] = b1;
            vec_f64 b2 = bw[2];
            const vec_f64 t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const vec_f64 t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const vec_f64 t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            bw[2] = b2;
            for (int v = 0; v < 5; ++v) {
                vec_f64 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2;
            }
        }
        { /* letters 3..4 */
            vec_f64 b0 = bw[3];
            const vec_f64 t0_0 = b0 + lp0 * dxa2[3];
            b0 = b0 + lq0 * dxa[3];
            const vec_f64 t0_1 = b0 + lp1 * dxb2[3];
            b0 = b0 + lq1 * dxb[3];
            const vec_f64 t0_2 = b0 + lp2 * dxc2[3];
            b0 = b0 + lq2 * dxc[3];
            bw[3] = b0;
            vec_f64 b1 = bw[4];
            const vec_f64 t1_0 = b1 + lp0 * dxa2[4];
            b1 = b1 + lq0 * dxa[4];
            const vec_f64 t1_1 = b1 + lp1 * dxb2[4];
            b1 = b1 + lq1 * dxb[4];
            const vec_f64 t1_2 = b1 + lp2 * dxc2[4];
            b1 = b1 + lq2 * dxc[4];
            bw[4] = b1;
            for (int v = 0; v < 5; ++v) {
                vec_f64 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v];

                tw[15 + v] = tw[15 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2;
                tw[20 + v] = tw[20 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2;
            }
        }
    }
#endif

}
#endif
#endif /* !SIGCODEGEN_WIDE_STEPS */

#if SIGCODEGEN_WIDE_STEPS /* the fused steps, 6 increments per call */
/* the scratch (vectors) of the forward's fused steps; SCRATCH (the backward's) is the narrow one's */
#define FUSED_SCRATCH_f64 300

#if BUILD_F64_FORWARD
/* exp_step for 6 increment(s) in a row, the top level updated once for all of them.
 * 5910 multiply-adds per path per 6 time step(s), each on a vector of paths. */
static void exp_steps_f64v(vec_f64 *restrict a, const vec_f64 *restrict dxa, const vec_f64 *restrict dxb, const vec_f64 *restrict dxc, const vec_f64 *restrict dxd, const vec_f64 *restrict dxe, const vec_f64 *restrict dxf, vec_f64 *restrict w)
{
    vec_f64 *restrict a1 = a + 0;
    vec_f64 *restrict a2 = a + 5;
    vec_f64 *restrict a3 = a + 30;
    vec_f64 *restrict a4 = a + 155;
    vec_f64 dxa2[5];
    vec_f64 dxa3[5];
    vec_f64 dxa4[5];
    vec_f64 t1[5];
    vec_f64 *restrict p2a = w + 0;
    vec_f64 *restrict q2a = w + 25;
    vec_f64 dxb2[5];
    vec_f64 dxb3[5];
    vec_f64 dxb4[5];
    vec_f64 *restrict p2b = w + 50;
    vec_f64 *restrict q2b = w + 75;
    vec_f64 dxc2[5];
    vec_f64 dxc3[5];
    vec_f64 dxc4[5];
    vec_f64 *restrict p2c = w + 100;
    vec_f64 *restrict q2c = w + 125;
    vec_f64 dxd2[5];
    vec_f64 dxd3[5];
    vec_f64 dxd4[5];
    vec_f64 *restrict p2d = w + 150;
    vec_f64 *restrict q2d = w + 175;
    vec_f64 dxe2[5];
    vec_f64 dxe3[5];
    vec_f64 dxe4[5];
    vec_f64 *restrict p2e = w + 200;
    vec_f64 *restrict q2e = w + 225;
    vec_f64 dxf2[5];
    vec_f64 dxf3[5];
    vec_f64 dxf4[5];
    vec_f64 *restrict p2f = w + 250;
    vec_f64 *restrict q2f = w + 275;
    /* increment dxa: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxa2[i] = dxa[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxa3[i] = dxa[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxa4[i] = dxa[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2a[p * 5 + j] = a2[p * 5 + j] + l * dxa3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2a[p * 5 + j] = a2[p * 5 + j] + l * dxa2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxa2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxa[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxa[i];
    /* increment dxb: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxb2[i] = dxb[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxb3[i] = dxb[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxb4[i] = dxb[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2b[p * 5 + j] = a2[p * 5 + j] + l * dxb3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2b[p * 5 + j] = a2[p * 5 + j] + l * dxb2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxb2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxb[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxb[i];
    /* increment dxc: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxc2[i] = dxc[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxc3[i] = dxc[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxc4[i] = dxc[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2c[p * 5 + j] = a2[p * 5 + j] + l * dxc3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2c[p * 5 + j] = a2[p * 5 + j] + l * dxc2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxc2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxc[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxc[i];
    /* increment dxd: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxd2[i] = dxd[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxd3[i] = dxd[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxd4[i] = dxd[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxd4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2d[p * 5 + j] = a2[p * 5 + j] + l * dxd3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxd3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2d[p * 5 + j] = a2[p * 5 + j] + l * dxd2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxd2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxd[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxd[i];
    /* increment dxe: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxe2[i] = dxe[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxe3[i] = dxe[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxe4[i] = dxe[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxe4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2e[p * 5 + j] = a2[p * 5 + j] + l * dxe3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxe3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2e[p * 5 + j] = a2[p * 5 + j] + l * dxe2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxe2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxe[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxe[i];
    /* increment dxf: degree-2 Horner values of levels 4 and 3, then levels 2..1 */
    for (int i = 0; i < 5; ++i) dxf2[i] = dxf[i] * (double)(1.0 / 2);
    for (int i = 0; i < 5; ++i) dxf3[i] = dxf[i] * (double)(1.0 / 3);
    for (int i = 0; i < 5; ++i) dxf4[i] = dxf[i] * (double)(1.0 / 4);
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxf4[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            p2f[p * 5 + j] = a2[p * 5 + j] + l * dxf3[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxf3[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            q2f[p * 5 + j] = a2[p * 5 + j] + l * dxf2[j];
    }
    for (int i = 0; i < 5; ++i) t1[i] = a1[i] + dxf2[i];
    for (int p = 0; p < 5; ++p) {
        const vec_f64 l = t1[p];
        for (int j = 0; j < 5; ++j)
            a2[p * 5 + j] = a2[p * 5 + j] + l * dxf[j];
    }
    for (int i = 0; i < 5; ++i) a1[i] = a1[i] + dxf[i];
    /* degrees 3 and 4: the 6 increments in one pass over level 3 */
    #if SIGCODEGEN_VECTOR_BYTES >= 64 /* 32 vector registers */
    for (int u = 0; u < 25; ++u) {
        const vec_f64 lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u], lp3 = p2d[u], lq3 = q2d[u], lp4 = p2e[u], lq4 = q2e[u], lp5 = p2f[u], lq5 = q2f[u];
        vec_f64 *restrict bw = a3 + u * 5;
        vec_f64 *restrict tw = a4 + u * 25;
        { /* letters 0..4 */
            vec_f64 b0 = bw[0];
            const vec_f64 t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const vec_f64 t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const vec_f64 t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            const vec_f64 t0_3 = b0 + lp3 * dxd2[0];
            b0 = b0 + lq3 * dxd[0];
            const vec_f64 t0_4 = b0 + lp4 * dxe2[0];
            b0 = b0 + lq4 * dxe[0];
            const vec_f64 t0_5 = b0 + lp5 * dxf2[0];
            b0 = b0 + lq5 * dxf[0];
            bw[0] = b0;
            vec_f64 b1 = bw[1];
            const vec_f64 t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const vec_f64 t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const vec_f64 t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            const vec_f64 t1_3 = b1 + lp3 * dxd2[1];
            b1 = b1 + lq3 * dxd[1];
            const vec_f64 t1_4 = b1 + lp4 * dxe2[1];
            b1 = b1 + lq4 * dxe[1];
            const vec_f64 t1_5 = b1 + lp5 * dxf2[1];
            b1 = b1 + lq5 * dxf[1];
            bw[1] = b1;
            vec_f64 b2 = bw[2];
            const vec_f64 t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const vec_f64 t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const vec_f64 t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            const vec_f64 t2_3 = b2 + lp3 * dxd2[2];
            b2 = b2 + lq3 * dxd[2];
            const vec_f64 t2_4 = b2 + lp4 * dxe2[2];
            b2 = b2 + lq4 * dxe[2];
            const vec_f64 t2_5 = b2 + lp5 * dxf2[2];
            b2 = b2 + lq5 * dxf[2];
            bw[2] = b2;
            vec_f64 b3 = bw[3];
            const vec_f64 t3_0 = b3 + lp0 * dxa2[3];
            b3 = b3 + lq0 * dxa[3];
            const vec_f64 t3_1 = b3 + lp1 * dxb2[3];
            b3 = b3 + lq1 * dxb[3];
            const vec_f64 t3_2 = b3 + lp2 * dxc2[3];
            b3 = b3 + lq2 * dxc[3];
            const vec_f64 t3_3 = b3 + lp3 * dxd2[3];
            b3 = b3 + lq3 * dxd[3];
            const vec_f64 t3_4 = b3 + lp4 * dxe2[3];
            b3 = b3 + lq4 * dxe[3];
            const vec_f64 t3_5 = b3 + lp5 * dxf2[3];
            b3 = b3 + lq5 * dxf[3];
            bw[3] = b3;
            vec_f64 b4 = bw[4];
            const vec_f64 t4_0 = b4 + lp0 * dxa2[4];
            b4 = b4 + lq0 * dxa[4];
            const vec_f64 t4_1 = b4 + lp1 * dxb2[4];
            b4 = b4 + lq1 * dxb[4];
            const vec_f64 t4_2 = b4 + lp2 * dxc2[4];
            b4 = b4 + lq2 * dxc[4];
            const vec_f64 t4_3 = b4 + lp3 * dxd2[4];
            b4 = b4 + lq3 * dxd[4];
            const vec_f64 t4_4 = b4 + lp4 * dxe2[4];
            b4 = b4 + lq4 * dxe[4];
            const vec_f64 t4_5 = b4 + lp5 * dxf2[4];
            b4 = b4 + lq5 * dxf[4];
            bw[4] = b4;
            for (int v = 0; v < 5; ++v) {
                vec_f64 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v], x3 = dxd[v], x4 = dxe[v], x5 = dxf[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2 + t0_3 * x3 + t0_4 * x4 + t0_5 * x5;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2 + t1_3 * x3 + t1_4 * x4 + t1_5 * x5;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2 + t2_3 * x3 + t2_4 * x4 + t2_5 * x5;
                tw[15 + v] = tw[15 + v] + t3_0 * x0 + t3_1 * x1 + t3_2 * x2 + t3_3 * x3 + t3_4 * x4 + t3_5 * x5;
                tw[20 + v] = tw[20 + v] + t4_0 * x0 + t4_1 * x1 + t4_2 * x2 + t4_3 * x3 + t4_4 * x4 + t4_5 * x5;
            }
        }
    }
#else
    for (int u = 0; u < 25; ++u) {
        const vec_f64 lp0 = p2a[u], lq0 = q2a[u], lp1 = p2b[u], lq1 = q2b[u], lp2 = p2c[u], lq2 = q2c[u], lp3 = p2d[u], lq3 = q2d[u], lp4 = p2e[u], lq4 = q2e[u], lp5 = p2f[u], lq5 = q2f[u];
        vec_f64 *restrict bw = a3 + u * 5;
        vec_f64 *restrict tw = a4 + u * 25;
        { /* letters 0..2 */
            vec_f64 b0 = bw[0];
            const vec_f64 t0_0 = b0 + lp0 * dxa2[0];
            b0 = b0 + lq0 * dxa[0];
            const vec_f64 t0_1 = b0 + lp1 * dxb2[0];
            b0 = b0 + lq1 * dxb[0];
            const vec_f64 t0_2 = b0 + lp2 * dxc2[0];
            b0 = b0 + lq2 * dxc[0];
            const vec_f64 t0_3 = b0 + lp3 * dxd2[0];
            b0 = b0 + lq3 * dxd[0];
            const vec_f64 t0_4 = b0 + lp4 * dxe2[0];
            b0 = b0 + lq4 * dxe[0];
            const vec_f64 t0_5 = b0 + lp5 * dxf2[0];
            b0 = b0 + lq5 * dxf[0];
            bw[0] = b0;
            vec_f64 b1 = bw[1];
            const vec_f64 t1_0 = b1 + lp0 * dxa2[1];
            b1 = b1 + lq0 * dxa[1];
            const vec_f64 t1_1 = b1 + lp1 * dxb2[1];
            b1 = b1 + lq1 * dxb[1];
            const vec_f64 t1_2 = b1 + lp2 * dxc2[1];
            b1 = b1 + lq2 * dxc[1];
            const vec_f64 t1_3 = b1 + lp3 * dxd2[1];
            b1 = b1 + lq3 * dxd[1];
            const vec_f64 t1_4 = b1 + lp4 * dxe2[1];
            b1 = b1 + lq4 * dxe[1];
            const vec_f64 t1_5 = b1 + lp5 * dxf2[1];
            b1 = b1 + lq5 * dxf[1];
            bw[1] = b1;
            vec_f64 b2 = bw[2];
            const vec_f64 t2_0 = b2 + lp0 * dxa2[2];
            b2 = b2 + lq0 * dxa[2];
            const vec_f64 t2_1 = b2 + lp1 * dxb2[2];
            b2 = b2 + lq1 * dxb[2];
            const vec_f64 t2_2 = b2 + lp2 * dxc2[2];
            b2 = b2 + lq2 * dxc[2];
            const vec_f64 t2_3 = b2 + lp3 * dxd2[2];
            b2 = b2 + lq3 * dxd[2];
            const vec_f64 t2_4 = b2 + lp4 * dxe2[2];
            b2 = b2 + lq4 * dxe[2];
            const vec_f64 t2_5 = b2 + lp5 * dxf2[2];
            b2 = b2 + lq5 * dxf[2];
            bw[2] = b2;
            for (int v = 0; v < 5; ++v) {
                vec_f64 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v], x3 = dxd[v], x4 = dxe[v], x5 = dxf[v];

                tw[0 + v] = tw[0 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2 + t0_3 * x3 + t0_4 * x4 + t0_5 * x5;
                tw[5 + v] = tw[5 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2 + t1_3 * x3 + t1_4 * x4 + t1_5 * x5;
                tw[10 + v] = tw[10 + v] + t2_0 * x0 + t2_1 * x1 + t2_2 * x2 + t2_3 * x3 + t2_4 * x4 + t2_5 * x5;
            }
        }
        { /* letters 3..4 */
            vec_f64 b0 = bw[3];
            const vec_f64 t0_0 = b0 + lp0 * dxa2[3];
            b0 = b0 + lq0 * dxa[3];
            const vec_f64 t0_1 = b0 + lp1 * dxb2[3];
            b0 = b0 + lq1 * dxb[3];
            const vec_f64 t0_2 = b0 + lp2 * dxc2[3];
            b0 = b0 + lq2 * dxc[3];
            const vec_f64 t0_3 = b0 + lp3 * dxd2[3];
            b0 = b0 + lq3 * dxd[3];
            const vec_f64 t0_4 = b0 + lp4 * dxe2[3];
            b0 = b0 + lq4 * dxe[3];
            const vec_f64 t0_5 = b0 + lp5 * dxf2[3];
            b0 = b0 + lq5 * dxf[3];
            bw[3] = b0;
            vec_f64 b1 = bw[4];
            const vec_f64 t1_0 = b1 + lp0 * dxa2[4];
            b1 = b1 + lq0 * dxa[4];
            const vec_f64 t1_1 = b1 + lp1 * dxb2[4];
            b1 = b1 + lq1 * dxb[4];
            const vec_f64 t1_2 = b1 + lp2 * dxc2[4];
            b1 = b1 + lq2 * dxc[4];
            const vec_f64 t1_3 = b1 + lp3 * dxd2[4];
            b1 = b1 + lq3 * dxd[4];
            const vec_f64 t1_4 = b1 + lp4 * dxe2[4];
            b1 = b1 + lq4 * dxe[4];
            const vec_f64 t1_5 = b1 + lp5 * dxf2[4];
            b1 = b1 + lq5 * dxf[4];
            bw[4] = b1;
            for (int v = 0; v < 5; ++v) {
                vec_f64 x0 = dxa[v], x1 = dxb[v], x2 = dxc[v], x3 = dxd[v], x4 = dxe[v], x5 = dxf[v];

                tw[15 + v] = tw[15 + v] + t0_0 * x0 + t0_1 * x1 + t0_2 * x2 + t0_3 * x3 + t0_4 * x4 + t0_5 * x5;
                tw[20 + v] = tw[20 + v] + t1_0 * x0 + t1_1 * x1 + t1_2 * x2 + t1_3 * x3 + t1_4 * x4 + t1_5 * x5;
            }
        }
    }
#endif

}
#endif
#endif /* SIGCODEGEN_WIDE_STEPS */

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

/* r[i][k] <-> r[k][i]: a LANES x LANES tile transposed in registers, log2(LANES) rounds of
 * two-vector shuffles (GCC's __builtin_shuffle: one vpermt2ps each with AVX-512), 64 shuffles
 * for 16 float lanes where an element-wise copy costs ~31 instructions per 16 elements; other
 * compilers copy element-wise. */
typedef int64_t ivec_f64 __attribute__((vector_size(SIGCODEGEN_VECTOR_BYTES)));
static inline void transpose_f64(vec_f64 *r)
{
#if defined(__GNUC__) && !defined(__clang__) && SIGCODEGEN_VECTOR_BYTES >= 16 && SIGCODEGEN_VECTOR_BYTES <= 64
#if SIGCODEGEN_VECTOR_BYTES == 16 /* 2 lanes */
    { /* swap the off-diagonal 1 x 1 blocks */
        const ivec_f64 lo = {0, 2};
        const ivec_f64 hi = {1, 3};
        const vec_f64 a0 = r[0], b0 = r[1];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[1] = __builtin_shuffle(a0, b0, hi);
    }
#elif SIGCODEGEN_VECTOR_BYTES == 32 /* 4 lanes */
    { /* swap the off-diagonal 2 x 2 blocks */
        const ivec_f64 lo = {0, 1, 4, 5};
        const ivec_f64 hi = {2, 3, 6, 7};
        const vec_f64 a0 = r[0], b0 = r[2];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[2] = __builtin_shuffle(a0, b0, hi);
        const vec_f64 a1 = r[1], b1 = r[3];
        r[1] = __builtin_shuffle(a1, b1, lo);
        r[3] = __builtin_shuffle(a1, b1, hi);
    }
    { /* swap the off-diagonal 1 x 1 blocks */
        const ivec_f64 lo = {0, 4, 2, 6};
        const ivec_f64 hi = {1, 5, 3, 7};
        const vec_f64 a0 = r[0], b0 = r[1];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[1] = __builtin_shuffle(a0, b0, hi);
        const vec_f64 a2 = r[2], b2 = r[3];
        r[2] = __builtin_shuffle(a2, b2, lo);
        r[3] = __builtin_shuffle(a2, b2, hi);
    }
#elif SIGCODEGEN_VECTOR_BYTES == 64 /* 8 lanes */
    { /* swap the off-diagonal 4 x 4 blocks */
        const ivec_f64 lo = {0, 1, 2, 3, 8, 9, 10, 11};
        const ivec_f64 hi = {4, 5, 6, 7, 12, 13, 14, 15};
        const vec_f64 a0 = r[0], b0 = r[4];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[4] = __builtin_shuffle(a0, b0, hi);
        const vec_f64 a1 = r[1], b1 = r[5];
        r[1] = __builtin_shuffle(a1, b1, lo);
        r[5] = __builtin_shuffle(a1, b1, hi);
        const vec_f64 a2 = r[2], b2 = r[6];
        r[2] = __builtin_shuffle(a2, b2, lo);
        r[6] = __builtin_shuffle(a2, b2, hi);
        const vec_f64 a3 = r[3], b3 = r[7];
        r[3] = __builtin_shuffle(a3, b3, lo);
        r[7] = __builtin_shuffle(a3, b3, hi);
    }
    { /* swap the off-diagonal 2 x 2 blocks */
        const ivec_f64 lo = {0, 1, 8, 9, 4, 5, 12, 13};
        const ivec_f64 hi = {2, 3, 10, 11, 6, 7, 14, 15};
        const vec_f64 a0 = r[0], b0 = r[2];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[2] = __builtin_shuffle(a0, b0, hi);
        const vec_f64 a1 = r[1], b1 = r[3];
        r[1] = __builtin_shuffle(a1, b1, lo);
        r[3] = __builtin_shuffle(a1, b1, hi);
        const vec_f64 a4 = r[4], b4 = r[6];
        r[4] = __builtin_shuffle(a4, b4, lo);
        r[6] = __builtin_shuffle(a4, b4, hi);
        const vec_f64 a5 = r[5], b5 = r[7];
        r[5] = __builtin_shuffle(a5, b5, lo);
        r[7] = __builtin_shuffle(a5, b5, hi);
    }
    { /* swap the off-diagonal 1 x 1 blocks */
        const ivec_f64 lo = {0, 8, 2, 10, 4, 12, 6, 14};
        const ivec_f64 hi = {1, 9, 3, 11, 5, 13, 7, 15};
        const vec_f64 a0 = r[0], b0 = r[1];
        r[0] = __builtin_shuffle(a0, b0, lo);
        r[1] = __builtin_shuffle(a0, b0, hi);
        const vec_f64 a2 = r[2], b2 = r[3];
        r[2] = __builtin_shuffle(a2, b2, lo);
        r[3] = __builtin_shuffle(a2, b2, hi);
        const vec_f64 a4 = r[4], b4 = r[5];
        r[4] = __builtin_shuffle(a4, b4, lo);
        r[5] = __builtin_shuffle(a4, b4, hi);
        const vec_f64 a6 = r[6], b6 = r[7];
        r[6] = __builtin_shuffle(a6, b6, lo);
        r[7] = __builtin_shuffle(a6, b6, hi);
    }
#endif
#else
    enum { W = LANES_f64 };
    double t[W][W];
    memcpy(t, r, sizeof t);
    for (int i = 0; i < W; ++i)
        for (int k = 0; k < W; ++k) r[i][k] = t[k][i];
#endif
}

#if BUILD_F64_FORWARD
/* rows[l][c] = state[c][l] for c < columns and every lane l with rows[l] (NULL: skipped), by
 * LANES x LANES tiles (transpose_f64) */
static inline void store_columns_f64(double *const *rows, const vec_f64 *state, int64_t columns)
{
    enum { W = LANES_f64 };
    for (int64_t c0 = 0; c0 < columns; c0 += W) {
        const int n = columns - c0 < W ? (int)(columns - c0) : W;
        vec_f64 r[W];
        if (n == W) {
            memcpy(r, state + c0, sizeof r);
        } else {
            memcpy(r, state + c0, n * sizeof(vec_f64));
            for (int i = n; i < W; ++i) r[i] = (vec_f64){0};
        }
        transpose_f64(r);
        for (int l = 0; l < W; ++l) {
            if (!rows[l]) continue;
            if (n == W) memcpy(rows[l] + c0, &r[l], sizeof r[l]);
            else memcpy(rows[l] + c0, &r[l], n * sizeof(double));
        }
    }
}
#endif

#if BUILD_F64_FORWARD
static void store_rows_f64(double *const *rows, const vec_f64 *state)
{
    store_columns_f64(rows, state, SIGLEN);
}

/* Tiles of columns of one lane's FUSED_STEPS * DIM increments (LANES columns each) */
#define INCREMENT_TILES_f64 ((FUSED_STEPS * DIM + LANES_f64 - 1) / LANES_f64)

/* dx[k * DIM + j] lane l = increment step + k of lane l, for k < FUSED_STEPS, when every lane
 * has those steps and may read INCREMENT_TILES * LANES + DIM values from its point `step`
 * (lane l's points start at first[l]): a lane's increments are differences of contiguous
 * values, taken a vector at a time and turned onto the lanes by transpose_f64 (the
 * per-lane, per-value copy of load_increment costs 15 % of the forward at A). */
static void load_increments_f64(vec_f64 *dx, const double *const *first, int64_t step)
{
    enum { W = LANES_f64, N = FUSED_STEPS * DIM };
    for (int t = 0; t < INCREMENT_TILES_f64; ++t) {
        vec_f64 r[W];
        for (int l = 0; l < W; ++l) {
            const double *pt = first[l] + step * DIM + t * W;
            vec_f64 a, b;
            memcpy(&a, pt, sizeof a);
            memcpy(&b, pt + DIM, sizeof b);
            r[l] = b - a;
        }
        transpose_f64(r);
        const int n = N - t * W < W ? N - t * W : W;
        memcpy(dx + t * W, r, n * sizeof(vec_f64));
    }
}
#endif

#if BUILD_F64_FORWARD
/* rows[lane path][row] = state, for the active lanes (row stride `columns`, path stride
 * rows_per_path) */
static void store_state_f64(double *rows, const vec_f64 *state, const lane_t *lanes,
                                int64_t rows_per_path, int64_t row, int64_t columns)
{
    double *dst[LANES_f64];
    for (int l = 0; l < LANES_f64; ++l)
        dst[l] = lanes[l].path < 0 ? NULL : rows + (lanes[l].path * rows_per_path + row) * columns;
    store_columns_f64(dst, state, columns);
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
/* The forward pass's tasks and their shared state: task `block` steps one block of LANES lanes
 * (virtual paths v = path * chunks + chunk) through its chunk of time. */
typedef struct {
    const double *x;
    double *out, *ends, *chunk_sigs;
    int64_t length, steps, chunks, chunk_steps, virtual_paths, batch;
    int stream;
    _Atomic int failed;
    vec_f64 *buffers[POOL_MAX_THREADS]; /* per worker: state + scratch, allocated on first use */
} forward_pass_f64;

#if !SIGCODEGEN_WIDE_STEPS
/* FUSED_STEPS increments (increment k at dx + k * DIM) on a block's state; `scratch` holds
 * SCRATCH + 1 + SUBTREE_VECTORS vectors */
static inline void fused_steps_f64(vec_f64 *state, const vec_f64 *dx, vec_f64 *scratch)
{
    exp_steps_f64v(state, dx + 0 * DIM, dx + 1 * DIM, dx + 2 * DIM, scratch);
}
#endif
#if SIGCODEGEN_WIDE_STEPS
/* FUSED_STEPS increments (increment k at dx + k * DIM) on a block's state; `scratch` holds
 * SCRATCH + 1 + SUBTREE_VECTORS vectors */
static inline void fused_steps_f64(vec_f64 *state, const vec_f64 *dx, vec_f64 *scratch)
{
    exp_steps_f64v(state, dx + 0 * DIM, dx + 1 * DIM, dx + 2 * DIM, dx + 3 * DIM, dx + 4 * DIM, dx + 5 * DIM, scratch);
}
#endif

static void forward_block_f64(void *arg, int64_t block, int worker)
{
    forward_pass_f64 *pass = arg;
    const int W = LANES_f64;
    size_t vectors = SIGLEN + FUSED_SCRATCH_f64 + 1 + SUBTREE_VECTORS;
    if (!pass->buffers[worker])
        pass->buffers[worker] = aligned_buffer(vectors * sizeof(vec_f64));
    vec_f64 *state = pass->buffers[worker];
    if (!state) {
        atomic_store(&pass->failed, 1);
        return;
    }
    vec_f64 *scratch = state + SIGLEN;
    const double *x = pass->x;
    const int64_t length = pass->length, steps = pass->steps, chunks = pass->chunks;
    const int64_t chunk_steps = pass->chunk_steps, virtual_paths = pass->virtual_paths;
    lane_t lanes[LANES_f64];
    for (int l = 0; l < W; ++l) {
        const int64_t v = block * W + l, chunk = v % chunks;
        lanes[l].path = v < virtual_paths ? v / chunks : -1;
        lanes[l].start = chunk * chunk_steps;
        lanes[l].steps = steps - lanes[l].start < chunk_steps ? steps - lanes[l].start : chunk_steps;
    }
    memset(state, 0, SIGLEN * sizeof(vec_f64));
    if (pass->stream) {
        for (int64_t step = 0; step < chunk_steps; ++step) {
            vec_f64 dx[DIM];
            load_increment_f64(dx, x, lanes, length, step, 1);
            exp_step_f64v(state, dx, scratch);
            if (pass->out) store_state_f64(pass->out, state, lanes, steps, step, SIGLEN);
        }
        return;
    }
    /* load_increments serves the steps up to `last` (every lane active, its FUSED_STEPS steps
     * there, and its vector reads inside x) */
    const double *first[LANES_f64];
    const int64_t values = pass->batch * length * DIM;
    int64_t last = chunk_steps - FUSED_STEPS;
    for (int l = 0; l < W; ++l) {
        if (lanes[l].path < 0) {
            last = -1;
            first[l] = x;
            continue;
        }
        const int64_t start = (lanes[l].path * length + lanes[l].start) * DIM;
        const int64_t inside = (values - start - DIM - INCREMENT_TILES_f64 * W) / DIM;
        first[l] = x + start;
        if (lanes[l].steps - FUSED_STEPS < last) last = lanes[l].steps - FUSED_STEPS;
        if (values - start - DIM - INCREMENT_TILES_f64 * W < 0) last = -1;
        else if (inside < last) last = inside;
    }
    const int64_t fused = chunk_steps - chunk_steps % FUSED_STEPS;
    for (int64_t step = 0; step < fused; step += FUSED_STEPS) { /* zero past a lane's end */
        vec_f64 dx[FUSED_STEPS * DIM];
        if (step <= last)
            load_increments_f64(dx, first, step);
        else
            for (int k = 0; k < FUSED_STEPS; ++k)
                load_increment_f64(dx + k * DIM, x, lanes, length, step + k, 1);
        fused_steps_f64(state, dx, scratch);
    }
    for (int64_t step = fused; step < chunk_steps; ++step) { /* the last chunk_steps % FUSED_STEPS */
        vec_f64 dx[DIM];
        load_increment_f64(dx, x, lanes, length, step, 1);
        exp_step_f64v(state, dx, scratch);
    }
    double *rows[LANES_f64]; /* chunk-level rows: virtual path v */
    for (int l = 0; l < W; ++l) {
        const int64_t v = block * W + l;
        rows[l] = v < virtual_paths ? pass->ends + v * SIGLEN : NULL;
    }
    store_rows_f64(rows, state);
}

/* Task b (paths one at a time, see LANE_MAX_BYTES): path b alone, its state in scalars. */
static void forward_row_f64(void *arg, int64_t b, int worker)
{
    forward_pass_f64 *pass = arg;
    size_t elements = SIGLEN + SCRATCH_f64 + 1;
    if (!pass->buffers[worker])
        pass->buffers[worker] = aligned_buffer(elements * sizeof(double));
    double *state = (double *)pass->buffers[worker];
    if (!state) {
        atomic_store(&pass->failed, 1);
        return;
    }
    double *scratch = state + SIGLEN;
    const double *x = pass->x + b * pass->length * DIM;
    const int64_t steps = pass->steps;
    memset(state, 0, SIGLEN * sizeof(double));
    int64_t step = 0;
    if (!pass->stream)
        for (; step + ROW_FUSED_STEPS <= steps; step += ROW_FUSED_STEPS) {
            double dx[ROW_FUSED_STEPS * DIM];
            for (int k = 0; k < ROW_FUSED_STEPS * DIM; ++k) dx[k] = x[step * DIM + DIM + k] - x[step * DIM + k];
            exp_steps_f64s(state, dx + 0 * DIM, dx + 1 * DIM, dx + 2 * DIM, scratch);
        }
    for (; step < steps; ++step) {
        double dx[DIM];
        for (int j = 0; j < DIM; ++j) dx[j] = x[(step + 1) * DIM + j] - x[step * DIM + j];
        exp_step_f64s(state, dx, scratch);
        if (!pass->stream) continue;
        if (pass->out) memcpy(pass->out + (b * steps + step) * SIGLEN, state, SIGLEN * sizeof(double));
    }
    if (pass->stream) return;
    if (pass->out) memcpy(pass->out + b * SIGLEN, state, SIGLEN * sizeof(double));
}

/* Task b joins path b's chunks left to right (Chen's identity). */
static void forward_join_f64(void *arg, int64_t b, int worker)
{
    forward_pass_f64 *pass = arg;
    const int64_t chunks = pass->chunks;
    double *acc = aligned_buffer(SIGLEN * sizeof(double));
    if (!acc) {
        atomic_store(&pass->failed, 1);
        return;
    }
    double *out = pass->out + b * SIGLEN;
    memcpy(acc, pass->chunk_sigs + b * chunks * SIGLEN, SIGLEN * sizeof(double));
    for (int64_t c = 1; c < chunks; ++c) {
        chen_f64s(acc, pass->chunk_sigs + (b * chunks + c) * SIGLEN, out);
        memcpy(acc, out, SIGLEN * sizeof(double));
    }
    memcpy(out, acc, SIGLEN * sizeof(double));
    free(acc);
}

/* The forward pass: the signature into out (NULL: not kept; only with `log`, which then gets
 * the log-signature, computed on the lanes after the last step or, when chunks were joined,
 * by sigcodegen_log on the joined rows). */
static int forward_run_f64(const double *x, int64_t batch, int64_t length, double *out,
                             int32_t stream, int32_t chunk_hint)
{
    const int64_t steps = length - 1;
    const int W = LANES_f64;
    if (batch <= 0 || steps <= 0) {
        if (!stream && batch > 0 && out) memset(out, 0, (size_t)batch * SIGLEN * sizeof(double));
        return SIGCODEGEN_OK;
    }
    size_t lane_bytes = (SIGLEN + FUSED_SCRATCH_f64 + 1 + SUBTREE_VECTORS) * sizeof(vec_f64);
    const int by_path = batch < W && lane_bytes > LANE_MAX_BYTES;
    int64_t chunks = stream || by_path ? 1 : chunk_hint > 0 ? chunk_hint : forward_chunks(batch, steps, W);
    if (chunks > steps) chunks = steps;
    forward_pass_f64 pass = {.x = x, .out = out, .length = length, .steps = steps,
                                .chunks = chunks, .chunk_steps = (steps + chunks - 1) / chunks,
                                .virtual_paths = batch * chunks, .batch = batch,
                                .stream = stream};
    const int64_t blocks = (pass.virtual_paths + W - 1) / W;
    pass.chunk_sigs = chunks > 1 ? aligned_buffer((size_t)pass.virtual_paths * SIGLEN * sizeof(double)) : NULL;
    int status = SIGCODEGEN_OK;
    if (chunks > 1 && !pass.chunk_sigs) status = SIGCODEGEN_NO_MEMORY;
    pass.ends = chunks > 1 ? pass.chunk_sigs : pass.out;
    if (!status && by_path) {
        sigcodegen_pool_run(batch, forward_row_f64, &pass,
                            team_size(batch, (double)batch * steps * STEP_OPS / W));
        if (atomic_load(&pass.failed)) status = SIGCODEGEN_NO_MEMORY;
    } else if (!status) {
        sigcodegen_pool_run(blocks, forward_block_f64, &pass,
                            team_size(blocks, (double)blocks * pass.chunk_steps * STEP_OPS));
        if (chunks > 1 && !atomic_load(&pass.failed))
            sigcodegen_pool_run(batch, forward_join_f64, &pass,
                                team_size(batch, (double)batch * chunks * CHEN_OPS / LANES_f64));
        if (atomic_load(&pass.failed)) status = SIGCODEGEN_NO_MEMORY;
    }
    for (int i = 0; i < POOL_MAX_THREADS; ++i) free(pass.buffers[i]);
    free(pass.chunk_sigs);
    return status;
}

/* Forward: x (B, L, DIM) -> out (B, SIGLEN), or every prefix (B, L-1, SIGLEN) when stream.
 * chunk_hint: time chunks per path (<= 0: the rule of forward_chunks; stream runs unchunked). */
int sigcodegen_forward_f64(const double *x, int64_t batch, int64_t length, double *out, int32_t stream,
                             int32_t chunk_hint)
{
    return forward_run_f64(x, batch, length, out, stream, chunk_hint);
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

/* The backward pass's tasks: task `block` walks one block of LANES paths back through time. */
typedef struct {
    const double *x, *y, *gy;
    double *gx;
    int64_t batch, length, steps, segment, checkpoints;
    int stream, mode;
    _Atomic int failed;
    vec_f64 *buffers[POOL_MAX_THREADS]; /* per worker: state, adjoint, scratch */
    vec_f64 *saved[POOL_MAX_THREADS];   /* per worker: checkpoints, when a block needs them */
} backward_pass_f64;

static void backward_block_f64(void *arg, int64_t block, int worker)
{
    backward_pass_f64 *pass = arg;
    const int W = LANES_f64;
    const int stream = pass->stream, mode = pass->mode;
    const int64_t steps = pass->steps, length = pass->length, batch = pass->batch;
    const int64_t segment = pass->segment, checkpoints = pass->checkpoints;
    const double *x = pass->x, *y = pass->y, *gy = pass->gy;
    double *gx = pass->gx;
    if (!pass->buffers[worker])
        pass->buffers[worker] = aligned_buffer((2 * SIGLEN + SCRATCH_f64 + 1) * sizeof(vec_f64));
    vec_f64 *state = pass->buffers[worker];
    if (!state) {
        atomic_store(&pass->failed, 1);
        return;
    }
    vec_f64 *adjoint = state + SIGLEN, *scratch = adjoint + SIGLEN;
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
        return;
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
        return;
    }
    /* checkpoints: states before steps 0, segment, 2*segment, ... (levels < DEPTH: the adjoint
     * never reads the top level) */
    if (!pass->saved[worker])
        pass->saved[worker] = aligned_buffer((size_t)(checkpoints + segment) * SIGLEN * sizeof(vec_f64));
    vec_f64 *saved = pass->saved[worker];
    if (!saved) {
        atomic_store(&pass->failed, 1);
        return;
    }
    vec_f64 *inside = saved + checkpoints * SIGLEN;
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

/* Task b (paths one at a time, see LANE_MAX_BYTES): path b alone walked back through time,
 * in scalars; the same choice of reversal or checkpoints as backward_block. */
static void backward_row_f64(void *arg, int64_t b, int worker)
{
    backward_pass_f64 *pass = arg;
    const int stream = pass->stream, mode = pass->mode;
    const int64_t steps = pass->steps, length = pass->length;
    const int64_t segment = pass->segment, checkpoints = pass->checkpoints;
    if (!pass->buffers[worker]) /* the checkpoints only when they are needed (below) */
        pass->buffers[worker] = aligned_buffer((2 * SIGLEN + SCRATCH_f64 + 1) * sizeof(double));
    double *state = (double *)pass->buffers[worker];
    if (!state) {
        atomic_store(&pass->failed, 1);
        return;
    }
    double *adjoint = state + SIGLEN, *scratch = adjoint + SIGLEN;
    const double *x = pass->x + b * length * DIM;
    double *gx = pass->gx + b * length * DIM;
    double dx[DIM], gdx[DIM];
#define INCREMENT(i) for (int j = 0; j < DIM; ++j) dx[j] = x[((i) + 1) * DIM + j] - x[(i) * DIM + j]
#define SCATTER(i) for (int j = 0; j < DIM; ++j) { gx[((i) + 1) * DIM + j] += gdx[j]; gx[(i) * DIM + j] -= gdx[j]; }
#define VJP(a) exp_step_vjp_f64s(a, dx, adjoint, gdx, scratch)
    if (stream) {
        memset(adjoint, 0, SIGLEN * sizeof(double));
        for (int64_t i = steps - 1; i >= 0; --i) {
            const double *g = pass->gy + (b * steps + i) * SIGLEN;
            for (int c = 0; c < SIGLEN; ++c) adjoint[c] += g[c];
            if (i > 0) memcpy(state, pass->y + (b * steps + i - 1) * SIGLEN, SIGLEN * sizeof(double));
            else memset(state, 0, SIGLEN * sizeof(double));
            INCREMENT(i);
            VJP(state);
            SCATTER(i);
        }
        return;
    }
    memcpy(adjoint, pass->gy + b * SIGLEN, SIGLEN * sizeof(double));
    memcpy(state, pass->y + b * SIGLEN, SIGLEN * sizeof(double));
    double largest = 0;
    for (int c = 0; c < SIGLEN; ++c) {
        const double a = state[c] < 0 ? -state[c] : state[c];
        if (!(a <= largest)) largest = a; /* NaN propagates into the test below */
    }
    const double eps = sizeof(double) == 4 ? 5.96e-8 : 1.11e-16;
    if (mode == 1 || (mode == 0 && (double)steps * eps * (double)largest <= REVERSAL_TOLERANCE)) {
        for (int64_t i = steps - 1; i >= 0; --i) {
            INCREMENT(i);
            for (int j = 0; j < DIM; ++j) dx[j] = -dx[j];
            exp_step_lower_f64s(state, dx, scratch); /* levels < DEPTH before step i */
            for (int j = 0; j < DIM; ++j) dx[j] = -dx[j];
            VJP(state);
            SCATTER(i);
        }
        return;
    }
    double *saved = aligned_buffer((size_t)(checkpoints + segment) * SIGLEN * sizeof(double));
    if (!saved) {
        atomic_store(&pass->failed, 1);
        return;
    }
    double *inside = saved + checkpoints * SIGLEN;
    memset(state, 0, SIGLEN * sizeof(double));
    for (int64_t i = 0; i < steps; ++i) {
        if (i % segment == 0) memcpy(saved + (i / segment) * SIGLEN, state, SIGLEN * sizeof(double));
        INCREMENT(i);
        exp_step_lower_f64s(state, dx, scratch);
    }
    for (int64_t s = checkpoints - 1; s >= 0; --s) {
        const int64_t first = s * segment, last = first + segment < steps ? first + segment : steps;
        memcpy(state, saved + s * SIGLEN, SIGLEN * sizeof(double));
        for (int64_t i = first; i < last; ++i) {
            memcpy(inside + (i - first) * SIGLEN, state, SIGLEN * sizeof(double));
            INCREMENT(i);
            exp_step_lower_f64s(state, dx, scratch);
        }
        for (int64_t i = last - 1; i >= first; --i) {
            INCREMENT(i);
            VJP(inside + (i - first) * SIGLEN);
            SCATTER(i);
        }
    }
    free(saved);
#undef INCREMENT
#undef SCATTER
#undef VJP
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
    backward_pass_f64 pass = {.x = x, .y = y, .gy = gy, .gx = gx, .batch = batch,
                                 .length = length, .steps = steps, .segment = segment,
                                 .checkpoints = (steps + segment - 1) / segment,
                                 .stream = stream, .mode = mode};
    const size_t lane_bytes = (2 * SIGLEN + SCRATCH_f64 + 1
                               + (stream ? 0 : (size_t)(pass.checkpoints + segment) * SIGLEN))
                              * sizeof(vec_f64);
    if (batch < W && lane_bytes > LANE_MAX_BYTES) /* one path at a time */
        sigcodegen_pool_run(batch, backward_row_f64, &pass,
                            team_size(batch, 4.0 * batch * steps * STEP_OPS / W));
    else
        sigcodegen_pool_run(blocks, backward_block_f64, &pass,
                            team_size(blocks, 4.0 * blocks * steps * STEP_OPS));
    for (int i = 0; i < POOL_MAX_THREADS; ++i) {
        free(pass.buffers[i]);
        free(pass.saved[i]);
    }
    return atomic_load(&pass.failed) ? SIGCODEGEN_NO_MEMORY : SIGCODEGEN_OK;
}
#endif
#endif /* double */

#if BUILD_F32_FORWARD || BUILD_F64_FORWARD
/* What this library was built for: 0 dim, 1 depth, 2 siglen, 3 vector bytes, 4 XLA FFI,
 * 5 precision bits (0: both), 6 kind (0 signature, 1 log-signature). */
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
    case 7: return FUSED_STEPS; /* increments per call of the fused steps (this build's variant) */
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

/* The scalar attribute `name` of the call, or NULL. */
static const XLA_FFI_Scalar *ffi_scalar(const XLA_FFI_CallFrame *frame, const char *name)
{
    const size_t length = strlen(name);
    for (int64_t i = 0; i < frame->attrs.size; ++i) {
        const XLA_FFI_ByteSpan *key = frame->attrs.names[i];
        if (frame->attrs.types[i] == XLA_FFI_AttrType_SCALAR && key->len == length &&
            memcmp(key->ptr, name, length) == 0)
            return (const XLA_FFI_Scalar *)frame->attrs.attrs[i];
    }
    return NULL;
}

/* Integer and floating attributes (0 when absent or of another type). */
static inline int32_t ffi_attr_i32(const XLA_FFI_CallFrame *frame, const char *name)
{
    const XLA_FFI_Scalar *scalar = ffi_scalar(frame, name);
    if (scalar && scalar->dtype == XLA_FFI_DataType_S32) return *(const int32_t *)scalar->value;
    if (scalar && scalar->dtype == XLA_FFI_DataType_S64) return (int32_t)*(const int64_t *)scalar->value;
    return 0;
}

static inline double ffi_attr_f64(const XLA_FFI_CallFrame *frame, const char *name)
{
    const XLA_FFI_Scalar *scalar = ffi_scalar(frame, name);
    if (scalar && scalar->dtype == XLA_FFI_DataType_F64) return *(const double *)scalar->value;
    if (scalar && scalar->dtype == XLA_FFI_DataType_F32) return (double)*(const float *)scalar->value;
    return 0.0;
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
