"""The claims statistics on synthetic summaries with a known answer."""

import json

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from evotickets import cli
from evotickets.analysis import claims

SEEDS, ROUNDS = 6, 5


def synthetic_summary(methods=("random", "magnitude", "snr", "snr_study"), strategies=("snes",)):
    """Seed effects (sd 0.1) shared by every method of a seed, as common random numbers make
    them; magnitude = random + 0.05 (a true effect), snr = magnitude (null), snr_study =
    magnitude − 0.05 (reversed), each with a small independent noise (sd 0.005)."""
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 0.1, (SEEDS, ROUNDS))
    seed_effect[:, 0] = seed_effect[:, 0]  # round 0: all methods equal (dense)
    offset = {"random": -0.05, "magnitude": 0.0, "snr": 0.0, "snr_study": -0.05}
    shape = (1, len(strategies), len(methods), SEEDS, ROUNDS)
    metric = np.empty(shape)
    for j, _ in enumerate(strategies):
        for i, m in enumerate(methods):
            noise = rng.normal(0, 0.005, (SEEDS, ROUNDS))
            values = 0.8 + seed_effect + offset[m] + noise
            values[:, 0] = 0.9 + seed_effect[:, 0]
            metric[0, j, i] = values
    return xr.Dataset(
        {"test_metric": (("task", "strategy", "method", "seed", "iteration"), metric)},
        coords={
            "task": ["digits"],
            "strategy": list(strategies),
            "method": list(methods),
            "seed": np.arange(SEEDS),
            "iteration": np.arange(ROUNDS),
            "remaining_fraction": ("iteration", 0.8 ** np.arange(ROUNDS)),
        },
        attrs={"experiment": "synthetic"},
    )


def by(rows, comparison):
    return [r for r in rows if r["comparison"] == comparison]


def test_paired_effect_interval_is_students_t():
    d = np.array([0.1, 0.3, 0.2, 0.4])
    eff = claims.paired_effect(d)
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert eff.mean == pytest.approx(0.25)
    assert (eff.lo, eff.hi) == pytest.approx((0.25 - half, 0.25 + half))
    assert eff.n == 4 and eff.verdict == "holds"
    assert claims.paired_effect([0.1, np.nan]).verdict == "inconclusive"  # n = 1
    assert claims.paired_effect([np.nan]).n == 0
    assert claims.paired_effect(-d).verdict == "reversed"
    assert claims.paired_effect([-0.1, 0.1, 0.05, -0.02]).verdict == "inconclusive"


def test_p_value_is_the_intervals_own_test():
    # the interval excludes 0 exactly when the two-sided t-test's p < 5 %
    rng = np.random.default_rng(0)
    for _ in range(200):
        d = rng.normal(rng.normal(0, 0.05), 0.05, size=int(rng.integers(2, 7)))
        eff = claims.paired_effect(d)
        assert eff.p == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)
        assert (eff.p < 0.05) == (eff.verdict != "inconclusive"), (d, eff)
    # no spread, nonzero: the sign test's p = 2^(1-n), not the t statistic's limit 0
    three = claims.paired_effect([0.2, 0.2, 0.2])
    assert three.p == pytest.approx(0.25) and three.verdict == "inconclusive"
    assert (three.lo, three.hi) == (pytest.approx(0.2), pytest.approx(0.2))
    six = claims.paired_effect([-0.1] * 6)
    assert six.p == pytest.approx(2 / 64) and six.verdict == "reversed"
    # equal differences of float32 accuracies (k/360) are equal up to their last bits
    a = np.array([300, 310, 320], np.float32) / np.float32(360)
    b = np.array([290, 300, 310], np.float32) / np.float32(360)
    d = a.astype(np.float64) - b.astype(np.float64)
    assert not np.all(d == d[0])
    noisy = claims.paired_effect(d)
    assert noisy.p == pytest.approx(0.25) and noisy.verdict == "inconclusive"
    assert claims.paired_effect([0.0, 0.0]).p == 1.0
    assert np.isnan(claims.paired_effect([0.1, np.nan]).p)  # n = 1: no test


def test_differences_within_rounding_of_zero_are_ties_not_signs():
    """Without spread, differences that are 0 up to rounding carry no sign: six seeds of
    which five tie and one is 1e-8 above are no effect (the shortcut read them as six
    differences of one sign, p = 2^(1-6)); mixed signs count as what they are."""
    ties = claims.paired_effect([0, 0, 0, 0, 0, 1e-8])
    assert ties.p == 1.0 and ties.verdict == "inconclusive"
    for noise in ([1e-8, -1e-8, 2e-8, 1e-8, 1e-8, 1e-8], [-1e-8, 1e-8, -2e-8, -1e-8, -1e-8, -1e-8]):
        assert claims.paired_effect(noise).verdict == "inconclusive", noise
    # equal differences away from 0 keep the sign test (as test_p_value_is_the_intervals_own_test)
    assert claims.paired_effect([0.1] * 6).verdict == "holds"


def _bh(ps):
    """Benjamini–Hochberg q-values written out: q_(i) = min over j ≥ i of p_(j)·m/j."""
    ps = np.asarray(ps, float)
    m, order = ps.size, np.argsort(ps)
    ranked = ps[order] * m / np.arange(1, m + 1)
    q = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    out = np.empty(m)
    out[order] = q
    return out


def _row(comparison, p, mean, verdict="inconclusive", claim=1, p_signflip=0.125):
    return {"claim": claim, "task": "digits", "strategy": "snes", "comparison": comparison,
            "iteration": 1, "remaining": 0.8, "mean": mean, "lo": np.nan, "hi": np.nan, "n": 4,
            "verdict": verdict, "p": p, "p_signflip": p_signflip}  # fmt: skip


