"""One function per paper figure. Each takes the results dataset (summary.nc) and returns a
matplotlib Figure; nothing here reads artifacts or retrains, so a figure reruns in seconds.

Conventions: mean ± standard error over seeds (where a panel's lines are compared: figs. 1's
second panel, 2, 3, 4, 5, 6's barrier and curvature panels, 8, 9, pruning_families and
tickets_shared, over the seeds
every line has at that level: :func:`_shared_seeds`); x axis = percentage of prunable weights
remaining, log scale, decreasing to the right. A figure whose data the experiment does not have
draws one panel that says "not in this experiment" instead of failing.
"""

from __future__ import annotations

import functools
import operator
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from ..analysis.collect import (
    emptied_layer_rounds,
    has_data,
    nonfinite_curvature_rounds,
    nonfinite_metric_rounds,
)
from ..names import (
    DEFAULT_INIT_SCHEME,
    DYNAMIC_METHODS,
    HEURISTIC_METHODS,
    INIT_GRADIENT_METHODS,
    RETURN_METRIC,
    is_gd,
)

#: Fig. 2's lines: the paper's three, and the study's own SNR score (Sep-CMA-ES's |θ|/C,
#: snr_study) where it ran beside them, the score the SNR question compares with ours.
ES_METHODS = ("random", "magnitude", "snr", "snr_study")
#: One colour per pruning method, each its own (names.METHODS; a test checks both), so that
#: every figure names a method by the same colour and no two methods of a panel share one.
COLORS = {
    "random": "tab:gray",
    "magnitude": "tab:blue",
    "snr": "tab:red",
    "snr_study": "darkred",
    "weight_permuted": "tab:orange",
    "mask_permuted": "tab:green",
    "movement": "tab:purple",
    "magnitude_increase": "tab:brown",
    "init_magnitude": "tab:olive",
    "snip": "tab:cyan",
    "grasp": "tab:pink",
    "dynamic_random": "goldenrod",
    "dynamic_gradient": "navy",
}
CAPTIONS: dict[str, str] = {}
FIGURES: dict[str, Callable[[xr.Dataset], plt.Figure]] = {}


def figure(name: str, caption: str):
    """Register figure ``name``. A figure that draws the test metric (or the transferred
    tickets') records which with :func:`_drew`; the footnote counts only those rounds."""

    def register(fn):
        FIGURES[name] = fn
        CAPTIONS[name] = caption
        return fn

    return register


def _nth_colour(k: int):
    """The k-th line colour of a panel: matplotlib's ten (C0–C9), then tab20b's twenty, then
    evenly spaced hues, so that no two of a panel's lines share one (C{k} repeats from 10)."""
    if k < 10:
        return f"C{k}"
    if k < 30:
        return plt.get_cmap("tab20b")(k - 10)
    return plt.get_cmap("hsv")(((k - 30) * 0.618034) % 1.0)


def _percent(ds: xr.Dataset) -> np.ndarray:
    return 100.0 * ds["remaining_fraction"].values


