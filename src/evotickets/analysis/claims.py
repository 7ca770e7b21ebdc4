"""The paper's claims as paired effects with confidence intervals, from ``summary.nc`` alone.

Why paired: all methods of one (task, strategy, seed) share θ0, search noise and minibatches
(common random numbers), so the seed-to-seed spread of a *difference* between two methods is
much smaller than the spread of either. Every effect here is therefore a per-seed difference
first, then a mean over seeds with a 95 % Student-t interval of that mean (n − 1 degrees of
freedom, ``scipy.stats.ttest_1samp``), n being the seeds where both sides are finite.

Each effect is oriented so that **positive means the claim holds**. The verdict is
``holds`` when the whole interval is above 0, ``reversed`` when it is below 0, and
``inconclusive`` otherwise (including n < 2). Each level of sparsity is its own test.
Differences without spread (equal for every seed) have no t statistic; they get the sign
test's p instead, and the verdict follows that p (see :func:`paired_effect`).

Why a second verdict, at a false discovery rate: a comparison is tested at every pruned level
(11 in the fidelity run), so at 5 % per level about one level in twenty "holds" by chance
where nothing is there. The levels of one (claim, setting, comparison) are therefore also read
as one family: Benjamini–Hochberg q-values over their two-sided t-test p-values
(``scipy.stats.false_discovery_control``), and ``verdict_fdr`` holds or is reversed where
q < 5 %, so that of the levels it counts, at most 5 % are false discoveries in expectation.
Why FDR and not a family-wise bound (Holm): the counts ask at how many levels a claim holds,
which is a set of discoveries, and with 3–4 seeds a family-wise bound over 11 levels would
leave almost nothing. BH assumes the levels' tests are independent or positively dependent;
here they share seeds and chains, which should make them positively dependent (expected, not
checked). A claim tested once (a slope over all rounds) is a family of one: q = p.

Why a sign-flip p beside the t-test's: the t interval assumes the mean of the seeds'
differences is near normal, and with 3–8 seeds of solve-or-fail outcomes (a control round
either solves the task or fails it) it is optimistic. The exact paired sign-flip permutation
test (``scipy.stats.permutation_test``; Fisher's randomisation test) assumes only that, with no
effect, each seed's difference is as likely to have either sign, which holds because the two
methods of a seed are exchangeable then. It is exact but coarse: its p is at least 2^(1−k), k
the seeds whose difference is not 0 (0.125 with 4, 0.0078 with 8), so below 6 such seeds it
never reaches 5 %, and the summary counts the levels where the verdict (the t test's, or the
sign test's where the differences do not spread) holds *and* this p is below 5 %.

Why a comparison of two methods is also read over all its levels at once
(:func:`mean_over_levels`): one pre-set number per seed for the whole pruning curve is one
test, with nothing to correct for, and it credits a method that stays trainable longer even
where no single level's few seeds are enough; it weighs every level alike.

A claim that the experiment's grid cannot test (a method, strategy or analysis it lacks) is
absent from the result, never an error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr
from scipy import stats

from ..config import ConfigError, chain_spec, task_strategies, transfer_entry
from ..host import machines_line
from ..names import ACCURACY_METRIC, is_gd
from ..report import metric_cell, metric_decimals
from .collect import has_data

CONFIDENCE = 0.95
#: The false discovery rate at which ``verdict_fdr`` is read, the intervals' own error rate:
#: 0.05 exactly, since 1 − 0.95 is 0.05000000000000004 in floating point, and a q of exactly
#: 0.05 (the sign test's p of 2⁻⁵ at 5 of 8 levels) would then pass "q < 0.05".
FDR = round(1 - CONFIDENCE, 12)

# id → what the paper claims, with the orientation of the effect (positive = holds).
CLAIMS = {
    1: "ticket effect: magnitude − random > 0",
    2: "SNR pruning improves on magnitude: snr − magnitude > 0 (beside it, with no direction "
    "claimed: the study's SNR definition against magnitude and against ours, snr_study − "
    "…; ✓ there means snr_study scores higher)",
    3: "ES tickets stay trainable where GD's degrade: (ES snr − its dense) − (GD magnitude − "
    "its dense) > 0",
    4: "a transferred ticket beats the target's random baseline: transfer − random > 0",
    5: "decomposition: magnitude − weight_permuted > 0 and weight_permuted − mask_permuted > 0",
    6: "LMC: ES consecutive-round barrier − GD's > 0; ES↔GD barrier − tolerance > 0 (the "
    "same ticket trained by ES and by GD is not linearly connected; tolerance: 2 % of the "
    "error's scale, LMC_TOLERANCE)",
    7: "sharpness: slope of the 1D curvature over rounds, GD − ES > 0",
    8: "SNR–magnitude rank correlation falls with sparsity: −slope of ρ over rounds > 0",
    # beyond the paper (its code had the baselines; the paper reports no such comparison)
    9: "pruning at initialisation: snip/grasp − random > 0, and iterative magnitude pruning "
    "beats it: magnitude − snip/grasp > 0",
    10: "late rewinding (Frankle et al. 2019) improves tickets: rewind k > 0 − rewind 0 > 0 "
    "(two entries of one task; same θ0 and search noise; with rewind_budget full, rounds ≥ 1 "
    "of both search G generations, so the rewinding entry's ticket has had k generations "
    "more; with remaining, its rounds search G − k, and both total G)",
    11: "dynamic sparse ES (drop lowest SNR, regrow) beats the fixed random mask it starts "
    "from: dynamic − random > 0; against iterative SNR pruning, with no direction claimed: "
    "dynamic − snr (✓ there means dynamic scores higher); and regrowing where the search "
    "gradient is largest beats regrowing at random (RigL against SET): dynamic_gradient − "
    "dynamic_random > 0 (a test of gradient regrowth only where the probe ranks above chance: "
    "dynamic_sparse.probe_pairs, bench 12)",
}


#: What each claim needs in a grid, said in claims.md for a claim that has no row: a grid
#: that lacks it (or runs not yet finished) tests it nowhere, which a reader should see.
NEEDS = {
    1: "random and magnitude chains",
    2: "snr or snr_study chains of an ES beside its magnitude chains (or beside each other)",
    3: "ES snr and GD magnitude chains of one task entry",
    4: "a transfer with the target's random chain",
    5: "weight_permuted and mask_permuted chains beside magnitude",
    6: "the lmc analysis on ES and GD magnitude chains of one task entry, or an ES → GD "
    "transfer with lmc",
    7: "the landscape analysis on ES and GD magnitude chains of one task entry, over at "
    "least 3 finished rounds (a slope per seed)",
    8: "the snr_magnitude analysis on an ES snr or snr_study chain, over at least 3 finished "
    "rounds (a slope per seed)",
    9: "snip or grasp chains beside random or magnitude",
    10: "a task entry with rewind > 0 beside its rewind-0 twin",
    11: "dynamic_random or dynamic_gradient chains beside random, snr or each other",
}

#: Claim 6's ES↔GD barrier is tested against this share of the error's scale, not against 0.
#: Why: a barrier is ≥ 0 by construction (the path's two ends lie on its chord, and the
#: barrier is the largest excess over the chord), so any noise along the path (a finite test
#: set, a few episodes) makes it positive, and a t-test against 0 "holds" for networks that
#: are linearly connected: for a straight path with noise of sd 0.002 at each point, in 37 %
#: of 3-seed and 59 % of 4-seed runs at 11 points (the fidelity config's), 50 % and 81 % at
#: 21 (2,000 simulated runs each). The scale is 1 for an error rate (classification: 1 −
#: accuracy), so the tolerance is 2 percentage points of test error, the tolerance within
#: which Frankle et al. (2020, "Linear mode connectivity and the lottery ticket hypothesis")
#: call two networks linearly connected; for a return (control: error = −return) it is the
#: mean |return| of the path's two ends, per seed and round. ``reversed`` then reads: the
#: two networks are linearly connected within the tolerance.
LMC_TOLERANCE = 0.02
#: Differences whose spread over seeds is within this share of their size (at least 1) are
#: "without spread": float32 metrics make equal differences differ in their last bits.
SPREAD_FLOOR = 1e-6
#: Test metrics that are fractions (their error 1 − metric is on the scale 1).
FRACTION_METRICS = frozenset({ACCURACY_METRIC})


#: Seeds up to which the sign-flip test enumerates all 2^n flips; above, it draws this many
#: flips from a fixed generator (the same p on every run).
SIGN_FLIP_EXACT_SEEDS = 16
SIGN_FLIP_DRAWS = 100_000


@dataclass(frozen=True)
class Effect:
    """One paired effect: its mean over seeds, the 95 % t interval, n, the verdict and the
    two-sided p-value of the same t-test (where the differences spread, the interval excludes
    0 exactly when p < 5 %). Differences without spread have no t statistic: the interval is
    the point, p the sign test's, and the verdict follows p, not the interval (below 6 seeds
    a point interval above 0 is "inconclusive": read ``verdict``, not ``lo > 0``;
    :func:`paired_effect`). ``p_signflip`` is the exact
    paired sign-flip test's two-sided p (:func:`sign_flip_p`), which assumes no distribution."""

    mean: float
    lo: float
    hi: float
    n: int
    verdict: str
    p: float
    p_signflip: float


