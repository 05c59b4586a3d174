"""The rules that size a strategy's work from a batch and a length, written once.

Plain Python with no imports, so that the emitters can copy each function's source verbatim
into the modules they write (jax, keras, triton: see ``templates/*/module.py.j2``), where it
runs with the module's constants, the plan's parameters for that target. ``sigcodegen plan``
(``explain.strategy_cost``) calls the same functions. The c target's chunk rule depends on the
thread count and is written in C (``forward_chunks`` in ``templates/c/module.c.j2``); only its
constants come from the plan.
"""

__all__ = ["num_chunks", "levelwise_block_steps", "bucket", "top_tiles", "POOL_PARAMS",
           "POOL_GLOSSARY"]

#: The c target's thread pool (templates/c/pool.j2), the same for every kind: nanoseconds an
#: idle pool thread spins for the next pass before it sleeps (and a caller waits for started
#: tasks before it sleeps): long enough to span the Python between two calls, short enough
#: that an idle process burns no core. A caller that, its own tasks done, waits for a task
#: another thread claimed and has run for longer than twice the caller's mean task time plus
#: pool_straggle_ns (that thread was preempted mid-task), in pool_strikes team passes in a row
#: (another process wants the cores; one such pass is a hiccup), runs the passes of the next
#: pool_backoff_min_ns on its thread alone, then tries the team again; a backoff that follows
#: another without a clean team pass between them lasts twice as long, up to pool_backoff_ns.
#: What it does under load: the README's under-load table (bench/cpu.py --load).
POOL_PARAMS = (("pool_spin_ns", 200_000), ("pool_straggle_ns", 50_000), ("pool_strikes", 2),
               ("pool_backoff_min_ns", 6_250_000), ("pool_backoff_ns", 100_000_000))
POOL_GLOSSARY = (
    ("pool_spin_ns", "nanoseconds an idle pool thread spins before it sleeps"),
    ("pool_straggle_ns", "a caller that waits for a task another thread has run for longer than "
                         "twice the caller's mean task time plus this, pool_strikes passes in a "
                         "row, runs alone for a while"),
    ("pool_strikes", "such team passes in a row that start a backoff"),
    ("pool_backoff_min_ns", "nanoseconds of the first backoff (each that follows another "
                            "without a clean team pass lasts twice as long)"),
    ("pool_backoff_ns", "nanoseconds of the longest backoff"),
)


def num_chunks(steps, paths, lanes, min_steps):
    """Time chunks P for the chunked strategy: the largest power of two with
    paths * P <= lanes and P * min_steps <= steps, 1 when none fits."""
    p = 1
    while 2 * p * max(paths, 1) <= lanes and 2 * p * min_steps <= steps:
        p *= 2
    return p


def levelwise_block_steps(steps, paths, siglen, block_elements, min_steps):
    """Time steps Tb per block for the levelwise strategy: paths * Tb * siglen <= block_elements,
    but at least min_steps (and 1), at most the whole path."""
    budget = block_elements // max(1, paths * siglen)
    return max(1, min(steps, max(min_steps, budget)))


def bucket(n, minimum, per_octave):
    """The size a jit target runs a size n (increments or paths) at: the smallest grid value
    >= n, the grid being minimum, then per_octave evenly spaced values in each octave above
    (minimum * 2**k * (1 + j / per_octave)); minimum must be a multiple of per_octave."""
    if n <= minimum:
        return minimum
    base = minimum
    while 2 * base < n:
        base *= 2
    step = base // per_octave
    return base + step * -(-(n - base) // step)


def top_tiles(dim, rows):
    """The register tiles of the c target's fused top pass (``top_pass``): the dim letters j of
    a word u j of the level below the top, split into the fewest tiles of at most ``rows``
    letters, as even as can be: ((first letter, letters), ...). dim 10, rows 6 gives 5 + 5."""
    count = -(-dim // max(1, rows))
    tiles, first = [], 0
    for i in range(count):
        size = dim // count + (1 if i < dim % count else 0)
        tiles.append((first, size))
        first += size
    return tuple(tiles)