def _mean_se(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds, ignoring missing runs. The error is NaN where
    fewer than 2 seeds ran, so no band is drawn there: a zero-wide band read as a result
    without uncertainty."""
    n = da.count("seed")
    mean = da.mean("seed", skipna=True)
    se = da.std("seed", skipna=True, ddof=1) / np.sqrt(n.where(n > 1))
    return mean.values, se.values


def _mean_over_runs(da: xr.DataArray, dims: str | tuple[str, ...]) -> xr.DataArray:
    """The mean over ``dims`` (strategies, or tasks and strategies) of the runs that exist,
    those with a value at some seed and round, and for each seed and round only where every
    one of them has its value (else NaN: that seed drops out of that round's point).

    Why not NaN-skipping: a run still going, or one that diverged (its later rounds are
    never written), would make a point average other runs from one round to the next, and a
    line averaged over two strategies would read one of them alone where the other stops.
    Runs that never exist (a task the grid does not give that strategy) are left out."""
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    ran = da.notnull().any([d for d in da.dims if d not in dims])
    complete = (da.notnull() | ~ran).all(dims)
    return da.where(ran).mean(dims, skipna=True).where(complete)


def _band(ax, x, da, label, color=None):
    mean, se = _mean_se(da)
    if np.all(np.isnan(mean)):
        return False
    (line,) = ax.plot(x, mean, marker="o", ms=3, label=label, color=color)
    ax.fill_between(x, mean - se, mean + se, alpha=0.2, color=line.get_color())
    return True


def _shared_seeds(lines: list[xr.DataArray]) -> tuple[list[xr.DataArray], int]:
    """The (seed, iteration) lines of one panel, each level restricted to the seeds that every
    line with a value at that level has; and how many (line, level) points lost a seed so.

    Why: a panel's lines are read against each other, and a seed's chains share θ0 and
    search noise, so the gap between two lines is a paired comparison only over the same
    seeds. A seed missing from one line at one level (a chain unfinished, or a round with a
    non-finite metric) would otherwise leave that line's point a mean over other seeds than
    its neighbour's, and the gap would be made by seeds, not methods. A line without any
    value at a level (not run there) does not restrict the others."""
    has = [da.notnull().reset_coords(drop=True) for da in lines]
    shared = functools.reduce(operator.and_, [h | ~h.any("seed") for h in has])
    dropped = sum(int((h & ~shared).any("seed").sum()) for h in has)
    return [da.where(shared) for da in lines], dropped


def _bands(ax, x, lines: list[tuple[xr.DataArray, str, Any]]) -> None:
    """Draw the (data, label, colour) lines of one panel over their shared seeds
    (:func:`_shared_seeds`), the figure's footnote saying where a seed was left out."""
    restricted = _paired(ax.figure, [da for da, _, _ in lines])
    for da, (_, label, color) in zip(restricted, lines, strict=True):
        _band(ax, x, da, label, color)


def _paired(fig: plt.Figure, lines: list[xr.DataArray]) -> list[xr.DataArray]:
    """A panel's lines restricted to their shared seeds (:func:`_shared_seeds`), the
    figure's footnote saying where a seed was left out."""
    # none: e.g. fig2 of a config without random, magnitude or snr
    restricted, dropped = _shared_seeds(lines) if lines else ([], 0)
    if dropped:
        _note(
            fig,
            "Where a seed is missing from one line of a panel, it is left out of that "
            "level's every line (means over the same seeds)",
        )
    return restricted


def _tasks_not_drawn(ds: xr.Dataset, var: str, drawn) -> list[str]:
    """The tasks with data of ``var`` that a figure drawing ``drawn`` leaves out, for its
    footnote to name."""
    return [str(t) for t in ds.task.values if t not in drawn and has_data(ds, var, task=t)]


def _drew(fig: plt.Figure, tasks=None, strategies=None, methods=None) -> None:
    """Record that ``fig`` draws the test metric of these tasks, strategies and methods (each
    a name, names, or None: any), so that :func:`render` counts only their non-finite rounds
    in its footnote. A round of a task the figure never draws is not left out of it."""

    def names(v):
        return None if v is None else frozenset(map(str, np.atleast_1d(v)))

    cells = fig.__dict__.setdefault("evotickets_drawn", [])
    cells.append((names(tasks), names(strategies), names(methods)))


def _drawn_rows(fig: plt.Figure, rows: list[dict]) -> list[dict]:
    """The rows (:func:`nonfinite_metric_rounds`, :func:`emptied_layer_rounds`) whose task,
    strategy and method ``fig`` draws the metric of (:func:`_drew`): none where it recorded
    nothing (the analyses and masks, a placeholder, a panel no strategy could fill)."""
    cells = fig.__dict__.get("evotickets_drawn", [])
    keys = ("task", "strategy", "method")
    return [
        r
        for r in rows
        if any(all(c is None or r[k] in c for k, c in zip(keys, cell)) for cell in cells)
    ]


def _note(fig: plt.Figure, text: str) -> None:
    """A line for the figure's footnote, which :func:`render` writes (each once)."""
    notes = fig.__dict__.setdefault("evotickets_notes", [])
    if text not in notes:
        notes.append(text)


def _sparsity_axis(ax, ds):
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    x = _percent(ds)
    ax.set_xscale("log")
    if len(x) <= 6:
        ticks = [float(f"{v:.3g}") for v in x]
    else:
        ticks = [v for v in (100, 50, 20, 10, 5, 2, 1) if x.min() * 0.99 <= v <= 100]
        # the sparsest level, where the claims are read, gets a tick of its own (21 % in
        # `make run`, which otherwise showed only 100 and 50)
        sparsest = float(f"{x.min():.2g}")
        if all(abs(np.log(sparsest / t)) > 0.25 for t in ticks):
            ticks.append(sparsest)
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(101, x.min() * 0.95)
    ax.set_xlabel("weights remaining (%)")


def _missing(title: str, what: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.axis("off")
    reason = textwrap.fill(f"({what})", width=48)  # a long list of methods ran off the edges
    ax.text(
        0.5,
        0.5,
        f"{title}\n\nnot in this experiment\n{reason}",
        ha="center",
        va="center",
        fontsize=11,
    )
    fig.evotickets_placeholder = what  # what it lacks: the figure verb's line says so
    return fig


def _metric_label(ds: xr.Dataset, task) -> str:
    """The y label of a panel of ``task``'s test metric: its name as the round artifacts
    record it (accuracy or return), or a neutral word for a summary without it."""
    if "metric_name" in ds.coords and task in ds.task.values:
        name = str(ds.metric_name.sel({"task": task}).values)
        if name:
            return name
    return "test metric"


def _error_label(ds: xr.Dataset, task) -> str:
    """The unit of a barrier on ``task``: an error rate for a vision task, −return for a
    control task (as collect computes them)."""
    return "−return" if _metric_label(ds, task) == RETURN_METRIC else "error (1 − accuracy)"


def _es_strategies(ds) -> list[str]:
    return [s for s in ds.strategy.values if not str(s).startswith("gd_")]


def _gd_strategies(ds) -> list[str]:
    return [s for s in ds.strategy.values if str(s).startswith("gd_")]


def _strategies_with_all(ds, task, methods, var: str = "test_metric", strategies=None) -> list[str]:
    """The ES strategies (or ``strategies``) that ran every one of ``methods`` on ``task``.
    Curves of several methods averaged over strategies must average the same strategies: a
    control that ran on SNES only, set against magnitude averaged over SNES and Sep-CMA-ES,
    would compare strategies, not methods."""
    return [
        s
        for s in (_es_strategies(ds) if strategies is None else strategies)
        if all(has_data(ds, var, task=task, strategy=s, method=m) for m in methods)
    ]


def _legend_of_all_panels(axes, fontsize: float = 7) -> None:
    """One legend, on the first panel that has lines, naming every line of every panel once:
    the first panel may lack a method (or be empty) that others draw."""
    handles: dict[str, Any] = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    first = next((ax for ax in np.ravel(axes) if ax.get_legend_handles_labels()[0]), None)
    if first is not None:
        first.legend(list(handles.values()), list(handles), fontsize=fontsize)


def _tasks_with_es_snr_and_gd_magnitude(ds: xr.Dataset) -> list[str]:
    """The tasks with both an ES snr run and a GD magnitude run: those on which Figs. 1 and 3
    can set ES against GD (a task with one side only would compare task sets, or draw a
    panel of GD alone under a caption that promises ES beside it)."""
    if not {"snr", "magnitude"} <= set(map(str, ds.method.values)):
        return []
    es, gd = _es_strategies(ds), _gd_strategies(ds)
    return [
        str(t)
        for t in ds.task.values
        if has_data(ds, "test_metric", task=t, strategy=es, method="snr")
        and has_data(ds, "test_metric", task=t, strategy=gd, method="magnitude")
    ]


#: the init schemes that give the study's θ0 (flax's default is LeCun normal)
_STUDY_INIT_SCHEMES = (DEFAULT_INIT_SCHEME, "lecun_normal")


def _study_entries(ds: xr.Dataset) -> list[str]:
    """The task entries that run their library task as the study does: a late-rewinding entry
    (``rewind`` > 0) or one under another init scheme is left out where the same library task
    has a plain entry beside it (no rewinding, the study's LeCun-normal init) with an ES snr
    run. An average over tasks that took both counted that task twice and mixed a treatment
    into the study's effect (config/extensions.yaml runs digits and digits_rewind); Fig. 9
    draws the schemes. Without such a plain entry a task's entries all stay: they are then
    its only ES runs."""
    tasks = [str(t) for t in ds.task.values]
    base = dict(zip(tasks, map(str, ds.library_task.values))) if "library_task" in ds.coords else {}
    rewind = dict(zip(tasks, ds.rewind.values)) if "rewind" in ds.coords else {}
    scheme = dict(zip(tasks, map(str, ds.init_scheme.values))) if "init_scheme" in ds.coords else {}
    es = _es_strategies(ds)

    def plain(t: str) -> bool:
        return (
            int(rewind.get(t, 0)) == 0
            and scheme.get(t, DEFAULT_INIT_SCHEME) in _STUDY_INIT_SCHEMES
            and has_data(ds, "test_metric", task=t, strategy=es, method="snr")
        )

    plain_bases = {base.get(t, t) for t in tasks if plain(t)}
    return [t for t in tasks if plain(t) or base.get(t, t) not in plain_bases]


def _relative_to_dense(da: xr.DataArray, dense: xr.DataArray) -> xr.DataArray:
    """1 + (m − dense) / |dense|: 1 at the dense network and below 1 when worse, for an
    accuracy and for a negative return alike (m / |dense| would be −1 at dense for a
    return, and averaging it with an accuracy's +1 cancels)."""
    return 1.0 + (da - dense) / abs(dense)


@figure(
    "fig1",
    "Aggregated ticket effect: (SNR − random) divided by each seed's |dense metric| of its "
    "task and strategy, averaged over tasks and ES; right: ES (SNR) against GD (magnitude) "
    "relative to each seed's dense network, 1 + (m − dense)/|dense| (1 = dense, for "
    "accuracies and returns). A task entry that rewinds or uses another init scheme beside "
    "the task's plain entry is left out (Fig. 9 draws the schemes).",
)
def fig1(ds: xr.Dataset) -> plt.Figure:
    if not has_data(ds, "test_metric", method="snr") or not has_data(
        ds, "test_metric", method="random"
    ):
        return _missing("Fig. 1", "needs the snr and random methods")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    x = _percent(ds)
    study = _study_entries(ds)
    m = ds.test_metric.sel({"task": study})
    es = _es_strategies(ds)
    # each seed against its own dense round (paired: a seed's methods share θ0 and noise)
    dense = m.sel({"strategy": es, "method": "snr"}).isel(iteration=0)
    effect = (
        m.sel({"strategy": es, "method": "snr"}) - m.sel({"strategy": es, "method": "random"})
    ) / abs(dense)
    _band(axes[0], x, _mean_over_runs(effect, ("task", "strategy")), "SNR ticket − random")
    _drew(fig, study, es, ("snr", "random"))
    axes[0].axhline(0, color="k", lw=0.5)
    axes[0].set_ylabel("normalised ticket effect")
    axes[0].set_title("ES ticket effect (task-normalised)")
    gd = _gd_strategies(ds)
    # ES against GD over the tasks where both lines have runs (paper.yaml's ant_heavy runs
    # ES only, its mnist_ars runs no ES snr beside gd_adam): over any other task set the
    # panel would compare task sets, not ES with GD
    gd_tasks = [t for t in _tasks_with_es_snr_and_gd_magnitude(ds) if t in study] if gd else []
    with_gd = bool(gd_tasks)
    both = {"task": gd_tasks} if with_gd else {}
    es_rel = _relative_to_dense(m.sel({"strategy": es, "method": "snr"}), dense).sel(both)
    lines = [(_mean_over_runs(es_rel, ("task", "strategy")), "ES, SNR", "C0")]
    if with_gd:
        gd_metric = m.sel({"strategy": gd, "method": "magnitude", **both})
        norm_gd = _mean_over_runs(
            _relative_to_dense(gd_metric, gd_metric.isel(iteration=0)), ("task", "strategy")
        )
        lines.append((norm_gd, "GD, magnitude", "C1"))
        _drew(fig, gd_tasks, gd, "magnitude")
    _bands(axes[1], x, lines)
    axes[1].axhline(1, color="k", lw=0.5)
    axes[1].set_ylabel("1 + (m − dense) / |dense|")
    # an experiment without a GD magnitude chain has no GD line: the title says so
    axes[1].set_title(
        "ES against GD (relative to dense)" if with_gd else "ES relative to dense (no GD run)"
    )
    for ax in axes:
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@figure(
    "fig2",
    "Random, magnitude and SNR pruning per task and strategy (gradient descent: random and "
    "magnitude, as it has no SNR; Sep-CMA-ES also the study's SNR score, snr_study, where it "
    "ran): test metric (mean ± s.e. over seeds) against weights remaining.",
)
def fig2(ds: xr.Dataset) -> plt.Figure:
    strategies = list(ds.strategy.values)  # the ES strategies, then gradient descent's
    if not strategies:
        return _missing("Fig. 2", "needs a strategy")
    tasks = list(ds.task.values)
    fig, axes = plt.subplots(
        len(tasks),
        len(strategies),
        figsize=(3.2 * len(strategies), 2.6 * len(tasks)),
        squeeze=False,
    )
    x = _percent(ds)
    for i, t in enumerate(tasks):
        for j, s in enumerate(strategies):
            ax = axes[i, j]
            if not has_data(ds, "test_metric", task=t, strategy=s):
                ax.text(
                    0.5,
                    0.5,
                    "not in this experiment",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                )
            at = {"task": t, "strategy": s}
            _bands(
                ax,
                x,
                [
                    (ds.test_metric.sel(at | {"method": m}), m, COLORS[m])
                    for m in ES_METHODS
                    if m in ds.method.values
                ],
            )
            _drew(fig, t, s, ES_METHODS)
            ax.set_title(f"{t} / {s}", fontsize=9)
            ax.set_ylabel(_metric_label(ds, t), fontsize=8)
            _sparsity_axis(ax, ds)
    _legend_of_all_panels(axes)
    fig.tight_layout()
    return fig


@figure(
    "fig3",
    "ES with SNR pruning against the GD baseline with magnitude pruning "
    "(Adam on vision, PPO on control), from the same θ0.",
)
def fig3(ds: xr.Dataset) -> plt.Figure:
    gd = _gd_strategies(ds)
    if not gd:
        return _missing("Fig. 3", "needs a gd_adam or gd_ppo strategy")
    if not _es_strategies(ds):  # gradient descent runs no snr (no search distribution)
        return _missing("Fig. 3", "needs an ES strategy running snr beside the GD baseline")
    if not {"snr", "magnitude"} <= set(map(str, ds.method.values)):
        return _missing("Fig. 3", "needs the snr and magnitude methods")
    tasks = _tasks_with_es_snr_and_gd_magnitude(ds)
    if not tasks:
        return _missing("Fig. 3", "no task has both an ES snr and a GD magnitude run finished")
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.5 * len(tasks), 3), squeeze=False)
    if others := _tasks_not_drawn(ds, "test_metric", tasks):
        _note(fig, f"Not drawn, without both an ES snr and a GD magnitude run: {', '.join(others)}")
    x = _percent(ds)
    for ax, t in zip(axes[0], tasks):
        # a strategy's colour is its place among all ES strategies, the same in every panel
        lines = [
            (
                ds.test_metric.sel({"task": t, "strategy": s, "method": "snr"}),
                f"{s} SNR",
                _nth_colour(k),
            )
            for k, s in enumerate(_es_strategies(ds))
        ]
        lines += [
            (
                ds.test_metric.sel({"task": t, "strategy": g, "method": "magnitude"}),
                f"{g} magnitude",
                "k",
            )
            for g in gd
        ]
        _bands(ax, x, lines)
        _drew(fig, t, _es_strategies(ds), "snr")
        _drew(fig, t, gd, "magnitude")
        ax.set_title(t)
        ax.set_ylabel(_metric_label(ds, t), fontsize=8)
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def _transfer_coord(ds: xr.Dataset, transfer, name: str, default: str | None = None):
    """Transfer ``transfer``'s coordinate ``name`` as a string, or ``default`` in a
    summary.nc of before that coordinate."""
    if name not in ds.coords:
        return default
    return str(ds[name].sel({"transfer": transfer}).values)


def _transfer_figure(ds, title, kinds) -> plt.Figure:
    if "transfer_metric" not in ds:
        return _missing(title, "needs transfer entries in the config")
    names = [
        n for n in ds.transfer.values if str(ds.transfer_kind.sel({"transfer": n}).values) in kinds
    ]
    if not names:
        return _missing(title, f"needs {' or '.join(kinds)} transfers")
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3), squeeze=False)
    x = _percent(ds)
    for ax, n in zip(axes[0], names):
        # a summary.nc of before transfer_own_method set snr against it, magnitude for GD
        kind = str(ds.transfer_kind.sel({"transfer": n}).values)
        own = _transfer_coord(ds, n, "transfer_own_method", "magnitude" if kind == "gd" else "snr")
        target = _transfer_coord(ds, n, "transfer_target_task")
        at = {"transfer": n}
        lines = [(ds.transfer_metric.sel(at), "transferred ticket", "tab:purple")]
        for ref, var in ((own, "transfer_target_snr"), ("random", "transfer_target_random")):
            if var in ds:
                lines.append((ds[var].sel(at), f"target's own {ref}", COLORS[ref]))
        # paired as every panel is: a transfer round can finish before the target's own
        # chain, and the reverse; a line not run (a target without a random chain: the
        # config may leave it out) does not blank the rest
        _bands(ax, x, lines)
        _drew(fig, strategies=n, methods="transferred ticket")  # a transfer's rows
        if target is not None:  # the target's own chains (any strategy of the target task
            # in a summary.nc of before transfer_target_strategy)
            strategy = _transfer_coord(ds, n, "transfer_target_strategy")
            _drew(fig, target, strategy, (own, "random"))
        if not has_data(ds, "transfer_metric", transfer=n):  # the target's lines alone
            ax.text(0.5, 0.5, "no transferred round has finished yet", ha="center",
                    va="center", transform=ax.transAxes, fontsize=8)  # fmt: skip
        ax.set_title(str(n), fontsize=9)
        ax.set_ylabel(_metric_label(ds, target), fontsize=8)
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


