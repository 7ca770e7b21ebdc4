"""CLI verb ``transfer``: retrain a source setting's ticket of round t in a target setting.

A ticket is (mask_t, θ0) of a source chain (task, strategy, method, seed): the mask artifact of
round t and the source's θ0 (or the mask's own ``theta_start``, for the permutation controls). It is
trained by the target's trainer (an ES or GD strategy) on the target task, with the target
chain's round key, so it sees the same search noise or minibatches as the target's own tickets
and differs from them only in the ticket. Nothing here is task-specific: any two settings whose
networks have the same tensors and shapes can exchange tickets (a mismatch is an error naming
both). The artifact's attrs name the source files and their config digests.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..config import refuse_dynamic_source
from ..platform import setup_jax
from ..rounds import (
    PreparedRound,
    load_init,
    load_ticket,
    log,
    prepare_round,
    train_prepared,
    write_trained,
)
from ..settings import TransferSettings
from .common import chain_args, round_index
from .group import (
    keep_finished,
    members_args,
    outputs_current,
    parse_members,
    run_members,
    run_members_together,
)


def check_compatible(source_table, target_table, where: str) -> None:
    """The source ticket must have exactly the target network's tensors and shapes."""
    src = {e.name: e.shape for e in source_table}
    tgt = {e.name: e.shape for e in target_table}
    for name in sorted(set(src) | set(tgt)):
        if src.get(name) != tgt.get(name):
            raise ValueError(
                f"{where}: the ticket does not fit the target network: tensor {name} has shape "
                f"{src.get(name)} in the source and {tgt.get(name)} in the target (the settings "
                "must use the same network and input/output sizes)"
            )


def cmd_transfer(args) -> None:
    """Round t of a transfer. A round already valid and current is kept, not trained again,
    as the `round` verb keeps its own (the rule marks the output update(), so Snakemake does
    not delete it before the job, and a job that then fails leaves it)."""
    if _finished(args):
        print(keep_finished(args.out, args.out, []), flush=True)  # the log is this stdout
        return
    prepared = _prepared_transfer(args)
    write_trained(prepared, train_prepared(prepared))


def _prepared_transfer(args, log=log) -> PreparedRound:
    """The `transfer` verb up to the training: both θ0 and the ticket read and checked, the
    target's round prepared (:func:`evotickets.rounds.prepare_round`)."""
    settings = TransferSettings.from_json(args.settings)
    setup_jax(args.jax_cache, needs_gpu=True)  # a whole round, as `train` trains one
    src, tgt, name, t = settings.source, settings.target, settings.transfer, args.round
    src_desc = src.label
    tgt_desc = f"{tgt.task}/{tgt.strategy}"
    where = f"transfer {name} (source {src_desc}, target {tgt_desc}, seed {settings.seed})"

    refuse_dynamic_source(src.method, where)
    src_theta0, src_table, src_prunable, src_init_attrs = load_init(args.source_init, src)
    tgt_theta0, tgt_table, tgt_prunable, _ = load_init(args.target_init, tgt)
    check_compatible(src_table, tgt_table, where)
    mask, theta_start, mask_attrs = load_ticket(
        args.source_mask, src_table, src.accepted_digests(), t, src_theta0
    )
    if mask_attrs["method"] != src.method:
        raise ValueError(f"{where}: {args.source_mask} is a {mask_attrs['method']} mask")
    if not np.array_equal(src_prunable, tgt_prunable):
        raise ValueError(
            f"{where}: the source prunes {int(src_prunable.sum())} weights and the target "
            f"{int(tgt_prunable.sum())} (e.g. one prunes its output layer), so the ticket's "
            "round t would not be at the target's round-t sparsity it is compared with; give "
            "both tasks the same prune_output_layer"
        )
    return prepare_round(
        tgt,
        tgt_table,
        tgt_prunable,
        theta_start,
        mask,
        t,
        args.out,
        config_digest=settings.digest(),
        data_dir=args.data_dir or settings.data_dir,
        label=f"[transfer {name}: {src_desc} → {tgt_desc} seed{settings.seed}/iter{t:02d}]",
        extra_attrs={
            "transfer_name": name,
            "transfer_kind": settings.kind,
            "source_task": src.task,
            "source_strategy": src.strategy,
            "source_method": src.method,
            "source_mask": str(args.source_mask),
            "source_config_digest": str(mask_attrs["config_digest"]),
            "source_init": str(args.source_init),
            "source_init_digest": str(src_init_attrs["config_digest"]),
            "source_remaining_fraction": float(mask_attrs["remaining_fraction"]),
            "source_theta_start": str(mask_attrs.get("theta_start", "theta0")),
            "target_task": tgt.task,
            "target_strategy": tgt.strategy,
            "theta0_equals_target_init": bool(np.array_equal(src_theta0, tgt_theta0)),
        },
        log=log,
        inputs=(args.source_init, args.source_mask, args.target_init),
    )


