"""Tasks: what is optimised (data or environment, network, fitness, test metric), by name."""

from __future__ import annotations

import functools
import itertools
import json
from typing import Any

from ..names import (
    ANT_HEAVY_BACKEND,
    CONTROL_TASKS,
    DEFAULT_BRAX_BACKEND,
    DEFAULT_FITNESS_BATCH,
    DEFAULT_INIT_SCHEME,
    DEFAULT_KMNIST_SPLIT,
    DEFAULT_POPULATION_CHUNK,
    TASKS,
    VISION_INPUT_SHAPE,
    VISION_TASKS,
    VISION_WEIGHT_COUNTS,
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
        # θ0 reads only the policy's input and output sizes, which are the same for every brax
        # backend (tests/unit/test_control.py); init settings carry none, so take the one
        # every brax task accepts (ant_heavy refuses the others)
        task = make_task(name, {"hidden": settings["hidden"], "backend": ANT_HEAVY_BACKEND}, None)
        return init_policy_params(
            settings["hidden"],
            task.obs_dim,
            task.num_outputs,
            key,
            settings.get("init", DEFAULT_INIT_SCHEME),
            settings.get("policy_bias_init"),
        )
    shape = VISION_INPUT_SHAPE[name]
    return init_params(settings["network"], shape, key, settings.get("init", DEFAULT_INIT_SCHEME))


def _layer_table(settings: dict[str, Any]):
    """The layer table of θ0 for init settings, built once per process for equal settings:
    a control task builds its environment for it (seconds for brax), and ``check-config``
    asks both :func:`num_prunable` and :func:`num_weights` of every task."""
    return _layer_table_of(json.dumps(settings, sort_keys=True))


@functools.lru_cache(maxsize=64)
def _layer_table_of(settings_json: str):
    import jax

    from ..networks import layer_table

    settings = json.loads(settings_json)
    shapes = jax.eval_shape(lambda key: init_theta(settings, key), jax.random.key(0))
    return tuple(layer_table(shapes, bool(settings["prune_output_layer"])))


def num_prunable(settings: dict[str, Any]) -> int:
    """Prunable weights of θ0 for init settings (as :func:`init_theta` takes them), from the
    tensors' shapes: ``jax.eval_shape`` computes and compiles nothing. A control task still
    builds its environment for the observation size (seconds for brax)."""
    return sum(entry.size for entry in _layer_table(settings) if entry.prunable)


def num_weights(settings: dict[str, Any]) -> int:
    """All of θ0's weights, biases included: what round 0, whose mask keeps every weight,
    searches (as :func:`num_prunable`, from the shapes)."""
    return sum(entry.size for entry in _layer_table(settings))


def least_prunable(settings: dict[str, Any]) -> int | None:
    """A floor on a control policy's prunable weights from its hidden sizes alone (every
    hidden layer's kernel, and an input kernel of at least one input), without building its
    environment; None for a vision network, whose count :func:`num_prunable` gives at once."""
    hidden = settings.get("hidden")
    if not hidden:
        return None
    return hidden[0] + sum(a * b for a, b in itertools.pairwise(hidden))


def known_weight_counts(settings: dict[str, Any]) -> tuple[int, int] | None:
    """(prunable, all) weights of a vision network's θ0 from :data:`names.VISION_WEIGHT_COUNTS`,
    without JAX; None for a control policy or a network the table lacks (then
    :func:`num_prunable` and :func:`num_weights` compute them)."""
    name = settings.get("library_task", settings["task"])
    if name not in VISION_TASKS:
        return None
    key = (settings["network"], VISION_INPUT_SHAPE[name], bool(settings["prune_output_layer"]))
    return VISION_WEIGHT_COUNTS.get(key)


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
