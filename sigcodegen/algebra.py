"""Sizes and words of the truncated tensor algebra T(R^dim), pure Python.

A signature truncated at ``depth`` holds levels 1..depth; level k has ``dim**k`` coefficients,
one per word ``(i1, ..., ik)`` with letters in ``range(dim)``, stored row-major: the word sits at
index ``i1*dim**(k-1) + ... + ik`` of its level, and the levels are concatenated in order. This is
the layout of iisignature, signax, signatory, pysiglib and keras_sig.
"""

from __future__ import annotations

import functools
import itertools

__all__ = [
    "level_sizes",
    "level_offsets",
    "signature_channels",
    "words",
    "lyndon_words",
    "lyndon_brackets",
    "logsignature_channels",
    "lyndon_maps",
    "lyndon_index",
    "lyndon_last_letters",
    "LyndonMaps",
    "SparseMap",
    "antipode",
]


def level_sizes(dim: int, depth: int) -> tuple[int, ...]:
    """Coefficients per level: ``(dim, dim**2, ..., dim**depth)``.

    >>> level_sizes(3, 2)
    (3, 9)
    """
    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth)
    return tuple(dim**k for k in range(1, depth + 1))


def level_offsets(dim: int, depth: int) -> tuple[int, ...]:
    """Start of each level in the flat signature; the last entry is the total length."""
    offsets = [0]
    for size in level_sizes(dim, depth):
        offsets.append(offsets[-1] + size)
    return tuple(offsets)


def signature_channels(dim: int, depth: int) -> int:
    """Length of the flat signature (no scalar term): ``dim + dim**2 + ... + dim**depth``.
    A count: any size is answered, also one above the limit a computation may allocate.

    >>> signature_channels(5, 4), signature_channels(4, 12)
    (780, 22369620)
    """
    if type(dim) is int and type(depth) is int and (dim, depth) in _CHANNELS:
        return _CHANNELS[dim, depth]  # every call of signature() asks: ~5 us saved
    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth, "signature_channels", limits=False)
    count = depth if dim == 1 else dim * (dim**depth - 1) // (dim - 1)
    if len(_CHANNELS) < 4096:
        _CHANNELS[dim, depth] = count
    return count


#: signature_channels of the (dim, depth) pairs of ints already asked for
_CHANNELS: dict[tuple[int, int], int] = {}


def words(dim: int, depth: int) -> list[tuple[int, ...]]:
    """Every word of length 1..depth in output order (letters are 0-based).

    >>> words(2, 2)
    [(0,), (1,), (0, 0), (0, 1), (1, 0), (1, 1)]
    """
    from .spec import check_dim_depth

    check_dim_depth(dim, depth)
    out: list[tuple[int, ...]] = []
    for k in range(1, depth + 1):
        out.extend(itertools.product(range(dim), repeat=k))
    return out


# ---- Lyndon words, brackets and the maps between bases ---------------------------------------


def _lyndon_of_length(dim: int, length: int) -> list[tuple[int, ...]]:
    """Lyndon words of exactly ``length`` letters over range(dim), lexicographic (Duval)."""
    out, word = [], [-1]
    while word:
        word[-1] += 1
        if len(word) == length:
            out.append(tuple(word))
        base = len(word)
        while len(word) < length:  # extend periodically
            word.append(word[len(word) - base])
        while word and word[-1] == dim - 1:
            word.pop()
    return out


def lyndon_words(dim: int, depth: int) -> list[tuple[int, ...]]:
    """Lyndon words of length 1..depth (0-based letters): level by level, lexicographic within
    a level. Their count is the log-signature length (Witt's formula); the order is
    iisignature's.

    >>> lyndon_words(2, 3)
    [(0,), (1,), (0, 1), (0, 0, 1), (0, 1, 1)]
    """
    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth)
    return [w for k in range(1, depth + 1) for w in _lyndon_of_length(dim, k)]