#: What a member of `transfer-group` names: the `transfer` verb's arguments (dashes as
#: underscores; ``log`` is its transfer.log).
MEMBER_REQUIRED = (
    "settings", "round", "source_init", "source_mask", "target_init", "out", "log",
)  # fmt: skip
MEMBER_OPTIONAL = ("data_dir",)


def cmd_transfer_group(args) -> None:
    """Round t of a transfer for several seeds in one process (rule ``transfer_seeds``), each
    member exactly the ``transfer`` verb with its own files and log, sharing the task,
    strategy and compiled program (see :mod:`evotickets.commands.group`): one after the
    other (``--program sequential``, bitwise), or the ES seeds as one vmapped program
    (``vmapped``; see ``round-group``).
    A member whose trained.h5 is already valid and newer than its inputs (a killed job's
    finished seed) is kept. A member's error goes to its log and stops the group."""
    from ..train.es import shared_programs

    members = parse_members(args.members, MEMBER_REQUIRED, MEMBER_OPTIONAL)
    margs = [argparse.Namespace(**m, jax_cache=args.jax_cache) for m in members]
    log(f"{len(members)} members, {args.program}")
    with shared_programs():
        if args.program == "vmapped":
            run_members_together(
                margs, "transfer", _prepared_transfer, _finished, _kept_files, _in_program
            )
        else:
            run_members(margs, "transfer", cmd_transfer, _finished, _kept_files)


def _in_program(margs: argparse.Namespace) -> bool:
    """Whether a member trains in the vmapped group program: not one whose target trains
    alone (GD)."""
    from ..train.trainers import trains_in_lockstep

    return trains_in_lockstep(TransferSettings.from_json(margs.settings).target, margs.round)


def _kept_files(margs) -> tuple[str, list[str]]:
    return margs.out, [margs.log]


def _finished(margs) -> bool:
    """Whether a member's transfer round is done: its trained.h5 valid and newer than its
    inputs (a killed job's finished seed)."""
    inputs = (margs.source_init, margs.source_mask, margs.target_init)
    digest = TransferSettings.from_json(margs.settings).accepted_digests()
    return outputs_current([(margs.out, "trained")], digest, margs.round, inputs)


def register(sub) -> None:
    sp = sub.add_parser(
        "transfer", help="retrain round t's ticket of a source setting in a target setting"
    )
    chain_args(sp)
    sp.add_argument("--round", type=round_index, required=True)
    sp.add_argument("--source-init", required=True, help="the source's init.h5 (θ0)")
    sp.add_argument("--source-mask", required=True, help="the source's mask.h5 of round t")
    sp.add_argument("--target-init", required=True, help="the target's init.h5 (its network)")
    sp.add_argument("--data-dir")
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_transfer)

    sp = sub.add_parser(
        "transfer-group",
        help="round t of a transfer for several seeds in one process (rule transfer_seeds)",
    )
    members_args(sp, "transfer", "seed", MEMBER_REQUIRED, MEMBER_OPTIONAL, "its transfer.log")
    sp.set_defaults(func=cmd_transfer_group)
