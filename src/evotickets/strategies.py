"""Make evosax 0.3 strategies by our names, map the paper's (evosax 0.1) hyperparameters onto
them, and read the per-weight search std σ that the SNR score divides by.

Mapping from the study's evosax 0.1 settings (see config/paper.yaml):
- ``std_init`` (0.1: ``sigma_init``) goes into ``Params.std_init``.
- Sep-CMA-ES ``elite_ratio`` is set on the strategy before its default params are built, so
  evosax derives μ_eff and the rates that depend on it (c_c, c_1, c_μ, c_σ, d_σ) for that
  ratio; the log recombination weights are then truncated to the top elite_ratio·N and
  renormalised (evosax 0.3 would otherwise keep the top half whatever the ratio).
- Sep-CMA-ES's rank-μ rate: evosax 0.3 builds Sep-CMA-ES on full CMA-ES's default params, so
  c_μ ≈ 2μ_eff/D² and the diagonal C hardly moves at D in the thousands (σ = std·√C stays
  uniform and the SNR ranking collapses onto magnitude). The separable variant (Ros & Hansen
  2008; evosax 0.1, which the study ran; the ``cmaes`` package) multiplies c_μ by (D + 2)/3.
  ``covariance_rate: separable`` (the default) restores that; ``full`` keeps evosax 0.3's.
- DES ``temperature`` is likewise an attribute evosax reads when building its weights.
- SNES ``temperature``: evosax 0.1 replaced SNES's log-rank weights with DES's sigmoid/softmax
  weights whenever temperature > 0; we do the same through ``Params.weights``.
- PGPE ``lrate_init/decay/limit`` become an optax Adam with an exponential-decay schedule
  floored at the limit; ``sigma_decay/limit`` are applied after each tell (``std_decay``,
  ``std_limit``), because evosax 0.3 PGPE adapts σ but no longer decays it.
- ``mean_decay`` (weight decay on the search mean) is applied after each tell as
  mean ← (1 − mean_decay)·mean, as evosax 0.1 did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax
from evosax.algorithms import ARS, PGPE, SNES, DiscoveredES, Open_ES, Sep_CMA_ES
from evosax.algorithms.distribution_based.discovered_es import get_weights as des_weights

STRATEGIES = ("sep_cma_es", "snes", "pgpe", "des", "ars", "open_es")
ANTITHETIC = ("pgpe", "ars", "open_es")

# Keys each strategy accepts in the config, besides the common ones.
COMMON_KEYS = {"population_size", "std_init", "mean_decay"}
STRATEGY_KEYS = {
    "sep_cma_es": {"elite_ratio", "covariance_rate"},
    "snes": {"temperature"},
    "des": {"temperature", "lr_std"},
    "pgpe": {"lr", "lr_decay", "lr_limit", "std_lr", "std_max_change", "std_decay", "std_limit"},
    "ars": {"lr", "elite_ratio"},
    "open_es": {"lr"},
}


@dataclass(frozen=True)
class ESStrategy:
    """An evosax strategy with its params and the post-tell transforms the study used."""

    name: str
    algorithm: Any
    params: Any
    mean_decay: float
    std_decay: float
    std_limit: float

    def post_tell(self, state):
        """Weight decay on the mean and (PGPE) multiplicative σ decay to a floor."""
        if self.mean_decay:
            state = state.replace(mean=state.mean * (1.0 - self.mean_decay))
        if self.std_decay != 1.0:
            state = state.replace(std=jnp.maximum(state.std * self.std_decay, self.std_limit))
        return state


def make_strategy(name: str, num_dims: int, hparams: dict[str, Any]) -> ESStrategy:
    """Build strategy ``name`` searching a vector of ``num_dims`` active weights."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")
    unknown = set(hparams) - COMMON_KEYS - STRATEGY_KEYS[name]
    if unknown:
        raise ValueError(
            f"strategy {name!r} does not take {sorted(unknown)}; "
            f"it takes {sorted(COMMON_KEYS | STRATEGY_KEYS[name])}"
        )
    pop = int(hparams["population_size"])
    if name in ANTITHETIC and pop % 2:
        raise ValueError(
            f"strategy {name!r} samples antithetic pairs, so population_size must be even "
            f"(got {pop}); use {pop + 1}"
        )
    solution = jnp.zeros(num_dims)
    std_init = float(hparams["std_init"])
    std_decay, std_limit = 1.0, 0.0

    if name == "sep_cma_es":
        algo = Sep_CMA_ES(pop, solution)
        algo.elite_ratio = float(hparams.get("elite_ratio", 0.5))
        params = algo.default_params.replace(std_init=jnp.asarray(std_init))
        # evosax 0.3 uses elite_ratio only for μ_eff: its log weights stay positive over the
        # top half whatever the ratio. Truncate them to the top elite_ratio·N and renormalise,
        # as evosax 0.1 did for the mean update; μ_eff (scale-free) already matches them.
        ranks = jnp.arange(pop)
        w = jnp.where(ranks < algo.num_elites, jnp.maximum(params.weights, 0.0), 0.0)
        params = params.replace(weights=w / jnp.sum(w))
        rate = hparams.get("covariance_rate", "separable")
        if rate == "separable":
            params = params.replace(c_mu=separable_c_mu(num_dims, params.mu_eff, params.c_1))
        elif rate != "full":
            raise ValueError(f"covariance_rate {rate!r}: use separable or full")
    elif name == "snes":
        algo = SNES(pop, solution)
        params = algo.default_params.replace(std_init=jnp.asarray(std_init))
        if hparams.get("temperature", 0.0) > 0:
            params = params.replace(weights=des_weights(pop, float(hparams["temperature"])))
    elif name == "des":
        algo = DiscoveredES(pop, solution)
        algo.temperature = float(hparams.get("temperature", 12.5))
        params = algo.default_params.replace(std_init=std_init)
        if "lr_std" in hparams:
            params = params.replace(lr_std=float(hparams["lr_std"]))
    elif name == "pgpe":
        schedule = optax.exponential_decay(
            float(hparams.get("lr", 0.01)),
            transition_steps=1,
            decay_rate=float(hparams.get("lr_decay", 1.0)),
            end_value=float(hparams.get("lr_limit", 0.0)) or None,
        )
        algo = PGPE(pop, solution, optimizer=optax.adam(schedule))
        params = algo.default_params.replace(std_init=std_init)
        params = params.replace(
            std_lr=float(hparams.get("std_lr", params.std_lr)),
            std_max_change=float(hparams.get("std_max_change", params.std_max_change)),
        )
        std_decay = float(hparams.get("std_decay", 1.0))
        std_limit = float(hparams.get("std_limit", 0.0))
    elif name == "ars":
        algo = ARS(
            pop,
            solution,
            optimizer=optax.sgd(float(hparams.get("lr", 0.02))),
            std_schedule=optax.constant_schedule(std_init),
        )
        algo.elite_ratio = float(hparams.get("elite_ratio", 1.0))
        params = algo.default_params.replace(std_init=std_init)
    else:  # open_es
        algo = Open_ES(
            pop,
            solution,
            optimizer=optax.adam(float(hparams.get("lr", 0.01))),
            std_schedule=optax.constant_schedule(std_init),
        )
        params = algo.default_params
    return ESStrategy(
        name=name,
        algorithm=algo,
        params=params,
        mean_decay=float(hparams.get("mean_decay", 0.0)),
        std_decay=std_decay,
        std_limit=std_limit,
    )


