"""One function per paper figure. Each takes the results dataset (summary.nc) and returns a
matplotlib Figure; nothing here reads artifacts or retrains, so a figure reruns in seconds.

Conventions: mean ± standard error over seeds; x axis = percentage of prunable weights
remaining, log scale, decreasing to the right. A figure whose data the experiment does not have
draws one panel that says "not in this experiment" instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from ..analysis.collect import has_data

ES_METHODS = ("random", "magnitude", "snr")
COLORS = {
    "random": "tab:gray",
    "magnitude": "tab:blue",
    "snr": "tab:red",
    "weight_permuted": "tab:orange",
    "mask_permuted": "tab:green",
    "movement": "tab:purple",
    "magnitude_increase": "tab:brown",
    "init_magnitude": "tab:olive",
    "snip": "tab:cyan",
    "grasp": "tab:pink",
    "dynamic_random": "tab:brown",
    "dynamic_gradient": "tab:purple",
}
CAPTIONS: dict[str, str] = {}
FIGURES: dict[str, Callable[[xr.Dataset], plt.Figure]] = {}


def figure(name: str, caption: str):
    def register(fn):
        FIGURES[name] = fn
        CAPTIONS[name] = caption
        return fn

    return register


def _percent(ds: xr.Dataset) -> np.ndarray:
    return 100.0 * ds["remaining_fraction"].values


def _mean_se(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds, ignoring missing runs."""
    n = da.count("seed")
    mean = da.mean("seed", skipna=True)
    se = da.std("seed", skipna=True, ddof=1) / np.sqrt(n.where(n > 0))
    return mean.values, np.nan_to_num(se.values)


def _band(ax, x, da, label, color=None):
    mean, se = _mean_se(da)
    if np.all(np.isnan(mean)):
        return False
    (line,) = ax.plot(x, mean, marker="o", ms=3, label=label, color=color)
    ax.fill_between(x, mean - se, mean + se, alpha=0.2, color=line.get_color())
    return True


def _sparsity_axis(ax, ds):
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    x = _percent(ds)
    ax.set_xscale("log")
    if len(x) <= 6:
        ticks = [float(f"{v:.3g}") for v in x]
    else:
        ticks = [v for v in (100, 50, 20, 10, 5, 2, 1) if x.min() * 0.99 <= v <= 100]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(101, x.min() * 0.95)
    ax.set_xlabel("weights remaining (%)")


def _missing(title: str, what: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        f"{title}\n\nnot in this experiment\n({what})",
        ha="center",
        va="center",
        fontsize=11,
    )
    return fig


def _es_strategies(ds) -> list[str]:
    return [s for s in ds.strategy.values if not str(s).startswith("gd_")]


def _gd_strategies(ds) -> list[str]:
    return [s for s in ds.strategy.values if str(s).startswith("gd_")]


