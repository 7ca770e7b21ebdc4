"""CLI verbs of the pruning chain: ``init`` (θ0), ``mask`` (round t's mask), ``train`` (round t).

``train`` trains round t with the chain strategy's trainer (:mod:`evotickets.train.trainers`,
through :mod:`evotickets.rounds`: prepare, train, write) from m ⊙ theta_start, where
theta_start is θ0 unless the mask artifact carries its own (the permutation controls,
``weight_permuted`` and ``mask_permuted``). ``round`` is ``mask`` then
``train`` in one process (the rule ``train``).

I/O lives here: read artifacts, call the pure library, write artifacts. Each verb takes the
chain settings as one JSON string (the rule passes it as a param, so Snakemake reruns a job
whose settings changed) and checks the config digests of what it reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import checkpoint
from ..artifacts import (
    MASK_GROUP,
    PARAMS_GROUP,
    SIGMA_GROUP,
    THETA_START_GROUP,
    ArtifactError,
    artifact_vector,
    read_artifact,
    write_artifact,
)
from ..durable import remove_stale_temps
from ..platform import setup_jax
from ..pruning import PERMUTED_METHOD
from ..rounds import (
    PreparedRound,
    adopt_round0,
    check_method,
    load_init,
    load_rewind_point,
    load_ticket,
    log,
    mask_arrays,
    prepare_round,
    same_round0,
    train_prepared,
    write_trained,
)
from ..settings import ChainSettings, InitSettings
from .common import chain_args, round_index
from .group import (
    keep_finished,
    members_args,
    note_kept,
    open_log,
    outputs_current,
    parse_members,
    run_logged,
    run_members,
    run_members_together,
)


def cmd_init(args) -> None:
    settings = InitSettings.from_json(args.settings)
    setup_jax(args.jax_cache)
    from ..keys import init_key
    from ..networks import layer_table, prunable_vector, to_vector
    from ..tasks import init_theta

    theta0 = init_theta(settings.to_dict(), init_key(settings.seed))
    table = layer_table(theta0, settings.prune_output_layer)
    vec = to_vector(theta0, table)
    if not np.all(np.isfinite(vec)):
        raise ValueError("θ0 contains NaN or inf; check the network's initialisers")
    write_artifact(
        args.out,
        "init",
        {f"{PARAMS_GROUP}/{k}": v for k, v in theta0.items()},
        {
            "task": settings.task,
            "network": settings.network,
            "prune_output_layer": settings.prune_output_layer,
            "num_params": int(vec.size),
            "num_prunable": int(prunable_vector(table).sum()),
        },
        config_digest=settings.digest(),
        seed=settings.seed,
    )
    remove_stale_temps(Path(args.out).parent)  # of init jobs killed mid-write, each θ0-sized
    log(f"wrote {args.out}: {vec.size} parameters, {int(prunable_vector(table).sum())} prunable")


def cmd_mask(args) -> None:
    from .. import pruning

    settings = ChainSettings.from_json(args.settings)
    chain_digest = settings.digest()
    theta0, table, prunable, _ = load_init(args.init, settings)
    t, method = args.round, settings.method
    check_method(settings)
    n_prunable = int(prunable.sum())
    pruning.check_keeps_weights(
        n_prunable,
        settings.prune_fraction,
        t + 1,
        f"{settings.label} (prune_fraction {settings.prune_fraction})",
    )
    keep = pruning.remaining_count(n_prunable, settings.prune_fraction, t)
    theta_start, provenance = None, {}
    source = pruning.REGISTRY[method].source
    if source == "magnitude_mask":
        setup_jax(args.jax_cache)
        result, theta_start, provenance = _permuted_ticket(
            settings, args.source_mask, theta0, table, t
        )
    elif t == 0:
        result = pruning.PruneResult(
            mask=np.ones_like(prunable), threshold=float("nan"), kept=n_prunable
        )
    elif source == "init_gradient":
        setup_jax(args.jax_cache)
        score = _init_score(settings, theta0, table, args.data_dir or settings.data_dir)
        result = pruning.prune_to_count(score, np.ones_like(prunable), prunable, keep)
    elif source == "key":
        setup_jax(args.jax_cache)
        from ..keys import chain_key, mask_key, permutation, round_key

        ck = chain_key(settings.seed, settings.key_task, settings.strategy)
        perm = permutation(mask_key(round_key(ck, t)), n_prunable)
        result = pruning.random_mask(prunable, keep, perm)
    else:
        if not args.prev_trained:
            raise ValueError(f"method {method} at round {t} needs --prev-trained")
        arrays, attrs = read_artifact(
            args.prev_trained, "trained", expected_digest=settings.accepted_digests()
        )
        if int(attrs["round"]) != t - 1:
            raise ArtifactError(
                f"{args.prev_trained} is round {attrs['round']}, need {t - 1}: pass "
                f"iter{t - 1:02d}/trained.h5 of this chain (made by rule `train`)"
            )
        prev = args.prev_trained
        prev_mask = artifact_vector(arrays, MASK_GROUP, table, prev, "trained").astype(bool)
        theta = artifact_vector(arrays, PARAMS_GROUP, table, prev, "trained")
        needs_sigma = pruning.REGISTRY[method].needs_sigma
        sigma = (
            artifact_vector(arrays, SIGMA_GROUP, table, prev, "trained") if needs_sigma else None
        )
        score = pruning.scores(method, theta, sigma, theta0=theta0)
        try:
            result = pruning.prune_to_count(score, prev_mask, prunable, keep)
        except pruning.NonFiniteScores as err:
            raise ArtifactError(
                f"{args.prev_trained}: {err.count} of its active weights have a NaN or "
                f"infinite {method} score (θ or σ not finite): the round diverged or the file "
                "is damaged; delete it and rerun its rule `train`"
            ) from err
    counts = pruning.layer_counts(result.mask, table)
    arrays = mask_arrays(result.mask, table)
    arrays.update({f"layer_kept/{k}": np.int64(v) for k, v in counts.items()})
    if theta_start is not None:  # the ticket starts from other weights than θ0
        arrays.update(mask_arrays(theta_start, table, prefix=THETA_START_GROUP))
    write_artifact(
        args.out,
        "mask",
        arrays,
        {
            "round": t,
            "method": method,
            "task": settings.task,
            "strategy": settings.strategy,
            **pruning.kept_attrs(result.kept, n_prunable),
            "threshold": result.threshold,
            "theta_start": "theta_start" if theta_start is not None else "theta0",
            **provenance,
        },
        config_digest=chain_digest,
        seed=settings.seed,
        inputs=_mask_inputs(args),
    )
    log(f"wrote {args.out}: round {t} {method} keeps {result.kept}/{n_prunable} prunable")
    if empty := pruning.empty_tensors(counts):
        # a global rule can empty a layer: the network's output then ignores its input
        log(
            f"warning: round {t}'s {method} mask keeps no weight of {', '.join(empty)}: its "
            "network gives the same output for every input (claims.md lists such rounds)"
        )


def _init_score(
    settings: ChainSettings, theta0: np.ndarray, table, data_dir: str | None
) -> np.ndarray:
    """The snip / grasp score of θ0 on the task's training examples (pruning at init), read
    from ``data_dir`` (the verb's --data-dir, else the settings' folder) as training reads
    them."""
    from ..keys import init_score_key
    from ..networks import kernel_vector
    from ..pruning_at_init import init_scores
    from ..tasks import make_task

    task = make_task(settings.task, settings.task_config, table, data_dir)
    if not hasattr(task, "loss"):
        raise ValueError(
            f"method {settings.method} needs a differentiable training loss; task "
            f"{settings.task} has none (control tasks are refused by the config check)"
        )
    examples = int((settings.method_config or {})["examples"])
    key = init_score_key(settings.seed, settings.task)
    return init_scores(settings.method, task, theta0, key, examples, kernel_vector(table))


def _permuted_ticket(settings: ChainSettings, source_path: str | None, theta0, table, t: int):
    """A permutation control of round t from the magnitude mask of the same chain and round:
    (PruneResult, theta_start or None, provenance attrs)."""
    from .. import pruning
    from ..keys import chain_key, round_key
    from ..permutations import (
        draw_permutations,
        permute_mask,
        permute_weights,
        permute_with_mask,
    )

    method = settings.method
    if not source_path:
        raise ValueError(f"method {method} needs --source-mask (the magnitude mask of round {t})")
    source_digests = settings.with_method(PERMUTED_METHOD).accepted_digests()
    arrays, attrs = read_artifact(source_path, "mask", expected_digest=source_digests)
    if int(attrs["round"]) != t or attrs["method"] != PERMUTED_METHOD:
        raise ArtifactError(
            f"{source_path} is the {attrs['method']} mask of round {attrs['round']}; "
            f"{method} needs the magnitude mask of round {t}"
        )
    source = artifact_vector(arrays, MASK_GROUP, table, source_path, "mask").astype(bool)
    rk = round_key(chain_key(settings.seed, settings.key_task, settings.strategy), t)
    perms = draw_permutations(method, source, table, rk)
    kept = int(attrs["kept_prunable"])
    if method == "weight_permuted":
        mask, theta_start = source, permute_weights(source, theta0, table, perms)
    else:
        mask, theta_start = (
            permute_mask(source, table, perms),
            permute_with_mask(theta0, table, perms),
        )
    provenance = {
        "source_mask": str(source_path),
        "source_mask_digest": str(attrs["config_digest"]),
    }
    return pruning.PruneResult(mask, float("nan"), kept), theta_start, provenance


def cmd_train(args) -> None:
    if (prepared := _prepared_train(args)) is not None:
        write_trained(prepared, train_prepared(prepared))


def _prepared_train(args, log=log) -> PreparedRound | None:
    """The `train` verb up to the training: settings, θ0 and the ticket read and checked,
    the round prepared (:func:`evotickets.rounds.prepare_round`). None when the round is a
    copy of another method's round 0 (``--round0-from``), which this writes instead."""
    settings = ChainSettings.from_json(args.settings)
    setup_jax(args.jax_cache, needs_gpu=True)
    check_method(settings)
    chain_digest = settings.digest()
    theta0, table, prunable, _init_attrs = load_init(args.init, settings)
    t = args.round
    mask, theta_start, _ = load_ticket(args.mask, table, settings.accepted_digests(), t, theta0)
    if settings.rewind and t > 0:  # late rewinding: start from round 0's rewind point
        theta_start = load_rewind_point(args.rewind_from, settings, table)
    elif args.rewind_from:  # it was ignored: the round started from θ0 without a word
        why = "round 0 trains from θ0" if t == 0 else "its settings' rewind is 0"
        raise ValueError(
            f"--rewind-from is for the later rounds of a chain that rewinds, and {why}: leave "
            "it out, or give the settings of the chain that rewinds (the config's `rewind`)"
        )
    if args.round0_from:  # another method's chain trained this round 0
        if t != 0:
            raise ValueError(f"--round0-from is for round 0, not round {t}")
        adopt_round0(settings, args.round0_from, mask, theta_start, theta0, table, args.out,
                     config_digest=chain_digest, inputs=(args.init, args.mask))  # fmt: skip
        return None
    return prepare_round(
        settings,
        table,
        prunable,
        theta_start,
        mask,
        t,
        args.out,
        config_digest=chain_digest,
        data_dir=args.data_dir or settings.data_dir,
        checkpoint_every=args.checkpoint_every,
        checkpoint_seconds=args.checkpoint_seconds,
        log=log,
        inputs=(args.init, args.mask, args.rewind_from),
    )


