"""CLI verbs of the pruning chain: ``init`` (θ0), ``mask`` (round t's mask), ``train`` (round t).

``train`` dispatches on the strategy: an evosax ES (:mod:`evotickets.train.es`) or, for the
``gd_*`` strategies, gradient descent (:mod:`evotickets.train.gd`). Both start from
m ⊙ theta_start, where theta_start is θ0 unless the mask artifact carries its own
(``weight_permuted``).

I/O lives here: read artifacts, call the pure library, write artifacts. Each verb takes the
chain settings as one JSON string (the rule passes it as a param, so Snakemake reruns a job
whose settings changed) and checks the config digests of what it reads.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from .. import checkpoint
from ..artifacts import ArtifactError, ensure_writable, group, read_artifact, write_artifact
from ..config import digest, init_settings_for


def _setup_jax(cache_dir: str | None, needs_gpu: bool = False) -> None:
    """Persistent compilation cache shared by all jobs: chains with the same D_active (every
    seed and method at one round) compile once. Also honours EVOTICKETS_PLATFORM=cpu|gpu
    (a GPU verb stops with a clear error if a GPU was asked for and there is none).

    EVOTICKETS_CPU_DEVICES=n (opt-in) exposes the CPU as n host devices, across which the task
    splits the population: XLA runs the small ops of the fitness loop on one core per device,
    so this is how one job uses several cores. Experimental: the fitness gather is a collective
    between host devices that share XLA's thread pool, and one ES-loop bench on 2 cores
    deadlocked in it (XLA aborts after 40 s). Snakemake's default, one job per core, needs it
    not. Ignored once JAX has run."""
    import jax

    from ..platform import configure

    n_cpu = int(os.environ.get("EVOTICKETS_CPU_DEVICES") or 1)
    if n_cpu > 1:
        try:
            jax.config.update("jax_num_cpu_devices", n_cpu)
        except RuntimeError:  # a backend is already up (e.g. the CLI called in-process)
            pass
    configure(needs_gpu=needs_gpu)

    if cache_dir:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def _log(msg: str) -> None:
    print(msg, flush=True)


def _load_init(path: str, settings: dict):
    """θ0 as a flat vector, its layer table and prunable flags, checked against the chain."""
    from ..networks import layer_table, prunable_vector, to_vector

    expected = digest(
        init_settings_for(settings["task_config"], settings["task"], settings["seed"])
    )
    arrays, attrs = read_artifact(path, "init", expected_digest=expected)
    theta0 = group(arrays, "params")
    table = layer_table(theta0, prune_output_layer=bool(attrs["prune_output_layer"]))
    return to_vector(theta0, table), table, prunable_vector(table), attrs


def cmd_init(args) -> None:
    settings = json.loads(args.settings)
    _setup_jax(args.jax_cache)
    from ..keys import init_key
    from ..networks import layer_table, prunable_vector, to_vector
    from ..tasks import init_theta

    theta0 = init_theta(settings, init_key(settings["seed"]))
    table = layer_table(theta0, settings["prune_output_layer"])
    vec = to_vector(theta0, table)
    if not np.all(np.isfinite(vec)):
        raise ValueError("θ0 contains NaN or inf; check the network's initialisers")
    write_artifact(
        args.out,
        "init",
        {f"params/{k}": v for k, v in theta0.items()},
        {
            "task": settings["task"],
            "network": settings["network"],
            "prune_output_layer": settings["prune_output_layer"],
            "num_params": int(vec.size),
            "num_prunable": int(prunable_vector(table).sum()),
        },
        config_digest=digest(settings),
        seed=settings["seed"],
    )
    _log(f"wrote {args.out}: {vec.size} parameters, {int(prunable_vector(table).sum())} prunable")


def _mask_arrays(mask: np.ndarray, table, prefix="mask") -> dict[str, np.ndarray]:
    from ..networks import from_vector

    return {f"{prefix}/{k}": v for k, v in from_vector(mask, table).items()}


def cmd_mask(args) -> None:
    from .. import pruning
    from ..networks import to_vector

    settings = json.loads(args.settings)
    chain_digest = digest(settings)
    theta0, table, prunable, _ = _load_init(args.init, settings)
    t, method = args.round, settings["method"]
    _check_method(settings)
    n_prunable = int(prunable.sum())
    keep = pruning.remaining_count(n_prunable, settings["prune_fraction"], t)
    theta_start, provenance = None, {}
    if method in pruning.PERMUTATION_METHODS:
        _setup_jax(args.jax_cache)
        result, theta_start, provenance = _permuted_ticket(
            settings, args.source_mask, theta0, table, t
        )
    elif t == 0:
        result = pruning.PruneResult(
            mask=np.ones_like(prunable), threshold=float("nan"), kept=n_prunable
        )
    elif method == "random":
        _setup_jax(args.jax_cache)
        import jax

        from ..keys import chain_key, mask_key, round_key

        ck = chain_key(settings["seed"], settings["task"], settings["strategy"])
        perm = np.asarray(jax.random.permutation(mask_key(round_key(ck, t)), n_prunable))
        result = pruning.random_mask(prunable, keep, perm)
    else:
        if not args.prev_trained:
            raise ValueError(f"method {method} at round {t} needs --prev-trained")
        arrays, attrs = read_artifact(args.prev_trained, "trained", expected_digest=chain_digest)
        if int(attrs["round"]) != t - 1:
            raise ArtifactError(
                f"{args.prev_trained} is round {attrs['round']}, need {t - 1}: pass "
                f"iter{t - 1:02d}/trained.h5 of this chain (made by rule `train`)"
            )
        prev_mask = to_vector(group(arrays, "mask"), table).astype(bool)
        theta = to_vector(group(arrays, "params"), table)
        sigma = (
            to_vector(group(arrays, "sigma"), table) if method in pruning.SIGMA_METHODS else None
        )
        score = pruning.scores(method, theta, sigma, theta0=theta0)
        result = pruning.prune_to_count(score, prev_mask, prunable, keep)
    counts = pruning.layer_counts(result.mask, table)
    arrays = _mask_arrays(result.mask, table)
    arrays.update({f"layer_kept/{k}": np.int64(v) for k, v in counts.items()})
    if theta_start is not None:  # the ticket starts from other weights than θ0
        arrays.update(_mask_arrays(theta_start, table, prefix="theta_start"))
    write_artifact(
        args.out,
        "mask",
        arrays,
        {
            "round": t,
            "method": method,
            "task": settings["task"],
            "strategy": settings["strategy"],
            "kept_prunable": result.kept,
            "num_prunable": n_prunable,
            "remaining_fraction": result.kept / n_prunable,
            "threshold": result.threshold,
            "theta_start": "theta_start" if theta_start is not None else "theta0",
            **provenance,
        },
        config_digest=chain_digest,
        seed=settings["seed"],
    )
    _log(f"wrote {args.out}: round {t} {method} keeps {result.kept}/{n_prunable} prunable")


def _check_method(settings: dict) -> None:
    from ..config import method_applies
    from ..names import SIGMA_METHODS, is_gd

    method, strategy = settings["method"], settings["strategy"]
    if is_gd(strategy) and method in SIGMA_METHODS:
        raise ValueError(
            f"method {method} is undefined for {strategy}: gradient "
            "descent has no search distribution, so there is no σ to divide by; the workflow "
            "skips this combination"
        )
    if not method_applies(method, strategy):
        raise ValueError(
            f"method {method} runs only for Sep-CMA-ES (for {strategy} it equals snr); "
            "the workflow skips this combination"
        )


def _permuted_ticket(settings: dict, source_path: str | None, theta0, table, t: int):
    """A permutation control of round t from the magnitude mask of the same chain and round:
    (PruneResult, theta_start or None, provenance attrs)."""
    from .. import pruning
    from ..keys import chain_key, round_key
    from ..networks import to_vector
    from ..permutations import draw_permutations, permute_mask, permute_weights

    method = settings["method"]
    if not source_path:
        raise ValueError(f"method {method} needs --source-mask (the magnitude mask of round {t})")
    source_digest = digest({**settings, "method": "magnitude"})
    arrays, attrs = read_artifact(source_path, "mask", expected_digest=source_digest)
    if int(attrs["round"]) != t or attrs["method"] != "magnitude":
        raise ArtifactError(
            f"{source_path} is the {attrs['method']} mask of round {attrs['round']}; "
            f"{method} needs the magnitude mask of round {t}"
        )
    source = to_vector(group(arrays, "mask"), table).astype(bool)
    rk = round_key(chain_key(settings["seed"], settings["task"], settings["strategy"]), t)
    perms = draw_permutations(method, source, table, rk)
    kept = int(attrs["kept_prunable"])
    if method == "weight_permuted":
        mask, theta_start = source, permute_weights(source, theta0, table, perms)
    else:
        mask, theta_start = permute_mask(source, table, perms), None
    provenance = {"source_mask": str(source_path), "source_mask_digest": source_digest}
    return pruning.PruneResult(mask, float("nan"), kept), theta_start, provenance


def load_ticket(path: str, table, expected_digest: str, t: int, theta0: np.ndarray):
    """(mask, starting weights, attrs) of round t from a mask artifact: the starting weights
    are the artifact's ``theta_start`` where it has one (weight_permuted), θ0 otherwise."""
    arrays, attrs = read_artifact(path, "mask", expected_digest=expected_digest)
    from ..networks import to_vector

    for prefix in ("mask", "theta_start"):
        tree = group(arrays, prefix)
        if prefix == "theta_start" and not tree:
            continue
        for e in table:
            if e.name not in tree or tuple(tree[e.name].shape) != e.shape:
                got = None if e.name not in tree else tuple(tree[e.name].shape)
                raise ArtifactError(
                    f"{prefix} of {path} does not fit the network: tensor {e.name} has shape "
                    f"{got}, the network needs {e.shape}; delete it and rerun rule `train`"
                )
    if int(attrs["round"]) != t:
        raise ArtifactError(
            f"{path} is round {attrs['round']}, expected {t}: pass "
            f"iter{t:02d}/mask.h5 of this chain (made by rule `train`)"
        )
    mask = to_vector(group(arrays, "mask"), table).astype(bool)
    start = group(arrays, "theta_start")
    theta_start = to_vector(start, table) if start else theta0
    return mask, theta_start, attrs