def sign_flip_p(diffs: np.ndarray) -> float:
    """Two-sided p of the paired sign-flip permutation test of the mean of ``diffs`` (finite,
    n ≥ 1): the share of the 2^n sign assignments whose mean is at least as far from 0.

    Why: with no effect, the two methods of a seed are exchangeable, so each seed's difference
    is as likely negated; this needs no normality, which solve-or-fail outcomes lack. Its
    smallest p is 2^(1−k), k the differences that are not 0 (a 0 flips to itself). All flips
    up to ``SIGN_FLIP_EXACT_SEEDS`` seeds, else ``SIGN_FLIP_DRAWS`` drawn from a fixed
    generator (deterministic)."""
    d = np.asarray(diffs, dtype=float)
    exact = d.size <= SIGN_FLIP_EXACT_SEEDS
    result = stats.permutation_test(
        (d,),
        np.mean,
        permutation_type="samples",
        vectorized=True,
        n_resamples=np.inf if exact else SIGN_FLIP_DRAWS,
        alternative="two-sided",
        rng=None if exact else np.random.default_rng(0),
    )
    return float(result.pvalue)  # scipy clips the two-sided p at 1


def paired_effect(diffs, confidence: float = CONFIDENCE) -> Effect:
    """Mean of per-seed differences (oriented: positive = the claim holds) with a t interval.

    NaNs (a seed where one side is missing) are dropped; n counts what remains.
    """
    d = np.asarray(diffs, dtype=float)
    d = d[np.isfinite(d)]
    n = int(d.size)
    nan = float("nan")
    if n == 0:
        return Effect(nan, nan, nan, 0, "no data", nan, nan)
    mean = float(d.mean())
    if n < 2:
        return Effect(mean, nan, nan, n, "inconclusive", nan, nan)
    tol = SPREAD_FLOOR * max(1.0, float(np.max(np.abs(d))))
    # differences within float32's rounding of 0 are ties for the sign flips too
    p_signflip = sign_flip_p(np.where(np.abs(d) <= tol, 0.0, d))
    if np.ptp(d) <= tol:
        # No spread (accuracies on a small test set are multiples of 1/n_test, so n seeds can
        # differ by the same amount, up to float32's last bits): the t statistic is undefined
        # or rounding noise, and its limit p = 0 would call three equal differences certain.
        # The sign test needs no spread: n differences of one sign have two-sided
        # p = 2^(1-n) (0.25 at n = 3, < 0.05 from n = 6). Differences within the tolerance
        # of 0 are ties, not signs: rounding noise around 0 is no effect. (Within a spread
        # of tol, the differences beyond tol all have one sign.)
        lo = hi = mean
        k = int((np.abs(d) > tol).sum())
        p = 1.0 if abs(mean) <= tol else float(stats.binomtest(k, k, 0.5).pvalue)
        if p >= 1 - confidence:
            return Effect(mean, lo, hi, n, "inconclusive", p, p_signflip)
    else:
        test = stats.ttest_1samp(d, 0.0)
        ci = test.confidence_interval(confidence)
        lo, hi, p = float(ci.low), float(ci.high), float(test.pvalue)
    verdict = "holds" if lo > 0 else "reversed" if hi < 0 else "inconclusive"
    return Effect(mean, lo, hi, n, verdict, p, p_signflip)


def _family(r: dict) -> tuple:
    """The levels read together: one comparison of one claim in one setting."""
    return (r["claim"], r["task"], r["strategy"], r["comparison"])


def with_fdr(rows: list[dict], rate: float = FDR) -> list[dict]:
    """``rows`` with ``q`` (Benjamini–Hochberg over the levels of each :func:`_family`) and
    ``verdict_fdr`` (holds / reversed where q < ``rate``, by the sign of the mean; else
    inconclusive; "no data" stays). Rows without a p-value (n < 2) get q = NaN."""
    q = np.full(len(rows), np.nan)
    families: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        families.setdefault(_family(r), []).append(i)
    for members in families.values():
        tested = [i for i in members if np.isfinite(rows[i]["p"])]
        if tested:
            ps = np.array([rows[i]["p"] for i in tested])
            q[tested] = stats.false_discovery_control(ps, method="bh")
    return [
        {**r, "q": float(qi), "verdict_fdr": _fdr_verdict(r, qi, rate)}
        for r, qi in zip(rows, q, strict=True)
    ]


def _fdr_verdict(row: dict, q: float, rate: float) -> str:
    """holds / reversed by the sign of the mean where q < ``rate`` (never for a NaN q)."""
    if row["verdict"] == "no data":
        return "no data"
    if q < rate and row["mean"] > 0:
        return "holds"
    if q < rate and row["mean"] < 0:
        return "reversed"
    return "inconclusive"