@figure(
    "fig1",
    "Aggregated ticket effect: (SNR − random) normalised per task by the dense "
    "metric, averaged over tasks and ES; right: ES (SNR) against GD (magnitude).",
)
def fig1(ds: xr.Dataset) -> plt.Figure:
    if not has_data(ds, "test_metric", method="snr") or not has_data(
        ds, "test_metric", method="random"
    ):
        return _missing("Fig. 1", "needs the snr and random methods")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    x = _percent(ds)
    m = ds.test_metric
    es = _es_strategies(ds)
    dense = m.sel({"strategy": es, "method": "snr"}).isel(iteration=0).mean("seed")
    effect = (
        m.sel({"strategy": es, "method": "snr"}) - m.sel({"strategy": es, "method": "random"})
    ) / abs(dense)
    _band(axes[0], x, effect.mean(("task", "strategy")), "SNR ticket − random")
    axes[0].axhline(0, color="k", lw=0.5)
    axes[0].set_ylabel("normalised ticket effect")
    axes[0].set_title("ES ticket effect (task-normalised)")
    gd = _gd_strategies(ds)
    norm_es = (m.sel({"strategy": es, "method": "snr"}) / abs(dense)).mean(("task", "strategy"))
    _band(axes[1], x, norm_es, "ES, SNR")
    if gd and "magnitude" in ds.method.values:
        dense_gd = m.sel({"strategy": gd, "method": "magnitude"}).isel(iteration=0).mean("seed")
        norm_gd = (m.sel({"strategy": gd, "method": "magnitude"}) / abs(dense_gd)).mean(
            ("task", "strategy")
        )
        _band(axes[1], x, norm_gd, "GD, magnitude")
    axes[1].set_title("ES against GD (normalised to dense)")
    for ax in axes:
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@figure(
    "fig2",
    "Random, magnitude and SNR pruning per task and strategy: test metric "
    "(mean ± s.e. over seeds) against weights remaining.",
)
def fig2(ds: xr.Dataset) -> plt.Figure:
    es = _es_strategies(ds)
    if not es:
        return _missing("Fig. 2", "needs an ES strategy")
    tasks = list(ds.task.values)
    fig, axes = plt.subplots(
        len(tasks), len(es), figsize=(3.2 * len(es), 2.6 * len(tasks)), squeeze=False
    )
    x = _percent(ds)
    for i, t in enumerate(tasks):
        for j, s in enumerate(es):
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
            for m in ES_METHODS:
                if m in ds.method.values:
                    _band(
                        ax,
                        x,
                        ds.test_metric.sel({"task": t, "strategy": s, "method": m}),
                        m,
                        COLORS[m],
                    )
            ax.set_title(f"{t} / {s}", fontsize=9)
            ax.set_ylabel(str(ds.metric_name.sel({"task": t}).values), fontsize=8)
            _sparsity_axis(ax, ds)
    axes[0, 0].legend(fontsize=7)
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
    if not {"snr", "magnitude"} <= set(map(str, ds.method.values)):
        return _missing("Fig. 3", "needs the snr and magnitude methods")
    tasks = [t for t in ds.task.values if has_data(ds, "test_metric", task=t, strategy=gd)]
    if not tasks:
        return _missing("Fig. 3", "no GD runs finished")
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.5 * len(tasks), 3), squeeze=False)
    x = _percent(ds)
    for ax, t in zip(axes[0], tasks):
        for s in _es_strategies(ds):
            _band(
                ax, x, ds.test_metric.sel({"task": t, "strategy": s, "method": "snr"}), f"{s} SNR"
            )
        for g in gd:
            _band(
                ax,
                x,
                ds.test_metric.sel({"task": t, "strategy": g, "method": "magnitude"}),
                f"{g} magnitude",
                "k",
            )
        ax.set_title(t)
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


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
        _band(ax, x, ds.transfer_metric.sel({"transfer": n}), "transferred ticket", "tab:purple")
        for ref in ("snr", "random"):
            var = f"transfer_target_{ref}"
            if var in ds:
                _band(ax, x, ds[var].sel({"transfer": n}), f"target's own {ref}", COLORS[ref])
        ax.set_title(str(n), fontsize=9)
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


@figure(
    "fig4",
    "Ticket transfer across tasks and across ES: the source's (mask, θ0) "
    "retrained in the target setting, against the target's own SNR ticket and random.",
)
def fig4(ds: xr.Dataset) -> plt.Figure:
    return _transfer_figure(ds, "Fig. 4", ("task", "es"))


@figure("fig5", "Ticket transfer from ES to GD: ES tickets retrained with Adam / PPO.")
def fig5(ds: xr.Dataset) -> plt.Figure:
    return _transfer_figure(ds, "Fig. 5", ("gd",))


@figure(
    "fig6",
    "Linear mode connectivity and curvature: error barriers between consecutive "
    "rounds and between seeds, and the mean curvature of 1D random projections.",
)
def fig6(ds: xr.Dataset) -> plt.Figure:
    if not any(v in ds for v in ("lmc_barrier_consecutive", "curvature_1d", "lmc_barrier_es_gd")):
        return _missing("Fig. 6", "needs the lmc and landscape analyses")
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    x = _percent(ds)
    # the analysed task (the paper: ARS on MNIST, entry mnist_ars), not simply the first one
    analysed = [
        t
        for t in ds.task.values
        if any(has_data(ds, v, task=t) for v in ("lmc_barrier_consecutive", "curvature_1d"))
    ]
    sel = {"task": (analysed or list(ds.task.values))[0]}
    if "lmc_barrier_es_gd" in ds and np.isfinite(ds.lmc_barrier_es_gd).any():
        # one band per ES → GD transfer (named source_to_target in the config)
        for n in ds.transfer.values:
            _band(axes[3], x, ds.lmc_barrier_es_gd.sel({"transfer": n}), str(n))
        axes[3].legend(fontsize=6)
    else:
        axes[3].text(
            0.5,
            0.5,
            "ES ↔ GD: not in this experiment",
            ha="center",
            va="center",
            transform=axes[3].transAxes,
            fontsize=8,
        )
    for s in ds.strategy.values:
        for m in ds.method.values:
            label = f"{s}/{m}"
            if "lmc_barrier_consecutive" in ds:
                _band(
                    axes[0],
                    x,
                    ds.lmc_barrier_consecutive.sel({"strategy": s, "method": m, **sel}),
                    label,
                    COLORS.get(str(m)),
                )
            if "lmc_barrier_seeds" in ds:
                v = ds.lmc_barrier_seeds.sel({"strategy": s, "method": m, **sel}).values
                if np.isfinite(v).any():
                    axes[1].plot(x, v, marker="o", ms=3, label=label, color=COLORS.get(str(m)))
            if "curvature_1d" in ds:
                _band(
                    axes[2],
                    x,
                    ds.curvature_1d.sel({"strategy": s, "method": m, **sel}),
                    label,
                    COLORS.get(str(m)),
                )
    titles = (
        f"barrier, round t → t+1 ({sel['task']})",
        f"barrier, seed 0 ↔ seed 1 ({sel['task']})",
        f"1D curvature ({sel['task']})",
        "barrier, ES ↔ GD (same ticket)",  # the transfers' own tasks, in the legend
    )
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=9)
        _sparsity_axis(ax, ds)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


