"""Config loading and validation, and the per-chain settings the rules hand to the CLI.

Validation has two layers: unknown names first, with a did-you-mean (a typo in a strategy name
should say which one was meant), then the JSON schema for types and ranges, then the checks a
schema cannot express (antithetic strategies need an even population, the data folder must
exist). Every message names the offending key and how to fix it.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .names import (
    ANALYSES,
    ANT_HEAVY_BACKEND,
    ANT_HEAVY_BACKEND_ERROR,
    ANTITHETIC,
    BRAX_TASKS,
    COMMON_KEYS,
    CONTROL_IO_SIZES,
    CONTROL_TASKS,
    DEFAULT_BRAX_BACKEND,
    DEFAULT_KMNIST_SPLIT,
    DEFAULT_POLICY_BIAS_INIT,
    DEFAULT_POLICY_OUTPUT,
    DEFAULT_POPULATION_CHUNK,
    DEFAULT_REWIND_BUDGET,
    DISCRETE_CONTROL_TASKS,
    DYNAMIC_METHODS,
    ES_FITNESS_TASK_KEYS,
    GD_OPTIONAL_KEYS,
    GD_STRATEGIES,
    GD_TASK_KIND,
    INIT_GRADIENT_METHODS,
    METHODS,
    PERMUTATION_METHODS,
    PERMUTED_METHOD,
    PRUNING_METHODS,
    SIGMA_METHODS,
    SKIPPED_METHODS,
    SNR_VARIANT_STRATEGIES,
    STRATEGIES,
    STRATEGY_KEYS,
    TASKS,
    TRANSFER_SOURCE_METHOD,
    TRANSFER_TARGET_METHOD,
    VISION_INPUT_SHAPE,
    VISION_TASKS,
    analysis_file,
    default_hidden,
    gd_fits_task,
    has_per_weight_sigma,
    hparams_problem,
    is_control,
    is_gd,
    with_digest_defaults,
)
from .paths import ENTRY_NAME, EXPERIMENT_NAME, TRANSFER_FOLDER
from .schema import SCHEMA_PATH, analysis_defaults, block_defaults, load_schema
from .settings import ChainSettings, InitSettings, TransferSettings, digest  # noqa: F401
from .train.ppo_settings import ppo_check


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
                f"allowed: {', '.join(sorted(set(allowed)))}"
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
        words = {**kind, "null": "null", "object": "a mapping", "array": "a list"}
        wanted = " or ".join(words.get(t, str(t)) for t in _schema_types(sub))
        fix = f"fix: set {where} to {wanted}"
        if isinstance(error.instance, str) and "number" in str(sub.get("type")):
            fix += " (write it unquoted, e.g. 0.0003, 3e-4 or 1.0e+30)"
        return fix
    if error.validator == "enum":
        return f"fix: use one of {sub['enum']}"
    if error.validator == "minItems":
        return f"fix: give {where} at least {sub['minItems']} entries"
    if error.validator == "minProperties":
        return (
            f"fix: give {where} at least {sub['minProperties']} entry (see config/config.yaml "
            "for an example)"
        )
    if error.validator == "uniqueItems":
        return f"fix: list each entry of {where} once (a repeat would count its chains twice)"
    if error.validator == "required":
        return "fix: add the missing key (see config/config.yaml for an example)"
    if error.validator == "additionalProperties" and isinstance(sub.get("properties"), dict):
        allowed = sorted(sub["properties"])
        unknown = [k for k in error.instance if k not in sub["properties"]]
        hint = _suggest(unknown[0], allowed) if unknown else ""
        return f"fix: {where} takes {', '.join(allowed)}{hint}"
    if error.validator == "pattern" and sub.get("pattern") in NAME_PATTERNS:
        return (
            f"fix: name {where} with {NAME_PATTERNS[sub['pattern']]} (it names a folder or "
            "file: no '/' or spaces)"
        )
    return f"fix: see {SCHEMA_PATH} for what {where} may hold"


#: The schema's patterns for names that become folders (the experiment, a transfer), in words.
NAME_PATTERNS = {
    f"^{EXPERIMENT_NAME}$": "letters, digits, '_', '.' and '-' only, starting with a letter "
    "or digit",
    f"^{ENTRY_NAME}$": "lower-case letters, digits and '_' only",
}


#: A YAML 1.2 float without dot or exponent sign (``1e30``, ``3e-4``): YAML 1.1, which PyYAML
#: and Snakemake's loader speak, reads these as strings, so a number-typed key would be refused
#: with "'1e30' is not of type 'number'". Integers and YAML 1.1 floats are never strings.
_YAML12_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INTEGER = re.compile(r"^[-+]?[0-9]+$")
#: YAML 1.2's core schema booleans, as ``snakemake --config`` passes them nested (strings).
_BOOLEANS = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}


#: YAML 1.2's core schema nulls, as ``snakemake --config`` passes them (strings): where the
#: schema allows null they mean it (``--config jax_cache_dir=null`` named a folder "null").
#: Not ``~``, which a config may quote as a path (``data_dir: "~"``, the home folder).
_NULLS = {"null", "Null", "NULL"}


def _schema_types(schema: dict) -> list:
    kind = schema.get("type")
    return kind if isinstance(kind, list) else [kind]


def _is_number_schema(schema: dict) -> bool:
    kinds = _schema_types(schema)
    return "number" in kinds and "string" not in kinds


def _is_integer_schema(schema: dict) -> bool:
    return _schema_types(schema) == ["integer"]


def _reads(schema: dict, kind: str) -> bool:
    """Whether ``schema`` types a value as ``kind`` (maybe or null), and never as a string
    or another number: a string that spells a ``kind`` then means one."""
    kinds = set(_schema_types(schema))
    return kind in kinds and not kinds & {"string", "number"} - {kind}


def _coerce_numbers(value: Any, schema: Any) -> Any:
    """``value`` with YAML-1.2-style float strings turned into floats wherever ``schema``
    types the value as a number, and whole floats (``64.0``, which JSON Schema accepts as an
    integer) into ints wherever it types it as an integer: a seed of 0.0 named files no rule
    makes, and a population of 64.0 gave other settings digests than 64. Done at validation
    (not in a YAML loader) because Snakemake reads ``--configfile`` with its own loader: both
    paths meet in :func:`validate_config`. Only number-typed keys are touched, so a string
    key such as ``experiment: 1e3`` stays a string.

    Also integer and boolean strings where the schema types an integer or a boolean:
    ``snakemake --config seeds=[0,1]`` reads nested values with YAML's base loader, which
    makes every scalar a string, and was refused ("'0' is not of type 'integer'"). And
    YAML's null spellings (:data:`_NULLS`) where the schema allows null, which the same path
    makes strings too."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, str) and value in _NULLS and "null" in _schema_types(schema):
        return None
    if isinstance(value, str) and _reads(schema, "integer") and _INTEGER.match(value):
        return int(value)
    if isinstance(value, str) and _reads(schema, "boolean") and value in _BOOLEANS:
        return _BOOLEANS[value]
    if isinstance(value, str) and _is_number_schema(schema) and _YAML12_FLOAT.match(value):
        return float(value)
    if isinstance(value, float) and value.is_integer() and _is_integer_schema(schema):
        return int(value)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return {k: _coerce_numbers(v, props.get(k, extra)) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce_numbers(v, schema.get("items")) for v in value]
    return value


def _typed_schema(schema: dict) -> dict:
    """The schema with the free-form task blocks typed, which the schema file leaves open: a
    task's ``strategy_overrides`` are checked (and their numbers coerced by
    :func:`_coerce_numbers`) like the strategy and GD blocks they override, and its ``es``
    like the es block, with nothing required in them: an override changes some keys and
    need not repeat the rest."""
    schema = copy.deepcopy(schema)
    props = schema["properties"]
    task = props["tasks"]["additionalProperties"]["properties"]
    strategy = props["strategies"]["additionalProperties"]
    task["strategy_overrides"] = {
        "type": "object",
        "properties": props["gd"]["properties"],
        "additionalProperties": {k: v for k, v in strategy.items() if k != "required"},
    }
    task["es"] = {k: v for k, v in props["es"].items() if k != "required"}
    return schema