def slope_per_seed(values: xr.DataArray, dim: str = "iteration") -> xr.DataArray:
    """Least-squares slope of ``values`` against the round index, per remaining cell (seed).

    Rounds are equally spaced in log(remaining fraction), so the slope is the change per
    pruning round. Cells with fewer than 3 finite rounds get NaN."""

    def fit(y):
        x = np.arange(y.size, dtype=float)
        ok = np.isfinite(y)
        if ok.sum() < 3:
            return np.nan
        return float(np.polyfit(x[ok], y[ok], 1)[0])

    return xr.apply_ufunc(fit, values, input_core_dims=[[dim]], vectorize=True)


def has_every_round(values: xr.DataArray, dim: str = "iteration") -> xr.DataArray:
    """Per seed: whether it has every round that some seed of ``values`` has. A seed still
    running would otherwise give its slope over its first rounds only, and a row labelled
    "all rounds" would average slopes over different ranges (as :func:`mean_over_levels`
    gives such a seed NaN, so does this: the row's n shows it)."""
    some = values.notnull().any([d for d in values.dims if d != dim])
    return (values.notnull() | ~some).all(dim)


def has_latest_round(values: xr.DataArray, dim: str = "iteration") -> xr.DataArray:
    """Per seed: whether it has the latest round that some seed of ``values`` has. Rounds
    run in order, so a seed without it is still running (or stopped); unlike
    :func:`has_every_round` a gap inside the run (one round's value NaN, as a landscape with
    a non-finite direction gives) leaves the seed in, fitted over the rounds it has."""
    some = values.notnull().any([d for d in values.dims if d != dim])
    if not bool(some.any()):
        return values.notnull().any(dim)  # no data at all: every seed False
    return values.isel({dim: int(np.flatnonzero(some.values)[-1])}).notnull()


def _curvature_analysed(ds: xr.Dataset, task, strategies) -> xr.DataArray:
    """(strategy, seed, iteration): whether the magnitude chain's round was analysed: its 1D
    curvature is finite, or it is NaN with non-finite directions counted (too sharp to
    measure: ``curvature_1d_nonfinite_directions``, NaN where the round was not analysed)."""
    at = {"task": task, "method": "magnitude", "strategy": strategies}
    analysed = ds.curvature_1d.sel(at).notnull()
    if "curvature_1d_nonfinite_directions" in ds:
        analysed = analysed | ds.curvature_1d_nonfinite_directions.sel(at).notnull()
    return analysed


def _rows_over_rounds(claim, task, strategy, comparison, diff, ds, first=1, last=-1):
    """One row per round ≥ ``first`` of a (seed, iteration) difference, each with the
    comparison's sparsest level (``sparsest_remaining``: the round at index ``last``, the
    last one the comparison can have), which the summary names when that level has no row."""
    rows = []
    sparsest = float(ds.remaining_fraction.sel(iteration=diff.iteration.values[last]))
    for it in diff.iteration.values[first:]:
        eff = paired_effect(diff.sel(iteration=it).values)
        if eff.n == 0:
            continue
        rows.append(
            {
                "claim": claim,
                "task": str(task),
                "strategy": str(strategy),
                "comparison": comparison,
                "iteration": int(it),
                "remaining": float(ds.remaining_fraction.sel(iteration=it)),
                "sparsest_remaining": sparsest,
                **asdict(eff),
            }
        )
    return rows


def finished_rounds(ds: xr.Dataset, chains: list[dict]) -> xr.DataArray:
    """(seed, iteration): whether every chain of ``chains`` (selections of task, strategy,
    method) finished that round: its kept fraction is recorded, or (a summary without it)
    its metric is finite. Not whether an analysis of the round has a finite value: a
    curvature too sharp to measure is NaN in a finished round."""
    done = ds.test_metric.notnull()
    if "kept_fraction" in ds:
        done = done | ds.kept_fraction.notnull()
    every = None
    for chain in chains:
        one = done.sel(chain).transpose("seed", "iteration")
        every = one if every is None else every & one
    return every


def _one_row(claim, task, strategy, comparison, diffs, finished=None, ds=None):
    """A row over the whole curve. A slope's row gives its chains' ``finished`` rounds
    (:func:`finished_rounds`) and ``ds``: the row records the level of the latest round some
    seed finished and the experiment's sparsest, so that a slope over the rounds run so far
    is not labelled "all rounds" while every seed is still running."""
    eff = paired_effect(diffs)
    if eff.n == 0:
        return []
    levels = {}
    if finished is not None and bool(finished.any()):
        some = finished.any("seed").values
        latest = finished.iteration.values[np.flatnonzero(some)[-1]]
        levels = {
            "fitted_remaining": float(ds.remaining_fraction.sel(iteration=latest)),
            "sparsest_remaining": float(ds.remaining_fraction.isel(iteration=-1)),
        }
    return [
        {
            "claim": claim,
            "task": str(task),
            "strategy": str(strategy),
            "comparison": comparison,
            "iteration": -1,
            "remaining": float("nan"),
            **levels,
            **asdict(eff),
        }
    ]


#: The label that marks a comparison read over all its pruned levels at once.
OVER_LEVELS = "mean over levels"


def mean_over_levels(diff: xr.DataArray) -> xr.DataArray:
    """Per seed, the mean of a (seed, iteration) difference over the pruned rounds (≥ 1),
    NaN for a seed that lacks one of them (a mean over fewer rounds would weigh other levels).

    Why: one pre-set number per seed for the whole pruning curve, so a comparison is one test
    instead of one per level. The levels are equally spaced in log(remaining), so it is the
    area between the two curves on the log axis over its width."""
    pruned = diff.isel(iteration=slice(1, None))
    return pruned.mean("iteration").where(pruned.notnull().all("iteration"))


def _over_levels_row(claim, task, strategy, comparison, diff):
    """The comparison read over all pruned levels at once (:func:`mean_over_levels`): a
    family of its own (q = p); none where one pruned level would only repeat that level."""
    if diff.sizes["iteration"] < 3:
        return []
    label = f"{comparison}, {OVER_LEVELS}"
    return _one_row(claim, task, strategy, label, mean_over_levels(diff).values)


def _pruned_level_rows(claim, task, strategy, comparison, diff, ds):
    """A comparison of the pruned levels: one row per level (:func:`_rows_over_rounds`) and
    one over all of them (:func:`_over_levels_row`), as every such claim is read."""
    return _rows_over_rounds(claim, task, strategy, comparison, diff, ds) + _over_levels_row(
        claim, task, strategy, comparison, diff
    )


def _method_diff(ds, task, strategy, a, b):
    m = ds.test_metric.sel(task=task, strategy=strategy)
    return m.sel({"method": a}) - m.sel({"method": b})


