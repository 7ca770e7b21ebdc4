"""Linear mode connectivity: the error barrier on the straight line between two networks.

Convention for sparse networks: both are interpolated as dense vectors whose pruned entries
are 0, which is the same as evaluating every point of the path under the *union* of the two
masks (a weight pruned in one network contributes (1−α)·0 from that side). The barrier of
Frankle et al. (2020) is

    B = max_α [ err(α·θ + (1−α)·θ′) − (α·err(θ) + (1−α)·err(θ′)) ],

over a grid of α that includes both end points; it is 0 for a network with itself and positive
when the path crosses a ridge.
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


def barrier(errors: np.ndarray, alphas: np.ndarray) -> float:
    """The barrier from errors along the path (errors[i] at alphas[i])."""
    errors, alphas = np.asarray(errors, np.float64), np.asarray(alphas, np.float64)
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
