"""Loss landscapes: 1D random projections with a quadratic fit, and 2D filter-normalised
surfaces (Li et al. 2018).

1D: loss(θ + ξ·η) for η ~ N(0, I) on the active weights only (pruned ones stay 0), ξ in
[−1, 1]; a least-squares quadratic a·ξ² + b·ξ + c per direction gives the curvature 2a, averaged
over directions. 2D: two Gaussian directions whose every filter (conv output channel, dense
output unit) is rescaled to the norm of the same filter of a reference network, biases 0. The
directions are built once from the dense network of round 0 and reused at every round (masked
by that round's mask), so surfaces of different rounds share axes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..networks import LayerEntry


def random_directions(rng: np.random.Generator, active: np.ndarray, n: int) -> np.ndarray:
    """n Gaussian directions on the active weights (zeros elsewhere), shape (n, D)."""
    d = rng.standard_normal((n, active.size)).astype(np.float32)
    return d * active[None].astype(np.float32)


def quadratic_curvature(xis: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """Curvature 2a of the least-squares fit a·ξ² + b·ξ + c, one per row of ``losses``."""
    losses = np.atleast_2d(np.asarray(losses, np.float64))
    coeffs = np.polyfit(np.asarray(xis, np.float64), losses.T, 2)  # (3, n)
    return 2.0 * coeffs[0]


def projection_1d(
    loss_fn: Callable[[np.ndarray], np.ndarray],
    theta: np.ndarray,
    directions: np.ndarray,
    xis: np.ndarray,
) -> np.ndarray:
    """Losses (n_directions, n_xi) along θ + ξ·η."""
    points = theta[None, None] + xis[None, :, None] * directions[:, None, :]
    flat = points.reshape(-1, theta.size).astype(np.float32)
    return np.asarray(loss_fn(flat), np.float64).reshape(len(directions), len(xis))


def filter_normalized_direction(
    rng: np.random.Generator, reference: np.ndarray, table: list[LayerEntry]
) -> np.ndarray:
    """A Gaussian direction with each filter rescaled to the reference filter's norm.

    A filter is everything feeding one output unit: the last axis of a kernel indexes units
    (flax kernels are (..., in, out)). Bias directions are 0, as in Li et al.
    """
    d = np.zeros_like(reference, dtype=np.float32)
    for e in table:
        if not e.name.endswith("kernel"):
            continue
        ref = reference[e.offset : e.offset + e.size].reshape(e.shape)
        rnd = rng.standard_normal(e.shape).astype(np.float32)
        axes = tuple(range(len(e.shape) - 1))
        ref_norm = np.sqrt(np.sum(ref.astype(np.float64) ** 2, axis=axes, keepdims=True))
        rnd_norm = np.sqrt(np.sum(rnd.astype(np.float64) ** 2, axis=axes, keepdims=True))
        d[e.offset : e.offset + e.size] = (rnd * ref_norm / np.maximum(rnd_norm, 1e-12)).reshape(-1)
    return d


def surface_2d(
    loss_fn: Callable[[np.ndarray], np.ndarray],
    theta: np.ndarray,
    d1: np.ndarray,
    d2: np.ndarray,
    grid: np.ndarray,
) -> np.ndarray:
    """Losses (len(grid), len(grid)) at θ + x·d1 + y·d2; rows index x, columns y."""
    gx, gy = np.meshgrid(grid, grid, indexing="ij")
    points = theta[None] + gx.reshape(-1, 1) * d1[None] + gy.reshape(-1, 1) * d2[None]
    return np.asarray(loss_fn(points.astype(np.float32)), np.float64).reshape(gx.shape)
