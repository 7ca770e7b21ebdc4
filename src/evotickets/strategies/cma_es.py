"""CMA-ES (Hansen 2016; evosax's ``CMA_ES``): a full D×D covariance C and a scalar step size
``std``, with evosax 0.3's default (active, negative) recombination weights over the top
``elite_ratio``·N (default 0.5).

σ: evosax samples mean + std·z·diag(D)·Bᵀ with B diag(D²) Bᵀ the eigendecomposition of C
(symmetrised, diagonal clipped at 0, plus 1e-8·I; ``cma_es.py``, ``_ask`` and
``eigen_decomposition``), so each weight's marginal std is std·√(B diag(D²) Bᵀ)_ii, which is
std·√C_ii for a positive-definite C. We take it from the same decomposition evosax samples
with. ``std_init`` is the initial per-weight std (C starts at I).

Size limit: C, its eigenvectors B and the new C of each tell are D×D float32 arrays; a
generation of the training loop holds about six of them (measured with XLA's memory analysis:
state in and out, about two D² temporaries), 6·4·D² bytes, so 1.5 GiB at D = 8,192. Time is
the tighter limit: evosax eigendecomposes C in every ask, O(D³), about 5·10¹¹ flops a
generation at D = 8,192 (around a second on a GPU, minutes on a CPU core). So the strategy
is built for at most 8,192 searched weights: Pendulum's 2×64 MLP (4,481 weights) fits, the
vision CNNs do not; use sep_cma_es or snes (diagonal) there.
"""

from __future__ import annotations

import functools
from typing import Any

from .spec import Built, StrategySpec

MAX_DIMS = 8192


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp

    algo = _batch_invariant_class()(pop, jnp.zeros(num_dims))
    algo.elite_ratio = float(hparams.get("elite_ratio", 0.5))  # read by default_params
    params = algo.default_params.replace(std_init=jnp.asarray(float(hparams["std_init"])))
    return Built(algo, params)


@functools.cache
def _batch_invariant_class():
    """evosax's CMA-ES with its tell computed so that a chain's numbers do not depend on
    whether the program trains it alone or vmapped beside other chains.

    Why: a vmapped group (``round-group --program vmapped``) must give each chain the numbers
    of its one-chain job. Measured part by part alone and under ``jax.vmap`` (population 32,
    1,525 weights, this CPU): the eigendecomposition, the ask and the population's products
    with B were bitwise, but evosax's tell differed in the last bits in three places, which
    the eigenvectors of later generations then amplify (bench 9: 1.3 after 5 generations).
    (1) ``(x − mean) / std`` divides by a broadcast scalar, which XLA's simplifier rewrites
    in some programs only: here a product with the reciprocal, as in Sep-CMA-ES
    (:class:`.cma_mean.BatchInvariantCMAMean`). (2) The
    matrix-vector products ``B @ ((Bᵀ @ y_w) / D)`` summed in a shape-dependent order: here
    Bᵀy_w is the row product y_w B (bitwise, like the population's products) and B v a
    fixed-order product (:func:`evotickets.batch_invariant.fixed_order_matmul`).
    (3) ``jnp.linalg.norm(p_σ)`` and the negative weights' squared norms in the rank-μ update: fixed-order sums
    (:mod:`evotickets.batch_invariant`). The same equations (Hansen 2016 as evosax 0.3
    implements them); the numbers differ from evosax's in the last bits.
    """
    import jax.numpy as jnp
    from evosax.algorithms import CMA_ES

    from ..batch_invariant import fixed_order_matmul, fixed_order_norm, fixed_order_sum
    from .cma_mean import BatchInvariantCMAMean

    class BatchInvariantCMAES(BatchInvariantCMAMean, CMA_ES):
        def rank_mu(self, fitness, y_k, C_inv_sqrt_y_k):
            squared_norms = fixed_order_sum(jnp.square(C_inv_sqrt_y_k), axis=-1)
            w_o = fitness * jnp.where(
                fitness >= 0, 1, self.num_dims / jnp.clip(squared_norms, min=1e-8)
            )
            return jnp.einsum("i,ij,ik->jk", w_o, y_k, y_k)

        def _tell(self, key, population, fitness, state, params):
            mean, y_k, y_w = self.update_mean(population, fitness, state.mean, state.std, params)
            # C^(-1/2) y_w = B diag(1/D) Bᵀ y_w
            v = (y_w @ state.B) * (1 / state.D)
            p_std = self.update_p_std(state.p_std, fixed_order_matmul(state.B, v), params)
            norm_p_std = fixed_order_norm(p_std)
            std = self.update_std(state.std, norm_p_std, params)
            h_std = self.h_std(norm_p_std, state.generation_counter + 1, params)
            p_c = self.update_p_c(state.p_c, h_std, y_w, params)
            delta_h_std = self.delta_h_std(h_std, params)
            rank_one = self.rank_one(p_c)
            rank_mu = self.rank_mu(fitness, y_k, (y_k @ state.B) * (1 / state.D) @ state.B.T)
            C = self.update_C(state.C, delta_h_std, rank_one, rank_mu, params)
            return state.replace(mean=mean, std=std, p_std=p_std, p_c=p_c, C=C)

    return BatchInvariantCMAES


def check(hparams: dict[str, Any]) -> str | None:
    """``elite_ratio`` below 1: evosax's CMA-ES weights the members below the elites
    negatively and normalises those weights by their sum, which is 0/0 when every member
    is an elite: NaN weights, and a NaN state from the first tell (the chain then fails
    on "every member had a NaN fitness", which points at std_init and the data)."""
    if float(hparams.get("elite_ratio", 0.5)) >= 1:
        return (
            f"elite_ratio {hparams['elite_ratio']} makes every member an elite, and CMA-ES's "
            "negative weights for the rest then divide 0 by 0 (NaN from the first "
            "generation): use elite_ratio below 1 (default 0.5)"
        )
    return None


def sigma(state: Any, num_dims: int):
    import jax.numpy as jnp
    from evosax.algorithms.distribution_based.cma_es import eigen_decomposition

    _c, b, d = eigen_decomposition(state.C)  # what the next ask samples with
    return state.std * jnp.sqrt(jnp.sum(b**2 * d**2, axis=1))


def memory(pop: int, num_dims: int) -> float:
    return 6 * 4 * float(num_dims) ** 2


SPEC = StrategySpec(
    "cma_es",
    frozenset({"elite_ratio"}),
    False,
    build,
    sigma,
    memory=memory,
    max_dims=MAX_DIMS,
    check=check,
)