@figure(
    "fig4",
    "Ticket transfer across tasks and across ES: the source's (mask, θ0) "
    "retrained in the target setting, against the target's own ticket (SNR; magnitude where "
    "the target runs no SNR) and random.",
)
def fig4(ds: xr.Dataset) -> plt.Figure:
    return _transfer_figure(ds, "Fig. 4", ("task", "es"))


@figure(
    "fig5",
    "Ticket transfer between ES and GD: ES tickets retrained with Adam / PPO, and GD tickets "
    "evolved by an ES where the config has them; each panel one transfer, by its name.",
)
def fig5(ds: xr.Dataset) -> plt.Figure:
    return _transfer_figure(ds, "Fig. 5", ("gd",))


@figure(
    "fig6",
    "Linear mode connectivity and curvature of the analysed task: error barriers between "
    "consecutive rounds and between the first two seeds (one pair: no band), the mean "
    "curvature of 1D random projections, one colour per strategy/method; and the barrier "
    "between the ES and the GD network of one ticket (ES → GD transfers; beside error rates, "
    "−returns on an axis of their own, right).",
)
def fig6(ds: xr.Dataset) -> plt.Figure:
    # collect writes these variables whenever the analyses are enabled: all NaN is no data
    panels = ("lmc_barrier_consecutive", "lmc_barrier_seeds", "curvature_1d", "lmc_barrier_es_gd")
    if not any(has_data(ds, v) for v in panels):
        return _missing("Fig. 6", "needs the lmc and landscape analyses (and 2 rounds or seeds)")
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    x = _percent(ds)
    # the analysed task (the paper: ARS on MNIST, entry mnist_ars), not simply the first one
    analysed = [
        t
        for t in ds.task.values
        if any(has_data(ds, v, task=t) for v in ("lmc_barrier_consecutive", "curvature_1d"))
    ]
    sel = {"task": (analysed or list(ds.task.values))[0]}
    if len(analysed) > 1:
        _note(
            fig,
            f"Drawn for {analysed[0]} only; {', '.join(map(str, analysed[1:]))} also have LMC "
            "or landscape analyses (in summary.nc)",
        )
    if has_data(ds, "lmc_barrier_es_gd"):
        _es_gd_barriers(axes[3], x, ds)
    # one colour per (strategy, method), the same in every panel: ES against GD on one
    # method must stay two lines that can be told apart
    pairs = [
        (s, m)
        for s in ds.strategy.values
        for m in ds.method.values
        if any(
            has_data(ds, v, strategy=s, method=m, **sel)
            for v in ("lmc_barrier_consecutive", "lmc_barrier_seeds", "curvature_1d")
        )
    ]
    # the barrier and curvature panels set ES against GD (claims 6 and 7): each is drawn
    # over its lines' shared seeds, as every other panel that compares lines
    banded: dict[str, list] = {"lmc_barrier_consecutive": [], "curvature_1d": []}
    for k, (s, m) in enumerate(pairs):
        label, color = f"{s}/{m}", _nth_colour(k)
        for var, lines in banded.items():
            if var in ds:
                lines.append((ds[var].sel({"strategy": s, "method": m, **sel}), label, color))
        if "lmc_barrier_seeds" in ds:
            v = ds.lmc_barrier_seeds.sel({"strategy": s, "method": m, **sel}).values
            if np.isfinite(v).any():
                axes[1].plot(x, v, marker="o", ms=3, label=label, color=color)
    _bands(axes[0], x, banded["lmc_barrier_consecutive"])
    _bands(axes[2], x, banded["curvature_1d"])
    # every chain of the drawn task: one whose every round was too sharp draws no line
    sharp = [r for r in nonfinite_curvature_rounds(ds) if r["task"] == str(sel["task"])]
    if sharp:  # NaN as for a round not analysed: the sharpest seeds would leave silently
        _note(
            fig,
            f"{len(sharp)} analysed round(s) too sharp for a 1D curvature (the loss left the "
            "finite range along some direction) left out of the curvature means (claims.md "
            "lists them)",
        )
    seeds = [str(v) for v in _lmc_seed_pair(ds)]
    titles = (
        f"barrier, round t → t+1 ({sel['task']})",
        f"barrier, seed {' ↔ seed '.join(seeds)} ({sel['task']})",
        f"1D curvature ({sel['task']})",
        "barrier, ES ↔ GD (same ticket)",  # the transfers' own tasks, in the legend
    )
    needs = ("2 rounds", "2 seeds", "the landscape analysis", "ES → GD transfers")
    units = (_error_label(ds, sel["task"]),) * 2 + ("mean curvature",)
    for ax, unit in zip(axes, units):
        ax.set_ylabel(unit, fontsize=8)
    for ax, title, need in zip(axes, titles, needs):
        ax.set_title(title, fontsize=9)
        if not ax.lines:  # an analysis that ran but has nothing to draw here
            ax.text(0.5, 0.5, f"no data: needs {need}", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)  # fmt: skip
        _sparsity_axis(ax, ds)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


