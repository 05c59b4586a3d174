"""Signatures across devices, with JAX's own sharding (no scheduler of our own).

- Batch: ``signature()`` keeps a batch-sharded jax array sharded: the jax target is plain XLA,
  and the c target's kernels are custom-partitioned over the batch axis (each device runs the
  kernel on its rows; no gather), inside ``jax.jit`` and ``jax.grad``.
- Time: :func:`time_sharded_signature` cuts a long path into contiguous pieces, one per device
  along a mesh axis (neighbouring pieces share one point), computes each piece's signature where
  it lives and joins them by Chen's identity inside ``jax.shard_map``.
"""

from __future__ import annotations

import numpy as np

from .algebra import signature_channels
from .ops.signature import signature
from .ops.tensor_algebra import combine, multi_signature_combine
from .runtime.frameworks import check_path_shape, framework_named

__all__ = ["time_sharded_signature"]


def time_sharded_signature(path, depth, mesh, axis, stream=False, *, target=None, strategy=None):
    """Signature of long paths with time split over the devices of ``mesh`` along ``axis``.

    Args:
        path: jax array ``(..., L, d)``.
        depth: truncation depth.
        mesh: a ``jax.sharding.Mesh``; ``axis``: the name of one of its axes.
        stream: also the signature of every prefix, ``(..., L-1, siglen)``, left sharded over
            time along ``axis``.
        target, strategy: as for :func:`sigcodegen.signature` (per piece).

    Each of the n devices takes ceil((L-1)/n) increments (the last piece padded with its final
    point, which adds nothing); the pieces' signatures are gathered along ``axis`` and joined by
    a tree of Chen products; in stream mode each device continues its piece from the product
    of the pieces before it. Equal to ``signature(path, depth, stream)`` up to rounding.

    Example:
        >>> import jax, numpy as np, sigcodegen as sc
        >>> from sigcodegen.distributed import time_sharded_signature
        >>> mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("time",))
        >>> time_sharded_signature(np.zeros((2, 9, 3), np.float32), 2, mesh, "time").shape
        (2, 12)
    """
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec

    path = jnp.asarray(path)
    length, dim = check_path_shape(tuple(path.shape), depth, "time_sharded_signature")
    jax_arrays = framework_named("jax")
    lead = path.shape[:-2]
    path = path.reshape(-1, length, dim)
    pieces = mesh.shape[axis]
    steps = length - 1
    per = max(1, -(-steps // pieces))
    # points k*per .. (k+1)*per of the path, held at its last point past the end
    index = np.minimum(np.arange(pieces)[:, None] * per + np.arange(per + 1)[None], length - 1)
    stacked = jnp.moveaxis(jnp.take(path, jnp.asarray(index), axis=1), 1, 0)  # (n, B, per+1, d)
    stacked = jax.lax.with_sharding_constraint(stacked, NamedSharding(mesh, PartitionSpec(axis)))
    siglen = signature_channels(dim, depth)

    def piece(local):  # (1, B, per+1, d) on one device
        sig = signature(local[0], depth, stream, target=target, strategy=strategy)
        ends = sig[:, -1] if stream else sig
        every = jax.lax.all_gather(ends, axis)  # (n, B, siglen), the same on every device
        if not stream:
            return multi_signature_combine(jnp.moveaxis(every, 0, -2), dim, depth)
        mine = jax.lax.axis_index(axis)
        before = jnp.zeros_like(ends)
        for k in range(pieces - 1):  # product of the pieces before this one (n is small)
            joined = combine(before, every[k], dim, depth, jax_arrays)
            before = jnp.where(k < mine, joined, before)
        rows = combine(jnp.broadcast_to(before[:, None], sig.shape), sig, dim, depth, jax_arrays)
        return rows[None]

    spec = PartitionSpec(axis) if stream else PartitionSpec()
    out = jax.shard_map(piece, mesh=mesh, in_specs=PartitionSpec(axis), out_specs=spec,
                        check_vma=False)(stacked)
    if not stream:
        return out.reshape(*lead, siglen)
    rows = jnp.moveaxis(out, 0, 1).reshape(out.shape[1], pieces * per, siglen)[:, :steps]
    return rows.reshape(*lead, steps, siglen)
