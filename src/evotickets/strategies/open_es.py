"""OpenAI-ES (Salimans et al. 2017): antithetic pairs and one scalar std for every weight,
so its SNR ranking equals the magnitude ranking (σ is the scalar broadcast)."""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import Open_ES

    algo = Open_ES(
        pop,
        jnp.zeros(num_dims),
        optimizer=optax.adam(float(hparams.get("lr", 0.01))),
        std_schedule=optax.constant_schedule(float(hparams["std_init"])),
    )
    return Built(algo, algo.default_params)


def sigma(state: Any, num_dims: int):
    import jax.numpy as jnp

    return jnp.broadcast_to(jnp.asarray(state.std, jnp.float32), (num_dims,))


SPEC = StrategySpec("open_es", frozenset({"lr"}), True, build, sigma)
