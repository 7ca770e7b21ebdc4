"""The permutation controls of the ticket-effect decomposition (pure numpy, given permutations).

Both start from the ``magnitude`` mask of the same round and keep every layer's kept count:

- ``weight_permuted``: the mask is the magnitude mask; within each prunable tensor the surviving
  θ0 values are shuffled among the surviving positions. The ticket's starting weights
  (``theta_start``) therefore differ from θ0, and the round trains from m ⊙ theta_start.
- ``mask_permuted``: the mask's entries are shuffled element-wise within each prunable tensor
  (single entries, not rows as in the study's code), so the tensor's kept count is unchanged,
  and each θ0 value moves with its mask entry, so the kept positions hold the ticket's
  surviving θ0 values in a random order (``theta_start``), as the study's
  ``get_permuted_permuted`` intends. Why: the decomposition reads weight_permuted −
  mask_permuted as what the mask's placement adds, which holds only if the two controls start
  from the same surviving values. Until 2026-12-05 θ0 stayed in place, so the kept positions
  took the θ0 values found there: a magnitude mask keeps large |θ0|, so that control also
  started from smaller weights, and the difference mixed placement with scale.

Biases (non-prunable tensors) are never touched. At round 0 the mask is dense, so both
controls train a θ0 shuffled within each tensor. The permutations are drawn by the caller
from explicit JAX keys (:func:`evotickets.keys.permutation_key`), one per tensor; see
:func:`draw_permutations`.
"""

from __future__ import annotations

import numpy as np

from .names import PERMUTATION_METHODS


def draw_permutations(method: str, mask: np.ndarray, table, round_k) -> dict[str, np.ndarray]:
    """One permutation per prunable tensor from ``round_k``: of its kept entries for
    ``weight_permuted``, of all its entries for ``mask_permuted``."""
    from .keys import permutation, permutation_key

    if method not in PERMUTATION_METHODS:
        raise ValueError(f"{method!r} is not a permutation control; use {PERMUTATION_METHODS}")
    perms = {}
    for e in table:
        if not e.prunable:
            continue
        seg = mask[e.offset : e.offset + e.size]
        n = int(seg.sum()) if method == "weight_permuted" else e.size
        perms[e.name] = permutation(permutation_key(round_k, method, e.name), n)
    return perms


def permute_weights(
    mask: np.ndarray, theta0: np.ndarray, table, perms: dict[str, np.ndarray]
) -> np.ndarray:
    """``theta_start`` of ``weight_permuted``: θ0 with each prunable tensor's kept values
    shuffled among its kept positions (pruned positions and biases keep θ0)."""
    theta = np.array(theta0, copy=True)
    for e in table:
        if not e.prunable:
            continue
        kept = e.offset + np.flatnonzero(mask[e.offset : e.offset + e.size])
        perm = np.asarray(perms[e.name])
        if perm.shape != kept.shape:
            raise ValueError(f"{e.name}: permutation of {perm.size} for {kept.size} kept entries")
        theta[kept] = theta0[kept[perm]]
    return theta


def permute_mask(mask: np.ndarray, table, perms: dict[str, np.ndarray]) -> np.ndarray:
    """The ``mask_permuted`` mask: each prunable tensor's entries shuffled element-wise."""
    return _permute_entries(np.asarray(mask, dtype=bool), table, perms)


def permute_with_mask(theta0: np.ndarray, table, perms: dict[str, np.ndarray]) -> np.ndarray:
    """``theta_start`` of ``mask_permuted``: θ0 shuffled by the mask's own permutations, so
    each value moves with its mask entry and the permuted mask keeps the ticket's surviving
    values (biases keep θ0)."""
    return _permute_entries(np.asarray(theta0), table, perms)


def _permute_entries(vector: np.ndarray, table, perms: dict[str, np.ndarray]) -> np.ndarray:
    """``vector`` with each prunable tensor's entries reordered by its permutation."""
    out = np.array(vector, copy=True)
    for e in table:
        if not e.prunable:
            continue
        perm = np.asarray(perms[e.name])
        if perm.shape != (e.size,):
            raise ValueError(f"{e.name}: permutation of {perm.size} for {e.size} entries")
        out[e.offset : e.offset + e.size] = vector[e.offset : e.offset + e.size][perm]
    return out
