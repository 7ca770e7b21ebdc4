"""What the group verbs (``round-group``, ``transfer-group``) share: reading ``--members``,
running members one after the other, each as its own verb with its own log, and knowing when
a member is already done.

A group job trains round t of several chains in one process, so a job's start (Python, JAX
and the task's data: about 1.5 s) is paid once per group, not once per chain, and its
members share one task and strategy object and so one traced program (a second chain of a
kind would otherwise load it from the persistent compilation cache). Run one after the
other, a member is exactly the one-chain verb, with the same files, logs and checkpoints,
and its numbers are bitwise those of one job per chain.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import h5py

from ..artifacts import (
    H5_READ_ERRORS,
    NOT_LOGS,
    ArtifactError,
    ArtifactUnavailable,
    Digests,
    created_time,
    raise_if_unavailable,
    read_artifact,
    recorded_inputs,
    stale_inputs,
    written_at,
)
from ..checkpoint import checkpoint_path, remove_checkpoint
from ..durable import make_dirs
from ..names import DEFAULT_GROUP_PROGRAM, GROUP_PROGRAMS
from ..platform import JAX_CACHE_ENV
from ..rounds import PreparedRound, log, train_together
from .common import recompute_asked, round_index


def members_args(
    sp: argparse.ArgumentParser, verb: str, each: str, required: Sequence[str],
    optional: Sequence[str], log: str,
) -> None:  # fmt: skip
    """The arguments of a group verb whose members are ``verb``'s runs, one per ``each``."""
    sp.add_argument(
        "--members",
        required=True,
        help=f"JSON list, one object per {each} with the `{verb}` verb's arguments: "
        f"{', '.join(required)} (log: {log}), and optionally {', '.join(optional)}",
    )
    sp.add_argument("--jax-cache", default=os.environ.get(JAX_CACHE_ENV))
    sp.add_argument(
        "--program",
        choices=GROUP_PROGRAMS,
        default=DEFAULT_GROUP_PROGRAM,
        help="sequential (default): the members one after the other, bitwise one job per "
        "member; vmapped: ES members of equal D_active and strategy as one vmapped program "
        "(for a GPU; for GD and the paper's five ES bitwise one job per member's at make "
        "fidelity's settings, not at every shape: bench 9; EvoTF's members, and a D² "
        "strategy's whose group would exceed MEMORY_LIMIT, train one after the other)",
    )


def parse_members(text: str, required: Sequence[str], optional: Sequence[str]) -> list[dict]:
    """``--members`` as a list of member objects, each with every key of ``required``, the
    absent ones of ``optional`` as None, and ``settings`` as a JSON string; anything else is
    a ValueError that names the member and the keys it takes."""
    try:
        members = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--members is not JSON ({err}): pass a list of member objects") from err
    if not isinstance(members, list) or not members:
        raise ValueError("--members must be a non-empty JSON list of member objects")
    out = []
    for i, member in enumerate(members, 1):
        if not isinstance(member, dict):
            raise ValueError(f"member {i} of --members is not a JSON object")  # noqa: TRY004 - a usage error (exit 2), like the others
        missing = [k for k in required if k not in member]
        unknown = set(member) - set(required) - set(optional)
        if missing or unknown:
            raise ValueError(
                f"member {i} of --members lacks {missing} or has unknown keys "
                f"{sorted(unknown)}; it takes {[*required, *optional]}"
            )
        if "round" in member:  # as `--round` of the verbs (common.round_index)
            try:
                member["round"] = round_index(str(member["round"]))
            except argparse.ArgumentTypeError as err:
                raise ValueError(f"member {i} of --members: round {err}") from err
        settings = member["settings"]
        member = {k: None for k in optional} | member
        member["settings"] = settings if isinstance(settings, str) else json.dumps(settings)
        out.append(member)
    _refuse_shared_outputs(out)
    return out


def _refuse_shared_outputs(members: list[dict]) -> None:
    """Two members writing one file would train one chain twice (a vmapped group recorded a
    width of 2 for it), the second overwriting the first: a usage error, named."""
    seen: dict[str, int] = {}
    for i, member in enumerate(members, 1):
        for key in ("out", "mask_out"):
            path = member.get(key)
            if not isinstance(path, str) or not path:
                continue  # not a path: the verb's own argument check names it
            where = os.path.abspath(path)
            if where in seen:
                raise ValueError(
                    f"members {seen[where]} and {i} of --members both write {path}: list each "
                    "chain's round once"
                )
            seen[where] = i


