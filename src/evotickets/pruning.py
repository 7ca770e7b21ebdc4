"""Pruning scores, the global threshold and the exact-count rule (pure numpy).

Rounding and ties, defined once:
- After round t (i.e. for the mask of round t+1) exactly ``round_half_up(N·(1−p)^(t+1))``
  prunable weights remain, N being the number of prunable weights. Counting from the
  *original* N (not compounding rounded counts) keeps every round's sparsity exact.
- The kept weights are the ``k`` highest-scoring among the currently active prunable weights.
  Equal scores are broken by flat position: the earlier weight is kept. The reported global
  ``threshold`` is the score of the last weight kept, so every kept weight scores ≥ threshold
  and every pruned one ≤ threshold.
- Scores are computed only over active weights, so masks nest; ``random`` instead draws a fresh
  uniform mask of the same count among all prunable weights (the sparsity-matched baseline).
- ``weight_permuted`` and ``mask_permuted`` are the permutation controls, built from the same
  round's magnitude mask in :mod:`evotickets.permutations`.
- A kept weight whose value is exactly 0 is still kept: masks are booleans, never θ ≠ 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .names import (  # noqa: F401 (the names every pruning caller reads)
    HEURISTIC_METHODS,
    METHODS,
    PERMUTATION_METHODS,
    SIGMA_METHODS,
    SNR_VARIANT_STRATEGIES,
)


def round_half_up(x: float) -> int:
    """Round to nearest, halves up (Python's round() rounds halves to even)."""
    return math.floor(x + 0.5)


def remaining_count(num_prunable: int, prune_fraction: float, round_index: int) -> int:
    """Prunable weights left *in* round ``round_index`` (round 0 is dense)."""
    if not 0.0 < prune_fraction < 1.0:
        raise ValueError(f"prune_fraction must lie in (0, 1), got {prune_fraction}")
    return round_half_up(num_prunable * (1.0 - prune_fraction) ** round_index)


def scores(
    method: str,
    theta: np.ndarray,
    sigma: np.ndarray | None = None,
    theta0: np.ndarray | None = None,
) -> np.ndarray:
    """Score each weight: larger means keep.

    ``magnitude`` |θ|; ``snr`` |θ|/σ; ``snr_study`` |θ|/σ², the study's Sep-CMA-ES score
    |θ|/C: σ = std·√C with one scalar std, so |θ|/C = std²·|θ|/σ² ranks (and so prunes)
    exactly like |θ|/σ², and weighs the search's per-weight spread twice as strongly as
    ``snr`` does (SNR can differ from magnitude only where σ varies across weights); and the heuristics of Fig. 9: ``movement`` |θ − θ0|
    (how far the search moved it), ``magnitude_increase`` |θ| − |θ0|, and ``init_magnitude``
    |θ0| (prune the smallest initial weights, ignoring training).
    """
    if method == "magnitude":
        return np.abs(theta)
    if method in HEURISTIC_METHODS:
        if theta0 is None:
            raise ValueError(f"the {method} score needs θ0")
        if method == "movement":
            return np.abs(theta - theta0)
        if method == "magnitude_increase":
            return np.abs(theta) - np.abs(theta0)
        return np.abs(theta0)
    if method in SIGMA_METHODS:
        if sigma is None:
            raise ValueError(f"the {method} score needs σ, the per-weight search std")
        power = 2.0 if method == "snr_study" else 1.0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            snr = np.abs(theta) / sigma**power
        # σ is 0 only where a weight is pruned (it is not searched): score 0 there.
        return np.where(sigma > 0, snr, 0.0)
    raise ValueError(
        f"no score for method {method!r}; scored methods are magnitude, snr, snr_study, "
        f"{', '.join(HEURISTIC_METHODS)}"
    )


@dataclass(frozen=True)
class PruneResult:
    mask: np.ndarray  # bool over the flat layout
    threshold: float  # score of the last kept weight (NaN for random)
    kept: int


def prune_to_count(
    score: np.ndarray, active: np.ndarray, prunable: np.ndarray, keep: int
) -> PruneResult:
    """Keep the ``keep`` best-scoring active prunable weights; non-prunable weights stay."""
    candidates = np.flatnonzero(active & prunable)
    if keep > candidates.size:
        raise ValueError(f"cannot keep {keep} weights: only {candidates.size} are active")
    if np.any(~np.isfinite(score[candidates])):
        raise ValueError("pruning scores contain NaN or inf; the trained artifact is corrupt")
    # Stable sort on −score: equal scores keep their flat order, so earlier positions win.
    order = candidates[np.argsort(-score[candidates], kind="stable")]
    kept = order[:keep]
    mask = (active & ~prunable).copy()
    mask[kept] = True
    threshold = float(score[kept[-1]]) if keep else float("inf")
    return PruneResult(mask=mask, threshold=threshold, kept=keep)


def random_mask(prunable: np.ndarray, keep: int, permutation: np.ndarray) -> PruneResult:
    """A uniform random mask with ``keep`` prunable weights, from a given permutation of the
    prunable positions (drawn by the caller from an explicit JAX key)."""
    positions = np.flatnonzero(prunable)
    mask = ~prunable.copy()
    mask[positions[permutation[:keep]]] = True
    return PruneResult(mask=mask, threshold=float("nan"), kept=keep)


def layer_counts(mask: np.ndarray, table) -> dict[str, int]:
    """Kept entries per tensor."""
    return {e.name: int(mask[e.offset : e.offset + e.size].sum()) for e in table}
