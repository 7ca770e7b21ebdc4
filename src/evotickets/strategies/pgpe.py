"""PGPE (Sehnke et al. 2010): antithetic pairs, a per-weight std vector. The study's
``lrate_init/decay/limit`` become an optax Adam with an exponential-decay schedule floored at
the limit, with evosax 0.1.4's Adam β1 of 0.99 (``adam_beta1``; optax's default is 0.9, which
this package used until 2026-12-05); ``sigma_decay/limit`` are applied after each tell
(evosax 0.3 PGPE adapts σ but no longer decays it).

σ's own update is evosax 0.3's, σ − std_lr·∇σ of the loss. evosax 0.1.4 added std_lr·∇σ to σ
while its mean descended the loss, so the study's σ adaptation climbed the loss (by at most
±20 % a generation, before the decay); that sign is not carried."""

from __future__ import annotations

import functools
from typing import Any

from .spec import Built, StrategySpec

#: Adam's β1 for the mean: evosax 0.1.4's Adam (the study's), in every PGPE chain's digest
ADAM_BETA1 = 0.99
#: the mean's learning rate where the config names none
DEFAULT_LR = 0.01


def check(hparams: dict[str, Any]) -> str | None:
    """A floor above its start value is never a floor: σ = max(σ·std_decay, std_limit) is
    the limit from the first tell on, and the rate max(lr·lr_decay^t, lr_limit) is the limit
    from the first step, so std_init or lr would be set and never used."""
    std_init, std_limit = float(hparams["std_init"]), float(hparams.get("std_limit", 0.0))
    if std_limit > std_init:
        return (
            f"std_limit ({std_limit}) is σ's floor but lies above std_init ({std_init}), so σ "
            "would be the floor from the first generation on: lower std_limit, or raise std_init"
        )
    lr, lr_limit = float(hparams.get("lr", DEFAULT_LR)), float(hparams.get("lr_limit", 0.0))
    if lr_limit > lr:
        return (
            f"lr_limit ({lr_limit}) is the learning rate's floor but lies above lr ({lr}), so "
            "the rate would be the floor from the first step on: lower lr_limit, or raise lr"
        )
    return None


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    import optax

    lr, decay = float(hparams.get("lr", DEFAULT_LR)), float(hparams.get("lr_decay", 1.0))
    limit = float(hparams.get("lr_limit", 0.0))
    if decay < 1.0:  # max(lr·decay^t, limit), as evosax 0.1.4's exp_decay
        schedule = optax.exponential_decay(lr, 1, decay, end_value=limit or None)
    else:  # the rate does not decay (`check`: lr ≥ lr_limit)
        schedule = optax.constant_schedule(lr)
    algo = _batch_invariant_class()(
        pop,
        jnp.zeros(num_dims),
        optimizer=optax.adam(schedule, b1=float(hparams.get("adam_beta1", ADAM_BETA1))),
    )
    params = algo.default_params.replace(std_init=float(hparams["std_init"]))
    params = params.replace(
        std_lr=float(hparams.get("std_lr", params.std_lr)),
        std_max_change=float(hparams.get("std_max_change", params.std_max_change)),
    )
    return Built(
        algo,
        params,
        std_decay=float(hparams.get("std_decay", 1.0)),
        std_limit=float(hparams.get("std_limit", 0.0)),
    )


@functools.cache
def _batch_invariant_class():
    """evosax's PGPE with its tell computed so that a chain's numbers do not depend on whether
    the program trains it alone or vmapped beside other chains
    (:mod:`evotickets.batch_invariant`): the divisions by the population size and by σ are
    products with the reciprocal, and the fitness baseline is a fixed-order mean. The same
    update as evosax 0.3's; the numbers differ from evosax's in the last bits."""
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import PGPE

    from ..batch_invariant import fixed_order_mean

    class BatchInvariantPGPE(PGPE):
        def _tell(self, key, population, fitness, state, params):
            half = self.population_size // 2
            z_scaled = population[:half] - state.mean
            fitness_plus, fitness_minus = fitness[:half], fitness[half:]
            inv_pop = 1.0 / self.population_size
            grad_mean = jnp.dot(fitness_plus - fitness_minus, z_scaled) * inv_pop
            baseline = fixed_order_mean(fitness)
            grad_std = (
                jnp.dot(
                    fitness_plus + fitness_minus - 2 * baseline,
                    (z_scaled**2 - state.std**2) * (1 / state.std),
                )
                * inv_pop
            )
            updates, opt_state = self.optimizer.update(grad_mean, state.opt_state, state.mean)
            std_max_change = params.std_max_change * state.std
            std = jnp.clip(
                state.std - params.std_lr * grad_std,
                min=state.std - std_max_change,
                max=state.std + std_max_change,
            )
            return state.replace(
                mean=optax.apply_updates(state.mean, updates), std=std, opt_state=opt_state
            )

    return BatchInvariantPGPE


def sigma(state: Any, num_dims: int):
    return state.std


KEYS = {
    *("lr", "lr_decay", "lr_limit", "adam_beta1"),
    *("std_lr", "std_max_change", "std_decay", "std_limit"),
}
SPEC = StrategySpec(
    "pgpe",
    frozenset(KEYS),
    True,
    build,
    sigma,
    digest_defaults=(("adam_beta1", ADAM_BETA1),),
    check=check,
)
