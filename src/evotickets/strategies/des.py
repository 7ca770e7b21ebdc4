"""DES, Discovered ES (Lange et al. 2023): a per-weight std vector; ``temperature`` is the
attribute evosax reads when it builds the recombination weights.

σ's update moves σ towards the weighted spread sqrt(Σ w·(x − m)² + ε) of the ranked members.
evosax 0.1.4 (the study's) adds ε = 1e-6 inside the root; evosax 0.3 drops it. Under weak
selection the weighted variance runs about 1/(4·μ_eff) below σ², and the ε then holds σ near
0.01 where evosax 0.3's σ keeps shrinking (1.4–1.9× lower after the paper's 3,000–4,000
generations, by a neutral-selection simulation): a difference in the SNR's denominator. So
``variance_eps`` (default 1e-6, in every DES chain's settings and so its digest) adds it back;
0 gives evosax 0.3's update, this package's before 2026-12-05.
"""

from __future__ import annotations

import functools
from typing import Any

from .spec import Built, StrategySpec

#: ε inside the root of σ's target, evosax 0.1.4's
VARIANCE_EPS = 1e-6
#: the recombination weights' temperature where the config names none (evosax's)
DEFAULT_TEMPERATURE = 12.5


def check(hparams: dict[str, Any]) -> str | None:
    """DES's weights are softmax(−20·sigmoid(T·(rank − ½))): at T = 0 every member weighs the
    same, so the mean follows the population's centroid whatever the fitness (the schema's
    minimum of 0 is SNES's, where 0 means its log-rank weights)."""
    if float(hparams.get("temperature", DEFAULT_TEMPERATURE)) <= 0:
        return (
            f"temperature {hparams['temperature']} gives every member the same weight under "
            "DES's softmax(−20·sigmoid(T·rank)), so nothing is selected: set it above 0 (the "
            f"default is {DEFAULT_TEMPERATURE})"
        )
    return None


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp

    eps = float(hparams.get("variance_eps", VARIANCE_EPS))
    algo = _with_variance_eps()(pop, jnp.zeros(num_dims))
    algo.temperature = float(hparams.get("temperature", DEFAULT_TEMPERATURE))
    algo.variance_eps = eps
    params = algo.default_params.replace(std_init=float(hparams["std_init"]))
    if "lr_std" in hparams:
        params = params.replace(lr_std=float(hparams["lr_std"]))
    return Built(algo, params)


@functools.cache
def _with_variance_eps():
    """evosax 0.3's DiscoveredES with evosax 0.1.4's ε inside the root of σ's target (module
    docstring); with ε = 0 the same operations as evosax's."""
    import jax.numpy as jnp
    import optax
    from evosax.algorithms import DiscoveredES

    class DiscoveredESWithEps(DiscoveredES):
        variance_eps: float = 0.0

        def _tell(self, key, population, fitness, state, params):
            grad_mean = -jnp.dot(fitness, population - state.mean)
            variance = jnp.dot(fitness, (population - state.mean) ** 2)
            if self.variance_eps:
                variance = variance + self.variance_eps
            grad_std = -(jnp.sqrt(variance) - state.std)
            updates, opt_state = self.optimizer.update(grad_mean, state.opt_state, state.mean)
            mean = optax.apply_updates(state.mean, updates)
            std = state.std - params.lr_std * grad_std
            return state.replace(mean=mean, std=std, opt_state=opt_state)

    return DiscoveredESWithEps


def sigma(state: Any, num_dims: int):
    return state.std


SPEC = StrategySpec(
    "des",
    frozenset({"temperature", "lr_std", "variance_eps"}),
    False,
    build,
    sigma,
    digest_defaults=(("variance_eps", VARIANCE_EPS),),
    check=check,
)
