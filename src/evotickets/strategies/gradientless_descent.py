"""Gradientless Descent (Golovin et al. 2019; evosax's ``GradientlessDescent``): each generation
samples member i at mean + r_i·z with a fixed ladder of radii r_i from ``radius_max`` down to
``radius_min`` (``gradientless_descent.py``, ``_ask``), and moves the mean to the best member
seen so far (``_tell``).

It has **no per-weight σ**: its samples are a mixture of isotropic Gaussians of fixed radii, the
same for every weight, and nothing in its state adapts per weight. SNR, whose denominator is
that σ, is therefore undefined: the config skips ``snr`` (and every method that reads σ) for
it, as for gradient descent, and refuses them by name where they are asked for explicitly;
magnitude and random run. Its ``trained.h5`` has no ``sigma/`` group.

``std_init`` is the largest radius (``radius_max``); ``radius_min`` (default 0.001) and
``radius_decay`` (default 5: the radius above radius_min falls by a factor e every 5 members) are its own keys.
"""

from __future__ import annotations

from typing import Any

from .spec import Built, StrategySpec

#: evosax's default smallest radius (GradientlessDescent's default params)
RADIUS_MIN = 0.001


def check(hparams: dict[str, Any]) -> str | None:
    """The radii run from std_init (radius_max) down to radius_min: a radius_min above
    std_init would turn the ladder upside down (equal to it: one constant radius)."""
    std_init = float(hparams["std_init"])
    radius_min = float(hparams.get("radius_min", RADIUS_MIN))
    if radius_min > std_init:
        return (
            f"radius_min ({radius_min}) is the smallest radius and must not lie above "
            f"std_init ({std_init}), the largest: lower radius_min, or raise std_init"
        )
    return None


def build(pop: int, num_dims: int, hparams: dict[str, Any]) -> Built:
    import jax.numpy as jnp
    from evosax.algorithms import GradientlessDescent

    algo = GradientlessDescent(pop, jnp.zeros(num_dims))
    params = algo.default_params.replace(radius_max=float(hparams["std_init"]))
    for key in ("radius_min", "radius_decay"):
        if key in hparams:
            params = params.replace(**{key: float(hparams[key])})
    return Built(algo, params)


SPEC = StrategySpec(
    "gradientless_descent",
    frozenset({"radius_min", "radius_decay"}),
    False,
    build,
    None,
    check=check,
)