def cmd_round(args) -> None:
    """One pruning round in one process: ``mask`` (its output to ``--mask-log``), then
    ``train``. Why: the rule ``train`` ran them as two processes, and each start (Python, JAX,
    the task's data) costs about 1.5 s, as much as a short round's training on CPU.

    The numbers are those of the two verbs run one after the other (same functions, same
    keys). A failed mask step writes its error to the mask log too, and nothing is trained.
    A round whose two files are already valid and current is kept, not trained again: a job
    killed after its last write but before Snakemake recorded it is rerun, and the rule
    marks its outputs update() so that Snakemake does not delete them first."""
    if _finished(args):
        # the train log is this verb's stdout
        print(keep_finished(args.out, _kept_what(args), [args.mask_log]), flush=True)
        return
    # the two verbs read the attributes they know; only their output flags are named apart
    run_logged(args.mask_log, "mask", cmd_mask, _mask_args(args))
    cmd_train(_train_args(args))


def _mask_args(args) -> argparse.Namespace:
    """The `round` verb's arguments as the `mask` verb's (only the output is named apart)."""
    return argparse.Namespace(**{**vars(args), "out": args.mask_out})


def _train_args(args) -> argparse.Namespace:
    """The `round` verb's arguments as the `train` verb's (its mask is the one just made)."""
    return argparse.Namespace(**{**vars(args), "mask": args.mask_out})


