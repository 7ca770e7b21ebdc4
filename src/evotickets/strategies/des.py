"""DES, Discovered ES (Lange et al. 2023): a per-weight std vector; ``temperature`` is the
attribute evosax reads when it builds the recombination weights."""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    from evosax.algorithms import DiscoveredES

    algo = DiscoveredES(pop, jnp.zeros(num_dims))
    algo.temperature = float(hparams.get("temperature", 12.5))
    params = algo.default_params.replace(std_init=float(hparams["std_init"]))
    if "lr_std" in hparams:
        params = params.replace(lr_std=float(hparams["lr_std"]))
    return Built(algo, params)


def sigma(state: Any, num_dims: int):
    return state.std


SPEC = StrategySpec("des", frozenset({"temperature", "lr_std"}), False, build, sigma)
