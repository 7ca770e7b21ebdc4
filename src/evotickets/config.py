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
from .tasks import TASKS

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


def _schema_fix(error, where: str) -> str:
    """How to fix a JSON-schema violation, from the failing subschema."""
    sub = error.schema if isinstance(error.schema, dict) else {}
    kind = {"integer": "an integer", "number": "a number", "string": "a string"}
    what = kind.get(str(sub.get("type")), "a value")
    bounds = [
        f"{op} {sub[key]}"
        for key, op in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if key in sub
    ]
    if error.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return f"fix: set {where} to {what} {' and '.join(bounds)}"
    if error.validator == "type":
        return f"fix: set {where} to {kind.get(str(sub.get('type')), sub.get('type'))}"
    if error.validator == "enum":
        return f"fix: use one of {sub['enum']}"
    if error.validator == "minItems":
        return f"fix: give {where} at least {sub['minItems']} entries"
    if error.validator == "required":
        return "fix: add the missing key (see config/config.yaml for an example)"
    return f"fix: see {SCHEMA_PATH} for what {where} may hold"


def load_schema() -> dict:
    return yaml.safe_load(Path(SCHEMA_PATH).read_text())


def load_config(path: str | os.PathLike) -> dict:
    """Read a YAML config with the safe loader and validate it."""
    try:
        cfg = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except yaml.YAMLError as err:
        raise ConfigError(
            f"config file {path} is not valid YAML: {err}. Fix the YAML syntax; it is read with "
            "a safe loader, so Python tags such as !!python/object are refused"
        ) from err
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
        raise ConfigError(f"config key {where}: {e.message}; {_schema_fix(e, where)}")
    for key, spec in schema["properties"].items():
        if "default" in spec:
            cfg.setdefault(key, spec["default"])
    cfg["es"].setdefault("log_every", 100)
    cfg.setdefault("resources", {})
    for k, spec in schema["properties"]["resources"]["properties"].items():
        cfg["resources"].setdefault(k, spec["default"])

    for task in cfg["tasks"]:
        for s in cfg["strategies"]:
            pop = strategy_settings(cfg, task, s)["population_size"]
            if s in ANTITHETIC and pop % 2:
                raise ConfigError(
                    f"strategies.{s}.population_size is {pop}, but {s} samples antithetic "
                    f"pairs and needs an even population; use {pop + 1}"
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


def chain_settings(cfg: dict, task: str, strategy: str, method: str, seed: int) -> dict:
    """Everything that determines one pruning chain's numbers (plus where its data lives)."""
    tcfg = {k: v for k, v in (cfg["tasks"][task] or {}).items() if k != "strategy_overrides"}
    return {
        "task": task,
        "task_config": tcfg,
        "strategy": strategy,
        "strategy_config": strategy_settings(cfg, task, strategy),
        "method": method,
        "seed": int(seed),
        "prune_fraction": cfg["prune_fraction"],
        "es": dict(cfg["es"]),
        "data_dir": cfg.get("data_dir"),
    }


def init_settings(cfg: dict, task: str, seed: int) -> dict:
    """What determines θ0: shared by every strategy and method of (task, seed)."""
    return init_settings_for(cfg["tasks"][task] or {}, task, seed)


def init_settings_for(task_config: dict, task: str, seed: int) -> dict:
    """:func:`init_settings` from a task's config block (as carried in chain settings)."""
    return {
        "task": task,
        "network": task_config.get("network", TASKS[task][1]),
        "prune_output_layer": bool(task_config.get("prune_output_layer", True)),
        "seed": int(seed),
    }


def digest(settings: dict) -> str:
    """A short hash of the settings that produced an artifact. ``data_dir`` is where the data
    live, not what they are (their content is checksummed), so it is left out."""
    canon = {k: v for k, v in settings.items() if k != "data_dir"}
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()[:16]
