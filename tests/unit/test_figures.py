"""The figures draw what their captions say, on small hand-made results datasets: lines that
compare methods average the same strategies, a return's dense level reads like an accuracy's,
ES and GD lines can be told apart, and partial results draw instead of failing."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pytest
import xarray as xr

from evotickets.plots import figures

ROUNDS = 3


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test's figures closed after it (pyplot keeps them open otherwise)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _dataset(tasks, strategies, methods, seeds=(0, 1), fill=np.nan) -> xr.Dataset:
    shape = (len(tasks), len(strategies), len(methods), len(seeds), ROUNDS)
    return xr.Dataset(
        {
            "test_metric": (
                ("task", "strategy", "method", "seed", "iteration"),
                np.full(shape, fill),
            )
        },
        coords={
            "task": list(tasks),
            "strategy": list(strategies),
            "method": list(methods),
            "seed": list(seeds),
            "iteration": np.arange(ROUNDS),
            "remaining_fraction": ("iteration", 0.8 ** np.arange(ROUNDS)),
            "metric_name": ("task", ["test accuracy"] * len(tasks)),
        },
    )


def _lines(ax) -> dict[str, np.ndarray]:
    return {line.get_label(): np.asarray(line.get_ydata()) for line in ax.get_lines()}


def test_fig8_averages_every_method_over_the_same_strategies():
    """Permutation controls ran on SNES only, magnitude on SNES and Sep-CMA-ES: averaging each
    method over whatever strategies ran it would set SNES against the mean of both."""
    methods = ("random", "magnitude", "weight_permuted", "mask_permuted")
    ds = _dataset(["digits"], ["snes", "sep_cma_es"], methods)
    ds.test_metric.loc[{"strategy": "snes"}] = 0.9
    ds.test_metric.loc[{"strategy": "sep_cma_es", "method": ["random", "magnitude"]}] = 0.5
    ax = figures.fig8(ds).axes[0]
    lines = _lines(ax)
    assert set(lines) == set(methods)
    for m in methods:
        np.testing.assert_allclose(lines[m], 0.9, err_msg=m)  # SNES alone, every line
    assert "snes" in ax.get_title() and "sep_cma_es" not in ax.get_title()


def test_a_mean_over_strategies_never_switches_strategies_from_one_round_to_the_next():
    """Sep-CMA-ES's permutation controls are a round behind its magnitude chain (still
    running, or diverged): at that round the control lines have no point rather than SNES's
    value alone against magnitude's mean of both (a gap of 0.4 that no method made); random,
    run on SNES only, is not drawn beside lines of both strategies; the panel names its
    metric."""
    methods = ("random", "magnitude", "weight_permuted", "mask_permuted")
    ds = _dataset(["digits"], ["snes", "sep_cma_es"], methods)
    ds.test_metric.loc[{"strategy": "snes"}] = 0.9
    ds.test_metric.loc[{"strategy": "sep_cma_es"}] = 0.5
    behind = {"strategy": "sep_cma_es", "method": ["weight_permuted", "mask_permuted"]}
    ds.test_metric.loc[{**behind, "iteration": ROUNDS - 1}] = np.nan
    ds.test_metric.loc[{"strategy": "sep_cma_es", "method": "random"}] = np.nan
    ax = figures.fig8(ds).axes[0]
    lines = _lines(ax)
    assert set(lines) == {"magnitude", "weight_permuted", "mask_permuted"}
    np.testing.assert_allclose(lines["magnitude"], 0.7)
    for m in ("weight_permuted", "mask_permuted"):
        np.testing.assert_allclose(lines[m][:-1], 0.7)
        assert np.isnan(lines[m][-1]), m
    assert ax.get_ylabel() == "test accuracy"
    # a seed missing one strategy's round drops out of that round only
    ds.test_metric.loc[{**behind, "iteration": ROUNDS - 1, "seed": 0}] = 0.5
    np.testing.assert_allclose(_lines(figures.fig8(ds).axes[0])["weight_permuted"], 0.7)


def test_fig1_compares_es_and_gd_over_the_same_runs_at_every_round():
    """Two tasks, ES and GD alike on each; Pendulum's ES chain stops after round 1: at its
    last round the ES line has no point (its mean of MNIST alone read 0.5 against GD's 0.75,
    a gap that is not there), and where both ran the two lines agree."""
    ds = _dataset(["mnist", "pendulum"], ["snes", "gd_adam"], ["random", "magnitude", "snr"])
    ds.test_metric.loc[{"task": "mnist"}] = 0.9
    ds.test_metric.loc[{"task": "mnist", "iteration": ROUNDS - 1}] = 0.45
    ds.test_metric.loc[{"task": "pendulum"}] = -100.0
    ds.test_metric.loc[{"task": "pendulum", "strategy": "snes", "iteration": ROUNDS - 1}] = np.nan
    lines = _lines(figures.fig1(ds).axes[1])
    es, gd = lines["ES, SNR"], lines["GD, magnitude"]
    np.testing.assert_allclose(es[:-1], gd[:-1])
    assert np.isnan(es[-1]) and gd[-1] == pytest.approx(0.75)


def test_a_transfer_is_drawn_against_the_target_on_the_same_seeds():
    """Seed 1's transfer has not finished: the target's own ticket and random are drawn over
    seed 0 alone, as the transferred ticket is (paired), not over both seeds."""
    ds = _dataset(["mnist"], ["snes"], ["random"]).assign_coords(
        transfer=["to_mnist"],
        transfer_kind=("transfer", ["task"]),
        transfer_target_task=("transfer", ["mnist"]),
    )
    dims = ("transfer", "seed", "iteration")
    transferred = np.full((1, 2, ROUNDS), 0.8)
    transferred[0, 1] = np.nan
    ds["transfer_metric"] = (dims, transferred)
    ds["transfer_target_snr"] = (dims, np.stack([np.full(ROUNDS, 0.7), np.full(ROUNDS, 0.3)])[None])
    ds["transfer_target_random"] = (dims, np.full((1, 2, ROUNDS), 0.5))
    lines = _lines(figures.fig4(ds).axes[0])
    np.testing.assert_allclose(lines["transferred ticket"], 0.8)
    np.testing.assert_allclose(lines["target's own snr"], 0.7)  # seed 0's, not 0.5
    np.testing.assert_allclose(lines["target's own random"], 0.5)
    # the other way: both transfers finished, the target's own chain of seed 0 has not
    # (a transfer needs only the source's mask and the target's θ0): seed 1's everywhere
    ds["transfer_metric"] = (dims, np.stack([np.full(ROUNDS, 0.9), np.full(ROUNDS, 0.6)])[None])
    ds["transfer_target_snr"][0, 0] = np.nan
    lines = _lines(figures.fig4(ds).axes[0])
    np.testing.assert_allclose(lines["transferred ticket"], 0.6)  # not (0.9 + 0.6) / 2
    np.testing.assert_allclose(lines["target's own snr"], 0.3)


def test_fig1_relative_to_dense_is_one_at_dense_for_accuracies_and_returns():
    """m / |dense| is −1 at dense for a negative return; averaged with an accuracy's +1 the
    ES curve read 0 where both tasks stayed at their dense level."""
    ds = _dataset(["mnist", "pendulum"], ["snes"], ["random", "snr"])
    ds.test_metric.loc[{"task": "mnist"}] = 0.98
    ds.test_metric.loc[{"task": "pendulum"}] = -150.0
    lines = _lines(figures.fig1(ds).axes[1])
    np.testing.assert_allclose(lines["ES, SNR"], 1.0)
    ds.test_metric.loc[{"task": "pendulum", "method": "snr", "iteration": 2}] = -300.0
    lines = _lines(figures.fig1(ds).axes[1])
    np.testing.assert_allclose(lines["ES, SNR"][2], (1.0 + 0.0) / 2)  # mnist 1, pendulum 0
    # no GD strategy ran: no GD line, and the panel's title does not promise one
    assert "GD, magnitude" not in lines
    assert figures.fig1(ds).axes[1].get_title() == "ES relative to dense (no GD run)"
    gd = _dataset(["mnist"], ["snes", "gd_adam"], ["random", "magnitude", "snr"])
    gd.test_metric[:] = 0.9
    panel = figures.fig1(gd).axes[1]
    assert "GD, magnitude" in _lines(panel) and panel.get_title().startswith("ES against GD")


def test_fig1_averages_the_plain_task_entries_not_their_rewinding_or_init_variants():
    """config/extensions.yaml runs digits and digits_rewind (late rewinding): Fig. 1's average
    over tasks took both, so digits counted twice and rewinding's effect sat in the study's.
    A variant whose library task has no plain entry still counts (it is that task's run)."""
    tasks = ["digits", "digits_rewind", "digits_he", "mnist_he"]
    ds = _dataset(tasks, ["snes", "gd_adam"], ["random", "magnitude", "snr"]).assign_coords(
        library_task=("task", ["digits", "digits", "digits", "mnist"]),
        rewind=("task", [0, 25, 0, 0]),
        init_scheme=("task", ["flax_default", "flax_default", "he_normal", "he_normal"]),
    )
    ds.test_metric[:] = 1.0
    ds.test_metric.loc[{"method": "random", "iteration": 2}] = 0.5
    # the variants of digits have another effect: read into the mean they would move it
    ds.test_metric.loc[{"task": ["digits_rewind", "digits_he"], "method": "random"}] = 0.0
    ds.test_metric.loc[{"task": ["digits_rewind", "digits_he"], "iteration": 0}] = 1.0
    ds.test_metric.loc[{"task": ["digits_rewind", "digits_he"], "method": "snr"}] = 0.2
    fig = figures.fig1(ds)
    effect = _lines(fig.axes[0])["SNR ticket − random"]
    np.testing.assert_allclose(effect, [0.0, 0.0, 0.5])  # digits and mnist_he, both 0.5
    es = _lines(fig.axes[1])["ES, SNR"]
    np.testing.assert_allclose(es, 1.0)
    assert figures._study_entries(ds) == ["digits", "mnist_he"]
    # lecun_normal is the study's θ0 too (flax's default): digits_he and digits_x left out
    lecun = ds.assign_coords(init_scheme=("task", ["lecun_normal", "he_normal", "he_normal", "x"]))
    assert figures._study_entries(lecun) == ["digits", "mnist_he"]
    # a plain entry without an ES snr run (GD only) does not push its variants out
    ds.test_metric.loc[{"task": "digits", "strategy": "snes"}] = np.nan
    assert figures._study_entries(ds) == ["digits", "digits_rewind", "digits_he", "mnist_he"]


def test_fig1_normalises_each_seed_by_its_own_dense_round():
    """Paired: a seed whose dense network reached 0.5 and its ticket 0.25 is at half its
    dense level, whatever another seed reached (the seed-mean dense would read 0.833)."""
    ds = _dataset(["digits"], ["snes"], ["random", "snr"], seeds=(0, 1))
    ds.test_metric.loc[{"seed": 0}] = 0.5
    ds.test_metric.loc[{"seed": 1}] = 1.0
    ds.test_metric.loc[{"seed": 0, "iteration": 2}] = 0.25
    lines = _lines(figures.fig1(ds).axes[1])
    np.testing.assert_allclose(lines["ES, SNR"][2], (0.5 + 1.0) / 2)
    ds.test_metric.loc[{"seed": 0, "method": "random", "iteration": 2}] = 0.0
    effect = _lines(figures.fig1(ds).axes[0])["SNR ticket − random"]
    np.testing.assert_allclose(effect[2], (0.25 / 0.5 + 0.0) / 2)


def test_fig6_tells_es_from_gd_and_names_every_line():
    ds = _dataset(["digits"], ["snes", "gd_adam"], ["magnitude"])
    dims = ("task", "strategy", "method", "seed", "iteration")
    ds["lmc_barrier_consecutive"] = (dims, np.full(ds.test_metric.shape, 0.1))
    ds["curvature_1d"] = (dims, np.full(ds.test_metric.shape, 2.0))
    ds["lmc_barrier_seeds"] = (dims[:3] + ("iteration",), np.full((1, 2, 1, ROUNDS), 0.2))
    fig = figures.fig6(ds)
    for ax in fig.axes[:3]:
        colors = {mcolors.to_hex(line.get_color()) for line in ax.get_lines()}
        assert len(colors) == 2, ax.get_title()  # snes/magnitude and gd_adam/magnitude
        assert ax.get_legend() is not None, ax.get_title()
    assert "seed 0 ↔ seed 1" in fig.axes[1].get_title()


def test_fig6_sets_es_against_gd_over_the_same_seeds():
    """Claims 6 and 7 read the gap between ES's and GD's barrier and curvature lines: where
    GD lacks a seed at a level, ES's point there is a mean over the other seeds too (it
    averaged every seed, and the gap was made by a seed, not by ES against GD)."""
    ds = _dataset(["digits"], ["snes", "gd_adam"], ["magnitude"], seeds=(0, 1, 2))
    dims = ("task", "strategy", "method", "seed", "iteration")
    per_seed = np.array([0.9, 0.3, 0.3])[None, None, None, :, None] * np.ones(ds.test_metric.shape)
    for var in ("lmc_barrier_consecutive", "curvature_1d"):
        values = per_seed.copy()
        values[0, 1, 0, 0, 1] = np.nan  # gd_adam lacks seed 0 at round 1
        ds[var] = (dims, values)
    fig = figures.fig6(ds)
    for ax in (fig.axes[0], fig.axes[2]):
        lines = _lines(ax)
        np.testing.assert_allclose(lines["snes/magnitude"], [0.5, 0.3, 0.5], err_msg=ax.get_title())
        np.testing.assert_allclose(lines["gd_adam/magnitude"], lines["snes/magnitude"])
    assert any(SHARED_SEEDS_NOTE in n for n in _notes(fig))


def test_fig7_draws_the_round0_correlations_and_both_thresholds():
    ds = _dataset(["digits"], ["snes"], ["magnitude", "snr"])
    dims = ("task", "strategy", "method", "seed", "iteration")
    variables = (
        "rho_snr_magnitude",
        "rho_snr_vs_round0",
        "rho_magnitude_vs_round0",
        "threshold_snr",
        "threshold_magnitude",
    )
    for i, v in enumerate(variables):
        ds[v] = (dims, np.full(ds.test_metric.shape, np.nan))
        ds[v].loc[{"method": "snr"}] = 0.1 * (i + 1)
    axes = figures.fig7(ds).axes
    assert len(axes) == 4
    assert [len(ax.get_lines()) for ax in axes] == [1, 2, 1, 1]
    np.testing.assert_allclose(axes[3].get_lines()[0].get_ydata(), 0.5)  # |θ| threshold


def test_fig7_draws_a_row_per_task_and_a_colour_per_strategy():
    """At the paper's scale one row of 53 task/strategy lines in 10 cycle colours could not
    be told apart: a row per task, a strategy's colour the same in every row and unique."""
    strategies = [f"s{k}" for k in range(12)]
    ds = _dataset(["mnist", "fmnist"], strategies, ["snr"])
    ds["rho_snr_magnitude"] = ds.test_metric.copy(data=np.full(ds.test_metric.shape, 0.3))
    for v in (
        "rho_snr_vs_round0",
        "rho_magnitude_vs_round0",
        "threshold_snr",
        "threshold_magnitude",
    ):
        ds[v] = ds.rho_snr_magnitude.copy()
    axes = figures.fig7(ds).axes
    assert len(axes) == 8 and [axes[0].get_title(), axes[4].get_title()] == ["mnist", "fmnist"]
    rows = [
        {ln.get_label(): mcolors.to_hex(ln.get_color()) for ln in axes[r].get_lines()}
        for r in (0, 4)
    ]
    assert rows[0] == rows[1] and len(set(rows[0].values())) == 12


def test_fig7_without_an_snr_chain_says_so():
    ds = _dataset(["digits"], ["snes"], ["magnitude"])
    ds["rho_snr_magnitude"] = ds.test_metric.copy(data=np.full(ds.test_metric.shape, 0.3))
    fig = figures.fig7(ds)
    assert "not in this experiment" in fig.axes[0].texts[0].get_text()


def test_the_figure_verb_says_when_it_drew_a_placeholder(tmp_path, capsys):
    """A placeholder was logged as "wrote … (1 panels)", like a drawn figure."""
    from evotickets import cli

    ds = _dataset(["digits"], ["snes"], ["magnitude"])
    ds.to_netcdf(tmp_path / "summary.nc", engine="h5netcdf")
    out = tmp_path / "figures" / "fig7.png"
    assert cli.main(["figure", "fig7", "--summary", str(tmp_path / "summary.nc"),
                     "--out", str(out)]) == 0  # fmt: skip
    line = capsys.readouterr().out
    assert f"wrote {out}: not in this experiment (" in line and "panels" not in line


def test_tickets_shared_draws_each_method_against_magnitude_and_the_chance_line():
    ds = _dataset(["pendulum"], ["sep_cma_es"], ["random", "magnitude", "snr"])
    shared = np.full(ds.test_metric.shape, np.nan)
    shared[0, 0, 0] = 0.8 ** np.arange(ROUNDS)  # random: the remaining fraction
    shared[0, 0, 1] = 1.0
    shared[0, 0, 2, 0] = 0.5  # snr: seeds 0.5 and 0.7
    shared[0, 0, 2, 1] = 0.7
    ds["kept_shared_with_magnitude"] = (ds.test_metric.dims, shared)
    fig = figures.tickets_shared(ds)
    assert len(fig.axes) == 1 and "pendulum / sep_cma_es" in fig.axes[0].get_title()
    lines = _lines(fig.axes[0])
    assert set(lines) == {"random", "snr", "unrelated masks"}  # magnitude is the reference
    np.testing.assert_allclose(lines["snr"], 0.6)
    np.testing.assert_allclose(lines["unrelated masks"], 0.8 ** np.arange(ROUNDS))
    without = figures.tickets_shared(_dataset(["digits"], ["snes"], ["magnitude"]))
    assert "not in this experiment" in without.axes[0].texts[0].get_text()


@pytest.mark.parametrize("seed_with_data", [0, 1])
def test_fig10_draws_the_first_seed_with_a_surface(seed_with_data):
    ds = _dataset(["digits"], ["snes"], ["snr"])
    grid = np.linspace(-1, 1, 4)
    surface = np.full((*ds.test_metric.shape, 4, 4), np.nan)
    surface[0, 0, 0, seed_with_data] = np.add.outer(grid, grid) ** 2
    ds = ds.assign_coords(grid_x=grid, grid_y=grid)
    ds["loss_surface_2d"] = (
        ("task", "strategy", "method", "seed", "iteration", "grid_x", "grid_y"),
        surface,
    )
    fig = figures.fig10(ds)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == ROUNDS and all(f"seed {seed_with_data}" in t for t in titles)
    left = 100 * float(ds.remaining_fraction[-1])
    assert titles[-1].endswith(f": {left:.3g}% left"), titles  # not rounded to whole percent
    labels = {ax.get_ylabel() for ax in fig.axes} | {ax.get_xlabel() for ax in fig.axes}
    assert {"loss (cross-entropy)", "direction 1 (filter-normalised)", "direction 2"} <= labels
    ds["loss_surface_2d"][:] = np.nan
    assert "not in this experiment" in figures.fig10(ds).axes[0].texts[0].get_text()


def test_fig10_draws_an_es_chain_before_a_gd_chain_listed_first():
    """paper.yaml analyses GD beside ARS on mnist_ars (claim 7), and collect may list gd_adam
    first: the figure is the paper's ES landscape all the same."""
    ds = _dataset(["mnist_ars"], ["gd_adam", "ars"], ["magnitude"])
    grid = np.linspace(-1, 1, 4)
    surface = np.full((*ds.test_metric.shape, 4, 4), np.nan)
    surface[0, :, 0, 0] = np.add.outer(grid, grid) ** 2  # both strategies, seed 0
    ds = ds.assign_coords(grid_x=grid, grid_y=grid)
    ds["loss_surface_2d"] = (
        ("task", "strategy", "method", "seed", "iteration", "grid_x", "grid_y"),
        surface,
    )
    titles = [ax.get_title() for ax in figures.fig10(ds).axes if ax.get_title()]
    assert titles and all("mnist_ars/ars/magnitude" in t for t in titles), titles
    surface[0, 1] = np.nan  # no ES landscape: GD's is drawn
    ds["loss_surface_2d"] = (ds.loss_surface_2d.dims, surface)
    titles = [ax.get_title() for ax in figures.fig10(ds).axes if ax.get_title()]
    assert titles and all("mnist_ars/gd_adam/magnitude" in t for t in titles), titles


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_a_figure_is_saved_in_the_format_its_name_asks_for(tmp_path, suffix, magic):
    """`evotickets figure … --out fig8.pdf` wrote PNG bytes under the .pdf name."""
    ds = _dataset(["digits"], ["snes"], ("random", "magnitude"), fill=0.5)
    out = tmp_path / f"fig8{suffix}"
    figures.render("fig8", ds, str(out))
    assert out.read_bytes()[:4] == magic
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_a_figure_counts_the_finished_rounds_it_leaves_out_for_a_non_finite_metric(tmp_path):
    """A finished round whose test metric is NaN is drawn as missing, like a round not run:
    the saved figure says how many were left out; with none it says nothing."""
    ds = _dataset(["digits"], ["snes"], ("random", "magnitude"), fill=0.5)
    ds["kept_fraction"] = (ds.test_metric.dims, np.ones(ds.test_metric.shape))
    clean = figures.render("fig2", ds, str(tmp_path / "a.png"))
    assert not [t for t in clean.texts if "non-finite" in t.get_text()]
    ds.test_metric.loc[{"method": "random", "seed": 1, "iteration": 2}] = np.nan
    fig = figures.render("fig2", ds, str(tmp_path / "b.png"))
    notes = [" ".join(t.get_text().split()) for t in fig.texts if "non-finite" in t.get_text()]
    assert len(notes) == 1 and notes[0].startswith(
        "1 finished round(s) with a non-finite test metric left out (claims.md lists them)"
    )
    # wrapped to the figure's width: not cut off at its right edge
    fig.canvas.draw()
    (text,) = [t for t in fig.texts if "non-finite" in t.get_text()]
    assert text.get_window_extent(fig.canvas.get_renderer()).x1 <= fig.bbox.x1
    # a figure that draws no test metric (the analyses, the masks) leaves nothing out for it,
    # here drawing its own data (not a placeholder)
    _analyses(ds)
    for name in ("fig6", "tickets_shared"):
        other = figures.render(name, ds, str(tmp_path / f"{name}.png"))
        assert getattr(other, "evotickets_placeholder", None) is None, name
        assert [ln for ax in other.axes for ln in ax.get_lines()], name
        assert not [t for t in other.texts if "non-finite" in t.get_text()], name


def _analyses(ds: xr.Dataset) -> None:
    """Give ``ds`` the analyses' variables fig6 and tickets_shared draw (no test metric)."""
    ds["curvature_1d"] = (ds.test_metric.dims, np.full(ds.test_metric.shape, 2.0))
    ds["lmc_barrier_consecutive"] = (ds.test_metric.dims, np.full(ds.test_metric.shape, 0.1))
    ds["kept_shared_with_magnitude"] = (ds.test_metric.dims, np.full(ds.test_metric.shape, 0.5))


def test_the_non_finite_footnote_counts_only_the_rounds_its_figure_draws(tmp_path):
    """Fig. 3 draws ES snr against GD magnitude on the tasks with both: a non-finite round
    of a task it leaves out, or of a method it does not draw, is not "left out" of it, while
    Fig. 2, which draws every task and method, counts them all."""

    def note(fig):
        """The footnote's first line, where it counts non-finite rounds."""
        text = _footnote_text(fig)
        return [text.split(")", 1)[0] + ")"] if "non-finite" in text else []

    methods = ("random", "magnitude", "snr")
    ds = _dataset(["digits", "mnist"], ["snes", "gd_adam"], methods, fill=0.5)
    ds["kept_fraction"] = (ds.test_metric.dims, np.ones(ds.test_metric.shape))
    ds.test_metric.loc[{"task": "mnist", "strategy": "gd_adam"}] = np.nan  # mnist: no GD run
    ds.kept_fraction.loc[{"task": "mnist", "strategy": "gd_adam"}] = np.nan
    ds.test_metric.loc[{"strategy": "gd_adam", "method": "snr"}] = np.nan  # GD runs no snr
    ds.kept_fraction.loc[{"strategy": "gd_adam", "method": "snr"}] = np.nan
    ds.test_metric.loc[{"task": "mnist", "strategy": "snes", "method": "snr", "seed": 0}] = np.inf
    ds.test_metric.loc[{"task": "digits", "strategy": "snes", "method": "random", "seed": 1,
                        "iteration": 1}] = np.nan  # fmt: skip
    fig3 = figures.render("fig3", ds, str(tmp_path / "fig3.png"))
    assert [ax.get_title() for ax in fig3.axes] == ["digits"]
    assert note(fig3) == []  # mnist is not drawn, random is not drawn
    fig2 = figures.render("fig2", ds, str(tmp_path / "fig2.png"))
    assert note(fig2) == [f"{ROUNDS + 1} finished round(s)"]
    ds.test_metric.loc[{"task": "digits", "strategy": "gd_adam", "method": "magnitude",
                        "seed": 0, "iteration": 2}] = np.nan  # fmt: skip
    fig3 = figures.render("fig3", ds, str(tmp_path / "fig3b.png"))
    assert note(fig3) == ["1 finished round(s)"]
    # a figure that is a placeholder draws nothing, so it leaves nothing out
    missing = figures.render("fig4", ds, str(tmp_path / "fig4.png"))
    assert missing.evotickets_placeholder and note(missing) == []


def test_a_figure_says_how_many_drawn_rounds_lost_a_whole_layer(tmp_path):
    """A round whose mask keeps no weight of a layer is drawn like any other (its network
    ignores the input): a figure drawing it says how many; one not drawing it says nothing."""
    ds = _dataset(["digits", "mnist"], ["snes", "gd_adam"], ("random", "magnitude", "snr"),
                  fill=0.5)  # fmt: skip
    ds["kept_fraction"] = (ds.test_metric.dims, np.ones(ds.test_metric.shape))
    ds["layers_emptied"] = (ds.test_metric.dims, np.zeros(ds.test_metric.shape))
    ds.layers_emptied.loc[{"task": "digits", "strategy": "snes", "method": "random",
                           "iteration": ROUNDS - 1}] = 1  # fmt: skip

    def note(fig):
        text = _footnote_text(fig)
        return text[text.index("finished round(s)") - 2 :] if "keep no weight" in text else ""

    fig2 = figures.render("fig2", ds, str(tmp_path / "fig2.png"))
    assert note(fig2).startswith(
        "2 finished round(s) of the lines drawn keep no weight of some layer: those networks "
        "give the same output for every input (claims.md lists them)"
    )
    fig3 = figures.render("fig3", ds, str(tmp_path / "fig3.png"))  # snr and magnitude only
    assert note(fig3) == ""
    _analyses(ds)
    fig6 = figures.render("fig6", ds, str(tmp_path / "fig6.png"))  # draws no metric
    assert fig6.axes[0].get_lines() and note(fig6) == ""


def test_a_transfer_figure_counts_its_transfers_and_its_targets_own_chains_only(tmp_path):
    """Fig. 5 draws the snes → gd_adam transfer beside gd_adam's own magnitude and random
    chains: a non-finite round of snes's random chain on the same task is not drawn there,
    so not counted; a transferred ticket whose mask emptied a layer is."""
    ds = _dataset(["mnist"], ["snes", "gd_adam"], ("random", "magnitude", "snr"), fill=0.5)
    ds["kept_fraction"] = (ds.test_metric.dims, np.ones(ds.test_metric.shape))
    ds.test_metric.loc[{"strategy": "snes", "method": "random", "seed": 0, "iteration": 1}] = np.nan
    dims, shape = ("transfer", "seed", "iteration"), (1, 2, ROUNDS)
    ds = ds.assign_coords(
        transfer=["snes_to_adam"],
        transfer_kind=("transfer", ["gd"]),
        transfer_own_method=("transfer", ["magnitude"]),
        transfer_target_task=("transfer", ["mnist"]),
        transfer_target_strategy=("transfer", ["gd_adam"]),
    )
    for var in ("transfer_metric", "transfer_target_snr", "transfer_target_random"):
        ds[var] = (dims, np.full(shape, 0.6))
    ds["transfer_kept_fraction"] = (dims, np.ones(shape))
    emptied = np.zeros(shape)
    emptied[0, 1, ROUNDS - 1] = 2
    ds["transfer_layers_emptied"] = (dims, emptied)
    fig5 = figures.render("fig5", ds, str(tmp_path / "fig5.png"))
    text = _footnote_text(fig5)
    assert "non-finite" not in text
    assert "1 finished round(s) of the lines drawn keep no weight of some layer" in text
    # the target's own chain is drawn: its non-finite round is counted
    ds.test_metric.loc[{"strategy": "gd_adam", "method": "random", "seed": 0, "iteration": 1}] = (
        np.nan
    )
    fig5 = figures.render("fig5", ds, str(tmp_path / "fig5b.png"))
    text = _footnote_text(fig5)
    assert "1 finished round(s) with a non-finite test metric left out" in text


def test_a_panels_lines_are_means_over_the_same_seeds_at_each_level(tmp_path):
    """Where one method lacks a seed at a level, every line of the panel leaves that seed
    out there, so the gap between two lines is paired over the same seeds; the figure says
    so. Two methods equal seed by seed stay equal when one of them loses a seed."""
    ds = _dataset(["digits"], ["snes"], ("random", "magnitude", "snr"), seeds=(0, 1, 2))
    per_seed = np.array([0.9, 0.7, 0.5])[:, None] * np.ones(ROUNDS)
    for m in ("random", "magnitude", "snr"):
        ds.test_metric.loc[{"method": m}] = per_seed[None, None]
    ds.test_metric.loc[{"method": "snr", "seed": 0, "iteration": ROUNDS - 1}] = np.nan
    fig = figures.fig2(ds)
    lines = {ln.get_label(): ln.get_ydata() for ln in fig.axes[0].lines}
    np.testing.assert_allclose(lines["snr"], lines["magnitude"])
    np.testing.assert_allclose(lines["magnitude"], [0.7, 0.7, 0.6])  # seeds 1 and 2 at the last
    assert any(SHARED_SEEDS_NOTE in n for n in _notes(fig))
    # the saved one-panel figure (3.2 inches wide) writes the note whole, wrapped to its width
    fig = figures.render("fig2", ds, str(tmp_path / "fig2.png"))
    fig.canvas.draw()
    (note,) = [t for t in fig.texts if "left out of" in t.get_text()]
    assert "every line (means over the same seeds)" in " ".join(note.get_text().split())
    assert note.get_window_extent(fig.canvas.get_renderer()).x1 <= fig.bbox.x1
    # all seeds present: nothing left out and no note
    ds.test_metric.loc[{"method": "snr"}] = per_seed[None, None]
    assert not figures.fig2(ds).__dict__.get("evotickets_notes")


def test_a_single_seed_draws_its_line_without_a_band():
    """With one seed there is no spread to show: the band was drawn zero-wide, which reads
    as a result without uncertainty. Two seeds draw one."""
    import matplotlib.pyplot as plt

    one = _dataset(["digits"], ["snes"], ["random"], seeds=(0,), fill=0.5)
    two = _dataset(["digits"], ["snes"], ["random"], seeds=(0, 1), fill=0.5)
    two.test_metric.loc[{"seed": 1}] = 0.7
    for ds, banded in ((one, False), (two, True)):
        fig, ax = plt.subplots()
        da = ds.test_metric.sel({"task": "digits", "strategy": "snes", "method": "random"})
        assert figures._band(ax, np.arange(ROUNDS), da, "random")
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), 0.5 if not banded else 0.6)
        vertices = [p.vertices for c in ax.collections for p in c.get_paths()]
        assert bool(vertices and np.isfinite(np.concatenate(vertices)).all()) == banded
        plt.close(fig)


