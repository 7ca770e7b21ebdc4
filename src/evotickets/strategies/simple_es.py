"""SimpleES (evosax): a Gaussian with a per-weight std vector, whose mean moves to the
weighted average of the best half (through an optax optimiser, SGD with lr 1 by default) and
whose std moves towards that half's spread at rate ``c_std``. σ is ``state.std``, checked
against the sampled population in tests/unit/test_strategies.py."""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import SimpleES

    algo = SimpleES(pop, jnp.zeros(num_dims), optimizer=optax.sgd(float(hparams.get("lr", 1.0))))
    params = algo.default_params.replace(std_init=float(hparams["std_init"]))
    if "c_std" in hparams:
        params = params.replace(c_std=float(hparams["c_std"]))
    return Built(algo, params)


def sigma(state: Any, num_dims: int):
    return state.std


SPEC = StrategySpec("simple_es", frozenset({"lr", "c_std"}), False, build, sigma)
