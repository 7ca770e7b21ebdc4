"""Exact counts, the global threshold and its tie rule, nesting, and the random baseline."""

import jax
import numpy as np
import pytest

from evotickets import pruning
from evotickets.networks import init_params, layer_table, prunable_vector


@pytest.mark.parametrize(
    "n,expected",
    [
        (1864, [1864, 1491, 1193, 954, 763, 611]),  # digits CNN: 1864·0.8^t, half up
        (11240, [11240, 8992, 7194, 5755, 4604, 3683]),  # paper CNN, output layer pruned
    ],
)
def test_remaining_count_rounds_0_to_5(n, expected):
    assert [pruning.remaining_count(n, 0.2, t) for t in range(6)] == expected


def test_rounding_is_half_up_and_p_must_be_a_fraction():
    assert pruning.remaining_count(5, 0.5, 1) == 3  # 2.5 → 3 (round() would give 2)
    assert pruning.remaining_count(7, 0.5, 1) == 4  # 3.5 → 4
    # a true half of the decimal the config wrote rounds up: in floats 45·(1 − 0.3) is
    # 31.4999… and 50·0.7² is 24.4999…
    assert pruning.remaining_count(45, 0.3, 1) == 32
    assert pruning.remaining_count(50, 0.3, 2) == 25
    # 0.1 and 0.9 are stored just above their decimals, so reading the float itself (not the
    # decimal the config wrote) loses the half: 5·0.9 = 4.5 → 5 and 15·0.1 = 1.5 → 2
    assert pruning.remaining_count(5, 0.1, 1) == 5
    assert pruning.remaining_count(15, 0.9, 1) == 2
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="prune_fraction"):
            pruning.remaining_count(10, bad, 1)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 1864, 11240])
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9, 0.3])
def test_rounds_keeping_weights_is_where_the_count_first_reaches_zero(n, p):
    """The binary search against every round's count, up to past the first that keeps none."""
    counts = [pruning.remaining_count(n, p, t) for t in range(60)]
    for rounds in (1, 2, 5, 17, 40, 60):
        expected = next((t for t in range(rounds) if counts[t] < 1), rounds)
        assert pruning.rounds_keeping_weights(n, p, rounds) == expected, (n, p, rounds)
        if rounds > 1 and n and counts[1] == n:  # round 1 prunes none (n·p ≤ ½)
            assert n * p <= 0.5 and not pruning.round_one_prunes(n, p)
            with pytest.raises(ValueError, match=f"round 1 would keep all {n} prunable"):
                pruning.check_keeps_weights(n, p, rounds, "here")
        elif n and expected < rounds:
            with pytest.raises(ValueError, match=f"round {expected} would keep 0 of its {n}"):
                pruning.check_keeps_weights(n, p, rounds, "here")
        else:
            pruning.check_keeps_weights(n, p, rounds, "here")


def _network():
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    return table, prunable_vector(table)


def test_masks_nest_and_keep_exact_counts_and_biases():
    table, prunable = _network()
    rng = np.random.default_rng(0)
    mask = np.ones(prunable.size, bool)
    n = int(prunable.sum())
    for t in range(1, 6):
        theta = rng.normal(size=prunable.size)
        res = pruning.prune_to_count(
            np.abs(theta), mask, prunable, pruning.remaining_count(n, 0.2, t)
        )
        assert not np.any(res.mask & ~mask), "a pruned weight came back"
        assert (res.mask & prunable).sum() == pruning.remaining_count(n, 0.2, t)
        assert np.all(res.mask[~prunable]), "a bias was pruned"
        kept = res.mask & prunable
        dropped = mask & prunable & ~res.mask
        assert np.abs(theta[kept]).min() >= res.threshold >= np.abs(theta[dropped]).max()
        counts = pruning.layer_counts(res.mask, table)
        assert sum(counts[e.name] for e in table if e.prunable) == kept.sum()
        mask = res.mask