@figure(
    "fig7",
    "SNR against magnitude: Spearman correlation of the two rankings per round, each "
    "ranking's correlation with its round-0 ranking (SNR solid, magnitude dashed), and the "
    "global threshold each score sets on a round's network (SNR, |θ|): the cut that "
    "makes the next round's mask, drawn at the round it scores; one row per task, one colour "
    "per ES strategy.",
)
def fig7(ds: xr.Dataset) -> plt.Figure:
    if "rho_snr_magnitude" not in ds:
        return _missing(
            "Fig. 7", "needs the snr_magnitude analysis, of ES snr chains (a per-weight σ)"
        )
    # the SNR chains, else the snr_study chains (the analysis may run on either)
    method = next(
        (m for m in ("snr", "snr_study") if has_data(ds, "rho_snr_magnitude", method=m)), None
    )
    if method is None:
        return _missing("Fig. 7", "no snr_magnitude analysis of an snr or snr_study chain")
    # one row of four panels per task, one colour per ES strategy in every row: at the
    # paper's scale (53 task/strategy pairs) one row of lines in matplotlib's 10 cycle
    # colours could not be told apart
    strategies = _es_strategies(ds)
    tasks = [t for t in ds.task.values if has_data(ds, "rho_snr_magnitude", task=t, method=method)]
    palette = "tab20" if len(strategies) > 10 else "tab10"
    colour = {s: plt.get_cmap(palette)(k % 20) for k, s in enumerate(strategies)}
    fig, axes = plt.subplots(len(tasks), 4, figsize=(15, 3.2 * len(tasks)), squeeze=False)
    labels = (
        f"Spearman ρ(SNR, |θ|) ({method} chains)",
        "Spearman ρ with the round-0 ranking",
        "SNR threshold",
        "|θ| threshold",
    )
    x = _percent(ds)
    for row, t in zip(axes, tasks):
        for s in strategies:
            at = {"task": t, "strategy": s, "method": method}
            if not has_data(ds, "rho_snr_magnitude", **at):
                continue
            color, name = colour[s], str(s)
            _band(row[0], x, ds.rho_snr_magnitude.sel(at), name, color)
            for var, style, score in (
                ("rho_snr_vs_round0", "-", "SNR"),
                ("rho_magnitude_vs_round0", "--", "|θ|"),
            ):
                mean, se = _mean_se(ds[var].sel(at))
                if np.isfinite(mean).any():
                    row[1].plot(
                        x, mean, style, marker="o", ms=3, color=color, label=f"{name} {score}"
                    )
                    row[1].fill_between(x, mean - se, mean + se, alpha=0.15, color=color)
            _band(row[2], x, ds.threshold_snr.sel(at), name, color)
            _band(row[3], x, ds.threshold_magnitude.sel(at), name, color)
        for ax, label in zip(row, labels):
            ax.set_title(str(t), fontsize=9)
            ax.set_ylabel(label, fontsize=8)
            _sparsity_axis(ax, ds)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


