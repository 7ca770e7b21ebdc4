"""CMA-anchored LES (evosax's ``CMAAnchoredLES``): a separable CMA-ES core (a scalar step size
``sigma`` and per-weight axis scales ``axis_std``) whose recombination weights and step-size,
mean and axis updates are gated by small meta-trained networks. Their weights ship inside
evosax (``algorithms/ckpt/cma_anchored_les/2026_10_cma_anchored_les.pkl``, read with
``importlib.resources``), so nothing is downloaded.

σ: evosax samples mean + sigma·axis_std·noise (``cma_anchored_les.py``, ``_ask``), so the
per-weight std is sigma·axis_std (which evosax also stores as ``state.std``). Part of the
population mirrors the other part (noise and −noise, an adaptive fraction of the pairs), but
every member's noise is standard normal, so the marginal spread is still sigma·axis_std. The
mirroring works with any population size (the unpaired members draw fresh noise), so the
strategy does not count as antithetic here (no even population needed). Its init sets
sigma = ``Params.std_init`` and axis_std = 1, so ``std_init`` is the initial per-weight std;
evosax clips sigma to [1e-9, 1e5]·std_init and re-expands it to at most std_init after a
stall. Memory is O(P·D).
"""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    from evosax.algorithms import CMAAnchoredLES

    algo = CMAAnchoredLES(pop, jnp.zeros(num_dims))
    return Built(algo, algo.default_params.replace(std_init=float(hparams["std_init"])))


def sigma(state: Any, num_dims: int):
    return state.sigma * state.axis_std


SPEC = StrategySpec("cma_anchored_les", frozenset(), False, build, sigma)