def open_log(path: str | Path):
    """The log file ``path``, opened for writing, its folder made where missing. Refused
    (naming the fix) where it is a folder, or an existing regular file that is an HDF5
    file or named as no log is (:data:`NOT_LOGS`): a log option naming a finished
    trained.h5, summary.nc or config replaced it with text."""
    p = Path(path)
    if p.is_dir():
        raise ArtifactError(f"log {p} is a folder: name a log file in it (e.g. {p / 'train.log'})")
    if p.is_file() and (h5py.is_hdf5(p) or p.suffix.lower() in NOT_LOGS):
        raise ArtifactError(
            f"cannot write a log to {p}: it is an existing file that is not a log (an "
            "artifact, a summary, a config or a report), which writing would replace; name "
            f"the log file (e.g. {p.with_suffix('.log')})"
        )
    make_dirs(p.parent)
    return open(p, "w", encoding="utf-8")


def run_logged(path: str, verb: str, run: Callable, args) -> None:
    """``run(args)`` with its output in the log file ``path`` (:func:`open_log`); an error
    is written there too (as the CLI would print it), then raised."""
    with open_log(path) as log:
        try:
            with contextlib.redirect_stdout(log):
                run(args)
        except Exception as err:
            print(f"evotickets {verb}: error: {err}", file=log, flush=True)
            raise


def outputs_current(
    outputs: Sequence[tuple[str, str]],
    digest: Digests,
    round_index: int,
    inputs: Iterable[str | None],
) -> bool:
    """Whether a member's outputs, ``(path, artifact kind)`` pairs, are all there, valid for
    its settings' digest and its round, made from its inputs as they are now
    (:func:`artifacts.stale_inputs`), and newer than every input by the times the artifacts
    record of their writing (the last output after every input), and by mtime for an input
    no output records (artifacts from before the records). A killed or failed job leaves
    the rounds it had finished (its rule marks the outputs update(), so Snakemake does not
    delete them when a job starts, and profiles/default sets keep-incomplete, so not when
    one fails), and its rerun keeps them instead of training again. The records catch what
    mtimes do not: after a failed job Snakemake copies back each update() output's backup,
    an older round made from older inputs, with a fresh mtime. And mtimes see what the
    records rightly do not: Snakemake touches the outputs of every job it ran, a kept round
    too, so the next round's input is newer by mtime though it is the same file; judged by
    mtime, a harmless config change (a method removed, so another trains round 0) retrained
    every later round, to the same numbers.
    Never, when ``$EVOTICKETS_RECOMPUTE`` asks for recomputing. An output or input that is
    there but cannot be read now (:class:`~evotickets.artifacts.ArtifactUnavailable`: a
    lock, permissions, I/O) raises: the round is neither kept unread nor trained again over
    its file, and the job could not train without its inputs anyway."""
    if recompute_asked():
        return False
    paths = [Path(p) for p, _ in outputs]
    if not all(p.exists() for p in paths):
        return False
    inputs = [Path(p) for p in inputs if p]
    read_time = functools.cache(written_at)  # each input opened once, not once per check
    try:
        written, recorded = [], set()
        for path, kind in outputs:
            _, attrs = read_artifact(path, kind, expected_digest=digest)
            if int(attrs["round"]) != round_index or stale_inputs(path, attrs, read_time):
                return False
            written.append(created_time(attrs))
            recorded |= {os.path.abspath(p) for p in recorded_inputs(path, attrs)}
        oldest = min(p.stat().st_mtime for p in paths)

        # a missing input (a donor round deleted to recompute it) is not there yet; one that
        # an output records, and that has a write record itself, is the same file by its
        # record (checked above), whatever its mtime (an old artifact without one, put back
        # over a recorded input, is judged by mtime)
        def same_by_record(p: Path) -> bool:
            return os.path.abspath(p) in recorded and read_time(str(p)) is not None

        if not all(
            p.exists() and (same_by_record(p) or p.stat().st_mtime <= oldest) for p in inputs
        ):
            return False
        # the last output written after every input, by the records
        if None in written:
            return False
        return all((w := read_time(str(p))) is None or w <= max(written) for p in inputs)
    except ArtifactUnavailable:  # there but not readable now: never retrained over
        raise
    except ArtifactError:  # damaged or of other settings: not finished
        return False
    except H5_READ_ERRORS as err:
        raise_if_unavailable(getattr(err, "filename", None) or paths[0], err)
        return False  # damaged: not finished


