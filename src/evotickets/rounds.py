"""One round of a pruning chain, as a library: read θ0 and a round's ticket, train it with the
chain strategy's trainer, write ``trained.h5``.

The CLI verbs (:mod:`evotickets.commands`) parse arguments and call these; the transfer and
analysis verbs share them, so no command imports another command's helpers. Artifacts are
read with their config digests checked, and written atomically (:mod:`evotickets.artifacts`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import checkpoint
from .artifacts import (
    CURVES_GROUP,
    GROUP_PROGRAM_ATTR,
    GROUP_WIDTH_ATTR,
    MASK_GROUP,
    PARAMS_GROUP,
    REWIND_GROUP,
    ROUND0_FROM_ATTR,
    ROUND0_FROM_DIGEST_ATTR,
    SIGMA_GROUP,
    TASK_STATE_GROUP,
    THETA_START_GROUP,
    TRAINED_ON_ATTR,
    ArtifactError,
    Digests,
    artifact_vector,
    check_output,
    content_attrs,
    digest_accepted,
    group,
    identity_of,
    input_record,
    read_artifact,
    round0_numbers_equal,
    write_artifact,
)
from .names import is_gd, without_es_fitness_keys
from .pruning import kept_attrs
from .settings import ChainSettings


def log(msg: str) -> None:
    print(msg, flush=True)


def load_init(path: str, settings: ChainSettings):
    """θ0 as a flat vector, its layer table and prunable flags, checked against the chain."""
    from .networks import layer_table, prunable_vector, to_vector

    expected = settings.init_settings().accepted_digests()
    arrays, attrs = read_artifact(path, "init", expected_digest=expected)
    theta0 = group(arrays, PARAMS_GROUP)
    table = layer_table(theta0, prune_output_layer=bool(attrs["prune_output_layer"]))
    return to_vector(theta0, table), table, prunable_vector(table), attrs


def mask_arrays(mask: np.ndarray, table, prefix=MASK_GROUP) -> dict[str, np.ndarray]:
    from .networks import from_vector

    return {f"{prefix}/{k}": v for k, v in from_vector(mask, table).items()}


def load_rewind_point(path: str | None, settings: ChainSettings, table) -> np.ndarray:
    """The rewind point of a chain that rewinds (``settings.rewind`` > 0): the weights that
    round 0 stored after ``settings.rewind`` generations (steps), from its trained.h5."""

    k = settings.rewind
    if not path:
        raise ValueError(
            f"{settings.label} rewinds to generation {k} of round 0: pass --rewind-from "
            "iter00/trained.h5 of this chain (made by rule `train`)"
        )
    arrays, attrs = read_artifact(path, "trained", expected_digest=settings.accepted_digests())
    if int(attrs["round"]) != 0 or int(attrs.get("rewind_point", -1)) != k:
        raise ArtifactError(
            f"{path} is round {attrs['round']} with rewind point "
            f"{attrs.get('rewind_point', 'none')}; need round 0 with rewind point {k}: pass "
            "iter00/trained.h5 of this chain (made by rule `train`)"
        )
    return artifact_vector(arrays, REWIND_GROUP, table, path, "trained")


def check_method(settings: ChainSettings) -> None:
    from .config import REWIND_METHODS, method_applies
    from .names import SIGMA_METHODS, has_per_weight_sigma

    method, strategy = settings.method, settings.strategy
    if method in SIGMA_METHODS and not has_per_weight_sigma(strategy):
        why = (
            "gradient descent has no search distribution"
            if is_gd(strategy)
            else "its search distribution has no per-weight std"
        )
        raise ValueError(
            f"method {method} is undefined for {strategy}: {why}, so there is no σ to divide "
            "by; the workflow skips this combination (magnitude and random run)"
        )
    if not method_applies(method, strategy):
        raise ValueError(
            f"method {method} runs only for Sep-CMA-ES (for {strategy} it equals snr); "
            "the workflow skips this combination"
        )
    if settings.rewind and method not in REWIND_METHODS:
        # the config refuses it; a hand-written settings file would otherwise train the
        # ticket from round 0's rewind point, dropping its permuted or θ0-relative weights
        raise ValueError(
            f"method {method} is defined relative to θ0 and does not rewind, but these "
            f"settings rewind to generation {settings.rewind}; set rewind to 0 or the method "
            f"to one of {list(REWIND_METHODS)}"
        )


def load_ticket(path: str, table, expected_digest: Digests, t: int, theta0: np.ndarray):
    """(mask, starting weights, attrs) of round t from a mask artifact: the starting weights
    are the artifact's ``theta_start`` where it has one (weight_permuted), θ0 otherwise."""
    arrays, attrs = read_artifact(path, "mask", expected_digest=expected_digest)
    mask = artifact_vector(arrays, MASK_GROUP, table, path, "mask").astype(bool)
    start = artifact_vector(arrays, THETA_START_GROUP, table, path, "mask", optional=True)
    if int(attrs["round"]) != t:
        raise ArtifactError(
            f"{path} is round {attrs['round']}, expected {t}: pass "
            f"iter{t:02d}/mask.h5 of this chain (made by rule `train`)"
        )
    theta_start = start if start is not None else theta0
    return mask, theta_start, attrs