@figure(
    "fig8",
    "Ticket-effect decomposition: the magnitude ticket against the same mask with "
    "permuted weights and the same weights on a permuted mask of the same per-layer counts "
    "(and the random mask, where it ran on the same strategies).",
)
def fig8(ds: xr.Dataset) -> plt.Figure:
    needed = ("magnitude", "weight_permuted", "mask_permuted")
    if not all(m in ds.method.values for m in needed):
        return _missing("Fig. 8", "needs the weight_permuted and mask_permuted methods")
    tasks = list(ds.task.values)
    # a row for the ES strategies and one for gradient descent where it ran the controls:
    # an average over both would mix two kinds of training in one line
    rows = [
        (kind, group)
        for kind, group in (("ES", _es_strategies(ds)), ("GD", _gd_strategies(ds)))
        if any(_strategies_with_all(ds, t, needed, strategies=group) for t in tasks)
    ] or [("ES", _es_strategies(ds))]
    fig, axes = plt.subplots(
        len(rows), len(tasks), figsize=(3.5 * len(tasks), 3 * len(rows)), squeeze=False
    )
    x = _percent(ds)
    for row, (kind, group) in zip(axes, rows, strict=True):
        for ax, t in zip(row, tasks, strict=True):
            # every line averages the same strategies
            runs = _strategies_with_all(ds, t, needed, strategies=group)
            if not runs:
                ax.text(0.5, 0.5, f"no {kind} strategy ran all three here", ha="center",
                        va="center", transform=ax.transAxes, fontsize=8)  # fmt: skip
            # random beside them only where it ran on the same strategies, as the others
            with_random = set(runs) <= set(
                _strategies_with_all(ds, t, ("random",), strategies=group)
            )
            lines = [
                (
                    _mean_over_runs(
                        ds.test_metric.sel({"task": t, "strategy": runs, "method": m}), "strategy"
                    ),
                    m,
                    COLORS.get(m),
                )
                for m in ((*needed, "random") if with_random else needed)
                if runs and m in ds.method.values
            ]
            _bands(ax, x, lines)
            _drew(fig, t, runs, [m for _, m, _ in lines])
            ax.set_title(f"{t} ({', '.join(map(str, runs))})" if runs else str(t), fontsize=9)
            ax.set_ylabel(_metric_label(ds, t), fontsize=8)
            _sparsity_axis(ax, ds)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def _lmc_seed_pair(ds: xr.Dataset) -> list:
    """The two seeds the lmc_seeds rule paired, as collect records them (the seed axis of
    summary.nc is sorted; a summary of before the record: its first two)."""
    if "lmc_barrier_seeds" in ds and "seed_pair" in ds.lmc_barrier_seeds.attrs:
        return [int(k) for k in np.atleast_1d(ds.lmc_barrier_seeds.attrs["seed_pair"])]
    return list(ds.seed.values[:2])


