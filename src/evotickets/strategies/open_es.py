"""OpenAI-ES (Salimans et al. 2017): antithetic pairs and one scalar std for every weight,
so its SNR ranking equals the magnitude ranking (σ is the scalar broadcast)."""

from __future__ import annotations

import functools
from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    import optax

    algo = _batch_invariant_class()(
        pop,
        jnp.zeros(num_dims),
        optimizer=optax.adam(float(hparams.get("lr", 0.01))),
        std_schedule=optax.constant_schedule(float(hparams["std_init"])),
    )
    return Built(algo, algo.default_params)


@functools.cache
def _batch_invariant_class():
    """evosax's OpenAI-ES with its tell computed so that a chain's numbers do not depend on
    whether the program trains it alone or vmapped beside other chains
    (:mod:`evotickets.batch_invariant`): the divisions by the scalar std are products with the
    reciprocal, which XLA's simplifier otherwise writes so in some programs and not in others.
    The same update as evosax 0.3's; the numbers differ from evosax's in the last bits."""
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import Open_ES

    class BatchInvariantOpenES(Open_ES):
        def _tell(self, key, population, fitness, state, params):
            inv_std = 1 / state.std
            z = (population - state.mean) * inv_std
            grad = jnp.dot(fitness, z) * (inv_std * (1 / self.population_size))
            updates, opt_state = self.optimizer.update(grad, state.opt_state, state.mean)
            return state.replace(
                mean=optax.apply_updates(state.mean, updates),
                std=self.std_schedule(state.generation_counter),
                opt_state=opt_state,
            )

    return BatchInvariantOpenES


def sigma(state: Any, num_dims: int):
    import jax.numpy as jnp

    return jnp.broadcast_to(jnp.asarray(state.std, jnp.float32), (num_dims,))


SPEC = StrategySpec("open_es", frozenset({"lr"}), True, build, sigma)