def lyndon_last_letters(dim: int, length: int) -> tuple[int, ...]:
    """For every word p of ``length - 1`` letters (in the flat order of its level), the
    smallest letter v such that p v is a Lyndon word, or ``dim`` where there is none: the
    Lyndon words of ``length`` letters are exactly the words p v with v at least that letter.

    Why one bound per p: p v can be Lyndon only if p is a prenecklace (a prefix of some Lyndon
    word, or of a power of one); such a p with Lyndon period k extends to a Lyndon word by v
    exactly when v > p[len(p) - k] (Ruskey, Savage and Wang's prenecklace theorem). The
    prenecklaces are generated with their periods by the Fredricksen-Kessler-Maiorana
    recursion, so the cost is their number, not dim ** (length - 1).

    >>> lyndon_last_letters(3, 2)
    (1, 2, 3)
    """
    if length < 2:
        raise ValueError(f"lyndon_last_letters: length {length} must be >= 2 (a word p v)")
    n = length - 1
    first = [dim] * dim**n
    word = [0] * (n + 1)  # 1-based: word[1..n]

    def extend(t: int, period: int) -> None:
        if t > n:
            index = 0
            for letter in word[1:]:
                index = index * dim + letter
            first[index] = word[n + 1 - period] + 1
            return
        word[t] = word[t - period]
        extend(t + 1, period)
        for letter in range(word[t - period] + 1, dim):
            word[t] = letter
            extend(t + 1, t)

    for letter in range(dim):  # the first letter, period 1
        word[1] = letter
        extend(2, 1)
    return tuple(first)


def _is_lyndon(word: tuple[int, ...]) -> bool:
    return all(word < word[i:] + word[:i] for i in range(1, len(word)))


def _factor(word: tuple[int, ...]):
    """Standard bracketing: w = u v with v the longest proper suffix that is Lyndon."""
    if len(word) == 1:
        return word[0]
    for i in range(1, len(word)):
        if _is_lyndon(word[i:]):
            return (_factor(word[:i]), _factor(word[i:]))
    raise AssertionError(word)


def lyndon_brackets(dim: int, depth: int) -> list:
    """The Lyndon bracket basis of the free Lie algebra, as nested pairs of 0-based letters:
    ``(a, b)`` is the Lie bracket [a, b] = ab - ba. Same order as :func:`lyndon_words`.

    >>> lyndon_brackets(2, 3)
    [0, 1, (0, 1), (0, (0, 1)), ((0, 1), 1)]
    """
    return [_factor(w) for w in lyndon_words(dim, depth)]


