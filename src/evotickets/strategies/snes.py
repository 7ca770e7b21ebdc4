"""SNES (Schaul et al. 2011): a per-weight std vector. With ``temperature`` > 0 its log-rank
weights are replaced by DES's sigmoid/softmax weights, as evosax 0.1 (the study) did."""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    from evosax.algorithms import SNES
    from evosax.algorithms.distribution_based.discovered_es import get_weights as des_weights

    algo = SNES(pop, jnp.zeros(num_dims))
    params = algo.default_params.replace(std_init=jnp.asarray(float(hparams["std_init"])))
    if hparams.get("temperature", 0.0) > 0:
        params = params.replace(weights=des_weights(pop, float(hparams["temperature"])))
    return Built(algo, params)


def sigma(state: Any, num_dims: int):
    return state.std


SPEC = StrategySpec("snes", frozenset({"temperature"}), False, build, sigma)
