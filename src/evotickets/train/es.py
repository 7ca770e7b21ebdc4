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

from ..batch_invariant import fixed_order_sum
from ..checkpoint import Checkpointer
from ..keys import generation_key, tag
from ..strategies import ESStrategy, has_per_weight_sigma, per_weight_std
from .errors import AllMembersFailed


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
    episodes: np.ndarray | None = None  # PPO: episodes that ended in each update


def _sanitize(fitness: jax.Array):
    """NaN/±inf fitness → just above the worst finite fitness of the generation (the next
    float up).

    Ranking strategies then place failed members last, tied only among themselves;
    raw-fitness strategies (ARS, OpenES) see a finite number instead of a poison. Counted,
    never silent. Why not the worst finite value itself (until 2026-12-05): the worst
    working member then tied with every failed one, and evosax ranks a tie by its mean
    rank (truncated, for the recombination weights), so that member lost its own rank:
    in a Sep-CMA-ES generation of 8 with 4 failures, the 4th elite's weight went to 0.
    """
    finite = jnp.isfinite(fitness)
    worst = jnp.max(jnp.where(finite, fitness, -jnp.inf))
    mean = fixed_order_sum(jnp.where(finite, fitness, 0.0)) / jnp.maximum(finite.sum(), 1)
    failed = jnp.nextafter(worst, jnp.inf).astype(fitness.dtype)
    return jnp.where(finite, fitness, failed), jnp.sum(~finite), mean


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


