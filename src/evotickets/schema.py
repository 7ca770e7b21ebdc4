"""The config schema (``config.schema.yaml``): where it lives, and the defaults it declares.

It is the one place that states each config key's default; the typed settings and the config
validation both read their defaults from here. Loading it needs only PyYAML, so the Snakefile
and the settings stay free of JAX.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml

SCHEMA_PATH = str(files("evotickets") / "config.schema.yaml")


@cache
def _schema_text() -> str:
    return Path(SCHEMA_PATH).read_text()


def load_schema() -> dict:
    """A fresh copy of the schema (callers may change it)."""
    return yaml.safe_load(_schema_text())


def analysis_defaults(name: str) -> dict:
    """The defaults the schema gives for the options of analysis ``name`` (``lmc``, …)."""
    spec = load_schema()["properties"]["analyses"]["properties"].get(name, {})
    return {k: v["default"] for k, v in spec.get("properties", {}).items() if "default" in v}
