"""The mean update of evosax's CMA-ES and Sep-CMA-ES, written batch-invariant (both use it)."""

from __future__ import annotations


class BatchInvariantCMAMean:
    """Mixin, listed before evosax's ``CMA_ES`` or ``Sep_CMA_ES``: their ``update_mean`` with
    the division by the scalar step size written as a product with its reciprocal. Why:
    XLA's simplifier rewrites that division so in some programs and not in others, so a
    chain's mean differed in the last bit alone and in a vmapped group
    (:mod:`evotickets.batch_invariant`). The same equation as evosax 0.3's."""

    def update_mean(self, population, fitness, mean, std, params):
        import jax.numpy as jnp

        y_k = (population - mean) * (1 / std)  # ~ N(0, C)
        y_w = jnp.dot(jnp.where(fitness < 0.0, 0.0, fitness), y_k)
        return mean + params.c_mean * std * y_w, y_k, y_w