def strongly_typed(tree):
    """``tree`` with every leaf strongly typed (same dtype, same values).

    Why: evosax's ``init`` leaves some fields weakly typed (``best_solution``, ``best_fitness``,
    ``generation_counter`` and σ start from Python scalars), while a chunk program returns
    every leaf strongly typed. JAX keys its compiled programs on weak types too, so without
    this a round compiles the same chunk program twice: once for the first chunk, once for
    the rest (a full XLA compile, ≈ 1.7 s for the tiny digits CNN, every round)."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=x.dtype), tree)


def start_state(task, strategy: ESStrategy, round_k: jax.Array, x0) -> tuple:
    """A chain's (search state, task state) at the start of a round: the strategy's ``init``
    at the active weights ``x0``, keyed by the round key's ``strategy-init`` stream, strongly
    typed. The one definition of how a chain's search starts: the rounds use it, and so do
    the benches, which then time the state the library trains."""
    algo, params = strategy.algorithm, strategy.params
    state = algo.init(jax.random.fold_in(round_k, tag("strategy-init")), x0, params)
    return strongly_typed((state, task.init_state()))


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
    """The rewind point and the regrowths fall on chunk ends, inside the round; the two are
    not combined (the config refuses it too): the rewind point is kept in the active set's
    slot order of its generation, and a later regrowth would scatter it back onto other
    weights."""
    if rewind_at is not None and dynamic is not None:
        raise ValueError(f"{label}: late rewinding and dynamic sparse regrowth cannot combine")
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


def _vmapped_chunk_runner(task, strategy: ESStrategy, num_dims: int) -> Callable:
    """The chunk runner of :func:`make_chunk_runner` with a leading chain axis on the state,
    the round key and the active indices (data and generations shared): several chains of
    equal D_active advance as one program (:func:`run_rounds_lockstep`)."""

    def build():
        single = _chunk_runner(task, strategy, num_dims)

        def run(states, round_keys, idxs, data, start, n):
            return jax.vmap(lambda s, k, i: single(s, k, i, data, start, n=n))(
                states, round_keys, idxs
            )

        return jax.jit(run, static_argnames=("n",))

    return _program("chunk-vmapped", task, strategy, num_dims, build)


@dataclass(frozen=True)
class ChainStart:
    """What one chain's round starts from, beside the task and strategy it shares with the
    other chains of a :func:`run_rounds_lockstep` group."""

    theta0: np.ndarray
    mask: np.ndarray
    round_k: jax.Array
    log: Callable[[str], None]
    label: str
    checkpoint: Checkpointer | None = None
    rewind_at: int | None = None
    dynamic: Any = None


class _ChainRound:
    """One chain's round between chunks: its search state, curves, checkpoint, rewind point,
    active set and log. :func:`run_round` advances one; :func:`run_rounds_lockstep` several
    through one vmapped program. Either way the chain does the same bookkeeping after every
    chunk, so the two paths differ only in how a chunk is computed."""

    def __init__(
        self, task, strategy: ESStrategy, start: ChainStart, num_generations: int, log_every: int
    ):
        self.t_start = time.perf_counter()
        self.start, self.task, self.strategy, self.total = start, task, strategy, num_generations
        mask, label = start.mask, start.label
        self.num_dims = num_dims = mask.size
        _check_start(start.theta0, mask, label)
        self.idx = idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
        x0 = jnp.asarray(start.theta0[np.asarray(idx)], jnp.float32)
        self.state = start_state(task, strategy, start.round_k, x0)
        self.evaluate = _program(
            "evaluate",
            task,
            strategy,
            num_dims,
            lambda: jax.jit(
                lambda mean, i, d, ts: task.evaluate(jnp.zeros(num_dims).at[i].set(mean), d, ts)
            ),
        )
        self.best, self.mean, self.bad, self.eval_gen, self.eval_val = [], [], [], [], []
        self.g, self.chunk = 0, max(1, min(log_every, num_generations))
        _check_schedule(start.rewind_at, start.dynamic, self.chunk, num_generations, label)
        # what travels in a checkpoint beside the state: the rewind point, the active set
        self.extras = {"rewind": jnp.zeros_like(x0)} if start.rewind_at is not None else {}
        if start.dynamic is not None:
            self.extras["idx"] = idx
        if start.checkpoint is not None and (
            resumed := start.checkpoint.load(self._saved(), num_generations, self.chunk)
        ):
            self.state, self.g, c = resumed.state, resumed.generation, resumed.curves
            if self.extras:
                self.state, self.extras = self.state
                self.idx = self.extras.get("idx", self.idx)
            self.best, self.mean = [c["best_fitness"]], [c["mean_fitness"]]
            self.bad = [c["nonfinite_count"]]
            self.eval_gen = c["eval_generation"].tolist()
            self.eval_val = c["eval_metric"].tolist()
        self.eta = _Eta(num_generations)

    def _saved(self):
        return (self.state, self.extras) if self.extras else self.state

    @property
    def done(self) -> bool:
        return self.g >= self.total

    def next_chunk(self) -> int:
        """The number of generations of the next chunk."""
        return min(self.chunk, self.total - self.g)

    def after_chunk(self, state, b, m, nb) -> None:
        """Take the state and curves of the chunk just run: check them, keep the rewind
        point, regrow (dynamic sparse ES), evaluate, checkpoint and log."""
        b, m, nb = np.asarray(b), np.asarray(m), np.asarray(nb)
        start = self.start
        self.best.append(b), self.mean.append(m), self.bad.append(nb)
        _check_members(nb, self.g, self.strategy.algorithm.population_size, start.label)
        self.g = g = self.g + b.size
        self.state = state
        if g == start.rewind_at:
            self.extras["rewind"] = state[0].mean
        dynamic = start.dynamic
        if dynamic is not None and g % dynamic.every == 0 and g < self.total:
            from ..dynamic_sparse import regrow

            self.state, self.idx, left_out = regrow(
                self.task, self.strategy.name, self.state, self.idx, dynamic, start.round_k, g
            )
            self.extras["idx"] = self.idx
            if left_out:
                start.log(
                    f"{start.label} gen {g}: regrowth left {left_out} of its {dynamic.pairs} "
                    "probe pairs out of the search gradient (a NaN or infinite fitness); the "
                    "rest ranked the weights it grew"
                )
        mean, task_state = self.state[0].mean, self.state[1]
        metric = float(self.evaluate(mean, self.idx, self.task.test_data, task_state))
        self.eval_gen.append(g), self.eval_val.append(metric)
        if start.checkpoint is not None and start.checkpoint.due(g, self.total):
            curves = _checkpoint_curves(
                self.best, self.mean, self.bad, self.eval_gen, self.eval_val
            )
            start.checkpoint.save(self._saved(), g, curves)
        start.log(
            f"{start.label} gen {g}/{self.total} best {b[-1]:.4f} mean {m[-1]:.4f} "
            f"{self.task.metric_name} {metric:.4f} nonfinite {int(nb.sum())} {self.eta.line(g)}"
        )

    def result(self) -> RoundResult:
        state, task_state = self.state
        idx, num_dims, extras = self.idx, self.num_dims, self.extras

        def densify(active_values):
            return np.asarray(jnp.zeros(num_dims, jnp.float32).at[idx].set(active_values))

        name = self.strategy.name
        sigma = (  # None for a strategy without a per-weight σ: no sigma/ group, no SNR
            densify(per_weight_std(name, state, int(idx.size)))
            if has_per_weight_sigma(name)
            else None
        )
        return RoundResult(
            theta=densify(state.mean),
            sigma=sigma,
            best_fitness=np.concatenate(self.best),
            mean_fitness=np.concatenate(self.mean),
            nonfinite_count=np.concatenate(self.bad).astype(np.int32),
            eval_generation=np.asarray(self.eval_gen, np.int32),
            eval_metric=np.asarray(self.eval_val, np.float32),
            final_metric=float(self.eval_val[-1]),
            seconds=time.perf_counter() - self.t_start,
            task_state={k: np.asarray(v) for k, v in task_state.items()},
            rewind_theta=densify(extras["rewind"]) if "rewind" in extras else None,
            final_mask=densify(jnp.ones(idx.size)) > 0 if self.start.dynamic is not None else None,
        )


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
    start = ChainStart(theta0, mask, round_k, log, label, checkpoint, rewind_at, dynamic)
    run = _ChainRound(task, strategy, start, num_generations, log_every)
    runner = make_chunk_runner(task, strategy, mask.size)
    while not run.done:
        state, curves = runner(run.state, run.start.round_k, run.idx, task.train_data, run.g,
                               run.next_chunk())  # fmt: skip
        run.after_chunk(state, *curves)
    return run.result()


def run_rounds_lockstep(
    task,
    strategy: ESStrategy,
    chains: list[ChainStart],
    num_generations: int,
    log_every: int,
    width: int = 1,
) -> list[RoundResult]:
    """The rounds of several chains with one strategy and equal D_active (every chain of a
    (task, strategy) at one round), advanced chunk by chunk as one vmapped program.

    Why: on a GPU one chain's generation (the paper CNN at population 128) is milliseconds
    of work and leaves the device mostly idle; k chains in one program fill it (bench 8).
    Each chain keeps everything of :func:`run_round`: its keys, log, curves, checkpoint and
    rewind point. Chains resumed from checkpoints at other generations run (as a batch of
    their own) until they reach the others, then join them.

    The vmapped program is another program than :func:`run_round`'s. On this CPU, for the
    digits CNNs, a chain's numbers do not depend on how many chains share it (tested bitwise
    for 1 to 5 chains; bench 8 for 20); for the paper CNN its best-fitness curve does (bench
    8: 4.8e-7 after 2 generations between groups of 5 and 1), which is why every call is
    padded to ``width`` (below). Against :func:`run_round`, the paper's strategies' updates
    (SNES, Sep-CMA-ES, PGPE, DES, ARS) are batch-invariant: Sep-CMA-ES and ARS are written so
    (evotickets/batch_invariant.py), since evosax's differed in the last bit after one
    generation and hundreds of generations amplified that (bench 7 at 600 generations: |Δθ|
    up to 1.05, 4 of 16 round-1 masks different). The fitness is batch-invariant at some
    shapes only (bench 9): where it is not, its values differ in the last bit, which the
    rank-based strategies (SNES, Sep-CMA-ES, DES) do not see. OpenES, CMA-ES, LES, iAMaLGaM
    and CMA-anchored LES differ in the last bits anyway. Dynamic sparse ES changes a chain's
    active set mid-round: not here. Control tasks: the gymnax tasks' fitness is bitwise alone
    and vmapped; brax's is not at some shapes (XLA compiles brax's step differently for some
    batch shapes and the rollouts amplify the last bit: README, "One program for a group").

    ``width``: how many chains each call of the program computes. A batch of fewer chains
    is padded with copies of its first chain, whose results are dropped, so a chain's
    numbers depend on the width, not on which chains are left to train: a group job passes
    the number of chains it trains when it starts fresh, and then a rerun that resumes some
    of them from checkpoints, or trains only those an earlier run did not finish, computes
    them as the uninterrupted run did (tests/unit/test_lockstep.py)."""
    if not chains:
        return []
    num_dims = chains[0].mask.size
    if len({(int(c.mask.sum()), c.mask.size) for c in chains}) > 1:
        raise ValueError(
            "run_rounds_lockstep needs chains of equal D_active and size (one round of one "
            f"(task, strategy)); got D_active {sorted(int(c.mask.sum()) for c in chains)}"
        )
    if any(c.dynamic is not None for c in chains):
        raise ValueError("dynamic sparse ES changes a chain's active set: train it alone")
    runs = [_ChainRound(task, strategy, c, num_generations, log_every) for c in chains]
    vmapped = _vmapped_chunk_runner(task, strategy, num_dims)
    while not all(r.done for r in runs):
        g = min(r.g for r in runs if not r.done)  # the chains furthest behind go first
        batch = [r for r in runs if not r.done and r.g == g]
        n = batch[0].next_chunk()
        # a batch of one too, and padded to the width: a chain's numbers must not depend on
        # which chains it ran with
        padded = batch + [batch[0]] * (width - len(batch))
        states, curves = vmapped(
            jax.tree.map(lambda *a: jnp.stack(a), *[r.state for r in padded]),
            jnp.stack([r.start.round_k for r in padded]),
            jnp.stack([r.idx for r in padded]),
            task.train_data,
            g,
            n,
        )
        for i, r in enumerate(batch):
            r.after_chunk(jax.tree.map(lambda a, i=i: a[i], states), *(c[i] for c in curves))
    return [r.result() for r in runs]
