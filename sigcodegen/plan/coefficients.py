"""The plan of ``signature_coefficients``: the signature pruned to the prefix tree of the
requested words.

A coefficient S_w of a word w = w_1..w_k (0-based letters) needs, by Chen's identity over one
step with increment dx,

    S_w(new) = S_w(prev) + sum_{j=0}^{k-1} S_{w_1..w_j}(prev) * dx_{w_{j+1}} ... dx_{w_k} / (k-j)!

(S of the empty word is 1): only the prefixes of w, which are nodes of the prefix tree of the
requested words. The plan numbers those nodes level by level and, for each level k, gives per
node its letters and the index of each of its prefixes in its own level's table: everything a
driver needs to update one level of the tree over all steps at once (the lower levels' states
before each step are known, so level k's increments are a product and a sum, and its states a
cumulative sum over time). The cost is proportional to the number of nodes, not to d**m.

This module is data only: frozen dataclasses that print themselves (``sigcodegen plan
--words``); ``sigcodegen.runtime.coefficients`` runs them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .ir import TargetParams
from .rules import POOL_PARAMS

#: the c module's constant: a pass of fewer node updates (letters x steps x blocks) runs on one
#: thread (the pool's own constants: rules.POOL_PARAMS)
TEAM_MIN_UPDATES = 20_000

__all__ = ["CoefficientLevel", "CoefficientPlan", "CoefficientKernelPlan", "coefficient_plan",
           "coefficient_kernel_plan", "check_words"]


def check_words(words, dim: int, owner: str = "signature_coefficients") -> tuple[tuple[int, ...], ...]:
    """The requested words as a tuple of tuples of ints, validated against ``dim``.

    A word is a sequence of 0-based letters in 0..dim-1; one word alone may be given as a tuple
    of ints. The request must hold at least one word, and every word at least one letter (the
    empty word's coefficient is the constant 1, which is not part of the signature's layout)."""
    if isinstance(words, (str, bytes)) or not hasattr(words, "__iter__"):
        raise TypeError(f"{owner}: words must be a list of words, each a tuple of 0-based "
                        f"letters, e.g. [(0,), (1, 0)]; got {words!r}")
    words = list(words)
    if words and all(_is_letter(a) for a in words):  # one word given alone: (0, 1)
        words = [tuple(words)]
    if not words:
        raise ValueError(f"{owner}: no words requested; give at least one word, e.g. [(0,), (1, 0)]")
    out = []
    for n, word in enumerate(words):
        if isinstance(word, (str, bytes)) or not hasattr(word, "__iter__"):
            raise TypeError(f"{owner}: word {n} is {word!r}, not a tuple of letters; write a "
                            f"one-letter word as ({word!r},)")
        word = tuple(word)
        if not word:
            raise ValueError(f"{owner}: word {n} is empty; the empty word's coefficient is the "
                             f"constant 1 and is not part of the signature, so drop it")
        for a in word:
            if not _is_letter(a):
                raise TypeError(f"{owner}: word {n} = {word!r} has the letter {a!r}; letters are "
                                f"integers 0..{dim - 1}")
            if not 0 <= int(a) < dim:
                raise ValueError(f"{owner}: word {n} = {word!r} has the letter {int(a)}, out of "
                                 f"range for a path of dimension {dim} (letters are 0..{dim - 1})")
        out.append(tuple(int(a) for a in word))
    return tuple(out)


def _is_letter(a) -> bool:
    import numbers

    return isinstance(a, numbers.Integral) and not isinstance(a, bool)


@dataclass(frozen=True)
class CoefficientLevel:
    """The nodes of one level k of the prefix tree (words of k letters), in table form.

    ``letters[n]`` is node n's word; ``prefixes[n][j]`` (j = 1..k-1) is the index, in level j's
    table, of its prefix of j letters (``prefixes[n][0]`` is 0, the empty word, unused);
    ``factors[j]`` = 1/(k-j)! weighs the term of the prefix of j letters."""

    degree: int
    letters: tuple[tuple[int, ...], ...]
    prefixes: tuple[tuple[int, ...], ...]

    @property
    def factors(self) -> tuple[float, ...]:
        return tuple(1.0 / math.factorial(self.degree - j) for j in range(self.degree))

    @property
    def size(self) -> int:
        return len(self.letters)

    def macs(self) -> int:
        """Multiply-adds per path and step: per node, k-1 products of increments (the suffix
        products) and k terms of the sum."""
        return self.size * (2 * self.degree - 1)


@dataclass(frozen=True)
class CoefficientPlan:
    """The prefix tree of one request: its levels, and where each requested word sits."""

    dim: int
    words: tuple[tuple[int, ...], ...]
    levels: tuple[CoefficientLevel, ...]
    #: per requested word (in request order): (its level's degree, its index in that level)
    outputs: tuple[tuple[int, int], ...]

    @property
    def depth(self) -> int:
        return len(self.levels)

    @property
    def nodes(self) -> int:
        return sum(level.size for level in self.levels)

    def macs(self) -> int:
        """Multiply-adds per path and step (FLOPs are twice that)."""
        return sum(level.macs() for level in self.levels)

    def tables(self):
        """The c kernel's arguments: nodes ordered longest word first (an update in place reads
        only shorter prefixes), as int32/float64 arrays ``(len, letter, chain, scale,
        out_index)``: ``letter[n, i]`` the word's letters, ``chain[n, i]`` the node of its prefix
        of i+1 letters (the node itself at i = k-1), ``scale[n, i]`` = 1/(k-i), ``out_index``
        the node of each requested word. Arrays are (nodes, depth), padded with 0."""
        import numpy as np

        order = [(level.degree, i) for level in reversed(self.levels) for i in range(level.size)]
        position = {key: n for n, key in enumerate(order)}
        nodes, depth = len(order), self.depth
        length = np.zeros(nodes, np.int32)
        letter = np.zeros((nodes, depth), np.int32)
        chain = np.zeros((nodes, depth), np.int32)
        scale = np.zeros((nodes, depth), np.float64)
        for n, (k, i) in enumerate(order):
            level = self.levels[k - 1]
            word = level.letters[i]
            length[n] = k
            letter[n, :k] = word
            for j in range(k):  # prefix of j+1 letters: its index in level j+1
                prefix = level.prefixes[i][j + 1] if j + 1 < k else i
                chain[n, j] = position[(j + 1, prefix)]
                scale[n, j] = 1.0 / (k - j)
        out_index = np.asarray([position[key] for key in self.outputs], np.int32)
        return length, letter, chain, scale, out_index

    def summary(self) -> str:
        full = sum(self.dim**k for k in range(1, self.depth + 1))
        return (f"signature coefficients: {len(self.words)} words of dim {self.dim} up to length "
                f"{self.depth}; {self.nodes} prefix-tree nodes (the full signature has {full}); "
                f"{2 * self.macs()} FLOPs per path and step")

    def text(self, batch: int | None = None, length: int | None = None) -> str:
        lines = [self.summary(), "S[w] += sum over j of S[w[:j]] * dx[w[j]] * ... * dx[w[-1]] / (k-j)! "
                 "per step (Chen), prefixes before the step", ""]
        for level in self.levels:
            lines.append(f"level {level.degree}: {level.size} nodes, {2 * level.macs()} FLOPs "
                         f"per path and step, then a cumulative sum over the steps")
            for n, word in enumerate(level.letters):
                terms = " + ".join(
                    "*".join(([_name(self.levels[j - 1].letters[level.prefixes[n][j]])] if j else [])
                             + [f"dx[{a}]" for a in word[j:]])
                    + (f"/{math.factorial(level.degree - j)}" if level.degree - j > 1 else "")
                    for j in range(level.degree))
                lines.append(f"  [{n}] {_name(word)} += {terms}")
        lines.append("")
        lines.append("outputs: " + ", ".join(f"{_name(w)} = level {k}[{i}]"
                                            for w, (k, i) in zip(self.words, self.outputs)))
        if batch is not None and length is not None:
            steps = max(length - 1, 0)
            lines.append(f"work for {batch} paths of {length} points: "
                         f"{2 * self.macs() * steps * batch:,} FLOPs")
        return "\n".join(lines)


def _name(word: tuple[int, ...]) -> str:
    return "S[" + ",".join(map(str, word)) + "]"


def coefficient_plan(dim: int, words) -> CoefficientPlan:
    """The pruned plan for ``words`` (validated by :func:`check_words`) of a path in R^dim."""
    words = check_words(words, dim)
    depth = max(len(w) for w in words)
    index: list[dict[tuple[int, ...], int]] = [{} for _ in range(depth + 1)]
    index[0][()] = 0
    for word in words:
        for k in range(1, len(word) + 1):
            index[k].setdefault(word[:k], len(index[k]))
    levels = []
    for k in range(1, depth + 1):
        letters = tuple(index[k])  # insertion order = index order
        prefixes = tuple(tuple(index[j][w[:j]] for j in range(k)) for w in letters)
        levels.append(CoefficientLevel(degree=k, letters=letters, prefixes=prefixes))
    outputs = tuple((len(w), index[len(w)][w]) for w in words)
    return CoefficientPlan(dim=dim, words=words, levels=tuple(levels), outputs=outputs)


@dataclass(frozen=True)
class CoefficientKernelPlan:
    """The c module of ``KernelSpec(kind="coefficients", dim=d, target="c")``: one table-driven
    forward for every word set of paths in R^d (the prefix tree's tables, in the order
    :meth:`CoefficientPlan.tables` gives, are arguments of the emitted function)."""

    dim: int
    kind: str = "coefficients"
    targets: tuple[TargetParams, ...] = (
        TargetParams("c", ("horner",), (("team_min_updates", TEAM_MIN_UPDATES),
                                        *POOL_PARAMS)),)

    def target_params(self, target: str) -> TargetParams:
        for params in self.targets:
            if params.target == target:
                return params
        raise KeyError(target)

    def summary(self) -> str:
        return (f"coefficients dim {self.dim}: table-driven Horner update of the prefix tree of "
                f"any word set, paths on the SIMD lanes")


def coefficient_kernel_plan(dim: int, depth=None) -> CoefficientKernelPlan:
    """The plan of the c module for ``dim`` (``depth`` is unused: words have any length)."""
    return CoefficientKernelPlan(dim=dim)