def _trained_arrays(res, mask: np.ndarray, table) -> dict[str, np.ndarray]:
    """The datasets of a trained.h5: θ, the rewind point (late rewinding, round 0), σ (ES),
    the mask, the curves and the task state."""
    from .networks import from_vector

    out = {f"{PARAMS_GROUP}/{k}": v for k, v in from_vector(res.theta, table).items()}
    if res.rewind_theta is not None:  # round 0's rewind point, which later rounds start from
        out.update(mask_arrays(res.rewind_theta, table, prefix=REWIND_GROUP))
    if res.sigma is not None:
        out.update({f"{SIGMA_GROUP}/{k}": v for k, v in from_vector(res.sigma, table).items()})
    out.update(mask_arrays(mask, table))
    out.update({f"{CURVES_GROUP}/{k}": v for k, v in res.curves.items()})
    out.update({f"{TASK_STATE_GROUP}/{k}": v for k, v in res.task_state.items()})
    return out


def shared_task(settings: ChainSettings, table, data_dir: str | None):
    """The task of ``settings``; inside :func:`evotickets.train.es.shared_programs` (a
    `round-group` job) one object per task entry, settings and network.

    Why: the chains of one `round-group` job (one task) would each load the data
    and, with a new task object, trace and compile their round's program again; with one
    task object (and one strategy object, :mod:`evotickets.train.trainers`) the second chain
    reuses the first one's program. A task holds no per-chain state (that is its
    ``init_state``), so sharing it changes no number."""
    import json

    from .tasks import make_task
    from .train.es import shared

    key = (
        "task",
        settings.task,
        json.dumps(settings.task_config, sort_keys=True, default=str),
        data_dir,
        tuple(table),
    )
    return shared(key, lambda: make_task(settings.task, settings.task_config, table, data_dir))


@dataclass
class PreparedRound:
    """Round t of a chain, ready to train: its task, round key, label, log, checkpoint and
    where its trained.h5 goes (:func:`prepare_round`). Training it and writing the artifact
    are two steps (:func:`train_prepared`, :func:`write_trained`), so that a `round-group`
    job can train several prepared rounds as one program between them."""

    settings: ChainSettings
    table: Any
    prunable: np.ndarray
    theta_start: np.ndarray
    mask: np.ndarray
    t: int
    out_path: str
    config_digest: str
    task: Any
    round_key: Any
    label: str
    checkpoint: Any
    rewind_at: int | None
    extra_attrs: dict
    log: Callable[[str], None]
    inputs: tuple = ()  # the artifacts it is made from (artifacts.write_artifact's inputs)
    # their write times when the round was prepared (artifacts.input_record), recorded in
    # its trained.h5 rather than the times at its write, hours of training later
    inputs_read: dict | None = None


