"""CLI verbs of the analyses: ``lmc``, ``landscape``, ``snr-magnitude``, ``layerwise``.

Each reads finished artifacts only (nothing is retrained) and writes one HDF5 artifact that
records the write times of the artifacts it read (``inputs``), so that a report can refuse an
analysis of rounds that were written again since (:func:`artifacts.stale_inputs`). A verb
given the same arguments, input bytes and software as an earlier run puts back that run's
result instead of computing it again (:mod:`evotickets.analysis_memo`).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np

from .. import analysis_memo
from ..artifacts import (
    LAYERWISE_ARRAYS,
    MASK_GROUP,
    PARAMS_GROUP,
    SIGMA_GROUP,
    TASK_STATE_GROUP,
    ArtifactError,
    Digests,
    artifact_vector,
    check_output,
    group,
    read_artifact,
    rerun_hint,
    write_artifact,
)
from ..names import LMC_KINDS
from ..platform import setup_jax
from ..rounds import load_init
from ..settings import ChainSettings, LandscapeOptions, LmcOptions, analysis_digest
from .common import chain_args, recompute_asked


def _put_back(verb: str, args, inputs: list[str], identity: dict) -> tuple[str, bool]:
    """Check that the artifact ``identity`` names may be written at ``args.out`` from
    ``inputs`` (:func:`check_output`, before any work), then return (key, whether the
    artifact is back): the key under which ``verb``'s result for these arguments and input
    bytes is kept (:func:`analysis_memo.analysis_key`), and whether a kept result of it now
    stands at ``args.out`` (never under ``$EVOTICKETS_RECOMPUTE``). The check comes first,
    so that a kept result never replaces a finished artifact of another analysis or seed."""
    check_output(args.out, "analysis", inputs, identity)
    key = analysis_memo.analysis_key(verb, args, inputs)
    if recompute_asked() or (kept := analysis_memo.restore(args.out, key)) is None:
        return key, False
    print(
        f"{verb}: {args.out} put back from {kept}, the result of these exact arguments, "
        f"input files and software; EVOTICKETS_RECOMPUTE=1 computes it again",
        flush=True,
    )
    return key, True


def _keep(verb: str, args, inputs: list[str], key: str) -> None:
    """Keep what ``verb`` wrote under ``key`` if its inputs still are the bytes the key was
    taken of: a round written again while the verb read it (a second writer of one round)
    would file a result of the new bytes under the old bytes' key. (Should the old bytes
    come back, :func:`analysis_memo.restore` refuses that result by its record of them.)"""
    if analysis_memo.analysis_key(verb, args, inputs) == key:
        analysis_memo.remember(args.out, key)


def _trained(paths, table, chain_digest=None):
    """θ, σ, mask (flat vectors), round and task state of each trained artifact.

    σ is None for gradient descent (gd_adam, gd_ppo: no search distribution, no ``sigma/``
    group); LMC and landscapes need only θ, so they run on GD chains too."""

    out = []
    for p in paths:
        arrays, attrs = read_artifact(p, "trained", expected_digest=chain_digest)
        theta = artifact_vector(arrays, PARAMS_GROUP, table, p, "trained")
        if bad := int(np.sum(~np.isfinite(theta))):
            # a diverged round stops before its write (rounds._check_finite), so this file
            # was damaged or edited; a NaN network's predictions are constant, and LMC gave a
            # barrier of 0 between it and a finished one
            raise ArtifactError(
                f"{p}: {bad} of its {theta.size} weights are NaN or infinite, which no "
                f"finished round writes: {rerun_hint(Path(p), 'trained')}"
            )
        out.append(
            {
                "path": str(p),
                "round": int(attrs["round"]),
                "theta": theta,
                "sigma": artifact_vector(arrays, SIGMA_GROUP, table, p, "trained", optional=True),
                "mask": artifact_vector(arrays, MASK_GROUP, table, p, "trained").astype(bool),
                "task_state": group(arrays, TASK_STATE_GROUP),
                "remaining": float(attrs["remaining_fraction"]),
            }
        )
    rounds = [r["round"] for r in out]
    if len(set(rounds)) < len(rounds):  # a path given twice: its rows were stored twice
        twice = sorted({r for r in rounds if rounds.count(r) > 1})
        raise ValueError(f"rounds {twice} are given twice: pass each round's trained.h5 once")
    return sorted(out, key=lambda r: r["round"])


def _task(settings: ChainSettings, table):
    from ..tasks import make_task

    return make_task(settings.task, settings.task_config, table, settings.data_dir)


def _task_state(task, trained: dict) -> dict:
    """The task state a trained network was evaluated with (e.g. brax observation
    statistics); the task's initial state where the artifact has none (vision)."""
    saved = {k: np.asarray(v) for k, v in trained["task_state"].items()}
    return saved or task.init_state()


