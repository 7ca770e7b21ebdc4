"""Tasks: what is optimised (data, network, fitness, test metric), made by config name."""

from __future__ import annotations

from typing import Any

TASKS = {
    # task name → (dataset name, default network)
    "digits": ("digits", "cnn_small"),
    "mnist": ("mnist", "cnn"),
    "fashion_mnist": ("fashion_mnist", "cnn"),
    "kmnist": ("kmnist", "cnn"),
}


def task_input_shape(name: str) -> tuple[int, ...]:
    """Input shape without loading data (θ0 needs only this)."""
    return (8, 8, 1) if name == "digits" else (28, 28, 1)


def make_task(name: str, cfg: dict[str, Any], table, data_dir: str | None = None):
    """Build a task from its config block. Imports are local so that light CLI verbs
    (mask, table) need not import the data stack."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    from .data import load_dataset
    from .vision import VisionTask

    dataset_name, default_network = TASKS[name]
    dataset = load_dataset(dataset_name, data_dir)
    return VisionTask(
        name=name,
        dataset=dataset,
        network=cfg.get("network", default_network),
        table=table,
        batch_size=int(cfg.get("batch_size", 1024)),
        population_chunk=int(cfg.get("population_chunk", 32)),
    )
