"""Recombination weights by fitness rank, with tied members sharing their ranks' weights.

evosax 0.3's ``weights_fitness_shaping_fn`` (Sep-CMA-ES, SNES, CMA-ES, DES, xNES, …) ranks the
population with ``rankdata``, which gives tied members the mean of their ranks, and then
truncates that mean to an integer index into the weights. Three members tied for ranks 0–2
all get the weight of rank 1, two tied for ranks 3–4 both get rank 3's: the weights no longer
sum to what the strategy's equations assume (SNES's stop summing to 0), and a tie's members
count more or less than the ranks they fill. Ties are common where a fitness is a count
(CartPole's and Acrobot's integer returns, most early generations tied) and where several
members failed (:func:`evotickets.train.es._sanitize` gives them the worst finite fitness).

:func:`tie_averaged_weights` gives each member of a tie the mean of the weights of the ranks
the tie fills, so the weights keep their sum and a member's index in the population plays no
part. (A tie across CMA-ES's μ boundary shares a positive and a negative weight: the total
is kept, not the positive weights' sum of 1; keeping both would need unequal weights for
equal members.) (The study's evosax 0.1 broke ties by that index: argsort order.) Without ties it
gives evosax's weights bitwise: the same indices, and each sum over a "tie" of one member
exact. The sums run in a fixed order, so a chain's weights are the same alone and vmapped.
"""

from __future__ import annotations

from typing import Any


def tie_averaged_weights(population: Any, fitness: Any, state: Any, params: Any) -> Any:
    """evosax 0.3's weights fitness shaping (lower fitness = better = rank 0; NaN last;
    all weights 0 where every member failed), ties sharing their ranks' weights."""
    import jax.numpy as jnp

    from ..batch_invariant import fixed_order_sum

    rankable = jnp.where(jnp.isnan(fitness), jnp.inf, fitness)
    ranks = jnp.argsort(jnp.argsort(rankable, axis=-1), axis=-1)
    weights = jnp.take_along_axis(jnp.broadcast_to(params.weights, rankable.shape), ranks, axis=-1)
    tied = rankable[..., :, None] == rankable[..., None, :]
    # summed in a fixed order: a chain's weights must not depend on whether it trains alone
    # or vmapped beside others (evotickets.batch_invariant)
    shared = fixed_order_sum(jnp.where(tied, weights[..., None, :], 0.0)) / jnp.sum(tied, axis=-1)
    all_failed = jnp.all(jnp.isnan(fitness), axis=-1, keepdims=True)
    return jnp.where(all_failed, jnp.zeros_like(shared), shared)


def with_fair_ties(algorithm: Any) -> Any:
    """``algorithm`` with :func:`tie_averaged_weights` in place of evosax's weights shaping,
    where it uses that; any other shaping (centred ranks, which average ties correctly, or
    raw fitness) is left. Returns ``algorithm``."""
    from evosax.core.fitness_shaping import weights_fitness_shaping_fn

    if algorithm.fitness_shaping_fn is weights_fitness_shaping_fn:
        algorithm.fitness_shaping_fn = tie_averaged_weights
    return algorithm
