"""CMA-anchored LES (evosax's ``CMAAnchoredLES``): a separable CMA-ES core (a scalar step size
``sigma`` and per-weight axis scales ``axis_std``) whose recombination weights and step-size,
mean and axis updates are gated by small meta-trained networks. Their weights ship inside
evosax (``algorithms/ckpt/cma_anchored_les/2026_10_cma_anchored_les.pkl``, read with
``importlib.resources``), so nothing is downloaded.

σ: evosax samples mean + sigma·axis_std·noise (``cma_anchored_les.py``, ``_ask``), so the
per-weight std is sigma·axis_std (which evosax also stores as ``state.std``). Part of the
population mirrors the other part (noise and −noise, an adaptive fraction of the pairs), but
every member's noise is standard normal, so the marginal spread is still sigma·axis_std. The
mirroring works with any population size (the unpaired members draw fresh noise), so the
strategy does not count as antithetic here (no even population needed). Its init sets
sigma = ``Params.std_init`` and axis_std = 1, so ``std_init`` is the initial per-weight std;
evosax clips sigma to [1e-9, 1e5]·std_init and re-expands it to at most std_init after a
stall. Memory is O(P·D).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp

    algo = _batch_invariant_class()(pop, jnp.zeros(num_dims))
    return Built(algo, algo.default_params.replace(std_init=float(hparams["std_init"])))


@functools.cache
def _batch_invariant_class():
    """evosax's CMAAnchoredLES with its tell computed so that a chain's numbers do not depend
    on whether the program trains it alone or vmapped beside other chains.

    Why: a vmapped group (``round-group --program vmapped``) must give each chain the numbers
    of its one-chain job, and evosax's tell differed alone and vmapped by 2.4 × 10⁻⁷
    (population 32) and 4.8 × 10⁻⁷ (population 128) after 5 generations (bench 9). It
    reduces in about forty places: the sums and norms of its member, global and per-weight
    features, the normalisation of the recombination weights, the weighted sums over the
    population, the means of the log axis scales, and three small networks (a set network
    over the members with a mean over them, a global gate and a per-weight gate), whose
    products XLA orders by shape. Here every one of them is a fixed-order sum or product
    (:mod:`evotickets.batch_invariant`), and divisions by a broadcast scalar or vector are
    products with its reciprocal. The same equations as evosax 0.3's ``CMAAnchoredLES``
    (``cma_anchored_les.py``, ``cma_anchored_les_tools.py``: its constants, rank function
    and gate are imported from there); the numbers differ from evosax's in the last bits.
    """
    import jax
    import jax.numpy as jnp
    from evosax.algorithms import CMAAnchoredLES
    from evosax.algorithms.base import update_best_solution_and_fitness
    from evosax.learned_evolution import cma_anchored_les_tools as tools
    from jax.scipy.special import erfinv

    from ..batch_invariant import fixed_order_dense as dense
    from ..batch_invariant import fixed_order_mean, fixed_order_std
    from ..batch_invariant import fixed_order_norm as norm
    from ..batch_invariant import fixed_order_sum as fsum

    def mlp(x, layers):  # Dense → ReLU → Dense, the shape of GlobalGates and DimensionGate
        return dense(jax.nn.relu(dense(x, layers["Dense_0"])), layers["Dense_1"])

    def recombination_residual(features, weights):  # RecombinationResidual.__call__
        layers = weights["params"]
        hidden = jax.nn.relu(dense(features, layers["Dense_0"]))
        context = jnp.broadcast_to(fixed_order_mean(hidden, axis=0)[None], hidden.shape)
        hidden = jax.nn.relu(dense(jnp.concatenate((hidden, context), axis=-1), layers["Dense_1"]))
        return dense(hidden, layers["Dense_2"])[..., 0]

    class BatchInvariantCMAAnchoredLES(CMAAnchoredLES):
        def _member_features(self, ranks, base_weights, noise, improved, p_sigma):
            pop, inv_dims = self.population_size, 1.0 / self.num_dims
            rank_values = ranks.astype(jnp.float32)
            centered_rank = rank_values * (1.0 / max(pop - 1, 1)) - 0.5
            quantile = 0.5 * jnp.clip(
                math.sqrt(2.0) * erfinv((2.0 * (rank_values + 0.5)) * (1.0 / pop) - 1.0),
                -3.0,
                3.0,
            )
            radial = jnp.tanh(fsum(jnp.square(noise)) * inv_dims - 1.0)
            base_weight_feature = jnp.tanh(pop * base_weights - 1.0)
            cosine = fsum(noise * p_sigma[None, :]) * (
                1 / (norm(noise) * norm(p_sigma) + tools.EPS)
            )
            alignment = jnp.tanh(math.sqrt(self.num_dims) * cosine)
            return jnp.stack(
                (centered_rank, quantile, improved - 0.5, radial, base_weight_feature, alignment),
                axis=-1,
            )

        def _global_features(
            self, csa_signal, p_sigma, p_c, axis_std, weights, noise, success_ema, success_now
        ):
            rms_axis = jnp.sqrt(fixed_order_mean(jnp.square(axis_std)))
            rank_one_path = p_c * (1 / axis_std)
            path_ratio = jnp.tanh(norm(p_c) * (1 / (self.chi_d * rms_axis + tools.EPS)) - 1.0)
            elite_radial = jnp.tanh(
                fsum(weights * fsum(jnp.square(noise))) * (1.0 / self.num_dims) - 1.0
            )
            spread = jnp.tanh(fixed_order_std(jnp.log(axis_std)))
            alignment = jnp.tanh(
                math.sqrt(self.num_dims)
                * fsum(p_sigma * rank_one_path)
                * (1 / (norm(p_sigma) * norm(rank_one_path) + tools.EPS))
            )
            evidence = (jnp.tanh(csa_signal), path_ratio, elite_radial, spread, alignment)
            return jnp.concatenate(
                (
                    jnp.stack(evidence),
                    2.0 * success_ema - 1.0,
                    jnp.reshape(2.0 * success_now - 1.0, (1,)),
                )
            )

        def _dimension_features(
            self, csa_signal, p_sigma, p_c, axis_std, rank_mu_term, rank_one_term
        ):
            log_axis = jnp.log(axis_std)
            return jnp.stack(
                (
                    jnp.tanh(p_sigma),
                    jnp.tanh(p_c * (1 / axis_std)),
                    jnp.tanh(log_axis - fixed_order_mean(log_axis)),
                    jnp.tanh(rank_mu_term - 1.0),
                    jnp.tanh(rank_one_term - 1.0),
                    jnp.full(axis_std.shape, jnp.tanh(csa_signal)),
                ),
                axis=-1,
            )

        def _path_mu_eff(self, weights, mirror_mask, mu_eff):
            """μ_eff of the evolution paths, corrected for the mirrored pairs."""
            if not (tools.ANTITHETIC_SAMPLING and tools.PATH_PAIR_CORRECTION):
                return mu_eff
            count, base = self._pair_count, self._pair_base
            w_a, w_b = weights[:count], weights[base : base + count]
            paired = jnp.where(
                mirror_mask, jnp.square(w_a - w_b), jnp.square(w_a) + jnp.square(w_b)
            )
            pair_mass = fsum(paired) + fsum(jnp.square(weights[count:base]))
            return jnp.minimum(1 / (pair_mass + tools.EPS), float(self.population_size))

        def _tell(self, key, population, fitness, state, params):
            learned = params.params
            ranks = tools.fitness_ranks(fitness)
            base_weights = self.base_weights[ranks]
            improved = (fitness < state.best_fitness_shaped).astype(jnp.float32)
            success_now = fixed_order_mean(improved)
            mirror_mask = self._mirror_mask(state.success_ema)  # the law the ask sampled
            rates = tools.SUCCESS_RATES
            success_ema = (1.0 - rates) * state.success_ema + rates * success_now
            differences = (population - state.mean) * (1 / state.sigma)
            noise = differences * (1 / state.axis_std)[None, :]

            features = self._member_features(ranks, base_weights, noise, improved, state.p_sigma)
            residual = recombination_residual(features, learned["recombination"])
            weights = base_weights * tools.bounded_gate(residual)
            weights = weights * (1 / fsum(weights))
            mu_eff = 1 / fsum(jnp.square(weights))
            mu_eff_path = self._path_mu_eff(weights, mirror_mask, mu_eff)
            weighted_difference = fsum(weights[:, None] * differences, axis=0)
            weighted_noise = fsum(weights[:, None] * noise, axis=0)
            c_sigma, c_c = self.c_sigma, self.c_c
            p_sigma = (1.0 - c_sigma) * state.p_sigma + jnp.sqrt(
                c_sigma * (2.0 - c_sigma) * mu_eff_path
            ) * weighted_noise
            p_c = (1.0 - c_c) * state.p_c + jnp.sqrt(
                c_c * (2.0 - c_c) * mu_eff_path
            ) * weighted_difference
            csa_signal = norm(p_sigma) * (1.0 / self.chi_d) - 1.0

            global_features = self._global_features(
                csa_signal, p_sigma, p_c, state.axis_std, weights, noise, success_ema, success_now
            )
            gates = mlp(global_features, learned["global_gates"]["params"])
            sigma_gate, mean_gate = tools.bounded_gate(gates[0]), tools.bounded_gate(gates[1])
            mean = state.mean + tools.C_MEAN * mean_gate * state.sigma * weighted_difference

            rank_mu_term = fsum(weights[:, None] * jnp.square(noise), axis=0)
            rank_one_term = jnp.square(p_c * (1 / state.axis_std))
            ratio = 1.0 + self.c_1 * (rank_one_term - 1.0) + self.c_mu * (rank_mu_term - 1.0)
            ratio = jnp.clip(ratio, 1e-08, 100000000.0)
            dimension_features = self._dimension_features(
                csa_signal, p_sigma, p_c, state.axis_std, rank_mu_term, rank_one_term
            )
            axis_gate = tools.bounded_gate(
                mlp(dimension_features, learned["dimension_gate"]["params"])[..., 0]
            )
            log_axis = jnp.log(state.axis_std) + jnp.clip(
                0.5 * axis_gate * jnp.log(ratio),
                -tools.LOG_AXIS_STEP_BOUND,
                tools.LOG_AXIS_STEP_BOUND,
            )
            log_sigma_step = jnp.clip(
                self.c_sigma / self.d_sigma * csa_signal * sigma_gate,
                -tools.LOG_SIGMA_STEP_BOUND,
                tools.LOG_SIGMA_STEP_BOUND,
            )
            # sigma · axis_std is kept; p_c is in the same axis units
            shift = fixed_order_mean(log_axis)
            log_axis = jnp.clip(log_axis - shift, -tools.LOG_AXIS_BOUND, tools.LOG_AXIS_BOUND)
            axis_std = jnp.exp(log_axis)
            p_c = p_c * jnp.exp(-shift)
            sigma = jnp.clip(
                state.sigma * jnp.exp(shift + log_sigma_step),
                params.std_init * tools.SIGMA_MIN_FACTOR,
                params.std_init * tools.SIGMA_MAX_FACTOR,
            )
            best_solution_shaped, best_fitness_shaped = update_best_solution_and_fitness(
                population, fitness, state.best_solution_shaped, state.best_fitness_shaped
            )
            generation_best = jnp.min(fitness)
            epoch_improved = generation_best < state.epoch_best_fitness
            epoch_best_fitness = jnp.minimum(state.epoch_best_fitness, generation_best)
            stall_counter = jnp.where(epoch_improved, 0.0, state.stall_counter + 1.0)
            # a stall re-anchors at the best shaped solution and re-expands sigma
            fire = stall_counter >= self.stall_patience
            expanded = jnp.minimum(sigma * tools.RESTART_EXPANSION, params.std_init)
            sigma = jnp.where(fire, jnp.maximum(sigma, expanded), sigma)
            axis_std = jnp.where(fire, 1.0, axis_std)
            zeros = jnp.zeros(self.num_dims)
            return state.replace(
                mean=jnp.where(fire, state.best_solution_shaped, mean),
                std=sigma * axis_std,
                sigma=sigma,
                axis_std=axis_std,
                p_sigma=jnp.where(fire, zeros, p_sigma),
                p_c=jnp.where(fire, zeros, p_c),
                success_ema=jnp.where(fire, jnp.full((rates.size,), 0.5), success_ema),
                epoch_best_fitness=jnp.where(fire, jnp.inf, epoch_best_fitness),
                stall_counter=jnp.where(fire, 0.0, stall_counter),
                best_solution_shaped=best_solution_shaped,
                best_fitness_shaped=best_fitness_shaped,
            )

    return BatchInvariantCMAAnchoredLES


def sigma(state: Any, num_dims: int):
    return state.sigma * state.axis_std


SPEC = StrategySpec("cma_anchored_les", frozenset(), False, build, sigma)