def cmd_train(args) -> None:
    settings = json.loads(args.settings)
    _setup_jax(args.jax_cache, needs_gpu=True)
    _check_method(settings)
    chain_digest = digest(settings)
    theta0, table, prunable, _init_attrs = _load_init(args.init, settings)
    t = args.round
    mask, theta_start, _ = load_ticket(args.mask, table, chain_digest, t, theta0)
    train_ticket(
        settings,
        table,
        prunable,
        theta_start,
        mask,
        t,
        args.out,
        config_digest=chain_digest,
        data_dir=args.data_dir or settings.get("data_dir"),
        checkpoint_every=args.checkpoint_every,
        checkpoint_seconds=args.checkpoint_seconds,
    )


def train_ticket(
    settings: dict,
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
) -> None:
    """Train round t of a chain from m ⊙ theta_start and write its trained.h5: the ES of
    ``settings["strategy"]``, or gradient descent for the ``gd_*`` strategies (the dispatch).
    The round key is the chain's, so every ticket of a (task, strategy, seed) sees the same
    noise or minibatches."""
    from ..keys import chain_key, round_key
    from ..names import is_gd
    from ..networks import from_vector
    from ..tasks import make_task

    task = make_task(settings["task"], settings["task_config"], table, data_dir)
    rk = round_key(chain_key(settings["seed"], settings["task"], settings["strategy"]), t)
    label = label or (
        f"[{settings['task']}/{settings['strategy']}/{settings['method']}/"
        f"seed{settings['seed']}/iter{t:02d}]"
    )
    _log(f"{label} D_active {int(mask.sum())} of {mask.size}")
    ensure_writable(out_path)  # fail now, not after hours of training
    # The chain digest covers every setting of the round (ES loop or GD trainer); the
    # generation count and chunk enter the ES round's digest, GD trainers check their own.
    gd = is_gd(settings["strategy"])
    ckpt = checkpoint.for_round(
        out_path,
        chain_digest=config_digest,
        round_index=t,
        strategy=settings["strategy"],
        mask=mask,
        theta0=theta_start * mask,
        num_generations=0 if gd else int(settings["es"]["num_generations"]),
        log_every=1 if gd else int(settings["es"]["log_every"]),
        every_generations=checkpoint_every,
        every_seconds=checkpoint_seconds,
        log=_log,
    )
    if gd:
        theta, sigma, curves, metric, seconds, attrs = _train_gd(
            settings, task, theta_start, mask, rk, label, ckpt
        )
    else:
        theta, sigma, curves, metric, seconds, attrs = _train_es(
            settings, task, theta_start, mask, rk, label, ckpt
        )
    out = {f"params/{k}": v for k, v in from_vector(theta, table).items()}
    if sigma is not None:
        out.update({f"sigma/{k}": v for k, v in from_vector(sigma, table).items()})
    out.update(_mask_arrays(mask, table))
    out.update({f"curves/{k}": v for k, v in curves.items()})
    out.update({f"task_state/{k}": v for k, v in attrs.pop("task_state", {}).items()})
    write_artifact(
        out_path,
        "trained",
        out,
        {
            "round": t,
            "task": settings["task"],
            "strategy": settings["strategy"],
            "method": settings["method"],
            "metric_name": task.metric_name,
            "final_metric": metric,
            "d_active": int(mask.sum()),
            "kept_prunable": int((mask & prunable).sum()),
            "num_prunable": int(prunable.sum()),
            "remaining_fraction": float((mask & prunable).sum() / prunable.sum()),
            **attrs,
            **task.provenance(),
            **(extra_attrs or {}),
        },
        config_digest=config_digest,
        seed=settings["seed"],
    )
    ckpt.remove()  # only now that the artifact is complete
    _log(f"{label} wrote {out_path}: {task.metric_name} {metric:.4f} in {seconds:.1f}s")