#: The claims that compare two methods of one (task, strategy), in the order of the table:
#: (claim, a, b, ES only), the effect being a − b. Round 0 is dense and identical across
#: methods, so it is skipped.
METHOD_COMPARISONS = (
    (1, "magnitude", "random", False),  # the ticket effect
    (2, "snr", "magnitude", True),  # SNR needs a search distribution
    (2, "snr_study", "magnitude", True),  # the study's SNR definition beside ours
    (2, "snr_study", "snr", True),
    (9, "snip", "random", False),  # pruning at initialisation, against random and IMP
    (9, "magnitude", "snip", False),
    (9, "grasp", "random", False),
    (9, "magnitude", "grasp", False),
    (11, "dynamic_random", "random", False),  # dynamic sparse ES, against its start and IMP
    (11, "dynamic_random", "snr", False),
    (11, "dynamic_gradient", "random", False),
    (11, "dynamic_gradient", "snr", False),
    (11, "dynamic_gradient", "dynamic_random", False),  # gradient against random regrowth
    (5, "magnitude", "weight_permuted", False),  # the ticket's mask and weights
    (5, "weight_permuted", "mask_permuted", False),
)


def claim_rows(ds: xr.Dataset) -> list[dict]:
    """Every testable claim of ``ds`` (a ``summary.nc`` dataset) as rows of paired effects,
    each with its q-value over its comparison's levels (:func:`with_fdr`)."""
    rows: list[dict] = []
    methods = set(map(str, ds.method.values)) if "method" in ds.coords else set()
    strategies = [str(s) for s in ds.strategy.values] if "strategy" in ds.coords else []
    es = [s for s in strategies if not is_gd(s)]
    gd = [s for s in strategies if is_gd(s)]
    tasks = [str(t) for t in ds.task.values] if "task" in ds.coords else []

    def pair(a, b):
        return a in methods and b in methods

    for t in tasks:
        for s in strategies:
            for claim, a, b, es_only in METHOD_COMPARISONS:
                if pair(a, b) and not (es_only and is_gd(s)):
                    diff = _method_diff(ds, t, s, a, b)
                    rows += _pruned_level_rows(claim, t, s, f"{a} − {b}", diff, ds)

        # 3: ES SNR against GD magnitude, each relative to its own dense round
        if "snr" in methods and "magnitude" in methods:
            for s in es:
                for g in gd:
                    m = ds.test_metric.sel(task=t)
                    e = m.sel({"strategy": s, "method": "snr"})
                    d = m.sel({"strategy": g, "method": "magnitude"})
                    diff = (e - e.isel(iteration=0)) - (d - d.isel(iteration=0))
                    label = f"Δ{s} snr − Δ{g} magnitude"
                    rows += _pruned_level_rows(3, t, s, label, diff, ds)

        # 6: consecutive-round LMC barriers, ES against GD (magnitude chains)
        if has_data(ds, "lmc_barrier_consecutive", method="magnitude"):
            b = ds.lmc_barrier_consecutive.sel({"task": t, "method": "magnitude"})
            for s in es:
                for g in gd:
                    diff = b.sel(strategy=s) - b.sel(strategy=g)
                    # the barrier from t to t+1 is filed at t: none at the last round
                    rows += _rows_over_rounds(
                        6, t, s, f"barrier {s} − {g} (t → t+1)", diff, ds, first=0, last=-2
                    )
        # 7: how fast the 1D curvature grows over rounds, GD against ES
        if has_data(ds, "curvature_1d", method="magnitude"):
            curvature = ds.curvature_1d.sel({"task": t, "method": "magnitude"})
            for s in es:
                for g in gd:
                    # each seed's two slopes over the same rounds: those both chains have
                    # (one still running would otherwise fit a shorter, other range)
                    both = curvature.sel(strategy=[g, s])
                    paired = both.where(both.notnull().all("strategy"))
                    # a seed still running (without the latest round some seed has analysed
                    # in both chains) would fit its slopes over fewer, earlier rounds: left
                    # out, the row's n shows it. A round too sharp to measure (curvature NaN,
                    # its non-finite directions counted) is analysed: its seed stays, fitted
                    # over the rounds it has, not dropped as if still running (it dropped
                    # the sharpest seeds, the claim's own evidence)
                    analysed = _curvature_analysed(ds, t, [g, s]).all("strategy")
                    keep = has_latest_round(analysed.where(analysed))
                    slope = slope_per_seed(paired.where(keep))
                    diff = slope.sel(strategy=g) - slope.sel(strategy=s)
                    label = f"curvature slope {g} − {s}"
                    both_ran = [{"task": t, "strategy": x, "method": "magnitude"} for x in (g, s)]
                    finished = finished_rounds(ds, both_ran)
                    rows += _one_row(7, t, s, label, diff.values, finished, ds)
        # 8: the SNR–magnitude rank correlation over rounds
        if "rho_snr_magnitude" in ds:
            for s in es:
                for m in ("snr", "snr_study"):
                    if m not in methods:
                        continue
                    rho = ds.rho_snr_magnitude.sel({"task": t, "strategy": s, "method": m})
                    slope = slope_per_seed(rho.where(has_every_round(rho)))
                    label = f"−slope of ρ({m}, magnitude)"
                    finished = finished_rounds(ds, [{"task": t, "strategy": s, "method": m}])
                    rows += _one_row(8, t, s, label, -slope.values, finished, ds)

    rows += _rewind_rows(ds, strategies, methods)
    # 4: transfers against the target's random baseline
    if "transfer_metric" in ds and "transfer_target_random" in ds:
        for name in ds.transfer.values:
            diff = ds.transfer_metric.sel(transfer=name) - ds.transfer_target_random.sel(
                transfer=name
            )
            rows += _pruned_level_rows(4, "", str(name), "transfer − target random", diff, ds)
    # 6: ES↔GD barrier on the same ticket, beyond the tolerance (LMC_TOLERANCE: why not 0)
    if "lmc_barrier_es_gd" in ds:
        for name in ds.transfer.values:
            b = ds.lmc_barrier_es_gd.sel(transfer=name)
            if not np.isfinite(b.values).any():
                continue
            excess = b - lmc_tolerance(ds, str(name))
            label = f"ES↔GD barrier − {LMC_TOLERANCE:.0%} tolerance"
            rows += _rows_over_rounds(6, "", str(name), label, excess, ds, first=0)
    return with_fdr(rows)


def lmc_tolerance(ds: xr.Dataset, transfer: str) -> float | xr.DataArray:
    """The tolerance claim 6 tests transfer ``transfer``'s ES↔GD barrier against
    (:data:`LMC_TOLERANCE` of the error's scale): a number for a fraction metric, else per
    (seed, iteration) from the errors at the path's two ends (``lmc_errors_es_gd``)."""
    task = _transfer_task(ds, transfer)
    metric = str(ds.metric_name.sel(task=task).values)
    if metric in FRACTION_METRICS:
        return LMC_TOLERANCE
    if "lmc_errors_es_gd" not in ds:
        raise ValueError(
            f"summary.nc has ES↔GD barriers of transfer {transfer!r} ({metric}) but not the "
            "errors along their paths (lmc_errors_es_gd), which scale a return's tolerance; "
            "rerun rule collect"
        )
    ends = ds.lmc_errors_es_gd.sel(transfer=transfer).isel(alpha=[0, -1])
    # the mean of the two |errors|, not |their mean|: ends of opposite sign (a return of −50
    # and one of +50) would otherwise have a tolerance of 0
    return LMC_TOLERANCE * abs(ends).mean("alpha")