def prepare_round(
    settings: ChainSettings,
    table,
    prunable: np.ndarray,
    theta_start: np.ndarray,
    mask: np.ndarray,
    t: int,
    out_path: str,
    *,
    config_digest: str,
    data_dir: str | None,
    extra_attrs: dict | None = None,
    label: str | None = None,
    checkpoint_every: int | None = None,
    checkpoint_seconds: float | None = None,
    log: Callable[[str], None] = log,
    inputs: tuple = (),
) -> PreparedRound:
    """Everything round t needs before its training: the task (inside a `round-group` job
    one object for all its chains, its data loaded once; see :func:`shared_task`), the round
    key (the chain's, so every ticket of a (task, strategy, seed) sees the same noise or
    minibatches), a writable output and the mid-round checkpointer."""
    from .keys import chain_key, round_key

    settings = settings.for_round(t)  # a rewound round may search fewer generations
    # fail now, not after hours of training: a missing input, an output that is an input or
    # another kind of artifact, an unwritable folder
    # the attrs write_trained records that name the round (a transfer's: its name)
    named = {"task": settings.task, "strategy": settings.strategy, "method": settings.method,
             "round": t, **(extra_attrs or {})}  # fmt: skip
    check_output(out_path, "trained", inputs, identity_of(named, settings.seed))
    inputs_read = input_record([p for p in inputs if p], out_path)
    task = shared_task(settings, table, data_dir)
    rk = round_key(chain_key(settings.seed, settings.key_task, settings.strategy), t)
    label = label or (
        f"[{settings.task}/{settings.strategy}/{settings.method}/seed{settings.seed}/iter{t:02d}]"
    )
    log(f"{label} D_active {int(mask.sum())} of {mask.size}")
    # The chain digest covers every setting of the round (ES loop or GD trainer); the
    # generation count and chunk enter the ES round's digest, GD trainers check their own.
    gd = settings.is_gd
    ckpt = checkpoint.for_round(
        out_path,
        chain_digest=config_digest,
        round_index=t,
        strategy=settings.strategy,
        mask=mask,
        theta0=theta_start * mask,
        num_generations=0 if gd else int(settings.es["num_generations"]),
        log_every=1 if gd else int(settings.es["log_every"]),
        every_generations=checkpoint_every,
        every_seconds=checkpoint_seconds,
        log=log,
    )
    rewind_at = settings.rewind if (t == 0 and settings.rewind) else None
    return PreparedRound(settings, table, prunable, theta_start, mask, t, out_path,
                         config_digest, task, rk, label, ckpt, rewind_at, extra_attrs or {},
                         log, tuple(inputs), inputs_read)  # fmt: skip


def _provenance(p: PreparedRound) -> dict[str, str]:
    """The task's provenance attrs of a round, without what only the ES fitness reads where
    a gradient-descent chain trained it (``names.ES_FITNESS_TASK_KEYS``: its ``n_repeats``
    is not this round's, and its digest leaves it out)."""
    attrs = p.task.provenance()
    return without_es_fitness_keys(attrs) if p.settings.is_gd else attrs


def train_prepared(p: PreparedRound):
    """Train a prepared round with its chain strategy's trainer (ES, or gradient descent for
    the ``gd_*`` strategies): a :class:`evotickets.train.trainers.TrainedRound`."""
    from .train.trainers import trainer_for

    train = trainer_for(p.settings.strategy)
    cpu = time.process_time()
    res = train(p.settings, p.task, p.theta_start, p.mask, p.round_key, label=p.label,
                log=p.log, checkpoint=p.checkpoint, rewind_at=p.rewind_at)  # fmt: skip
    return replace(res, cpu_seconds=time.process_time() - cpu)


class RoundDiverged(ValueError):
    """A round's weights or search scales ended non-finite (:func:`_check_finite`)."""


def _check_finite(p: PreparedRound, res, mask: np.ndarray) -> None:
    """A round whose weights (or ES search scales) ended non-finite is not written: as a
    finished trained.h5 it passed for a result, and the error came only in the next round's
    mask, which called the file corrupt. A NaN fitness of some members is counted, not an
    error (the strategy ranks them worst); this is the distribution itself diverging."""
    bad = {"θ": int(np.sum(~np.isfinite(res.theta[mask])))}
    if res.sigma is not None:
        bad["σ"] = int(np.sum(~np.isfinite(res.sigma[mask])))
    if any(bad.values()):
        counts = ", ".join(f"{n} of {int(mask.sum())} active {k}" for k, n in bad.items() if n)
        raise RoundDiverged(
            f"{p.label}: round {p.t} ended with non-finite values ({counts}): the search "
            "diverged, so nothing was written. Fix: a smaller step (the strategy's std_init "
            "or learning rate, or the GD lr), or fewer generations/epochs; the round's log "
            "shows where its fitness went"
        )