def _right_digest(args, own: Digests) -> Digests:
    """The settings digests the --right rounds may carry: the --settings chain's for
    consecutive rounds, else that of --right-settings (another seed's chain for ``seeds``,
    the transfer chain for ``es_gd``), which is then required."""
    from ..settings import TransferSettings

    if args.kind == "consecutive":
        if args.right_settings:
            raise ValueError(
                "lmc --kind consecutive: --right-settings is not used (both ends are rounds "
                "of the --settings chain); drop it"
            )
        return own
    if not args.right_settings:
        raise ValueError(
            f"lmc --kind {args.kind} needs --right-settings: the settings JSON of the "
            + ("other seed's chain" if args.kind == "seeds" else "transfer chain")
            + " whose rounds --right lists (the workflow's rule passes it)"
        )
    kind = ChainSettings if args.kind == "seeds" else TransferSettings
    try:
        return kind.from_json(args.right_settings, "--right-settings").accepted_digests()
    except ValueError as err:
        raise ValueError(f"--right-settings of lmc --kind {args.kind}: {err}") from err


def _check_pairs(kind: str, left: list[dict], right: list[dict]) -> None:
    """The i-th --left and --right rounds (each sorted by round) form a pair of ``kind``:
    round t with t + 1 for consecutive rounds, the same round for seeds and es_gd; no round
    twice on a side. A wrong pairing gave a barrier filed under the wrong round (or a round
    against itself, 0), without an error."""
    if len(left) != len(right):
        raise ValueError(
            f"lmc needs as many --left as --right artifacts ({len(left)} ≠ {len(right)})"
        )
    for side, rounds in (("--left", left), ("--right", right)):
        seen = [r["round"] for r in rounds]
        if len(set(seen)) != len(seen):
            raise ValueError(f"lmc {side} lists a round twice (rounds {seen})")
    step = 1 if kind == "consecutive" else 0
    for a, b in zip(left, right):
        if b["round"] != a["round"] + step:
            want = "round t + 1 beside round t" if step else "the same round on both sides"
            raise ValueError(
                f"lmc --kind {kind} pairs {want}: {a['path']} (round {a['round']}) came "
                f"beside {b['path']} (round {b['round']})"
            )


def cmd_lmc(args) -> None:
    """Barriers between pairs (left[i], right[i]), e.g. consecutive rounds or two seeds."""
    from ..analysis import connectivity, evaluation

    settings = ChainSettings.from_json(args.settings)
    opts = LmcOptions.from_json(args.analysis or "{}", "--analysis")
    named = {"analysis": "lmc", "seed": settings.seed}  # as written below
    inputs = [args.init, *args.left, *args.right]
    key, kept = _put_back("lmc", args, inputs, named)
    if kept:
        return
    setup_jax(args.jax_cache)
    _, table, _, _ = load_init(args.init, settings)
    # --left is always the --settings chain's rounds; --right too for consecutive rounds,
    # else another seed's chain or the transfer's, whose settings --right-settings gives
    own = settings.accepted_digests()
    left = _trained(args.left, table, own)
    right = _trained(args.right, table, _right_digest(args, own))
    _check_pairs(args.kind, left, right)
    task = _task(settings, table)
    alphas = connectivity.alpha_grid(opts.alphas)
    barriers, errors = [], []
    _, error_fn = evaluation.loss_and_error(task)  # one compilation for every pair
    for a, b in zip(left, right):  # each end under its own task state (see connectivity)
        try:
            err, bar = connectivity.lmc_with_states(
                partial(error_fn, batched=True),
                a["theta"],
                b["theta"],
                _task_state(task, a),
                _task_state(task, b),
                alphas,
            )
        except ValueError as e:
            raise ValueError(f"lmc {args.kind}: {a['path']} ↔ {b['path']}: {e}") from e
        errors.append(err), barriers.append(bar)
        print(f"lmc {args.kind}: {a['path']} ↔ {b['path']}: barrier {bar:.4f}", flush=True)
    write_artifact(
        args.out,
        "analysis",
        {
            "alpha": alphas,
            "errors": np.asarray(errors),
            "barrier": np.asarray(barriers),
            "round_left": np.asarray([a["round"] for a in left]),
            "round_right": np.asarray([b["round"] for b in right]),
            "remaining_left": np.asarray([a["remaining"] for a in left]),
        },
        {
            "analysis": "lmc",
            "pair_kind": args.kind,
            "mask_convention": "union (pruned entries are 0 on both sides)",
            "task_state_convention": "each end its own; interpolated with the same α between",
            "left": json.dumps([a["path"] for a in left]),
            "right": json.dumps([b["path"] for b in right]),
            "error": "1 - test accuracy" if hasattr(task, "dataset") else "-test return",
        },
        config_digest=analysis_digest(settings, opts),
        seed=settings.seed,
        inputs=(args.init, *[a["path"] for a in left], *[b["path"] for b in right]),
    )
    _keep("lmc", args, inputs, key)