def _train_es(settings, task, theta_start, mask, rk, label, ckpt=None):
    from ..strategies import make_strategy
    from ..train.es import run_round

    strategy = make_strategy(settings["strategy"], int(mask.sum()), settings["strategy_config"])
    res = run_round(
        task,
        strategy,
        theta_start * mask,
        mask,
        rk,
        num_generations=int(settings["es"]["num_generations"]),
        log_every=int(settings["es"]["log_every"]),
        log=_log,
        label=label,
        checkpoint=ckpt,
    )
    curves = {
        "best_fitness": res.best_fitness,
        "mean_fitness": res.mean_fitness,
        "nonfinite_count": res.nonfinite_count,
        "eval_generation": res.eval_generation,
        "eval_metric": res.eval_metric,
    }
    attrs = {
        "trainer": "es",
        "nonfinite_total": int(res.nonfinite_count.sum()),
        "task_state": res.task_state,
    }
    return res.theta, res.sigma, curves, res.final_metric, res.seconds, attrs


def _train_ppo(settings, task, theta_start, mask, rk, label, ckpt=None):
    from ..train.ppo import train_ppo

    res = train_ppo(
        task,
        theta_start,
        mask,
        rk,
        settings["strategy_config"],
        log=_log,
        label=label,
        checkpoint=ckpt,
    )
    curves = {
        "train_return": -res.mean_fitness,
        "eval_update": res.eval_generation,
        "eval_metric": res.eval_metric,
    }
    attrs = {
        "trainer": "ppo",
        "search_distribution": "none: PPO (gradient descent), so no sigma/ group and no SNR",
        "nonfinite_total": 0,
        "task_state": res.task_state,
    }
    return res.theta, None, curves, res.final_metric, res.seconds, attrs