def _transfer_task(ds: xr.Dataset, transfer: str) -> str:
    """The task of transfer ``transfer`` (an ES → GD transfer keeps its task), from the
    config that ``summary.nc`` records."""
    try:
        entry = transfer_entry(_recorded_config(ds), transfer)
    except ConfigError as err:
        raise ValueError(f"summary.nc's recorded config: {err}; rerun rule collect") from err
    return str(entry["target"]["task"])


def _recorded_config(ds: xr.Dataset) -> dict:
    """The config ``summary.nc`` was collected with (its ``config`` attribute)."""
    try:
        return json.loads(ds.attrs["config"])
    except (KeyError, json.JSONDecodeError) as err:
        raise ValueError(
            f"summary.nc records no readable config ({err!r}), which claims 4, 6 and 10 read; "
            "rerun rule collect"
        ) from err


def _rewind_pairs(ds: xr.Dataset, cfg: dict, strategy: str) -> list[tuple[str, str]]:
    """(entry rewinding k > 0, its k = 0 partner) among the entries that run ``strategy``:
    the pairs whose chains share θ0 and search noise and differ only in the rewind point
    (:meth:`~evotickets.settings.ChainSettings.rewinds_against`), by the recorded config."""
    entries = [str(t) for t in ds.task.values if strategy in task_strategies(cfg, str(t))]
    specs = {t: chain_spec(cfg, t, strategy, "random", 0) for t in entries}
    return [
        (late, base)
        for late, a in specs.items()
        for base, b in specs.items()
        if a.rewinds_against(b)
    ]


def _rewind_rows(ds: xr.Dataset, strategies: list[str], methods: set[str]) -> list[dict]:
    """Claim 10: per strategy and method, the rewinding entry's metric minus the k = 0 one's."""
    if "rewind" not in ds.coords or not (ds.rewind > 0).any():
        return []
    cfg = _recorded_config(ds)
    rows: list[dict] = []
    for s in strategies:
        for late, base in _rewind_pairs(ds, cfg, s):
            k = int(ds.rewind.sel(task=late))
            # a summary.nc of before rewind_budget has no coordinate: full, as it ran
            budget = str(ds.rewind_budget.sel(task=late).values) if "rewind_budget" in ds else ""
            point = f"rewind {k}, G − {k} generations" if budget == "remaining" else f"rewind {k}"
            for m in ("magnitude", "snr", "random"):
                if m not in methods:
                    continue
                cell = ds.test_metric.sel({"strategy": s, "method": m})
                diff = cell.sel(task=late) - cell.sel(task=base)
                label = f"{m}: {point} − rewind 0 ({late} − {base})"
                rows += _pruned_level_rows(10, late, s, label, diff, ds)
    return rows


def dense_threshold(ds: xr.Dataset, fraction: float = 0.95) -> list[dict]:
    """Per task × strategy × method: the remaining fraction of the first round whose test
    metric falls below ``fraction`` of the dense (round 0) metric, per seed.

    "Below 95 %" for a return (which may be negative) is below dense − 5 % of |dense|.
    A seed that never falls is censored: it counts in ``never`` and not in the spread, but
    only if its last round is there; one whose later rounds are missing (a chain still
    running, or stopped) and that has not fallen so far counts in ``unfinished`` instead,
    since it may yet fall. A round that finished (its ``kept_fraction`` is recorded) with a
    non-finite metric (an episode whose physics blew up) is a fall, not a missing round: it
    neither leaves the seed in ``never`` nor makes it ``unfinished``. A seed without its
    dense round has no bar and is not counted.
    ``dense_mean`` / ``dense_sd``: the dense metric itself over the counted seeds, where
    the bar stands (claim 3 compares each chain's fall from it: a GD baseline whose dense
    round is far below ES's falls from another height)."""
    out = []
    m = ds.test_metric
    rem = ds.remaining_fraction.values
    # finished rounds: those with a kept fraction (a summary without it: a finite metric)
    done = np.isfinite(m) | (np.isfinite(ds.kept_fraction) if "kept_fraction" in ds else False)
    for t in m.task.values:
        for s in m.strategy.values:
            for meth in m.method.values:
                at = {"task": t, "strategy": s, "method": meth}
                cell = m.sel(at).transpose("seed", "iteration").values
                finished = done.sel(at).transpose("seed", "iteration").values
                firsts, never, unfinished, dense = [], 0, 0, []
                for row, fin in zip(cell, finished, strict=True):
                    if not np.isfinite(row[0]) or not np.isfinite(row).any():
                        continue
                    dense.append(float(row[0]))
                    bar = row[0] - (1 - fraction) * abs(row[0])
                    # below the bar, or finished with no finite metric at all
                    below = np.flatnonzero(fin & ~(np.isfinite(row) & (row >= bar)))
                    below = below[below > 0]
                    if below.size:
                        firsts.append(float(rem[below[0]]))
                    elif fin[-1]:
                        never += 1
                    else:
                        unfinished += 1
                if not firsts and not never and not unfinished:
                    continue
                out.append(
                    {
                        "task": str(t),
                        "strategy": str(s),
                        "method": str(meth),
                        "median": float(np.median(firsts)) if firsts else float("nan"),
                        "min": float(np.min(firsts)) if firsts else float("nan"),
                        "max": float(np.max(firsts)) if firsts else float("nan"),
                        "fell": len(firsts),
                        "never": never,
                        "unfinished": unfinished,
                        "last_remaining": float(rem[-1]),
                        "dense": dense,
                        "dense_mean": float(np.mean(dense)),
                        "dense_sd": float(np.std(dense, ddof=1)) if len(dense) > 1 else np.nan,
                    }
                )
    return out


SIGMA_CONTEXT = ("sigma_cv", "rho_sigma_abs_theta", "rho_snr_magnitude", "overlap_kept")
#: Beside them where collect made it: how much of the SNR chain's own ticket the magnitude
#: chain of its seed shares (its masks, not one round's ranking).
TICKETS_SHARED = "kept_shared_with_magnitude"