def logsignature_channels(dim: int, depth: int) -> int:
    """Length of the log-signature in the ``words`` and ``brackets`` modes: the number of
    Lyndon words of length 1..depth, by Witt's formula sum_k (1/k) sum_{j | k} mu(k/j) dim^j.

    A count: any size is answered.

    >>> logsignature_channels(2, 4), logsignature_channels(9, 9)
    (8, 49212093)
    """
    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth, "logsignature_channels", limits=False)

    def mobius(n: int) -> int:
        result, p = 1, 2
        while p * p <= n:
            if n % p == 0:
                n //= p
                if n % p == 0:
                    return 0
                result = -result
            p += 1
        return -result if n > 1 else result

    return sum(sum(mobius(k // j) * dim**j for j in range(1, k + 1) if k % j == 0) // k
               for k in range(1, depth + 1))


def _expand(bracket, dim: int) -> dict[tuple[int, ...], int]:
    """The polynomial of a bracket as {word: coefficient}."""
    if isinstance(bracket, int):
        return {(bracket,): 1}
    left, right = _expand(bracket[0], dim), _expand(bracket[1], dim)
    out: dict[tuple[int, ...], int] = {}
    for u, a in left.items():
        for v, b in right.items():
            out[u + v] = out.get(u + v, 0) + a * b
            out[v + u] = out.get(v + u, 0) - a * b
    return {w: c for w, c in out.items() if c}


def _word_index(word: tuple[int, ...], dim: int) -> int:
    """Position of a word in the flat signature layout."""
    offset = sum(dim**k for k in range(1, len(word)))
    index = 0
    for letter in word:
        index = index * dim + letter
    return offset + index


class SparseMap:
    """A constant sparse linear map ``y = M x`` on the last axis, by its nonzeros:
    ``y[..., rows[t]] += values[t] * x[..., cols[t]]``, ``rows`` sorted (so that a segment sum
    can add them up). ``shape`` is ``(len(y), len(x))``; no dense matrix is ever built."""

    __slots__ = ("rows", "cols", "values", "shape", "_csr", "_transpose")

    def __init__(self, rows, cols, values, shape: tuple[int, int]):
        import numpy as np

        order = np.argsort(rows, kind="stable")
        self.rows = np.ascontiguousarray(np.asarray(rows, dtype=np.int64)[order])
        self.cols = np.ascontiguousarray(np.asarray(cols, dtype=np.int64)[order])
        self.values = np.ascontiguousarray(np.asarray(values, dtype=np.float64)[order])
        self.shape = (int(shape[0]), int(shape[1]))
        self._csr: dict = {}  # scipy.sparse matrices of the map, per dtype (when installed)
        self._transpose: SparseMap | None = None

    @property
    def nnz(self) -> int:
        """The number of stored nonzeros."""
        return int(self.values.size)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored nonzeros (rows, columns and values)."""
        return int(self.rows.nbytes + self.cols.nbytes + self.values.nbytes)

    @property
    def T(self) -> "SparseMap":
        """The transpose (the adjoint of the map), built once."""
        if self._transpose is None:
            self._transpose = SparseMap(self.cols, self.rows, self.values,
                                        (self.shape[1], self.shape[0]))
        return self._transpose

    def apply(self, x, chunk: int = 1 << 16, use_scipy: bool = True):
        """``M x`` for a numpy array ``(..., shape[1])``, in x's float dtype: a CSR product
        with scipy.sparse when it is installed, else segment sums of the nonzeros in chunks of
        whole rows (so the temporary is about ``chunk`` values per leading row, not one per
        nonzero; ``use_scipy=False`` asks for these)."""
        import numpy as np

        x = np.asarray(x)
        dtype = np.result_type(x.dtype, np.float32)
        csr = self._scipy(dtype) if use_scipy else None
        if csr is not None:
            flat = x.reshape(-1, self.shape[1]).astype(dtype, copy=False)
            return np.ascontiguousarray((csr @ flat.T).T).reshape(*x.shape[:-1], self.shape[0])
        out = np.zeros((*x.shape[:-1], self.shape[0]), dtype=dtype)
        rows, cols, values = self.rows, self.cols, self.values.astype(out.dtype)
        start = 0
        while start < rows.size:
            stop = min(start + chunk, rows.size)
            while stop < rows.size and rows[stop] == rows[stop - 1]:
                stop += 1  # keep a row in one chunk
            r = rows[start:stop]
            heads = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
            part = x[..., cols[start:stop]] * values[start:stop]
            out[..., r[heads]] = np.add.reduceat(part, heads, axis=-1)
            start = stop
        return out

    def _scipy(self, dtype):
        """The map as a scipy.sparse CSR matrix of ``dtype`` (built once), or None without
        scipy."""
        if dtype not in self._csr:
            try:
                from scipy import sparse
            except ImportError:
                self._csr[dtype] = None
            else:
                self._csr[dtype] = sparse.csr_matrix(
                    (self.values.astype(dtype), (self.rows, self.cols)), shape=self.shape)
        return self._csr[dtype]

    def __repr__(self) -> str:
        return f"SparseMap(shape={self.shape}, nnz={self.nnz})"


class LyndonMaps:
    """The maps between the flat tensor logarithm (siglen values) and the Lyndon coordinates
    (``count`` = :func:`logsignature_channels` values), all sparse:

    - ``words_index`` (count,): positions of the Lyndon words in the flat layout; the ``words``
      mode is the gather ``log[..., words_index]``.
    - ``inverse`` (count × count): the inverse of the unitriangular matrix S of the bracket
      expansions at the Lyndon words (S[i, j] = coefficient of Lyndon word i in bracket j). S is
      block diagonal over the letter content of the words (a bracket's expansion only holds
      rearrangements of its word), so its inverse is stored block by block: the ``brackets``
      mode is ``inverse @ log[..., words_index]``.
    - ``expand`` (siglen × count): each bracket's expansion (its nonzeros); the exponential map
      of ``brackets`` coordinates is ``exp(expand @ c)``, of ``words`` coordinates
      ``exp(expand @ (inverse @ w))``.
    """

    __slots__ = ("dim", "depth", "siglen", "count", "words_index", "inverse", "expand")

    def __init__(self, dim, depth, siglen, words_index, inverse: SparseMap, expand: SparseMap):
        self.dim, self.depth, self.siglen = dim, depth, siglen
        self.count = int(words_index.size)
        self.words_index, self.inverse, self.expand = words_index, inverse, expand

    @property
    def nnz(self) -> int:
        """Nonzeros of the brackets map (the inverse) plus those of the expansion."""
        return self.inverse.nnz + self.expand.nnz

    @property
    def nbytes(self) -> int:
        """Bytes of every stored structure (the word index, the inverse, the expansion)."""
        return int(self.words_index.nbytes) + self.inverse.nbytes + self.expand.nbytes

    def describe(self) -> str:
        """One line: the sizes of the maps (what the memory bench and ``explain`` print)."""
        return (f"log-signature maps d={self.dim} m={self.depth}: {self.count} Lyndon words of "
                f"{self.siglen} coefficients; brackets map {self.inverse.nnz} nonzeros, "
                f"expansion {self.expand.nnz} nonzeros, {self.nbytes / 2**20:.2f} MiB in all")

    def __repr__(self) -> str:
        return f"<LyndonMaps d={self.dim} m={self.depth} count={self.count} nnz={self.nnz}>"


@functools.lru_cache(maxsize=16)
def lyndon_index(dim: int, depth: int):
    """Positions of the Lyndon words (in :func:`lyndon_words` order) in the flat signature
    layout, an int64 array: the ``words`` log-signature is the gather ``log[..., index]``
    (nothing else of :func:`lyndon_maps` is built for it).

    >>> lyndon_index(2, 3).tolist()
    [0, 1, 3, 7, 9]
    """
    import numpy as np

    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth, "lyndon_index", limits=False)
    offsets = level_offsets(dim, depth)
    parts = []
    for k in range(1, depth + 1):
        if k == 2:  # ab with a < b, in lexicographic order
            a, b = np.triu_indices(dim, 1)
            parts.append(a * dim + b + offsets[1])
            continue
        parts.append(np.asarray([_word_index(w, dim) for w in _lyndon_of_length(dim, k)],
                                dtype=np.int64))
    return np.concatenate(parts).astype(np.int64)


def _smallest_suffix_split(word: tuple[int, ...]) -> int:
    """The split i of the standard factorisation w = w[:i] w[i:] of a Lyndon word: w[i:] is its
    lexicographically smallest proper suffix (which is its longest proper Lyndon suffix)."""
    best = 1
    for i in range(2, len(word)):
        if word[i:] < word[best:]:
            best = i
    return best


@functools.lru_cache(maxsize=16)
def lyndon_maps(dim: int, depth: int) -> LyndonMaps:
    """The sparse :class:`LyndonMaps` of (dim, depth), built from the Lyndon words' bracket
    expansions (never a dense siglen × count matrix, never the inverse of a dense one).

    >>> m = lyndon_maps(2, 3)
    >>> m.words_index.tolist(), m.inverse.nnz, m.expand.nnz
    ([0, 1, 3, 7, 9], 5, 10)
    """
    import numpy as np

    from .spec import check_dim_depth

    dim, depth = check_dim_depth(dim, depth, "lyndon_maps", limits=False)
    offsets = level_offsets(dim, depth)
    memo: dict[tuple[int, ...], dict[int, int]] = {}  # expansions of shorter words, in-level
    inv_rows, inv_cols, inv_vals = [], [], []
    exp_rows, exp_cols, exp_vals = [], [], []
    first = 0  # global position of the level's first Lyndon word
    for k in range(1, depth + 1):
        if k == 2 and depth == 2:  # the Lyndon words ab, a < b: [a, b] = ab - ba, S = 1
            a, b = np.triu_indices(dim, 1)
            n = np.arange(a.size, dtype=np.int64) + first
            exp_rows += [a * dim + b + offsets[1], b * dim + a + offsets[1]]
            exp_cols += [n, n]
            exp_vals += [np.ones(a.size), -np.ones(a.size)]
            inv_rows.append(n)
            inv_cols.append(n)
            inv_vals.append(np.ones(a.size))
            first += a.size
            continue
        level = _lyndon_of_length(dim, k)
        position = {}
        for n, word in enumerate(level):
            index = 0
            for letter in word:
                index = index * dim + letter
            position[index] = n
        # the expansions of the level's brackets, and S's nonzeros (at the Lyndon words)
        s_rows, s_cols, s_vals = [], [], []
        e_rows, e_cols, e_vals = [], [], []
        for n, word in enumerate(level):
            if k == 1:
                poly = {word[0]: 1}
            else:
                split = _smallest_suffix_split(word)
                u, v = word[:split], word[split:]
                pu = memo[u] if len(u) > 1 else {u[0]: 1}
                pv = memo[v] if len(v) > 1 else {v[0]: 1}
                su, sv = dim ** len(v), dim ** len(u)
                poly = {}
                for x, a in pu.items():
                    for y, b in pv.items():
                        uv, vu = x * su + y, y * sv + x
                        poly[uv] = poly.get(uv, 0) + a * b
                        poly[vu] = poly.get(vu, 0) - a * b
                poly = {w: c for w, c in poly.items() if c}
            if k < depth:
                memo[word] = poly
            for w, c in poly.items():
                e_rows.append(w + offsets[k - 1])
                e_cols.append(first + n)
                e_vals.append(c)
                row = position.get(w)
                if row is not None:
                    s_rows.append(row)
                    s_cols.append(n)
                    s_vals.append(c)
        exp_rows.append(np.asarray(e_rows, np.int64))
        exp_cols.append(np.asarray(e_cols, np.int64))
        exp_vals.append(np.asarray(e_vals, np.float64))
        _invert_level(level, s_rows, s_cols, s_vals, first, inv_rows, inv_cols, inv_vals)
        first += len(level)
    words_index = lyndon_index(dim, depth)
    count = int(words_index.size)
    siglen = offsets[-1]
    inverse = SparseMap(np.concatenate(inv_rows), np.concatenate(inv_cols),
                        np.concatenate(inv_vals), (count, count))
    expand = SparseMap(np.concatenate(exp_rows), np.concatenate(exp_cols),
                       np.concatenate(exp_vals), (siglen, count))
    return LyndonMaps(dim, depth, siglen, words_index, inverse, expand)


def _invert_level(level, s_rows, s_cols, s_vals, first, inv_rows, inv_cols, inv_vals) -> None:
    """Append the nonzeros of S^-1 for one level. S is unitriangular and block diagonal over
    the letter content of the words; blocks of one size are inverted together (dense, each at
    most the number of Lyndon words of one content: 120 at depth 6), singletons are 1."""
    import numpy as np

    classes: dict[tuple[int, ...], list[int]] = {}
    for n, word in enumerate(level):
        classes.setdefault(tuple(sorted(word)), []).append(n)
    by_size: dict[int, list[list[int]]] = {}
    for members in classes.values():
        by_size.setdefault(len(members), []).append(members)
    block_of = np.empty(len(level), dtype=np.int64)  # (size group's block number, slot)
    slot_of = np.empty(len(level), dtype=np.int64)
    rows = np.asarray(s_rows, dtype=np.int64)
    cols = np.asarray(s_cols, dtype=np.int64)
    vals = np.asarray(s_vals, dtype=np.float64)
    for size, blocks in by_size.items():
        if size == 1:
            ones = np.fromiter((b[0] for b in blocks), dtype=np.int64, count=len(blocks))
            inv_rows.append(ones + first)
            inv_cols.append(ones + first)
            inv_vals.append(np.ones(ones.size))
            continue
        members = np.asarray(blocks, dtype=np.int64)  # (blocks, size)
        block_of[members] = np.arange(len(blocks))[:, None]
        slot_of[members] = np.arange(size)[None, :]
        dense = np.zeros((len(blocks), size, size))
        mine = np.isin(rows, members.ravel())
        dense[block_of[rows[mine]], slot_of[rows[mine]], slot_of[cols[mine]]] = vals[mine]
        inverse = np.rint(np.linalg.inv(dense))  # integers: S is integer unitriangular
        b, i, j = np.nonzero(inverse)
        inv_rows.append(members[b, i] + first)
        inv_cols.append(members[b, j] + first)
        inv_vals.append(inverse[b, i, j])


@functools.lru_cache(maxsize=64)
def antipode(dim: int, depth: int):
    """(permutation, signs) with inverse[i] = signs[i] * sig[permutation[i]]: the inverse of a
    group-like element reverses every word and flips the sign of odd levels."""
    import numpy as np

    perm, signs = [], []
    for k in range(1, depth + 1):
        for word in itertools.product(range(dim), repeat=k):
            perm.append(_word_index(tuple(reversed(word)), dim))
            signs.append((-1) ** k)
    return np.array(perm, dtype=np.int64), np.array(signs, dtype=np.float64)


@functools.lru_cache(maxsize=16)
def log_projection(dim: int, depth: int, mode: str):
    """The projection of the flat tensor logarithm (siglen values) onto a log-signature basis,
    as compressed sparse rows ``(indptr, cols, values)`` (int64, int64, float64): output i is
    ``sum(values[k] * log[cols[k]] for k in range(indptr[i], indptr[i + 1]))``. ``words``: one
    1 per row at the Lyndon word's position; ``brackets``: that gather composed with the
    bracket map (``lyndon_maps(...).inverse``); ``expand``: None (the logarithm itself). The c
    target's log-signature kernels take these tables as arguments.

    >>> [a.tolist() for a in log_projection(2, 2, "brackets")]
    [[0, 1, 2, 3], [0, 1, 3], [1.0, 1.0, 1.0]]
    """
    import numpy as np

    if mode == "expand":
        return None
    index = lyndon_index(dim, depth)
    if mode == "words":
        return (np.arange(index.size + 1, dtype=np.int64), index.copy(),
                np.ones(index.size, dtype=np.float64))
    if mode != "brackets":
        raise ValueError(f"log_projection: unknown mode {mode!r}; use expand, words or brackets")
    inverse = lyndon_maps(dim, depth).inverse  # rows sorted
    indptr = np.searchsorted(inverse.rows, np.arange(inverse.shape[0] + 1)).astype(np.int64)
    return indptr, index[inverse.cols], inverse.values.copy()