def _nonfinite_note(curvatures: np.ndarray) -> str:
    """Why a round's mean curvature is NaN, for its log: the directions along which the loss
    left the finite range within |ξ| ≤ 1. Their mean is left NaN (summary.nc's curvature_1d
    too) rather than taken over the other directions, which would drop the sharpest."""
    bad = int((~np.isfinite(curvatures)).sum())
    if not bad:
        return ""
    return (
        f" ({bad} of {curvatures.size} directions reach a non-finite loss within |ξ| ≤ 1, so "
        "the round's mean curvature is NaN; loss_1d in the artifact has each direction's losses)"
    )


def cmd_landscape(args) -> None:
    """1D curvature and a 2D filter-normalised surface at every round of a chain."""
    from ..analysis import evaluation, landscape
    from ..keys import gaussians, landscape_key

    settings = ChainSettings.from_json(args.settings)
    opts = LandscapeOptions.from_json(args.analysis or "{}", "--analysis")
    named = {"analysis": "landscape", "seed": settings.seed}  # as written below
    inputs = [args.init, *args.trained]
    key, kept = _put_back("landscape", args, inputs, named)
    if kept:
        return
    setup_jax(args.jax_cache)
    _, table, _, _ = load_init(args.init, settings)
    rounds = _trained(args.trained, table, settings.accepted_digests())
    task = _task(settings, table)
    n_dirs = int(opts.directions)
    xis = np.linspace(-1.0, 1.0, int(opts.xi_points))
    grid = np.linspace(-1.0, 1.0, int(opts.grid_points)) * float(opts.grid_extent)
    norm = str(opts.direction_norm)
    size = rounds[0]["theta"].size

    def draw(purpose: str, index: int, shape: tuple[int, ...]) -> np.ndarray:
        key = landscape_key(settings.seed, settings.key_task, purpose, index)
        return gaussians(key, shape)

    # one random pattern for every round's 2D axes; each round masks it and rescales it to
    # its own filters
    d1, d2 = draw("2d", 0, (size,)), draw("2d", 1, (size,))
    curv, curves, surfaces = [], [], []
    loss_all, _ = evaluation.loss_and_error(task, int(opts.eval_examples))
    for r in rounds:
        loss_fn = partial(loss_all, state=_task_state(task, r))
        g = draw("1d", int(r["round"]), (n_dirs, size))
        dirs = landscape.directions_1d(g, r["theta"], r["mask"], table, norm)
        losses = landscape.projection_1d(loss_fn, r["theta"], dirs, xis)
        k = landscape.quadratic_curvature(xis, losses)
        e1, e2 = landscape.directions_2d(d1, d2, r["theta"], r["mask"], table)
        surf = landscape.surface_2d(loss_fn, r["theta"], e1, e2, grid)
        curv.append(k), curves.append(losses), surfaces.append(surf)
        print(
            f"landscape round {r['round']}: curvature {np.mean(k):.4f}{_nonfinite_note(k)}",
            flush=True,
        )
    write_artifact(
        args.out,
        "analysis",
        {
            "xi": xis,
            "grid": grid,
            "round": np.asarray([r["round"] for r in rounds]),
            "remaining": np.asarray([r["remaining"] for r in rounds]),
            "curvature": np.asarray(curv),  # (round, direction)
            "loss_1d": np.asarray(curves),  # (round, direction, xi)
            "surface_2d": np.asarray(surfaces),  # (round, x, y)
        },
        {
            "analysis": "landscape",
            "directions_from": "JAX keys: keys.landscape_key(seed, task, '1d', round), "
            "('2d', 0 | 1)",
            "direction_norm_1d": norm,
            "direction_norm_2d": "filter, per round",
        },
        config_digest=analysis_digest(settings, opts),
        seed=settings.seed,
        inputs=(args.init, *[r["path"] for r in rounds]),
    )
    _keep("landscape", args, inputs, key)


