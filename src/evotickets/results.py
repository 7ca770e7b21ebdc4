"""A config's finished artifacts in a results folder, each checked to come from the settings
the config gives it: what the reports of a run (``collect`` → summary.nc, ``table``) read, so
that a file another config made (a seed no longer asked for, settings changed since) is never
counted as this config's. Reads attrs only (no JAX)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
        for r, attrs in rounds_of_chain(cfg, results, chain).items():
            yield chain, r, attrs


def rounds_of_chain(cfg: dict, results: str | Path, chain: Chain) -> dict[int, dict[str, Any]]:
    """{round: attrs} of one chain's finished rounds (checked as in :func:`chain_rounds`)."""
    digest = chain_spec(cfg, *chain).digest()
    return _finished(
        cfg, digest, lambda r: paths.round_file("trained.h5", None, *chain, r, root=results)
    )


def rounds_of_transfer(
    cfg: dict, results: str | Path, name: str, seed: int
) -> dict[int, dict[str, Any]]:
    """{round: attrs} of transfer ``name``'s finished rounds of ``seed``, each checked against
    the settings the config gives that transfer."""
    digest = transfer_spec(cfg, name, seed).digest()
    return _finished(
        cfg, digest, lambda r: paths.transfer_round_file("trained.h5", None, name, seed, r, results)
    )


def _finished(cfg: dict, digest: str, path_of: Callable[[int], str]) -> dict[int, dict[str, Any]]:
    """The digest-checked attrs of every round of ``cfg`` whose file exists."""
    found = {}
    for r in range(int(cfg["rounds"])):
        path = Path(path_of(r))
        if path.exists():
            found[r] = read_config_chain(path, "trained", digest)[1]
    return found
