"""Config loading and validation, and the per-chain settings the rules hand to the CLI.

Validation has two layers: unknown names first, with a did-you-mean (a typo in a strategy name
should say which one was meant), then the JSON schema for types and ranges, then the checks a
schema cannot express (antithetic strategies need an even population, the data folder must
exist). Every message names the offending key and how to fix it.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from .pruning import METHODS
from .strategies import ANTITHETIC, COMMON_KEYS, STRATEGIES, STRATEGY_KEYS
from .tasks import TASKS, default_hidden, is_control

SCHEMA_PATH = str(files("evotickets") / "config.schema.yaml")


class ConfigError(ValueError):
    """The config is wrong; the message says where and how to fix it."""


def _suggest(word: str, choices) -> str:
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _check_names(found, allowed, what: str) -> None:
    for name in found:
        if name not in allowed:
            raise ConfigError(
                f"unknown {what} {name!r}{_suggest(name, allowed)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )


def load_schema() -> dict:
    return yaml.safe_load(Path(SCHEMA_PATH).read_text())


def load_config(path: str | os.PathLike) -> dict:
    """Read a YAML config with the safe loader and validate it."""
    try:
        cfg = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys, got {type(cfg)}")
    return validate_config(cfg)


def validate_config(cfg: dict) -> dict:
    """Validate and return a copy with defaults filled in. Raises ConfigError."""
    import jsonschema

    schema = load_schema()
    cfg = copy.deepcopy(cfg)
    _check_names(cfg, schema["properties"], "config key")
    _check_names(cfg.get("tasks") or {}, TASKS, "task")
    _check_names(cfg.get("strategies") or {}, STRATEGIES, "strategy")
    _check_names(cfg.get("methods") or [], METHODS, "method")
    task_keys = schema["properties"]["tasks"]["additionalProperties"]["properties"]
    for task, tcfg in (cfg.get("tasks") or {}).items():
        _check_names(tcfg or {}, task_keys, f"key in tasks.{task}")
        _check_names(
            (tcfg or {}).get("strategies") or [],
            cfg.get("strategies") or {},
            f"strategy in tasks.{task}.strategies (not in the strategies block)",
        )
        _check_names(
            (tcfg or {}).get("es") or {},
            schema["properties"]["es"]["properties"],
            f"key in tasks.{task}.es",
        )
        overrides = (tcfg or {}).get("strategy_overrides") or {}
        _check_names(overrides, STRATEGIES, f"strategy in tasks.{task}.strategy_overrides")
        for s, o in overrides.items():
            _check_names(o, COMMON_KEYS | STRATEGY_KEYS[s], f"key for {s}")
    for s, scfg in (cfg.get("strategies") or {}).items():
        _check_names(scfg or {}, COMMON_KEYS | STRATEGY_KEYS[s], f"key for strategy {s}")
    _check_names(cfg.get("es") or {}, schema["properties"]["es"]["properties"], "key in es")

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.path) or "(top level)"
        raise ConfigError(f"config key {where}: {e.message}")
    for key, spec in schema["properties"].items():
        if "default" in spec:
            cfg.setdefault(key, spec["default"])
    cfg["es"].setdefault("log_every", 100)
    cfg.setdefault("resources", {})
    for k, spec in schema["properties"]["resources"]["properties"].items():
        cfg["resources"].setdefault(k, spec["default"])

    for task in cfg["tasks"]:
        for s in task_strategies(cfg, task):
            pop = strategy_settings(cfg, task, s)["population_size"]
            if s in ANTITHETIC and pop % 2:
                raise ConfigError(
                    f"strategies.{s}.population_size is {pop}, but {s} samples antithetic "
                    f"pairs and needs an even population; use {pop + 1}"
                )
    heavy = cfg["tasks"].get("ant_heavy")
    if heavy is not None and (heavy or {}).get("backend", "spring") != "generalized":
        from .tasks.control import ANT_HEAVY_BACKEND_ERROR

        raise ConfigError(
            ANT_HEAVY_BACKEND_ERROR.format(backend=(heavy or {}).get("backend", "spring"))
        )
    data_dir = cfg.get("data_dir")
    if data_dir and not Path(data_dir).is_dir() and set(cfg["tasks"]) - {"digits"}:
        raise ConfigError(
            f"data_dir {data_dir!r} does not exist; set data_dir to the folder holding "
            "mnist/, fashion-mnist/ and kmnist/, or remove it to download into the cache"
        )
    return cfg


def strategy_settings(cfg: dict, task: str, strategy: str) -> dict[str, Any]:
    """A strategy's hyperparameters for one task: the global block, then task overrides."""
    merged = dict(cfg["strategies"][strategy])
    overrides = (cfg["tasks"][task] or {}).get("strategy_overrides") or {}
    merged.update(overrides.get(strategy) or {})
    return merged