def test_sparsity_axis_marks_the_sparsest_level():
    """8 rounds at p = 0.2 end at 21 % remaining: ticks 100, 50 and 21 (it had 100 and 50)."""
    import matplotlib.pyplot as plt

    from evotickets.plots.figures import _sparsity_axis

    ds = xr.Dataset(coords={"remaining_fraction": ("iteration", 0.8 ** np.arange(8))})
    fig, ax = plt.subplots()
    _sparsity_axis(ax, ds)
    assert list(ax.get_xticks()) == [100, 50, 21]
    plt.close(fig)


def test_fig1_sets_es_against_gd_over_the_tasks_gd_ran():
    """paper.yaml's ant_heavy runs ES only: averaged into the ES line, it set two task sets
    against each other. ES and GD equal where both ran: one line at 1, as GD's."""
    ds = _dataset(["mnist", "ant_heavy"], ["snes", "gd_adam"], ["random", "magnitude", "snr"])
    ds.test_metric.loc[{"task": "mnist"}] = 0.9
    ds.test_metric.loc[{"task": "ant_heavy", "strategy": "snes"}] = np.linspace(1.0, 0.5, ROUNDS)
    lines = _lines(figures.fig1(ds).axes[1])
    np.testing.assert_allclose(lines["ES, SNR"], 1.0)
    np.testing.assert_allclose(lines["GD, magnitude"], 1.0)