def test_fdr_reads_each_comparisons_levels_as_one_family():
    # eleven levels of one comparison: one p just under 5 % among nulls (chance, at this many
    # levels) and two strong effects; a second comparison with the same p-values but its own
    # family; a reversed level; a level without a test (n = 1)
    ps = [0.001, 0.002, 0.04, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    signs = [1, -1] + [1] * 9
    per_level = [("holds" if s > 0 else "reversed") if p < 0.05 else "inconclusive"
                 for p, s in zip(ps, signs)]  # fmt: skip
    rows = [_row("a − b", p, 0.1 * s, v) for p, s, v in zip(ps, signs, per_level)]
    assert per_level[2] == "holds"  # p = 0.04 holds as a level of its own
    rows += [_row("c − d", p, 0.1) for p in ps[:3]]
    rows += [_row("a − b", np.nan, 0.1, claim=2)]
    out = claims.with_fdr(rows)
    assert [r["p"] for r in out] == [r["p"] for r in rows]  # order and rows kept
    np.testing.assert_allclose([r["q"] for r in out[:11]], _bh(ps))
    np.testing.assert_allclose([r["q"] for r in out[11:14]], _bh(ps[:3]))
    assert [r["verdict_fdr"] for r in out[:3]] == ["holds", "reversed", "inconclusive"]
    assert all(r["verdict_fdr"] == "inconclusive" for r in out[3:11])
    # its own family of three: 0.04 · 3 / 3 = 0.04 < 5 %, so the same p holds there
    assert [r["verdict_fdr"] for r in out[11:14]] == ["holds"] * 3
    assert np.isnan(out[14]["q"]) and out[14]["verdict_fdr"] == "inconclusive"
    text = claims.to_markdown(out, [])
    assert "| 1 | digits/snes | a − b | 2 | 1 | 8 | 1 / 1 | 0 / 0 |" in text
    assert "| 1 | digits/snes | c − d | 0 | 0 | 3 | 3 / 0 | 0 / 0 |" in text
    # the sparsest level's q closes its line: BH of (0.001, 0.002, 0.04) ends at 0.04
    assert next(ln for ln in text.splitlines() if "| c − d |" in ln).endswith(" q=0.040 |")
    assert claims._q_text(0.0004) == "q<0.001" and claims._q_text(np.nan) == "q=–"
    assert claims._q_text(0.001) == "q=0.001"  # the boundary: '<' only below it
    # a p below 5 % never prints as 0.050 beside its ✓ (0.0497 did); 0.05 itself stays
    assert claims._fmt_p(0.0497) == "0.0497" and claims._fmt_p(0.0495) == "0.0495"
    assert claims._fmt_p(0.05) == "0.050" and claims._fmt_p(0.0494) == "0.049"
    assert claims._fmt_p(0.04996) == "<0.050"  # four decimals round it up too


def test_sign_flip_p_counts_the_sign_assignments_as_extreme_as_the_data():
    # [1, 2, 3, -0.5]: of the 16 assignments ±1 ±2 ±3 ±0.5, those with |sum| ≥ 5.5 are
    # 1+2+3±0.5 and their negatives: 4 of 16
    assert claims.sign_flip_p(np.array([1.0, 2.0, 3.0, -0.5])) == pytest.approx(0.25)
    # one sign on every seed: 2 of 2^n, however large the effect
    assert claims.sign_flip_p(np.array([1600.0, 1500.0, 1700.0, 1650.0])) == pytest.approx(0.125)
    assert claims.sign_flip_p(np.full(8, 0.3)) == pytest.approx(2 / 2**8)
    # a 0 flips to itself: 5 seeds that differ, of 8, cannot go below 2 / 2^5
    assert claims.sign_flip_p(np.array([0, 0, 0, 1.0, 1, 1, 1, 1])) == pytest.approx(2 / 2**5)
    # float32 rounding around 0 is a tie for the sign flips as for the sign test
    assert claims.paired_effect(np.full(6, 1e-12)).p_signflip == 1.0
    # above the exact limit the flips are drawn, from a fixed generator: the same p twice,
    # near the normal approximation's for this clear effect
    many = np.linspace(-1.0, 3.0, claims.SIGN_FLIP_EXACT_SEEDS + 4)
    p = claims.sign_flip_p(many)
    assert p == claims.sign_flip_p(many)
    z = many.mean() / (np.sqrt((many**2).sum()) / many.size)
    assert p == pytest.approx(2 * stats.norm.sf(z), abs=0.01)


def test_bimodal_effects_hold_by_t_but_not_by_sign_flips_at_four_seeds():
    # solve-or-fail: four seeds where one method solved (≈ −140) and the other failed
    # (≈ −1,800): the t interval is narrow, but 4 of 4 signs has p = 0.125
    eff = claims.paired_effect([1600.0, 1500.0, 1700.0, 1650.0])
    assert eff.verdict == "holds" and eff.p < 0.001
    assert eff.p_signflip == pytest.approx(0.125)
    six = claims.paired_effect([1600.0, 1500.0, 1700.0, 1650.0, 1550.0, 1620.0])
    assert six.p_signflip == pytest.approx(2 / 2**6)
    rows = claims.with_fdr(
        [
            _row(name, e.p, e.mean, e.verdict, p_signflip=e.p_signflip)
            for name, e in (("a − b", eff), ("c − d", six))
        ]
    )
    text = claims.to_markdown(rows, [])
    assert "| 1 | digits/snes | a − b | 1 | 0 | 0 | 1 / 0 | 0 / 0 |" in text
    assert "| 1 | digits/snes | c − d | 1 | 0 | 0 | 1 / 0 | 1 / 0 |" in text
    assert "| 1.000e+00 |" not in text and "| 0.125 |" in text and "| 0.031 |" in text
    back = claims.to_dataset(rows, [])
    np.testing.assert_allclose(back.p_signflip.values, [0.125, 2 / 2**6])


def test_true_null_and_reversed_effects_are_found_by_pairing_seeds():
    ds = synthetic_summary()
    rows = claims.claim_rows(ds)
    ticket = by(rows, "magnitude − random")
    assert len(ticket) == ROUNDS - 1  # round 0 is dense: not a test
    assert all(r["verdict"] == "holds" for r in ticket)
    assert all(r["n"] == SEEDS for r in ticket)
    assert [r["mean"] for r in ticket] == pytest.approx([0.05] * (ROUNDS - 1), abs=0.01)
    assert all(r["verdict"] == "inconclusive" for r in by(rows, "snr − magnitude"))
    assert all(r["verdict"] == "reversed" for r in by(rows, "snr_study − magnitude"))
    for comparison, verdict in (
        ("magnitude − random", "holds"),
        ("snr − magnitude", "inconclusive"),
        ("snr_study − magnitude", "reversed"),
    ):
        assert {r["verdict_fdr"] for r in by(rows, comparison)} == {verdict}
    # Unpaired, the seed effects (sd 0.1) would hide the 0.05 ticket effect at every level:
    m = ds.test_metric.sel(task="digits", strategy="snes")
    for it in range(1, ROUNDS):
        a = m.sel({"method": "magnitude", "iteration": it}).values
        b = m.sel({"method": "random", "iteration": it}).values
        assert stats.ttest_ind(a, b).pvalue > 0.05


def test_a_q_of_exactly_five_percent_is_not_below_it():
    """claims.md reads FDR verdicts as q < 0.05. At 5 of 8 levels with the sign test's
    p = 2⁻⁵ (six seeds of one sign, no spread) BH gives q = 0.03125 · 8 / 5 = 0.05 exactly,
    which 1 − 0.95 (0.05000000000000004) let through as a discovery."""
    rows = [_row("a − b", 2.0**-5, 0.03, "holds") for _ in range(5)]
    rows += [_row("a − b", 0.9, 0.001) for _ in range(3)]
    out = claims.with_fdr(rows)
    assert [r["q"] for r in out[:5]] == [0.05] * 5
    assert all(r["verdict_fdr"] == "inconclusive" for r in out)
    assert claims.FDR == 0.05
    assert "| 1 | digits/snes | a − b | 5 | 0 | 3 | 0 / 0 |" in claims.to_markdown(out, [])


def test_the_summary_says_when_its_sparsest_level_has_no_paired_seed():
    """The sparsest level is read without a correction because it is named in advance; where
    its chains have not finished, the summary shows the sparsest level that has data and says
    which level is missing, rather than passing that one off as the sparsest."""
    ds = synthetic_summary()
    text = claims.to_markdown(claims.claim_rows(ds), [])
    line = next(ln for ln in text.splitlines() if "| magnitude − random |" in ln)
    assert "| 41.0%: " in line and "no paired seed" not in line
    ds.test_metric.loc[{"method": "random", "iteration": ROUNDS - 1}] = np.nan
    text = claims.to_markdown(claims.claim_rows(ds), [])
    line = next(ln for ln in text.splitlines() if "| magnitude − random |" in ln)
    assert "| 51.2%: " in line
    assert line.endswith(" (the sparsest level, 41.0%, has no paired seed yet) |")
    # consecutive-round barriers end a round early by construction (t → t+1 filed at t): not
    # flagged for that
    ds = synthetic_summary(("random", "magnitude"), ("snes", "gd_adam"))
    barrier = ds.test_metric.where(ds.iteration < ROUNDS - 1)
    text = claims.to_markdown(claims.claim_rows(ds.assign(lmc_barrier_consecutive=barrier)), [])
    line = next(ln for ln in text.splitlines() if "(t → t+1)" in ln)
    assert "| 51.2%: " in line and "no paired seed" not in line
    ds = synthetic_summary()
    ds.test_metric.loc[{"method": "random", "iteration": ROUNDS - 1}] = np.nan
    text = claims.to_markdown(claims.claim_rows(ds), [])
    # a comparison whose sparsest level has data is not flagged
    line = next(ln for ln in text.splitlines() if "| snr − magnitude |" in ln)
    assert "| 41.0%: " in line and "no paired seed" not in line


def test_a_comparison_is_also_read_over_all_its_levels_at_once():
    """One number per seed for the whole pruning curve (the mean of the difference over the
    pruned levels): one test, a family of its own, beside the per-level ones."""
    ds = synthetic_summary()
    rows = claims.claim_rows(ds)
    over = by(rows, "magnitude − random, mean over levels")
    assert len(over) == 1 and over[0]["iteration"] == -1 and over[0]["n"] == SEEDS
    m = ds.test_metric.sel(task="digits", strategy="snes", iteration=slice(1, None))
    want = (m.sel({"method": "magnitude"}) - m.sel({"method": "random"})).mean("iteration")
    assert over[0]["mean"] == pytest.approx(float(want.mean("seed")))
    assert over[0]["verdict"] == "holds" and over[0]["q"] == over[0]["p"]  # a family of one
    assert by(rows, "snr_study − magnitude, mean over levels")[0]["verdict"] == "reversed"
    line = next(ln for ln in claims.to_markdown(rows, []).splitlines() if "over levels" in ln)
    assert "| pruned levels: +0.049 [" in line  # the levels it reads: not round 0
    # a seed without its last round has no mean over the same levels: left out, not shortened
    ds.test_metric.loc[{"method": "random", "seed": 0, "iteration": ROUNDS - 1}] = np.nan
    over = by(claims.claim_rows(ds), "magnitude − random, mean over levels")
    assert over[0]["n"] == SEEDS - 1
    # with one pruned level the mean would repeat that level's row: none
    short = claims.claim_rows(synthetic_summary().isel(iteration=slice(0, 2)))
    assert not by(short, "magnitude − random, mean over levels")
    assert len(by(short, "magnitude − random")) == 1


def test_claims_the_grid_lacks_are_absent_not_errors():
    ds = synthetic_summary(methods=("random", "magnitude"))
    rows = claims.claim_rows(ds)
    assert {r["claim"] for r in rows} == {1}
    text = claims.to_markdown(rows, claims.dense_threshold(ds))
    assert "Claim 1" in text and "Claim 2" not in text
    # each absent claim is listed with what it needs; claim 1 is not
    untested = text.split("Not tested here")[1].split("## Every level")[0]
    assert "- claim 3: needs ES snr and GD magnitude chains of one task entry" in untested
    assert untested.count("- claim ") == len(claims.CLAIMS) - 1 and "claim 1:" not in untested
    assert set(claims.NEEDS) == set(claims.CLAIMS)
    # nothing testable at all: one method only
    none = claims.claim_rows(synthetic_summary(methods=("magnitude",)))
    assert none == []
    assert "No claim has data" in claims.to_markdown(none, [])
    # the grid could test claim 1, but no run has finished: said, not "not testable"
    unfinished = synthetic_summary(methods=("random", "magnitude"))
    unfinished.test_metric.values[:] = np.nan
    assert claims.claim_rows(unfinished) == []
    assert "runs have not finished" in claims.to_markdown([], [])


def test_small_effects_are_not_printed_as_zero():
    assert claims._fmt(0.0004) == "+4.0e-04" and claims._fmt(-0.0004) == "-4.0e-04"
    assert claims._fmt(0.0) == "+0.000" and claims._fmt(0.0123) == "+0.012"


def test_es_against_gd_and_slopes():
    ds = synthetic_summary(methods=("random", "magnitude", "snr"), strategies=("snes", "gd_adam"))
    # GD's magnitude ticket degrades by 0.1 per round, ES's SNR ticket does not degrade
    m = ds.test_metric.values
    gd, mag = 1, 1
    # each from a dense level of its own (0.95, 0.85): claim 3 compares their changes from
    # dense, so the raw gap (0.1·t − 0.1) would miss the rows' 0.1·t by 0.1
    m[0, gd, mag] = (
        0.95 - 0.1 * np.arange(ROUNDS) + np.random.default_rng(1).normal(0, 0.01, (SEEDS, ROUNDS))
    )
    m[0, 0, 2] = 0.85 + np.random.default_rng(2).normal(0, 0.01, (SEEDS, ROUNDS))
    # curvature grows 1.0 per round under GD, 0.2 per round under ES
    curv = np.full(m.shape, np.nan)
    curv[0, 0, mag] = 0.2 * np.arange(ROUNDS) + np.random.default_rng(3).normal(
        0, 0.05, (SEEDS, ROUNDS)
    )
    curv[0, gd, mag] = 1.0 * np.arange(ROUNDS)
    ds["curvature_1d"] = (ds.test_metric.dims, curv)
    rows = claims.claim_rows(ds)
    es_gd = by(rows, "Δsnes snr − Δgd_adam magnitude")
    assert [r["verdict"] for r in es_gd] == ["holds"] * (ROUNDS - 1)
    assert es_gd[-1]["mean"] == pytest.approx(0.1 * (ROUNDS - 1), abs=0.03)
    # over the curve: the mean of 0.1·t over the pruned rounds t = 1 … ROUNDS − 1
    (es_gd_over,) = by(rows, "Δsnes snr − Δgd_adam magnitude, mean over levels")
    assert es_gd_over["mean"] == pytest.approx(0.1 * ROUNDS / 2, abs=0.02)
    assert es_gd_over["verdict"] == "holds" and es_gd_over["n"] == SEEDS
    (sharp,) = by(rows, "curvature slope gd_adam − snes")
    assert sharp["mean"] == pytest.approx(0.8, abs=0.05) and sharp["verdict"] == "holds"
    snr_rows = by(rows, "snr − magnitude")  # ES alone: gradient descent has no SNR
    assert snr_rows and all(r["strategy"] == "snes" for r in snr_rows)


def test_a_transfer_is_read_per_level_and_over_its_levels():
    """Claim 4: the transferred ticket against the target's random mask, per pruned level and
    over the curve; a transfer whose ticket helps only at its sparsest level holds there and
    is inconclusive over the curve, which weighs every level alike."""
    ds = synthetic_summary(methods=("random", "magnitude"))
    rng = np.random.default_rng(4)
    random = 0.8 + rng.normal(0, 0.01, (1, SEEDS, ROUNDS))
    gain = np.zeros(ROUNDS)
    gain[-1] = 0.1
    noise = rng.normal(0, 0.2, (1, SEEDS, ROUNDS))
    dims = ("transfer", "seed", "iteration")
    ds = ds.assign_coords(transfer=["snes_to_adam"])
    ds["transfer_target_random"] = (dims, random)
    ds["transfer_metric"] = (dims, random + gain + noise * (gain == 0))
    rows = claims.claim_rows(ds)
    per_level = by(rows, "transfer − target random")
    assert [r["iteration"] for r in per_level] == list(range(1, ROUNDS))
    assert per_level[-1]["verdict"] == "holds"
    (over,) = by(rows, "transfer − target random, mean over levels")
    want = (ds.transfer_metric - ds.transfer_target_random).isel(iteration=slice(1, None))
    assert over["mean"] == pytest.approx(float(want.mean()))
    assert over["claim"] == 4 and over["strategy"] == "snes_to_adam" and over["q"] == over["p"]
    assert over["verdict"] == "inconclusive"


def test_curvature_slopes_of_a_seed_are_fitted_over_the_rounds_both_chains_have():
    """Curvature growing as round² under GD and ES alike: equal slopes, a difference of 0 for
    every seed, also where ES's chains have only their first rounds (fitting GD over all its
    rounds would give every seed a steeper GD slope, a difference that is not there)."""
    ds = synthetic_summary(methods=("random", "magnitude"), strategies=("snes", "gd_adam"))
    curv = np.full(ds.test_metric.shape, np.nan)
    curv[0, :, 1] = np.arange(ROUNDS) ** 2.0
    curv[0, 0, 1, :, 3:] = np.nan  # snes, magnitude: rounds 0–2 only, every seed
    ds["curvature_1d"] = (ds.test_metric.dims, curv)
    (row,) = by(claims.claim_rows(ds), "curvature slope gd_adam − snes")
    assert row["n"] == SEEDS and row["mean"] == pytest.approx(0.0, abs=1e-9)


def test_claims_of_several_task_entries_with_curvature_on_one():
    """The paper grid: many task entries, ES and GD, the landscape on one entry only. Claim 7's
    code once rebound the name of claim_rows' method-pair helper, so the next entry's first
    comparison called a DataArray (TypeError) and no claims.md was written."""
    one = synthetic_summary(methods=("random", "magnitude"), strategies=("snes", "gd_adam"))
    ds = xr.concat([one, one.assign_coords(task=["mnist"])], "task")
    curv = np.full(ds.test_metric.shape, np.nan)
    curv[0, :, 1] = np.arange(ROUNDS) * np.array([1.0, 2.0])[:, None, None]  # snes, gd_adam
    ds["curvature_1d"] = (ds.test_metric.dims, curv)
    rows = claims.claim_rows(ds)
    (sharp,) = by(rows, "curvature slope gd_adam − snes")
    assert sharp["task"] == "digits" and sharp["mean"] == pytest.approx(1.0)
    per_task = {r["task"] for r in by(rows, "magnitude − random")}
    assert per_task == {"digits", "mnist"}


def test_a_seed_without_every_round_gives_no_correlation_slope():
    """Claim 8 over "all rounds": a seed with only its first rounds (still running) has no
    slope, instead of a slope over other rounds than the rest (here 0.2 against 0.1)."""
    ds = synthetic_summary()
    rho = np.full(ds.test_metric.shape, np.nan)
    rho[0, 0, 2] = np.linspace(1.0, 1.0 - 0.1 * (ROUNDS - 1), ROUNDS)
    rho[0, 0, 2, :2, 3:] = np.nan  # seeds 0 and 1: rounds 0–2 only
    ds["rho_snr_magnitude"] = (ds.test_metric.dims, rho)
    (row,) = by(claims.claim_rows(ds), "−slope of ρ(snr, magnitude)")
    assert row["n"] == SEEDS - 2 and row["mean"] == pytest.approx(0.1)


def _with_es_gd_paths(ds, errors_of, metric="test_accuracy"):
    """``ds`` with one ES → GD transfer whose path errors (seed, iteration, α) are
    ``errors_of(alphas)`` and their barriers, as collect writes them."""
    from evotickets.analysis.connectivity import alpha_grid, barrier

    alphas = alpha_grid(11)
    errors = errors_of(alphas)
    bars = np.apply_along_axis(barrier, -1, errors, alphas)
    ds = ds.assign_coords(transfer=["es_to_gd"], alpha=alphas, metric_name=("task", [metric]))
    ds["lmc_barrier_es_gd"] = (("transfer", "seed", "iteration"), bars[None])
    ds["lmc_errors_es_gd"] = (("transfer", "seed", "iteration", "alpha"), errors[None])
    entry = {"source": {"task": "digits", "strategy": "snes"}}
    entry |= {"name": "es_to_gd", "target": {"task": "digits", "strategy": "gd_adam"}}
    ds.attrs["config"] = json.dumps({"transfer": [entry]})
    return ds


def test_es_gd_barrier_is_tested_against_a_tolerance_not_zero():
    """A barrier is ≥ 0 by construction, so noise alone along a straight path makes it
    positive: tested against 0 it would 'hold'. Against 2 points of error a straight path is
    linearly connected (reversed) and a bump of 0.1 in the middle is a barrier (holds)."""
    rng = np.random.default_rng(0)
    shape = (SEEDS, ROUNDS)

    def straight(alphas):  # error 0.10 → 0.12 along the path, noise sd 0.002
        return 0.10 + 0.02 * alphas + rng.normal(0, 0.002, (*shape, alphas.size))

    ds = _with_es_gd_paths(synthetic_summary(), straight)
    bars = ds.lmc_barrier_es_gd.values
    assert (bars >= 0).all() and (bars > 0).mean() >= 0.8  # noise alone: barriers > 0
    assert claims.paired_effect(ds.lmc_barrier_es_gd.values[0, :, 2]).verdict == "holds"
    rows = by(claims.claim_rows(ds), "ES↔GD barrier − 2% tolerance")
    assert len(rows) == ROUNDS and {r["verdict"] for r in rows} == {"reversed"}
    assert all(r["mean"] == pytest.approx(b - 0.02) for r, b in zip(
        rows, ds.lmc_barrier_es_gd.values[0].mean(0), strict=True))  # fmt: skip

    def bump(alphas):
        return straight(alphas) + 0.1 * np.sin(np.pi * alphas)

    rows = by(
        claims.claim_rows(_with_es_gd_paths(synthetic_summary(), bump)), rows[0]["comparison"]
    )
    assert {r["verdict"] for r in rows} == {"holds"}
    assert all(r["mean"] == pytest.approx(0.1 - 0.02, abs=0.01) for r in rows)


def test_es_gd_tolerance_of_a_return_scales_with_the_paths_ends():
    """For a return (error = −return) the tolerance is 2 % of the ends' mean |error|: a bump
    of 1 on ends of ≈ 100 is within it, a bump of 5 is beyond it."""
    rng = np.random.default_rng(1)

    def path(height):
        def errors(alphas):
            ends = rng.uniform(90, 110, (SEEDS, ROUNDS, 1))
            return ends + height * np.sin(np.pi * alphas) + rng.normal(0, 0.05, alphas.size)

        return errors

    for height, verdict in ((1.0, "reversed"), (5.0, "holds")):
        ds = _with_es_gd_paths(synthetic_summary(), path(height), metric="test_return")
        tol = claims.lmc_tolerance(ds, "es_to_gd")
        ends = ds.lmc_errors_es_gd.values[0][..., [0, -1]]
        np.testing.assert_allclose(tol.values, 0.02 * np.abs(ends).mean(-1))
        rows = by(claims.claim_rows(ds), "ES↔GD barrier − 2% tolerance")
        assert {r["verdict"] for r in rows} == {verdict}, (height, rows)
    # ends of opposite sign (returns −50 and +50): the ends' mean |error| is 50, not |0|
    ends = ds.lmc_errors_es_gd.values
    ends[..., 0], ends[..., -1] = 50.0, -50.0
    np.testing.assert_allclose(claims.lmc_tolerance(ds, "es_to_gd").values, 1.0)
    ds.attrs["config"] = json.dumps({"transfer": []})
    with pytest.raises(ValueError, match="rerun rule collect"):
        claims.lmc_tolerance(ds, "es_to_gd")


def test_dense_threshold_and_cli_writes_md_html_nc(tmp_path, capsys):
    ds = synthetic_summary(methods=("random", "magnitude"))
    random = ds.test_metric.values[0, 0, 0]
    random[:, 1:3] = random[:, :1]  # random keeps its dense metric for two rounds,
    random[:, 3:] = 0.1  # then collapses from round 3 (51.2 % remaining)
    ds.attrs["trained_on"] = json.dumps({"cpu ×1; A": 30, "gpu NVIDIA H200 ×1; B": 6})
    ds.to_netcdf(tmp_path / "summary.nc", engine="h5netcdf")
    th = {r["method"]: r for r in claims.dense_threshold(ds)}
    assert th["random"]["fell"] == SEEDS and th["random"]["max"] == pytest.approx(0.8**3)
    assert th["magnitude"]["never"] + th["magnitude"]["fell"] == SEEDS
    # a seed whose later rounds are missing has not stayed above the bar to the last round
    short = ds.copy(deep=True)
    cell = short.test_metric.values[0, 0, 1]  # magnitude: every seed keeps its dense metric,
    cell[:, 1:] = cell[:, :1]
    cell[:2, 2:] = np.nan  # and seeds 0-1 have rounds 0-1 only
    (mag,) = [r for r in claims.dense_threshold(short) if r["method"] == "magnitude"]
    assert (mag["fell"], mag["never"], mag["unfinished"]) == (0, SEEDS - 2, 2)
    dense = short.test_metric.values[0, 0, 1][:, 0]
    assert mag["dense_mean"] == pytest.approx(dense.mean())
    assert mag["dense_sd"] == pytest.approx(dense.std(ddof=1))
    table = claims.to_markdown([], [mag])
    # as the accuracy table prints it: mean±sd (seeds)
    assert f"| {dense.mean():.4f}±{dense.std(ddof=1):.4f} ({SEEDS}) | – | – | 0 |" in table
    assert "| 0 | 4 (to 41.0%) | 2 |" in table
    # a return to two decimals; one seed: its value and (1), no spread
    one = {**mag, "dense": [-1234.567], "dense_mean": -1234.567, "dense_sd": np.nan}
    assert "| -1234.57 (1) |" in claims.to_markdown([], [one])
    assert cli.main(["claims", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "magnitude − random" in out
    # --brief prints the verdicts without every level's rows; claims.md keeps them all
    assert cli.main(["claims", str(tmp_path), "--brief"]) == 0
    brief = capsys.readouterr().out
    assert "magnitude − random" in brief and claims.EVERY_LEVEL_HEADING not in brief
    assert claims.EVERY_LEVEL_HEADING in out
    assert claims.EVERY_LEVEL_HEADING in (tmp_path / "claims.md").read_text()
    for name in ("claims.md", "claims.html", "claims.nc"):
        assert (tmp_path / name).stat().st_size > 0
    back = xr.open_dataset(tmp_path / "claims.nc", engine="h5netcdf")
    assert set(back.claim.values) == {1}
    assert back.below95_dense_mean.size == back.below95_method.size > 0
    assert set(back.verdict.values) <= {"holds", "inconclusive", "reversed"}
    assert set(back.verdict_fdr.values) <= {"holds", "inconclusive", "reversed"}
    assert np.all((back.q >= back.p).values) and np.all((back.q <= 1).values)
    assert "<table>" in (tmp_path / "claims.html").read_text()
    # what trained the rounds, last: two machines, so last bits may differ between them
    machines = (tmp_path / "claims.md").read_text().split("## Machines")[1]
    assert "trained on 2 different machines" in machines
    assert "30 rounds: cpu ×1; A" in machines and "6 rounds: gpu NVIDIA H200 ×1; B" in machines
    # --out-dir may name a folder that does not exist yet
    assert cli.main(["claims", str(tmp_path), "--out-dir", str(tmp_path / "new" / "dir")]) == 0
    assert (tmp_path / "new" / "dir" / "claims.md").read_text() == (
        tmp_path / "claims.md"
    ).read_text()


def test_claims_that_fail_leave_the_earlier_files_whole(tmp_path, monkeypatch, capsys):
    """claims.md, .html and .nc are all made before any is written: an error in the last
    left a new claims.md beside the old claims.nc."""
    synthetic_summary(methods=("random", "magnitude")).to_netcdf(
        tmp_path / "summary.nc", engine="h5netcdf"
    )
    for name in ("claims.md", "claims.html", "claims.nc"):
        (tmp_path / name).write_text(f"an earlier {name}")

    def broken(*args, **kwargs):
        raise ValueError("to_dataset failed")

    monkeypatch.setattr(claims, "to_dataset", broken)
    assert cli.main(["claims", str(tmp_path)]) == 2
    assert "to_dataset failed" in capsys.readouterr().err
    for name in ("claims.md", "claims.html", "claims.nc"):
        assert (tmp_path / name).read_text() == f"an earlier {name}"
    # the same for an error while writing the last file (a full disk): the three are
    # written to temporary files first, then renamed
    monkeypatch.undo()
    from evotickets.analysis import collect

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(collect, "write_netcdf", full_disk)
    with pytest.raises(OSError, match="No space left"):
        cli.main(["claims", str(tmp_path)])
    for name in ("claims.md", "claims.html", "claims.nc"):
        assert (tmp_path / name).read_text() == f"an earlier {name}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "claims.html", "claims.md", "claims.nc", "summary.nc"
    ]  # fmt: skip


def test_claims_on_a_subset_of_seeds_is_a_replication_beside_the_run(tmp_path, capsys):
    """`claims --seeds 3,4,5`: the claims of those seeds alone (seeds added after a first
    run, read as a replication), written beside the run's own claims, never over them."""
    synthetic_summary().to_netcdf(tmp_path / "summary.nc", engine="h5netcdf")
    assert cli.main(["claims", str(tmp_path), "--seeds", "3,4,5"]) == 0
    out = tmp_path / "claims-seeds-3-4-5"
    text = (out / "claims.md").read_text()
    assert text.startswith("# Claims: synthetic (seeds 3, 4, 5 only)")
    assert not (tmp_path / "claims.md").exists()  # the run's own claims are the workflow's
    back = xr.open_dataset(out / "claims.nc", engine="h5netcdf").load()
    assert set(back.n.values.tolist()) == {3}
    # a claims.nc names its run and what it read, and says what its columns are
    assert back.attrs["experiment"] == "synthetic (seeds 3, 4, 5 only)"
    assert back.attrs["source"] == str(tmp_path / "summary.nc")
    assert back["lo"].attrs["long_name"].startswith("lower bound of the 95% Student t")
    assert "-1 for a row over the whole curve" in back["iteration"].attrs["long_name"]
    ds = synthetic_summary().sel(seed=[3, 4, 5])
    m = ds.test_metric.sel(task="digits", strategy="snes", iteration=ROUNDS - 1)
    want = float((m.sel({"method": "magnitude"}) - m.sel({"method": "random"})).mean())
    ticket = back.where(
        (back.comparison == "magnitude − random") & (back.iteration == 4), drop=True
    )
    assert ticket["mean"].item() == pytest.approx(want)
    capsys.readouterr()
    assert cli.main(["claims", str(tmp_path), "--seeds", "4,9"]) == 2
    err = capsys.readouterr().err
    assert "summary.nc has seeds [0, 1, 2, 3, 4, 5], not [9]" in err
    assert cli.main(["claims", str(tmp_path), "--seeds", "4,4"]) == 2
    assert "listed twice" in capsys.readouterr().err
    assert cli.main(["claims", str(tmp_path), "--seeds", ","]) == 2  # none: not an empty table
    assert "summary.nc has seeds [0, 1, 2, 3, 4, 5]: list each once" in capsys.readouterr().err
    # --out-dir naming the run's own folder: refused, its claims untouched
    (tmp_path / "claims.md").write_text("the run's own claims")
    assert cli.main(["claims", str(tmp_path), "--seeds", "3,4,5", "--out-dir", str(tmp_path)]) == 2
    assert "would replace the run's own" in capsys.readouterr().err
    assert (tmp_path / "claims.md").read_text() == "the run's own claims"
    other = tmp_path / "replication"  # any folder that is not a run's: written there
    assert cli.main(["claims", str(tmp_path), "--seeds", "3,4,5", "--out-dir", str(other)]) == 0
    assert (other / "claims.md").read_text().startswith("# Claims: synthetic (seeds 3, 4, 5")


def test_claims_of_another_runs_summary_are_not_written_into_this_folder(tmp_path, capsys):
    """`claims results/b --summary results/a/summary.nc` wrote a's claims into b's folder,
    beside b's own summary, under b's name; now it asks where (or a's own folder)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    synthetic_summary().to_netcdf(tmp_path / "a" / "summary.nc", engine="h5netcdf")
    args = ["claims", str(tmp_path / "b"), "--summary", str(tmp_path / "a" / "summary.nc")]
    assert cli.main(args) == 2
    assert "is of experiment 'synthetic', not of" in capsys.readouterr().err
    assert not list((tmp_path / "b").iterdir())
    assert cli.main([*args, "--out-dir", str(tmp_path / "b")]) == 0  # where, said
    assert (tmp_path / "b" / "claims.md").read_text().startswith("# Claims: synthetic")
    # --out-dir naming another run's folder (its summary.nc says whose) replaced its claims
    other = synthetic_summary()
    other.attrs["experiment"] = "other"
    (tmp_path / "c").mkdir()
    other.to_netcdf(tmp_path / "c" / "summary.nc", engine="h5netcdf")
    assert cli.main([*args, "--out-dir", str(tmp_path / "c")]) == 2
    assert "is the results folder of experiment 'other'" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["summary.nc"]
    (tmp_path / "synthetic").mkdir()  # its own experiment's folder, elsewhere: allowed
    assert cli.main(["claims", str(tmp_path / "synthetic"), *args[2:]]) == 0
    assert (tmp_path / "synthetic" / "claims.md").exists()


def test_claims_without_summary_names_the_rule(tmp_path, capsys):
    assert cli.main(["claims", str(tmp_path)]) == 2
    assert "rule collect" in capsys.readouterr().err


def test_sigma_context_says_why_snr_matches_magnitude():
    ds = synthetic_summary()
    shape = ds.test_metric.shape
    cv = np.full(shape, np.nan)
    cv[0, 0, 2] = 0.3  # the snr chain: σ varies by 30 % at every round
    for v, value in (("sigma_cv", cv), ("rho_sigma_abs_theta", cv * 2), ("overlap_kept", cv)):
        ds[v] = (ds.test_metric.dims, value)
    ds["rho_snr_magnitude"] = (ds.test_metric.dims, cv * 3)
    ctx = claims.sigma_context(ds)
    assert {(r["method"], r["iteration"]) for r in ctx} == {("snr", i) for i in range(ROUNDS)}
    assert ctx[0]["sigma_cv"] == pytest.approx(0.3) and ctx[0]["n"] == SEEDS
    assert ctx[0]["rho_snr_magnitude"] == pytest.approx(0.9)
    text = claims.to_markdown(claims.claim_rows(ds), [], sigma=ctx)
    assert "Why SNR does or does not differ" in text and "0.300 ± 0.000" in text
    assert f"| 0.900 ± 0.000 | 0.300 ± 0.000 | – | {SEEDS} |" in text  # none collected
    assert claims.sigma_context(synthetic_summary()) == []  # no snr_magnitude analysis
    ds["kept_shared_with_magnitude"] = (ds.test_metric.dims, np.where(np.isnan(cv), 1.0, 0.42))
    text = claims.to_markdown(claims.claim_rows(ds), [], sigma=claims.sigma_context(ds))
    assert f"| 0.900 ± 0.000 | 0.300 ± 0.000 | 0.420 ± 0.000 | {SEEDS} |" in text


def test_shared_kept_counts_the_prunable_weights_two_tickets_share():
    from evotickets.analysis.collect import shared_kept

    # a kernel of 6 weights (prunable) and a bias of 2 (never pruned: True in both masks)
    snr = {"k": np.array([1, 1, 1, 0, 0, 0], bool), "b": np.ones(2, bool)}
    magnitude = {"k": np.array([1, 0, 1, 1, 0, 0], bool), "b": np.ones(2, bool)}
    assert shared_kept(snr, 3, magnitude) == pytest.approx(2 / 3)  # weights 0 and 2 of 3
    assert shared_kept(snr, 3, snr) == 1.0
    assert np.isnan(shared_kept({"k": np.zeros(6, bool)}, 0, {"k": np.zeros(6, bool)}))
    with pytest.raises(ValueError, match="different networks"):
        shared_kept(snr, 3, {"k": magnitude["k"]})


def test_sigma_context_names_a_mean_over_fewer_seeds():
    """ρ(σ, |θ|) is undefined for a seed whose σ is constant (PGPE at its floor): its mean is
    over the other seeds, and the table says so instead of printing the row's n beside it."""
    ds = synthetic_summary()
    cv = np.full(ds.test_metric.shape, np.nan)
    cv[0, 0, 2] = 0.3
    rho = cv.copy()
    rho[0, 0, 2, 0] = np.nan  # seed 0: σ constant
    for v, value in (("sigma_cv", cv), ("rho_sigma_abs_theta", rho), ("overlap_kept", cv)):
        ds[v] = (ds.test_metric.dims, value)
    ds["rho_snr_magnitude"] = (ds.test_metric.dims, cv)
    ctx = claims.sigma_context(ds)
    assert ctx[0]["n"] == SEEDS and ctx[0]["rho_sigma_abs_theta_n"] == SEEDS - 1
    text = claims.to_markdown(claims.claim_rows(ds), [], sigma=ctx)
    assert f"0.300 ± 0.000 (n={SEEDS - 1})" in text
    assert text.count(f"(n={SEEDS - 1})") == ROUNDS  # that column only, every round


def test_html_keeps_a_cell_with_a_pipe_whole():
    rows = claims.with_fdr([
        {"claim": 8, "task": "digits", "strategy": "snes", "comparison": "ρ(snr, |θ|)",
         "remaining": float("nan"), "mean": 0.02, "lo": 0.01, "hi": 0.03, "n": 4,
         "verdict": "holds", "p": 0.004, "p_signflip": 0.125}
    ])  # fmt: skip
    page = claims.to_html(claims.to_markdown(rows, []))
    assert "<table>" in page and "<td>ρ(snr, |θ|)</td>" in page
    assert page.count("<tr>") == 2 + 2  # header + one row, in the summary and every-level tables


def test_rewinding_is_paired_with_the_entry_of_its_keys_and_settings(tiny_config):
    """Claim 10 compares a rewinding entry with the k = 0 entry whose chains share its θ0 and
    search noise: the one named after its library task (a rewinding entry is keyed by that
    name), with the same settings but k. An alias of other noise (digits_he), another init
    scheme or another batch size is no partner; the rows are the paired differences."""
    from evotickets.config import validate_config

    block = tiny_config["tasks"]["digits"]
    tasks = {
        "digits": block,
        "digits_rewind": {**block, "task": "digits", "init": "flax_default", "rewind": 10},
        "digits_he": {**block, "task": "digits", "init": "he_normal"},
        "digits_he_rewind": {**block, "task": "digits", "init": "he_normal", "rewind": 10},
        "digits_b32_rewind": {**block, "task": "digits", "batch_size": 32, "rewind": 10},
    }
    cfg = validate_config(dict(tiny_config, tasks=tasks))
    names = list(tasks)
    one = synthetic_summary(methods=("random", "magnitude"))
    ds = xr.concat([one.assign_coords(task=[t]) for t in names], "task")
    late = ds.test_metric.sel(task="digits_rewind") + 0.03 + 0.001 * ds.seed
    ds["test_metric"] = ds.test_metric.where(ds.task != "digits_rewind", late)
    ds = ds.assign_coords(rewind=("task", [10 if t.endswith("rewind") else 0 for t in names]))
    ds.attrs["config"] = json.dumps(cfg, default=str)
    recorded = json.loads(ds.attrs["config"])
    assert claims._rewind_pairs(ds, recorded, "snes") == [("digits_rewind", "digits")]
    rows = [r for r in claims.claim_rows(ds) if r["claim"] == 10]
    pairs = {f"{m}: rewind 10 − rewind 0 (digits_rewind − digits)" for m in ("magnitude", "random")}
    assert {r["comparison"] for r in rows} == pairs | {f"{c}, mean over levels" for c in pairs}
    later = [r for r in rows if r["remaining"] < 1 or r["iteration"] == -1]
    assert len(later) == 2 * ROUNDS  # 4 pruned levels and the curve, for each method
    assert all(r["mean"] == pytest.approx(0.03 + 0.001 * (SEEDS - 1) / 2)
               for r in later)  # fmt: skip
    del ds.attrs["config"]
    with pytest.raises(ValueError, match="records no readable config.*rerun rule collect"):
        claims.claim_rows(ds)


def test_a_rewinding_entry_with_the_remaining_budget_is_paired_and_says_so(tiny_config):
    """rewind_budget remaining changes what the rewound rounds search (G − k), not the
    pairing: the entry is compared with its k = 0 partner, and the row names the budget."""
    from evotickets.config import validate_config

    block = tiny_config["tasks"]["digits"]
    tasks = {
        "digits": block,
        "digits_rest": {**block, "task": "digits", "rewind": 10, "rewind_budget": "remaining"},
    }
    cfg = validate_config(dict(tiny_config, tasks=tasks))
    one = synthetic_summary(methods=("random", "magnitude"))
    ds = xr.concat([one.assign_coords(task=[t]) for t in tasks], "task")
    ds = ds.assign_coords(rewind=("task", [0, 10]), rewind_budget=("task", ["", "remaining"]))
    ds.attrs["config"] = json.dumps(cfg, default=str)
    rows = [r for r in claims.claim_rows(ds) if r["claim"] == 10]
    pairs = {
        f"{m}: rewind 10, G − 10 generations − rewind 0 (digits_rest − digits)"
        for m in ("magnitude", "random")
    }
    assert {r["comparison"] for r in rows} == pairs | {f"{c}, mean over levels" for c in pairs}


def test_a_finished_round_with_a_non_finite_metric_is_listed_not_silently_dropped():
    """summary.nc holds NaN for a finished round whose test metric is NaN, as for a round not
    yet run: the comparison at that level drops the seed (n 5, not 6) and claims.md says
    which round and why, after the summary; a round that never ran is not listed."""
    ds = synthetic_summary()
    kept = np.broadcast_to(ds.remaining_fraction.values, ds.test_metric.shape).copy()
    ds["kept_fraction"] = (ds.test_metric.dims, kept)
    ds.test_metric.loc[{"method": "random", "seed": 2, "iteration": 3}] = np.nan
    ds.kept_fraction.loc[{"method": "magnitude", "seed": 4, "iteration": 4}] = np.nan
    ds.test_metric.loc[{"method": "magnitude", "seed": 4, "iteration": 4}] = np.nan  # not run
    from evotickets.analysis.collect import nonfinite_metric_rounds

    rounds = nonfinite_metric_rounds(ds)
    assert [(r["method"], r["seed"], r["remaining"]) for r in rounds] == [
        ("random", 2, pytest.approx(0.8**3))
    ]
    ticket = by(claims.claim_rows(ds), "magnitude − random")
    assert [r["n"] for r in ticket] == [SEEDS, SEEDS, SEEDS - 1, SEEDS - 1]
    text = claims.to_markdown(claims.claim_rows(ds), [], nonfinite=rounds)
    listed = text.split("## Rounds with a non-finite test metric")[1].split("## Every level")[0]
    assert "| digits | snes | random | 2 | 51.2% | nan |" in listed
    assert "## Rounds with a non-finite" not in claims.to_markdown([], [], nonfinite=[])


def test_a_transfer_round_with_a_non_finite_metric_is_listed():
    """A transferred ticket whose finished round has a NaN metric (an Ant episode that blew
    up) reads like a round not run in summary.nc: claim 4 drops the seed at that level and
    from the mean over levels, so claims.md lists the round, as it lists chain rounds."""
    from evotickets.analysis.collect import nonfinite_metric_rounds

    ds = synthetic_summary(methods=("random", "magnitude"))
    dims = ("transfer", "seed", "iteration")
    shape = (1, SEEDS, ROUNDS)
    ds.coords["transfer"] = ["snes_to_adam"]
    ds.coords["transfer_target_task"] = ("transfer", ["digits"])
    moved = np.full(shape, 0.8)
    kept = np.broadcast_to(ds.remaining_fraction.values, shape).copy()
    moved[0, 1, 3] = np.nan  # finished, blew up
    moved[0, 2, 4] = kept[0, 2, 4] = np.nan  # not run yet: not listed
    ds["transfer_metric"] = (dims, moved)
    ds["transfer_kept_fraction"] = (dims, kept)
    ds["transfer_target_random"] = (dims, np.full(shape, 0.7))
    rounds = nonfinite_metric_rounds(ds)
    assert rounds == [
        {
            "task": "digits",
            "strategy": "snes_to_adam",
            "method": "transferred ticket",
            "seed": 1,
            "remaining": pytest.approx(0.8**3),
            "metric": pytest.approx(np.nan, nan_ok=True),
        }
    ]
    text = claims.to_markdown(claims.claim_rows(ds), [], nonfinite=rounds)
    assert "| digits | snes_to_adam | transferred ticket | 1 | 51.2% | nan |" in text


def test_claim_7_fits_every_seed_over_the_same_rounds():
    """GD's curvature 2r², ES's r²: the slope difference over rounds 0–4 is 4 for every seed.
    A seed whose two chains both have rounds 0–2 only would fit a shallower difference over
    fewer rounds, and the row labelled over all rounds would average the two ranges: it is
    left out instead (n 5), as claim 8 leaves such a seed out."""
    ds = synthetic_summary(methods=("random", "magnitude"), strategies=("snes", "gd_adam"))
    curv = np.full(ds.test_metric.shape, np.nan)
    rounds = np.arange(ROUNDS, dtype=float)
    curv[0, 0, 1] = rounds**2  # snes magnitude
    curv[0, 1, 1] = 2 * rounds**2  # gd_adam magnitude
    curv[0, :, 1, 0, 3:] = np.nan  # seed 0: both chains have rounds 0–2 only
    ds["curvature_1d"] = (ds.test_metric.dims, curv)
    (row,) = by(claims.claim_rows(ds), "curvature slope gd_adam − snes")
    assert row["n"] == SEEDS - 1
    assert row["mean"] == pytest.approx(4.0)
    assert claims._where(row) == "all rounds"  # the other seeds' chains finished every round
    ds.test_metric.loc[{"strategy": "snes", "iteration": 4}] = np.nan  # snes: still running
    (row,) = by(claims.claim_rows(ds), "curvature slope gd_adam − snes")
    assert claims._where(row) == "rounds to 51.2% (none has reached 41.0% yet)"


def test_a_finished_round_with_a_non_finite_metric_is_a_fall_in_the_threshold_table():
    """A seed whose round 2 blew up (NaN, finished) fell there, though its last round is
    finite; a seed whose last round finished with NaN is not `unfinished`."""
    ds = synthetic_summary(methods=("random", "magnitude"))
    cell = ds.test_metric.values[0, 0, 1]  # magnitude: every seed keeps its dense metric
    cell[:, 1:] = cell[:, :1]
    kept = np.broadcast_to(ds.remaining_fraction.values, ds.test_metric.shape).copy()
    ds["kept_fraction"] = (ds.test_metric.dims, kept)
    cell[0, 2] = np.nan  # finished, blew up at 64 %
    cell[1, -1] = np.nan  # finished, blew up in the last round
    cell[2, -1] = np.nan  # not run yet
    ds.kept_fraction.values[0, 0, 1, 2, -1] = np.nan
    (mag,) = [r for r in claims.dense_threshold(ds) if r["method"] == "magnitude"]
    assert (mag["fell"], mag["never"], mag["unfinished"]) == (2, SEEDS - 3, 1)
    assert (mag["min"], mag["max"]) == (pytest.approx(0.8 ** (ROUNDS - 1)), pytest.approx(0.8**2))


def test_claim_7_keeps_a_seed_with_one_round_of_no_curvature_inside_its_run():
    """A round whose landscape had a non-finite direction has a NaN curvature while the run
    is complete: the seed stays, fitted over the rounds it has (as before the fix that
    leaves out seeds still running), so a complete run's numbers did not change."""
    ds = synthetic_summary(methods=("random", "magnitude"), strategies=("snes", "gd_adam"))
    curv = np.full(ds.test_metric.shape, np.nan)
    rounds = np.arange(ROUNDS, dtype=float)
    curv[0, 0, 1] = rounds**2
    curv[0, 1, 1] = 2 * rounds**2 + np.arange(SEEDS)[:, None]  # seeds offset, same slope
    curv[0, 1, 1, 0, 2] = np.nan  # gd_adam, seed 0: round 2's curvature is NaN
    ds["curvature_1d"] = (ds.test_metric.dims, curv)
    (row,) = by(claims.claim_rows(ds), "curvature slope gd_adam − snes")
    assert row["n"] == SEEDS


def test_claim_7_keeps_a_seed_whose_latest_round_is_too_sharp_to_measure():
    """A GD seed whose latest round's curvature left the finite range (NaN, its non-finite
    directions counted) was analysed: it stays, fitted over the rounds it has. It was
    dropped as if still running, which removed the sharpest seed from the claim's test."""
    ds = synthetic_summary(methods=("random", "magnitude"), strategies=("snes", "gd_adam"))
    curv = np.full(ds.test_metric.shape, np.nan)
    rounds = np.arange(ROUNDS, dtype=float)
    curv[0, 0, 1] = 0.5 * rounds  # ES: slope 0.5 every seed
    gd_slopes = 1.0 + np.arange(SEEDS)
    curv[0, 1, 1] = gd_slopes[:, None] * rounds  # GD: slopes 1, 2, … by seed
    sharp = SEEDS - 1
    curv[0, 1, 1, sharp, -1] = np.nan  # the steepest seed's last round: too sharp
    ds["curvature_1d"] = (ds.test_metric.dims, curv)
    directions = np.full(ds.test_metric.shape, np.nan)
    directions[0, :, 1] = 0.0  # every magnitude round analysed
    directions[0, 1, 1, sharp, -1] = 2.0  # two directions left the finite range
    ds["curvature_1d_nonfinite_directions"] = (ds.test_metric.dims, directions)
    (row,) = by(claims.claim_rows(ds), "curvature slope gd_adam − snes")
    assert row["n"] == SEEDS
    assert row["mean"] == pytest.approx(float(np.mean(gd_slopes - 0.5)))
    # not analysed (no count either): that seed is still running, and it is left out
    directions[0, 1, 1, sharp, -1] = np.nan
    ds["curvature_1d_nonfinite_directions"] = (ds.test_metric.dims, directions)
    (row,) = by(claims.claim_rows(ds), "curvature slope gd_adam − snes")
    assert row["n"] == SEEDS - 1
    assert row["mean"] == pytest.approx(float(np.mean(gd_slopes[:-1] - 0.5)))


def test_claim_6_consecutive_barriers_are_es_minus_gd():
    """ES's consecutive-round barriers above GD's hold the claim, and swapped they reverse
    it (no test set ES and GD barriers beside each other: a flipped difference passed)."""
    ds = synthetic_summary(methods=("random", "magnitude"), strategies=("snes", "gd_adam"))
    rng = np.random.default_rng(1)
    barrier = np.full(ds.test_metric.shape, np.nan)
    barrier[0, 0, 1, :, :-1] = 0.30 + rng.normal(0, 0.01, (SEEDS, ROUNDS - 1))  # snes
    barrier[0, 1, 1, :, :-1] = 0.10 + rng.normal(0, 0.01, (SEEDS, ROUNDS - 1))  # gd_adam
    ds["lmc_barrier_consecutive"] = (ds.test_metric.dims, barrier)
    rows = by(claims.claim_rows(ds), "barrier snes − gd_adam (t → t+1)")
    assert len(rows) == ROUNDS - 1 and all(r["claim"] == 6 for r in rows)
    assert {r["verdict"] for r in rows} == {"holds"}
    assert all(r["mean"] == pytest.approx(0.2, abs=0.03) for r in rows)
    ds["lmc_barrier_consecutive"] = (ds.test_metric.dims, barrier[:, ::-1])  # swapped
    swapped = by(claims.claim_rows(ds), "barrier snes − gd_adam (t → t+1)")
    assert {r["verdict"] for r in swapped} == {"reversed"}


def test_gradient_regrowth_is_compared_with_random_regrowth():
    """Claim 11 reads dynamic_gradient − dynamic_random, paired by seed: RigL's question
    (gradient regrowth) against SET's (random), beside each against random and snr."""
    ds = synthetic_summary().assign_coords(
        method=["random", "dynamic_random", "snr", "dynamic_gradient"]
    )  # dynamic_gradient = dynamic_random − 0.05 here
    rows = claims.claim_rows(ds)
    direct = by(rows, "dynamic_gradient − dynamic_random")
    assert len(direct) == ROUNDS - 1 and {r["claim"] for r in direct} == {11}
    assert {r["verdict"] for r in direct} == {"reversed"}
    assert by(rows, "dynamic_gradient − dynamic_random, mean over levels")[0]["n"] == SEEDS
    assert {r["verdict"] for r in by(rows, "dynamic_random − random")} == {"holds"}


def test_collect_counts_a_rounds_non_finite_directions_and_claims_md_lists_them(monkeypatch):
    """A round whose loss left the finite range along a direction has a NaN curvature, as a
    round not analysed has: summary.nc counts the directions, and claims.md lists the rounds
    that claim 7 leaves out (one at the latest round dropped its seed, silently: the
    sharpest landscapes, the claim's own evidence)."""
    from types import SimpleNamespace

    from evotickets.analysis import collect

    ds = synthetic_summary(methods=("random", "magnitude"), strategies=("snes", "gd_adam"))
    chain = ("digits", "gd_adam", "magnitude", 3)
    curvatures = np.ones((ROUNDS, 4))
    curvatures[ROUNDS - 1, [0, 2]] = np.nan  # the last round: 2 of 4 directions blew up
    arrays = {"grid": np.linspace(-1, 1, 3), "round": np.arange(ROUNDS),
              "curvature": curvatures, "surface_2d": np.zeros((ROUNDS, 3, 3))}  # fmt: skip
    monkeypatch.setattr(collect, "analysis_chains", lambda cfg, name: [chain])
    monkeypatch.setattr(collect, "_chain_artifacts", lambda *a: [(chain, arrays, {}, "x.h5")])
    index = {n: list(ds[n].values) for n in ("task", "strategy", "method", "seed")}

    def at(task, strategy, method, seed):
        names = zip(("task", "strategy", "method", "seed"), (task, strategy, method, seed))
        return tuple(index[n].index(v) for n, v in names)

    collect._add_landscape(ds, SimpleNamespace(cfg={}), at, ds.test_metric.shape)
    at_chain = {"task": "digits", "strategy": "gd_adam", "method": "magnitude", "seed": 3}
    counts = ds.curvature_1d_nonfinite_directions.sel(at_chain)
    assert counts.values.tolist() == [0, 0, 0, 0, 2]
    assert np.isnan(ds.curvature_1d_nonfinite_directions.sel(seed=2)).all()  # not analysed
    listed = collect.nonfinite_curvature_rounds(ds)
    assert listed == [{"task": "digits", "strategy": "gd_adam", "method": "magnitude",
                       "seed": 3, "remaining": pytest.approx(0.8**4), "directions": 2}]  # fmt: skip
    text = claims.to_markdown([], [], nonfinite_curvature=listed)
    section = text.split("## Rounds too sharp for a 1D curvature")[1]
    assert "| digits | gd_adam | magnitude | 3 | 41.0% | 2 |" in section
    assert "Rounds too sharp" not in claims.to_markdown([], [], nonfinite_curvature=[])


def test_a_slope_over_the_rounds_run_so_far_does_not_say_all_rounds():
    """Claim 7 and 8's slopes are fitted over the rounds the seeds have: while no seed has
    finished the experiment's last round, the row names the level they reach. A finished
    round whose value is NaN (a curvature too sharp to measure) is reached."""
    ds = synthetic_summary()
    rho = np.full(ds.test_metric.shape, np.nan)
    rho[0, 0, 2] = np.linspace(1.0, 1.0 - 0.1 * (ROUNDS - 1), ROUNDS)
    ds["rho_snr_magnitude"] = (ds.test_metric.dims, rho.copy())
    (row,) = by(claims.claim_rows(ds), "−slope of ρ(snr, magnitude)")
    assert claims._where(row) == "all rounds"
    rho[0, 0, 2, :, 3:] = np.nan  # every seed: rounds 0–2 only, the later ones finished
    ds["rho_snr_magnitude"] = (ds.test_metric.dims, rho)
    (row,) = by(claims.claim_rows(ds), "−slope of ρ(snr, magnitude)")
    assert row["n"] == SEEDS and claims._where(row) == "all rounds"  # NaN there, not unrun
    ds.test_metric.loc[{"method": "snr", "iteration": [3, 4]}] = np.nan  # still running
    (row,) = by(claims.claim_rows(ds), "−slope of ρ(snr, magnitude)")
    assert row["n"] == SEEDS and row["mean"] == pytest.approx(0.1)
    assert claims._where(row) == "rounds to 64.0% (none has reached 41.0% yet)"
    assert "rounds to 64.0% (none has reached 41.0% yet): +0.100" in claims.to_markdown([row], [])
    # claims.nc carries the same: read alone, iteration −1 and remaining NaN said "all rounds"
    nc = claims.to_dataset([row], [])
    assert int(nc.iteration[0]) == -1 and np.isnan(nc.remaining[0])
    assert float(nc.fitted_remaining[0]) == pytest.approx(0.64)
    assert float(nc.sparsest_remaining[0]) == pytest.approx(0.8 ** (ROUNDS - 1))


def test_the_threshold_median_is_over_the_seeds_that_fell_and_says_when_they_are_few():
    """The median level of the first fall below 95 % of dense, over the seeds that fell; where
    fewer than half fell, the cell says how few (the typical seed did not fall)."""
    ds = synthetic_summary(methods=("random", "magnitude"))
    cell = ds.test_metric.values[0, 0, 1]  # magnitude: every seed keeps its dense metric,
    cell[:, 1:] = cell[:, :1]
    cell[0, 1:] = 0.0  # seed 0 falls at round 1 (80 %)
    cell[1, 3:] = 0.0  # seed 1 at round 3 (51.2 %)
    (mag,) = [r for r in claims.dense_threshold(ds) if r["method"] == "magnitude"]
    assert (mag["fell"], mag["never"]) == (2, SEEDS - 2)
    assert mag["median"] == pytest.approx((0.8 + 0.8**3) / 2)  # midway between the two
    assert "| 65.6% (only 2 of 6 fell) | 51.2%–80.0% | 2 | 4 (to 41.0%) |" in (
        claims.to_markdown([], [mag])
    )
    cell[2:4, 2:] = 0.0  # seeds 2 and 3 at round 2 (64 %): 4 of 6 fell
    (mag,) = [r for r in claims.dense_threshold(ds) if r["method"] == "magnitude"]
    assert mag["median"] == pytest.approx(0.64)
    assert "| 64.0% | 51.2%–80.0% | 4 | 2 (to 41.0%) |" in claims.to_markdown([], [mag])


def test_sigma_context_means_and_sds_are_over_seeds():
    """The σ table's mean ± sd over seeds, with the n − 1 sd (inputs that vary by seed: with
    constant ones any sd formula printed ± 0.000)."""
    ds = synthetic_summary()
    cv = np.full(ds.test_metric.shape, np.nan)
    cv[0, 0, 2] = (0.1 * np.arange(1, SEEDS + 1))[:, None]  # 0.1 … 0.6 by seed
    for v in ("sigma_cv", "rho_sigma_abs_theta", "overlap_kept", "rho_snr_magnitude"):
        ds[v] = (ds.test_metric.dims, cv)
    text = claims.to_markdown([], [], sigma=claims.sigma_context(ds))
    sd = np.std(0.1 * np.arange(1, SEEDS + 1), ddof=1)
    assert f"0.350 ± {sd:.3f}" in text and f"{sd:.3f}" == "0.187"


def test_claims_of_a_subset_of_seeds_count_the_machines_of_those_seeds(tmp_path):
    """`claims --seeds 0,1` said the whole run's rounds per machine (a seed trained on a GPU
    named beside CPU seeds it left out); summary.nc now counts them per seed too."""
    ds = synthetic_summary()
    by_seed = {str(k): {"cpu ×1; B": ROUNDS * 4} for k in range(SEEDS)}
    by_seed["5"] = {"gpu NVIDIA H200 ×1; A": ROUNDS * 4}
    ds.attrs["trained_on"] = json.dumps({"cpu ×1; B": ROUNDS * 4 * 5, "gpu NVIDIA H200 ×1; A": 20})
    ds.attrs["trained_on_by_seed"] = json.dumps(by_seed)
    ds.to_netcdf(tmp_path / "summary.nc", engine="h5netcdf")
    assert cli.main(["claims", str(tmp_path), "--seeds", "0,1"]) == 0
    out = tmp_path / "claims-seeds-0-1"
    machines = (out / "claims.md").read_text().split("## Machines")[1]
    assert f"trained on: cpu ×1; B ({ROUNDS * 8} rounds)" in machines and "H200" not in machines
    back = xr.open_dataset(out / "claims.nc", engine="h5netcdf")
    assert json.loads(back.attrs["trained_on"]) == {"cpu ×1; B": ROUNDS * 8}
    assert cli.main(["claims", str(tmp_path), "--seeds", "4,5"]) == 0
    machines = (tmp_path / "claims-seeds-4-5" / "claims.md").read_text().split("## Machines")[1]
    assert "trained on 2 different machines" in machines
    # the subset leaves the whole run's counts whole (sel shares the attrs dict)
    from evotickets.commands.reporting import seed_subset

    with xr.open_dataset(tmp_path / "summary.nc", engine="h5netcdf") as f:
        whole = f.load()
    seed_subset(whole, [0])
    assert json.loads(whole.attrs["trained_on_by_seed"]) == by_seed
    ds.attrs["trained_on_by_seed"] = "{not json"
    ds.to_netcdf(tmp_path / "summary.nc", engine="h5netcdf")
    assert cli.main(["claims", str(tmp_path), "--seeds", "0,1"]) == 2


def test_an_analysis_row_of_a_round_collect_did_not_read_is_left_out():
    """An analysis made before its round's trained.h5 was deleted (for a rerun) still holds
    that round's row: collect run before the workflow remade both reported ρ beside the
    round's NaN metric. A consecutive barrier at t needs rounds t and t + 1."""
    from evotickets.analysis.collect import (
        _keep_consecutive_rounds,
        _keep_seed_pair_rounds,
        _only_finished_rounds,
    )

    ds = synthetic_summary()
    kept = np.broadcast_to(ds.remaining_fraction.values, ds.test_metric.shape).copy()
    ds["kept_fraction"] = (ds.test_metric.dims, kept)
    at = {"method": "snr", "seed": 0, "iteration": 2}
    ds.kept_fraction.loc[at] = np.nan  # seed 0's round 2 deleted
    ds.test_metric.loc[at] = np.nan
    for name in ("rho_snr_magnitude", "lmc_barrier_consecutive"):
        ds[name] = (ds.test_metric.dims, np.full(ds.test_metric.shape, 0.1), {"units": "1"})
    _only_finished_rounds(ds, {"rho_snr_magnitude", "lmc_barrier_consecutive"})
    _keep_consecutive_rounds(ds)  # _add_lmc's own rule, after the one-round rule
    chain = {"task": "digits", "strategy": "snes", "method": "snr", "seed": 0}
    rho = ds.rho_snr_magnitude.sel(chain).values
    np.testing.assert_array_equal(np.isnan(rho), [False, False, True, False, False])
    barrier = ds.lmc_barrier_consecutive.sel(chain).values  # t → t+1: 1→2, 2→3 and the last
    np.testing.assert_array_equal(np.isnan(barrier), [False, True, True, False, True])
    other = ds.rho_snr_magnitude.sel({**chain, "seed": 1}).values
    assert np.isfinite(other).all() and ds.rho_snr_magnitude.attrs == {"units": "1"}
    assert np.isfinite(ds.test_metric.sel({**chain, "seed": 1})).all()
    # the errors along α of a consecutive pair, and the seeds' barrier of seeds 0 ↔ 1
    dims = (*ds.test_metric.dims, "alpha")
    ds["lmc_errors_consecutive"] = (dims, np.full((*ds.test_metric.shape, 3), 0.2))
    seeds_dims = ("task", "strategy", "method", "iteration")
    ds["lmc_barrier_seeds"] = (seeds_dims, np.full((1, 1, 4, ROUNDS), 0.3), {"seed_pair": [0, 1]})
    _keep_consecutive_rounds(ds)
    _keep_seed_pair_rounds(ds, (0, 1))
    errors = ds.lmc_errors_consecutive.sel(chain).isnull().all("alpha").values
    np.testing.assert_array_equal(errors, [False, True, True, False, True])
    seeds = ds.lmc_barrier_seeds.sel({"task": "digits", "strategy": "snes", "method": "snr"})
    np.testing.assert_array_equal(seeds.isnull().values, [False, False, True, False, False])
    assert ds.lmc_barrier_seeds.sel({"method": "random"}).notnull().all()


def test_an_es_gd_barrier_needs_its_transferred_round_and_its_source_round_read():
    """The ES ↔ GD LMC at round t joins the source chain's round t (ES) and the transferred
    round t (GD): its value stands only where collect read both. The rule once sat in the
    one-round pass, which ran before the transfers were collected, so it never applied."""
    from evotickets.analysis.collect import _es_gd_rounds_read

    ds = synthetic_summary()
    kept = np.broadcast_to(ds.remaining_fraction.values, ds.test_metric.shape).copy()
    ds["kept_fraction"] = (ds.test_metric.dims, kept)
    ds.kept_fraction.loc[{"method": "snr", "seed": 1, "iteration": 3}] = np.nan
    dims = ("transfer", "seed", "iteration")
    moved = np.ones((2, ds.seed.size, ROUNDS))
    moved[0, 0, 1] = np.nan  # seed 0's transferred round 1 deleted
    ds = ds.assign_coords(transfer=["snes_to_adam", "other"])
    ds["transfer_kept_fraction"] = (dims, moved)
    seeds = list(ds.seed.values)
    read = _es_gd_rounds_read(ds, {"snes_to_adam": ("digits", "snes", "snr")}, seeds)
    assert read.shape == moved.shape
    expected = np.ones(moved.shape, bool)
    expected[0, 0, 1] = False  # its GD side
    expected[0, 1, 3] = False  # its ES side: the source chain's round
    expected[1] = False  # not an ES → GD transfer
    np.testing.assert_array_equal(read, expected)


def test_a_slope_claim_on_two_rounds_says_it_needs_three():
    """A 2-round run with the snr_magnitude analysis: claim 8 is untested (a slope per seed
    needs 3 finite rounds), and claims.md said it needed the analysis that had run."""
    ds = synthetic_summary().isel(iteration=slice(0, 2))
    ds["rho_snr_magnitude"] = (ds.test_metric.dims, np.full(ds.test_metric.shape, 0.5))
    rows = claims.claim_rows(ds)
    assert not [r for r in rows if r["claim"] == 8]
    assert "- claim 8: needs the snr_magnitude analysis on an ES snr or snr_study chain, over " \
        "at least 3 finished rounds" in claims.to_markdown(rows, [])  # fmt: skip