def _train_gd(settings, task, theta_start, mask, rk, label, ckpt=None):
    from ..train.gd import run_adam_round

    if settings["strategy"] == "gd_ppo":
        return _train_ppo(settings, task, theta_start, mask, rk, label, ckpt)
    hp = settings["strategy_config"]
    res = run_adam_round(
        task,
        theta_start,
        mask,
        rk,
        lr=float(hp["lr"]),
        batch_size=int(hp["batch_size"]),
        epochs=int(hp["epochs"]),
        log=_log,
        label=label,
        checkpoint=ckpt,
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
        "seconds_per_epoch": res.seconds_per_epoch,
    }
    return res.theta, None, curves, res.final_metric, res.seconds, attrs


def cmd_round(args) -> None:
    """One pruning round in one process: ``mask`` (its output to ``--mask-log``), then
    ``train``. Why: the rule ``train`` ran them as two processes, and each start (Python, JAX,
    the task's data) costs about 1.5 s, as much as a short round's training on CPU.

    The numbers are those of the two verbs run one after the other (same functions, same
    keys). A failed mask step writes its error to the mask log too, and nothing is trained."""
    import contextlib

    # the two verbs read the attributes they know; only their output flags are named apart
    mask_args = argparse.Namespace(**{**vars(args), "out": args.mask_out})
    with open(args.mask_log, "w") as log:
        try:
            with contextlib.redirect_stdout(log):
                cmd_mask(mask_args)
        except Exception as err:
            print(f"evotickets mask: error: {err}", file=log, flush=True)
            raise
    train_args = argparse.Namespace(**{**vars(args), "mask": args.mask_out})
    cmd_train(train_args)


