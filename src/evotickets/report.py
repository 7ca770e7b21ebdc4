"""A plain-text table of the test metric against sparsity, per task, strategy and method.

Reads only the ``trained.h5`` attrs, so it is cheap and needs no JAX.
"""

from __future__ import annotations

import glob
from collections import defaultdict
from pathlib import Path

import numpy as np

from . import paths
from .artifacts import (
    TRAINED_ON_ATTR,
    ArtifactError,
    check_filed,
    read_artifact,
    require_results_folder,
)
from .config import chains
from .host import machine_counts, machines_line
from .names import METHODS


def _every_round(results: str | Path):
    """The attrs of every trained.h5 under ``results``, each checked against its folder
    (a round copied into another chain's folder was counted there: a wrong n)."""
    every_round = paths.round_file("trained.h5", None, "*", "*", "*", "*", "*", root=results)
    for path in sorted(glob.glob(every_round)):
        attrs = read_artifact(path, "trained", with_arrays=False)[1]
        check_filed(path, attrs, paths.round_fields(path))
        yield attrs


def collect_rows(results: str | Path, cfg: dict | None = None, reading=None) -> list[dict]:
    """One row per trained artifact under ``results``: of the chains and rounds ``cfg`` asks
    for (with their settings: another's is an error), or, without a config, every one there,
    chains an earlier config asked for included. A folder that does not exist is an error,
    not an empty table: most likely a mistyped experiment. ``reading``: the
    :class:`~evotickets.results.FinishedRounds` of ``cfg`` to read through (a new one if
    None)."""
    if cfg is None:
        require_results_folder(results)
        found = _every_round(results)
    else:
        require_results_folder(results, cfg.get("experiment"))
        found = (attrs for _, _, attrs in (reading or _reading(cfg, results)).chain_rounds())
    rows = []
    for attrs in found:
        rows.append(
            {
                "task": attrs["task"],
                "strategy": attrs["strategy"],
                "method": attrs["method"],
                "seed": int(attrs["seed"]),
                "round": int(attrs["round"]),
                "remaining": float(attrs["remaining_fraction"]),
                "metric": float(attrs["final_metric"]),
                "metric_name": attrs["metric_name"],
                "trained_on": str(attrs.get(TRAINED_ON_ATTR, "")),
            }
        )
    return rows


def accuracy_table(results: str | Path, cfg: dict | None = None) -> str:
    """Mean ± sample sd over seeds of the final test metric, one line per round, of the
    chains and transfers ``cfg`` asks for (without one: every artifact in ``results``).

    The sd divides by n − 1, as the claims' t intervals and the figures' standard errors do:
    with 3 or 4 seeds the population sd (÷ n) would understate the spread by 13–18 %."""
    # one reading of the config's rounds for the chains and the transfers: each input's
    # write time read once
    reading = _reading(cfg, results) if cfg is not None else None
    rows = collect_rows(results, cfg, reading=reading)
    if not rows:
        asked = " that the config asks for" if cfg else ""
        if cfg is None and (found := next(Path(results).rglob("trained.h5"), None)):
            folder = paths.experiment_of(found) or f"{paths.RESULTS}/<experiment>"
            raise ArtifactError(
                f"{results} is not an experiment folder, though it holds trained rounds (e.g. "
                f"{found}): pass the results folder of their run, {folder}"
            )
        raise ArtifactError(
            f"no finished round{asked} under {results} (no trained.h5): run the workflow "
            "first (`snakemake --cores 2`, with the run's --configfile), or pass the results "
            "folder of a run"
        )
    by = defaultdict(list)
    for r in rows:
        by[(r["task"], r["strategy"], r["round"], r["method"])].append(r)
    methods = [m for m in METHODS if m in {r["method"] for r in rows}]
    lines = []
    for task, strategy in sorted({(r["task"], r["strategy"]) for r in rows}):
        metric = next(r["metric_name"] for r in rows if r["task"] == task)
        mine = [r for r in rows if (r["task"], r["strategy"]) == (task, strategy)]
        decimals = metric_decimals([r["metric"] for r in mine])
        table = []
        for t in sorted({r["round"] for r in mine}):
            groups = [by.get((task, strategy, t, m), []) for m in methods]
            remaining = next(r["remaining"] for r in mine if r["round"] == t)
            cells = [metric_cell([g["metric"] for g in group], decimals) for group in groups]
            table.append((t, remaining, cells))
        lines.append(f"\n{task} / {strategy}: {metric} (mean ± sd over seeds, n seeds)")
        lines += _rounds_table(methods, table)
    lines += _transfer_lines(results, by, cfg, reading=reading)
    if cfg is None:
        note = (
            f"(every trained.h5 under {results}, chains that no config asks for any more "
            "included; give the run's config to count only its chains)"
        )
        lines += ["", note]
    elif len(rows) < (asked := len(chains(cfg)) * int(cfg["rounds"])):  # a run still going
        done = f"({len(rows)} of the {asked} chain rounds this config asks for are finished"
        lines += ["", done + "; the table shows those)"]
    lines += ["", machines_line(machine_counts(r["trained_on"] for r in rows))]
    return "\n".join(lines).lstrip("\n") + "\n"


