"""Dynamic sparse ES: at a fixed sparsity, evolve the active weights and every Δ generations
drop the fraction q of active weights with the lowest SNR |θ|/σ and regrow as many inactive
ones, layer by layer (the paper's "future work"; SET (Mocanu et al. 2018) regrows at random,
RigL (Evci et al. 2020) where the gradient is largest).

The count rule: in each prunable tensor, round_half_up(q · active) weights are dropped (at most
as many as it has inactive ones to regrow) and exactly as many are regrown there, so every
layer's count, and so the total, stays exact through every regrowth. Regrowth draws among the
weights inactive before the drop (a weight just dropped is not regrown at once). Ties break by
flat position: of equal SNRs the earlier weight is dropped (the reverse of
:mod:`evotickets.pruning`, which keeps the earlier of equal scores), of equal grow scores the
earlier is grown.

A regrown weight starts from 0 with the strategy's initial σ. The training loop keeps one
strategy coordinate ("slot") per active weight; a regrown weight takes the slot of a dropped
one, and :func:`regrow_state` resets that slot of the strategy state:

- every strategy: ``mean`` and ``best_solution`` → 0; the mean's optimiser moments (the
  ``opt_state`` leaves with one entry per slot, e.g. Adam's μ and ν) → 0;
- SNES, PGPE, DES and the other strategies with a std vector: ``std`` → ``std_init``;
- Sep-CMA-ES (σ = std·√C with a scalar, adapted std): C → (std_init/std)², its square root
  ``D`` → std_init/std, so σ = std_init; both evolution paths ``p_std``, ``p_c`` → 0;
- ARS, OpenES: σ is one shared scalar, so nothing to reset beyond the mean.
Strategies with a full covariance (cma_es, xnes) or other per-slot state are refused.

Pure numpy except :func:`regrow_state`, which edits a JAX pytree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .pruning import REGISTRY, exact_fraction, round_half_up

#: Strategies whose state :func:`regrow_state` knows how to reset for a regrown slot.
DYNAMIC_STRATEGIES = ("sep_cma_es", "snes", "pgpe", "des", "ars", "open_es", "simple_es")
#: How inactive weights are chosen for regrowth, by method name (its pruning.REGISTRY entry's
#: ``regrow``): the dynamic sparse methods, which the config's checks know as DYNAMIC_METHODS.
REGROW = {n: m.regrow for n, m in REGISTRY.items() if m.regrow is not None}


@dataclass(frozen=True)
class Regrowth:
    """One drop-and-regrow step: the new mask and which flat positions left and came."""

    mask: np.ndarray
    dropped: np.ndarray  # flat positions, per tensor in table order
    grown: np.ndarray  # flat positions, aligned with ``dropped``


def drop_and_grow(
    mask: np.ndarray,
    prunable: np.ndarray,
    table,
    snr: np.ndarray,
    grow_score: np.ndarray,
    fraction: float,
) -> Regrowth:
    """Per prunable tensor: drop the round_half_up(fraction · active) active weights with the
    lowest ``snr`` and grow as many inactive ones with the highest ``grow_score`` (for random
    regrowth, a random score). Both scores are over the flat layout."""
    new = mask.copy()
    dropped, grown = [], []
    for e in table:
        sl = slice(e.offset, e.offset + e.size)
        layer_prunable = prunable[sl]
        if not layer_prunable.any():
            continue
        active = np.flatnonzero(mask[sl] & layer_prunable) + e.offset
        inactive = np.flatnonzero(~mask[sl] & layer_prunable) + e.offset
        n = min(round_half_up(exact_fraction(fraction) * active.size), inactive.size)
        if n == 0:
            continue
        drop = active[np.argsort(snr[active], kind="stable")[:n]]
        grow = inactive[np.argsort(-grow_score[inactive], kind="stable")[:n]]
        new[drop], new[grow] = False, True
        dropped.append(drop), grown.append(grow)
    empty = np.zeros(0, np.int64)
    return Regrowth(
        new,
        np.concatenate(dropped) if dropped else empty,
        np.concatenate(grown) if grown else empty,
    )


def drop_scores(
    num_dims: int, positions: np.ndarray, mean: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """The SNR that :func:`drop_and_grow` drops by, over the flat layout: the active weights'
    ``snr`` score, computed by :mod:`evotickets.pruning`'s own definition (so an active
    weight whose σ collapsed to 0 ranks as in pruning: first to keep where θ ≠ 0, first to
    drop where θ = 0, rather than NaN, which argsort would put last, never dropped), and
    +inf at inactive positions (never dropped). A non-finite mean or σ is an error (its score
    would be NaN, inf or 0 by accident): it would silently decide which weights stay."""
    score = REGISTRY["snr"].score(mean, sigma, None)
    broken = ~np.isfinite(mean) | ~np.isfinite(sigma) | np.isnan(score)
    if broken.any():
        bad = int(broken.sum())
        raise ValueError(
            f"dynamic sparse regrowth: {bad} active weights have no SNR (a non-finite search "
            "mean or σ); the round diverged: lower the strategy's std_init or lr and rerun it"
        )
    snr = np.full(num_dims, np.inf)
    snr[positions] = score
    return snr


def move_slots(idx: np.ndarray, regrowth: Regrowth) -> tuple[np.ndarray, np.ndarray]:
    """The slot → flat position map after a regrowth, and the slots that were regrown: each
    grown weight takes the slot its dropped partner had."""
    slot_of = {int(p): s for s, p in enumerate(idx)}
    slots = np.asarray([slot_of[int(p)] for p in regrowth.dropped], np.int64)
    new_idx = idx.copy()
    new_idx[slots] = regrowth.grown
    return new_idx, slots


def regrow_state(strategy: str, state: Any, slots: np.ndarray, std_init: float) -> Any:
    """The evosax ``state`` with ``slots`` reset for newly grown weights (see the module doc)."""
    import jax
    import jax.numpy as jnp

    if strategy not in DYNAMIC_STRATEGIES:
        raise ValueError(
            f"dynamic sparse training does not know how to regrow a weight in {strategy}'s "
            f"state; use one of {', '.join(DYNAMIC_STRATEGIES)}"
        )
    s = jnp.asarray(slots)
    n = state.mean.shape[0]

    def zero(x):
        return x.at[s].set(0.0) if getattr(x, "shape", ()) == (n,) else x

    updates = {"mean": zero(state.mean), "best_solution": zero(state.best_solution)}
    if hasattr(state, "opt_state"):  # the mean's optimiser moments (Adam μ, ν, …)
        updates["opt_state"] = jax.tree_util.tree_map(zero, state.opt_state)
    state = state.replace(**updates)
    if strategy == "sep_cma_es":
        ratio = std_init / state.std
        return state.replace(
            C=state.C.at[s].set(ratio**2),
            D=state.D.at[s].set(ratio),
            p_std=state.p_std.at[s].set(0.0),
            p_c=state.p_c.at[s].set(0.0),
        )
    if jnp.ndim(state.std) == 1:
        return state.replace(std=state.std.at[s].set(std_init))
    return state


@dataclass(frozen=True)
class Schedule:
    """When and how a dynamic sparse round regrows (config ``dynamic_sparse``)."""

    every: int  # generations between regrowths (a multiple of the round's chunk)
    fraction: float  # q: share of each tensor's active weights dropped and regrown
    regrow: str  # "random" (SET) or "gradient" (RigL, with the ES's search gradient)
    std_init: float  # σ of a regrown weight
    pairs: int  # antithetic pairs of the search-gradient estimate (half the population)


def search_gradient_magnitude(task, theta, inactive, key, task_state, pairs: int, std: float):
    """|ĝ| of the loss on every inactive weight, from ``pairs`` antithetic perturbations of
    those weights only (σ = ``std``) around the current network: the OpenES estimator
    ĝ = Σ (f(θ+ε) − f(θ−ε)) ε / (2 · pairs · σ²), evaluated like a population.

    Why not the strategy's own estimate: the strategy never samples inactive weights, so it
    has none for them; this spends one extra population evaluation per regrowth.

    A pair with a NaN or infinite fitness (a member that blew up) is left out of the sum,
    as the ES ranks such a member last rather than letting it poison the generation: its
    difference would make every weight's score NaN, and the ranking fall back to flat
    position. Returns (scores, the number of pairs left out); the scale, which only ranks,
    stays that of all ``pairs``."""
    import jax
    import jax.numpy as jnp

    k_eps, k_fit = jax.random.split(key)
    eps = jax.random.normal(k_eps, (pairs, theta.size)) * std * inactive
    members = jnp.concatenate([theta + eps, theta - eps])
    fitness, _ = task.population_fitness(members, k_fit, task.train_data, task_state)
    diff = fitness[:pairs] - fitness[pairs:]
    finite = jnp.isfinite(diff)
    score = jnp.abs(jnp.where(finite, diff, 0.0) @ eps) / (2.0 * pairs * std**2)
    return score, pairs - jnp.sum(finite)


def regrow(task, strategy: str, state, idx, schedule: Schedule, round_k, generation: int):
    """One drop-and-regrow step of a round at ``generation``: ((strategy state, task state),
    new slot → position map, the probe pairs left out of the search gradient for a non-finite
    fitness: 0 for random regrowth). Its randomness comes from the round key and the
    generation."""
    import jax
    import jax.numpy as jnp

    from .keys import tag
    from .networks import prunable_vector
    from .strategies import per_weight_std

    algo_state, task_state = state
    table = task.table
    positions = np.asarray(idx)
    num_dims = sum(e.size for e in table)
    prunable = prunable_vector(table)
    mask = np.zeros(num_dims, bool)
    mask[positions] = True
    sigma = np.asarray(per_weight_std(strategy, algo_state, positions.size))
    snr = drop_scores(num_dims, positions, np.asarray(algo_state.mean), sigma)
    key = jax.random.fold_in(jax.random.fold_in(round_k, tag("regrow")), generation)
    left_out = 0
    if schedule.regrow == "random":
        grow_score = np.asarray(jax.random.uniform(key, (num_dims,)))
    else:
        theta = jnp.zeros(num_dims).at[idx].set(algo_state.mean)
        inactive = jnp.asarray(~mask & prunable, jnp.float32)
        score, failed = search_gradient_magnitude(
            task, theta, inactive, key, task_state, schedule.pairs, schedule.std_init
        )
        left_out = int(failed)
        if left_out == schedule.pairs:
            raise ValueError(
                f"dynamic sparse regrowth at generation {generation}: every one of the "
                f"{schedule.pairs} probe pairs of the search gradient had a NaN or infinite "
                "fitness, so no weight has a score to regrow by; the round diverged: lower "
                "the strategy's std_init or dynamic_sparse's std_init and rerun it"
            )
        grow_score = np.asarray(score)
    step = drop_and_grow(mask, prunable, table, snr, grow_score, schedule.fraction)
    new_idx, slots = move_slots(positions, step)
    algo_state = regrow_state(strategy, algo_state, slots, schedule.std_init)
    return (algo_state, task_state), jnp.asarray(new_idx, jnp.int32), left_out