def _es_gd_barriers(ax, x, ds: xr.Dataset) -> None:
    """One band per ES → GD transfer; an error rate (vision) and a negative return
    (control) are on other scales, so returns get an axis of their own on the right."""
    by_unit: dict[str, list] = {}
    for n in ds.transfer.values:
        if not has_data(ds, "lmc_barrier_es_gd", transfer=n):
            continue
        task = None
        if "transfer_target_task" in ds.coords:
            task = str(ds.transfer_target_task.sel({"transfer": n}).values)
        unit = _error_label(ds, task)
        by_unit.setdefault(unit, []).append(n)
    axis, color = ax, 0
    for k, (unit, names) in enumerate(sorted(by_unit.items())):
        if k:
            axis = ax.twinx()
        for n in names:
            _band(axis, x, ds.lmc_barrier_es_gd.sel({"transfer": n}), str(n), _nth_colour(color))
            color += 1
        axis.set_ylabel(unit, fontsize=8)
        if k:
            axis.legend(fontsize=6, loc="lower right")


HEURISTICS = HEURISTIC_METHODS  # Fig. 9's: scored from the trained weights and θ0
INIT_LINESTYLES = {"snr": "-", "magnitude": "--", "random": ":"}


def _init_groups(ds: xr.Dataset) -> dict[str, list[str]]:
    """Library task → its task entries, for library tasks run under two or more init schemes."""
    if "init_scheme" not in ds.coords:
        return {}
    groups: dict[str, list[str]] = {}
    rewinds = ds.rewind.values if "rewind" in ds.coords else np.zeros(ds.task.size)
    for t, base, k in zip(ds.task.values, ds.library_task.values, rewinds):
        if int(k) == 0:  # a rewinding entry is not another init scheme
            groups.setdefault(str(base), []).append(str(t))
    schemes = {str(t): str(v) for t, v in zip(ds.task.values, ds.init_scheme.values)}
    return {
        base: entries
        for base, entries in groups.items()
        if len({schemes[t] for t in entries}) > 1
        and any(has_data(ds, "test_metric", task=t) for t in entries)
    }


