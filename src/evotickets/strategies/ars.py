"""ARS (Mania et al. 2018): antithetic pairs and one scalar std for every weight, so its SNR
ranking equals the magnitude ranking (σ is the scalar broadcast).

The mean's optimiser is SGD by default (``optimizer: sgd``, learning rate ``lr``), or Adam
(``optimizer: adam``) with β1 ``adam_beta1``: evosax 0.1.4's ARS defaults are Adam at a
learning rate of 0.05 with its Adam's β1 of 0.99 (optax's default β1 is 0.9), σ 0.03, no
decay of either, and an elite ratio of 0.1."""

from __future__ import annotations

import functools
from typing import Any

from .spec import Built, StrategySpec

#: The mean's optimisers ARS takes (``optimizer``); the first is the default.
OPTIMIZERS = ("sgd", "adam")
#: The share of antithetic pairs whose directions enter the step where the config names none:
#: evosax 0.1.4's (the study's evosax). It was 1.0 (every pair) until 2026-12-06, an
#: undocumented choice of neither evosax (0.3's is 0.5); it is filled into every ARS chain's
#: settings, so a digest names it and results made without it are not resumed under it.
ELITE_RATIO = 0.1


def check(hparams: dict[str, Any]) -> str | None:
    """An optimiser ARS has, and ``adam_beta1`` only with Adam (it would be ignored)."""
    optimizer = str(hparams.get("optimizer", OPTIMIZERS[0]))
    if optimizer not in OPTIMIZERS:
        return f"optimizer {optimizer!r} is not one of {list(OPTIMIZERS)}"
    if "adam_beta1" in hparams and optimizer != "adam":
        return "adam_beta1 is Adam's β1: set optimizer: adam, or drop adam_beta1"
    return None


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    import optax

    std_init = float(hparams["std_init"])
    lr = float(hparams.get("lr", 0.02))  # hparams passed `check` (make_strategy)
    if hparams.get("optimizer", OPTIMIZERS[0]) == "adam":
        opt = optax.adam(lr, b1=float(hparams.get("adam_beta1", 0.9)))
    else:
        opt = optax.sgd(lr)
    algo = _batch_invariant_class()(
        pop, jnp.zeros(num_dims), optimizer=opt, std_schedule=optax.constant_schedule(std_init)
    )
    algo.elite_ratio = float(hparams.get("elite_ratio", ELITE_RATIO))
    return Built(algo, algo.default_params.replace(std_init=std_init))


@functools.cache
def _batch_invariant_class():
    """evosax's ARS with its tell computed so that a chain's numbers do not depend on whether
    the program trains it alone or vmapped beside other chains (:mod:`evotickets.batch_invariant`):
    the divisions by the scalar std and by the elites' fitness std are products with the
    reciprocal, and that fitness std sums in a fixed order. The same update as evosax 0.3's
    (Mania et al. 2018, V1-t); the numbers differ from evosax's in the last bits."""
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import ARS

    from ..batch_invariant import fixed_order_std

    class BatchInvariantARS(ARS):
        def _tell(self, key, population, fitness, state, params):
            half = self.population_size // 2
            fitness_plus, fitness_minus = fitness[:half], fitness[half:]
            elite_idx = jnp.argsort(jnp.minimum(fitness_plus, fitness_minus))[: self.num_elites]
            fitness_elite = jnp.concatenate([fitness_plus[elite_idx], fitness_minus[elite_idx]])
            fitness_std = jnp.clip(fixed_order_std(fitness_elite), min=1e-8)
            z = (population[:half] - state.mean) * (1 / state.std)
            delta = fitness_plus[elite_idx] - fitness_minus[elite_idx]
            grad = jnp.dot(delta, z[elite_idx]) * (1 / (self.num_elites * fitness_std))
            updates, opt_state = self.optimizer.update(grad, state.opt_state, state.mean)
            return state.replace(
                mean=optax.apply_updates(state.mean, updates),
                opt_state=opt_state,
                std=self.std_schedule(state.generation_counter),
            )

    return BatchInvariantARS


def sigma(state: Any, num_dims: int):
    import jax.numpy as jnp

    return jnp.broadcast_to(jnp.asarray(state.std, jnp.float32), (num_dims,))


SPEC = StrategySpec(
    "ars",
    frozenset({"lr", "elite_ratio", "optimizer", "adam_beta1"}),
    True,
    build,
    sigma,
    digest_defaults=(("elite_ratio", ELITE_RATIO),),
    check=check,
)
