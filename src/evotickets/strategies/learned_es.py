"""LES, Learned Evolution Strategy (Lange et al. 2023, evosax's ``LearnedES``): a per-weight
std vector updated by a small meta-learned network; its weights ship inside evosax
(``ckpt/les/2023_10_les_v2.pkl``), so nothing is downloaded. σ is ``state.std``, checked
against the sampled population in tests/unit/test_strategies.py."""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    from evosax.algorithms import LearnedES

    algo = LearnedES(pop, jnp.zeros(num_dims))
    return Built(algo, algo.default_params.replace(std_init=float(hparams["std_init"])))


def sigma(state: Any, num_dims: int):
    return state.std


SPEC = StrategySpec("learned_es", frozenset(), False, build, sigma)