def test_figs_1_and_3_set_es_against_gd_only_on_tasks_with_both_sides():
    """paper.yaml's mnist_ars runs gd_adam beside ARS random/magnitude and no ES snr: the GD
    line of Fig. 1 averaged it in (MNIST twice) while the ES line left it out, and Fig. 3
    drew a panel of GD alone under its "ES with SNR against GD" caption."""
    methods = ["random", "magnitude", "snr"]
    ds = _dataset(["mnist", "mnist_ars"], ["snes", "ars", "gd_adam"], methods)
    ds.test_metric.loc[{"task": "mnist", "strategy": ["snes", "gd_adam"]}] = 0.9
    ars = {"task": "mnist_ars", "strategy": "ars", "method": ["random", "magnitude"]}
    ds.test_metric.loc[ars] = 0.8
    worse = np.linspace(0.9, 0.3, ROUNDS)[None, :]  # GD on mnist_ars falls: not ES's task
    ds.test_metric.loc[{"task": "mnist_ars", "strategy": "gd_adam"}] = worse
    lines = _lines(figures.fig1(ds).axes[1])
    np.testing.assert_allclose(lines["GD, magnitude"], 1.0)
    np.testing.assert_allclose(lines["ES, SNR"], 1.0)
    panels = [ax.get_title() for ax in figures.fig3(ds).axes]
    assert panels == ["mnist"]


