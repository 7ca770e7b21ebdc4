"""The evosax strategies by our names: one module each (its keys, builder and per-weight σ,
as a :class:`~evotickets.strategies.spec.StrategySpec`), registered here by name. Make evosax
0.3 strategies by our names, map the paper's (evosax 0.1) hyperparameters onto
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
- DES ``temperature`` is likewise an attribute evosax reads when building its weights; its σ
  target keeps evosax 0.1.4's ε = 1e-6 inside the root (``variance_eps``, :mod:`.des`).
- SNES ``temperature``: evosax 0.1 replaced SNES's log-rank weights with temperature weights
  whenever temperature > 0, softmax(−T·r) over centred ranks in 0.1.0–0.1.5 (the study's
  0.1.4), DES's sigmoid/softmax form from 0.1.6; we set them through ``Params.weights``, the
  study's form by default (``temperature_weights``, :mod:`.snes`).
- PGPE ``lrate_init/decay/limit`` become an optax Adam (β1 0.99, as evosax 0.1.4's Adam:
  ``adam_beta1``) with an exponential-decay schedule floored at the limit; ``sigma_decay/limit`` are applied after each tell (``std_decay``,
  ``std_limit``), because evosax 0.3 PGPE adapts σ but no longer decays it.
- ``mean_decay`` (weight decay on the search mean) is applied after each tell as
  mean ← (1 − mean_decay)·mean, as evosax 0.1 did.
- Tied fitness keeps evosax 0.3's weights (``weights_fitness_shaping_fn``): members tied in
  fitness get the weight of their mean rank truncated to an integer, so a tie's weights do
  not sum to those of the ranks it fills (README, "What runs": why it stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import (
    ars,
    cma_anchored_les,
    cma_es,
    des,
    evotf_es,
    gradientless_descent,
    iamalgam_univariate,
    learned_es,
    open_es,
    pgpe,
    sep_cma_es,
    simple_es,
    snes,
    xnes,
)
from .sep_cma_es import COVARIANCE_RATES, sep_cma_rates  # noqa: F401 (tests, docs)
from .spec import StrategySpec

#: Every strategy by name, in the order the config and messages list them. Adding a strategy
#: is one module with a ``SPEC`` and one entry here.
REGISTRY: dict[str, StrategySpec] = {
    m.SPEC.name: m.SPEC
    for m in (
        *(sep_cma_es, snes, pgpe, des, ars, open_es, simple_es, learned_es),
        *(cma_es, xnes, iamalgam_univariate, evotf_es, cma_anchored_les, gradientless_descent),
    )
}
STRATEGIES = tuple(REGISTRY)
ANTITHETIC = tuple(name for name, spec in REGISTRY.items() if spec.antithetic)
# Keys every strategy takes; each strategy's own are its spec's ``keys``.
COMMON_KEYS = {"population_size", "std_init", "mean_decay"}
STRATEGY_KEYS = {name: set(spec.keys) for name, spec in REGISTRY.items()}
#: per strategy, the keys every chain's settings fill in, so into its digest (spec
#: ``digest_defaults``; ``settings.ChainSettings``)
DIGEST_DEFAULTS = {name: dict(spec.digest_defaults) for name, spec in REGISTRY.items()}


def hparams_problem(strategy: str, hparams: dict[str, Any]) -> str | None:
    """What is wrong with ``hparams``' combination of keys for ``strategy`` (its spec's
    ``check``), or None."""
    spec = REGISTRY.get(strategy)
    return spec.check(hparams) if spec is not None and spec.check else None


def with_digest_defaults(strategy: str, hparams: dict[str, Any]) -> dict[str, Any]:
    """``hparams`` with the strategy's :data:`DIGEST_DEFAULTS` where it names none (the one
    filling the config and :class:`~evotickets.settings.ChainSettings` both apply)."""
    defaults = DIGEST_DEFAULTS.get(strategy, {})
    return {**hparams, **{k: v for k, v in defaults.items() if k not in hparams}}


#: The most memory a strategy whose memory grows with D² (spec ``memory``: CMA-ES, xNES, EvoTF)
#: may need for its state and one generation: 8 GiB leaves room for the task's own buffers
#: on a 16 GB accelerator and fits a workstation's RAM.
MEMORY_LIMIT = 8 * 2**30


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
        """Weight decay on the mean and (PGPE) multiplicative σ decay to a floor; the floor
        holds without a decay too (evosax 0.1.4's σ ← max(σ·decay, limit) every generation)."""
        import jax.numpy as jnp

        if self.mean_decay:
            state = state.replace(mean=state.mean * (1.0 - self.mean_decay))
        if self.std_decay != 1.0 or self.std_limit > 0:
            state = state.replace(std=jnp.maximum(state.std * self.std_decay, self.std_limit))
        return state


def _spec(name: str) -> StrategySpec:
    if name not in REGISTRY:
        raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")
    return REGISTRY[name]


def make_strategy(name: str, num_dims: int, hparams: dict[str, Any]) -> ESStrategy:
    """Build strategy ``name`` searching a vector of ``num_dims`` active weights."""
    spec = _spec(name)
    unknown = set(hparams) - COMMON_KEYS - spec.keys
    if unknown:
        raise ValueError(
            f"strategy {name!r} does not take {sorted(unknown)}; "
            f"it takes {sorted(COMMON_KEYS | spec.keys)}"
        )
    problem = hparams_problem(name, hparams)
    if problem:
        raise ValueError(f"strategy {name!r}: {problem}")
    pop = int(hparams["population_size"])
    if spec.antithetic and pop % 2:
        raise ValueError(
            f"strategy {name!r} samples antithetic pairs, so population_size must be even "
            f"(got {pop}); use {pop + 1}"
        )
    check_size(name, pop, num_dims)
    built = spec.build(pop, num_dims, hparams)
    return ESStrategy(
        name=name,
        algorithm=built.algorithm,
        params=built.params,
        mean_decay=float(hparams.get("mean_decay", 0.0)),
        std_decay=built.std_decay,
        std_limit=built.std_limit,
    )


def grows_with_dims(name: str) -> bool:
    """Whether strategy ``name`` has a memory or size limit in the searched weights D, which
    :func:`check_size` holds it to (CMA-ES, xNES, EvoTF: a D×D state or D² work)."""
    spec = _spec(name)
    return spec.memory is not None or spec.max_dims is not None


def memory_need(name: str, pop: int, num_dims: int) -> float:
    """Bytes one chain of strategy ``name`` needs where its state grows with D² (0 for the
    diagonal ones): what ``check_size`` holds to ``MEMORY_LIMIT`` and check-config sets
    beside the memory a config asks of SLURM (``resources.mem_mb``)."""
    return _spec(name).memory_need(pop, num_dims)


def check_size(name: str, pop: int, num_dims: int) -> None:
    """Refuse strategy ``name`` at population ``pop`` when its D×D state or D² work cannot
    fit ``num_dims`` searched weights (``make_strategy`` for each job; ``check-config`` for
    round 0, which searches every weight, before any job runs)."""
    spec = _spec(name)
    need = spec.memory_need(pop, num_dims)
    too_many = spec.max_dims is not None and num_dims > spec.max_dims
    if not too_many and need <= MEMORY_LIMIT:
        return
    limit = (
        f"it is built for at most {spec.max_dims:,} weights (its O(D³) eigendecomposition "
        "every generation)"
        if too_many
        else f"the limit is {MEMORY_LIMIT / 2**30:.0f} GiB (MEMORY_LIMIT)"
    )
    fits = min(num_dims - 1, spec.max_dims or num_dims)
    if spec.memory:
        lo, hi = 0, fits  # the largest D whose memory fits, by bisection (memory grows with D)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if spec.memory(pop, mid) <= MEMORY_LIMIT else (lo, mid - 1)
        fits = lo
    raise ValueError(
        f"strategy {spec.name!r} cannot search D = {num_dims:,} weights at population {pop}: "
        f"its memory grows with D² and would need about {need / 2**30:.1f} GiB; {limit}. "
        f"Use it on smaller networks, at most {fits:,} searched weights at this population "
        f"(Pendulum's 2×64 MLP has 4,481; see evotickets/strategies/{spec.name}.py), or a "
        "diagonal strategy such as sep_cma_es or snes"
    )


def per_weight_std(name: str, state: Any, num_dims: int):
    """The per-weight std σ of the search distribution, the denominator of the SNR score.

    - PGPE, SNES, DES: ``state.std`` is already a vector.
    - Sep-CMA-ES samples mean + std·√C·z with a scalar ``std`` and diagonal ``C``, so the
      per-weight std is ``std·sqrt(C)``. (The study divided by C, a variance: wrong units.)
    - ARS, OpenES: one scalar ``std`` for all weights, broadcast. Their SNR ranking therefore
      equals the magnitude ranking; SNR adds nothing for them, by construction.
    - CMA-ES, xNES, iAMaLGaM, EvoTF, CMA-anchored LES: each module's docstring says what its
      ask samples and so what σ is.
    - Gradientless Descent has none (a fixed ladder of isotropic radii): a clear error.
    """
    spec = _spec(name)
    if spec.sigma is None:
        raise ValueError(
            f"strategy {name!r} has no per-weight search std σ, so SNR (|θ|/σ) is undefined "
            "for it; prune its chains by magnitude or random"
        )
    return spec.sigma(state, num_dims)


def has_per_weight_sigma(name: str) -> bool:
    """Whether strategy ``name`` has a per-weight σ (False for gradient descent too)."""
    spec = REGISTRY.get(name)
    return spec is not None and spec.sigma is not None
