"""The trainers of a round, by chain strategy, behind one protocol and one result type.

Every chain strategy trains a round the same way from the caller's side: from m ⊙ θ_start, with
the round's key, a label for the log and an optional mid-round checkpoint, returning a
:class:`TrainedRound`. The evosax strategies share the ES loop (:mod:`evotickets.train.es`);
``gd_adam`` is masked Adam (:mod:`evotickets.train.gd`) and ``gd_ppo`` masked PPO
(:mod:`evotickets.train.ppo`). :func:`trainer_for` is the dispatch, by registry, so adding a
trainer is one function and one entry in :data:`TRAINERS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..artifacts import SECONDS_PER_EPOCH_ATTR
from ..names import is_gd
from ..settings import ChainSettings


@dataclass(frozen=True)
class TrainedRound:
    """What a trainer hands back for ``trained.h5``.

    ``curves`` are written under ``curves/``, ``task_state`` (e.g. observation-normalisation
    statistics) under ``task_state/``, and ``attrs`` become the artifact's attributes, in this
    order. ``sigma`` is the search distribution's per-weight std, or None for gradient descent
    (no search distribution, so no SNR)."""

    theta: np.ndarray
    sigma: np.ndarray | None
    curves: dict[str, np.ndarray]
    final_metric: float
    seconds: float
    attrs: dict[str, Any]
    task_state: dict[str, np.ndarray] = field(default_factory=dict)
    #: late rewinding: the weights after ``rewind_at`` generations (steps) of this round
    rewind_theta: np.ndarray | None = None
    #: dynamic sparse ES: the active set at the end of the round (None: the mask's)
    final_mask: np.ndarray | None = None
    #: the process's CPU time over the round's training (all threads; None when the round
    #: trained as one program with others, whose group log has it): training can keep more
    #: than one core busy, so its wall time (``seconds``) under-counts its core-seconds
    cpu_seconds: float | None = None


class Trainer(Protocol):
    def __call__(
        self,
        settings: ChainSettings,
        task: Any,
        theta_start: np.ndarray,
        mask: np.ndarray,
        round_key: Any,
        *,
        label: str,
        log: Callable[[str], None],
        checkpoint: Any = None,
        rewind_at: int | None = None,
    ) -> TrainedRound: ...


def _strategy_key(name: str, num_active: int, hparams: dict[str, Any]) -> tuple:
    """What makes two rounds' strategies the same object: name, D_active and the
    hyperparameters (as sorted JSON, since they are a nested dict)."""
    return ("strategy", name, num_active, json.dumps(hparams, sort_keys=True, default=str))


def _strategy(name: str, num_active: int, hparams: dict[str, Any]):
    """The strategy of a round; inside :func:`evotickets.train.es.shared_programs` (a
    `round-group` job) one object per :func:`_strategy_key`, so the group's chains share it
    and with it their compiled program."""
    from ..strategies import make_strategy
    from .es import shared

    key = _strategy_key(name, num_active, hparams)
    return shared(key, lambda: make_strategy(name, num_active, hparams))


def train_es(
    settings, task, theta_start, mask, round_key, *, label, log, checkpoint=None, rewind_at=None
):
    """Any evosax strategy of :mod:`evotickets.strategies` on the active weights."""
    from .es import run_round

    strategy = _strategy(settings.strategy, int(mask.sum()), settings.strategy_config)
    res = run_round(
        task,
        strategy,
        theta_start * mask,
        mask,
        round_key,
        num_generations=int(settings.es["num_generations"]),
        log_every=int(settings.es["log_every"]),
        log=log,
        label=label,
        checkpoint=checkpoint,
        rewind_at=rewind_at,
        dynamic=_dynamic_schedule(settings, task, mask),
    )
    return _es_trained(res)


def _es_trained(res) -> TrainedRound:
    """An ES round's :class:`evotickets.train.es.RoundResult` as a TrainedRound."""
    curves = {
        "best_fitness": res.best_fitness,
        "mean_fitness": res.mean_fitness,
        "nonfinite_count": res.nonfinite_count,
        "eval_generation": res.eval_generation,
        "eval_metric": res.eval_metric,
    }
    attrs = {"trainer": "es", "nonfinite_total": int(res.nonfinite_count.sum())}
    return TrainedRound(
        res.theta,
        res.sigma,
        curves,
        res.final_metric,
        res.seconds,
        attrs,
        res.task_state,
        res.rewind_theta,
        res.final_mask,
    )


