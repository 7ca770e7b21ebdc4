"""LES, Learned Evolution Strategy (Lange et al. 2023, evosax's ``LearnedES``): a per-weight
std vector updated by a small meta-learned network; its weights ship inside evosax
(``ckpt/les/2023_10_les_v2.pkl``), so nothing is downloaded. σ is ``state.std``, checked
against the sampled population in tests/unit/test_strategies.py."""

from __future__ import annotations

import functools
from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp

    algo = _batch_invariant_class()(pop, jnp.zeros(num_dims))
    return Built(algo, algo.default_params.replace(std_init=float(hparams["std_init"])))


@functools.cache
def _batch_invariant_class():
    """evosax's LearnedES with its tell computed so that a chain's numbers do not depend on
    whether the program trains it alone or vmapped beside other chains.

    Why: a vmapped group (``round-group --program vmapped``) must give each chain the numbers
    of its one-chain job, and evosax's LES tell differed in the last bits alone and vmapped
    (bench 9: 1.1 × 10⁻⁵ after 5 generations). Measured part by part (population 32, 1,525
    weights, this CPU): the learning-rate network (``EvoPathMLP``: per weight a Dense
    19 → 8, ReLU, two Dense 8 → 1 heads) differed by 5.5 × 10⁻¹⁰, and the fitness features
    (their z-score's mean and std over the population) followed by the attention that turns
    them into recombination weights (three Dense 3 → 8/8/1 layers, a P × P product and two
    softmaxes) by 2.7 × 10⁻⁷. Their small products and sums reduce in a shape-dependent
    order. Here both networks run with evosax's own parameters as elementwise products and
    fixed-order sums (:mod:`evotickets.batch_invariant`), divisions by a broadcast scalar
    as products with its reciprocal, and so do the sums over the population. The same
    equations as evosax 0.3's ``LearnedES`` (``les_tools.py``, ``fitness_shaping.py``); the
    numbers differ from evosax's in the last bits.
    """
    import jax
    import jax.numpy as jnp
    from evosax.algorithms import LearnedES
    from evosax.algorithms.base import update_best_solution_and_fitness
    from evosax.learned_evolution.fitness_shaping import centered_rank
    from evosax.learned_evolution.les_tools import tanh_timestamp

    from ..batch_invariant import fixed_order_dense as dense
    from ..batch_invariant import fixed_order_matmul, fixed_order_sum, softmax

    def standardize(values):  # fitness_shaping.standardize: nanmean, nanstd
        finite = ~jnp.isnan(values)
        inv_count = 1 / fixed_order_sum(finite.astype(values.dtype))
        mean = fixed_order_sum(jnp.where(finite, values, 0.0)) * inv_count
        var = fixed_order_sum(jnp.where(finite, (values - mean) ** 2, 0.0)) * inv_count
        return (values - mean) * (1 / (jnp.sqrt(var) + 1e-10))

    def fitness_features(fitness, best_fitness):  # FitnessFeatures(centered_rank, z_score)
        return jnp.stack(
            [(fitness < best_fitness) * 1.0, centered_rank(fitness), standardize(fitness)],
            axis=1,
        )

    def recombination_weights(weights, features):  # AttentionWeights(8).__call__
        layers = weights["params"]
        keys = dense(features, layers["Dense_0"])
        queries = dense(features, layers["Dense_1"])
        values = dense(features, layers["Dense_2"])[:, 0]
        scores = fixed_order_matmul(queries, keys.T)
        attention = softmax(scores * (1 / jnp.sqrt(features.shape[0])))
        return softmax(fixed_order_matmul(attention, values))[:, None]

    def learning_rates(weights, p_c, p_std, time_embed):  # EvoPathMLP(8).__call__
        layers = weights["params"]
        timestamps = jnp.repeat(time_embed[None, ...], repeats=p_c.shape[0], axis=0)
        x = jnp.concatenate([p_c, p_std, timestamps], axis=1)
        hidden = jax.nn.relu(dense(x, layers["Dense_0"]))
        lrs_mean = jax.nn.sigmoid(dense(hidden, layers["Dense_1"])).squeeze()
        lrs_std = jax.nn.sigmoid(dense(hidden, layers["Dense_2"])).squeeze()
        return lrs_mean, lrs_std

    class BatchInvariantLearnedES(LearnedES):
        def _tell(self, key, population, fitness, state, params):
            assert not self.fitness_features.maximize  # evosax's default, which we keep
            features = fitness_features(fitness, state.best_fitness_shaped)
            time_embed = tanh_timestamp(state.generation_counter)
            weights = recombination_weights(params.params["recomb_weights"], features)
            diff = population - state.mean
            p_c = self.evopath.update(state.p_c, fixed_order_sum(weights * diff, axis=0))
            p_std = self.evopath.update(
                state.p_std, fixed_order_sum(weights * diff * (1 / state.std), axis=0)
            )
            lrs_mean, lrs_std = learning_rates(
                params.params["lrate_modulation"], p_c, p_std, time_embed
            )
            weighted_mean = fixed_order_sum(weights * population, axis=0)
            weighted_std = jnp.sqrt(fixed_order_sum(weights * diff**2, axis=0) + 1e-8)
            mean = state.mean + lrs_mean * (weighted_mean - state.mean)
            std = jnp.clip(state.std + lrs_std * (weighted_std - state.std), min=0)
            best_solution_shaped, best_fitness_shaped = update_best_solution_and_fitness(
                population, fitness, state.best_solution_shaped, state.best_fitness_shaped
            )
            return state.replace(
                mean=mean,
                std=std,
                p_c=p_c,
                p_std=p_std,
                best_solution_shaped=best_solution_shaped,
                best_fitness_shaped=best_fitness_shaped,
            )

    return BatchInvariantLearnedES


def sigma(state: Any, num_dims: int):
    return state.std


SPEC = StrategySpec("learned_es", frozenset(), False, build, sigma)
