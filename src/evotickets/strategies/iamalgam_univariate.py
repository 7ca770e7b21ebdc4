"""iAMaLGaM, univariate (Bosman et al. 2013; evosax's ``iAMaLGaM_Univariate``): a diagonal
covariance C estimated from the better half, plus evosax's scalar ``std`` from a schedule, and
the anticipated mean shift (AMS).

σ: evosax samples y = (std + √C)·z (``iamalgam_univariate.py``, ``_ask``: ``stds =
state.std + jnp.sqrt(state.C)``; its comment's N(m, σ²C) is not what the code does), so the
per-weight std is std + √C_i, not √(std² + C_i) nor std·√C_i.

AMS: after sampling, a fixed number of members (int(½·elite_ratio·N/(N − elites)·(N − 1)), a
random subset each generation, ``anticipated_mean_shift`` in ``iamalgam_full.py``) are moved
by c_mult·δ_AMS·mean_shift, the same vector for all of them. So the population is not centred
on ``state.mean``: it is the Gaussian N(mean, diag((std + √C)²)) with that subset translated.
σ is the std of the Gaussian each member is drawn from, the spread of the search around its
own draw; the population's raw spread about its sample mean adds the mixture term
a(1 − a)·s² (a the shifted fraction, s the shift). tests/unit/test_strategies.py undoes the
shift on the members evosax moved (their indices follow from the ask key) before comparing.

Mapping: evosax starts C at 1 and ``std`` at the schedule's value (default 1), so its initial
per-weight std is 2. We keep ``std`` constant at ``std_floor`` (default 0: σ = √C) and start
C at (std_init − std_floor)², so the config's ``std_init`` is the initial per-weight std;
``std_floor`` (evosax's std) is then a floor on σ that C's shrinking cannot pass. evosax's
c_mult (adaptive variance scaling) scales only the AMS shift, not C.
"""

from __future__ import annotations

import functools
from typing import Any

from .spec import Built, StrategySpec


@functools.cache
def _algorithm_class():
    """evosax's iAMaLGaM_Univariate with C starting at ``c_init`` instead of 1, and its mean,
    covariance and SDR updates computed so that a chain's numbers do not depend on whether the
    program trains it alone or vmapped beside other chains (:mod:`evotickets.batch_invariant`):
    the sums over the elites are fixed-order and the divisions by their count are products with
    the reciprocal. The same updates as evosax 0.3's; the numbers differ in the last bits."""
    import jax.numpy as jnp
    from evosax.algorithms import iAMaLGaM_Univariate

    from ..batch_invariant import fixed_order_mean, fixed_order_sum

    class BatchInvariantScaledIAMaLGaMUnivariate(iAMaLGaM_Univariate):
        c_init = 1.0

        def _init(self, key, params):
            state = super()._init(key, params)
            return state.replace(C=jnp.full((self.num_dims,), self.c_init, jnp.float32))

        def update_mean(self, elites, mean, mean_shift, params):
            new_mean = fixed_order_mean(elites, axis=0)
            shift = (1 - params.eta_shift) * mean_shift + params.eta_shift * (new_mean - mean)
            return new_mean, shift

        def update_cov(self, elites, C, mean, params):
            spread = fixed_order_sum((elites - mean) ** 2, axis=0) * (1 / self.num_elites)
            return (1 - params.eta_std) * C + params.eta_std * spread

        def standard_deviation_ratio(self, improvement_mask, elites, C, mean):
            improved = fixed_order_sum(improvement_mask[:, None] * elites, axis=0)
            average = improved * (1 / fixed_order_sum(improvement_mask.astype(elites.dtype)))
            return jnp.max(jnp.abs((average - mean) / C))

    return BatchInvariantScaledIAMaLGaMUnivariate


def check(hparams: dict[str, Any]) -> str | None:
    """The initial per-weight std is std_floor + √C_init = std_init, so the floor lies below
    std_init (read by the config's validation, so it fails before any job)."""
    std_init, floor = float(hparams["std_init"]), float(hparams.get("std_floor", 0.0))
    if not 0.0 <= floor < std_init:
        return (
            f"std_floor ({floor}) must lie in [0, std_init = {std_init}): the initial "
            "per-weight std is std_floor + √C_init = std_init"
        )
    return None


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    import optax

    std_init, floor = float(hparams["std_init"]), float(hparams.get("std_floor", 0.0))
    algo = _algorithm_class()(pop, jnp.zeros(num_dims), std_schedule=optax.constant_schedule(floor))
    algo.c_init = (std_init - floor) ** 2
    return Built(algo, algo.default_params)


def sigma(state: Any, num_dims: int):
    import jax.numpy as jnp

    return state.std + jnp.sqrt(state.C)


SPEC = StrategySpec(
    "iamalgam_univariate", frozenset({"std_floor"}), False, build, sigma, check=check
)
