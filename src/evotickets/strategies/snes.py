"""SNES (Schaul et al. 2011): a per-weight std vector. With ``temperature`` T > 0 its log-rank
recombination weights are replaced by temperature weights, in one of two forms
(``temperature_weights``):

- ``snes`` (default): softmax(−T·r) over the centred ranks r ∈ [−0.5, 0.5], SNES's own
  temperature weights in evosax 0.1.0–0.1.5 (``get_temp_weights``); the study pinned evosax
  0.1.4, so this is what its SNES ran.
- ``des``: DES's softmax(−20·sigmoid(T·r)), which evosax 0.1.6 switched SNES to. Flatter at
  the tuned temperatures (μ_eff 37 against 21 at N = 128, T = 12), and a higher T flattens it
  where it sharpens the ``snes`` form. This package used it before 2026-12-05; kept so that
  those results can be reproduced.
"""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec

#: The temperature weight forms by name; the first is the default.
WEIGHT_FORMS = ("snes", "des")


def temperature_weights(pop: int, temperature: float, form: str = WEIGHT_FORMS[0]):
    """Recombination weights of ranks 0 (best) … pop − 1 at ``temperature`` (module
    docstring); they sum to 1 and decrease with rank."""
    import jax
    import jax.numpy as jnp
    from evosax.algorithms.distribution_based.discovered_es import get_weights as des_weights

    if form == "des":
        return des_weights(pop, temperature)
    if form != "snes":
        raise ValueError(f"temperature_weights {form!r}: use one of {list(WEIGHT_FORMS)}")
    centred_ranks = jnp.arange(pop) / (pop - 1) - 0.5
    return jax.nn.softmax(-temperature * centred_ranks)


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    from evosax.algorithms import SNES

    algo = SNES(pop, jnp.zeros(num_dims))
    params = algo.default_params.replace(std_init=jnp.asarray(float(hparams["std_init"])))
    temperature = float(hparams.get("temperature", 0.0))
    if temperature > 0:
        form = str(hparams.get("temperature_weights", WEIGHT_FORMS[0]))
        params = params.replace(weights=temperature_weights(pop, temperature, form))
    return Built(algo, params)


def check(hparams: dict[str, Any]) -> str | None:
    """A weight form other than the default only with a temperature: at temperature 0 SNES
    keeps its log-rank weights, and the form would do nothing but change the digest."""
    form = hparams.get("temperature_weights", WEIGHT_FORMS[0])
    if form != WEIGHT_FORMS[0] and float(hparams.get("temperature", 0.0)) <= 0:
        return (
            f"temperature_weights {form!r} shapes temperature weights, which SNES uses only "
            "with temperature > 0 (at 0 it keeps its log-rank weights): set temperature, or "
            "drop temperature_weights"
        )
    return None


def sigma(state: Any, num_dims: int):
    return state.std


SPEC = StrategySpec(
    "snes",
    frozenset({"temperature", "temperature_weights"}),
    False,
    build,
    sigma,
    digest_defaults=(("temperature_weights", WEIGHT_FORMS[0]),),
    check=check,
)
