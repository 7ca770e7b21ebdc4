"""Sep-CMA-ES (Ros & Hansen 2008): a diagonal covariance C and a scalar step size ``std``.

Its recombination weights, μ_eff and every rate built from μ_eff (c_c, c_1, c_μ, c_σ, d_σ) come
from :func:`sep_cma_rates` and replace evosax 0.3's defaults (see the package docstring).
σ of weight i is std·√C_i: the search samples mean + std·√C·z. (The study divided by C, a
variance; that score is the method ``snr_study``.)
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .spec import Built, StrategySpec


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp

    algo = _batch_invariant_class()(pop, jnp.zeros(num_dims))
    algo.elite_ratio = float(hparams.get("elite_ratio", 0.5))
    rates = sep_cma_rates(
        pop, num_dims, algo.elite_ratio, hparams.get("covariance_rate", "separable")
    )
    params = algo.default_params.replace(
        std_init=jnp.asarray(float(hparams["std_init"])),
        **{k: jnp.asarray(v, jnp.float32) for k, v in rates.items()},
    )
    return Built(algo, params)


@functools.cache
def _batch_invariant_class():
    """evosax's Sep-CMA-ES with its tell computed so that a chain's numbers do not depend on
    whether the program trains it alone or vmapped beside other chains.

    Why: a vmapped group (``round-group --program vmapped``) must give each chain the numbers
    of its one-chain job. evosax's tell divides by the scalar step size and by √C broadcast
    over the population, and XLA's simplifier turns such a division into a product with the
    reciprocal in some programs and not in others (measured: the one-chain program kept the
    division where the vmapped one did not), which differs in the last bit; and
    ``jnp.linalg.norm`` of p_σ sums in a shape-dependent order. Here both divisions are
    written as products with the reciprocal, and the norm sums in a fixed order
    (:mod:`evotickets.batch_invariant`). The same equations (Ros & Hansen 2008 as evosax 0.3
    implements them); the numbers differ from evosax's in the last bits.
    """
    from evosax.algorithms import Sep_CMA_ES

    from ..batch_invariant import fixed_order_norm
    from .cma_mean import BatchInvariantCMAMean

    class BatchInvariantSepCMAES(BatchInvariantCMAMean, Sep_CMA_ES):
        def _tell(self, key, population, fitness, state, params):
            mean, y_k, y_w = self.update_mean(population, fitness, state.mean, state.std, params)
            inv_d = 1 / state.D
            p_std = self.update_p_std(state.p_std, y_w * inv_d, params)
            norm_p_std = fixed_order_norm(p_std)
            std = self.update_std(state.std, norm_p_std, params)
            h_std = self.h_std(norm_p_std, state.generation_counter + 1, params)
            p_c = self.update_p_c(state.p_c, h_std, y_w, params)
            delta_h_std = self.delta_h_std(h_std, params)
            rank_mu = self.rank_mu(fitness, y_k, y_k * inv_d)
            C = self.update_C(state.C, delta_h_std, self.rank_one(p_c), rank_mu, params)
            return state.replace(mean=mean, std=std, p_std=p_std, p_c=p_c, C=C)

    return BatchInvariantSepCMAES


def sigma(state: Any, num_dims: int):
    import jax.numpy as jnp

    return state.std * jnp.sqrt(state.C)


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


SPEC = StrategySpec(
    "sep_cma_es",
    frozenset({"elite_ratio", "covariance_rate"}),
    False,
    build,
    sigma,
    digest_defaults=(("covariance_rate", "separable"),),
)