def test_a_transfer_panel_draws_without_a_target_random_chain():
    """A config may give the transfer's target no random chain: its all-NaN baseline left
    no seed and round "finished", and the panel drew nothing, the ticket included."""
    ds = _dataset(["digits"], ["gd_adam"], ["magnitude"]).assign_coords(
        transfer=["snes_to_adam"],
        transfer_kind=("transfer", ["gd"]),
        transfer_target_task=("transfer", ["digits"]),
        transfer_own_method=("transfer", ["magnitude"]),
    )
    dims = ("transfer", "seed", "iteration")
    ds["transfer_metric"] = (dims, np.full((1, 2, ROUNDS), 0.8))
    ds["transfer_target_snr"] = (dims, np.full((1, 2, ROUNDS), 0.7))
    ds["transfer_target_random"] = (dims, np.full((1, 2, ROUNDS), np.nan))
    lines = _lines(figures.fig5(ds).axes[0])
    assert set(lines) == {"transferred ticket", "target's own magnitude"}
    np.testing.assert_allclose(lines["transferred ticket"], 0.8)
    np.testing.assert_allclose(lines["target's own magnitude"], 0.7)
    # still paired over the lines that ran: seed 1's own ticket is a round behind
    ds["transfer_metric"][0, 1] = 0.6
    ds["transfer_target_snr"][0, 1, -1] = np.nan
    moved = _lines(figures.fig5(ds).axes[0])["transferred ticket"]
    np.testing.assert_allclose(moved, [0.7] * (ROUNDS - 1) + [0.8])
    # a level no seed of the target's own chain has reached yet: the transferred ticket is
    # drawn there over its seeds, as every panel draws a level one line lacks
    ds["transfer_target_snr"][0, :, -1] = np.nan
    lines = _lines(figures.fig5(ds).axes[0])
    np.testing.assert_allclose(lines["transferred ticket"], [0.7] * ROUNDS)
    assert np.isnan(lines["target's own magnitude"][-1])
    # no transferred round finished: the target's lines alone, and the panel says so
    ds["transfer_metric"][:] = np.nan
    panel = figures.fig5(ds).axes[0]
    assert "transferred ticket" not in _lines(panel)
    assert any("no transferred round has finished" in t.get_text() for t in panel.texts)