class _DuplicateKey(yaml.YAMLError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping: plain YAML loaders
    keep the last silently, so a pasted second ``seeds:`` would overwrite the first. The
    check walks the document as written, before construction: PyYAML merges ``<<: *anchor``
    keys into the anchored mapping itself, so a check while constructing would see an
    override of a merged key as a key given twice."""

    def construct_document(self, node):
        _refuse_duplicate_keys(node)
        return super().construct_document(node)


MERGE_TAG = "tag:yaml.org,2002:merge"


def _refuse_duplicate_keys(root: yaml.Node) -> None:
    """Raise :class:`_DuplicateKey` for a scalar key written twice in one mapping (a merge
    key's keys may be overridden, as YAML intends). Aliased nodes are visited once."""
    stack, seen_nodes = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines: dict = {}
            for key, value in node.value:
                stack += [key, value]
                if key.tag == MERGE_TAG or not isinstance(key, yaml.ScalarNode):
                    continue
                if (key.tag, key.value) in lines:
                    raise _DuplicateKey(
                        f"the key {key.value!r} is given twice in one mapping (lines "
                        f"{lines[key.tag, key.value] + 1} and {key.start_mark.line + 1}), and "
                        "YAML would keep only the last; keep one"
                    )
                lines[key.tag, key.value] = key.start_mark.line
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _refuse_duplicate_json_keys(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise _DuplicateKey(
            f"the key {twice[0]!r} is given twice in one object, and JSON readers keep only "
            "the last; keep one"
        )
    return dict(pairs)


def load_config(path: str | os.PathLike | Sequence[str | os.PathLike]) -> dict:
    """Read a YAML config with the safe loader and validate it; several files are a config
    and its overlays, merged key by key as ``snakemake --configfile a.yaml b.yaml`` merges
    them (a later file's mapping updates the earlier one's, anything else replaces it)."""
    if isinstance(path, str | os.PathLike):
        return validate_config(read_config_file(path))
    from snakemake.utils import update_config  # its merge, so the two cannot differ

    merged: dict = {}
    for one in path:
        update_config(merged, read_config_file(one))
    return validate_config(merged)


#: The key that makes Snakemake render a config file as a YTE template.
YTE_KEY = "__use_yte__"


def read_config_file(path: str | os.PathLike) -> dict:
    """A config file's mapping, read with the safe loader (a ``.json`` file as JSON, as
    Snakemake reads it), a key given twice refused; not validated. The workflow calls it on
    its config files too, since Snakemake reads them with a loader that keeps the last of two
    equal keys."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        if Path(path).suffix == ".json":
            cfg = json.loads(text, object_pairs_hook=_refuse_duplicate_json_keys)
        else:
            cfg = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except IsADirectoryError as err:
        raise ConfigError(f"config file {path} is a directory; pass a YAML file") from err
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {path} is not UTF-8 text ({err}); pass a YAML file"
        ) from err
    except _DuplicateKey as err:
        raise ConfigError(f"config file {path}: {err}") from err
    except json.JSONDecodeError as err:
        raise ConfigError(f"config file {path} is not valid JSON: {err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(
            f"config file {path} is not valid YAML: {err}. Fix the YAML syntax; it is read with "
            "a safe loader, so Python tags such as !!python/object are refused"
        ) from err
    if not isinstance(cfg, dict):
        got = "nothing: the file is empty" if cfg is None else f"a {type(cfg).__name__}"
        raise ConfigError(
            f"config file {path} must hold a mapping of keys, got {got}; see config/config.yaml "
            "for an example"
        )
    if YTE_KEY in cfg:  # Snakemake renders such a file as a template; check-config cannot
        raise ConfigError(
            f"config file {path} sets {YTE_KEY} (Snakemake's YTE templating), which evotickets "
            "does not render: check-config would check another config than snakemake runs; "
            "write the rendered values into the file, and remove the key"
        )
    return cfg


def validate_config(cfg: dict) -> dict:
    """Validate and return a copy with defaults filled in. Raises ConfigError.

    In this order: wrong shapes (a list where a mapping belongs: the name checks walk the
    blocks), unknown names (with a did-you-mean), the rest of the JSON schema (types, ranges;
    a task's ``es`` and ``strategy_overrides`` typed like the blocks they override), NaN, the
    schema's defaults, whether each strategy fits its tasks, the chain defaults that enter
    every digest, the rules between keys that a schema cannot express, and last the nested
    defaults that the workflow's Snakemake ``validate`` fills too."""
    import jsonschema

    schema = load_schema()
    typed = _typed_schema(schema)
    cfg = _coerce_numbers(copy.deepcopy(cfg), typed)
    validator = jsonschema.Draft202012Validator(typed)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.path))
    # Wrong shapes first (a list where a mapping belongs): the name checks walk the blocks.
    shapes = [e for e in errors if e.validator == "type"]
    if shapes:
        raise _schema_error(shapes[0])
    _check_every_name(cfg, schema)
    if errors:
        raise _schema_error(errors[0])
    _refuse_nan(cfg, "")
    _require_es_block(cfg)
    _fill_schema_defaults(cfg, schema)
    _check_strategies_fit_tasks(cfg)
    _fill_chain_defaults(cfg)
    _check_rules_between_keys(cfg)
    _fill_defaults_as_the_workflow_does(cfg, schema)
    return cfg


def _fill_defaults_as_the_workflow_does(cfg: dict, schema: dict) -> None:
    """Every default of the schema where ``cfg`` lacks it, nested blocks included (a task
    entry's ``prune_output_layer``), as Snakemake's ``validate(config, schema)`` fills them
    in the workflow right after :func:`validate_config` (the jsonschema FAQ's
    ``extend_with_default``). Why here too: a config the CLI loads (``collect --configfile``,
    ``check-config``) then gives every chain the settings, and so the digests, that the
    workflow's jobs were given; on the workflow's config this changes nothing."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, spec in properties.items():
                if "default" in spec:
                    instance.setdefault(name, copy.deepcopy(spec["default"]))
        yield from check_properties(validator, properties, instance, subschema)

    filler = jsonschema.validators.extend(base, {"properties": set_defaults})
    for _ in filler(schema).iter_errors(cfg):
        pass  # validated above; only the defaults are wanted


def _schema_error(error) -> ConfigError:
    where = ".".join(str(p) for p in error.path) or "(top level)"
    return ConfigError(f"config key {where}: {error.message}; {_schema_fix(error, where)}")


def _refuse_nan(value: Any, where: str) -> None:
    """A NaN anywhere is an error: it passes every range of the schema (each comparison with
    NaN is false) and would reach a job as a number."""
    if isinstance(value, float) and math.isnan(value):
        raise ConfigError(f"config key {where or '(top level)'} is NaN; fix: set a number")
    if isinstance(value, float) and math.isinf(value):
        # no setting here means "unbounded" by inf; it passes a lower bound and fails in a job
        raise ConfigError(
            f"config key {where or '(top level)'} is infinite; fix: set a finite number"
        )
    if isinstance(value, list):
        value = dict(enumerate(value))
    for k, v in value.items() if isinstance(value, dict) else ():
        _refuse_nan(v, f"{where}.{k}" if where else str(k))


def _nested_homes(schema: dict) -> dict[str, str]:
    """Where a key that is not a top-level key belongs: each block's keys (es, resources, a
    task entry, a strategy) → the place to write it, for a key written at the top level."""
    props = schema["properties"]
    homes = {k: f"the strategy's block (strategies.<name>.{k})" for k in COMMON_KEYS}
    for keys in STRATEGY_KEYS.values():
        homes.update({k: f"the strategy's block (strategies.<name>.{k})" for k in keys})
    task_keys = props["tasks"]["additionalProperties"]["properties"]
    homes.update({k: f"a task's entry (tasks.<task>.{k})" for k in task_keys})
    for block in ("resources", "dynamic_sparse", "pruning_at_init", "es"):
        homes.update({k: f"{block} ({block}.{k})" for k in props[block].get("properties", {})})
    return {k: v for k, v in homes.items() if k not in props}


def _check_every_name(cfg: dict, schema: dict) -> None:
    """Every key and name of the config is known, or a ConfigError says which was meant."""
    homes = _nested_homes(schema)
    for key in cfg:
        if key in homes:  # difflib would point at a top-level key of a similar spelling
            raise ConfigError(
                f"unknown config key {key!r} at the top level: it belongs in {homes[key]}"
            )
    _check_names(cfg, schema["properties"], "config key")
    _check_task_entries(cfg.get("tasks") or {})
    for name in cfg.get("strategies") or {}:
        if is_gd(name):  # difflib offers nothing near: the trainer's block is another
            raise ConfigError(
                f"strategies lists {name}, a gradient-descent trainer, not an evolution "
                f"strategy: move its settings to the gd block (gd: {{{name}: {{...}}}})"
            )
    _check_names(cfg.get("strategies") or {}, STRATEGIES, "strategy")
    _check_names(cfg.get("methods") or [], METHODS, "method")
    task_keys = schema["properties"]["tasks"]["additionalProperties"]["properties"]
    for task, tcfg in (cfg.get("tasks") or {}).items():
        _check_names(tcfg or {}, task_keys, f"key in tasks.{task}")
        _check_names(
            (tcfg or {}).get("strategies") or [],
            [*(cfg.get("strategies") or {}), *(cfg.get("gd") or {})],
            f"strategy in tasks.{task}.strategies (not in the strategies or gd block)",
        )
        _check_names(
            (tcfg or {}).get("methods") or [],
            cfg.get("methods") or [],
            f"method in tasks.{task}.methods (not in the methods list)",
        )
        _check_names(
            (tcfg or {}).get("es") or {},
            schema["properties"]["es"]["properties"],
            f"key in tasks.{task}.es",
        )
        overrides = (tcfg or {}).get("strategy_overrides") or {}
        _check_names(
            overrides, (*STRATEGIES, *GD_STRATEGIES), f"strategy in tasks.{task}.strategy_overrides"
        )
        for s, o in overrides.items():
            _check_names(o, _strategy_keys(s), f"key for {s}")
    for s, scfg in (cfg.get("strategies") or {}).items():
        _check_names(scfg or {}, COMMON_KEYS | STRATEGY_KEYS[s], f"key for strategy {s}")
    _check_names(cfg.get("gd") or {}, GD_STRATEGIES, "GD strategy (config key gd)")
    for s, scfg in (cfg.get("gd") or {}).items():
        _check_names(scfg or {}, _strategy_keys(s), f"key for GD strategy {s}")
    _check_names(cfg.get("es") or {}, schema["properties"]["es"]["properties"], "key in es")
    _check_names(
        cfg.get("strategy_methods") or {},
        [*(cfg.get("strategies") or {}), *(cfg.get("gd") or {})],
        "strategy in strategy_methods (not in the strategies or gd block)",
    )
    for s, listed in (cfg.get("strategy_methods") or {}).items():
        _check_names(listed or [], METHODS, f"method in strategy_methods.{s}")
        # it narrows `methods`, as tasks.<t>.methods does: a method outside it never ran
        outside = [m for m in listed or [] if m not in (cfg.get("methods") or [])]
        if outside:
            raise ConfigError(
                f"strategy_methods.{s} lists {outside}, which `methods` does not "
                f"({cfg.get('methods')}): strategy_methods narrows `methods`, so they would "
                "never run. Add them to `methods`, or remove them from the list (an overlay "
                "that narrows `methods` lists each strategy_methods entry again)"
            )
    _check_names(((cfg.get("analyses") or {}).get("enabled") or []), ANALYSES, "analysis")


def _require_es_block(cfg: dict) -> None:
    """The ``es`` block (the ES loop's generations) is required where the config has an ES
    strategy, and only there: a config of gradient-descent chains alone (``gd`` block, no
    ``strategies``) has no generations to give."""
    if (cfg.get("strategies") or {}) and "es" not in cfg:
        listed = ", ".join(cfg["strategies"])
        raise ConfigError(
            f"strategies lists {listed}, whose rounds need the es block: add "
            "`es: {num_generations: <generations a round>}` (log_every defaults to 100), or "
            "remove the strategies block for a config of gradient-descent chains alone"
        )


def _fill_schema_defaults(cfg: dict, schema: dict) -> None:
    for key, spec in schema["properties"].items():
        if "default" in spec:
            cfg.setdefault(key, copy.deepcopy(spec["default"]))
    if "es" in cfg:
        cfg["es"].setdefault(
            "log_every", schema["properties"]["es"]["properties"]["log_every"]["default"]
        )
    for block in ("resources", "pruning_at_init", "dynamic_sparse"):
        cfg[block] = dict(cfg.get(block) or {})
        for k, spec in schema["properties"][block]["properties"].items():
            if "default" in spec:  # dynamic_sparse.probe_pairs has none: absent unless set
                cfg[block].setdefault(k, spec["default"])


def _per_gpu(cfg: dict, members: int) -> tuple[int, int]:
    """(GPUs a job sees, ``members`` each evaluates): a job splits a population (or a probe)
    evenly across ``resources.gpu`` GPUs where there are several."""
    gpus = int((cfg.get("resources") or {}).get("gpu", 0))
    return gpus, members // gpus if gpus > 1 else members


def _check_strategies_fit_tasks(cfg: dict) -> None:
    """Antithetic strategies get an even population, GD trainers their kind of task, and
    ant_heavy a backend where its heavier torso does something."""
    for task in cfg["tasks"]:
        for s in task_strategies(cfg, task):
            if is_gd(s):
                continue
            hparams = strategy_settings(cfg, task, s)
            if problem := hparams_problem(s, hparams):
                raise ConfigError(
                    f"strategies.{s} (with tasks.{task}.strategy_overrides.{s}, if any): {problem}"
                )
            pop = hparams["population_size"]
            if s in ANTITHETIC and pop % 2:
                override = ((cfg["tasks"][task] or {}).get("strategy_overrides") or {}).get(s)
                key = (
                    f"tasks.{task}.strategy_overrides.{s}.population_size"
                    if "population_size" in (override or {})
                    else f"strategies.{s}.population_size"
                )
                raise ConfigError(
                    f"{key} is {pop}, but {s} samples antithetic "
                    f"pairs and needs an even population; use {pop + 1}"
                )
            gpus, share = _per_gpu(cfg, pop)
            if gpus > 1 and pop % gpus:  # a job splits its population across its GPUs
                raise ConfigError(
                    f"resources.gpu is {gpus}, and a job splits {s}'s population of {pop} on "
                    f"task {task} evenly across its GPUs, which {gpus} cannot do: set "
                    f"population_size to a multiple of {gpus}, or gpu to a divisor of {pop}"
                )
            if is_control(library_task(cfg, task)):
                continue  # control tasks evaluate the whole population at once
            chunk = (cfg["tasks"][task] or {}).get("population_chunk", DEFAULT_POPULATION_CHUNK)
            if share % min(int(chunk), share):
                # the fitness evaluates the population in chunks: every train job would fail
                named = "population_chunk" in (cfg["tasks"][task] or {})
                whose = (
                    f"each GPU's share ({share}) of {s}'s population of {pop}"
                    if share != pop
                    else f"{s}'s population of {pop}"
                )
                raise ConfigError(
                    f"tasks.{task}.population_chunk is {chunk}{'' if named else ' (default)'}, "
                    f"which does not divide {whose}; set tasks.{task}.population_chunk to a "
                    f"divisor of {share}"
                )
    for task, tcfg in cfg["tasks"].items():
        idle = set((tcfg or {}).get("strategy_overrides") or {}) - set(task_strategies(cfg, task))
        if idle:
            s = min(idle)
            raise ConfigError(
                f"tasks.{task}.strategy_overrides names {s}, which does not run on task {task}, "
                f"so its override would do nothing: remove it, or add {s} to the strategies "
                f"(or gd) block and to tasks.{task}.strategies if the task lists its own (an "
                "overlay config cannot remove a key of the config below it: to narrow a task's "
                "strategies there, copy that config and edit it)"
            )
        for s in (tcfg or {}).get("strategies") or []:
            if is_gd(s) and not gd_fits_task(s, library_task(cfg, task)):
                raise ConfigError(
                    f"tasks.{task}.strategies lists {s}, which does not train this kind of "
                    "task (gd_adam trains vision tasks, gd_ppo control tasks)"
                )
    for task in cfg["tasks"]:
        if not is_control(library_task(cfg, task)):
            continue
        refused = [
            m
            for s in task_strategies(cfg, task)
            for m in task_methods(cfg, task, s)
            if m in INIT_GRADIENT_METHODS
        ]
        if refused:
            raise ConfigError(
                f"task {task} is a control task, but {sorted(set(refused))} score θ0 from the "
                "gradient of a training loss, which a control task does not have here (its "
                f"return is not differentiated through the environment); set tasks.{task}."
                "methods to the configured methods without them"
            )
    _check_task_keys_fit_kind(cfg)
    for task, heavy in cfg["tasks"].items():
        backend = (heavy or {}).get("backend", DEFAULT_BRAX_BACKEND)
        if library_task(cfg, task) == "ant_heavy" and backend != ANT_HEAVY_BACKEND:
            raise ConfigError(ANT_HEAVY_BACKEND_ERROR.format(backend=backend))


def _fill_chain_defaults(cfg: dict) -> None:
    """Defaults written into the config (so into every chain's digest) rather than left
    implicit: the K-MNIST split, each strategy's ``digest_defaults`` (Sep-CMA-ES's covariance
    rates, SNES's temperature weight form, PGPE's Adam β1, DES's variance ε), control
    policies' bias initialiser and (continuous actions) output, the GD trainers' settings.
    Explicit, so the choice is in every digest (results made under another choice are not
    resumed under this one) and in the config the report rules take as a parameter. :class:`ChainSettings` fills the strategies'
    ones again, for settings that do not come from a config."""
    _fill_kmnist_split(cfg)
    for s, block in cfg["strategies"].items():
        cfg["strategies"][s] = with_digest_defaults(s, block)
    for task, block in cfg["tasks"].items():
        base = library_task(cfg, task)
        if is_control(base):
            cfg["tasks"][task] = {**(block or {})}
            cfg["tasks"][task].setdefault("policy_bias_init", DEFAULT_POLICY_BIAS_INIT)
            if base not in DISCRETE_CONTROL_TASKS:
                output = DEFAULT_POLICY_OUTPUT[CONTROL_TASKS[base]]
                cfg["tasks"][task].setdefault("policy_output", output)
    for s in cfg["gd"]:
        cfg["gd"][s] = {**GD_STRATEGIES[s], **(cfg["gd"][s] or {})}


def _check_rules_between_keys(cfg: dict) -> None:
    """What a schema cannot say: PPO's rollout splits evenly, the permutation controls have
    their magnitude chain, transfers name settings of this config, the data folder exists,
    the compilation cache is no file."""
    for task in cfg["tasks"]:
        problem = (
            ppo_check(strategy_settings(cfg, task, "gd_ppo"))
            if "gd_ppo" in task_strategies(cfg, task)
            else None
        )
        if problem:
            raise ConfigError(f"gd_ppo settings of task {task}: {problem}")
    permuted = [m for m in cfg["methods"] if m in PERMUTATION_METHODS]
    if permuted and PERMUTED_METHOD not in cfg["methods"]:
        raise ConfigError(
            f"methods {permuted} permute the magnitude mask of each round, so `methods` must "
            "also list magnitude"
        )
    for task in cfg["tasks"]:  # the same, for each chain's own methods
        for s in task_strategies(cfg, task):
            run = task_methods(cfg, task, s)
            permuted = [m for m in run if m in PERMUTATION_METHODS]
            if permuted and PERMUTED_METHOD not in run:
                raise ConfigError(
                    f"{s} on task {task} runs {permuted}, which permute the magnitude mask of "
                    f"each round, but not magnitude itself: add magnitude to its methods "
                    f"(tasks.{task}.methods or strategy_methods.{s})"
                )
    _validate_transfer(cfg)
    _check_batches_fit_data(cfg)
    _check_rewind(cfg)
    _check_dynamic(cfg)
    _check_sigma_methods(cfg)
    data_dir = cfg.get("data_dir")
    if _reads_data_dir(cfg):
        from .tasks.data import DataError, resolve_data_dir  # numpy only: no JAX

        try:  # the loader's own check, before any job: its jobs would each fail on it (the
            resolve_data_dir(data_dir)  # environment's folder too, where the config names none)
        except DataError as error:
            raise ConfigError(
                f"data_dir {data_dir!r}: {error}" if data_dir else str(error)
            ) from None
    cache = cfg.get("jax_cache_dir")
    if cache and Path(cache).exists() and not Path(cache).is_dir():  # failed each job's start
        raise ConfigError(
            f"jax_cache_dir {cache!r} is a file, not a folder: name a folder (made if missing)"
        )
    _check_some_chain(cfg)
    _check_analysis_filters(cfg)
    _check_sizes(cfg)


def _reads_data_dir(cfg: dict) -> bool:
    """Whether a task of ``cfg`` reads its dataset from the data folder: the MNIST family
    (digits ships with the package; control tasks have none)."""
    return any(
        library_task(cfg, t) in VISION_TASKS and library_task(cfg, t) != "digits"
        for t in cfg["tasks"]
    )


def _check_sizes(cfg: dict) -> None:
    """:func:`check_task_sizes` for every task, from its network's counts
    (:func:`evotickets.tasks.weight_counts`: tables, no JAX, no environment): the workflow
    refuses such a config before its first job (a rounds-too-many config trained every
    earlier round first, hours on a cluster, then failed in a mask job)."""
    from .tasks import weight_counts

    for task in cfg["tasks"]:
        check_task_sizes(cfg, task, *weight_counts(network_settings(cfg, task)))


def memory_notes(cfg: dict) -> list[str]:
    """A strategy whose D×D state alone, at round 0 (all weights searched), needs more than
    the memory each job asks of SLURM (``resources.mem_mb``): a SLURM run would be killed
    for it, a local run (where mem_mb is only a scheduling hint) not. So check-config notes
    it rather than refusing; the strategy's own limit (``MEMORY_LIMIT``) is refused."""
    from .strategies import memory_need
    from .tasks import weight_counts

    resources = cfg.get("resources") or {}
    asked = int(resources.get("mem_mb", 0))
    vmapped = resources.get("group_program") == "vmapped"
    grouping = resources.get("group_chains", "none") if vmapped else "none"
    notes = []
    for task in cfg["tasks"]:
        total = weight_counts(network_settings(cfg, task))[1]
        for s in size_limited_strategies(cfg, task):
            # a vmapped group job holds every chain's state at once
            width = {"seeds": len(cfg["seeds"]),
                     "seeds_and_methods": len(cfg["seeds"]) * len(task_methods(cfg, task, s)),
                     }.get(grouping, 1)  # fmt: skip
            pop = int(strategy_settings(cfg, task, s)["population_size"])
            need = width * memory_need(s, pop, total)
            if asked and need > asked * 2**20:
                chains = f" × {width} chains of a vmapped group job" if width > 1 else ""
                notes.append(
                    f"{s} on task {task} needs about {need / 2**30:.1f} GiB for its state at "
                    f"round 0 ({total:,} weights{chains}), more than resources.mem_mb "
                    f"({asked} MB) asks of SLURM for each job: set resources.mem_mb to at least "
                    f"{math.ceil(need / 2**20 * 1.5)} (its state and a margin for JAX and the "
                    "data) for a cluster run"
                )
    return notes


#: A note is printed where a global random mask empties some layer at least this often.
EMPTIED_LAYER_NOTE_ODDS = 0.01


def emptied_layer_notes(cfg: dict) -> list[str]:
    """The odds that a global random mask (``random``, and the mask dynamic sparse ES starts
    from and keeps each layer's count of) empties some layer of a task's network by the
    last round, for each task whose chains draw one and where the odds reach
    :data:`EMPTIED_LAYER_NOTE_ODDS` (:func:`evotickets.pruning.emptied_layer_probability`,
    from the layers' sizes without JAX): one note. Such a network ignores its input, so
    check-config says where to expect it before any job; claims.md then lists the rounds
    where it happened."""
    from . import pruning
    from .tasks import prunable_kernel_sizes

    p, last = cfg["prune_fraction"], cfg["rounds"] - 1
    entries, methods = [], set()
    for task in cfg["tasks"] if last >= 1 else ():
        drawn = {
            m
            for s in task_strategies(cfg, task)
            for m in task_methods(cfg, task, s)
            if m in ("random", *DYNAMIC_METHODS)
        }
        if not drawn:
            continue
        sizes = prunable_kernel_sizes(network_settings(cfg, task))
        n = sum(sizes)
        odds = {
            t: pruning.emptied_layer_probability(sizes, pruning.remaining_count(n, p, t))
            for t in range(1, last + 1)
        }
        if odds[last] >= EMPTIED_LAYER_NOTE_ODDS:
            first = min(t for t, v in odds.items() if v >= EMPTIED_LAYER_NOTE_ODDS)
            kept = pruning.remaining_count(n, p, last)
            entries.append(f"{task} {odds[last]:.2f} ({kept:,} of {n:,} kept; from round {first})")
            methods |= drawn
    if not entries:
        return []
    note = (
        f"a global random mask ({', '.join(sorted(methods))}) empties some layer of the "
        f"network at round {last}, per random chain (each strategy's mask is its own draw), "
        f"with probability: {'; '.join(entries)} (from "
        f"round: where it reaches {EMPTIED_LAYER_NOTE_ODDS:.0%}). Such a network gives the "
        "same output for every input, so those rounds measure that collapse (claims.md "
        "lists them); mask_permuted keeps each layer's count of the magnitude ticket, so it "
        "empties no layer that ticket keeps"
    )
    return [note]


def size_limited_strategies(cfg: dict, task: str) -> list[str]:
    """The ES strategies of ``task`` whose D×D state or D² work limits the weights searched."""
    from .strategies import grows_with_dims

    return [s for s in task_strategies(cfg, task) if not is_gd(s) and grows_with_dims(s)]


def check_task_sizes(cfg: dict, task: str, prunable: int, total: int) -> None:
    """Refuse a task whose last round keeps none of its ``prunable`` weights, or whose round
    1 prunes none (:func:`evotickets.pruning.check_keeps_weights`), and a strategy whose D×D
    state cannot search its round 0, all ``total`` weights (``check_size``)."""
    from . import pruning
    from .strategies import check_size

    p, rounds = cfg["prune_fraction"], cfg["rounds"]
    try:
        pruning.check_keeps_weights(
            prunable, p, rounds, f"task {task} (rounds {rounds}, prune_fraction {p})"
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    for s in size_limited_strategies(cfg, task):
        try:
            check_size(s, int(strategy_settings(cfg, task, s)["population_size"]), total)
        except ValueError as error:
            raise ConfigError(
                f"task {task}, whose round 0 searches all {total:,} weights: {error} (or "
                f"leave {s} off this task: tasks.{task}.strategies)"
            ) from None


def _check_some_chain(cfg: dict) -> None:
    """A config that trains nothing is a mistake, not an empty run: a strategy that
    ``strategy_methods`` leaves without a method of ``methods`` trains no chain, and the
    filters together must leave at least one chain."""
    for s, listed in (cfg.get("strategy_methods") or {}).items():
        if not chain_methods(cfg, s):
            raise ConfigError(
                f"strategy_methods.{s} lists {listed}, which leaves {s} no method of "
                f"`methods` {cfg['methods']} to run ({SKIPPED_METHODS}): add one of them to "
                "`methods`, or change the list"
            )
    running = {s for task in cfg["tasks"] for s in task_strategies(cfg, task)}
    for s in chain_strategies(cfg):
        if s in running:
            continue
        fits = [t for t in cfg["tasks"] if not is_gd(s) or gd_fits_task(s, library_task(cfg, t))]
        why = (
            f"{s} trains {GD_TASK_KIND[s]} tasks and this config has none"
            if not fits
            else f"every task it could train ({', '.join(fits)}) lists its own `strategies` "
            "without it"
        )
        block = "gd" if is_gd(s) else "strategies"
        fix = f"add it to tasks.{fits[0]}.strategies" if fits else "add a task it runs on"
        raise ConfigError(
            f"{block}.{s} runs on no task ({why}), so it would train nothing: remove it, or "
            f"{fix} (an overlay config cannot remove a key of the config below it: to drop "
            f"{s} from every task, copy that config and edit it)"
        )
    for task in cfg["tasks"]:  # a strategy a task runs, left no method there: dropped silently
        for s in task_strategies(cfg, task):
            if task_methods(cfg, task, s):
                continue
            listed = (cfg["tasks"][task] or {}).get("methods") or cfg["methods"]
            raise ConfigError(
                f"task {task} runs {s} but no method for it: the task's methods {listed} and "
                f"the methods {s} runs {chain_methods(cfg, s)} share none ({SKIPPED_METHODS}), "
                "so it would train nothing: "
                f"add a method {s} runs to tasks.{task}.methods, or list the task's "
                f"strategies without {s} (tasks.{task}.strategies)"
            )
    all_chains = chains(cfg)
    ran = {m for _, _, m, _ in all_chains}
    idle = [m for m in cfg["methods"] if m not in ran]
    if ran and idle:
        raise ConfigError(
            f"methods lists {idle[0]!r}, which no chain of this config runs (its tasks' "
            f"strategies and methods and strategy_methods leave it out; {SKIPPED_METHODS}; "
            "and a permutation control needs magnitude beside it), so it would train nothing: "
            "remove it from `methods`, or add a strategy and task it runs on"
        )
    if not all_chains:
        raise ConfigError(
            "this config trains no chain: its tasks' strategies and methods (tasks.<t>."
            "strategies / methods, strategy_methods) leave no (task, strategy, method) to "
            f"run ({SKIPPED_METHODS})"
        )


def _check_analysis_filters(cfg: dict) -> None:
    """The analyses' tasks / strategies / methods filters name tasks, strategies and methods
    that exist: a misspelt one would skip its analysis silently. A name that exists but that
    this config does not run is allowed (an overlay config may narrow ``methods``), as long as
    every analysis named in ``enabled`` still makes something (:func:`_analysis_makes_nothing`)."""
    block = cfg.get("analyses")
    if block is None:
        return
    known = {
        "tasks": [*TASKS, *cfg["tasks"]],
        "strategies": [*STRATEGIES, *GD_STRATEGIES],
        "methods": METHODS,
    }
    singular = {"tasks": "task", "strategies": "strategy", "methods": "method"}
    scopes = [("analyses", block)]
    scopes += [(f"analyses.{name}", block.get(name) or {}) for name in ANALYSES]
    for where, filters in scopes:
        for f in ANALYSIS_FILTERS:
            _check_names(filters.get(f) or [], known[f], f"{singular[f]} in {where}.{f}")
        # filters match task entries: a library task that an entry runs under another name
        # (digits_he: {task: digits}) would select nothing there, silently
        for name in filters.get("tasks") or []:
            entries = [t for t in cfg["tasks"] if t != name and library_task(cfg, t) == name]
            if name not in cfg["tasks"] and entries:
                raise ConfigError(
                    f"{where}.tasks lists {name!r}, a library task that this config runs as "
                    f"the task entries {entries}; the filters name task entries (the keys of "
                    f"`tasks`), so it would select none of them: list {', '.join(entries)}"
                )
    for name in block.get("enabled") or []:  # named in `enabled`: the researcher wants it
        if why := _analysis_makes_nothing(cfg, name):
            raise ConfigError(
                f"analyses.enabled lists {name}, but {why}, so it would compute nothing: widen "
                f"the filters (analyses.tasks / strategies / methods, and analyses.{name}'s "
                f"own), or remove {name} from analyses.enabled"
            )


def ignored_settings(cfg: dict) -> list[str]:
    """Settings this config gives that nothing it runs reads: allowed, since an overlay cannot
    remove a key of the config below it (one that disables analyses keeps their options), so
    ``check-config`` notes them rather than refusing."""
    notes = []
    block = cfg.get("analyses") or {}
    for name in ANALYSES:
        if block.get(name) and "enabled" in block and name not in block["enabled"]:
            notes.append(
                f"analyses.{name} sets options, but analyses.enabled {block['enabled']} leaves "
                f"{name} out: they do nothing (add {name} to analyses.enabled to run it)"
            )
    schema = load_schema()["properties"]
    methods_by_task: dict[str, set] = {}  # the methods each task runs, from one chains()
    for t, _, m, _ in chains(cfg):
        methods_by_task.setdefault(t, set()).add(m)
    methods = set().union(*methods_by_task.values())
    for key, users in (("pruning_at_init", INIT_GRADIENT_METHODS),
                       ("dynamic_sparse", DYNAMIC_METHODS)):  # fmt: skip
        defaults = block_defaults(schema[key])
        if (cfg.get(key) or {}) != defaults and not methods & set(users):
            notes.append(
                f"{key} is set, but no chain runs {' or '.join(users)}, the methods that read it"
            )
    analysed = {t for name in ("landscape", "lmc") for t, _, _, _ in analysis_chains(cfg, name)}
    for task, block in cfg["tasks"].items():  # read by ES chains only: on GD ones, ignored
        es_only = [k for k in (*ES_FITNESS_TASK_KEYS, "es") if k in (block or {})]
        if task in analysed and is_control(library_task(cfg, task)):
            es_only = [k for k in es_only if k != "n_repeats"]  # their loss's rollouts
        run = task_strategies(cfg, task)
        if es_only and run and all(is_gd(s) for s in run):
            notes.append(
                f"tasks.{task} sets {', '.join(es_only)}, which only ES chains read, and "
                f"{task} runs gradient descent alone ({', '.join(run)}): they do nothing "
                "there (a trainer's own batch and steps are in the gd block, e.g. "
                "gd.gd_adam.batch_size)"
            )
    # the budget of a rewound round: no rewound round, no budget
    own = {t for t in cfg["tasks"] if "rewind_budget" in (cfg["tasks"][t] or {})}
    for task in sorted(t for t in own if not task_rewind(cfg, t)):
        notes.append(
            f"tasks.{task}.rewind_budget is set, but task {task} rewinds to k = 0 (rewind), so "
            "its rounds start from θ0 and search all generations: it does nothing there"
        )
    if cfg.get("rewind_budget", DEFAULT_REWIND_BUDGET) != DEFAULT_REWIND_BUDGET and not any(
        task_rewind(cfg, t) for t in cfg["tasks"] if t not in own
    ):
        notes.append(
            f"rewind_budget is {cfg['rewind_budget']}, but no task it applies to rewinds (k = 0: "
            "rewind), so their rounds start from θ0 and search all generations: it does nothing"
        )
    if cfg.get("data_dir") and not _reads_data_dir(cfg):
        notes.append(
            "data_dir is set, but no task reads a dataset folder (digits ships with the "
            "package; control tasks have none): it is not read"
        )
    notes += _unread_counts(cfg, methods_by_task)
    resources = cfg.get("resources") or {}
    grouped = resources.get("group_chains", "none") != "none"  # transfers too, by seeds
    for key in ("group_program", "group_runtime"):
        default = schema["resources"]["properties"][key].get("default")
        if not grouped and resources.get(key, default) != default:
            notes.append(
                f"resources.{key} is set, but no job trains a group (group_chains: none): it "
                "does nothing"
            )
    return notes


def _unread_counts(cfg: dict, methods_by_task: dict[str, set]) -> list[str]:
    """Counts a config gives that a run reads only in part or not at all: dynamic_gradient's
    probe without that method, more GraSP/SNIP examples or landscape test examples than a
    task has (all of them are used), and landscape test examples on control tasks, whose
    loss is over training episodes (the value still enters the landscapes' digest)."""
    from .tasks.data import test_examples, train_examples  # numpy only: no JAX

    notes = []
    methods = set().union(*methods_by_task.values())
    if "probe_pairs" in (cfg.get("dynamic_sparse") or {}) and "dynamic_gradient" not in methods:
        notes.append("dynamic_sparse.probe_pairs is set, but no chain runs dynamic_gradient, "
                     "the one method that probes: it does nothing")  # fmt: skip
    examples = int((cfg.get("pruning_at_init") or {}).get("examples", 0))
    # a note on eval_examples only where the config writes it (its default reads every task)
    written = "eval_examples" in ((cfg.get("analyses") or {}).get("landscape") or {})
    landscape = {t for t, _, _, _ in analysis_chains(cfg, "landscape")} if written else set()
    eval_examples = int(analysis_options(cfg, "landscape").get("eval_examples", 0))
    for task, run in methods_by_task.items():
        base, block = library_task(cfg, task), cfg["tasks"][task] or {}
        if is_control(base):
            if task in landscape:
                notes.append(
                    f"analyses.landscape.eval_examples ({eval_examples}) is unread on the "
                    f"control task {task}, whose landscape loss is over training episodes"
                )
            continue
        split = block.get("kmnist_split", DEFAULT_KMNIST_SPLIT)
        if run & set(INIT_GRADIENT_METHODS) and examples > (n := train_examples(base, split)):
            notes.append(
                f"pruning_at_init.examples is {examples}, but {task} has {n} training "
                f"examples: snip and grasp score θ0 on all {n}"
            )
        if task in landscape and eval_examples > (n := test_examples(base, split)):
            notes.append(
                f"analyses.landscape.eval_examples is {eval_examples}, but {task} has {n} "
                f"test examples: its landscapes use all {n}"
            )
    return notes


def running_analyses(cfg: dict) -> str:
    """Which analyses this config runs, and why: no ``analyses`` block runs none, a block
    without ``enabled`` runs every one (the two are easy to mistake for each other)."""
    block = cfg.get("analyses")
    if block is None:
        return "none (no analyses block; one without `enabled` runs every analysis)"
    made = {n: len(analysis_artifacts(cfg, n)) for n in ANALYSES}
    running = [n for n in ANALYSES if made[n]]
    why = "analyses.enabled" if "enabled" in block else "no `enabled` list: every analysis"
    if not running:
        return f"none ({why})"
    return f"{', '.join(running)} ({why}; {sum(made.values())} artifacts)"


def idle_analyses(cfg: dict) -> dict[str, str]:
    """{analysis: why it makes nothing} of the analyses the analyses block runs by default
    (no ``enabled`` list: all of them) whose filters leave them nothing. Allowed, since a
    block shared between configs may narrow to chains one of them lacks, so check-config
    notes them rather than refusing (one named in ``enabled`` is refused)."""
    block = cfg.get("analyses")
    if block is None or "enabled" in block:
        return {}
    return {n: why for n in ANALYSES if (why := _analysis_makes_nothing(cfg, n))}


def _analysis_makes_nothing(cfg: dict, name: str) -> str | None:
    """Why an enabled analysis would make no artifact (:func:`analysis_artifacts`), or None."""
    if analysis_artifacts(cfg, name):
        return None
    if name == "lmc" and analysis_chains(cfg, name):
        return "LMC compares 2 rounds or 2 seeds of a chain and this config has 1 of each"
    if name == "lmc":
        return "its filters leave it no chain of this config, and no ES → GD transfer runs"
    sigma = " with a per-weight σ (not gradient descent)" if name == "snr_magnitude" else ""
    return f"its filters leave it no chain{sigma} of this config"


def analysis_artifacts(cfg: dict, name: str) -> list[str]:
    """Every artifact analysis ``name`` makes for this config (the workflow's targets, and
    what the validation calls making nothing): one per chain that passes its filters; for
    LMC, consecutive rounds per chain (2 rounds or more), between seeds per (task, strategy,
    method) (2 seeds or more), and the ES → GD barrier per seed of each ES → GD transfer."""
    from . import paths

    exp, selected = cfg["experiment"], analysis_chains(cfg, name)
    if name != "lmc":
        return [paths.chain_analysis(analysis_file(name), exp, *chain) for chain in selected]
    out = []
    if cfg["rounds"] > 1:
        file = analysis_file("lmc", "consecutive")
        out += [paths.chain_analysis(file, exp, *chain) for chain in selected]
    if lmc_seed_pair(cfg) is not None:
        file = analysis_file("lmc", "seeds")
        out += sorted({paths.seeds_analysis(file, exp, t, s, m) for t, s, m, _ in selected})
    out += [
        paths.transfer_analysis(analysis_file("lmc", "es_gd"), exp, transfer, k)
        for transfer in es_gd_transfers(cfg)
        for k in cfg["seeds"]
    ]
    return out


def _check_sigma_methods(cfg: dict) -> None:
    """A method asked for by name where it does not run is an error: one that divides by σ
    for a strategy without one, a strategy's variant (snr_study) for another strategy, in
    its ``strategy_methods`` list; or in a task's own ``methods``, one that runs for none of
    the task's strategies. Listed in the top-level ``methods`` it is skipped where it does
    not apply, as for gradient descent (:data:`SKIPPED_METHODS`): asked for by name, it was
    dropped there silently too."""
    for s, only in (cfg.get("strategy_methods") or {}).items():
        odd = [m for m in only if m in SIGMA_METHODS and not has_per_weight_sigma(s)]
        if odd:
            raise ConfigError(
                f"strategy_methods.{s} lists {odd}, which divide by the search distribution's "
                f"per-weight std σ; {s} has none, so they are undefined for it. Magnitude and "
                "random run for it; remove them from its list"
            )
        for m in only:
            if not method_applies(m, s):
                raise ConfigError(
                    f"strategy_methods.{s} lists {m!r}, which runs for "
                    f"{', '.join(SNR_VARIANT_STRATEGIES[m])} only, so {s} would not run it: "
                    "remove it from that list"
                )
    for task, entry in cfg["tasks"].items():
        strategies = task_strategies(cfg, task)
        for m in (entry or {}).get("methods") or ():
            if strategies and not any(method_applies(m, s) for s in strategies):
                raise ConfigError(
                    f"tasks.{task}.methods lists {m!r}, which runs for none of the task's "
                    f"strategies {strategies} ({SKIPPED_METHODS}), so it would train nothing: "
                    f"remove it there, or add a strategy it runs for to tasks.{task}.strategies"
                )


def _check_dynamic(cfg: dict) -> None:
    """Dynamic sparse ES: regrowth on chunk boundaries, and a strategy whose state it can
    reset for a regrown weight (gradient descent skips these methods, as it skips snr)."""
    from .dynamic_sparse import DYNAMIC_STRATEGIES

    every = int(cfg["dynamic_sparse"]["every"])
    for task in cfg["tasks"]:
        for s in task_strategies(cfg, task):
            if is_gd(s) or not set(task_methods(cfg, task, s)) & set(DYNAMIC_METHODS):
                continue
            if s not in DYNAMIC_STRATEGIES:
                raise ConfigError(
                    f"methods {list(DYNAMIC_METHODS)} regrow weights, which {s}'s state does "
                    f"not support; run them with {', '.join(DYNAMIC_STRATEGIES)} (set "
                    "strategy_methods or tasks.<task>.methods)"
                )
            es = task_es(cfg, task)
            chunk = min(int(es["log_every"]), int(es["num_generations"]))
            if every % chunk:
                schema = load_schema()["properties"]["dynamic_sparse"]["properties"]["every"]
                raise ConfigError(
                    f"dynamic_sparse.every is {every} (default {schema['default']}): it must be "
                    "a multiple of es.log_every "
                    f"({chunk} for task {task}), where the round's chunks end"
                )
            if every >= int(es["num_generations"]):  # regrowth at g % every == 0 < G only
                raise ConfigError(
                    f"dynamic_sparse.every is {every}, not below the {es['num_generations']} "
                    f"generations of a round of task {task}: its dynamic chains would never "
                    "regrow a weight (each round a static random mask); "
                    + (
                        f"set every to a multiple of {chunk} below {es['num_generations']}, "
                        "or raise es.num_generations"
                        if chunk < int(es["num_generations"])
                        else f"lower es.log_every (regrowth falls on its chunks' ends, here "
                        f"{chunk}) and set every to a multiple of it below "
                        f"{es['num_generations']}"
                    )
                )
            if "dynamic_gradient" in task_methods(cfg, task, s):
                _check_probe(cfg, task, s)


def _check_probe(cfg: dict, task: str, strategy: str) -> None:
    """dynamic_gradient's search-gradient probe, 2 · pairs antithetic members, must fit how
    the task evaluates a population: a vision task in population_chunk chunks (with an odd P
    the job failed at round 1's regrowth), a control task at once, unchunked (a probe beyond
    the strategy's own population, 2,048 pairs of brax rollouts, would hold gigabytes and
    fail there out of memory)."""
    pop = int(strategy_settings(cfg, task, strategy)["population_size"])
    pairs = probe_pairs(cfg["dynamic_sparse"], pop)
    probe, given = 2 * pairs, "probe_pairs" in cfg["dynamic_sparse"]
    gpus, share = _per_gpu(cfg, probe)
    if gpus > 1 and probe % gpus:  # the probe's members are split across the GPUs too
        raise ConfigError(
            f"dynamic_gradient's regrowth probes {strategy} on task {task} with {probe} "
            f"members (antithetic pairs: {pairs}, twice), which a job splits across its "
            f"resources.gpu {gpus} GPUs, and {gpus} does not divide {probe}: set "
            f"dynamic_sparse.probe_pairs so that {gpus} divides twice it"
        )
    if is_control(library_task(cfg, task)):
        if probe > pop:
            raise ConfigError(
                f"dynamic_sparse.probe_pairs is {pairs}, but control task {task} evaluates a "
                f"population in one program, without chunks, so its probe may not exceed "
                f"{strategy}'s population of {pop} (at most {pop // 2} pairs); lower it, or "
                "run dynamic_gradient on control tasks in a config of their own"
            )
        return
    chunk = int((cfg["tasks"][task] or {}).get("population_chunk") or DEFAULT_POPULATION_CHUNK)
    if share % min(chunk, share):
        source = "dynamic_sparse.probe_pairs" if given else f"half its population of {pop}"
        fix = (
            f"a dynamic_sparse.probe_pairs whose double {chunk} divides"
            if given
            else f"{strategy} an even population_size"
        )
        raise ConfigError(
            f"dynamic_gradient's regrowth probes {strategy} on task {task} with {probe} "
            f"members (antithetic pairs: {pairs}, twice; {source})"
            + (f", {share} on each of its {gpus} GPUs" if share != probe else "")
            + f", which tasks.{task}.population_chunk {chunk} does not divide; give {fix}, "
            f"or a population_chunk dividing both {pop // max(gpus, 1)} and {share}"
        )


def _normalizes_observations(cfg: dict, task: str) -> bool:
    """Whether task entry ``task`` keeps running observation statistics: its
    ``obs_normalization``, by default on for brax tasks only (as tasks.control decides)."""
    setting = (cfg["tasks"][task] or {}).get("obs_normalization")
    return library_task(cfg, task) in BRAX_TASKS if setting is None else bool(setting)


#: Methods that late rewinding applies to: the others are defined relative to θ0.
REWIND_METHODS = ("random", "magnitude", "snr", "snr_study")


def _check_rewind(cfg: dict) -> None:
    """Late rewinding: a rewind point on a chunk boundary of round 0, below its end, for the
    trainers and methods that rewind (see the schema's ``rewind``)."""
    for task in cfg["tasks"]:
        k = task_rewind(cfg, task)
        if not k:
            continue
        where = f"tasks.{task}.rewind" if "rewind" in (cfg["tasks"][task] or {}) else "rewind"
        if _normalizes_observations(cfg, task):
            raise ConfigError(
                f"{where} is {k}, but task {task} normalises its observations "
                "(obs_normalization, on by default for brax): a rewound round would restart "
                f"the running statistics while its weights come from generation {k}, tuned "
                f"on the statistics of then; set tasks.{task}.obs_normalization: false or "
                f"{where} to 0"
            )
        for s in task_strategies(cfg, task):
            if s == "gd_ppo":
                raise ConfigError(
                    f"{where} is {k}, but gd_ppo does not rewind (ES and gd_adam do); "
                    f"set tasks.{task}.strategies without gd_ppo or {where} to 0"
                )
            odd = [m for m in task_methods(cfg, task, s) if m not in REWIND_METHODS]
            if odd:
                raise ConfigError(
                    f"{where} is {k}, but methods {odd} are defined relative to θ0 and do "
                    f"not rewind; set tasks.{task}.methods to a subset of {list(REWIND_METHODS)}"
                )
            if is_gd(s):
                if task_rewind_budget(cfg, task) == "remaining":
                    raise ConfigError(
                        f"{where} is {k} with rewind_budget remaining, but {s} rewinds with "
                        f"the full budget only (ES searches the remaining G − k); set "
                        f"tasks.{task}.strategies to ES strategies or rewind_budget to full"
                    )
                steps, per_epoch, _ = _gd_adam_steps(cfg, task)
                if k >= steps:
                    raise ConfigError(
                        f"{where} is {k}, but {s}'s round on task {task} has {steps} minibatch "
                        f"steps ({steps // per_epoch} epochs of {per_epoch}), so every {s} "
                        f"chain would fail in round 0: give {where} below {steps}, or more "
                        f"gd.{s}.epochs"
                    )
                continue
            es = task_es(cfg, task)
            every, total = int(es["log_every"]), int(es["num_generations"])
            if k % min(every, total) or k >= total:
                raise ConfigError(
                    f"{where} is {k}: it must be a multiple of es.log_every ({every}, where "
                    f"the round's chunks end) and below es.num_generations ({total})"
                )
    for entry in cfg.get("transfer") or []:
        for side in ("source", "target"):
            task = entry[side]["task"]
            if task in cfg["tasks"] and task_rewind(cfg, task):
                raise ConfigError(
                    f"transfer {entry['name']}: its {side} task {task} rewinds; transfers "
                    "train a ticket from θ0, so use a task entry without rewind"
                )


TASK_ENTRY_NAME = re.compile(f"^{ENTRY_NAME}$")


def _gd_adam_steps(cfg: dict, task: str) -> tuple[int, int, int]:
    """(minibatch steps of a gd_adam round on task entry ``task``, steps per epoch, N):
    epochs × ⌊N / batch_size⌋, N the training examples of its dataset and split."""
    from .tasks.data import train_examples

    hp = strategy_settings(cfg, task, "gd_adam")
    split = (cfg["tasks"][task] or {}).get("kmnist_split", DEFAULT_KMNIST_SPLIT)
    n = train_examples(library_task(cfg, task), split)
    per_epoch = n // int(hp["batch_size"])
    return int(hp["epochs"]) * per_epoch, per_epoch, n


def _check_batches_fit_data(cfg: dict) -> None:
    """A gd_adam batch larger than its task's training set: every train job would fail. An
    ES generation's minibatch larger than it: drawn with replacement, it only repeats
    examples, and a mistyped size (10,000,000) ran every job out of memory."""
    from .tasks.data import train_examples  # numpy only: no JAX

    for task, block in cfg["tasks"].items():
        base, batch = library_task(cfg, task), (block or {}).get("batch_size")
        es_runs = any(not is_gd(s) for s in task_strategies(cfg, task))  # else noted unread
        if batch is None or base not in VISION_TASKS or not es_runs:
            continue
        n = train_examples(base, (block or {}).get("kmnist_split", DEFAULT_KMNIST_SPLIT))
        if int(batch) > n:
            raise ConfigError(
                f"tasks.{task}.batch_size is {batch}, more than the {n} training examples of "
                f"{base}: an ES generation draws its minibatch with replacement, so a larger "
                f"one only repeats examples (and costs memory): set it to at most {n}"
            )
    for task in cfg["tasks"]:
        if "gd_adam" not in task_strategies(cfg, task):
            continue
        _, per_epoch, n = _gd_adam_steps(cfg, task)
        if per_epoch < 1:
            batch = strategy_settings(cfg, task, "gd_adam")["batch_size"]
            raise ConfigError(
                f"gd_adam's batch_size {batch} on task {task} exceeds the {n} training "
                f"examples of {library_task(cfg, task)}: set gd.gd_adam.batch_size (or "
                f"tasks.{task}.strategy_overrides.gd_adam.batch_size) to at most {n}"
            )


def _fill_kmnist_split(cfg: dict) -> None:
    """Write each K-MNIST task's ``kmnist_split`` (default ``full``) into its block, so the
    split is in every chain's digest and two splits never share results; refuse the key on
    other tasks, where it would do nothing. A new block is assigned, never an edit in place:
    YAML anchors (``kmnist: *vision``) share one dict between tasks."""
    for task, block in cfg["tasks"].items():
        block = block or {}
        if library_task(cfg, task) == "kmnist":
            split = block.get("kmnist_split", DEFAULT_KMNIST_SPLIT)
            cfg["tasks"][task] = {**block, "kmnist_split": split}
        elif "kmnist_split" in block:
            raise ConfigError(
                f"tasks.{task}.kmnist_split applies to K-MNIST tasks only, and {task} runs "
                f"{library_task(cfg, task)}; remove the key"
            )


def _check_task_entries(tasks: dict) -> None:
    """A task entry is named after a library task, or names one with ``task:``. The alias
    lets one experiment run a task several times under other names (one entry per init scheme
    for Fig. 9, say); the entry name is what paths, keys and the results dataset use."""
    for name, block in tasks.items():
        base = (block or {}).get("task") if isinstance(block, dict) else None
        if base is None:
            if name not in TASKS:
                raise ConfigError(
                    f"unknown task {name!r}{_suggest(name, TASKS)}; allowed: "
                    f"{', '.join(sorted(TASKS))}; or keep the name and add `task: <one of "
                    "those>` to run a library task under another name"
                )
        elif base not in TASKS:
            raise ConfigError(
                f"tasks.{name}.task is {base!r}, not a library task{_suggest(base, TASKS)}; "
                f"allowed: {', '.join(sorted(TASKS))}"
            )
        elif name in TASKS and base != name:
            # its results would be labelled with the other task's name everywhere
            raise ConfigError(
                f"task entry {name!r} is the name of a library task, but it runs {base!r} "
                f"(tasks.{name}.task): name the entry otherwise, e.g. {base}_{name}"
            )
        if not TASK_ENTRY_NAME.match(str(name)):
            raise ConfigError(
                f"task entry name {name!r} may hold only lower-case letters, digits and _ "
                "(it becomes a path component); rename it"
            )
        if name == TRANSFER_FOLDER:
            raise ConfigError(
                f"task entry name {name!r} is the folder of an experiment's transfers "
                f"(results/<experiment>/{TRANSFER_FOLDER}/): rename it, e.g. {name}_task"
            )


#: Task-block keys that one kind of task reads and every other ignores: on another kind of
#: task such a key would do nothing (``hidden`` on MNIST), so it is refused, not dropped.
TASK_KEY_KIND = {
    "batch_size": "vision",
    "population_chunk": "vision",
    "hidden": "control",
    "n_repeats": "control",
    "max_steps": "control",
    "n_test": "control",
    "obs_normalization": "control",
    "policy_bias_init": "control",
    "policy_output": "continuous",
    "backend": "brax",
    "torso_mass_factor": "ant_heavy",
}


def _task_kinds(base: str) -> set[str]:
    """The kinds of library task ``base``: vision, or control with its actions (discrete or
    continuous) and its library (gymnax or brax), and ant_heavy for itself."""
    if not is_control(base):
        return {"vision"}
    actions = "discrete" if base in DISCRETE_CONTROL_TASKS else "continuous"
    return {
        "control",
        actions,
        CONTROL_TASKS[base],
        *(["ant_heavy"] if base == "ant_heavy" else []),
    }


def _check_task_keys_fit_kind(cfg: dict) -> None:
    """Each key of a task block applies to that kind of task (:data:`TASK_KEY_KIND`); a
    control task's network is its policy MLP, so ``network`` there may only say ``mlp``."""
    for task, block in cfg["tasks"].items():
        base = library_task(cfg, task)
        kinds = _task_kinds(base)
        for key in sorted(block or {}):
            kind = TASK_KEY_KIND.get(key)
            if kind is not None and kind not in kinds:
                raise ConfigError(
                    f"tasks.{task}.{key} applies to {kind} tasks only, and {task} runs "
                    f"{base}, which would ignore it; remove the key"
                )
        network = (block or {}).get("network")
        if is_control(base) and network not in (None, "mlp"):
            raise ConfigError(
                f"tasks.{task}.network is {network}, but {task} runs the control task {base}, "
                "whose network is the policy MLP (its sizes: `hidden`); remove the key"
            )
        if not is_control(base) and network == "mlp":
            raise ConfigError(
                f"tasks.{task}.network is mlp, the control tasks' policy; {task} runs the "
                f"vision task {base}, whose networks are cnn (the paper's) and cnn_small: "
                "choose one of those, or remove the key for the task's default"
            )


def library_task(cfg: dict, task: str) -> str:
    """The library task (a key of ``evotickets.tasks.TASKS``) that config entry ``task`` runs."""
    return (cfg["tasks"].get(task) or {}).get("task", task)


def _strategy_keys(strategy: str) -> set[str]:
    if is_gd(strategy):
        return set(GD_STRATEGIES[strategy]) | set(GD_OPTIONAL_KEYS[strategy])
    return COMMON_KEYS | STRATEGY_KEYS[strategy]


def _validate_transfer(cfg: dict) -> None:
    """Each transfer entry names settings of this config, a valid source method and a unique
    name; the source method defaults to snr."""
    names = set()
    for i, entry in enumerate(cfg.get("transfer") or []):
        where = f"transfer[{i}] ({entry['name']})"
        if entry["name"] in names:
            raise ConfigError(f"{where}: the name {entry['name']!r} is used twice")
        names.add(entry["name"])
        # the schema fills it only after these checks: their messages say it was the default
        named = "method" in entry["source"]
        entry["source"].setdefault("method", TRANSFER_SOURCE_METHOD)
        for side in ("source", "target"):
            task, strategy = entry[side]["task"], entry[side]["strategy"]
            if task not in cfg["tasks"]:
                raise ConfigError(
                    f"{where}: {side} task {task!r} is not in `tasks`{_suggest(task, cfg['tasks'])}"
                    "; transfer reads and trains only settings of this config"
                )
            if strategy not in chain_strategies(cfg):
                raise ConfigError(
                    f"{where}: {side} strategy {strategy!r} is not in `strategies` or `gd`"
                    f"{_suggest(strategy, chain_strategies(cfg))}"
                )
        for side in ("source", "target"):
            task, strategy = entry[side]["task"], entry[side]["strategy"]
            if strategy in task_strategies(cfg, task):
                continue
            base = library_task(cfg, task)
            if is_gd(strategy) and not gd_fits_task(strategy, base):
                raise ConfigError(
                    f"{where}: {side} strategy {strategy} trains {GD_TASK_KIND[strategy]} tasks "
                    f"only, and task {task} runs {base}: choose a {side} task of that kind"
                )
            raise ConfigError(
                f"{where}: {side} strategy {strategy} does not run on task {task} "
                f"(tasks.{task}.strategies lists {task_strategies(cfg, task)}), so there is "
                f"no {side} chain to take the ticket from or compare with: add it there"
            )
        src = entry["source"]
        # a message naming a method the user never wrote says where it came from
        method_where = where + (
            ""
            if named
            else f" (source.method unset, so its default {TRANSFER_SOURCE_METHOD}: set "
            "source.method to the method whose ticket to take)"
        )
        refuse_dynamic_source(src["method"], method_where)
        if src["method"] in chain_methods(cfg, src["strategy"]) and src["method"] not in (
            task_methods(cfg, src["task"], src["strategy"])
        ):
            raise ConfigError(
                f"{method_where}: source method {src['method']!r} does not run for {src['strategy']} "
                f"on task {src['task']} (its methods: "
                f"{task_methods(cfg, src['task'], src['strategy'])}): add it to "
                f"tasks.{src['task']}.methods, or take the ticket of a method that runs"
            )
        if src["method"] not in chain_methods(cfg, src["strategy"]):
            if is_gd(src["strategy"]) and src["method"] in SIGMA_METHODS:
                why = f"{src['method']} is undefined for gradient descent (no search distribution)"
            elif src["method"] in cfg["methods"]:  # listed, but not for this strategy
                why = (
                    f"{src['strategy']} does not run it ({SKIPPED_METHODS}); take the ticket of "
                    "a strategy that runs it"
                )
            else:
                why = f"it is not in `methods` {cfg['methods']}"
            raise ConfigError(
                f"{method_where}: source method {src['method']!r} cannot be used: {why}"
            )
        if (src["task"], src["strategy"]) == (entry["target"]["task"], entry["target"]["strategy"]):
            raise ConfigError(f"{where}: source and target are the same setting")
        tgt = entry["target"]
        runs = task_methods(cfg, tgt["task"], tgt["strategy"])
        lacking = [m for m in (transfer_own_method(cfg, entry), "random") if m not in runs]
        if lacking:  # the reports set the moved ticket against both: columns of NaN
            raise ConfigError(
                f"{where}: the target {tgt['strategy']} on {tgt['task']} runs {runs}, not "
                f"{' or '.join(lacking)}, which the transferred ticket is compared with in the "
                "accuracy table, summary.nc and the claims (the target's own ticket, snr "
                "where it runs snr, else magnitude, and its random baseline): add "
                f"{', '.join(lacking)} to tasks.{tgt['task']}.methods"
            )
        keeps = {
            side: init_settings(cfg, entry[side]["task"], 0)["prune_output_layer"]
            for side in ("source", "target")
        }
        if keeps["source"] != keeps["target"]:
            raise ConfigError(
                f"{where}: tasks {src['task']} and {entry['target']['task']} differ in "
                "prune_output_layer, so the ticket's round t would sit at another sparsity of "
                "the target's prunable weights than the target's own round t it is compared "
                "with; give both tasks the same prune_output_layer"
            )
        backends = {  # brax's physics pipelines: another backend is another environment
            side: (cfg["tasks"][entry[side]["task"]] or {}).get("backend", DEFAULT_BRAX_BACKEND)
            for side in keeps
            if library_task(cfg, entry[side]["task"]) in BRAX_TASKS
        }
        if len(backends) == 2 and backends["source"] != backends["target"]:
            raise ConfigError(
                f"{where}: tasks {src['task']} and {entry['target']['task']} run brax's "
                f"{backends['source']} and {backends['target']} backends, so the transfer "
                "would change the physics pipeline along with the task; give both tasks the "
                "same backend (tasks.<task>.backend)"
            )
        shapes = {side: _network_shape(cfg, entry[side]["task"]) for side in keeps}
        if shapes["source"] != shapes["target"]:
            raise ConfigError(
                f"{where}: the ticket cannot fit the target network: the source task "
                f"{src['task']} has {_shape_text(shapes['source'])}, the target "
                f"{entry['target']['task']} {_shape_text(shapes['target'])} (a ticket's "
                "tensors must have the target's shapes); transfer between tasks of one "
                "network and input size"
            )


def _network_shape(cfg: dict, task: str) -> tuple[str, str, tuple]:
    """What sets a task entry's tensor shapes: ("network", its CNN, its input images) for a
    vision task; ("policy", its environment's observation and action sizes
    (:data:`names.CONTROL_IO_SIZES`), its hidden sizes) for a control task. Two tasks share
    tickets exactly where these are equal (two environments of equal sizes too: their
    tensors fit, which the transfer job checks again on the tensors themselves)."""
    base, block = library_task(cfg, task), cfg["tasks"][task] or {}
    if is_control(base):
        hidden = tuple(block.get("hidden", default_hidden(base)))
        return "policy", CONTROL_IO_SIZES[base], hidden
    return "network", block.get("network", TASKS[base][1]), VISION_INPUT_SHAPE[base]


def _shape_text(shape: tuple) -> str:
    """A :func:`_network_shape` in words, for a refusal."""
    kind, what, size = shape
    if kind == "policy":
        return f"a policy of {what[0]} observations, hidden {list(size)}, {what[1]} outputs"
    return f"the {what} network on {'×'.join(map(str, size))} inputs"


def refuse_dynamic_source(method: str, where: str) -> None:
    """A transfer's source method must keep its mask within a round: dynamic sparse ES's
    mask.h5 is the random mask a round starts from, not the ticket it ends with."""
    if method in DYNAMIC_METHODS:
        raise ConfigError(
            f"{where}: source method {method!r} moves its mask while it evolves, so its "
            "mask.h5 is the random mask a round starts from, not a ticket; take the ticket "
            "of a fixed-mask method (snr, magnitude, …)"
        )


def chain_strategies(cfg: dict) -> list[str]:
    """Every strategy of the chain grid: the ES strategies, then the GD ones."""
    return [*cfg["strategies"], *(cfg.get("gd") or {})]


def chain_methods(cfg: dict, strategy: str) -> list[str]:
    """The methods a strategy's chains run: all of ``methods``, except that SNR (which divides
    by the search distribution's σ) is skipped for gradient descent, and an SNR variant (e.g.
    ``snr_study``) runs only for the strategies where it differs from ``snr``. The config's
    ``strategy_methods`` block may narrow one strategy's methods (e.g. a GD baseline with
    random and magnitude only), so a budget goes to the comparisons that need it."""
    only = (cfg.get("strategy_methods") or {}).get(strategy)
    return [m for m in cfg["methods"] if method_applies(m, strategy) and (not only or m in only)]


def method_applies(method: str, strategy: str) -> bool:
    """Whether ``method`` is defined, and distinct from another method, for ``strategy``."""
    if not has_per_weight_sigma(strategy) and method in SIGMA_METHODS:
        return False  # gradient descent, or an ES without a per-weight σ: no SNR
    return strategy in SNR_VARIANT_STRATEGIES.get(method, (strategy,))


def transfer_entry(cfg: dict, name: str) -> dict:
    for entry in cfg.get("transfer") or []:
        if entry["name"] == name:
            return entry
    known = [e["name"] for e in cfg.get("transfer") or []]
    raise ConfigError(f"unknown transfer {name!r}{_suggest(name, known)}; known: {known}")


def transfer_own_method(cfg: dict, entry: dict) -> str:
    """The target's own ticket a transfer is set against: its snr chain where the target
    runs snr, else its magnitude chain (GD, an ES without per-weight σ, or a target whose
    methods leave snr out)."""
    tgt = entry["target"]
    return "snr" if "snr" in task_methods(cfg, tgt["task"], tgt["strategy"]) else "magnitude"


def transfer_kind(entry: dict) -> str:
    """task → task, ES → ES or ES → GD (or GD → …), from what differs between the settings."""
    src, tgt = entry["source"], entry["target"]
    if src["task"] != tgt["task"]:
        return "task"
    if is_gd(tgt["strategy"]) or is_gd(src["strategy"]):
        return "gd"
    return "es"


def es_gd_transfers(cfg: dict) -> list[str]:
    """Transfers of an ES ticket to gradient descent on the same task: the ES network and the
    GD network share θ0 and the mask, so the ``lmc`` analysis compares them round by round
    (``lmc_es_gd.h5``). Empty when ``lmc`` is not enabled."""
    block = cfg.get("analyses")
    if block is None or "lmc" not in block.get("enabled", ANALYSES):
        return []
    return [
        e["name"]
        for e in cfg.get("transfer") or []
        if transfer_kind(e) == "gd" and not is_gd(e["source"]["strategy"])
    ]


def transfer_settings(cfg: dict, name: str, seed: int) -> dict:
    """What determines one transfer chain, in its JSON form (:class:`TransferSettings`): the
    source chain's settings (whose mask of round t is the ticket) and the target's (which
    trains it). The target keeps its own chain keys, so a transferred ticket sees the same
    noise and minibatches as the target's own tickets."""
    return transfer_spec(cfg, name, seed).to_dict()


def transfer_spec(cfg: dict, name: str, seed: int) -> TransferSettings:
    entry = transfer_entry(cfg, name)
    src, tgt = entry["source"], entry["target"]
    return TransferSettings(
        transfer=name,
        kind=transfer_kind(entry),
        seed=int(seed),
        source=chain_spec(cfg, src["task"], src["strategy"], src["method"], seed),
        target=chain_spec(cfg, tgt["task"], tgt["strategy"], TRANSFER_TARGET_METHOD, seed),
        data_dir=cfg.get("data_dir"),
    )


def strategy_settings(cfg: dict, task: str, strategy: str) -> dict[str, Any]:
    """A strategy's hyperparameters for one task: the global block (``strategies`` or ``gd``),
    then task overrides."""
    merged = dict(cfg["gd"][strategy] if is_gd(strategy) else cfg["strategies"][strategy])
    overrides = (cfg["tasks"][task] or {}).get("strategy_overrides") or {}
    merged.update(overrides.get(strategy) or {})
    return merged


#: Config keys of how the jobs run, not what they compute: no number and no digest reads
#: them. The reporting rules' config (common.smk's REPORT_CONFIG) leaves them out, so that a
#: changed runtime or grouping reruns no report, and so does the config summary.nc records,
#: which would otherwise hold the schema's defaults that validation fills in, not the run's.
RUN_ONLY_KEYS = ("resources", "jax_cache_dir")


def lmc_seed_pair(cfg: dict) -> tuple[int, int] | None:
    """The two seeds whose networks LMC across seeds joins (rule ``lmc_seeds``; made from the
    first one's settings): the config's first two, None where it runs one seed."""
    seeds = cfg["seeds"]
    return (int(seeds[0]), int(seeds[1])) if len(seeds) > 1 else None


def reported_config(cfg: dict) -> dict:
    """``cfg`` without :data:`RUN_ONLY_KEYS`: what the reports record of a config. Its data
    folder is recorded as null (where the data lives, not what was computed), as a config
    without one writes it: the reporting rules' param stays the same when the folder moves."""
    return without_data_dir({k: v for k, v in cfg.items() if k not in RUN_ONLY_KEYS})


def without_data_dir(d: dict) -> dict:
    """A config's or settings' dict with its ``data_dir`` null, as one without a folder
    writes it: where the data lives is no part of what is computed, so what the rules pass
    as params (settings JSON, the reports' config) does not change when the folder moves."""
    return {**d, "data_dir": None} if "data_dir" in d else d


TASK_META_KEYS = (
    "strategy_overrides",
    "strategies",
    "es",
    "methods",
    "rewind",
    "rewind_budget",
)


def task_methods(cfg: dict, task: str, strategy: str) -> list[str]:
    """The methods a (task, strategy) runs: the task's own list, else ``methods``; gradient
    descent skips snr (no search distribution)."""
    listed = (cfg["tasks"][task] or {}).get("methods") or cfg["methods"]
    return [m for m in chain_methods(cfg, strategy) if m in listed]


def task_strategies(cfg: dict, task: str) -> list[str]:
    """The strategies that run on ``task``: its own list, else every configured ES and GD
    strategy."""
    listed = (cfg["tasks"][task] or {}).get("strategies")
    if listed:
        return list(listed)
    base = library_task(cfg, task)
    return [s for s in chain_strategies(cfg) if not is_gd(s) or gd_fits_task(s, base)]


def chains(cfg: dict) -> list[tuple[str, str, str, int]]:
    """Every (task, strategy, method, seed) chain the config asks for."""
    return [
        (task, strategy, method, int(seed))
        for task in cfg["tasks"]
        for strategy in task_strategies(cfg, task)
        for method in task_methods(cfg, task, strategy)
        for seed in cfg["seeds"]
    ]


ANALYSIS_FILTERS = ("tasks", "strategies", "methods")


def analysis_options(cfg: dict, name: str) -> dict:
    """Options of one analysis with the schema's defaults filled in (without the chain
    filters, which say where it runs, not what it computes)."""
    given = (cfg.get("analyses") or {}).get(name) or {}
    merged = {**analysis_defaults(name), **given}
    return {k: v for k, v in merged.items() if k not in ANALYSIS_FILTERS}


def analysis_chains(cfg: dict, name: str) -> list[tuple[str, str, str, int]]:
    """The chains an analysis runs on: every chain unless the analyses block filters them,
    by ``tasks`` / ``strategies`` / ``methods`` for all analyses, or in the analysis's own
    block for that one (the paper runs LMC and landscapes on MNIST with ARS only).
    ``snr_magnitude`` needs a search distribution, so it skips gradient-descent strategies."""
    block = cfg.get("analyses")
    if block is None or name not in block.get("enabled", ANALYSES):
        return []
    own = block.get(name) or {}
    allowed = {f: own.get(f, block.get(f)) for f in ANALYSIS_FILTERS}
    keep = [
        c
        for c in chains(cfg)
        if all(allowed[f] is None or c[i] in allowed[f] for i, f in enumerate(ANALYSIS_FILTERS))
    ]
    if name == "snr_magnitude":  # it reads σ
        keep = [c for c in keep if has_per_weight_sigma(c[1])]
    return keep


def chain_settings(cfg: dict, task: str, strategy: str, method: str, seed: int) -> dict:
    """The JSON form (what the rules send the CLI) of :func:`chain_spec`."""
    return chain_spec(cfg, task, strategy, method, seed).to_dict()


def chain_spec(cfg: dict, task: str, strategy: str, method: str, seed: int) -> ChainSettings:
    """Everything that determines one pruning chain's numbers (plus where its data lives)."""
    block = cfg["tasks"][task] or {}
    return ChainSettings(
        task=task,
        task_config={k: v for k, v in block.items() if k not in TASK_META_KEYS},
        strategy=strategy,
        strategy_config=strategy_settings(cfg, task, strategy),
        method=method,
        seed=int(seed),
        prune_fraction=cfg["prune_fraction"],
        # a GD chain's numbers do not depend on the ES loop settings
        es=None if is_gd(strategy) else task_es(cfg, task),
        data_dir=cfg.get("data_dir"),
        method_config=method_config(cfg, method),
        rewind=task_rewind(cfg, task),
        rewind_budget=task_rewind_budget(cfg, task),
    )


def method_config(cfg: dict, method: str) -> dict | None:
    """A method's own settings (its registry entry's config block and ``definition``), or
    None if it has none (also for ``transfer``, the method name of a transfer's target
    chain)."""
    spec = PRUNING_METHODS.get(method)
    if spec is None or not spec.has_settings:
        return None
    block = cfg[spec.config_block] if spec.config_block else {}
    own = {k: v for k, v in block.items() if k not in spec.unread_settings}
    return {**own, **dict(spec.definition)}


def probe_pairs(block: dict, population: int) -> int:
    """The antithetic pairs of dynamic_gradient's regrowth probe: the ``dynamic_sparse``
    block's (or a chain's ``method_config``'s) ``probe_pairs``, else half the population."""
    given = block.get("probe_pairs")
    return int(given) if given is not None else max(1, population // 2)


def task_es(cfg: dict, task: str) -> dict:
    """The ES loop settings of a task's chains: the top-level ``es`` block with the task
    entry's own ``es`` overrides."""
    return {**cfg["es"], **((cfg["tasks"][task] or {}).get("es") or {})}


def task_rewind(cfg: dict, task: str) -> int:
    """The rewind point k of a task's chains: the task entry's own, else the experiment's."""
    return int((cfg["tasks"][task] or {}).get("rewind", cfg.get("rewind", 0)))


def task_rewind_budget(cfg: dict, task: str) -> str:
    """What a task's rewound rounds search (``full`` or ``remaining``): the task entry's
    own ``rewind_budget``, else the experiment's."""
    block = cfg["tasks"][task] or {}
    return str(block.get("rewind_budget", cfg.get("rewind_budget", DEFAULT_REWIND_BUDGET)))


def init_settings(cfg: dict, task: str, seed: int) -> dict:
    """What determines θ0 (JSON form): shared by every strategy and method of (task, seed)."""
    return InitSettings.for_task(cfg["tasks"][task] or {}, task, seed).to_dict()


def network_settings(cfg: dict, task: str) -> dict:
    """The init settings that fix ``task``'s network shapes, as the weight counts
    (:func:`evotickets.tasks.weight_counts`) read them: the first seed's, since every
    seed's θ0 has the same shapes."""
    return init_settings(cfg, task, cfg["seeds"][0])