@figure(
    "fig7",
    "SNR against magnitude: Spearman correlation of the two rankings per round and "
    "against round 0, and the global thresholds each score sets.",
)
def fig7(ds: xr.Dataset) -> plt.Figure:
    if "rho_snr_magnitude" not in ds:
        return _missing("Fig. 7", "needs the snr_magnitude analysis")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    x = _percent(ds)
    for t in ds.task.values:
        for s in _es_strategies(ds):
            da = ds.rho_snr_magnitude.sel({"task": t, "strategy": s, "method": "snr"})
            _band(axes[0], x, da, f"{t}/{s}")
            _band(
                axes[1],
                x,
                ds.threshold_snr.sel({"task": t, "strategy": s, "method": "snr"}),
                f"{t}/{s} SNR",
            )
    axes[0].set_ylabel("Spearman ρ(SNR, |θ|)")
    axes[1].set_ylabel("SNR threshold")
    for ax in axes:
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


@figure(
    "fig8",
    "Ticket-effect decomposition: the magnitude ticket against the same mask with "
    "permuted weights and the same per-layer counts with a permuted mask.",
)
def fig8(ds: xr.Dataset) -> plt.Figure:
    needed = ("magnitude", "weight_permuted", "mask_permuted")
    if not all(m in ds.method.values for m in needed):
        return _missing("Fig. 8", "needs the weight_permuted and mask_permuted methods")
    es = _es_strategies(ds)
    fig, axes = plt.subplots(1, len(ds.task), figsize=(3.5 * len(ds.task), 3), squeeze=False)
    x = _percent(ds)
    for ax, t in zip(axes[0], ds.task.values):
        for m in (*needed, "random"):
            if m in ds.method.values:
                _band(
                    ax,
                    x,
                    ds.test_metric.sel({"task": t, "strategy": es, "method": m}).mean("strategy"),
                    m,
                    COLORS.get(m),
                )
        ax.set_title(str(t))
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


HEURISTICS = ("movement", "magnitude_increase", "init_magnitude")
INIT_LINESTYLES = {"snr": "-", "magnitude": "--", "random": ":"}


def _init_groups(ds: xr.Dataset) -> dict[str, list[str]]:
    """Library task → its task entries, for library tasks run under two or more init schemes."""
    if "init_scheme" not in ds.coords:
        return {}
    groups: dict[str, list[str]] = {}
    for t, base in zip(ds.task.values, ds.library_task.values):
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
    "random dotted, one colour per scheme; bottom), mean over the ES strategies.",
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
    if not rows or not es:
        return _missing(
            "Fig. 9",
            "needs the movement / magnitude_increase / init_magnitude methods, or one task "
            "entry per init scheme (tasks: {digits_he: {task: digits, init: he_normal}})",
        )
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(
        len(rows), ncols, figsize=(3.6 * ncols, 3.1 * len(rows)), squeeze=False
    )
    x = _percent(ds)
    metric = ds.test_metric.sel(strategy=es).mean("strategy")
    row = 0
    if heur_tasks:
        for ax, t in zip(axes[row], heur_tasks):
            for m in ("magnitude", "snr", *heuristics):
                if m in ds.method.values:
                    _band(ax, x, metric.sel({"task": t, "method": m}), m, COLORS.get(m))
            ax.set_title(f"{t}: heuristics", fontsize=9)
        row += 1
    if groups:
        schemes = dict(zip(ds.task.values, ds.init_scheme.values))
        for ax, (base, entries) in zip(axes[row], groups.items()):
            for i, t in enumerate(entries):
                for m, style in INIT_LINESTYLES.items():
                    if m not in ds.method.values:
                        continue
                    mean, se = _mean_se(metric.sel({"task": t, "method": m}))
                    if np.all(np.isnan(mean)):
                        continue
                    ax.plot(
                        x, mean, style, marker="o", ms=3, color=f"C{i}", label=f"{schemes[t]} {m}"
                    )
                    ax.fill_between(x, mean - se, mean + se, alpha=0.15, color=f"C{i}")
            ax.set_title(f"{base}: init schemes", fontsize=9)
    panel_tasks = [heur_tasks, [entries[0] for entries in groups.values()]]
    for r, entries in enumerate(t for t in panel_tasks if t):
        for c in range(ncols):
            ax = axes[r][c]
            if c >= len(entries):
                fig.delaxes(ax)
                continue
            _sparsity_axis(ax, ds)
            ax.set_ylabel(str(ds.metric_name.sel({"task": entries[c]}).values), fontsize=8)
            ax.legend(fontsize=5 if r else 6)
    fig.tight_layout()
    return fig