def chain_args(sp: argparse.ArgumentParser) -> None:
    """Arguments every chain verb takes."""
    sp.add_argument("--settings", required=True, help="chain settings as JSON")
    sp.add_argument("--jax-cache", default=os.environ.get("EVOTICKETS_JAX_CACHE"))


def register(sub) -> None:
    sp = sub.add_parser("init", help="draw θ0 for one (task, seed)")
    chain_args(sp)
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_init)

    sp = sub.add_parser("mask", help="compute the mask of round t")
    chain_args(sp)
    sp.add_argument("--round", type=int, required=True)
    sp.add_argument("--init", required=True)
    sp.add_argument("--prev-trained")
    sp.add_argument("--source-mask", help="magnitude mask of round t (permutation controls)")
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_mask)

    sp = sub.add_parser("train", help="train the active weights of round t (ES or GD)")
    chain_args(sp)
    sp.add_argument("--round", type=int, required=True)
    sp.add_argument("--init", required=True)
    sp.add_argument("--mask", required=True)
    sp.add_argument("--data-dir")
    sp.add_argument("--out", required=True)
    sp.add_argument(
        "--checkpoint-every",
        type=int,
        help="save a mid-round checkpoint every N generations (0: never; default: every "
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
    sp.add_argument("--round", type=int, required=True)
    sp.add_argument("--init", required=True)
    sp.add_argument("--prev-trained")
    sp.add_argument("--source-mask", help="magnitude mask of round t (permutation controls)")
    sp.add_argument("--mask-out", required=True)
    sp.add_argument("--mask-log", required=True)
    sp.add_argument("--data-dir")
    sp.add_argument("--out", required=True)
    sp.add_argument("--checkpoint-every", type=int, help="as for `train`")
    sp.add_argument("--checkpoint-seconds", type=float, help="as for `train`")
    sp.set_defaults(func=cmd_round)