def test_fig9_does_not_draw_a_rewinding_entry_as_an_init_scheme():
    ds = _dataset(["digits", "digits_rewind", "digits_he"], ["snes"], ["snr"], fill=0.8)
    ds = ds.assign_coords(
        library_task=("task", ["digits"] * 3),
        init_scheme=("task", ["flax_default", "flax_default", "he_normal"]),
        rewind=("task", [0, 25, 0]),
    )
    assert figures._init_groups(ds) == {"digits": ["digits", "digits_he"]}
    labels = [line.get_label() for ax in figures.fig9(ds).axes for line in ax.get_lines()]
    assert sorted(labels) == ["flax_default snr", "he_normal snr"]


def test_fig6_says_which_panel_has_no_data_and_names_the_pair_the_rule_ran():
    """One seed: the seed panel has nothing to draw and says so; the pair in its title is
    the config's first two seeds as listed (the rule's), not the sorted axis's."""
    ds = _dataset(["digits"], ["snes"], ["magnitude"], seeds=(0, 1, 2))
    dims = ("task", "strategy", "method", "seed", "iteration")
    ds["lmc_barrier_consecutive"] = (dims, np.full(ds.test_metric.shape, 0.1))
    ds["lmc_barrier_seeds"] = (dims[:3] + ("iteration",), np.full((1, 1, 1, ROUNDS), np.nan))
    ds.lmc_barrier_seeds.attrs["seed_pair"] = [2, 0]  # collect's record of the rule's pair
    axes = figures.fig6(ds).axes
    assert "seed 2 ↔ seed 0" in axes[1].get_title()
    assert [t.get_text() for t in axes[1].texts] == ["no data: needs 2 seeds"]
    assert not axes[0].texts and axes[0].get_lines()
    ds["lmc_barrier_consecutive"][:] = np.nan  # everything enabled, nothing to draw
    assert "not in this experiment" in figures.fig6(ds).axes[0].texts[0].get_text()