def separable_c_mu(num_dims: int, mu_eff: jax.Array, c_1: jax.Array) -> jax.Array:
    """Sep-CMA-ES's rank-μ learning rate: full CMA-ES's c_μ times (D + 2)/3 (Ros & Hansen
    2008), in the form evosax 0.1 and the ``cmaes`` package use, kept below 1 − c_1 so the
    diagonal's decay factor stays positive. Why it matters: with evosax 0.3's unscaled rate
    C barely adapts over a round and σ = std·√C carries no per-weight information."""
    d = float(num_dims)
    c_mu_full = 2.0 / mu_eff / (d + jnp.sqrt(2.0)) ** 2 + (1.0 - 1.0 / mu_eff) * jnp.minimum(
        1.0, (2.0 * mu_eff - 1.0) / ((d + 2.0) ** 2 + mu_eff)
    )
    return jnp.minimum(1.0 - c_1 - 1e-8, (d + 2.0) / 3.0 * c_mu_full)


def per_weight_std(name: str, state: Any, num_dims: int) -> jax.Array:
    """The per-weight std σ of the search distribution, the denominator of the SNR score.

    - PGPE, SNES, DES: ``state.std`` is already a vector.
    - Sep-CMA-ES samples mean + std·√C·z with a scalar ``std`` and diagonal ``C``, so the
      per-weight std is ``std·sqrt(C)``. (The study divided by C, a variance: wrong units.)
    - ARS, OpenES: one scalar ``std`` for all weights, broadcast. Their SNR ranking therefore
      equals the magnitude ranking; SNR adds nothing for them, by construction.
    """
    if name == "sep_cma_es":
        return state.std * jnp.sqrt(state.C)
    if name in ("pgpe", "snes", "des"):
        return state.std
    if name in ("ars", "open_es"):
        return jnp.broadcast_to(jnp.asarray(state.std, jnp.float32), (num_dims,))
    raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")
