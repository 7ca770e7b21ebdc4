"""Sums in a fixed order (evotickets/batch_invariant.py): the same number alone and as one
row of a vmapped batch of any width, and equal to NumPy's sum and std to float rounding."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evotickets.batch_invariant import (
    fixed_order_mean,
    fixed_order_std,
    fixed_order_sum,
    log_softmax,
)


@pytest.mark.parametrize("n", [1, 2, 7, 600, 1898])
def test_fixed_order_sum_is_the_sum_and_the_same_in_any_batch(n):
    rows = jax.random.normal(jax.random.key(n), (20, n))
    alone = np.asarray(jax.jit(fixed_order_sum)(rows[0]))
    np.testing.assert_allclose(alone, np.sum(np.asarray(rows[0], np.float64)), rtol=1e-5, atol=1e-5)
    for width in (1, 3, 20):
        batched = np.asarray(jax.jit(jax.vmap(fixed_order_sum))(rows[:width]))
        assert batched[0] == alone, (width, batched[0], alone)


def test_fixed_order_std_is_numpys_population_std():
    x = jax.random.normal(jax.random.key(1), (40,)) * 3 + 1
    np.testing.assert_allclose(fixed_order_std(x), np.std(np.asarray(x, np.float64)), rtol=1e-5)
    stacked = jax.vmap(fixed_order_std)(jnp.stack([x, x * 2, x]))
    assert stacked[0] == jax.jit(fixed_order_std)(x) == stacked[2]


def test_fixed_order_sum_over_an_axis_and_log_softmax():
    x = jax.random.normal(jax.random.key(2), (3, 32, 64))
    np.testing.assert_allclose(fixed_order_sum(x, axis=1), np.sum(np.asarray(x), axis=1), atol=1e-5)
    logits = jax.random.normal(jax.random.key(3), (32, 64, 10)) * 4
    np.testing.assert_allclose(log_softmax(logits), jax.nn.log_softmax(logits), atol=1e-6)
    # the loss matrix whose jnp.mean came out differently alone and in a batch of 3 (bench 9)
    alone = [np.asarray(jax.jit(fixed_order_mean)(x[c])) for c in range(3)]
    batched = np.asarray(jax.jit(jax.vmap(fixed_order_mean))(x))
    for c in range(3):
        np.testing.assert_array_equal(alone[c], batched[c])


def test_fixed_order_sum_over_several_axes_is_the_sum_and_the_same_in_any_batch():
    x = jax.random.normal(jax.random.key(4), (3, 5, 6, 7, 2))
    over = (0, 1, 2)  # of one chain's (5, 6, 7, 2): every axis but the last
    np.testing.assert_allclose(
        fixed_order_sum(x[0], over), np.sum(np.asarray(x[0]), axis=over), rtol=1e-5, atol=1e-5
    )
    alone = [np.asarray(jax.jit(lambda y: fixed_order_sum(y, over))(x[c])) for c in range(3)]
    batched = np.asarray(jax.jit(jax.vmap(lambda y: fixed_order_sum(y, over)))(x))
    for c in range(3):
        np.testing.assert_array_equal(alone[c], batched[c])


def test_fixed_order_matmul_and_softmax_are_the_library_ones_and_the_same_in_any_batch():
    from evotickets.batch_invariant import fixed_order_matmul, softmax

    a = jax.random.normal(jax.random.key(5), (3, 6, 19))
    b, v = (
        jax.random.normal(jax.random.key(6), (19, 8)),
        jax.random.normal(jax.random.key(7), (19,)),
    )
    for rhs in (b, v):
        np.testing.assert_allclose(fixed_order_matmul(a[0], rhs), a[0] @ rhs, rtol=1e-5, atol=1e-5)
        alone = [
            np.asarray(jax.jit(lambda x, r=rhs: fixed_order_matmul(x, r))(a[c])) for c in range(3)
        ]
        batched = np.asarray(jax.jit(jax.vmap(lambda x, r=rhs: fixed_order_matmul(x, r)))(a))
        for c in range(3):
            np.testing.assert_array_equal(alone[c], batched[c])
    np.testing.assert_allclose(softmax(a[0]), jax.nn.softmax(a[0]), rtol=1e-6, atol=1e-7)
