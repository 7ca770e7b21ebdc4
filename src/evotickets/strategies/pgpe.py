"""PGPE (Sehnke et al. 2010): antithetic pairs, a per-weight std vector. The study's
``lrate_init/decay/limit`` become an optax Adam with an exponential-decay schedule floored at
the limit; ``sigma_decay/limit`` are applied after each tell (evosax 0.3 PGPE adapts σ but no
longer decays it)."""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import PGPE

    schedule = optax.exponential_decay(
        float(hparams.get("lr", 0.01)),
        transition_steps=1,
        decay_rate=float(hparams.get("lr_decay", 1.0)),
        end_value=float(hparams.get("lr_limit", 0.0)) or None,
    )
    algo = PGPE(pop, jnp.zeros(num_dims), optimizer=optax.adam(schedule))
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


def sigma(state: Any, num_dims: int):
    return state.std


KEYS = {"lr", "lr_decay", "lr_limit", "std_lr", "std_max_change", "std_decay", "std_limit"}
SPEC = StrategySpec("pgpe", frozenset(KEYS), True, build, sigma)
