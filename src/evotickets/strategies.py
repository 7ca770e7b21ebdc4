"""Make evosax 0.3 strategies by our names, map the paper's (evosax 0.1) hyperparameters onto
them, and read the per-weight search std σ that the SNR score divides by.

Mapping from the study's evosax 0.1 settings (see config/paper.yaml):
- ``std_init`` (0.1: ``sigma_init``) goes into ``Params.std_init``.
- Sep-CMA-ES's recombination weights, μ_eff and every rate built from μ_eff (c_c, c_1, c_μ,
  c_σ, d_σ) come from ``sep_cma_rates`` and replace evosax 0.3's defaults: weights
  log(μ + 1) − log i over the top μ = elite_ratio·N, as evosax 0.1 (the study) had them.
  evosax 0.3's log((N + 1)/2) − log i, truncated, gives μ_eff 1.2–1.6× too high at the tuned
  brax ratios 0.1–0.4.
- Sep-CMA-ES's covariance rates, ``covariance_rate``: ``separable`` (default; Ros & Hansen
  2008) scales full CMA-ES's whole c_cov by (D + 2)/3, so both c_1 and c_μ grow;
  ``evosax01`` scales only c_μ, as the study's evosax 0.1 did; ``full`` keeps evosax 0.3's
  full-CMA rates, c_μ ≈ 2μ_eff/D², under which the diagonal C hardly moves at D in the
  thousands (σ = std·√C stays uniform and the SNR ranking collapses onto magnitude).
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
import numpy as np
import optax
from evosax.algorithms import ARS, PGPE, SNES, DiscoveredES, Open_ES, Sep_CMA_ES
from evosax.algorithms.distribution_based.discovered_es import get_weights as des_weights

from .names import ANTITHETIC, COMMON_KEYS, STRATEGIES, STRATEGY_KEYS


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
        rates = sep_cma_rates(
            pop, num_dims, algo.elite_ratio, hparams.get("covariance_rate", "separable")
        )
        params = algo.default_params.replace(
            std_init=jnp.asarray(std_init),
            **{k: jnp.asarray(v, jnp.float32) for k, v in rates.items()},
        )
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


COVARIANCE_RATES = ("separable", "evosax01", "full")


def sep_cma_rates(
    population_size: int, num_dims: int, elite_ratio: float, covariance_rate: str
) -> dict[str, np.ndarray | float]:
    """Recombination weights, μ_eff and every rate that depends on them, for Sep-CMA-ES.

    Weights (all modes), as evosax 0.1 (the study) built them: w_i ∝ log(μ + 1) − log i over
    the top μ = max(1, ⌊elite_ratio·N⌋), zero below, summing to 1; μ_eff = 1/Σw². evosax 0.3
    instead takes log((N + 1)/2) − log i truncated to μ, which flattens the weights and makes
    μ_eff 1.5–1.6× too high at elite_ratio 0.1–0.4 (the tuned brax ratios).

    ``covariance_rate`` picks the covariance learning rates (D = num_dims):
    - ``separable`` (Ros & Hansen 2008): c_cov = (D + 2)/3 · c_cov,full (Hansen & Kern 2004,
      μ_cov = μ_eff), split as c_1 = c_cov/μ_eff, c_μ = c_cov·(1 − 1/μ_eff); c_cov ≤ 1 − 1e-8
      so C's decay factor 1 − c_1 − c_μ stays positive.
    - ``evosax01`` (the study's): c_μ = (D + 2)/3 · c_cov,full, but c_1 keeps full CMA-ES's
      2/((D + 1.3)² + μ_eff), ~D/3 times smaller than Ros & Hansen's; c_μ ≤ 1 − c_1 − 1e-8.
      Squares use min(D, 40000), as evosax ≥ 0.1.4 did.
    - ``full`` (evosax 0.3): full CMA-ES's rates (Hansen 2016, eqs. 55–58), under which C
      barely moves at D in the thousands, so σ = std·√C ranks like a scalar std.
    ``separable`` and ``evosax01`` use the c_c, c_σ, d_σ of Ros & Hansen and evosax 0.1;
    ``full`` evosax 0.3's. All from the μ_eff above. Plain floats, so tests can check them.
    """
    if covariance_rate not in COVARIANCE_RATES:
        raise ValueError(
            f"covariance_rate {covariance_rate!r}: use one of {list(COVARIANCE_RATES)}"
        )
    if not 0 < elite_ratio <= 1:
        raise ValueError(f"elite_ratio {elite_ratio}: use a number in (0, 1]")
    mu = max(1, int(elite_ratio * population_size))
    w = np.log(mu + 1) - np.log(np.arange(1, mu + 1))
    w = w / w.sum()
    weights = np.zeros(population_size)
    weights[:mu] = w
    mu_eff = float(1.0 / np.sum(w**2))
    d = float(num_dims)
    if covariance_rate == "full":
        dsq = min(d, float(np.floor(np.sqrt(np.iinfo(np.int32).max))))  # evosax 0.3's cap
        c_c = (4 + mu_eff / d) / (d + 4 + 2 * mu_eff / d)
        c_1 = 2 / ((dsq + 1.3) ** 2 + mu_eff)
        c_mu = min(1 - c_1 - 1e-8, 2 * (mu_eff + 1 / mu_eff - 2) / ((dsq + 2) ** 2 + mu_eff))
        c_std = (mu_eff + 2) / (d + mu_eff + 5)
    else:
        dsq = min(d, 40000.0) if covariance_rate == "evosax01" else d
        c_cov_full = 2 / mu_eff / (dsq + np.sqrt(2)) ** 2 + (1 - 1 / mu_eff) * min(
            1.0, (2 * mu_eff - 1) / ((dsq + 2) ** 2 + mu_eff)
        )
        c_cov = (d + 2) / 3 * c_cov_full
        if covariance_rate == "separable":
            c_cov = min(1 - 1e-8, c_cov)
            c_1, c_mu = c_cov / mu_eff, c_cov * (1 - 1 / mu_eff)
        else:
            c_1 = 2 / ((dsq + 1.3) ** 2 + mu_eff)
            c_mu = min(1 - c_1 - 1e-8, c_cov)
        c_c = 4 / (d + 4)
        c_std = (mu_eff + 2) / (d + mu_eff + 3)
    d_std = 1 + 2 * max(0.0, np.sqrt((mu_eff - 1) / (d + 1)) - 1) + c_std
    return {
        "weights": weights,
        "mu_eff": mu_eff,
        "c_c": float(c_c),
        "c_1": float(c_1),
        "c_mu": float(c_mu),
        "c_std": float(c_std),
        "d_std": float(d_std),
    }


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
