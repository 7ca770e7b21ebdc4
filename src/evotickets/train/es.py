"""One ES round on the active weights: a jitted ``lax.scan`` over generations, run in chunks.

The strategy searches only the compressed vector θ[m] of the D_active unpruned weights; each
member is scattered into a dense zero vector for the forward pass. So memory and the
dimension-dependent rates of Sep-CMA-ES and SNES follow the real number of free weights, and a
pruned weight can never move: it is not part of the search.

Chunks exist for the log (generation, fitness, test metric, ETA after each chunk) and as the
place for mid-round checkpoints (:mod:`evotickets.checkpoint`). Every generation's key is a pure
function of the round key and the generation number, so neither the chunking nor a resume from a
checkpoint changes the numbers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..checkpoint import Checkpointer
from ..keys import generation_key, tag
from ..strategies import ESStrategy, has_per_weight_sigma, per_weight_std


class AllMembersFailed(RuntimeError):
    """Every member of a generation had a non-finite fitness: nothing can be learned."""


@dataclass
class RoundResult:
    theta: np.ndarray  # dense θ_G (pruned entries 0)
    sigma: np.ndarray | None  # dense σ_G (pruned entries 0); None without a per-weight σ
    best_fitness: np.ndarray  # per generation, lowest loss in the population
    mean_fitness: np.ndarray  # per generation, mean loss over finite members
    nonfinite_count: np.ndarray  # per generation, members with NaN/inf fitness
    eval_generation: np.ndarray
    eval_metric: np.ndarray
    final_metric: float
    seconds: float
    task_state: dict  # e.g. running observation statistics of a brax task
    rewind_theta: np.ndarray | None = None  # dense search mean after ``rewind_at`` generations
    final_mask: np.ndarray | None = None  # dynamic sparse ES: the active set at the end


def _sanitize(fitness: jax.Array):
    """NaN/±inf fitness → the worst finite fitness of the generation.

    Ranking strategies then place failed members last; raw-fitness strategies (ARS, OpenES)
    see a finite number instead of a poison. Counted, never silent.
    """
    finite = jnp.isfinite(fitness)
    worst = jnp.max(jnp.where(finite, fitness, -jnp.inf))
    mean = jnp.sum(jnp.where(finite, fitness, 0.0)) / jnp.maximum(finite.sum(), 1)
    return jnp.where(finite, fitness, worst), jnp.sum(~finite), mean


#: What the chains of one `round-group` job share while it runs (:func:`shared_programs`):
#: task objects (rounds.shared_task), strategy objects (:mod:`evotickets.train.trainers`) and
#: the jitted programs built from them, so the second chain of a group reuses the first
#: one's data, traced and compiled program. None outside such a block: nothing is kept.
_SHARED: dict[tuple, tuple] | None = None


@contextlib.contextmanager
def shared_programs():
    """Share strategies and compiled round programs among the rounds run inside the block.

    Why a block and not a process-wide cache: a process that runs many different rounds
    (the test suite, a notebook) would keep every compiled program alive to its end; a
    `round-group` job keeps them exactly as long as its chains need them."""
    global _SHARED
    outer, _SHARED = _SHARED, {}
    try:
        yield
    finally:
        _SHARED = outer


def shared(key: tuple, build: Callable, *owners) -> Any:
    """``build()``, or inside :func:`shared_programs` the value built for ``key`` there.
    ``owners`` (the objects ``key`` names by id) are kept with the value, so that an id
    cannot be reused while its entry lives."""
    if _SHARED is None:
        return build()
    if key not in _SHARED:
        _SHARED[key] = (build(), *owners)
    return _SHARED[key][0]


def _program(kind: str, task, strategy, num_dims: int, build: Callable) -> Callable:
    return shared((kind, id(task), id(strategy), num_dims), build, task, strategy)


def make_chunk_runner(task, strategy: ESStrategy, num_dims: int) -> Callable:
    """A jitted function running ``n`` generations from ``start``.

    Everything that varies between seeds (round key, active indices, data) is an argument, so
    chains with equal D_active share one compiled program (and one persistent-cache entry).
    """
    return _program(
        "chunk", task, strategy, num_dims, lambda: _chunk_runner(task, strategy, num_dims)
    )


def _chunk_runner(task, strategy: ESStrategy, num_dims: int) -> Callable:
    algo, params = strategy.algorithm, strategy.params
    pop_size = algo.population_size

    def step(carry, g):
        (state, task_state), round_k, idx, data = carry
        k_ask, k_fit, k_tell = jax.random.split(generation_key(round_k, g), 3)
        population, asked = algo.ask(k_ask, state, params)
        dense = jnp.zeros((pop_size, num_dims), population.dtype).at[:, idx].set(population)
        raw, task_state = task.population_fitness(dense, k_fit, data, task_state)
        fitness, n_bad, mean_fit = _sanitize(raw)
        told, _ = algo.tell(k_tell, population, fitness, asked, params)
        told = strategy.post_tell(told)
        all_failed = n_bad == pop_size
        # A generation where every member failed leaves the state untouched (and the caller
        # stops the round), so a NaN can never poison the search distribution.
        new_state = jax.tree.map(lambda new, old: jnp.where(all_failed, old, new), told, state)
        return ((new_state, task_state), round_k, idx, data), (jnp.min(fitness), mean_fit, n_bad)

    def run(state, round_k, idx, data, start, n):
        (state, *_), curves = jax.lax.scan(step, (state, round_k, idx, data), start + jnp.arange(n))
        return state, curves

    return jax.jit(run, static_argnames=("n",))


def _check_start(theta0: np.ndarray, mask: np.ndarray, label: str) -> None:
    bad_start = int(np.sum(~np.isfinite(theta0[mask])))
    if bad_start:
        raise ValueError(
            f"{label}: θ0 has {bad_start} NaN/inf values among the active weights, so the "
            "round cannot start. Delete the init.h5 artifact and rerun rule `init` (and check "
            "the network's initialisers if it happens again)."
        )


def _check_members(nonfinite: np.ndarray, g: int, population_size: int, label: str) -> None:
    """Stop the round if every member of a generation had a NaN/inf fitness."""
    if np.any(nonfinite == population_size):
        first = g + int(np.argmax(nonfinite == population_size))
        raise AllMembersFailed(
            f"{label}: every member of generation {first} had a NaN/inf fitness, so the "
            "round stopped instead of writing a garbage artifact. Lower std_init, check "
            "θ0 and the data for NaN, or check the task's fitness function."
        )


def _checkpoint_curves(best, mean, bad, eval_gen, eval_val) -> dict[str, np.ndarray]:
    return {
        "best_fitness": np.concatenate(best),
        "mean_fitness": np.concatenate(mean),
        "nonfinite_count": np.concatenate(bad),
        "eval_generation": np.asarray(eval_gen, np.int64),
        "eval_metric": np.asarray(eval_val, np.float64),
    }


def _check_schedule(rewind_at, dynamic, chunk: int, num_generations: int, label: str) -> None:
    """The rewind point and the regrowths fall on chunk ends, inside the round."""
    if rewind_at is not None and (rewind_at % chunk or not 0 < rewind_at < num_generations):
        raise ValueError(
            f"{label}: rewind point {rewind_at} must be a multiple of the chunk ({chunk}) "
            f"below {num_generations} generations"
        )
    if dynamic is not None and dynamic.every % chunk:
        raise ValueError(f"{label}: regrowth every {dynamic.every} is not a chunk end ({chunk})")


class _Eta:
    """Seconds left, from the steady state after the first chunk (which may include the
    compile, or not, when a group job's earlier chain compiled the program)."""

    def __init__(self, total: int):
        self.total, self.start, self.first_gen = total, None, 0

    def line(self, g: int) -> str:
        now = time.perf_counter()
        if self.start is None:
            self.start, self.first_gen = now, g
            return "eta ? (after the first chunk)"
        return f"eta {(now - self.start) / max(g - self.first_gen, 1) * (self.total - g):.0f}s"


def run_round(
    task,
    strategy: ESStrategy,
    theta0: np.ndarray,
    mask: np.ndarray,
    round_k: jax.Array,
    num_generations: int,
    log_every: int,
    log: Callable[[str], None] = print,
    label: str = "",
    checkpoint: Checkpointer | None = None,
    rewind_at: int | None = None,
    dynamic: Any = None,
) -> RoundResult:
    """Evolve the active weights of m⊙θ0 for ``num_generations`` with a fresh strategy state.

    With ``checkpoint``, the round resumes from a valid checkpoint of itself and saves one now
    and then; the result is bitwise the same as without. With ``rewind_at`` (a chunk end), the
    search mean after that many generations is kept as ``rewind_theta`` (late rewinding); it
    travels in the checkpoint, so a resumed round has it too. With ``dynamic`` (a
    :class:`evotickets.dynamic_sparse.Schedule`), the active set changes every
    ``dynamic.every`` generations at a chunk end (dynamic sparse ES); the returned
    ``final_mask`` is the last active set, and the checkpoint holds the current one.
    """
    t_start = time.perf_counter()
    num_dims = mask.size
    _check_start(theta0, mask, label)
    idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
    x0 = jnp.asarray(theta0[np.asarray(idx)], jnp.float32)
    algo, params = strategy.algorithm, strategy.params
    state = algo.init(jax.random.fold_in(round_k, tag("strategy-init")), x0, params)
    state = (state, task.init_state())
    runner = make_chunk_runner(task, strategy, num_dims)

    def densify(active_values):
        return jnp.zeros(num_dims, jnp.float32).at[idx].set(active_values)

    evaluate = _program(
        "evaluate",
        task,
        strategy,
        num_dims,
        lambda: jax.jit(
            lambda mean, i, d, ts: task.evaluate(jnp.zeros(num_dims).at[i].set(mean), d, ts)
        ),
    )

    best, mean, bad, eval_gen, eval_val = [], [], [], [], []
    g, chunk = 0, max(1, min(log_every, num_generations))
    _check_schedule(rewind_at, dynamic, chunk, num_generations, label)
    # what travels in a checkpoint beside the state: the rewind point, the active set
    extras = {"rewind": jnp.zeros_like(x0)} if rewind_at is not None else {}
    if dynamic is not None:
        extras["idx"] = idx

    def saved(state):
        return (state, extras) if extras else state

    if checkpoint is not None and (
        resumed := checkpoint.load(saved(state), num_generations, chunk)
    ):
        state, g, c = resumed.state, resumed.generation, resumed.curves
        if extras:
            state, extras = state
            idx = extras.get("idx", idx)
        best, mean, bad = [c["best_fitness"]], [c["mean_fitness"]], [c["nonfinite_count"]]
        eval_gen, eval_val = c["eval_generation"].tolist(), c["eval_metric"].tolist()
    eta = _Eta(num_generations)
    while g < num_generations:
        n = min(chunk, num_generations - g)
        state, (b, m, nb) = runner(state, round_k, idx, task.train_data, g, n)
        b, m, nb = np.asarray(b), np.asarray(m), np.asarray(nb)
        best.append(b), mean.append(m), bad.append(nb)
        _check_members(nb, g, algo.population_size, label)
        g += n
        if g == rewind_at:
            extras["rewind"] = state[0].mean
        if dynamic is not None and g % dynamic.every == 0 and g < num_generations:
            from ..dynamic_sparse import regrow

            state, idx = regrow(task, strategy.name, state, idx, dynamic, round_k, g)
            extras["idx"] = idx
        metric = float(evaluate(state[0].mean, idx, task.test_data, state[1]))
        eval_gen.append(g), eval_val.append(metric)
        if checkpoint is not None and checkpoint.due(g, num_generations):
            curves = _checkpoint_curves(best, mean, bad, eval_gen, eval_val)
            checkpoint.save(saved(state), g, curves)
        log(
            f"{label} gen {g}/{num_generations} best {b[-1]:.4f} mean {m[-1]:.4f} "
            f"{task.metric_name} {metric:.4f} nonfinite {int(nb.sum())} {eta.line(g)}"
        )

    state, task_state = state
    sigma = (  # None for a strategy without a per-weight σ: no sigma/ group, no SNR
        np.asarray(densify(per_weight_std(strategy.name, state, int(idx.size))))
        if has_per_weight_sigma(strategy.name)
        else None
    )
    return RoundResult(
        theta=np.asarray(densify(state.mean)),
        sigma=sigma,
        best_fitness=np.concatenate(best),
        mean_fitness=np.concatenate(mean),
        nonfinite_count=np.concatenate(bad).astype(np.int32),
        eval_generation=np.asarray(eval_gen, np.int32),
        eval_metric=np.asarray(eval_val, np.float32),
        final_metric=float(eval_val[-1]),
        seconds=time.perf_counter() - t_start,
        task_state={k: np.asarray(v) for k, v in task_state.items()},
        rewind_theta=np.asarray(densify(extras["rewind"])) if "rewind" in extras else None,
        final_mask=np.asarray(densify(jnp.ones(idx.size))) > 0 if dynamic is not None else None,
    )
