"""Linear mode connectivity: the error barrier on the straight line between two networks.

Convention for sparse networks: both are interpolated as dense vectors whose pruned entries
are 0, which is the same as evaluating every point of the path under the *union* of the two
masks (a weight pruned in one network contributes (1−α)·0 from that side). The barrier is
the largest excess of the error over the chord between the two ends' errors,

    B = max_α [ err(α·θ + (1−α)·θ′) − (α·err(θ) + (1−α)·err(θ′)) ],

over a grid of α that includes both end points (the form of Entezari et al. 2022); it is 0
for a network with itself and positive when the path crosses a ridge. Frankle et al. (2020)
subtract the mean of the two ends' errors instead; the two agree when the ends' errors are
equal (two seeds at one round) and differ when they are not (consecutive rounds, where a
path with no ridge but ends of unequal error would get a barrier of up to half their
difference from the mean form, 0 from this one).

Task state (e.g. a brax policy's running observation mean and variance) is part of what a
network computes: θ acts on (obs − μ)/√v. Each end of a pair is evaluated under its own state,
so err(θ) and err(θ′) are the numbers each network was scored with. Between the ends every
array of the state is interpolated with the same α as the weights (μ, v and the count alike),
so the path runs from one whole policy to the other; when both states are equal (vision tasks,
or two networks trained under the same statistics) this is the plain weight interpolation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def alpha_grid(points: int = 21) -> np.ndarray:
    """α from 0 to 1 inclusive; 21 points by default (steps of 0.05)."""
    if points < 2:
        raise ValueError(f"the α grid needs at least 2 points, got {points}")
    return np.linspace(0.0, 1.0, points)


def interpolation_path(theta_a: np.ndarray, theta_b: np.ndarray, alphas: np.ndarray):
    """Rows α·θa + (1−α)·θb, one per α."""
    if theta_a.shape != theta_b.shape:
        raise ValueError(f"cannot interpolate shapes {theta_a.shape} and {theta_b.shape}")
    a = np.asarray(alphas, np.float64)[:, None]
    return (a * theta_a[None] + (1.0 - a) * theta_b[None]).astype(np.float32)


def interpolate_states(state_a: dict, state_b: dict, alphas: np.ndarray) -> dict:
    """Rows α·sa + (1−α)·sb of every array of two task states, one row per α (the same
    convention as :func:`interpolation_path`: α = 1 is ``state_a``, α = 0 is ``state_b``)."""
    if set(state_a) != set(state_b):
        raise ValueError(
            f"the two networks of a pair carry different task states ({sorted(state_a)} vs "
            f"{sorted(state_b)}): they were trained on different kinds of task, so there is no "
            "path between them; pair networks of the same task (and observation normalisation)"
        )
    a = np.asarray(alphas, np.float64)
    out = {}
    for k, value in state_a.items():
        sa, sb = np.asarray(value, np.float64), np.asarray(state_b[k], np.float64)
        if sa.shape != sb.shape:
            raise ValueError(
                f"task state {k!r} has shape {sa.shape} on one side of the pair and {sb.shape} "
                "on the other: the networks see different observations; pair networks of the "
                "same task"
            )
        w = a.reshape(-1, *([1] * sa.ndim))
        out[k] = (w * sa[None] + (1.0 - w) * sb[None]).astype(np.float32)
    return out


def barrier(errors: np.ndarray, alphas: np.ndarray) -> float:
    """The barrier from errors along the path (errors[i] at alphas[i]).

    A non-finite error anywhere on the path is refused: ``np.max`` would carry it into a
    NaN barrier, and the claims stage drops a non-finite difference, so the seed would
    leave claims 6's comparison with nothing but a smaller n to show for it. Both ends are
    finite networks (trained weights are checked when written), so a non-finite error
    between them is the task's evaluation overflowing, which must be seen, not averaged
    over."""
    errors, alphas = np.asarray(errors, np.float64), np.asarray(alphas, np.float64)
    bad = np.flatnonzero(~np.isfinite(errors))
    if bad.size:
        where = ", ".join(f"α = {alphas[i]:g}: {errors[i]}" for i in bad[:3])
        raise ValueError(
            f"{bad.size} of the {errors.size} errors on the interpolation path are not "
            f"finite ({where}); a barrier over them would be NaN and drop this pair from "
            "the claims without a word. Rerun this job with JAX_DEBUG_NANS=True to find "
            "the operation of the task's evaluation that overflows"
        )
    e_a = errors[np.argmin(np.abs(alphas - 1.0))]
    e_b = errors[np.argmin(np.abs(alphas - 0.0))]
    linear = alphas * e_a + (1.0 - alphas) * e_b
    return float(np.max(errors - linear))


def lmc(
    error_fn: Callable[[np.ndarray], np.ndarray],
    theta_a: np.ndarray,
    theta_b: np.ndarray,
    alphas: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Errors along the path (``error_fn`` maps (P, D) → (P,)) and the barrier."""
    errors = np.asarray(error_fn(interpolation_path(theta_a, theta_b, alphas)), np.float64)
    return errors, barrier(errors, alphas)


def lmc_with_states(
    error_fn: Callable[[np.ndarray, dict], np.ndarray],
    theta_a: np.ndarray,
    theta_b: np.ndarray,
    state_a: dict,
    state_b: dict,
    alphas: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Errors and barrier on the path between two networks that each carry a task state:
    ``error_fn(points (P, D), states)`` → (P,) with one state row per point; the states are
    interpolated alongside the weights, so each end is scored under its own state."""
    states = interpolate_states(state_a, state_b, alphas)
    return lmc(lambda points: error_fn(points, states), theta_a, theta_b, alphas)