def sigma_context(ds: xr.Dataset) -> list[dict]:
    """Why SNR can or cannot differ from magnitude, per ES SNR chain and round (mean and sd
    over seeds): the spread of σ over the active weights (``sigma_cv``), how σ follows |θ|
    (``rho_sigma_abs_theta``), and how far the SNR ranking is from the magnitude ranking
    (``rho_snr_magnitude``; ``overlap_kept``: the share of SNR's kept weights that magnitude
    keeps too), and beside them the share of the chain's ticket that the magnitude chain's
    ticket of its seed keeps (``kept_shared_with_magnitude``, NaN where collect has none).
    Empty without the ``snr_magnitude`` analysis."""
    if not all(v in ds for v in SIGMA_CONTEXT):
        return []
    out = []
    # a summary without tickets shared gets a NaN column (mean NaN, n 0), not a branch
    shared = ds[TICKETS_SHARED] if TICKETS_SHARED in ds else xr.full_like(ds.sigma_cv, np.nan)
    variables = {**{v: ds[v] for v in SIGMA_CONTEXT}, TICKETS_SHARED: shared}
    for t in ds.task.values:
        for s in ds.strategy.values:
            for m in ds.method.values:
                at = {"task": t, "strategy": s, "method": m}
                cell = {v: da.sel(at) for v, da in variables.items()}
                if not np.isfinite(cell["sigma_cv"].values).any():
                    continue
                for it in ds.iteration.values:
                    row = {"task": str(t), "strategy": str(s), "method": str(m)}
                    row["iteration"] = int(it)
                    row["remaining"] = float(ds.remaining_fraction.sel(iteration=it))
                    for v, da in cell.items():
                        x = da.sel(iteration=it).values
                        x = x[np.isfinite(x)]
                        row[v] = float(x.mean()) if x.size else float("nan")
                        row[f"{v}_sd"] = float(x.std(ddof=1)) if x.size > 1 else float("nan")
                        row[f"{v}_n"] = int(x.size)  # ρ is undefined where σ is constant
                    row["n"] = row["sigma_cv_n"]
                    if row["n"]:
                        out.append(row)
    return out


def to_dataset(rows: list[dict], thresholds: list[dict]) -> xr.Dataset:
    """The claims as a netCDF-ready dataset: one ``row`` per effect, one ``cell`` per
    (task, strategy, method) of the 95 %-of-dense threshold."""
    ds = xr.Dataset()
    cols = ("claim", "task", "strategy", "comparison", "iteration", "remaining")
    cols += ("mean", "lo", "hi", "n", "verdict", "p", "q", "verdict_fdr", "p_signflip")
    for c in cols:
        ds[c] = ("row", np.asarray([r[c] for r in rows]) if rows else np.asarray([], float))
    for c in ("fitted_remaining", "sparsest_remaining"):  # not every row has them: NaN
        ds[c] = ("row", np.asarray([float(r.get(c, np.nan)) for r in rows], float))
    ds["fitted_remaining"].attrs.update(
        long_name="for a slope over the rounds (iteration -1): the level of the latest round "
        "some seed finished, the sparsest it was fitted over (claims.md: 'rounds to …')",
        units="1",
    )
    ds["sparsest_remaining"].attrs.update(
        long_name="the sparsest level the row's comparison can have (the experiment's last "
        "round for a slope)",
        units="1",
    )
    ds["mean"].attrs["long_name"] = "mean of the paired per-seed effect (positive = holds)"
    for c, end in (("lo", "lower"), ("hi", "upper")):
        ds[c].attrs["long_name"] = (
            f"{end} bound of the {CONFIDENCE:.0%} Student t interval of the mean paired "
            "per-seed effect"
        )
    ds["iteration"].attrs["long_name"] = (
        "pruning round of the level; -1 for a row over the whole curve (a mean over levels, "
        "or a slope over the rounds: claims 7 and 8), whose remaining is NaN"
    )
    ds["remaining"].attrs.update(
        long_name="fraction of prunable weights remaining at the level", units="1"
    )
    ds["n"].attrs["long_name"] = "seeds with both sides of the comparison (paired)"
    ds["verdict"].attrs["long_name"] = "holds, reversed or inconclusive (the verdict attr)"
    ds["verdict_fdr"].attrs["long_name"] = (
        "the verdict at the false discovery rate (verdict_fdr attr)"
    )
    if rows:
        ds["p"].attrs["long_name"] = (
            "two-sided p-value of the one-sample t-test over seeds (the sign test's where "
            "every seed differs by the same amount)"
        )
        ds["p_signflip"].attrs["long_name"] = (
            "two-sided p-value of the exact paired sign-flip permutation test over seeds "
            "(no normality assumed; at least 2^(1-k), k the seeds whose difference is not 0)"
        )
        ds["q"].attrs["long_name"] = (
            "Benjamini-Hochberg q-value over the levels of the row's (claim, task, strategy, "
            "comparison)"
        )
    tcols = ("task", "strategy", "method", "median", "min", "max", "fell", "never")
    tcols += ("unfinished", "dense_mean", "dense_sd")
    for c in tcols:
        values = [r[c] for r in thresholds]
        ds[f"below95_{c}"] = ("cell", np.asarray(values) if values else np.asarray([], float))
    ds.attrs.update(
        {
            "confidence": CONFIDENCE,
            "interval": "Student t over seeds of the paired per-seed differences",
            "verdict": "holds: interval > 0; reversed: interval < 0; else inconclusive "
            "(without spread: by the sign test's p < 0.05)",
            "verdict_fdr": f"holds / reversed: q < {FDR:g} and mean > 0 / < 0; else inconclusive",
            "fdr": FDR,
            "claims": "; ".join(f"{k}: {v}" for k, v in CLAIMS.items()),
        }
    )
    return ds


def _fmt(x: float) -> str:
    """Three decimals; an effect that three decimals would show as ±0.000 gets two
    significant digits, so that an interval such as [+4.2e-04, +9.0e-04] does not read as if
    it touched 0."""
    if not np.isfinite(x):
        return "–"
    return f"{x:+.1e}" if 0 < abs(x) < 0.0005 else f"{x:+.3f}"


#: p- and q-values below this print as "<0.001" (three decimals say no more)
P_FLOOR = 0.001


def _below_floor(x: float) -> bool:
    return bool(np.isfinite(x) and x < P_FLOOR)


def _fmt_p(x: float) -> str:
    """A p- or q-value: three decimals, '<0.001' below them, '–' where there is none; four
    where three would round it up to 0.050 (a 0.0497 beside a ✓ printed as 0.050), and
    '<0.050' where four would too."""
    if not np.isfinite(x):
        return "–"
    if _below_floor(x):
        return f"<{P_FLOOR:g}"
    alpha = FDR
    for text in (f"{x:.3f}", f"{x:.4f}"):
        if not x < alpha <= float(text):
            return text
    return f"<{alpha:.3f}"  # 0.04996: four decimals round it up too


def _q_text(q: float) -> str:
    """'q=0.017', or 'q<0.001' (not 'q=<0.001'): the relation follows the value."""
    return f"q{_fmt_p(q)}" if _below_floor(q) else f"q={_fmt_p(q)}"


SYMBOL = {"holds": "✓", "reversed": "✗", "inconclusive": "·", "no data": " "}


def _cell(text) -> str:
    """A markdown table cell: a literal ``|`` (as in ρ(snr, |θ|)) would end the cell."""
    return str(text).replace("|", "\\|")


def _where(r: dict) -> str:
    if np.isfinite(r["remaining"]):
        return f"{r['remaining']:.1%}"
    if r["comparison"].endswith(OVER_LEVELS):
        return "pruned levels"
    fitted, sparsest = r.get("fitted_remaining", np.nan), r.get("sparsest_remaining", np.nan)
    if fitted > sparsest:  # no seed has reached the experiment's last round yet
        return f"rounds to {fitted:.1%} (none has reached {sparsest:.1%} yet)"
    return "all rounds"