REWIND_HELP = (
    "round 0's trained.h5 of this chain, whose rewind point rounds ≥ 1 start from "
    "(late rewinding: settings with rewind > 0)"
)
ROUND0_HELP = (
    "round 0's trained.h5 of another method's chain of the same (task, strategy, seed), "
    "copied instead of training round 0 again (the rule passes the donor's)"
)


#: What a member of `round-group` may name: the `round` verb's arguments (dashes as
#: underscores), each optional one None when absent.
MEMBER_REQUIRED = ("settings", "round", "init", "mask_out", "mask_log", "out", "log")
MEMBER_OPTIONAL = ("prev_trained", "source_mask", "rewind_from", "round0_from", "data_dir")


def cmd_round_group(args) -> None:
    """Round t of several chains in one process (rules ``train_seeds``,
    ``train_pairs_<task>_<strategy>``): each member is ``evotickets round`` with its own
    settings, inputs, outputs, logs and mid-round checkpoint.

    Why: a job's start (Python, JAX and the task's data: about 1.5 s) is then paid once per
    group, not once per chain, and the members share one task object
    (:func:`evotickets.rounds.shared_task`), one strategy object and one compiled program
    (:func:`evotickets.train.es.shared_programs`, for this verb's run only).

    ``--program sequential`` trains the members one after the other: the numbers are those
    of one job per chain, bitwise (a test checks it). ``vmapped`` first makes every member's
    mask, then trains the ES members of equal D_active and strategy as one vmapped program
    (:func:`evotickets.rounds.train_together`), which fills a GPU that one small network
    leaves idle. Its numbers are bitwise one job per chain's for GD and the paper's ES at
    ``make fidelity``'s settings, not at every shape nor for every strategy (see
    :func:`evotickets.train.es.run_rounds_lockstep`); on a CPU it is slower
    (bench 8), so it is not the default. A member's error goes to its train log (in vmapped training, to
    the log of every member training with it) and stops the group; the members written
    before it stay."""
    members = parse_members(args.members, MEMBER_REQUIRED, MEMBER_OPTIONAL)
    members = _inputs_first(members)
    from ..train.es import shared_programs

    log(f"{len(members)} members, {args.program}")
    with shared_programs():  # one strategy object and compiled program per kind of round
        if args.program == "vmapped":
            _run_members_vmapped(members, args)
        else:
            _run_members(members, args)