def write_trained(p: PreparedRound, res, extra_attrs: dict | None = None) -> None:
    """Write a trained round's trained.h5, then remove its mid-round checkpoint."""
    settings, mask, prunable = p.settings, p.mask, p.prunable
    if res.final_mask is not None:  # dynamic sparse ES: the active set the round ended with
        mask = res.final_mask
    _check_finite(p, res, mask)
    metric = res.final_metric
    write_artifact(
        p.out_path,
        "trained",
        _trained_arrays(res, mask, p.table),
        {
            "round": p.t,
            "task": settings.task,
            "strategy": settings.strategy,
            "method": settings.method,
            "metric_name": p.task.metric_name,
            "final_metric": metric,
            "d_active": int(mask.sum()),
            **kept_attrs((mask & prunable).sum(), prunable.sum()),
            # the machine(s) that trained it: last bits depend on the hardware (evotickets.host)
            TRAINED_ON_ATTR: p.checkpoint.trained_on(),
            **res.attrs,
            **({"rewind_point": p.rewind_at} if p.rewind_at is not None else {}),
            **_provenance(p),
            **p.extra_attrs,
            **(extra_attrs or {}),
        },
        config_digest=p.config_digest,
        seed=settings.seed,
        inputs=p.inputs,
        inputs_read=p.inputs_read,
    )
    p.checkpoint.remove()  # only now that the artifact is complete (and killed writers' .tmp)
    cpu = f" ({res.cpu_seconds:.1f}s of CPU)" if res.cpu_seconds is not None else ""
    p.log(
        f"{p.label} wrote {p.out_path}: {p.task.metric_name} {metric:.4f} "
        f"in {res.seconds:.1f}s{cpu}"
    )


def train_together(
    prepared: list[PreparedRound], width: int = 1, log: Callable[[str], None] = log
) -> None:
    """Train prepared rounds and write each one's trained.h5: the ES rounds that share a
    :func:`evotickets.train.trainers.lockstep_key` as one vmapped program (a lone one too:
    a chain's numbers must not depend on which chains it ran with, or a resumed group would
    not equal an uninterrupted one), every other round (GD, dynamic sparse ES, and an ES
    round that :func:`evotickets.train.trainers.why_alone` keeps out, saying why) alone with
    its trainer, in the order of their first member. A round of the vmapped program records
    ``group_program: vmapped`` (its numbers may differ from :func:`train_prepared`'s; see
    :func:`evotickets.train.es.run_rounds_lockstep`, which pads each call to ``width``
    chains: the count the group trains in one program when it starts fresh)."""
    from .train.trainers import lockstep_key, why_alone

    groups: dict[tuple, list[PreparedRound]] = {}
    for p in prepared:
        key = lockstep_key(p)
        if key is not None and (why := why_alone(p, width)):
            log(f"{p.label}: {why}: it trains alone, in the one-chain program")
            key = None
        groups.setdefault(key or ("alone", id(p)), []).append(p)
    for key, members in groups.items():
        try:
            _train_group(key, members, width, log)
        except Exception as err:
            # the rounds it concerns, so that a group job's logs tell which member failed
            # (RoundDiverged names the diverged ones itself)
            if not hasattr(err, "rounds"):
                err.rounds = [p.out_path for p in members]
            raise


def _train_group(key: tuple, members: list[PreparedRound], width: int, log) -> None:
    """One of :func:`train_together`'s groups: a round alone, or a vmapped program."""
    from .train.trainers import train_es_lockstep

    if key[0] == "alone":
        write_trained(members[0], train_prepared(members[0]))
        return
    what = f"{len(members)} chains of D_active {int(members[0].mask.sum())} in one program"
    if width > len(members):
        what += f" (padded to the group's {width})"
    log(what)
    for p in members:  # its checkpoints are this program's: not the one-chain program's
        p.checkpoint.for_program("vmapped", width)  # nor another width's (other bits)
    start, cpu = time.perf_counter(), time.process_time()
    results = train_es_lockstep(members, width)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    log(f"{what}: trained in {seconds:.1f}s ({cpu:.1f}s of CPU)")
    diverged = []
    for p, res in zip(members, results, strict=True):  # every finite one written first
        try:
            # the width too: on a GPU a chain's last bits depend on it (bench/README)
            write_trained(p, res, {GROUP_PROGRAM_ATTR: "vmapped", GROUP_WIDTH_ATTR: width})
        except RoundDiverged as err:
            diverged.append((p, str(err)))
    if diverged:
        err = RoundDiverged("; ".join(why for _, why in diverged))
        err.rounds = [p.out_path for p, _ in diverged]
        raise err