def lockstep_key(p) -> tuple | None:
    """What prepared rounds (:class:`evotickets.rounds.PreparedRound`) must share to train as
    one vmapped program (:func:`train_es_lockstep`): one task object, one strategy with its
    settings, D_active, generations and chunk. None for a round that trains alone: gradient
    descent, and dynamic sparse ES (its active set changes mid-round)."""
    s = p.settings
    if s.is_gd or _dynamic_schedule(s, p.task, p.mask) is not None:
        return None
    strategy = _strategy_key(s.strategy, int(p.mask.sum()), s.strategy_config)
    es = (int(s.es["num_generations"]), int(s.es["log_every"]))
    return (id(p.task), *strategy, p.mask.size, *es)


def trains_in_lockstep(settings, round_index: int) -> bool:
    """Whether a chain's round t would train in a vmapped group program, told from its
    settings alone (what :func:`lockstep_key` and :func:`why_alone` tell from the prepared
    round): :func:`named_lockstep` of its strategy and method. A group job counts these to
    fix its program's width before it knows which members an earlier run finished."""
    return named_lockstep(settings.strategy, settings.method, round_index)


def named_lockstep(strategy: str, method: str, round_index: int) -> bool:
    """:func:`trains_in_lockstep` from the names alone (what the workflow has when it sizes
    a group job's runtime): not gradient descent, not dynamic sparse ES after round 0, and
    a batch-invariant strategy. Imports no JAX."""
    from ..dynamic_sparse import REGROW
    from ..strategies import REGISTRY

    if is_gd(strategy) or (method in REGROW and round_index > 0):
        return False
    return REGISTRY[strategy].batch_invariant


def why_alone(p, width: int) -> str | None:
    """Why an ES round that :func:`lockstep_key` would put in a vmapped program of ``width``
    chains trains alone in the one-chain program instead (so with ``sequential``'s numbers),
    or None where it joins:

    - its strategy is not batch-invariant (EvoTF): vmapped, its chains would drift from their
      one-chain numbers, and a chain's masks from the next round on with them;
    - its memory grows with D² and ``width`` chains of it, each within ``MEMORY_LIMIT`` alone,
      would exceed it together (a vmapped program holds every chain's state and temporaries).
    """
    from ..strategies import MEMORY_LIMIT, REGISTRY

    spec = REGISTRY[p.settings.strategy]
    if not spec.batch_invariant:
        return f"{spec.name} is not batch-invariant in a vmapped program (bench 9)"
    pop = int(p.settings.strategy_config["population_size"])
    need = width * spec.memory_need(pop, int(p.mask.sum()))
    if need <= MEMORY_LIMIT:
        return None
    return (
        f"{width} chains of {spec.name} would need about {need / 2**30:.1f} GiB in one "
        f"program, over MEMORY_LIMIT ({MEMORY_LIMIT / 2**30:.0f} GiB)"
    )


def train_es_lockstep(rounds: list, width: int = 1) -> list[TrainedRound]:
    """Prepared ES rounds of one :func:`lockstep_key` as one vmapped program
    (:func:`evotickets.train.es.run_rounds_lockstep`, ``width`` chains per call), each with
    its own start, key, log, checkpoint and rewind point; their TrainedRounds in order."""
    from .es import ChainStart, run_rounds_lockstep

    first = rounds[0]
    settings = first.settings
    strategy = _strategy(settings.strategy, int(first.mask.sum()), settings.strategy_config)
    starts = [
        ChainStart(
            p.theta_start * p.mask, p.mask, p.round_key, p.log, p.label, p.checkpoint, p.rewind_at
        )
        for p in rounds
    ]
    es = settings.es
    results = run_rounds_lockstep(
        first.task, strategy, starts, int(es["num_generations"]), int(es["log_every"]), width
    )
    return [_es_trained(r) for r in results]