@figure(
    "fig9",
    "Pruning heuristics (final magnitude, SNR, movement |θ_G−θ0|, magnitude increase "
    "|θ_G|−|θ0|, smallest |θ0|; top) and initialisation schemes (SNR solid, magnitude dashed, "
    "random dotted, one colour per scheme; bottom), mean over the ES strategies that ran every "
    "method of the panel (named in its title).",
)
def fig9(ds: xr.Dataset) -> plt.Figure:
    es = _es_strategies(ds)
    heuristics = [m for m in HEURISTICS if m in ds.method.values]
    heur_tasks = [
        t
        for t in ds.task.values
        if heuristics and any(has_data(ds, "test_metric", task=t, method=m) for m in heuristics)
    ]
    groups = _init_groups(ds)
    rows = [r for r in (heur_tasks, list(groups)) if r]
    if not rows:
        return _missing(
            "Fig. 9",
            "needs the movement / magnitude_increase / init_magnitude methods, or one task "
            "entry per init scheme (tasks: {digits_he: {task: digits, init: he_normal}})",
        )
    if not es:
        return _missing(
            "Fig. 9", "needs ES chains: its lines are means over the ES strategies that ran"
        )
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(
        len(rows), ncols, figsize=(3.6 * ncols, 3.1 * len(rows)), squeeze=False
    )
    x = _percent(ds)

    def averaged(tasks, methods):
        """The methods' curves averaged over the ES strategies that ran all of them on every
        one of ``tasks`` (the same strategies behind every line of a panel)."""
        ran = [
            m for m in methods if any(has_data(ds, "test_metric", task=t, method=m) for t in tasks)
        ]
        same = [s for s in es if all(s in _strategies_with_all(ds, t, ran) for t in tasks)]
        return _mean_over_runs(ds.test_metric.sel(strategy=same), "strategy"), ran, same

    row = 0
    if heur_tasks:
        for ax, t in zip(axes[row], heur_tasks):
            metric, ran, same = averaged(
                [t], [m for m in ("magnitude", "snr", *heuristics) if m in ds.method.values]
            )
            if same:
                _bands(
                    ax, x, [(metric.sel({"task": t, "method": m}), m, COLORS.get(m)) for m in ran]
                )
                _drew(fig, t, same, ran)
            ax.set_title(
                f"{t}: heuristics ({', '.join(map(str, same)) or 'no strategy ran all'})",
                fontsize=9,
            )
        row += 1
    if groups:
        schemes = {str(t): str(v) for t, v in zip(ds.task.values, ds.init_scheme.values)}
        # one colour per scheme, the same in every panel; two entries of one scheme in a
        # panel are told apart by their markers and names
        colour = {v: _nth_colour(k) for k, v in enumerate(dict.fromkeys(schemes.values()))}
        for ax, (base, entries) in zip(axes[row], groups.items()):
            metric, ran, same = averaged(
                entries, [m for m in INIT_LINESTYLES if m in ds.method.values]
            )
            named = [schemes[str(t)] for t in entries]
            # every line of the panel over the same seeds at each level, as _bands draws
            keys = [(t, m) for t in entries for m in INIT_LINESTYLES if m in ran and same]
            lines = [metric.sel({"task": t, "method": m}) for t, m in keys]
            paired = dict(zip(keys, _paired(fig, lines), strict=True))
            if keys:
                _drew(fig, entries, same, ran)
            for i, t in enumerate(entries):
                scheme = schemes[str(t)]
                # two entries of one scheme (e.g. another batch size) are told apart by name
                who = scheme if named.count(scheme) == 1 else f"{t} ({scheme})"
                marker = "osD^v"[named[:i].count(scheme) % 5]
                for m, style in INIT_LINESTYLES.items():
                    if (t, m) not in paired:
                        continue
                    mean, se = _mean_se(paired[(t, m)])
                    if np.all(np.isnan(mean)):
                        continue
                    c = colour[scheme]
                    ax.plot(x, mean, style, marker=marker, ms=3, color=c, label=f"{who} {m}")
                    ax.fill_between(x, mean - se, mean + se, alpha=0.15, color=c)
            ax.set_title(
                f"{base}: init schemes ({', '.join(map(str, same)) or 'no strategy ran all'})",
                fontsize=9,
            )
    panel_tasks = [heur_tasks, [entries[0] for entries in groups.values()]]
    for r, entries in enumerate(t for t in panel_tasks if t):
        for c in range(ncols):
            ax = axes[r][c]
            if c >= len(entries):
                fig.delaxes(ax)
                continue
            _sparsity_axis(ax, ds)
            ax.set_ylabel(_metric_label(ds, entries[c]), fontsize=8)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=5 if r else 6)
    fig.tight_layout()
    return fig