def _member_args(member: dict, args) -> argparse.Namespace:
    return argparse.Namespace(
        **member,
        jax_cache=args.jax_cache,
        checkpoint_every=args.checkpoint_every,
        checkpoint_seconds=args.checkpoint_seconds,
    )


def _kept_what(args) -> str:
    return f"{args.out} and its mask"


def _kept_files(margs) -> tuple[str, list[str]]:
    return _kept_what(margs), [margs.log, margs.mask_log]


def _run_members(members: list[dict], args) -> None:
    margs = [_member_args(member, args) for member in members]
    run_members(margs, "round", cmd_round, _finished, _kept_files)


def _run_members_vmapped(members: list[dict], args) -> None:
    """Every member's mask (in input order) and prepared round, then the training of all
    prepared rounds together; round-0 copies last, once their donors are written. Whether a
    copy is finished is judged then too, against its donor as this job leaves it: judged
    before, a donor deleted to recompute it failed the check, and one retrained here left
    the copy of its old round 0 standing."""
    copies = []

    def finished(margs) -> bool:
        return not margs.round0_from and _finished(margs)

    def prepare(margs, write):
        if margs.round0_from:  # a copy of its donor's round 0: after the donor is written
            # its mask now (a permutation control of this group reads it), unless a valid one
            # is there: rewritten, it would be newer than the rounds made from it
            if not _copy_mask_current(margs):
                run_logged(margs.mask_log, "mask", cmd_mask, _mask_args(margs))
            copies.append(margs)
            return None
        run_logged(margs.mask_log, "mask", cmd_mask, _mask_args(margs))
        return _prepared_train(_train_args(margs), log=write)

    margs = [_member_args(member, args) for member in members]
    run_members_together(margs, "round", prepare, finished, _kept_files, _in_program)
    for copy in copies:
        if _finished(copy):
            note_kept(margs.index(copy) + 1, len(margs), copy.out, *_kept_files(copy))
            continue
        if not Path(copy.mask_log).exists():  # its mask was kept above
            with open_log(copy.mask_log) as mask_log:
                mask_log.write(f"kept {copy.mask_out}: made by an earlier run\n")
        run_logged(copy.log, "round", cmd_train, _train_args(copy))