def keep_finished(out: str, what: str, logs: Sequence[str]) -> str:
    """Keep a round that :func:`outputs_current` found finished: say so in its ``logs``
    (Snakemake deleted them before the job) and delete the mid-round checkpoint beside
    ``out`` that a kill between the artifact's rename and the checkpoint's removal leaves.
    Returns the line said."""
    line = f"kept {what}: finished by an earlier run"
    for path in logs:
        with open_log(path) as log:
            log.write(line + "\n")
    remove_checkpoint(checkpoint_path(out))
    return line


def note_kept(i: int, count: int, out: str, what: str, logs: Sequence[str]) -> None:
    """Member i of ``count`` trains nothing (:func:`keep_finished`); the group's log says so."""
    log(f"member {i}/{count}: {keep_finished(out, what, logs)}")


def run_members(
    members: Sequence[argparse.Namespace],
    verb: str,
    run: Callable,
    finished: Callable[[argparse.Namespace], bool],
    kept: Callable[[argparse.Namespace], tuple[str, Sequence[str]]],
) -> None:
    """Run each member (its verb's arguments, with ``round``, ``out`` and ``log``) as
    ``run(member)``, one after the other, its output in its own log; a member that is
    ``finished`` is kept instead, with ``kept(member)`` = (what is kept, the logs that say
    so). A member's error is in its log and stops the group; the members before it stay
    (their writes drop Snakemake's backups: :func:`evotickets.durable.drop_snakemake_backup`)."""
    for i, member in enumerate(members, 1):
        if finished(member):
            note_kept(i, len(members), member.out, *kept(member))
            continue
        log(f"member {i}/{len(members)}: round {member.round} → {member.out}")
        run_logged(member.log, verb, run, member)


def run_members_together(
    members: Sequence[argparse.Namespace],
    verb: str,
    prepare: Callable[[argparse.Namespace, Callable[[str], None]], PreparedRound | None],
    finished: Callable[[argparse.Namespace], bool],
    kept: Callable[[argparse.Namespace], tuple[str, Sequence[str]]],
    in_program: Callable[[argparse.Namespace], bool],
) -> None:
    """``--program vmapped``: prepare every member's round in order (``prepare(member, log)``,
    its output in its own log, None for a member it handled otherwise), then train all
    prepared rounds together (:func:`evotickets.rounds.train_together`: those of equal
    D_active and strategy as one vmapped program) and write each. Every call of that
    program computes the members that ``in_program`` says train in it, counted before any
    is found finished, so a rerun computes in the shapes of the first run. Each member's
    log stays open for its lines of the shared training. An error in a member's preparation
    is in its log; one in the shared training in the logs of the members it concerns (those
    of its program, or the ones that diverged), and the others' say the group stopped;
    either stops the group, and the members written before it stay (their writes drop
    Snakemake's backups: :func:`evotickets.durable.drop_snakemake_backup`)."""
    width = max(1, sum(in_program(m) for m in members))
    with contextlib.ExitStack() as files:
        prepared, logs = [], []
        for i, member in enumerate(members, 1):
            if finished(member):
                note_kept(i, len(members), member.out, *kept(member))
                continue
            log(f"member {i}/{len(members)}: round {member.round} → {member.out}")
            file = files.enter_context(open_log(member.log))
            write = _line_writer(file)
            try:
                with contextlib.redirect_stdout(file):
                    ready = prepare(member, write)
            except Exception as err:
                write(f"evotickets {verb}: error: {err}")
                raise
            if ready is not None:
                prepared.append(ready)
                logs.append(write)
        try:
            train_together(prepared, width)
        except Exception as err:
            # in the logs of the members it concerns; the others (written before it, or not
            # trained) say only that the group stopped
            failed = set(getattr(err, "rounds", [p.out_path for p in prepared]))
            for p, write in zip(prepared, logs, strict=True):
                if p.out_path in failed:
                    write(f"evotickets {verb}: error in the group's shared training: {err}")
                else:
                    write(
                        f"evotickets {verb}: the group stopped at an error in another "
                        "member's training (that member's log says which)"
                    )
            raise


def _line_writer(file) -> Callable[[str], None]:
    def write(line: str) -> None:
        print(line, file=file, flush=True)

    return write