def _dynamic_schedule(settings, task, mask):
    """The regrowth schedule of a dynamic sparse ES chain, None for every other method and
    for a dense round (round 0, shared by every method: nothing to regrow)."""
    from ..config import probe_pairs
    from ..dynamic_sparse import REGROW, Schedule
    from ..networks import prunable_vector

    if settings.method not in REGROW or mask[prunable_vector(task.table)].all():
        return None
    cfg, hp = settings.method_config or {}, settings.strategy_config
    return Schedule(
        every=int(cfg["every"]),
        fraction=float(cfg["fraction"]),
        regrow=REGROW[settings.method],
        std_init=float(hp["std_init"]),
        pairs=probe_pairs(cfg, int(hp["population_size"])),
    )


def train_adam(
    settings, task, theta_start, mask, round_key, *, label, log, checkpoint=None, rewind_at=None
):
    """Masked Adam (vision tasks)."""
    from .gd import run_adam_round

    hp = settings.strategy_config
    res = run_adam_round(
        task,
        theta_start,
        mask,
        round_key,
        lr=float(hp["lr"]),
        batch_size=int(hp["batch_size"]),
        epochs=int(hp["epochs"]),
        log=log,
        label=label,
        checkpoint=checkpoint,
        rewind_at=rewind_at,
    )
    curves = {
        "step_loss": res.step_loss,
        "epoch_loss": res.epoch_loss,
        "eval_epoch": res.eval_epoch,
        "eval_metric": res.eval_metric,
    }
    attrs = {
        "trainer": "gd",
        "search_distribution": "none: gradient descent, so no sigma/ group and no SNR",
        "steps_per_epoch": res.steps_per_epoch,
        SECONDS_PER_EPOCH_ATTR: res.seconds_per_epoch,
    }
    return TrainedRound(
        res.theta, None, curves, res.final_metric, res.seconds, attrs, {}, res.rewind_theta
    )


def train_ppo(
    settings, task, theta_start, mask, round_key, *, label, log, checkpoint=None, rewind_at=None
):
    """Masked PPO (control tasks). It does not rewind (the config refuses gd_ppo with it)."""
    from .ppo import train_ppo as run_ppo

    if rewind_at is not None:
        raise ValueError(f"{label}: gd_ppo does not rewind; set rewind to 0 for this task")

    res = run_ppo(
        task,
        theta_start,
        mask,
        round_key,
        settings.strategy_config,
        log=log,
        label=label,
        checkpoint=checkpoint,
        # the critic's biases as the actor's θ0 (the study's PPO networks: U[0, 0.05))
        bias_init=settings.init_settings().policy_bias_init,
    )
    curves = {
        "train_return": -res.mean_fitness,  # NaN: no episode ended in that update
        "episodes": res.episodes,
        # env steps per update whose reward was NaN or infinite (given 0): not members, so
        # not the ES's nonfinite_total, which summary.nc's nonfinite_fitness reads
        "nonfinite_rewards": res.nonfinite_count,
        "eval_update": res.eval_generation,
        "eval_metric": res.eval_metric,
    }
    attrs = {
        "trainer": "ppo",
        "search_distribution": "none: PPO (gradient descent), so no sigma/ group and no SNR",
        "nonfinite_rewards_total": int(res.nonfinite_count.sum()),
    }
    return TrainedRound(
        res.theta, None, curves, res.final_metric, res.seconds, attrs, res.task_state
    )


#: The gradient-descent trainers by chain strategy; every evosax strategy trains with
#: :func:`train_es`.
TRAINERS: dict[str, Trainer] = {"gd_adam": train_adam, "gd_ppo": train_ppo}


def trainer_for(strategy: str) -> Trainer:
    """The trainer of a chain strategy."""
    if is_gd(strategy):
        return TRAINERS[strategy]
    return train_es