def _in_program(margs: argparse.Namespace) -> bool:
    """Whether a member trains in the vmapped group program: not a round-0 copy, nor a
    chain that trains alone (GD, dynamic sparse ES after round 0)."""
    from ..train.trainers import trains_in_lockstep

    settings = ChainSettings.from_json(margs.settings)
    return not margs.round0_from and trains_in_lockstep(settings, margs.round)


def _inputs_first(members: list[dict]) -> list[dict]:
    """The members in an order where each runs after the members whose outputs it reads (a
    permutation control reads the magnitude chain's mask of the round, a round-0 copy its
    donor's round 0), else in the given order. A cycle is a bad --members: refused."""
    made = {m[k]: i for i, m in enumerate(members) for k in ("mask_out", "out")}
    needs = [
        {made[p] for k in MEMBER_OPTIONAL if (p := m.get(k)) in made and made[p] != i}
        for i, m in enumerate(members)
    ]
    order: list[int] = []
    while len(order) < len(members):
        ready = [i for i in range(len(members)) if i not in order and needs[i] <= set(order)]
        if not ready:
            raise ValueError("--members read each other's outputs in a cycle: no order runs")
        order.append(ready[0])
    return [members[i] for i in order]


def _finished(args) -> bool:
    """Whether a member's round is already done: its mask and trained artifacts are valid
    for its settings and round and newer than every input (:func:`outputs_current`). A
    killed or failed `train` or group job leaves its finished rounds, and its rerun keeps
    them instead of computing them again. A round-0 copy's two outputs are judged each
    against what it reads: its mask reads the mask verb's inputs (:func:`_mask_inputs`) and,
    in a vmapped group, is written before its donor's round 0, which only the copy's
    trained.h5 reads, by its numbers (:func:`_copy_current`)."""
    if args.round0_from:
        return _copy_mask_current(args) and _copy_current(args)
    digest = ChainSettings.from_json(args.settings).accepted_digests()
    inputs = [args.init, args.prev_trained, args.source_mask, args.rewind_from]
    outputs = [(args.mask_out, "mask"), (args.out, "trained")]
    return outputs_current(outputs, digest, args.round, inputs)


