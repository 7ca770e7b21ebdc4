"""Tasks: what is optimised (data or environment, network, fitness, test metric), by name."""

from __future__ import annotations

import itertools
from typing import Any

from ..names import (
    CONTROL_IO_SIZES,
    CONTROL_TASKS,
    DEFAULT_BRAX_BACKEND,
    DEFAULT_FITNESS_BATCH,
    DEFAULT_INIT_SCHEME,
    DEFAULT_KMNIST_SPLIT,
    DEFAULT_POPULATION_CHUNK,
    TASKS,
    VISION_INPUT_SHAPE,
    VISION_KERNEL_SIZES,
    VISION_TASKS,
    VISION_WEIGHT_TOTALS,
    default_hidden,
    is_control,
)


def _check(name: str) -> None:
    if name not in TASKS:
        import difflib

        close = difflib.get_close_matches(name, list(TASKS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown task {name!r}{hint}; choose one of {sorted(TASKS)}")


def init_theta(settings: dict[str, Any], key) -> dict:
    """θ0 as a flat dict from init settings (the JSON form of :class:`evotickets.settings.InitSettings`)."""
    from ..networks import init_params, init_policy_params

    name = settings.get("library_task", settings["task"])
    _check(name)
    if is_control(name):
        # θ0 reads only the policy's input and output sizes: from their table, with no
        # environment built (it was built here with a backend of its own, seconds for brax)
        obs_dim, num_outputs = CONTROL_IO_SIZES[name]
        return init_policy_params(
            settings["hidden"],
            obs_dim,
            num_outputs,
            key,
            settings.get("init", DEFAULT_INIT_SCHEME),
            settings.get("policy_bias_init"),
        )
    shape = VISION_INPUT_SHAPE[name]
    return init_params(settings["network"], shape, key, settings.get("init", DEFAULT_INIT_SCHEME))


def weight_counts(settings: dict[str, Any]) -> tuple[int, int]:
    """(prunable, all) weights of θ0 for init settings (as :func:`init_theta` takes them),
    without JAX: the prunable kernels (:func:`prunable_kernel_sizes`), and all weights, a
    vision network's from :data:`names.VISION_WEIGHT_TOTALS`, a control policy's every Dense
    layer's kernel and bias (no bias is ever pruned, as
    :func:`evotickets.networks.layer_table`). The workflow's validation checks a config's
    rounds and strategies against them before any job; tests/unit/test_names.py holds them
    equal to the counts of θ0's shapes."""
    kernels = _kernel_sizes(settings)
    prunable = sum(_prunable(kernels, settings))
    name = settings.get("library_task", settings["task"])
    if is_control(name):
        units = [*settings["hidden"], CONTROL_IO_SIZES[name][1]]  # one bias per unit
        return prunable, sum(kernels) + sum(units)
    return prunable, VISION_WEIGHT_TOTALS[(settings["network"], VISION_INPUT_SHAPE[name])]


def prunable_kernel_sizes(settings: dict[str, Any]) -> list[int]:
    """The sizes of θ0's prunable kernels, layer by layer, for init settings, without JAX:
    what a global mask spreads its kept weights over. The output layer's kernel counts only
    with ``prune_output_layer``."""
    return _prunable(_kernel_sizes(settings), settings)


def _prunable(kernels: list[int], settings: dict[str, Any]) -> list[int]:
    return kernels if settings["prune_output_layer"] else kernels[:-1]


def _kernel_sizes(settings: dict[str, Any]) -> list[int]:
    """Every kernel's size, layer by layer (the output layer's last): a control policy's
    from its hidden sizes and :data:`names.CONTROL_IO_SIZES`, a vision network's from
    :data:`names.VISION_KERNEL_SIZES`."""
    name = settings.get("library_task", settings["task"])
    _check(name)
    if is_control(name):
        obs_dim, num_outputs = CONTROL_IO_SIZES[name]
        sizes = [obs_dim, *settings["hidden"], num_outputs]
        return [a * b for a, b in itertools.pairwise(sizes)]
    key = (settings["network"], VISION_INPUT_SHAPE[name])
    if key not in VISION_KERNEL_SIZES:
        raise ValueError(
            f"no weight counts for network {settings['network']!r} on {name}'s "
            f"{VISION_INPUT_SHAPE[name]} images: add them to names.VISION_KERNEL_SIZES and "
            "VISION_WEIGHT_TOTALS (tests/unit/test_names.py checks them against the "
            "network's shapes)"
        )
    return list(VISION_KERNEL_SIZES[key])


def make_task(name: str, cfg: dict[str, Any], table, data_dir: str | None = None):
    """Build a task from its config block (config entry ``name``; its ``task`` key, when
    present, names the library task the entry runs). Imports are local so that light CLI verbs
    (mask, table) need not import the data or environment stacks."""
    name = cfg.get("task", name)
    _check(name)
    if is_control(name):
        from .control import ControlTask

        return ControlTask(
            name=name,
            table=table,
            hidden=tuple(cfg.get("hidden", default_hidden(name))),
            n_repeats=int(cfg.get("n_repeats", 8)),
            max_steps=int(cfg.get("max_steps", 200 if CONTROL_TASKS[name] == "gymnax" else 500)),
            n_test=int(cfg.get("n_test", 16)),
            backend=str(cfg.get("backend", DEFAULT_BRAX_BACKEND)),
            obs_normalization=cfg.get("obs_normalization"),
            torso_mass_factor=float(cfg.get("torso_mass_factor", 1.5)),
            policy_output=cfg.get("policy_output"),
        )
    from .data import load_dataset
    from .vision import VisionTask

    dataset_name, default_network = VISION_TASKS[name]
    if dataset_name == "kmnist":  # validate_config makes the split explicit in every digest
        split = cfg.get("kmnist_split", DEFAULT_KMNIST_SPLIT)
        dataset = load_dataset(dataset_name, data_dir, kmnist_split=split)
    else:
        dataset = load_dataset(dataset_name, data_dir)
    return VisionTask(
        name=name,
        dataset=dataset,
        network=cfg.get("network", default_network),
        table=table,
        batch_size=int(cfg.get("batch_size", DEFAULT_FITNESS_BATCH)),
        population_chunk=int(cfg.get("population_chunk", DEFAULT_POPULATION_CHUNK)),
    )