TASK_META_KEYS = ("strategy_overrides", "strategies", "es")


def task_strategies(cfg: dict, task: str) -> list[str]:
    """The strategies that run on ``task``: its own list, else every configured strategy."""
    return list((cfg["tasks"][task] or {}).get("strategies") or cfg["strategies"])


def chains(cfg: dict) -> list[tuple[str, str, str, int]]:
    """Every (task, strategy, method, seed) chain the config asks for."""
    return [
        (task, strategy, method, int(seed))
        for task in cfg["tasks"]
        for strategy in task_strategies(cfg, task)
        for method in cfg["methods"]
        for seed in cfg["seeds"]
    ]


ANALYSES = ("lmc", "landscape", "snr_magnitude", "layerwise")


def analysis_options(cfg: dict, name: str) -> dict:
    """Options of one analysis with the schema's defaults filled in."""
    spec = load_schema()["properties"]["analyses"]["properties"].get(name, {})
    given = (cfg.get("analyses") or {}).get(name) or {}
    defaults = {k: v["default"] for k, v in spec.get("properties", {}).items() if "default" in v}
    return {**defaults, **given}


def analysis_chains(cfg: dict, name: str) -> list[tuple[str, str, str, int]]:
    """The chains an analysis runs on: every chain unless the analyses block filters them.
    ``snr_magnitude`` needs a search distribution, so it skips gradient-descent strategies."""
    block = cfg.get("analyses")
    if block is None or name not in block.get("enabled", ANALYSES):
        return []
    keep = [
        c
        for c in chains(cfg)
        if c[0] in block.get("tasks", [c[0]])
        and c[1] in block.get("strategies", [c[1]])
        and c[2] in block.get("methods", [c[2]])
    ]
    if name == "snr_magnitude":
        keep = [c for c in keep if not c[1].startswith("gd_")]
    return keep


def chain_settings(cfg: dict, task: str, strategy: str, method: str, seed: int) -> dict:
    """Everything that determines one pruning chain's numbers (plus where its data lives)."""
    block = cfg["tasks"][task] or {}
    tcfg = {k: v for k, v in block.items() if k not in TASK_META_KEYS}
    return {
        "task": task,
        "task_config": tcfg,
        "strategy": strategy,
        "strategy_config": strategy_settings(cfg, task, strategy),
        "method": method,
        "seed": int(seed),
        "prune_fraction": cfg["prune_fraction"],
        "es": {**cfg["es"], **(block.get("es") or {})},
        "data_dir": cfg.get("data_dir"),
    }


def init_settings(cfg: dict, task: str, seed: int) -> dict:
    """What determines θ0: shared by every strategy and method of (task, seed)."""
    return init_settings_for(cfg["tasks"][task] or {}, task, seed)


def init_settings_for(task_config: dict, task: str, seed: int) -> dict:
    """:func:`init_settings` from a task's config block (as carried in chain settings)."""
    settings = {
        "task": task,
        "network": task_config.get("network", TASKS[task][1]),
        "prune_output_layer": bool(task_config.get("prune_output_layer", True)),
        "seed": int(seed),
    }
    if is_control(task):
        settings["hidden"] = [int(h) for h in task_config.get("hidden", default_hidden(task))]
    return settings


def digest(settings: dict) -> str:
    """A short hash of the settings that produced an artifact. ``data_dir`` is where the data
    live, not what they are (their content is checksummed), so it is left out."""
    canon = {k: v for k, v in settings.items() if k != "data_dir"}
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()[:16]