def cmd_snr_magnitude(args) -> None:
    """Spearman ρ between SNR and |θ| per round, against round 0, and both thresholds."""
    from .. import pruning
    from ..analysis import correlation

    settings = ChainSettings.from_json(args.settings)
    inputs = [args.init, *args.trained]
    named = {"analysis": "snr_magnitude", "seed": settings.seed}
    key, kept = _put_back("snr-magnitude", args, inputs, named)
    if kept:
        return
    _, table, prunable, _ = load_init(args.init, settings)
    rounds = _trained(args.trained, table, settings.accepted_digests())
    n = int(prunable.sum())
    rows = []
    first = rounds[0]
    # the chain's own SNR definition (snr_study chains are scored as the study scored them)
    score = pruning.snr_score_of(settings.method)
    snr0 = pruning.scores(score, first["theta"], first["sigma"])
    mag0 = np.abs(first["theta"])
    for r in rounds:
        keep = pruning.remaining_count(n, settings.prune_fraction, r["round"] + 1)
        row = correlation.snr_magnitude_round(
            r["theta"], r["sigma"], r["mask"], prunable, keep, snr_method=score
        )
        active = r["mask"] & prunable
        snr = pruning.scores(score, r["theta"], r["sigma"])
        row["rho_snr_vs_round0"] = correlation.spearman(snr[active], snr0[active])
        row["rho_magnitude_vs_round0"] = correlation.spearman(
            np.abs(r["theta"])[active], mag0[active]
        )
        rows.append(row)
    keys = sorted(rows[0])
    write_artifact(
        args.out,
        "analysis",
        {
            "round": np.asarray([r["round"] for r in rounds]),
            "remaining": np.asarray([r["remaining"] for r in rounds]),
            **{k: np.asarray([row[k] for row in rows]) for k in keys},
        },
        {"analysis": "snr_magnitude"},
        config_digest=analysis_digest(settings),
        seed=settings.seed,
        inputs=(args.init, *[r["path"] for r in rounds]),
    )
    _keep("snr-magnitude", args, inputs, key)


def cmd_layerwise(args) -> None:
    """Kept ratio, mean |θ| and mean σ per tensor per round."""
    from ..analysis import correlation

    settings = ChainSettings.from_json(args.settings)
    inputs = [args.init, *args.trained]
    named = {"analysis": "layerwise", "seed": settings.seed}
    key, kept = _put_back("layerwise", args, inputs, named)
    if kept:
        return
    _, table, _, _ = load_init(args.init, settings)
    rounds = _trained(args.trained, table, settings.accepted_digests())
    names = [e.name for e in table]
    stats = [correlation.layerwise(r["theta"], r["sigma"], r["mask"], table) for r in rounds]
    arrays = {
        "round": np.asarray([r["round"] for r in rounds]),
        "remaining": np.asarray([r["remaining"] for r in rounds]),
    }
    for q in LAYERWISE_ARRAYS:
        arrays[q] = np.asarray([[s[n][q] for n in names] for s in stats])  # (round, tensor)
    write_artifact(
        args.out,
        "analysis",
        arrays,
        {"analysis": "layerwise", "tensors": json.dumps(names)},
        config_digest=analysis_digest(settings),
        seed=settings.seed,
        inputs=(args.init, *[r["path"] for r in rounds]),
    )
    _keep("layerwise", args, inputs, key)


def register(sub) -> None:
    def common(sp):
        chain_args(sp)
        sp.add_argument("--init", required=True)
        sp.add_argument("--analysis", help="analysis options as JSON")
        sp.add_argument("--out", required=True)

    sp = sub.add_parser("lmc", help="linear mode connectivity barriers between pairs")
    common(sp)
    sp.add_argument(
        "--kind",
        required=True,
        choices=LMC_KINDS,
        help="consecutive rounds of one chain, two seeds' chains, or ES against its GD transfer",
    )
    sp.add_argument("--left", nargs="+", required=True, help="rounds of the --settings chain")
    sp.add_argument("--right", nargs="+", required=True)
    sp.add_argument(
        "--right-settings",
        help="settings JSON of the --right rounds' chain (--kind seeds: the other seed's "
        "chain; es_gd: the transfer chain); checked against each --right artifact",
    )
    sp.set_defaults(func=cmd_lmc)

    for name, func, help_ in (
        ("landscape", cmd_landscape, "1D curvature and 2D loss surface per round"),
        ("snr-magnitude", cmd_snr_magnitude, "SNR vs magnitude rankings per round"),
        ("layerwise", cmd_layerwise, "kept ratio and weight statistics per layer"),
    ):
        sp = sub.add_parser(name, help=help_)
        common(sp)
        sp.add_argument("--trained", nargs="+", required=True)
        sp.set_defaults(func=func)
