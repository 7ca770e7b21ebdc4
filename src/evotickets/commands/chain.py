"""CLI verbs of the pruning chain: ``init`` (θ0), ``mask`` (round t's mask), ``train`` (round t).

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

from ..artifacts import ArtifactError, group, read_artifact, write_artifact
from ..config import digest, init_settings_for


def _setup_jax(cache_dir: str | None) -> None:
    """Persistent compilation cache shared by all jobs: chains with the same D_active (every
    seed and method at one round) compile once. Also honours EVOTICKETS_PLATFORM=cpu|gpu.

    EVOTICKETS_CPU_DEVICES=n (opt-in) exposes the CPU as n host devices, across which the task
    splits the population: XLA runs the small ops of the fitness loop on one core per device,
    so this is how one job uses several cores. Experimental: the fitness gather is a collective
    between host devices that share XLA's thread pool, and one ES-loop bench on 2 cores
    deadlocked in it (XLA aborts after 40 s). Snakemake's default, one job per core, needs it
    not. Ignored once JAX has run."""
    import jax

    n_cpu = int(os.environ.get("EVOTICKETS_CPU_DEVICES") or 1)
    if n_cpu > 1:
        try:
            jax.config.update("jax_num_cpu_devices", n_cpu)
        except RuntimeError:  # a backend is already up (e.g. the CLI called in-process)
            pass
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
    from ..networks import init_params, layer_table, prunable_vector, to_vector
    from ..tasks import task_input_shape

    theta0 = init_params(
        settings["network"], task_input_shape(settings["task"]), init_key(settings["seed"])
    )
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
    _, table, prunable, _ = _load_init(args.init, settings)
    t, method = args.round, settings["method"]
    n_prunable = int(prunable.sum())
    keep = pruning.remaining_count(n_prunable, settings["prune_fraction"], t)
    if t == 0:
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
            raise ArtifactError(f"{args.prev_trained} is round {attrs['round']}, need {t - 1}")
        prev_mask = to_vector(group(arrays, "mask"), table).astype(bool)
        theta = to_vector(group(arrays, "params"), table)
        sigma = to_vector(group(arrays, "sigma"), table)
        score = pruning.scores(method, theta, sigma)
        result = pruning.prune_to_count(score, prev_mask, prunable, keep)
    counts = pruning.layer_counts(result.mask, table)
    arrays = _mask_arrays(result.mask, table)
    arrays.update({f"layer_kept/{k}": np.int64(v) for k, v in counts.items()})
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
        },
        config_digest=chain_digest,
        seed=settings["seed"],
    )
    _log(f"wrote {args.out}: round {t} {method} keeps {result.kept}/{n_prunable} prunable")


def cmd_train(args) -> None:
    settings = json.loads(args.settings)
    _setup_jax(args.jax_cache)
    from ..keys import chain_key, round_key
    from ..networks import from_vector, to_vector
    from ..strategies import make_strategy
    from ..tasks import make_task
    from ..train.es import run_round

    chain_digest = digest(settings)
    theta0, table, prunable, _init_attrs = _load_init(args.init, settings)
    arrays, mask_attrs = read_artifact(args.mask, "mask", expected_digest=chain_digest)
    mask_tree = group(arrays, "mask")
    for e in table:
        if e.name not in mask_tree or tuple(mask_tree[e.name].shape) != e.shape:
            got = None if e.name not in mask_tree else tuple(mask_tree[e.name].shape)
            raise ArtifactError(
                f"mask {args.mask} does not fit the network: tensor {e.name} has shape {got}, "
                f"the network needs {e.shape}; delete it and rerun rule `mask`"
            )
    mask = to_vector(mask_tree, table).astype(bool)
    t = args.round
    if int(mask_attrs["round"]) != t:
        raise ArtifactError(f"{args.mask} is round {mask_attrs['round']}, expected {t}")
    data_dir = args.data_dir or settings.get("data_dir")
    task = make_task(settings["task"], settings["task_config"], table, data_dir)
    strategy = make_strategy(settings["strategy"], int(mask.sum()), settings["strategy_config"])
    rk = round_key(chain_key(settings["seed"], settings["task"], settings["strategy"]), t)
    label = (
        f"[{settings['task']}/{settings['strategy']}/{settings['method']}/"
        f"seed{settings['seed']}/iter{t:02d}]"
    )
    _log(f"{label} D_active {int(mask.sum())} of {mask.size}")
    res = run_round(
        task,
        strategy,
        theta0 * mask,
        mask,
        rk,
        num_generations=int(settings["es"]["num_generations"]),
        log_every=int(settings["es"]["log_every"]),
        log=_log,
        label=label,
    )
    out = {f"params/{k}": v for k, v in from_vector(res.theta, table).items()}
    out.update({f"sigma/{k}": v for k, v in from_vector(res.sigma, table).items()})
    out.update(_mask_arrays(mask, table))
    out.update(
        {
            "curves/best_fitness": res.best_fitness,
            "curves/mean_fitness": res.mean_fitness,
            "curves/nonfinite_count": res.nonfinite_count,
            "curves/eval_generation": res.eval_generation,
            "curves/eval_metric": res.eval_metric,
        }
    )
    write_artifact(
        args.out,
        "trained",
        out,
        {
            "round": t,
            "task": settings["task"],
            "strategy": settings["strategy"],
            "method": settings["method"],
            "metric_name": task.metric_name,
            "final_metric": res.final_metric,
            "d_active": int(mask.sum()),
            "kept_prunable": int((mask & prunable).sum()),
            "num_prunable": int(prunable.sum()),
            "remaining_fraction": float((mask & prunable).sum() / prunable.sum()),
            "nonfinite_total": int(res.nonfinite_count.sum()),
            **task.provenance(),
        },
        config_digest=chain_digest,
        seed=settings["seed"],
    )
    _log(
        f"{label} wrote {args.out}: {task.metric_name} {res.final_metric:.4f} in {res.seconds:.1f}s"
    )


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
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_mask)

    sp = sub.add_parser("train", help="evolve the active weights of round t")
    chain_args(sp)
    sp.add_argument("--round", type=int, required=True)
    sp.add_argument("--init", required=True)
    sp.add_argument("--mask", required=True)
    sp.add_argument("--data-dir")
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_train)
