"""Tied fitness values share their ranks' recombination weights (evotickets.strategies.ranking)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from evosax.core.fitness_shaping import weights_fitness_shaping_fn

from evotickets.strategies import STRATEGIES, make_strategy
from evotickets.strategies.ranking import tie_averaged_weights


class _Params:
    def __init__(self, weights):
        self.weights = jnp.asarray(weights, jnp.float32)


SNES_LIKE = np.array([0.5, 0.3, 0.2, 0.1, -0.05, -0.25, -0.35, -0.45], np.float32)


def test_tied_members_share_the_weights_of_the_ranks_they_fill():
    """evosax 0.3 truncates a tie's mean rank to one index: three members tied for ranks 0-2
    all got rank 1's weight, and the weights' sum moved (the helper review's example)."""
    fitness = jnp.asarray([-9, -9, -9, -10, -10, -8, -8, -8], jnp.float32)
    params = _Params(SNES_LIKE)
    ours = np.asarray(tie_averaged_weights(None, fitness, None, params))
    # -10 fills ranks 0-1, -9 ranks 2-4, -8 ranks 5-7
    want = np.array(
        [SNES_LIKE[2:5].mean()] * 3 + [SNES_LIKE[0:2].mean()] * 2 + [SNES_LIKE[5:8].mean()] * 3
    )
    np.testing.assert_allclose(ours, want, rtol=1e-6)
    assert ours.sum() == pytest.approx(SNES_LIKE.sum(), abs=1e-6)
    theirs = np.asarray(weights_fitness_shaping_fn(None, fitness, None, params))
    assert theirs.sum() != pytest.approx(SNES_LIKE.sum(), abs=1e-3)  # what was wrong


def test_without_ties_the_weights_are_evosaxs_bitwise_and_failures_rank_last():
    key = jax.random.key(0)
    params = _Params(SNES_LIKE)
    for i in range(20):
        fitness = jax.random.normal(jax.random.fold_in(key, i), (8,))
        ours = tie_averaged_weights(None, fitness, None, params)
        theirs = weights_fitness_shaping_fn(None, fitness, None, params)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    # NaN members rank last, and share the last ranks' weights between them
    fitness = jnp.asarray([0.3, jnp.nan, 0.1, 0.2, jnp.nan, 0.4, 0.5, 0.6])
    ours = np.asarray(tie_averaged_weights(None, fitness, None, params))
    assert ours[1] == ours[4] == pytest.approx(SNES_LIKE[6:].mean())
    assert ours[2] == SNES_LIKE[0]
    # every member failed: no member counts
    failed = jnp.full((8,), jnp.nan)
    assert not np.asarray(tie_averaged_weights(None, failed, None, params)).any()


def test_strategies_that_weight_by_rank_use_the_tie_averaged_weights():
    weighted = []
    for name in STRATEGIES:
        hparams = {"population_size": 8, "std_init": 0.1}
        try:
            algo = make_strategy(name, 10, hparams).algorithm
        except (ValueError, KeyError):  # a strategy that needs more settings
            continue
        assert algo.fitness_shaping_fn is not weights_fitness_shaping_fn, name
        if algo.fitness_shaping_fn is tie_averaged_weights:
            weighted.append(name)
    assert {"sep_cma_es", "snes", "des", "cma_es"} <= set(weighted)


def test_tied_weights_are_the_same_alone_and_vmapped():
    """A vmapped group gives each chain the numbers of its one-chain job: with ties too."""
    params = _Params(np.linspace(0.4, -0.3, 8).astype(np.float32))
    fitness = jnp.asarray(
        [
            [1, 1, 1, 2, 2, 3, 3, 3],
            [0.1, 0.7, 0.7, 0.7, 0.2, 0.3, 0.3, 0.9],
            [5, 5, 5, 5, 5, 5, 4, 4],
        ],
        jnp.float32,
    )
    shaping = jax.jit(lambda f: tie_averaged_weights(None, f, None, params))
    together = np.asarray(jax.jit(jax.vmap(shaping))(fitness))
    for i in range(3):
        np.testing.assert_array_equal(together[i], np.asarray(shaping(fitness[i])))
