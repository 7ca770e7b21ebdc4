"""EvoTF, Evolution Transformer (Lange et al. 2024; evosax's ``EvoTF_ES``): a diagonal
Gaussian whose mean and per-weight std are updated by a meta-trained transformer over the
last 100 generations' features. Its weights ship inside evosax
(``algorithms/ckpt/evotf/2024_03_SNES_small.pkl``, read with ``pkgutil.get_data``), so nothing
is downloaded. evosax samples mean + z·std (``evotf_es.py``, ``_ask``; no antithetic pairs by
default), so σ is ``state.std``; its init sets std = ``Params.std_init`` for every weight.

Size limit: the model's distribution encoder attends across the weights (a D×D attention map
for each of the 100 context slots and 2 heads), and the state keeps 100 generations of
per-member, per-weight features. XLA's memory analysis of one generation (ask + tell, CPU,
P 8–256, D 200–2,000) gives about 1,750·D² + 24,000·P·D bytes (temporaries and state):
6.8 GB measured at D = 2,000, P = 16, 32 GB at Pendulum's 4,481 weights. ``make_strategy``
refuses a build above ``MEMORY_LIMIT`` (8 GiB), so EvoTF runs on networks of about 2,000
weights (the digits CNN) and not on Pendulum's MLP or the vision CNNs.
"""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    from evosax.algorithms import EvoTF_ES

    algo = EvoTF_ES(pop, jnp.zeros(num_dims))
    return Built(algo, algo.default_params.replace(std_init=float(hparams["std_init"])))


def sigma(state: Any, num_dims: int):
    return state.std


def memory(pop: int, num_dims: int) -> float:
    d = float(num_dims)
    return 1750.0 * d * d + 24000.0 * pop * d


# Its transformer's reductions are evosax's own, not rewritten as fixed-order sums
# (evotickets.batch_invariant): alone and vmapped beside 2 other chains its search state
# differs by up to 8.6e-6 after 5 generations (bench 9), so a vmapped group trains it alone.
SPEC = StrategySpec(
    "evotf_es", frozenset(), False, build, sigma, memory=memory, batch_invariant=False
)
