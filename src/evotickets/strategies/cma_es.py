"""CMA-ES (Hansen 2016; evosax's ``CMA_ES``): a full D×D covariance C and a scalar step size
``std``, with evosax 0.3's default (active, negative) recombination weights over the top
``elite_ratio``·N (default 0.5).

σ: evosax samples mean + std·z·diag(D)·Bᵀ with B diag(D²) Bᵀ the eigendecomposition of C
(symmetrised, diagonal clipped at 0, plus 1e-8·I; ``cma_es.py``, ``_ask`` and
``eigen_decomposition``), so each weight's marginal std is std·√(B diag(D²) Bᵀ)_ii, which is
std·√C_ii for a positive-definite C. We take it from the same decomposition evosax samples
with. ``std_init`` is the initial per-weight std (C starts at I).

Size limit: C, its eigenvectors B and the new C of each tell are D×D float32 arrays; a
generation of the training loop holds about six of them (measured with XLA's memory analysis:
state in and out, about two D² temporaries), 6·4·D² bytes, so 1.5 GiB at D = 8,192. Time is
the tighter limit: evosax eigendecomposes C in every ask, O(D³), about 5·10¹¹ flops a
generation at D = 8,192 (around a second on a GPU, minutes on a CPU core). So the strategy
is built for at most 8,192 searched weights: Pendulum's 2×64 MLP (4,481 weights) fits, the
vision CNNs do not; use sep_cma_es or snes (diagonal) there.
"""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec

MAX_DIMS = 8192


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    from evosax.algorithms import CMA_ES

    algo = CMA_ES(pop, jnp.zeros(num_dims))
    algo.elite_ratio = float(hparams.get("elite_ratio", 0.5))  # read by default_params
    params = algo.default_params.replace(std_init=jnp.asarray(float(hparams["std_init"])))
    return Built(algo, params)


def sigma(state: Any, num_dims: int):
    import jax.numpy as jnp
    from evosax.algorithms.distribution_based.cma_es import eigen_decomposition

    _c, b, d = eigen_decomposition(state.C)  # what the next ask samples with
    return state.std * jnp.sqrt(jnp.sum(b**2 * d**2, axis=1))


def memory(pop: int, num_dims: int) -> float:
    return 6 * 4 * float(num_dims) ** 2


SPEC = StrategySpec(
    "cma_es", frozenset({"elite_ratio"}), False, build, sigma, memory=memory, max_dims=MAX_DIMS
)
