"""Reductions whose result does not depend on how many chains one program computes.

Why: a vmapped group (``round-group --program vmapped``) must give each chain the numbers of
its one-chain job. XLA vectorises a reduction by its shape, so ``jnp.sum`` over one chain's
(n,) vector and over the same row of a (k, n) batch may add in different orders and differ in
the last bit; over hundreds of generations an ES amplifies that into other weights and other
masks. Elementwise additions are never reordered, so a sum written as a fixed tree of them is
the same number alone and under ``jax.vmap``. (Sums that XLA computes as a product, such as
``jnp.dot(weights, noise)``, measured the same alone and batched on this CPU; the strategies'
tests check the whole update.)

The other source is XLA's simplifier, which rewrites a division by a broadcast scalar as a
product with its reciprocal in some programs and not in others: the strategies that use this
module write such divisions as products with the reciprocal themselves.

Used by: the vision loss (its mean over the minibatch and log-softmax's sum over the classes:
at population 32 ``jnp.mean`` over a (32, 64) loss matrix differed alone and in a batch of 3),
the control tasks' mean over repeats and running observation statistics, the mean-fitness
curve, the tells of Sep-CMA-ES, ARS, PGPE, OpenES, CMA-ES, LES and CMA-anchored LES, and
iAMaLGaM's updates. Bench 9 (``bench/bench_batch_invariance.py``) checks every strategy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def fixed_order_sum(x: jax.Array, axis: int | tuple[int, ...] = -1) -> jax.Array:
    """Σ x over one axis as a fixed binary tree of additions: zero-padded to a power of two,
    then the two halves added until one value is left. Over several axes: one axis at a
    time, the highest first."""
    if isinstance(axis, tuple):
        for a in sorted((a % x.ndim for a in axis), reverse=True):
            x = fixed_order_sum(x, a)
        return x
    x = jnp.moveaxis(x, axis, -1)
    n = 1 << max(0, (x.shape[-1] - 1).bit_length())
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])
    while x.shape[-1] > 1:
        half = x.shape[-1] // 2
        x = x[..., :half] + x[..., half:]
    return x[..., 0]


def fixed_order_matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a @ b`` for ``a`` (..., n) and ``b`` (n, m) or (n,), each output a
    :func:`fixed_order_sum` of elementwise products over n. Why: XLA orders a dot's sums by its
    shapes, and matrix-vector and small-matrix products (CMA-ES's ``B @ v``, LES's networks)
    came out differently alone and under ``jax.vmap``; elementwise products are exact in any
    program. Costs n times the output in memory, so only for the small or once-per-generation
    products of a strategy's update."""
    if b.ndim == 1:
        return fixed_order_sum(a * b, axis=-1)
    return fixed_order_sum(a[..., :, None] * b, axis=-2)


def fixed_order_norm(x: jax.Array, axis: int = -1) -> jax.Array:
    """The Euclidean norm over one axis, its sum of squares a :func:`fixed_order_sum`
    (``jnp.linalg.norm`` summed in a shape-dependent order alone and vmapped)."""
    return jnp.sqrt(fixed_order_sum(jnp.square(x), axis=axis))


def fixed_order_dense(x: jax.Array, layer: dict) -> jax.Array:
    """flax's ``nn.Dense`` from its parameters (``kernel``, ``bias``), the product a
    :func:`fixed_order_matmul`: the small networks of the learned strategies' tells."""
    return fixed_order_matmul(x, layer["kernel"]) + layer["bias"]


def fixed_order_mean(x: jax.Array, axis: int = -1) -> jax.Array:
    """The mean over one axis with :func:`fixed_order_sum` (times 1/n, not divided by n)."""
    return fixed_order_sum(x, axis) * (1.0 / x.shape[axis])


def fixed_order_std(x: jax.Array) -> jax.Array:
    """``jnp.std(x)`` (population std, ddof 0) of a 1-D array with :func:`fixed_order_sum`."""
    centred = x - fixed_order_mean(x)
    return jnp.sqrt(fixed_order_mean(jnp.square(centred)))


def log_softmax(x: jax.Array) -> jax.Array:
    """``jax.nn.log_softmax`` over the last axis, its sum of exponentials in a fixed order
    (the maximum it subtracts is exact in any order)."""
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    return shifted - jnp.log(fixed_order_sum(jnp.exp(shifted)))[..., None]


def softmax(x: jax.Array) -> jax.Array:
    """``jax.nn.softmax`` over the last axis, its sum of exponentials in a fixed order and the
    division by it a product with the reciprocal."""
    e = jnp.exp(x - jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True)))
    return e * (1 / fixed_order_sum(e))[..., None]
