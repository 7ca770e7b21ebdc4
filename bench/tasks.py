"""The two tasks the loop benches run: Pendulum (MLP, gymnax) and digits (CNN), with θ0, a
mask of a given remaining fraction, and a strategy, all built through the library."""

from __future__ import annotations

import jax
import numpy as np

from evotickets import pruning
from evotickets.networks import init_params, layer_table, prunable_vector, to_vector
from evotickets.strategies import make_strategy


def build(name: str, population: int, strategy: str = "sep_cma_es", remaining: float = 1.0):
    """(task, strategy, θ0, mask) for ``pendulum`` (200-step episodes, a tanh output: the
    task the earlier Pendulum rows timed), ``pendulum_paper`` (config/paper.yaml's Pendulum
    since 2026-12-05: the study's 500-step episodes, its clipped linear output and biases),
    ``digits``, ``digits_fidelity`` (the settings of config/fidelity.yaml) or ``mnist``;
    ``remaining`` is the kept fraction of prunable weights (a magnitude mask of θ0), 1.0 for
    round 0."""
    if name in ("pendulum", "pendulum_paper"):  # the library's task: the fitness path the ES runs
        from evotickets.tasks import init_theta, make_task

        cfg = {"hidden": [64, 64], "n_repeats": 8, "max_steps": 200, "n_test": 8}
        init = {"task": "pendulum", "network": "mlp", "hidden": [64, 64]}
        if name == "pendulum_paper":  # read from the file, as the workflow fills it in
            from pathlib import Path

            from evotickets.config import init_settings, load_config

            paper = load_config(Path(__file__).resolve().parents[1] / "config" / "paper.yaml")
            block = paper["tasks"]["pendulum"]
            keys = ("hidden", "n_repeats", "max_steps", "policy_output")
            cfg = {**{k: block[k] for k in keys}, "n_test": 8}
            init = init_settings(paper, "pendulum", 0)
        theta = init_theta(init, jax.random.key(0))
        table = layer_table(theta)
        task = make_task("pendulum", cfg, table)
        theta0 = to_vector(theta, table)
        hp = {"population_size": population, "std_init": 0.1, "mean_decay": 1e-4}
    elif name == "digits":
        from evotickets.tasks import make_task

        theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
        table = layer_table(theta)
        task = make_task("digits", {"batch_size": 256, "population_chunk": 32}, table)
        theta0 = to_vector(theta, table)
        hp = {"population_size": population, "std_init": 0.05, "mean_decay": 1e-4}
    elif name == "digits_fidelity":  # config/fidelity.yaml's digits task and σ0
        from evotickets.tasks import make_task

        theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
        table = layer_table(theta, prune_output_layer=True)
        task = make_task("digits", {"batch_size": 64, "population_chunk": 128}, table)
        theta0 = to_vector(theta, table)
        hp = {"population_size": population, "std_init": 0.05, "mean_decay": 1e-4}
        if strategy == "snes":
            hp["temperature"] = 12.0
    elif name == "mnist":  # the paper's CNN and batch; MNIST where at hand, else random images
        task, theta, table = _mnist_task()
        theta0 = to_vector(theta, table)
        hp = {"population_size": population, "std_init": 0.1, "mean_decay": 1e-4}
        if strategy == "snes":
            hp["temperature"] = 16.0
    else:
        raise ValueError(name)
    if strategy == "sep_cma_es":
        hp["elite_ratio"] = 0.5
    prunable = prunable_vector(table)
    keep = round(float(remaining * prunable.sum()))
    mask = np.ones(prunable.size, bool)
    if keep < prunable.sum():
        score = np.abs(theta0) + 1e-12  # magnitude; any nested mask of this size will do
        mask = pruning.prune_to_count(score, mask, prunable, keep).mask
    return task, make_strategy(strategy, int(mask.sum()), hp), theta0, mask


def _mnist_task():
    """The paper CNN on MNIST (batch 1,024), from ``BENCH_DATA_DIR`` or ``EVOTICKETS_DATA_DIR``
    when one holds mnist/, else on random images of MNIST's shape (timings do not care)."""
    import os
    from pathlib import Path

    from evotickets.tasks import make_task
    from evotickets.tasks.data import Dataset
    from evotickets.tasks.vision import VisionTask

    theta = init_params("cnn", (28, 28, 1), jax.random.key(0))
    table = layer_table(theta)
    cfg = {"network": "cnn", "batch_size": 1024, "population_chunk": 128}
    for var in ("BENCH_DATA_DIR", "EVOTICKETS_DATA_DIR"):
        data_dir = os.environ.get(var)
        if data_dir and (Path(data_dir) / "mnist").is_dir():
            return make_task("mnist", cfg, table, data_dir), theta, table
    rng = np.random.default_rng(0)
    ds = Dataset("random", rng.normal(size=(8192, 28, 28, 1)).astype(np.float32),
                 rng.integers(0, 10, 8192).astype(np.int32),
                 rng.normal(size=(1024, 28, 28, 1)).astype(np.float32),
                 rng.integers(0, 10, 1024).astype(np.int32))  # fmt: skip
    return (
        # the task is MNIST's (its input shape, names.VISION_INPUT_SHAPE); its data are random
        VisionTask("mnist", ds, "cnn", table, batch_size=1024, population_chunk=128),
        theta,
        table,
    )
