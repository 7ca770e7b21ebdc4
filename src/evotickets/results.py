"""A config's finished artifacts in a results folder, each checked to come from the settings
the config gives it: what the reports of a run (``collect`` → summary.nc, ``table``) read, so
that a file another config made (a seed no longer asked for, settings changed since) is never
counted as this config's. Reads attrs only (no JAX)."""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import paths
from .artifacts import (
    ArtifactError,
    Digests,
    check_analysis,
    check_filed,
    read_artifact,
    read_config_chain,
    stale_inputs,
    written_at,
)
from .config import chain_spec, chains, transfer_spec

Chain = tuple[str, str, str, int]


class StaleArtifact(ArtifactError):
    """Artifacts made from inputs written again since (:func:`artifacts.stale_inputs`);
    ``paths`` are the files to delete (the workflow remakes each and what follows it)."""

    def __init__(self, paths: list[Path], why: str):
        self.paths, self.why = list(paths), why
        listed = " ".join(shlex.quote(str(p)) for p in self.paths)
        n = len(self.paths)
        others = f", one of {n} stale results (the first of each chain)" if n > 1 else ""
        super().__init__(
            f"{why}{others}: a stale result (Snakemake puts a failed job's earlier outputs back "
            "and records the job as finished). Delete and rerun the workflow (it remakes each "
            f"and the rounds after it): rm {listed}"
        )


class FinishedRounds:
    """One reading of a config's finished rounds in a results folder, as a report makes it.

    Each artifact records the write times of its inputs (:func:`artifacts.stale_inputs`);
    a reading reads each input's time once (a seed's ``init.h5`` is the input of every round
    and method of that seed), not once per artifact. A new reading reads them afresh, so a
    long-lived process that makes another one sees an input written again in between."""

    def __init__(self, cfg: dict, results: str | Path):
        self.cfg, self.results = cfg, results
        self._written = functools.cache(written_at)
        self._stale_analyses: list[StaleArtifact] = []

    def chain_rounds(self) -> Iterator[tuple[Chain, int, dict[str, Any]]]:
        """(chain, round, attrs) of every finished ``trained.h5`` of the chains and rounds
        the config asks for; one of other settings is an
        :class:`~evotickets.artifacts.ArtifactError` naming it. Stale rounds
        (:class:`StaleArtifact`) are named all at once, at the end: a failed group job can
        leave one per member, and naming one per run would take a rerun for each."""
        stale: list[StaleArtifact] = []
        for chain in chains(self.cfg):
            try:
                found = self.of_chain(chain)
            except StaleArtifact as err:
                stale.append(err)
                continue
            for r, attrs in found.items():
                yield chain, r, attrs
        if stale:
            raise StaleArtifact([p for err in stale for p in err.paths], stale[0].why)

    def of_chain(self, chain: Chain) -> dict[int, dict[str, Any]]:
        """{round: attrs} of one chain's finished rounds (checked as in
        :meth:`chain_rounds`; each round's mask.h5 too, which records the round it was
        pruned from)."""
        digest = chain_spec(self.cfg, *chain).accepted_digests()
        found = self._finished(
            digest,
            lambda r: paths.round_file("trained.h5", None, *chain, r, root=self.results),
            dict(zip(("task", "strategy", "method", "seed"), chain, strict=True)),
        )
        for r in found:
            mask = Path(paths.round_file("mask.h5", None, *chain, r, root=self.results))
            if mask.exists():
                attrs = read_artifact(mask, "mask", expected_digest=digest, with_arrays=False)[1]
                self._not_stale(mask, attrs)
        return found

    def of_transfer(self, name: str, seed: int) -> dict[int, dict[str, Any]]:
        """{round: attrs} of transfer ``name``'s finished rounds of ``seed``, each checked
        against the settings the config gives that transfer."""
        digest = transfer_spec(self.cfg, name, seed).accepted_digests()
        return self._finished(
            digest,
            lambda r: paths.transfer_round_file("trained.h5", None, name, seed, r, self.results),
            {"transfer_name": name, "seed": seed},
        )

    def analysis(
        self, path: str | Path, digest: str, analysis: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(arrays, attrs) of an ``analysis`` artifact of this config's (its settings digest
        ``digest``; holding what that analysis holds: :func:`artifacts.check_analysis`), or
        None where a round it analysed has been written again since: its numbers are of
        rounds that are no longer there. Such analyses are refused together by
        :meth:`check_analyses` (naming one per run took a rerun for each). An analysis
        written before it recorded its inputs cannot be checked."""
        arrays, attrs = read_config_chain(path, "analysis", digest)
        check_analysis(path, arrays, attrs, analysis)
        try:
            self._not_stale(Path(path), attrs)
        except StaleArtifact as err:
            self._stale_analyses.append(err)
            return None
        return arrays, attrs

    def check_analyses(self) -> None:
        """Refuse, as one :class:`StaleArtifact` naming them all, the analyses
        :meth:`analysis` found made from rounds written again since."""
        if stale := self._stale_analyses:
            raise StaleArtifact([p for err in stale for p in err.paths], stale[0].why)

    def _finished(
        self, digest: Digests, path_of: Callable[[int], str], filed: dict[str, Any]
    ) -> dict[int, dict[str, Any]]:
        """The digest-checked attrs of every round of the config whose file exists, each
        recording the chain (``filed``) and round its folder is."""
        found = {}
        for r in range(int(self.cfg["rounds"])):
            path = Path(path_of(r))
            if path.exists():
                found[r] = read_config_chain(path, "trained", digest, with_arrays=False)[1]
                check_filed(path, found[r], {**filed, "round": r})
                self._not_stale(path, found[r])
        return found

    def _not_stale(self, path: Path, attrs: dict[str, Any]) -> None:
        """An artifact made from an input that has been written again since is refused: a
        stale round must not be reported as the config's."""
        stale = stale_inputs(path, attrs, self._written)
        if stale:
            why = f"{path} was made from {stale[0]} as it was before that file was written again"
            raise StaleArtifact([path], why)
