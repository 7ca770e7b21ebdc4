"""xNES, exponential NES (Glasmachers et al. 2010; evosax's ``xNES``): a scalar ``std`` times a
D×D matrix B; the mean moves by an optax SGD (``lr``, default 1).

σ: evosax samples mean + std·z·B with z a row of standard normals (``xnes.py``, ``_ask``), so
weight i's marginal std is std·‖B[:, i]‖, the norm of B's column i.

``std_init``: evosax's init sets both ``std`` and B to ``Params.std_init`` (``std = std_init``,
``B = std_init·I``, ``_init``), so the initial per-weight std is std_init². We pass
√std_init, which makes the config's ``std_init`` the initial per-weight std.

evosax 0.3.2 updates B elementwise, ``B * exp(½·lr_B·G)`` (``_tell``), not by the matrix
exponential of the paper, so B, which starts diagonal, stays diagonal: the search is
separable (σ_i = std·|B_ii|) although the state and the update are D×D.

Size limit: the tell builds the P outer products z zᵀ − I as one P×D×D float32 array before
summing them (XLA's memory analysis: (P + 1)·D² temporaries, plus B in and out of the
generation), so a generation needs about (P + 4)·4·D² bytes: 7.8 GiB for Pendulum's 2×64 MLP
(4,481 weights) at population 100, 16 GiB at D = 4,096 and P = 256. ``make_strategy`` refuses
a build above ``MEMORY_LIMIT`` (8 GiB).
"""

from __future__ import annotations

import math
from typing import Any

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import xNES

    algo = xNES(pop, jnp.zeros(num_dims), optimizer=optax.sgd(float(hparams.get("lr", 1.0))))
    root = math.sqrt(float(hparams["std_init"]))  # init: std = root, B = root·I
    return Built(algo, algo.default_params.replace(std_init=jnp.asarray(root)))


def sigma(state: Any, num_dims: int):
    import jax.numpy as jnp

    return state.std * jnp.sqrt(jnp.sum(state.B**2, axis=0))


def memory(pop: int, num_dims: int) -> float:
    return (pop + 4) * 4 * float(num_dims) ** 2


SPEC = StrategySpec("xnes", frozenset({"lr"}), False, build, sigma, memory=memory)