def test_global_threshold_gives_each_layer_its_own_ratio():
    table, prunable = _network()
    score = np.zeros(prunable.size)
    for e in table:  # make one layer's scores much larger than the others'
        score[e.offset : e.offset + e.size] = 10.0 if e.name == "Conv_1/kernel" else 1.0
    score += np.random.default_rng(1).uniform(0, 0.1, size=score.size)
    res = pruning.prune_to_count(score, np.ones_like(prunable), prunable, 1200)
    counts = pruning.layer_counts(res.mask, table)
    assert counts["Conv_1/kernel"] == 1152  # all kept
    assert counts["Conv_0/kernel"] + counts["Dense_0/kernel"] == 48


def test_ties_keep_the_earlier_position():
    prunable = np.ones(6, bool)
    score = np.array([1.0, 2.0, 1.0, 1.0, 0.5, 1.0])
    res = pruning.prune_to_count(score, np.ones(6, bool), prunable, 3)
    np.testing.assert_array_equal(res.mask, [True, True, True, False, False, False])
    assert res.threshold == 1.0


def test_ties_keep_the_earlier_position_in_a_large_array():
    """The tie rule holds where NumPy's default sort is not stable (above a few dozen entries,
    where SNIP's zero gradients, θ = 0 or a collapsed σ tie many scores): 143 ones and 857
    tied zeros, keep 300: the ones and the first 157 zeros by position."""
    score = np.zeros(1000)
    score[::7] = 1.0
    ones = np.ones(1000, bool)
    res = pruning.prune_to_count(score, ones, ones, 300)
    want = score == 1.0
    want[np.flatnonzero(~want)[: 300 - 143]] = True
    np.testing.assert_array_equal(res.mask, want)


def test_a_kept_weight_of_value_zero_stays_in_the_mask():
    prunable = np.array([True, True, True, False])
    theta = np.array([0.0, 3.0, 2.0, 0.0])  # weight 0 is exactly 0; weight 3 a zero bias
    res = pruning.prune_to_count(np.abs(theta), np.ones(4, bool), prunable, 3)
    assert res.mask.tolist() == [True, True, True, True]


def test_snr_divides_by_sigma_and_gives_pruned_weights_zero():
    theta = np.array([1.0, -2.0, 0.5, 0.0])
    sigma = np.array([0.5, 4.0, 0.1, 0.0])
    np.testing.assert_allclose(pruning.scores("snr", theta, sigma), [2.0, 0.5, 5.0, 0.0])
    np.testing.assert_allclose(pruning.scores("magnitude", theta), [1.0, 2.0, 0.5, 0.0])


def test_random_mask_matches_sparsity_and_differs_from_magnitude():
    _table, prunable = _network()
    n = int(prunable.sum())
    keep = pruning.remaining_count(n, 0.2, 3)
    perm = np.asarray(jax.random.permutation(jax.random.key(0), n))
    rnd = pruning.random_mask(prunable, keep, perm)
    theta = np.random.default_rng(0).normal(size=prunable.size)
    mag = pruning.prune_to_count(np.abs(theta), np.ones_like(prunable), prunable, keep)
    assert (rnd.mask & prunable).sum() == (mag.mask & prunable).sum() == keep
    assert np.all(rnd.mask[~prunable])
    assert (rnd.mask != mag.mask).sum() > 100


def test_nonfinite_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        pruning.prune_to_count(np.array([1.0, np.nan]), np.ones(2, bool), np.ones(2, bool), 1)
    with pytest.raises(pruning.NonFiniteScores, match="infinite"):  # as the message promises
        pruning.prune_to_count(np.array([1.0, np.inf, 0.5]), np.ones(3, bool), np.ones(3, bool), 2)


def test_kept_attrs_record_the_remaining_fraction_of_the_prunable_weights():
    """What mask.h5 and trained.h5 record, and the table's "remaining" column reads."""
    assert pruning.kept_attrs(1491, 1864) == {
        "kept_prunable": 1491,
        "num_prunable": 1864,
        "remaining_fraction": 1491 / 1864,
    }


