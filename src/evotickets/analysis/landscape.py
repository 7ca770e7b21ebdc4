"""Loss landscapes: 1D random projections with a quadratic fit, and 2D filter-normalised
surfaces (Li et al. 2018).

1D: loss(θ + ξ·η) for ξ in [−1, 1] along random directions η on the active weights only
(pruned ones stay 0); a least-squares quadratic a·ξ² + b·ξ + c per direction gives the
curvature 2a, averaged over directions. Two ways to scale η (``direction_norm``):

- ``filter`` (default): every filter of η is rescaled to the norm of the same filter of the
  network being probed, biases 0, as for the 2D surface. The step ξ = 1 is then "one network's
  worth" of perturbation at every round, so curvatures of rounds with very different numbers
  of active weights can be compared.
- ``raw``: η ~ N(0, I) on the active weights, the paper's formula. ‖η‖ ≈ √D_active, so the
  same ξ moves a dense network much further than a sparse one and the curvature shrinks with
  D_active by construction; kept to reproduce the paper's numbers.

2D: two Gaussian directions drawn once so that every round's surface uses the same random
pattern; at each round they are masked by that round's mask and their filters rescaled to that
round's network (Li et al. normalise to the network being probed).

The functions here are pure: they take the Gaussians, drawn by the caller from explicit JAX
keys (``keys.landscape_key``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..networks import LayerEntry


def random_directions(gaussians: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Gaussian directions (n, D) kept on the active weights (zeros elsewhere)."""
    return np.asarray(gaussians, np.float32) * active[None].astype(np.float32)


def quadratic_curvature(xis: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """Curvature 2a of the least-squares fit a·ξ² + b·ξ + c, one per row of ``losses``; NaN
    for a row with a non-finite loss. Only the finite rows are fitted together: one infinite
    loss in a joint fit turns every row's coefficients NaN."""
    losses = np.atleast_2d(np.asarray(losses, np.float64))
    finite = np.isfinite(losses).all(axis=1)
    out = np.full(losses.shape[0], np.nan)
    if finite.any():
        out[finite] = 2.0 * np.polyfit(np.asarray(xis, np.float64), losses[finite].T, 2)[0]
    return out


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


DIRECTION_NORMS = ("filter", "raw")


def filter_normalize(
    direction: np.ndarray, reference: np.ndarray, table: list[LayerEntry]
) -> np.ndarray:
    """``direction`` with each filter rescaled to the norm of the reference's same filter.

    A filter is everything feeding one output unit: the last axis of a kernel indexes units
    (flax kernels are (..., in, out)). Bias directions are 0, as in Li et al. Zeros of the
    direction stay zeros, so a masked direction stays on its mask; a filter whose direction is
    all 0 (fully pruned) stays 0.
    """
    d = np.zeros(reference.shape, dtype=np.float32)
    for e in table:
        if not e.is_kernel:
            continue
        sl = slice(e.offset, e.offset + e.size)
        ref = reference[sl].reshape(e.shape).astype(np.float64)
        rnd = direction[sl].reshape(e.shape).astype(np.float64)
        axes = tuple(range(len(e.shape) - 1))
        ref_norm = np.sqrt(np.sum(ref**2, axis=axes, keepdims=True))
        rnd_norm = np.sqrt(np.sum(rnd**2, axis=axes, keepdims=True))
        d[sl] = (rnd * ref_norm / np.maximum(rnd_norm, 1e-12)).reshape(-1)
    return d


def directions_1d(
    gaussians: np.ndarray,
    theta: np.ndarray,
    mask: np.ndarray,
    table: list[LayerEntry],
    norm: str = "filter",
) -> np.ndarray:
    """Directions (n, D) for the 1D projections of the network ``theta`` under ``mask``: the
    Gaussians (n, D) kept on the active weights, then filter-normalised to θ's active weights
    (``filter``) or left as drawn (``raw``, ‖η‖ ≈ √D_active)."""
    if norm not in DIRECTION_NORMS:
        raise ValueError(
            f"unknown direction_norm {norm!r}; use one of {list(DIRECTION_NORMS)} "
            "(analyses.landscape.direction_norm)"
        )
    dirs = random_directions(gaussians, mask)
    if norm == "raw":
        return dirs
    ref = np.where(mask, theta, 0.0)
    return np.stack([filter_normalize(d, ref, table) for d in dirs])


def directions_2d(
    d1: np.ndarray, d2: np.ndarray, theta: np.ndarray, mask: np.ndarray, table: list[LayerEntry]
) -> tuple[np.ndarray, np.ndarray]:
    """The round's 2D axes: the shared directions masked by the round's mask and
    filter-normalised to the round's network, so a filter that lost weights gets a direction
    as long as what is left of it, not as long as it was at round 0."""
    m = mask.astype(np.float32)
    ref = np.where(mask, theta, 0.0)
    return filter_normalize(d1 * m, ref, table), filter_normalize(d2 * m, ref, table)


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