def _copy_current(args) -> bool:
    """Whether a round-0 copy's trained.h5 is finished: valid for its settings, current for
    its other inputs (θ0, …: :func:`outputs_current`), and holding its donor's numbers
    bitwise (:func:`evotickets.rounds.same_round0`). Judged by the numbers, not by which
    file it was copied from or when: the donor changes when a method is removed or the
    methods are reordered, and a donor may be trained again to the same numbers; copied
    again, the round would be a new file to every later round of its chain, which would
    train again to the same numbers. It keeps naming in ``round0_from`` the file it was
    copied from. A donor of other numbers is copied, whatever its age (judged by times, a
    copy of an older donor with other numbers was kept)."""
    settings = ChainSettings.from_json(args.settings)
    others = [args.init, args.source_mask, args.rewind_from]
    return outputs_current(
        [(args.out, "trained")], settings.accepted_digests(), args.round, others
    ) and same_round0(settings, args.out, args.round0_from)


def _copy_mask_current(args) -> bool:
    """Whether a round-0 copy's mask is there, valid and newer than what the mask verb
    reads (the inputs its artifact records: :func:`cmd_mask`)."""
    digest = ChainSettings.from_json(args.settings).accepted_digests()
    return outputs_current([(args.mask_out, "mask")], digest, args.round, _mask_inputs(args))


def _mask_inputs(args) -> tuple:
    """What the mask verb reads, as its artifact records it: θ0, the previous round's
    trained.h5 and a permutation control's source mask (those given)."""
    return (args.init, args.prev_trained, args.source_mask)


def register(sub) -> None:
    sp = sub.add_parser("init", help="draw θ0 for one (task, seed)")
    chain_args(sp)
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_init)

    sp = sub.add_parser("mask", help="compute the mask of round t")
    chain_args(sp)
    sp.add_argument("--round", type=round_index, required=True)
    sp.add_argument("--init", required=True)
    sp.add_argument("--prev-trained")
    sp.add_argument("--source-mask", help="magnitude mask of round t (permutation controls)")
    sp.add_argument("--data-dir", help="data folder for snip / grasp's score (as for `train`)")
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_mask)

    sp = sub.add_parser("train", help="train the active weights of round t (ES or GD)")
    chain_args(sp)
    sp.add_argument("--round", type=round_index, required=True)
    sp.add_argument("--init", required=True)
    sp.add_argument("--mask", required=True)
    sp.add_argument("--data-dir")
    sp.add_argument("--out", required=True)
    sp.add_argument("--rewind-from", help=REWIND_HELP)
    sp.add_argument("--round0-from", help=ROUND0_HELP)
    sp.add_argument(
        "--checkpoint-every",
        type=int,
        help="save a mid-round checkpoint every N steps: generations for an ES, epochs for "
        "gd_adam, updates for gd_ppo (0: never; default: every "
        f"~120 s of work, or ${checkpoint.EVERY_GENERATIONS_ENV})",
    )
    sp.add_argument(
        "--checkpoint-seconds",
        type=float,
        help=f"seconds of work between checkpoints (default 120, or ${checkpoint.EVERY_SECONDS_ENV})",
    )
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("round", help="mask, then train, round t in one process (rule train)")
    chain_args(sp)
    sp.add_argument("--round", type=round_index, required=True)
    sp.add_argument("--init", required=True)
    sp.add_argument("--prev-trained")
    sp.add_argument("--source-mask", help="magnitude mask of round t (permutation controls)")
    sp.add_argument("--mask-out", required=True)
    sp.add_argument("--mask-log", required=True)
    sp.add_argument("--data-dir")
    sp.add_argument("--out", required=True)
    sp.add_argument("--rewind-from", help=REWIND_HELP)
    sp.add_argument("--round0-from", help=ROUND0_HELP)
    sp.add_argument("--checkpoint-every", type=int, help="as for `train`")
    sp.add_argument("--checkpoint-seconds", type=float, help="as for `train`")
    sp.set_defaults(func=cmd_round)

    sp = sub.add_parser(
        "round-group",
        help="round t of several chains in one process, each as `round` (rules train_seeds "
        "and train_pairs_<task>_<strategy>)",
    )
    members_args(sp, "round", "chain", MEMBER_REQUIRED, MEMBER_OPTIONAL, "the train log")
    sp.add_argument("--checkpoint-every", type=int, help="as for `train`")
    sp.add_argument("--checkpoint-seconds", type=float, help="as for `train`")
    sp.set_defaults(func=cmd_round_group)