@figure(
    "fig10",
    "2D loss surfaces of one chain (the first ES chain with a finished landscape, its first "
    "seed with one; a GD chain only where no ES chain has one) at its first, middle and last "
    "round, on a filter-normalised plane: one random "
    "pattern drawn at round 0, masked and rescaled to each round's filters.",
)
def fig10(ds: xr.Dataset) -> plt.Figure:
    if "loss_surface_2d" not in ds:
        return _missing("Fig. 10", "needs the landscape analysis")
    finite = np.isfinite(ds.loss_surface_2d).any(("grid_x", "grid_y", "iteration"))
    found = finite.stack(c=("task", "strategy", "method", "seed"))
    # the paper's Fig. 10 shows ES (ARS on MNIST); a GD chain beside it is there for claim 7
    found = sorted(found.c.values[found.values], key=lambda c: is_gd(str(c[1])))
    if not len(found):
        return _missing("Fig. 10", "no landscape analysis finished")
    t, s, m, seed = found[0]
    surf = ds.loss_surface_2d.sel({"task": t, "strategy": s, "method": m, "seed": seed})
    its = sorted({0, ds.iteration.size // 2, ds.iteration.size - 1})
    fig, axes = plt.subplots(1, len(its), figsize=(3.4 * len(its), 3), squeeze=False)
    for ax, it in zip(axes[0], its):
        z = surf.isel(iteration=it)
        if not np.isfinite(z).any():
            ax.text(0.5, 0.5, "round not analysed", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)  # fmt: skip
            continue
        cs = ax.contourf(ds.grid_x, ds.grid_y, z.values.T, levels=15, cmap="viridis")
        loss = "−return" if _metric_label(ds, str(t)) == RETURN_METRIC else "cross-entropy"
        fig.colorbar(cs, ax=ax).set_label(f"loss ({loss})", fontsize=7)
        ax.set_xlabel("direction 1 (filter-normalised)", fontsize=7)
        ax.set_ylabel("direction 2", fontsize=7)
        left = 100 * float(ds.remaining_fraction[it])  # 1.44 % read "1% left" at .0f
        ax.set_title(f"{t}/{s}/{m} seed {seed}: {left:.3g}% left", fontsize=8)
    fig.tight_layout()
    return fig


@figure(
    "fig11",
    "Layerwise pruning ratios: fraction of each layer's weights kept per round "
    "under SNR pruning (one global threshold gives each layer its own ratio; where no SNR "
    "chain was analysed, magnitude's, else the first method that was; the method and the "
    "strategies averaged, ES strategies' only where any was analysed, never with gradient "
    "descent's, are named in each title).",
)
def fig11(ds: xr.Dataset) -> plt.Figure:
    if "layer_kept_ratio" not in ds:
        return _missing("Fig. 11", "needs the layerwise analysis")
    kernels = [n for n in ds.tensor.values if str(n).endswith("kernel")]
    analysed = [m for m in ds.method.values if has_data(ds, "layer_kept_ratio", method=m)]
    if not analysed:
        return _missing("Fig. 11", "no layerwise analysis finished")
    # a random mask's ratios all sit near the remaining fraction: magnitude says more
    method = next((m for m in ("snr", "magnitude") if m in analysed), str(analysed[0]))
    tasks = [t for t in ds.task.values if has_data(ds, "layer_kept_ratio", task=t, method=method)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.8 * len(tasks), 3), squeeze=False)
    if others := _tasks_not_drawn(ds, "layer_kept_ratio", tasks):
        _note(fig, f"Not drawn: {', '.join(others)}, analysed with other methods than {method}")
    x = _percent(ds)
    for ax, t in zip(axes[0], tasks):
        ran = [
            s
            for s in ds.strategy.values
            if has_data(ds, "layer_kept_ratio", task=t, method=method, strategy=s)
        ]
        # ES strategies' ratios are averaged, never with GD's (fig. 8 keeps them apart too):
        # gradient descent's only where no ES strategy was analysed
        ran = [s for s in ran if not is_gd(s)] or ran
        for n in kernels:
            sel = {"task": t, "tensor": n, "method": method, "strategy": ran}
            _band(ax, x, _mean_over_runs(ds.layer_kept_ratio.sel(sel), "strategy"), str(n))
        ax.set_title(f"{t} ({method}; {', '.join(map(str, ran))})", fontsize=9)
        ax.set_ylabel("kept ratio")
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


# Pruning families at matched sparsity: iterative (IMP) magnitude and SNR, pruning at
# initialisation (SNIP, GraSP), dynamic sparse ES, and the random baseline.
NON_IMP = (*INIT_GRADIENT_METHODS, *DYNAMIC_METHODS)
FAMILIES = ("magnitude", "snr", *NON_IMP, "random")


@figure(
    "pruning_families",
    "Pruning families at matched sparsity, per task and strategy: iterative magnitude and "
    "SNR pruning (trained between rounds), pruning at initialisation (SNIP, GraSP: one score "
    "of θ0 from the loss gradient, no training in between), dynamic sparse ES (one run per "
    "sparsity, dropping low-SNR weights and regrowing) and random; mean ± s.e. over seeds.",
)
def pruning_families(ds: xr.Dataset) -> plt.Figure:
    methods = [m for m in FAMILIES if m in ds.method.values]
    if not any(m in methods for m in NON_IMP):
        return _missing("Pruning families", f"needs one of {', '.join(NON_IMP)}")
    cells = [
        (t, s)
        for t in ds.task.values
        for s in ds.strategy.values
        if any(has_data(ds, "test_metric", task=t, strategy=s, method=m) for m in NON_IMP)
    ]
    fig, axes = plt.subplots(1, len(cells), figsize=(3.6 * len(cells), 3), squeeze=False)
    x = _percent(ds)
    for ax, (t, s) in zip(axes[0], cells):
        at = {"task": t, "strategy": s}
        _bands(ax, x, [(ds.test_metric.sel(at | {"method": m}), m, COLORS[m]) for m in methods])
        _drew(fig, t, s, methods)
        ax.set_title(f"{t} / {s}", fontsize=9)
        ax.set_ylabel(_metric_label(ds, t), fontsize=8)
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


@figure(
    "tickets_shared",
    "How far each method's ticket is from the magnitude ticket of its seed: the share of the "
    "chain's kept prunable weights that the magnitude chain keeps at the same round, per task "
    "and strategy, mean ± s.e. over seeds; dotted: two unrelated masks (the remaining "
    "fraction). SNR and magnitude rank almost alike within a round where σ hardly varies "
    "(Fig. 7, claims.md's σ table), yet their chains can drift apart round by round.",
)
def tickets_shared(ds: xr.Dataset) -> plt.Figure:
    var = "kept_shared_with_magnitude"
    others = [m for m in ds.method.values if m != "magnitude"]
    cells = [
        (t, s)
        for t in ds.task.values
        for s in ds.strategy.values
        if var in ds and any(has_data(ds, var, task=t, strategy=s, method=m) for m in others)
    ]
    if not cells:
        return _missing(
            "Tickets shared", "needs finished rounds of magnitude chains and of another method's"
        )
    fig, axes = plt.subplots(1, len(cells), figsize=(3.6 * len(cells), 3), squeeze=False)
    x = _percent(ds)
    for ax, (t, s) in zip(axes[0], cells):
        at = {"task": t, "strategy": s}
        _bands(ax, x, [(ds[var].sel(at | {"method": m}), m, COLORS[m]) for m in others])
        ax.plot(x, x / 100, ":", color="black", label="unrelated masks")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{t} / {s}", fontsize=9)
        ax.set_ylabel("share of its ticket magnitude keeps", fontsize=8)
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def _footnote(fig: plt.Figure, notes: list[str], fontsize: float = 7) -> None:
    """Write ``notes`` under the axes, wrapped to the figure's width, and lay the axes out
    above them, so that a note is neither cut off at the figure's edge nor drawn over an
    axis label. At most half the figure's height: longer notes are cut there, saying so."""
    chars_per_inch = 72 / (0.6 * fontsize)  # a character is about 0.6 em wide
    width = max(40, int(fig.get_figwidth() * chars_per_inch) - 4)
    lines = [line for n in notes for line in textwrap.wrap(n, width)]
    line_height = 1.3 * fontsize / 72  # inches
    room = max(1, int((0.5 * fig.get_figheight() - 0.05) / line_height))
    if len(lines) > room:
        lines = [*lines[: room - 1], "… (notes cut here; summary.nc has what is left out)"]
    text = "\n".join(lines)
    height = (len(lines) * line_height + 0.05) / fig.get_figheight()
    fig.tight_layout(rect=(0, height, 1, 1))
    fig.text(0.01, 0.005, text, fontsize=fontsize, color="firebrick", va="bottom")


def render(name: str, ds: xr.Dataset, out: str) -> plt.Figure:
    """Draw figure ``name`` from ``ds`` and save it (atomically, durably) in the format
    ``out``'s suffix names (png, pdf, svg, …; matplotlib's), PNG where it has none."""
    from ..durable import atomic_path
    from ..names import figure_number

    fig = FIGURES[figure_number(name)](ds)
    notes = list(fig.__dict__.get("evotickets_notes", []))
    if left_out := len(_drawn_rows(fig, nonfinite_metric_rounds(ds))):
        # drawn as missing (NaN, like a round not run): the figure says they were not
        notes.insert(
            0,
            f"{left_out} finished round(s) with a non-finite test metric left out "
            "(claims.md lists them)",
        )
    if emptied := len(_drawn_rows(fig, emptied_layer_rounds(ds))):
        # drawn like any round: their networks ignore the input, which a reader should know
        notes.append(
            f"{emptied} finished round(s) of the lines drawn keep no weight of some layer: "
            "those networks give the same output for every input (claims.md lists them)"
        )
    if notes:
        _footnote(fig, notes)
    fmt = Path(out).suffix.lstrip(".").lower() or "png"
    # the format is passed, not inferred: the temporary file's name ends in .tmp
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format=fmt)
    return fig