def _setting(r: dict) -> str:
    return "/".join(x for x in (r["task"], r["strategy"]) if x)


def _verdict_counts(rows: list[dict], key: str) -> dict[str, int]:
    """How many levels have each verdict under ``key`` ('verdict' or 'verdict_fdr')."""
    count = {v: sum(r[key] == v for r in rows) for v in ("holds", "reversed")}
    count["inconclusive"] = len(rows) - count["holds"] - count["reversed"]
    return count


def _summary_lines(rows: list[dict]) -> list[str]:
    """One line per (claim, setting, comparison): verdict counts per level, the counts that
    stand at a 5 % false discovery rate over the levels and those the sign-flip test
    confirms, and the sparsest level."""
    lines = [
        "## Summary",
        "",
        (
            "| claim | setting | comparison | ✓ | ✗ | · | ✓ / ✗ at FDR 5 % | "
            "✓ / ✗ also by sign flips | sparsest level |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(_family(r), []).append(r)
    for (c, _, _, comp), rs in sorted(groups.items(), key=lambda kv: kv[0][0]):
        count, fdr = _verdict_counts(rs, "verdict"), _verdict_counts(rs, "verdict_fdr")
        # the t verdicts that stand without assuming normality: sign-flip p below the
        # intervals' error rate too
        flips = _verdict_counts([r for r in rs if r["p_signflip"] < FDR], "verdict")
        last = rs[-1]
        lines.append(
            f"| {c} | {_setting(last)} | {_cell(comp)} | {count['holds']} | "
            f"{count['reversed']} | {count['inconclusive']} | {fdr['holds']} / "
            f"{fdr['reversed']} | {flips['holds']} / {flips['reversed']} | "
            f"{_where(last)}: {_fmt(last['mean'])} [{_fmt(last['lo'])}, "
            f"{_fmt(last['hi'])}] n={last['n']} {SYMBOL[last['verdict']]} {_q_text(last['q'])}"
            f"{_sparsest_missing(last)} |"
        )
    return lines


def _sparsest_missing(last: dict) -> str:
    """A note when the summary's last level is not the comparison's sparsest: that level,
    named in advance as the one read without a correction, has no paired seed yet (its
    chains unfinished or failed), and the level shown in its place was picked by the data."""
    sparsest = last.get("sparsest_remaining", float("nan"))
    if not np.isfinite(last["remaining"]) or not last["remaining"] > sparsest:
        return ""
    return f" (the sparsest level, {sparsest:.1%}, has no paired seed yet)"


def _untested_lines(rows: list[dict]) -> list[str]:
    """The claims without a row, each with what it needs (:data:`NEEDS`)."""
    missing = [c for c in CLAIMS if c not in {r["claim"] for r in rows}]
    if not missing:
        return []
    lines = ["Not tested here (the grid lacks what they need, or those runs have not finished):"]
    lines += [f"- claim {c}: needs {NEEDS[c]}" for c in missing]
    return [*lines, ""]


#: The heading of claims.md's table of every level: the brief print stops before it.
EVERY_LEVEL_HEADING = "## Every level"


def _level_lines(rows: list[dict]) -> list[str]:
    lines = [EVERY_LEVEL_HEADING, ""]
    for c in sorted({r["claim"] for r in rows}):
        lines += [f"### Claim {c}: {CLAIMS[c]}", ""]
        head = (
            "setting | comparison | remaining | mean | 95 % CI | n | verdict | p | q | "
            "at FDR 5 % | sign-flip p"
        )
        lines += [f"| {head} |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [
            f"| {_setting(r)} | {_cell(r['comparison'])} | {_where(r)} | {_fmt(r['mean'])} | "
            f"[{_fmt(r['lo'])}, {_fmt(r['hi'])}] | {r['n']} | {r['verdict']} | "
            f"{_fmt_p(r['p'])} | {_fmt_p(r['q'])} | {r['verdict_fdr']} | "
            f"{_fmt_p(r['p_signflip'])} |"
            for r in rows
            if r["claim"] == c
        ]
        lines.append("")
    return lines


def _threshold_lines(thresholds: list[dict]) -> list[str]:
    lines = [
        "## Where each method falls below 95 % of its dense metric",
        "",
        (
            "Remaining fraction of the first round below 95 % of round 0, over the seeds "
            "that fell (median, min–max; with an even count of them the median lies midway "
            "between two levels; where fewer than half of the seeds fell, the typical seed "
            "did not fall by the last level, or has not yet, and the median cell says how few "
            "fell); `never` "
            "counts seeds that stayed above it to the "
            "last round, `unfinished` those that have not fallen in the rounds they have "
            "so far (their later rounds are missing); `dense` is round 0's metric, mean ± sd "
            "(seeds counted), as the accuracy table prints it."
        ),
        "",
        (
            "| task | strategy | method | dense | median | min–max | fell | "
            "never (to remaining) | unfinished |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in thresholds:
        spread = f"{r['min']:.1%}–{r['max']:.1%}" if r["fell"] else "–"
        med = f"{r['median']:.1%}" if r["fell"] else "–"
        counted = r["fell"] + r["never"] + r["unfinished"]
        if r["fell"] and 2 * r["fell"] < counted:  # the median of a minority of the seeds
            med += f" (only {r['fell']} of {counted} fell)"
        dense = metric_cell(r["dense"], metric_decimals(r["dense"])).strip()
        lines.append(
            f"| {r['task']} | {r['strategy']} | {r['method']} | {dense} | {med} | {spread} | "
            f"{r['fell']} | {r['never']} (to {r['last_remaining']:.1%}) | {r['unfinished']} |"
        )
    return [*lines, ""]


def _sigma_lines(sigma: list[dict]) -> list[str]:
    lines = [
        "## Why SNR does or does not differ from magnitude",
        "",
        (
            "Per ES SNR chain and round, mean ± sd over seeds: the spread of σ over the "
            "active weights (std/mean), Spearman ρ of σ with |θ|, ρ of the SNR ranking with "
            "the magnitude ranking, and the share of SNR's kept weights that magnitude keeps "
            "too (overlap: one round's two rankings of the same θ and σ). SNR = |θ|/σ can "
            "only reorder weights where σ varies. Last, the share of the chain's ticket that "
            "the magnitude chain of its seed keeps at that round (tickets shared: the two "
            "chains' own masks, which drift apart as each round's few different weights "
            "change where the next search ends; two unrelated masks share about the remaining "
            "fraction)."
        ),
        "",
        (
            "| setting | method | remaining | σ std/mean | ρ(σ, \\|θ\\|) | ρ(SNR, \\|θ\\|) | "
            "overlap | tickets shared | n |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def pm(r, v):
        if not np.isfinite(r[v]):
            return "–"
        sd = r[f"{v}_sd"]
        text = f"{r[v]:.3f} ± {sd:.3f}" if np.isfinite(sd) else f"{r[v]:.3f}"
        # a mean over fewer seeds than the row's n says so
        return text if r[f"{v}_n"] == r["n"] else f"{text} (n={r[f'{v}_n']})"

    for r in sigma:
        lines.append(
            f"| {r['task']}/{r['strategy']} | {r['method']} | {r['remaining']:.1%} | "
            f"{pm(r, 'sigma_cv')} | {pm(r, 'rho_sigma_abs_theta')} | "
            f"{pm(r, 'rho_snr_magnitude')} | {pm(r, 'overlap_kept')} | "
            f"{pm(r, TICKETS_SHARED)} | {r['n']} |"
        )
    return [*lines, ""]


def _round_list(heading: str, why: str, rounds: list[dict], column: str, key: str) -> list[str]:
    """A claims.md section listing chain rounds (``collect``'s rows): task, strategy, method,
    seed, level and the row's ``key`` under ``column``."""
    lines = [f"## {heading}", "", why, "",
             f"| task | strategy | method | seed | remaining | {column} |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {r['task']} | {r['strategy']} | {r['method']} | {r['seed']} | "
        f"{r['remaining']:.1%} | {r[key]} |"
        for r in rounds
    ]
    return [*lines, ""]


def _nonfinite_lines(rounds: list[dict]) -> list[str]:
    why = (
        f"{len(rounds)} finished round(s) have a NaN or infinite test metric. Every "
        "comparison leaves such a seed out at that level (its n is lower there) and out "
        "of the comparison's mean-over-levels row; one at the dense round leaves the seed "
        "out of every level of the comparisons of a change from round 0 (claim 3). That "
        "drops the failures of the side they belong to: read those rows with this list. "
        "The table of where each method falls below 95 % of its dense metric counts such "
        "a round as a fall."
    )
    return _round_list("Rounds with a non-finite test metric", why, rounds, "metric", "metric")


def _nonfinite_curvature_lines(rounds: list[dict]) -> list[str]:
    why = (
        f"{len(rounds)} analysed round(s) have no mean 1D curvature: along some random "
        "directions the loss left the finite range within |ξ| ≤ 1 (the landscape "
        "artifact's loss_1d has each direction's losses). Claim 7 fits each seed's slope "
        "over the rounds both chains have, so such a round leaves both fits (the seed "
        "stays, fitted over its other rounds): these are the sharpest landscapes, so "
        "read claim 7's rows with this list."
    )
    heading = "Rounds too sharp for a 1D curvature"
    return _round_list(heading, why, rounds, "non-finite directions", "directions")


def _emptied_layer_lines(rounds: list[dict]) -> list[str]:
    why = (
        f"{len(rounds)} finished round(s) keep no weight of some layer (column: how many "
        "layers). In these feed-forward networks every layer lies on the one path from "
        "input to output, so such a network gives the same output for every input (its "
        "biases alone): at that level a comparison with it partly measures the lost layer, "
        "not the ticket. A global rule does this (a global random mask at deep sparsity; "
        "the smallest |θ0|); mask_permuted keeps each layer's count of the magnitude "
        "ticket, so it empties no layer that ticket keeps."
    )
    return _round_list("Rounds whose mask empties a layer", why, rounds, "layers", "layers")


def to_markdown(
    rows: list[dict],
    thresholds: list[dict],
    title: str = "",
    sigma: list[dict] | None = None,
    machines: dict[str, int] | None = None,
    nonfinite: list[dict] | None = None,
    nonfinite_curvature: list[dict] | None = None,
    emptied: list[dict] | None = None,
) -> str:
    """claims.md: per claim and setting a one-line summary over levels, then every level,
    where each method falls below 95 % of its dense metric, and why SNR does or does not
    differ from magnitude; last, with ``machines`` (summary.nc's ``trained_on``: rounds per
    machine), what trained the rounds, since another machine may give other last bits and
    with them other masks. ``nonfinite`` (``collect.nonfinite_metric_rounds``) lists, after the
    summary, the finished rounds every comparison leaves out for a non-finite metric, and
    ``nonfinite_curvature`` (``collect.nonfinite_curvature_rounds``) the analysed rounds
    claim 7 leaves out for a curvature too sharp to measure, and ``emptied``
    (``collect.emptied_layer_rounds``) the rounds whose mask emptied a whole layer."""
    lines = [f"# Claims{': ' + title if title else ''}", ""]
    lines += [
        (
            "Effects are per-seed paired differences, oriented so that **positive = the "
            f"claim holds**; mean [{int(CONFIDENCE * 100)} % t interval], n seeds. ✓ holds "
            "(interval > 0), ✗ reversed (interval < 0), · inconclusive (where every seed "
            "differs by the same amount, the interval is that point and the verdict the sign "
            "test's, p = 2^(1−n) for n seeds of one sign: inconclusive below 6 seeds). Levels are the nominal "
            "remaining fractions (1 − p)^t of the prunable weights (the accuracy table prints "
            "each round's kept fraction, whole weights, which differs by up to half a weight: "
            "40.9 % for 41.0 % on the digits CNN); each level is its own test. Read together, "
            "the levels of one comparison are a family: q is its Benjamini–Hochberg q-value "
            f"over them, and '✓ / ✗ at FDR {FDR * 100:g} %' counts the levels where q < {FDR:g} "
            "(expected share of false discoveries among them ≤ 5 %). The t interval assumes "
            "a near-normal mean; the exact paired sign-flip test does not (with no effect, "
            "each seed's difference is as likely negated), but its p is at least 2^(1−k), k "
            "the seeds that differ: 0.125 with 4, < 0.05 from 6. '✓ / ✗ also by sign flips' "
            "counts the levels whose verdict (the t test's, or the sign test's where there "
            "is no spread) holds (or is reversed) and whose sign-flip p is below 0.05. No "
            "correction is made across comparisons, claims or settings: each family is one "
            "comparison in one setting."
        ),
        "",
    ]
    if not rows:
        lines += [
            (
                "No claim has data: either this experiment's grid cannot test any (it lacks "
                "the methods, strategies or analyses they compare), or its runs have not "
                "finished (summary.nc's metrics are NaN; rerun rule collect when they have)."
            ),
            "",
        ]
    lines += [*_summary_lines(rows), ""]
    if nonfinite:  # before "Every level": the brief print (`make fidelity`) shows it
        lines += _nonfinite_lines(nonfinite)
    if nonfinite_curvature:
        lines += _nonfinite_curvature_lines(nonfinite_curvature)
    if emptied:
        lines += _emptied_layer_lines(emptied)
    lines += [*_untested_lines(rows), *_level_lines(rows)]
    if thresholds:
        lines += _threshold_lines(thresholds)
    if sigma:
        lines += _sigma_lines(sigma)
    if machines is not None:
        lines += ["", "## Machines", "", "```", machines_line(machines), "```", ""]
    return "\n".join(lines)


def to_html(markdown: str) -> str:
    """A standalone HTML page of claims.md for the Snakemake report, rendered by
    Python-Markdown with its ``tables`` extension."""
    import markdown as md

    body = md.markdown(markdown, extensions=["tables"])
    style = (
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
    )
    return (
        f"<html><head><meta charset='utf-8'><style>{style}</style></head><body>\n"
        f"{body}\n</body></html>"
    )