def _check_donor(settings: ChainSettings, donor_path: str, attrs: dict) -> tuple[str, str]:
    """The method and digest of ``donor_path`` (its ``attrs``), refused unless it is round 0
    of this chain's settings but the method, of a method that gives its round 0 to this
    chain's (:func:`evotickets.pruning.adopts_round0`)."""
    from . import pruning

    donor = str(attrs.get("method"))
    hint = "pass iter00/trained.h5 of the round-0 donor chain (rule `train` chooses it)"
    # the donor itself must be one whose round 0 is the plain one (round0_donor): a
    # permutation control's round 0 starts from other weights, yet has a dense mask and a
    # digest that the checks below would accept
    if (
        donor not in pruning.REGISTRY
        or pruning.round0_donor([donor]) != donor
        or not pruning.adopts_round0(settings.method, donor)
    ):
        raise ArtifactError(f"{donor_path} is method {donor}, which cannot give "
                            f"{settings.method} its round 0: {hint}")  # fmt: skip
    donor_digests = settings.with_method(donor).accepted_digests()
    if not digest_accepted(attrs.get("config_digest"), donor_digests) or int(attrs["round"]) != 0:
        raise ArtifactError(
            f"{donor_path} is round {attrs['round']} of other chain settings (config_digest "
            f"{attrs.get('config_digest')} ≠ {donor_digests[0]}): {hint}"
        )
    return donor, str(attrs["config_digest"])


def same_round0(settings: ChainSettings, out_path: str, donor_path: str) -> bool:
    """Whether ``out_path`` is this chain's round 0 (its settings' digest) and holds bitwise
    the numbers of ``donor_path``, a round 0 that may give it its round 0
    (:func:`_check_donor`; :func:`evotickets.artifacts.round0_numbers_equal`).

    Why: a method removed from the config, or the methods reordered, changes the round-0
    donor (:func:`evotickets.pruning.round0_donor`). The round this chain copied from the old
    donor, or trained itself, is then the round it would copy from the new one; copied
    again, it would be a new file to every later round of the chain, which would be trained
    again to the same numbers."""
    try:
        ours = read_artifact(out_path, "trained", expected_digest=settings.accepted_digests())
        theirs = read_artifact(donor_path, "trained")
        _check_donor(settings, donor_path, theirs[1])
    except (ArtifactError, KeyError, ValueError):
        return False
    return round0_numbers_equal(ours, theirs)


def adopt_round0(
    settings: ChainSettings,
    donor_path: str,
    mask: np.ndarray,
    theta_start: np.ndarray,
    theta0: np.ndarray,
    table,
    out_path: str,
    *,
    config_digest: str,
    inputs: tuple = (),
) -> None:
    """Write round 0 of this chain as a copy of the donor chain's round 0 (``donor_path``;
    ``inputs``: the copy's other inputs, θ0 and its mask, which it records with the donor).

    Why: round 0 is dense, starts from θ0 and uses the chain's keys, none of which depend on
    the method, so training it once per (task, strategy, seed) gives every method's chain
    the numbers it would have computed itself (a test checks this bitwise). The copy
    records where it came from (``round0_from``, ``round0_from_digest``); everything else but
    the method and the digest is the donor's. Refused, with the reason, unless the donor is
    round 0 of the same chain settings but the method, with this round's mask and start."""
    arrays, attrs = read_artifact(donor_path, "trained")
    donor, donor_digest = _check_donor(settings, donor_path, attrs)
    donor_mask = artifact_vector(arrays, MASK_GROUP, table, donor_path, "trained").astype(bool)
    if not (np.array_equal(donor_mask, mask) and np.array_equal(theta_start, theta0)):
        raise ValueError(
            f"{settings.label} round 0 does not start from the dense θ0 of {donor_path}, so "
            "it trains its own round 0 (run it without --round0-from)"
        )
    out_attrs = {
        **content_attrs(attrs),
        "method": settings.method,
        ROUND0_FROM_ATTR: str(donor_path),
        ROUND0_FROM_DIGEST_ATTR: donor_digest,
    }
    write_artifact(out_path, "trained", arrays, out_attrs, config_digest=config_digest,
                   seed=settings.seed, inputs=(*inputs, donor_path))  # fmt: skip
    # a stale one, if any, and the temporary files killed writers left beside it
    checkpoint.remove_checkpoint(checkpoint.checkpoint_path(out_path))
    log(f"[{settings.label}/seed{settings.seed}/iter00] wrote {out_path}: round 0 of "
        f"{donor} ({donor_path}), {attrs['metric_name']} {attrs['final_metric']:.4f}")  # fmt: skip