def test_fig6_draws_returns_and_error_rates_on_axes_of_their_own():
    ds = _dataset(["fmnist", "ant"], ["snes"], ["snr"])
    ds = ds.assign_coords(
        metric_name=("task", ["test_accuracy", "test_return"]),
        transfer=["to_adam", "to_ppo"],
        transfer_target_task=("transfer", ["fmnist", "ant"]),
    )
    barrier = np.stack([np.full((2, ROUNDS), 0.05), np.full((2, ROUNDS), 400.0)])
    ds["lmc_barrier_es_gd"] = (("transfer", "seed", "iteration"), barrier)
    axes = figures.fig6(ds).axes
    panels = {ax.get_ylabel(): _lines(ax) for ax in axes[3:]}
    assert set(panels) == {"error (1 − accuracy)", "−return"}
    np.testing.assert_allclose(panels["error (1 − accuracy)"]["to_adam"], 0.05)
    np.testing.assert_allclose(panels["−return"]["to_ppo"], 400.0)


def test_fig11_draws_the_analysed_method_and_names_the_strategies_it_averages():
    """Layerwise ran on magnitude chains only: drawn (it was 'missing' where snr existed),
    averaged over the strategies that have it, which the title names."""
    ds = _dataset(["digits"], ["snes", "sep_cma_es"], ["magnitude", "snr"])
    ds = ds.assign_coords(tensor=["Conv_0/kernel", "Conv_0/bias"])
    ratio = np.full((*ds.test_metric.shape, 2), np.nan)
    ratio[0, 0, 0] = 0.5  # snes, magnitude
    ds["layer_kept_ratio"] = (("task", "strategy", "method", "seed", "iteration", "tensor"), ratio)
    ax = figures.fig11(ds).axes[0]
    assert ax.get_title() == "digits (magnitude; snes)"
    np.testing.assert_allclose(_lines(ax)["Conv_0/kernel"], 0.5)


def test_figs_3_to_6_label_their_y_axes_with_the_metric_or_unit():
    """A panel of test accuracies and one of returns read alike without a y label; the
    transfer figures label the target's metric, Fig. 6 the barrier's unit on its task."""
    ds = _dataset(["mnist", "pendulum"], ["snes", "gd_adam"], ["snr", "magnitude", "random"])
    ds = ds.assign_coords(
        metric_name=("task", ["test_accuracy", "test_return"]),
        transfer=["to_pendulum"],
        transfer_kind=("transfer", ["task"]),
        transfer_target_task=("transfer", ["pendulum"]),
    )
    ds.test_metric[:] = 0.5
    ds["transfer_metric"] = (("transfer", "seed", "iteration"), np.full((1, 2, ROUNDS), -200.0))
    assert [ax.get_ylabel() for ax in figures.fig3(ds).axes] == ["test_accuracy", "test_return"]
    assert figures.fig4(ds).axes[0].get_ylabel() == "test_return"
    dims = ("task", "strategy", "method", "seed", "iteration")
    ds["lmc_barrier_consecutive"] = (dims, np.full(ds.test_metric.shape, np.nan))
    ds.lmc_barrier_consecutive.loc[{"task": "pendulum"}] = 30.0  # the analysed task: control
    ds["curvature_1d"] = (dims, np.full(ds.test_metric.shape, np.nan))
    labels = [ax.get_ylabel() for ax in figures.fig6(ds).axes[:3]]
    assert labels == ["−return", "−return", "mean curvature"]


def test_every_method_has_a_colour_of_its_own():
    """No two methods share a colour (snr_study fell back to C2, mask_permuted's green, and
    the dynamic methods repeated movement's and magnitude_increase's)."""
    from evotickets.names import METHODS

    assert set(figures.COLORS) == set(METHODS)
    rgb = [mcolors.to_hex(c) for c in figures.COLORS.values()]
    assert len(set(rgb)) == len(rgb), figures.COLORS


def test_fig2_draws_gradient_descent_chains_and_one_legend_of_every_line():
    """A GD chain's random and magnitude curves are drawn beside the ES strategies' (a
    GD-only run drew no pruning curve at all), and the legend names every method even when
    the first panel is empty."""
    ds = _dataset(["digits"], ["snes", "gd_adam"], ("random", "magnitude", "snr"))
    ds.test_metric.loc[{"strategy": "gd_adam", "method": ["random", "magnitude"]}] = 0.7
    ds.test_metric.loc[{"strategy": "snes", "method": "snr"}] = 0.8
    fig = figures.fig2(ds)
    snes, gd = fig.axes[:2]
    assert set(_lines(gd)) == {"random", "magnitude"} and set(_lines(snes)) == {"snr"}
    (legend,) = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert {t.get_text() for t in legend.get_texts()} == {"random", "magnitude", "snr"}
    gd_only = figures.fig2(ds.sel(strategy=["gd_adam"]))
    assert set(_lines(gd_only.axes[0])) == {"random", "magnitude"}


