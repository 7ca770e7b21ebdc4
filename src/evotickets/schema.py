"""The config schema (``config.schema.yaml``): where it lives, and the defaults it declares.

It is the one place that states each config key's default; the typed settings and the config
validation both read their defaults from here. Loading it needs only PyYAML, so the Snakefile
and the settings stay free of JAX.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml

SCHEMA_PATH = str(files("evotickets") / "config.schema.yaml")


@cache
def _schema_text() -> str:
    return Path(SCHEMA_PATH).read_text(encoding="utf-8")


def load_schema() -> dict:
    """A fresh copy of the schema (callers may change it)."""
    return yaml.safe_load(_schema_text())


@cache
def _analysis_specs() -> dict:
    """The schema's ``analyses`` properties, parsed once (about 65 ms a parse): read, never
    changed, by :func:`analysis_defaults` and :func:`check_analysis_options`, which a
    workflow's analysis rules call once per job."""
    return yaml.safe_load(_schema_text())["properties"]["analyses"]["properties"]


def check_analysis_options(name: str, options: dict) -> None:
    """A ValueError naming the first of ``options`` (of analysis ``name``) that the schema
    refuses (a type or a range: ``directions: 0``): the config check refuses them, and an
    analysis run by hand with ``--analysis`` JSON failed on NumPy's message, or ran."""
    import jsonschema

    spec = _analysis_specs().get(name, {})
    own = {k: v for k, v in spec.get("properties", {}).items() if k in options}
    problem = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator({"properties": own}).iter_errors(options)
    )
    if problem is not None:
        key = ".".join(str(p) for p in problem.path)
        raise ValueError(f"{name} option {key}: {problem.message} (config analyses.{name})")


def block_defaults(spec: dict) -> dict:
    """The defaults a schema block (``{"properties": …}``) gives its keys, copied."""
    return {
        k: copy.deepcopy(v["default"])
        for k, v in spec.get("properties", {}).items()
        if "default" in v
    }


def analysis_defaults(name: str) -> dict:
    """The defaults the schema gives for the options of analysis ``name`` (``lmc``, …)."""
    return block_defaults(_analysis_specs().get(name, {}))