#: A cell's width when its text fits: an accuracy as 0.9111±0.0142 (3).
CELL_WIDTH = 18


def metric_decimals(values) -> int:
    """Four decimals for accuracies and losses; two for a metric in the tens and more (a
    control task's return), whose fourth decimal says nothing and overflowed the column."""
    finite = np.abs(np.asarray(values, float))
    finite = finite[np.isfinite(finite)]
    return 4 if not finite.size or finite.max() < 10 else 2


def metric_cell(values, decimals: int = 4) -> str:
    """Mean ± sample sd (n − 1) and n; one seed has no spread to show, so its cell is the
    value and (1), not a "±0" that would read as a measured zero spread. A non-finite metric
    (a control task's rollouts can return NaN) is left out of the mean and n and counted
    beside them ("(4, 1 NaN)"), as the claims drop it, instead of making the cell NaN."""
    if not values:
        return f"{'—':>{CELL_WIDTH}}"
    v = np.array(values, float)
    bad = int((~np.isfinite(v)).sum())
    v = v[np.isfinite(v)]
    n = f"({len(v)}, {bad} NaN)" if bad else f"({len(v)})"
    if len(v) == 0:
        return n.rjust(CELL_WIDTH)
    if len(v) == 1:
        return f"{v[0]:.{decimals}f} {n}".rjust(CELL_WIDTH)
    return f"{v.mean():.{decimals}f}±{v.std(ddof=1):.{decimals}f} {n}".rjust(CELL_WIDTH)


def _rounds_table(columns, table: list[tuple[int, float, list[str]]]) -> list[str]:
    """Header, rule and one line per (round, remaining fraction, cells), every column as wide
    as its widest cell (at least CELL_WIDTH)."""
    width = max(CELL_WIDTH, *(len(c) for _, _, cells in table for c in cells))
    header = f"{'round':>5} {'remaining':>9} " + " ".join(f"{n:>{width}}" for n in columns)
    lines = [header, "-" * len(header)]
    for t, remaining, cells in table:
        lines.append(f"{t:>5} {100 * remaining:>8.1f}% " + " ".join(c.rjust(width) for c in cells))
    return lines


def _every_transfer_round(results: str | Path):
    """The attrs of every transfer round under ``results``, each checked against its folder
    (transfer/<name>/seed<k>/iter<t>)."""
    pattern = paths.transfer_round_file("trained.h5", None, "*", "*", "*", results)
    for path in sorted(glob.glob(pattern)):
        attrs = read_artifact(path, "trained", with_arrays=False)[1]
        check_filed(path, attrs, paths.transfer_round_fields(path))
        yield attrs


def _reading(cfg: dict, results: str | Path):
    """A new :class:`~evotickets.results.FinishedRounds` of ``cfg`` in ``results``."""
    from .results import FinishedRounds

    return FinishedRounds(cfg, results)


def _config_transfers(reading):
    """The finished transfer rounds the reading's config asks for, each read once and
    digest-checked."""
    for entry in reading.cfg.get("transfer") or []:
        for seed in reading.cfg["seeds"]:
            yield from reading.of_transfer(entry["name"], int(seed)).values()


def _transfer_lines(
    results: str | Path, by: dict, cfg: dict | None = None, reading=None
) -> list[str]:
    """Per transfer entry (of ``cfg``, its seeds and rounds, when given): the transferred
    ticket against the target's own tickets (snr where the target runs it, else magnitude)
    and its random baseline, per round."""
    from .config import transfer_entry, transfer_own_method

    found = defaultdict(list)
    if cfg is None:
        found_rounds = _every_transfer_round(results)
    else:
        found_rounds = _config_transfers(reading or _reading(cfg, results))
    for a in found_rounds:
        found[a["transfer_name"]].append(a)
    lines = []
    for name, arts in sorted(found.items()):
        a0 = arts[0]
        tgt = (a0["target_task"], a0["target_strategy"])
        if cfg is not None:  # as summary.nc sets it (config.transfer_own_method)
            own = transfer_own_method(cfg, transfer_entry(cfg, name))
        else:  # without a config: what the folder has
            own = "snr" if any(k[:2] == tgt and k[3] == "snr" for k in by) else "magnitude"
        lines.append(
            f"\ntransfer {name} ({a0['transfer_kind']}): ticket of {a0['source_task']}/"
            f"{a0['source_strategy']}/{a0['source_method']} trained as {tgt[0]}/{tgt[1]}: "
            f"{a0['metric_name']}"
        )
        metrics = []  # (round, remaining fraction, the three columns' values)
        for t in sorted({int(a["round"]) for a in arts}):
            mine = [a for a in arts if int(a["round"]) == t]
            values = [[float(a["final_metric"]) for a in mine]]
            values += [[r["metric"] for r in by.get((*tgt, t, m), [])] for m in (own, "random")]
            metrics.append((t, float(mine[0]["remaining_fraction"]), values))
        decimals = metric_decimals([x for _, _, values in metrics for v in values for x in v])
        cells = [(t, rem, [metric_cell(v, decimals) for v in values]) for t, rem, values in metrics]
        lines += _rounds_table(("transferred", f"target {own}", "target random"), cells)
    return lines