def test_fig2_draws_the_studys_snr_score_where_it_ran():
    """snr_study (Sep-CMA-ES only) beside snr: the SNR question's two scores in one panel;
    it was never drawn in any figure of the test metric."""
    methods = ("random", "magnitude", "snr", "snr_study")
    ds = _dataset(["digits"], ["snes", "sep_cma_es"], methods, fill=0.8)
    ds.test_metric.loc[{"strategy": "snes", "method": "snr_study"}] = np.nan  # not run there
    ds.test_metric.loc[{"strategy": "sep_cma_es", "method": "snr_study"}] = 0.6
    snes, sep = figures.fig2(ds).axes[:2]
    assert set(_lines(snes)) == {"random", "magnitude", "snr"}
    assert set(_lines(sep)) == set(methods)
    np.testing.assert_allclose(_lines(sep)["snr_study"], 0.6)


def test_fig8_draws_gradient_descents_controls_in_a_row_of_their_own():
    methods = ("random", "magnitude", "weight_permuted", "mask_permuted")
    ds = _dataset(["digits"], ["snes", "gd_adam"], methods)
    ds.test_metric.loc[{"strategy": "snes"}] = 0.9
    ds.test_metric.loc[{"strategy": "gd_adam"}] = 0.4
    es, gd = figures.fig8(ds).axes
    assert "snes" in es.get_title() and "gd_adam" in gd.get_title()
    assert set(_lines(es)) == set(_lines(gd)) == set(methods)  # drawn, each of them
    assert all(np.allclose(v, 0.9) for v in _lines(es).values())
    assert all(np.allclose(v, 0.4) for v in _lines(gd).values())
    only_gd = figures.fig8(ds.sel(strategy=["gd_adam"])).axes
    assert len(only_gd) == 1 and set(_lines(only_gd[0])) == set(methods)


def test_fig11_without_snr_prefers_magnitude_to_a_random_mask():
    ds = _dataset(["digits"], ["snes"], ["random", "magnitude"])
    kernels = ["Conv_0/kernel", "Dense_0/kernel"]
    ratio = np.full((*ds.test_metric.shape, 2), 0.5)
    ds = ds.assign_coords(tensor=kernels)
    ds["layer_kept_ratio"] = ((*ds.test_metric.dims, "tensor"), ratio)
    assert "(magnitude;" in figures.fig11(ds).axes[0].get_title()


def test_fig11_does_not_average_es_with_gradient_descent():
    """Magnitude chains of SNES and of Adam analysed: the line was their mean (0.9 and 0.3
    drawn as 0.6); the ES strategies' ratios are drawn, GD's only where no ES ran."""
    ds = _dataset(["digits"], ["snes", "gd_adam"], ["magnitude"])
    ds = ds.assign_coords(tensor=["Conv_0/kernel"])
    ratio = np.full((*ds.test_metric.shape, 1), np.nan)
    ratio[0, 0, 0] = 0.9  # snes
    ratio[0, 1, 0] = 0.3  # gd_adam
    ds["layer_kept_ratio"] = ((*ds.test_metric.dims, "tensor"), ratio)
    ax = figures.fig11(ds).axes[0]
    assert ax.get_title() == "digits (magnitude; snes)"
    np.testing.assert_allclose(_lines(ax)["Conv_0/kernel"], 0.9)
    gd_only = figures.fig11(ds.sel(strategy=["gd_adam"])).axes[0]
    np.testing.assert_allclose(_lines(gd_only)["Conv_0/kernel"], 0.3)


def test_fig3_of_gradient_descent_alone_names_what_it_lacks():
    """It said "needs the snr and magnitude methods" to a run that had magnitude: what a
    GD-only run lacks is an ES strategy, the only kind that runs snr."""
    ds = _dataset(["digits"], ["gd_adam"], ["random", "magnitude"])
    assert figures.fig3(ds).evotickets_placeholder == (
        "needs an ES strategy running snr beside the GD baseline"
    )


def test_fig3_gives_a_strategy_one_colour_in_every_panel():
    """A strategy without SNR runs on one task moved the others up the colour cycle there:
    sep_cma_es was orange in one panel and blue in the next."""
    ds = _dataset(["mnist", "kmnist"], ["snes", "sep_cma_es", "gd_adam"], ["magnitude", "snr"])
    ds.test_metric[:] = 0.8
    ds.test_metric.loc[{"task": "kmnist", "strategy": "snes"}] = np.nan
    fig = figures.fig3(ds)
    colours = [
        {ln.get_label(): mcolors.to_hex(ln.get_color()) for ln in ax.get_lines()} for ax in fig.axes
    ]
    assert "snes SNR" in colours[0] and "snes SNR" not in colours[1]
    assert colours[0]["sep_cma_es SNR"] == colours[1]["sep_cma_es SNR"]


def test_fig9_without_es_chains_says_that_is_what_it_needs():
    """GD-only heuristic chains (movement needs no σ): the figure said it needed the
    heuristic methods, which were there."""
    ds = _dataset(["digits"], ["gd_adam"], ["magnitude", "movement"], fill=0.8)
    text = figures.fig9(ds).axes[0].texts[0].get_text()
    assert "needs ES chains" in text and "movement" not in text


def test_fig9_gives_an_init_scheme_one_colour_in_every_panel():
    """The colour followed an entry's place in its panel: he_normal was orange on digits and
    blue on mnist, against the caption's "one colour per scheme"."""
    tasks = ["digits", "digits_he", "mnist_he", "mnist_x"]
    ds = _dataset(tasks, ["snes"], ["snr"], fill=0.8)
    ds = ds.assign_coords(
        library_task=("task", ["digits", "digits", "mnist", "mnist"]),
        init_scheme=("task", ["flax_default", "he_normal", "he_normal", "xavier_uniform"]),
        rewind=("task", [0, 0, 0, 0]),
    )
    colours = {}
    for ax in figures.fig9(ds).axes:
        for ln in ax.get_lines():
            colours.setdefault(ln.get_label(), set()).add(mcolors.to_hex(ln.get_color()))
    assert all(len(c) == 1 for c in colours.values()), colours
    assert len(set().union(*colours.values())) == 3  # three schemes, three colours


def test_figures_that_draw_some_tasks_name_the_ones_they_leave_out():
    """Fig. 3 draws tasks with both an ES snr and a GD magnitude run, Fig. 6 one analysed
    task, Fig. 11 one method: the tasks left out were dropped without a word."""
    methods = ["random", "magnitude", "snr"]
    ds = _dataset(["mnist", "mnist_ars"], ["snes", "ars", "gd_adam"], methods, fill=0.8)
    ds.test_metric.loc[{"task": "mnist_ars", "method": "snr"}] = np.nan
    assert figures.fig3(ds).evotickets_notes == [
        "Not drawn, without both an ES snr and a GD magnitude run: mnist_ars"
    ]
    dims = ("task", "strategy", "method", "seed", "iteration")
    ds["lmc_barrier_consecutive"] = (dims, np.full(ds.test_metric.shape, 0.1))
    fig = figures.fig6(ds)
    assert "mnist" in fig.axes[0].get_title()
    assert fig.evotickets_notes == [
        "Drawn for mnist only; mnist_ars also have LMC or landscape analyses (in summary.nc)"
    ]
    ds = ds.assign_coords(tensor=["Conv_0/kernel"])
    ratio = np.full((*ds.test_metric.shape, 1), np.nan)
    ratio[0, 0, 2] = 0.5  # mnist, snes, snr
    ratio[1, 1, 1] = 0.5  # mnist_ars, ars, magnitude
    ds["layer_kept_ratio"] = ((*dims, "tensor"), ratio)
    fig = figures.fig11(ds)
    assert [ax.get_title() for ax in fig.axes] == ["mnist (snr; snes)"]
    assert fig.evotickets_notes == ["Not drawn: mnist_ars, analysed with other methods than snr"]


