"""ARS (Mania et al. 2018): antithetic pairs and one scalar std for every weight, so its SNR
ranking equals the magnitude ranking (σ is the scalar broadcast)."""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import ARS

    std_init = float(hparams["std_init"])
    algo = ARS(
        pop,
        jnp.zeros(num_dims),
        optimizer=optax.sgd(float(hparams.get("lr", 0.02))),
        std_schedule=optax.constant_schedule(std_init),
    )
    algo.elite_ratio = float(hparams.get("elite_ratio", 1.0))
    return Built(algo, algo.default_params.replace(std_init=std_init))


def sigma(state: Any, num_dims: int):
    import jax.numpy as jnp

    return jnp.broadcast_to(jnp.asarray(state.std, jnp.float32), (num_dims,))


SPEC = StrategySpec("ars", frozenset({"lr", "elite_ratio"}), True, build, sigma)