@figure(
    "fig10",
    "2D loss surfaces on filter-normalised directions built at round 0 (dense) "
    "and reused at every round: first, middle and last round of seed 0.",
)
def fig10(ds: xr.Dataset) -> plt.Figure:
    if "loss_surface_2d" not in ds:
        return _missing("Fig. 10", "needs the landscape analysis")
    surf = ds.loss_surface_2d.isel(seed=0)
    finite = np.isfinite(surf).any(("grid_x", "grid_y", "iteration"))
    t, s, m = next(
        iter(
            finite.stack(c=("task", "strategy", "method"))
            .where(finite.stack(c=("task", "strategy", "method")), drop=True)
            .c.values
        )
    )
    its = sorted({0, ds.iteration.size // 2, ds.iteration.size - 1})
    fig, axes = plt.subplots(1, len(its), figsize=(3.4 * len(its), 3), squeeze=False)
    for ax, it in zip(axes[0], its):
        z = surf.sel({"task": t, "strategy": s, "method": m}).isel(iteration=it)
        cs = ax.contourf(ds.grid_x, ds.grid_y, z.values.T, levels=15, cmap="viridis")
        fig.colorbar(cs, ax=ax)
        ax.set_title(f"{t}/{s}/{m}: {100 * float(ds.remaining_fraction[it]):.0f}% left", fontsize=8)
    fig.tight_layout()
    return fig


@figure(
    "fig11",
    "Layerwise pruning ratios: fraction of each layer's weights kept per round "
    "under SNR pruning (one global threshold gives each layer its own ratio).",
)
def fig11(ds: xr.Dataset) -> plt.Figure:
    if "layer_kept_ratio" not in ds:
        return _missing("Fig. 11", "needs the layerwise analysis")
    kernels = [n for n in ds.tensor.values if str(n).endswith("kernel")]
    method = "snr" if "snr" in ds.method.values else str(ds.method.values[0])
    tasks = [t for t in ds.task.values if has_data(ds, "layer_kept_ratio", task=t, method=method)]
    if not tasks:
        return _missing("Fig. 11", f"no layerwise analysis of a {method} chain finished")
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.8 * len(tasks), 3), squeeze=False)
    x = _percent(ds)
    for ax, t in zip(axes[0], tasks):
        for n in kernels:
            da = ds.layer_kept_ratio.sel({"task": t, "tensor": n, "method": method}).mean(
                "strategy"
            )
            _band(ax, x, da, str(n))
        ax.set_title(f"{t} ({method})")
        ax.set_ylabel("kept ratio")
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


# Pruning families at matched sparsity: iterative (IMP) magnitude and SNR, pruning at
# initialisation (SNIP, GraSP), dynamic sparse ES, and the random baseline.
FAMILIES = ("magnitude", "snr", "snip", "grasp", "dynamic_random", "dynamic_gradient", "random")
NON_IMP = ("snip", "grasp", "dynamic_random", "dynamic_gradient")


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
        for m in methods:
            _band(ax, x, ds.test_metric.sel({"task": t, "strategy": s, "method": m}), m, COLORS[m])
        ax.set_title(f"{t} / {s}", fontsize=9)
        ax.set_ylabel(str(ds.metric_name.sel({"task": t}).values), fontsize=8)
        _sparsity_axis(ax, ds)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def render(name: str, ds: xr.Dataset, out: str) -> plt.Figure:
    """Draw figure ``name`` from ``ds`` and save it (atomically, durably) as a PNG."""
    from ..durable import atomic_path
    from ..names import figure_number

    fig = FIGURES[figure_number(name)](ds)
    with atomic_path(out, suffix=".tmp.png") as tmp:  # .png: savefig infers the format
        fig.savefig(tmp, dpi=110)
    return fig