def test_fig2_of_a_config_without_its_methods_draws_and_fig8_pairs_its_lines_by_seed(tmp_path):
    """A config of heuristics only (methods: [movement]) has none of fig. 2's lines: the
    shared-seed step failed on an empty panel. Fig. 8 compares magnitude with the permutation
    controls: a seed missing from one of them is left out of every line at that level."""
    figures.render(
        "fig2", _dataset(["digits"], ["snes"], ["movement"], fill=0.8), str(tmp_path / "a.png")
    )
    methods = ("random", "magnitude", "weight_permuted", "mask_permuted")
    ds = _dataset(["digits"], ["snes"], methods, seeds=(0, 1, 2))
    ds.test_metric[:] = np.array([0.9, 0.7, 0.5])[:, None]
    ds.test_metric.loc[{"method": "magnitude", "seed": 2, "iteration": ROUNDS - 1}] = np.nan
    fig = figures.fig8(ds)
    lines = _lines(fig.axes[0])
    for m in methods:
        np.testing.assert_allclose(lines[m][-1], 0.8, err_msg=m)  # seeds 0 and 1 only
    assert fig.evotickets_notes


def test_a_long_footnote_is_cut_at_half_the_figure_not_drawn_over_the_axes():
    """Forty tasks left out of fig. 3 make a note taller than the figure's lower half: the
    axes kept their place and the text ran over them."""
    tasks = [f"t{k:02d}_{'x' * 20}" for k in range(40)] + ["mnist"]
    ds = _dataset(tasks, ["snes", "gd_adam"], ["magnitude", "snr"], fill=0.8)
    ds.test_metric.loc[{"task": tasks[:-1], "method": "snr"}] = np.nan  # only mnist has both
    fig = figures.fig3(ds)
    assert fig.evotickets_notes and len(fig.axes) == 1
    figures._footnote(fig, fig.evotickets_notes)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (note,) = fig.texts
    assert note.get_text().endswith("(notes cut here; summary.nc has what is left out)")
    assert note.get_window_extent(renderer).y1 <= fig.axes[0].get_tightbbox(renderer).y0 + 1


def _footnote_text(fig) -> str:
    """Every text a saved figure holds (its footnote, wrapped), on one line."""
    return " ".join(" ".join(t.get_text().split()) for t in fig.texts)


def _notes(fig) -> list[str]:
    return fig.__dict__.get("evotickets_notes", [])


SHARED_SEEDS_NOTE = "left out of that level's every line (means over the same seeds)"


def test_fig9s_init_scheme_lines_are_means_over_the_same_seeds_and_say_so():
    """The init-scheme row drew each line over its own seeds, against its caption: seed 2
    missing from he_normal's snr at the last level left lecun_normal's lines over 3 seeds."""
    ds = _dataset(["digits", "digits_he"], ["snes"], ["random", "magnitude", "snr"],
                  seeds=(0, 1, 2))  # fmt: skip
    ds = ds.assign_coords(library_task=("task", ["digits", "digits"]),
                          init_scheme=("task", ["lecun_normal", "he_normal"]),
                          rewind=("task", [0, 0]))  # fmt: skip
    for k in range(3):
        ds.test_metric.loc[{"seed": k}] = float(k)
    ds.test_metric.loc[{"task": "digits_he"}] += 10
    last = ROUNDS - 1
    ds.test_metric.loc[{"task": "digits_he", "method": "snr", "seed": 2, "iteration": last}] = (
        np.nan
    )
    fig = figures.fig9(ds)
    lines = _lines(fig.axes[0])
    for m in ("random", "magnitude", "snr"):
        np.testing.assert_allclose(lines[f"lecun_normal {m}"], [1.0] * last + [0.5])
        np.testing.assert_allclose(lines[f"he_normal {m}"], [11.0] * last + [10.5])
    assert any(SHARED_SEEDS_NOTE in n for n in _notes(fig))


def test_a_transfer_panel_says_where_it_left_a_seed_out():
    """Figs 4 and 5 pair a panel's lines over the seeds all of them finished (as the test
    above draws), and now say so, as the other figures do."""
    ds = _dataset(["mnist"], ["snes"], ["random", "snr"], seeds=(0, 1, 2)).assign_coords(
        transfer=["to_mnist"], transfer_kind=("transfer", ["task"]),
        transfer_target_task=("transfer", ["mnist"]), transfer_own_method=("transfer", ["snr"]),
    )  # fmt: skip
    dims = ("transfer", "seed", "iteration")
    by_seed = np.broadcast_to(np.arange(3.0)[:, None], (3, ROUNDS))[None].copy()
    ds["transfer_metric"] = (dims, by_seed.copy())
    ds["transfer_target_snr"] = (dims, by_seed + 10)
    ds["transfer_target_random"] = (dims, by_seed + 20)
    assert not any(SHARED_SEEDS_NOTE in n for n in _notes(figures.fig4(ds)))
    ds["transfer_target_random"][0, 2] = np.nan  # seed 2's random chain not finished
    fig = figures.fig4(ds)
    lines = _lines(fig.axes[0])
    np.testing.assert_allclose(lines["transferred ticket"], 0.5)  # seeds 0 and 1
    np.testing.assert_allclose(lines["target's own random"], 20.5)
    assert any(SHARED_SEEDS_NOTE in n for n in _notes(fig))


def test_fig6_says_when_a_round_was_too_sharp_for_a_curvature():
    """A round whose loss left the finite range along some direction has a NaN curvature:
    its seed leaves that point's mean, the sharpest one, and the figure now says so."""
    ds = _dataset(["digits"], ["snes"], ["magnitude"], seeds=(0, 1, 2))
    dims = ("task", "strategy", "method", "seed", "iteration")
    curvature = np.full(ds.test_metric.shape, 2.0)
    counts = np.zeros(ds.test_metric.shape)
    ds["curvature_1d"] = (dims, curvature)
    ds["curvature_1d_nonfinite_directions"] = (dims, counts)
    assert not any("too sharp" in n for n in _notes(figures.fig6(ds)))
    ds.curvature_1d[0, 0, 0, 2, 1] = np.nan
    ds.curvature_1d_nonfinite_directions[0, 0, 0, 2, 1] = 3
    notes = _notes(figures.fig6(ds))
    assert any(n.startswith("1 analysed round(s) too sharp for a 1D curvature") for n in notes)
    # a chain whose every round was too sharp draws no curvature line: still noted
    ds.curvature_1d[:] = np.nan
    ds.curvature_1d_nonfinite_directions[:] = 2
    ds["lmc_barrier_consecutive"] = (dims, np.full(ds.test_metric.shape, 0.1))
    notes = _notes(figures.fig6(ds))
    assert any(n.startswith(f"{3 * ROUNDS} analysed round(s) too sharp") for n in notes)


def test_a_panels_line_colours_do_not_repeat():
    """Figs 3, 6 and 9 colour their k-th line C{k}, which repeats from the 11th line."""
    from matplotlib.colors import to_rgba

    colours = [to_rgba(figures._nth_colour(k)) for k in range(40)]
    assert len(set(colours)) == 40
    assert figures._nth_colour(3) == "C3"  # the first ten as before
