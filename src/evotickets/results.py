"""A config's finished artifacts in a results folder, each checked to come from the settings
the config gives it: what the reports of a run (``collect`` → summary.nc, ``table``) read, so
that a file another config made (a seed no longer asked for, settings changed since) is never
counted as this config's. Reads attrs only (no JAX)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import paths
from .artifacts import read_config_chain
from .config import chain_spec, chains, transfer_spec

Chain = tuple[str, str, str, int]


def chain_rounds(cfg: dict, results: str | Path) -> Iterator[tuple[Chain, int, dict[str, Any]]]:
    """(chain, round, attrs) of every finished ``trained.h5`` of the chains and rounds
    ``cfg`` asks for; one of other settings is an :class:`~evotickets.artifacts.ArtifactError`
    naming it."""
    for chain in chains(cfg):
        digest = chain_spec(cfg, *chain).digest()
        for r in range(int(cfg["rounds"])):
            path = Path(paths.round_file("trained.h5", None, *chain, r, root=results))
            if path.exists():
                yield chain, r, read_config_chain(path, "trained", digest)[1]


def chain_round(cfg: dict, results: str | Path, chain: Chain, r: int) -> dict[str, Any] | None:
    """The attrs of one chain's round ``r`` (checked as in :func:`chain_rounds`), or None
    where it is not finished."""
    path = Path(paths.round_file("trained.h5", None, *chain, r, root=results))
    if not path.exists():
        return None
    return read_config_chain(path, "trained", chain_spec(cfg, *chain).digest())[1]


def transfer_round(
    cfg: dict, results: str | Path, name: str, seed: int, r: int
) -> dict[str, Any] | None:
    """The attrs of transfer ``name``'s round ``r`` of ``seed`` (checked against the settings
    the config gives that transfer), or None where it is not finished."""
    path = Path(paths.transfer_round_file("trained.h5", None, name, seed, r, results))
    if not path.exists():
        return None
    return read_config_chain(path, "trained", transfer_spec(cfg, name, seed).digest())[1]