@pytest.mark.parametrize("method", ["snr", "snr_study"])
@pytest.mark.parametrize("bad", [np.nan, -1.0, np.inf])
def test_a_corrupt_sigma_is_refused_not_pruned_first(method, bad):
    """A NaN, infinite or negative σ of an active weight is a corrupt artifact: an error, never the
    score 0 of a pruned weight (which would prune it first, silently)."""
    theta = np.array([0.5, 0.4, 0.3, 0.2, 0.1, 1.0])
    sigma = np.array([1.0, bad, 1.0, 1.0, 1.0, 1.0])
    score = pruning.scores(method, theta, sigma)
    assert np.isnan(score[1]) and np.isfinite(np.delete(score, 1)).all()
    with pytest.raises(ValueError, match="NaN or infinite pruning score"):
        pruning.prune_to_count(score, np.ones(6, bool), np.ones(6, bool), 3)


@pytest.mark.parametrize("method", ["snr", "snr_study"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_theta_with_a_collapsed_sigma_is_refused(method, bad):
    """σ = 0 scored 0 (pruned first, silently) where θ was NaN or inf: only a finite θ of
    σ = 0 has a score; like a NaN magnitude, a diverged weight stops the round."""
    score = pruning.scores(method, np.array([bad, 1.0, 2.0, 0.0]), np.array([0.0, 1, 1, 0]))
    assert np.isnan(score[0]) and score[3] == 0.0
    with pytest.raises(ValueError, match="NaN or infinite pruning score"):
        pruning.prune_to_count(score, np.ones(4, bool), np.ones(4, bool), 2)


@pytest.mark.parametrize("method", ["snr", "snr_study"])
def test_a_finite_snr_beyond_float32_is_ranked_not_refused(method):
    """|θ|/σ² of float32 inputs overflows float32 once σ is below ≈ 1e-19: a finite score,
    ranked above every other, not inf (which prune_to_count refuses as a diverged round)."""
    theta = np.float32([1.0, 1.0, 2.0, 0.5])
    sigma = np.float32([1e-23, 1e-20, 1.0, 1e-39])
    score = pruning.scores(method, theta, sigma)
    assert np.isfinite(score).all()
    kept = pruning.prune_to_count(score, np.ones(4, bool), np.ones(4, bool), 3).mask
    assert kept.tolist() == [True, True, False, True]  # the three tiny σ rank first
    plain = np.float32([0.5, 0.4]), np.float32([0.5, 0.25])
    assert pruning.scores(method, *plain).dtype == np.float32  # unchanged where none overflows


def test_every_chain_that_has_sigma_is_analysed_with_an_snr_score():
    """The snr_magnitude analysis scores a chain by its own SNR definition, and dynamic
    sparse chains (σ but no score of their own) by snr: it failed on them before."""
    theta, sigma = np.array([1.0, 0.5, 0.2]), np.array([0.1, 0.5, 0.1])
    for method in pruning.METHODS:
        score = pruning.snr_score_of(method)
        assert np.isfinite(pruning.scores(score, theta, sigma)).all(), method
    assert pruning.snr_score_of("snr_study") == "snr_study"
    assert pruning.snr_score_of("dynamic_random") == pruning.snr_score_of("magnitude") == "snr"


def test_heuristic_scores_of_fig9():
    theta0 = np.array([0.5, -1.0, 0.0, 2.0])
    theta = np.array([1.5, -0.5, 0.3, 2.0])
    np.testing.assert_allclose(pruning.scores("movement", theta, theta0=theta0), [1, 0.5, 0.3, 0])
    np.testing.assert_allclose(
        pruning.scores("magnitude_increase", theta, theta0=theta0), [1, -0.5, 0.3, 0]
    )
    np.testing.assert_allclose(
        pruning.scores("init_magnitude", theta, theta0=theta0), [0.5, 1, 0, 2]
    )
    with pytest.raises(ValueError, match="θ0"):
        pruning.scores("movement", theta)


def test_init_schemes_scale_the_kernels():
    stds = {}
    for scheme in ("lecun_normal", "he_normal", "xavier_normal", "flax_default"):
        theta = init_params("cnn", (28, 28, 1), jax.random.key(0), scheme)
        stds[scheme] = theta["Dense_0/kernel"].std()
        assert theta["Conv_0/bias"].min() >= 0 and np.all(theta["Dense_0/bias"] == 0)
    assert stds["he_normal"] / stds["lecun_normal"] == pytest.approx(np.sqrt(2), rel=0.05)
    assert stds["flax_default"] == stds["lecun_normal"]
    # xavier: 2 / (fan_in + fan_out) = 2 / 794 against lecun's 1 / 784
    assert stds["xavier_normal"] / stds["lecun_normal"] == pytest.approx(
        np.sqrt(2 * 784 / 794), rel=0.05
    )


def test_a_policys_init_scheme_is_the_configured_one():
    """Control tasks take ``init`` too (and the digest names it): θ0's hidden kernel has He's
    std √(2/64) under he_normal, against flax's default √(1/64)."""
    from evotickets.tasks import init_theta

    settings = {"task": "pendulum", "network": "mlp", "hidden": [64, 64]}
    stds = {
        scheme: init_theta({**settings, "init": scheme}, jax.random.key(0))["Dense_1/kernel"].std()
        for scheme in ("flax_default", "he_normal")
    }
    assert stds["he_normal"] == pytest.approx(np.sqrt(2 / 64), rel=0.05)
    assert stds["flax_default"] == pytest.approx(np.sqrt(1 / 64), rel=0.05)


def test_snr_study_ranks_like_theta_over_c_and_differs_from_snr():
    # Sep-CMA-ES: σ = std·√C with a scalar std. The study's |θ|/C and our |θ|/σ disagree when
    # a large weight also has a large C: |θ|/C weighs C twice as strongly.
    std = 0.05
    theta = np.array([1.0, 0.6, 0.2, 0.0])
    c = np.array([4.0, 1.0, 0.25, 1.0])
    sigma = std * np.sqrt(c)
    study = pruning.scores("snr_study", theta, sigma)
    ours = pruning.scores("snr", theta, sigma)
    np.testing.assert_allclose(std**2 * study, theta / c)  # |θ|/C up to the constant std²
    assert list(np.argsort(-(theta / c))) == list(np.argsort(-study))
    # |θ|/σ = 10, 12, 8, 0 keeps weight 1; |θ|/C = 0.25, 0.6, 0.8, 0 keeps weight 2.
    keep_ours = pruning.prune_to_count(ours, np.ones(4, bool), np.ones(4, bool), 1).mask
    keep_study = pruning.prune_to_count(study, np.ones(4, bool), np.ones(4, bool), 1).mask
    assert keep_ours.tolist() == [False, True, False, False]
    assert keep_study.tolist() == [False, False, True, False]
    # pruned weights (θ = 0, σ = 0, as trained.h5 stores them) score 0, as for snr
    assert pruning.scores("snr_study", np.array([0.0]), np.array([0.0]))[0] == 0.0


@pytest.mark.parametrize("method", ["snr", "snr_study"])
def test_an_active_weight_whose_sigma_collapsed_to_zero_is_kept_first(method):
    """|θ|/σ with σ = 0 and θ ≠ 0 is infinite: the search is certain of that weight. It
    scored 0 (pruned first, the opposite of the rule) when σ = 0 meant only "pruned"."""
    theta = np.array([0.5, 0.1, 0.0, 0.3], np.float32)
    sigma = np.array([0.1, 0.0, 0.0, 0.1], np.float32)  # weight 2 pruned, weight 1 collapsed
    score = pruning.scores(method, theta, sigma)
    assert score.dtype == np.float32 and np.isfinite(score).all()
    assert score[1] > score[0] > score[3] > score[2] == 0.0
    active = np.array([True, True, False, True])
    kept = pruning.prune_to_count(score, active, np.ones(4, bool), 2).mask
    assert kept.tolist() == [True, True, False, False]


def test_snr_study_of_a_zero_weight_with_an_underflowing_sigma_squared_is_zero():
    """σ² of σ = 1e-30 underflows to 0 in float32: θ = 0 scored 0/0 = NaN, which refused
    the whole round as diverged; in float64 it is 0, and a weight θ ≠ 0 ranks above."""
    theta = np.array([0.0, 1e-3, 0.2], np.float32)
    sigma = np.array([1e-30, 1e-30, 0.1], np.float32)
    score = pruning.scores("snr_study", theta, sigma)
    assert np.isfinite(score).all() and score[0] == 0.0
    assert score[1] > score[2] > score[0]


def test_snr_study_runs_for_sep_cma_es_only():
    from evotickets.config import chain_methods, method_applies

    cfg = {"methods": ["random", "snr", "snr_study"], "strategies": {}, "gd": {}}
    assert chain_methods(cfg, "sep_cma_es") == ["random", "snr", "snr_study"]
    assert chain_methods(cfg, "snes") == ["random", "snr"]
    assert chain_methods(cfg, "gd_adam") == ["random"]
    assert not method_applies("snr_study", "pgpe")


def test_strategy_methods_narrow_one_strategys_chains():
    from evotickets.config import ConfigError, chains, validate_config

    cfg = {
        "experiment": "x",
        "seeds": [0],
        "rounds": 2,
        "prune_fraction": 0.2,
        "methods": ["random", "magnitude", "snr", "weight_permuted"],
        "tasks": {"digits": {}},
        "strategies": {"snes": {"population_size": 4, "std_init": 0.1}},
        "gd": {"gd_adam": {}},
        "es": {"num_generations": 1},
        "strategy_methods": {"gd_adam": ["random", "magnitude"]},
    }
    got = {(s, m) for _, s, m, _ in chains(validate_config(dict(cfg)))}
    assert got == {
        ("snes", "random"),
        ("snes", "magnitude"),
        ("snes", "snr"),
        ("snes", "weight_permuted"),
        ("gd_adam", "random"),
        ("gd_adam", "magnitude"),
    }
    with pytest.raises(ConfigError, match="strategy_methods"):
        validate_config({**cfg, "strategy_methods": {"pgpe": ["random"]}})


def test_round0_donor_is_a_method_without_settings_of_its_own():
    """A donor's round 0 is copied under another method's digest (ChainSettings.with_method
    drops method_config), so a method with a config block or a fixed definition (grasp has
    both) never donates; the permutation controls wait for magnitude and never do either."""
    from evotickets.pruning import PruningMethod, round0_donor

    assert PruningMethod("x", "previous", definition=(("a", "b"),)).has_settings
    assert not pruning.REGISTRY["magnitude"].has_settings
    assert round0_donor(["grasp", "snip", "weight_permuted", "magnitude"]) == "magnitude"
    assert round0_donor(["grasp", "dynamic_random"]) is None


def test_a_registry_entry_names_a_regrowth_dynamic_sparse_es_knows():
    """A misspelt regrowth would have trained as gradient regrowth (anything not `random`)."""
    from evotickets.pruning import REGROWTHS, PruningMethod

    with pytest.raises(ValueError, match="regrow 'rigl' is not one of"):
        PruningMethod("x", "key", regrow="rigl")
    assert {m.regrow for m in pruning.REGISTRY.values()} == {None, *REGROWTHS}


def test_the_odds_of_a_random_mask_emptying_a_layer():
    """Exact small cases, and a Monte Carlo check of the paper's Pendulum policy at its last
    round (63 of 4,352 weights over layers of 192, 4,096 and 64): a global random mask keeps
    no weight of some layer with probability ≈ 0.43."""
    assert pruning.emptied_layer_probability([1, 3], 1) == pytest.approx(1.0)  # one layer left
    assert pruning.emptied_layer_probability([2, 2], 2) == pytest.approx(1 / 3)  # both in one
    assert pruning.emptied_layer_probability([2, 2], 3) == 0.0  # 3 of 4 reach both layers
    assert pruning.emptied_layer_probability([5], 1) == 0.0  # one layer: never empty
    sizes, keep = [192, 4096, 64], 63
    exact = pruning.emptied_layer_probability(sizes, keep)
    rng = np.random.default_rng(0)
    layer = np.repeat(np.arange(3), sizes)
    draws = 20_000
    hits = sum(
        np.unique(layer[rng.choice(layer.size, keep, replace=False)]).size < 3 for _ in range(draws)
    )
    assert exact == pytest.approx(hits / draws, abs=4 * np.sqrt(0.25 / draws))
    assert exact == pytest.approx(0.426, abs=0.001)
