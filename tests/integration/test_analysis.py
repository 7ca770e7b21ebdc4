"""Analyses: LMC barrier, quadratic curvature, filter normalisation, SNR–magnitude."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from evotickets.analysis import connectivity, correlation, landscape
from evotickets.networks import LayerEntry, init_params, layer_table, prunable_vector, to_vector

#: A chain round's mask, which every trained.h5 holds (collect reads it: layers_emptied)
A_MASK = {"mask/Dense_0/kernel": np.ones((2, 2), bool)}


#: Two observation statistics of a 3-observation control task, far enough apart that a
#: policy's return differs under them
OBSERVATION_STATES = (
    {"obs_mean": np.zeros(3), "obs_var": np.ones(3), "obs_count": np.array(100.0)},
    {
        "obs_mean": np.array([0.9, -0.5, 3.0]),
        "obs_var": np.array([0.01, 0.04, 0.25]),
        "obs_count": np.array(5000.0),
    },
)


def _pendulum_with_statistics(tmp_path, tiny_config, analysis: str):
    """A small Pendulum chain with running observation statistics and ``analysis`` enabled:
    (cfg, chain settings, init.h5, θ0's params, layer table)."""
    import json

    from evotickets import cli
    from evotickets.artifacts import read_artifact
    from evotickets.config import chain_settings, init_settings, validate_config
    from evotickets.networks import layer_table

    tiny_config["tasks"] = {
        "pendulum": {
            "hidden": [8],
            "n_repeats": 1,
            "max_steps": 30,
            "n_test": 2,
            "obs_normalization": True,
        }
    }
    tiny_config["analyses"] = {"enabled": [analysis]}
    cfg = validate_config(tiny_config)
    settings = chain_settings(cfg, "pendulum", "snes", "snr", 0)
    init = tmp_path / "init.h5"
    init_json = json.dumps(init_settings(cfg, "pendulum", 0))
    assert cli.main(["init", "--settings", init_json, "--out", str(init)]) == 0
    params = {k[len("params/") :]: v for k, v in read_artifact(init, "init")[0].items()}
    return cfg, settings, init, params, layer_table(params)


def _policy_round(path, params, state, r: int, digest: str) -> None:
    """A trained.h5 of the Pendulum chain at round ``r``: θ0 whole, under ``state``."""
    from evotickets.artifacts import write_artifact

    write_artifact(
        path,
        "trained",
        {
            **{f"params/{k}": v for k, v in params.items()},
            **{f"sigma/{k}": np.ones_like(v) for k, v in params.items()},
            **{f"mask/{k}": np.ones(v.shape, bool) for k, v in params.items()},
            **{f"task_state/{k}": v for k, v in state.items()},
        },
        {
            "round": r,
            "task": "pendulum",
            "strategy": "snes",
            "method": "snr",
            "metric_name": "test_return",
            "final_metric": -150.0,
            "remaining_fraction": 1.0,
        },
        config_digest=digest,
        seed=0,
    )


def test_barrier_of_a_network_with_itself_is_zero():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=50).astype(np.float32)

    def error_fn(points):  # any deterministic error of the parameters
        return np.tanh(np.abs(points).sum(axis=1) / 50.0)

    errors, b = connectivity.lmc(error_fn, theta, theta, connectivity.alpha_grid(21))
    assert b == pytest.approx(0.0, abs=1e-7)
    assert np.ptp(errors) == pytest.approx(0.0, abs=1e-7)


def test_barrier_equals_a_known_bump():
    e1 = np.zeros(5, np.float32)
    e1[0] = 1.0

    def error_fn(points):  # on the path (2α−1)·e1: 0.1 at both ends, 0.1 + 0.3 at α = 0.5
        x = points[:, 0]
        return 0.1 + 0.3 * (1.0 - x**2)

    errors, b = connectivity.lmc(error_fn, e1, -e1, connectivity.alpha_grid(21))
    assert b == pytest.approx(0.3, abs=1e-6)
    assert errors[0] == pytest.approx(0.1) and errors[-1] == pytest.approx(0.1)
    # An asymmetric pair: end points 0.2 and 0.6, bump of 0.25 on top of the line.
    alphas = connectivity.alpha_grid(21)
    line = alphas * 0.2 + (1 - alphas) * 0.6
    bump = 0.25 * np.exp(-((alphas - 0.3) ** 2) / 0.002)
    assert connectivity.barrier(line + bump, alphas) == pytest.approx(0.25, rel=1e-3)


def test_barrier_refuses_a_non_finite_error_on_the_path():
    """A NaN or infinite error between two finite ends used to give a NaN barrier, which
    the claims stage drops as a missing seed without a word."""
    alphas = connectivity.alpha_grid(5)
    for bad in (np.nan, np.inf):
        errors = np.array([0.1, 0.2, bad, 0.2, 0.1])
        with pytest.raises(ValueError, match=r"1 of the 5 errors .*\(α = 0.5: (nan|inf)\)"):
            connectivity.barrier(errors, alphas)


def test_quadratic_fit_recovers_curvature():
    xis = np.linspace(-1, 1, 21)
    rng = np.random.default_rng(1)
    losses = np.stack([0.5 * k * xis**2 + 0.3 * xis + 2.0 for k in (0.5, 2.0, 8.0)])
    np.testing.assert_allclose(landscape.quadratic_curvature(xis, losses), [0.5, 2.0, 8.0])
    noisy = losses + rng.normal(0, 1e-3, losses.shape)
    np.testing.assert_allclose(
        landscape.quadratic_curvature(xis, noisy), [0.5, 2.0, 8.0], atol=0.02
    )
    # a direction whose loss overflows at the far end is NaN alone; the others keep theirs
    losses[1, -1] = np.inf
    np.testing.assert_allclose(landscape.quadratic_curvature(xis, losses), [0.5, np.nan, 8.0])
    # the round's log says why its mean is NaN (it printed "curvature nan" alone)
    from evotickets.commands.analysis import _nonfinite_note

    note = _nonfinite_note(landscape.quadratic_curvature(xis, losses))
    assert "1 of 3 directions reach a non-finite loss" in note and "NaN" in note
    assert _nonfinite_note(np.array([0.5, 2.0])) == ""


def test_projection_1d_recovers_curvature_of_a_quadratic_loss():
    d = 30
    hess = np.linspace(0.5, 3.0, d)

    def loss_fn(points):
        return 0.5 * np.sum(hess * points**2, axis=1)

    active = np.ones(d, bool)
    dirs = landscape.random_directions(np.random.default_rng(0).standard_normal((3, d)), active)
    xis = np.linspace(-1, 1, 11)
    losses = landscape.projection_1d(loss_fn, np.zeros(d, np.float32), dirs, xis)
    expected = np.sum(hess * dirs**2, axis=1)  # ηᵀHη
    np.testing.assert_allclose(landscape.quadratic_curvature(xis, losses), expected, rtol=1e-4)


def test_random_directions_live_on_the_active_weights():
    active = np.array([True, False, True, False])
    d = landscape.random_directions(np.random.default_rng(0).standard_normal((4, 4)), active)
    assert np.all(d[:, ~active] == 0) and np.all(d[:, active] != 0)


def test_filter_normalisation_matches_reference_filter_norms():
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    ref = to_vector(theta, table)
    d = landscape.filter_normalize(np.random.default_rng(0).standard_normal(ref.size), ref, table)
    for e in table:
        sl = slice(e.offset, e.offset + e.size)
        if e.name.endswith("bias"):
            assert np.all(d[sl] == 0)
            continue
        axes = tuple(range(len(e.shape) - 1))
        got = (
            np.linalg.norm(d[sl].reshape(e.shape), axis=axes)
            if len(axes) == 1
            else np.sqrt(np.sum(d[sl].reshape(e.shape) ** 2, axis=axes))
        )
        want = np.sqrt(np.sum(ref[sl].reshape(e.shape).astype(np.float64) ** 2, axis=axes))
        np.testing.assert_allclose(got, want, rtol=1e-5)
        assert not np.allclose(d[sl], ref[sl])  # a new direction, not the reference


def test_surface_2d_axes():
    def loss_fn(points):
        return points[:, 0] * 10 + points[:, 1]

    grid = np.array([-1.0, 0.0, 1.0])
    d1, d2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    surf = landscape.surface_2d(loss_fn, np.zeros(2, np.float32), d1, d2, grid)
    np.testing.assert_allclose(surf[:, 1], [-10, 0, 10])  # rows follow d1
    np.testing.assert_allclose(surf[1, :], [-1, 0, 1])  # columns follow d2


def test_snr_magnitude_correlation_and_thresholds():
    theta0 = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta0)
    prunable = prunable_vector(table)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=prunable.size)
    mask = np.ones(prunable.size, bool)
    same = correlation.snr_magnitude_round(theta, np.full(theta.size, 0.1), mask, prunable, 1000)
    assert same["rho_snr_magnitude"] == pytest.approx(1.0)  # scalar σ: SNR ranks = |θ| ranks
    assert same["overlap_kept"] == pytest.approx(1.0)
    assert same["threshold_snr"] == pytest.approx(same["threshold_magnitude"] / 0.1)
    noisy = correlation.snr_magnitude_round(
        theta, rng.uniform(0.01, 1, theta.size), mask, prunable, 1000
    )
    assert 0.0 < noisy["rho_snr_magnitude"] < 0.95 and noisy["overlap_kept"] < 1.0
    # why SNR can differ from magnitude: σ's spread, and how σ follows |θ|
    assert same["sigma_cv"] == pytest.approx(0.0)
    assert np.isnan(same["rho_sigma_abs_theta"])  # constant σ: no ranking
    sigma = 0.05 + 0.1 * np.abs(theta)  # σ grows with |θ|
    tied = correlation.snr_magnitude_round(theta, sigma, mask, prunable, 1000)
    active = prunable
    expected_cv = sigma[active].std() / sigma[active].mean()
    assert tied["sigma_cv"] == pytest.approx(expected_cv)
    assert tied["rho_sigma_abs_theta"] == pytest.approx(1.0)
    # the study's |θ|/σ² ranks differently from our |θ|/σ when σ follows |θ|
    study = correlation.snr_magnitude_round(
        theta, sigma, mask, prunable, 1000, snr_method="snr_study"
    )
    assert study["rho_snr_magnitude"] < tied["rho_snr_magnitude"]


def test_an_emptied_layer_has_no_mean_weight_and_two_values_no_rank_correlation():
    """A tensor the mask keeps nothing of: kept ratio 0 and no mean |θ| or σ (NaN, not 0,
    which Fig. 11 would draw as a measured value); Spearman's ρ of two values is ±1 by
    arithmetic, so it is NaN, as for a constant side."""
    theta = np.array([0.5, -0.2, 0.1, 0.3])
    table = [LayerEntry("a", (2,), 0, True), LayerEntry("b", (2,), 2, True)]
    out = correlation.layerwise(theta, np.ones(4), np.array([True, True, False, False]), table)
    assert out["b"]["kept_ratio"] == 0.0
    assert np.isnan(out["b"]["mean_abs_theta"]) and np.isnan(out["b"]["mean_sigma"])
    assert out["a"]["mean_abs_theta"] == pytest.approx(0.35)
    assert np.isnan(correlation.spearman(np.array([1.0, 2.0]), np.array([2.0, 1.0])))


def test_layerwise_ratios():
    theta0 = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta0)
    theta = to_vector(theta0, table)
    mask = np.ones(theta.size, bool)
    first = table[1]  # Conv_0/kernel
    mask[first.offset : first.offset + first.size // 2] = False
    out = correlation.layerwise(theta, np.ones_like(theta), mask, table)
    assert out["Conv_0/kernel"]["kept_ratio"] == pytest.approx(1 - (first.size // 2) / first.size)
    assert out["Conv_1/kernel"]["kept_ratio"] == 1.0
    assert out["Dense_0/bias"]["mean_abs_theta"] == 0.0
    # a gradient-descent network has no σ: its ratios and |θ| as before, σ NaN (it crashed)
    gd = correlation.layerwise(theta, None, mask, table)
    assert gd["Conv_0/kernel"]["kept_ratio"] == out["Conv_0/kernel"]["kept_ratio"]
    assert np.isnan(gd["Conv_0/kernel"]["mean_sigma"])


def _kernel_filter_norms(v, table, mask=None):
    """Per-filter norms of every kernel of a flat vector (masked entries count as 0)."""
    v = np.where(mask, v, 0.0) if mask is not None else v
    out = []
    for e in table:
        if e.name.endswith("kernel"):
            block = v[e.offset : e.offset + e.size].reshape(e.shape).astype(np.float64)
            out.append(np.sqrt(np.sum(block**2, axis=tuple(range(len(e.shape) - 1)))))
    return np.concatenate(out)


@pytest.fixture
def cnn():
    theta0 = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta0)
    return to_vector(theta0, table), table, prunable_vector(table)


def test_filter_normalised_1d_curvature_does_not_shrink_with_active_weights(cnn):
    """On loss ½‖θ‖² the curvature along η is ‖η‖². Raw Gaussian directions give ≈ D_active, so
    a network with 10% of its weights looks 10× flatter; filter-normalised directions give
    ‖θ_active kernels‖², the size of the network being probed, whatever D_active is."""
    theta, table, prunable = cnn

    def loss_fn(points):
        return 0.5 * np.sum(points.astype(np.float64) ** 2, axis=1)

    xis = np.linspace(-1, 1, 5)
    rng = np.random.default_rng(0)
    keep_10 = ~prunable | (rng.uniform(size=theta.size) < 0.1)
    for mask in (np.ones(theta.size, bool), keep_10):
        th = np.where(mask, theta, 0.0).astype(np.float32)
        curv = {}
        for norm in ("raw", "filter"):
            g = np.random.default_rng(1).standard_normal((3, theta.size))
            dirs = landscape.directions_1d(g, th, mask, table, norm)
            assert np.all(dirs[:, ~mask] == 0)  # pruned weights stay pruned
            losses = landscape.projection_1d(loss_fn, th, dirs, xis)
            curv[norm] = landscape.quadratic_curvature(xis, losses)
        np.testing.assert_allclose(curv["raw"], mask.sum(), rtol=0.1)
        size = np.sum(_kernel_filter_norms(th, table) ** 2)
        np.testing.assert_allclose(curv["filter"], size, rtol=1e-4)
        g = np.random.default_rng(1).standard_normal((1, theta.size))
        d = landscape.directions_1d(g, th, mask, table, "filter")[0]
        np.testing.assert_allclose(
            _kernel_filter_norms(d, table), _kernel_filter_norms(th, table), rtol=1e-5, atol=1e-7
        )
    with pytest.raises(ValueError, match="direction_norm"):
        landscape.directions_1d(rng.standard_normal((1, theta.size)), theta, keep_10, table, "unit")


def test_2d_axes_are_renormalised_to_each_rounds_filters(cnn):
    """The shared round-0 pattern, masked, has each filter rescaled to what is left of the
    round's network: a filter that kept 30% of θ's norm gets a 30% direction, not θ0's."""
    theta, table, prunable = cnn
    rng = np.random.default_rng(0)
    d1, d2 = rng.standard_normal((2, theta.size))
    mask = ~prunable | (rng.uniform(size=theta.size) < 0.3)
    late = np.where(mask, 0.5 * theta, 0.0).astype(np.float32)  # a sparser, smaller network
    e1, e2 = landscape.directions_2d(d1, d2, late, mask, table)
    for e, d in ((e1, d1), (e2, d2)):
        assert np.all(e[~mask] == 0)
        np.testing.assert_allclose(
            _kernel_filter_norms(e, table), _kernel_filter_norms(late, table), rtol=1e-5, atol=1e-7
        )
        # the same random pattern, only rescaled per filter: cosine 1 on every filter
        k = next(x for x in table if x.name.endswith("kernel"))
        a = e[k.offset : k.offset + k.size].reshape(-1, k.shape[-1])
        b = (d * mask)[k.offset : k.offset + k.size].reshape(-1, k.shape[-1])
        alive = np.linalg.norm(b, axis=0) > 0  # a fully pruned filter has no direction
        a, b = a[:, alive], b[:, alive]
        cos = np.sum(a * b, 0) / np.linalg.norm(a, axis=0) / np.linalg.norm(b, axis=0)
        np.testing.assert_allclose(cos, 1.0, atol=1e-5)


def test_direction_norm_reaches_the_landscape_settings(tiny_config):
    """The key is part of the options the landscape rule passes (and digests): filter by
    default, raw on request, anything else a config error naming the key."""
    from evotickets.config import ConfigError, analysis_options, digest, validate_config

    filt = analysis_options(validate_config(tiny_config), "landscape")
    assert filt["direction_norm"] == "filter"
    tiny_config["analyses"]["landscape"]["direction_norm"] = "raw"
    raw = analysis_options(validate_config(tiny_config), "landscape")
    assert raw["direction_norm"] == "raw" and digest(raw) != digest(filt)
    tiny_config["analyses"]["landscape"]["direction_norm"] = "unit"
    with pytest.raises(ConfigError, match="direction_norm"):
        validate_config(tiny_config)


def test_states_are_interpolated_with_the_weights():
    sa = {"obs_mean": np.array([1.0, -2.0]), "obs_var": np.array([4.0, 1.0]), "obs_count": 10.0}
    sb = {"obs_mean": np.array([3.0, 0.0]), "obs_var": np.array([1.0, 9.0]), "obs_count": 30.0}
    alphas = connectivity.alpha_grid(3)  # 0, 0.5, 1: θb, midpoint, θa
    s = connectivity.interpolate_states(sa, sb, alphas)
    np.testing.assert_allclose(s["obs_mean"], [[3.0, 0.0], [2.0, -1.0], [1.0, -2.0]])
    np.testing.assert_allclose(s["obs_var"][[0, -1]], [sb["obs_var"], sa["obs_var"]])
    np.testing.assert_allclose(s["obs_count"], [30.0, 20.0, 10.0])
    assert connectivity.interpolate_states({}, {}, alphas) == {}
    with pytest.raises(ValueError, match="different task states"):
        connectivity.interpolate_states(sa, {}, alphas)
    with pytest.raises(ValueError, match="'obs_mean' has shape"):
        connectivity.interpolate_states(sa, {**sb, "obs_mean": np.zeros(3)}, alphas)


def test_lmc_scores_each_end_under_its_own_observation_statistics(tmp_path, tiny_config, capsys):
    """Two copies of one policy with different observation statistics (as an ES and a PPO
    network of a brax task have): the path's ends are the returns each network gets under its
    own statistics, not both under the left one's."""
    import json

    from evotickets import cli
    from evotickets.artifacts import REQUIRED_ATTRS, read_artifact, write_artifact
    from evotickets.config import chain_spec
    from evotickets.networks import to_vector
    from evotickets.settings import TransferSettings
    from evotickets.tasks import make_task

    cfg, settings, init, params, table = _pendulum_with_statistics(tmp_path, tiny_config, "lmc")
    s = json.dumps(settings)
    theta = to_vector(params, table)
    states = dict(zip(("left", "right"), OBSERVATION_STATES, strict=True))
    # the left end is the --settings chain's round; the right the transfer chain's
    source = chain_spec(cfg, "pendulum", "snes", "snr", 0)
    transfer = TransferSettings(
        "to_ppo", "es_gd", 0, source, chain_spec(cfg, "pendulum", "snes", "transfer", 0)
    )
    digests = {"left": source.digest(), "right": transfer.digest()}
    for side, state in states.items():
        _policy_round(tmp_path / f"{side}.h5", params, state, 0, digests[side])
    out = tmp_path / "lmc.h5"
    argv = ["lmc", "--kind", "es_gd", "--settings", s, "--analysis", '{"alphas": 3}']
    argv += ["--init", str(init), "--left", str(tmp_path / "left.h5")]
    argv += ["--right", str(tmp_path / "right.h5"), "--out", str(out)]
    capsys.readouterr()
    assert cli.main(argv) == 2  # whose rounds --right are must be given, and is checked
    assert "needs --right-settings" in capsys.readouterr().err
    assert cli.main([*argv, "--right-settings", "{}"]) == 2
    assert "--right-settings of lmc --kind es_gd" in capsys.readouterr().err
    other = TransferSettings("to_ppo", "es_gd", 0, source, source).to_json()
    assert cli.main([*argv, "--right-settings", other]) == 2
    assert "right.h5 was made from other settings" in capsys.readouterr().err
    argv += ["--right-settings", transfer.to_json()]
    assert cli.main(argv) == 0
    errors = read_artifact(out, "analysis")[0]["errors"][0]  # α = 0 (right) … α = 1 (left)
    task = make_task("pendulum", settings["task_config"], table)
    own = {
        side: -float(
            task.evaluate(theta, task.test_data, {k: np.float32(v) for k, v in st.items()})
        )
        for side, st in states.items()
    }
    assert abs(own["left"] - own["right"]) > 1.0  # the statistics matter to this policy
    np.testing.assert_allclose(errors[[0, -1]], [own["right"], own["left"]], rtol=1e-4)
    # a left end of other settings than --settings is refused, naming it
    left = read_artifact(tmp_path / "left.h5", "trained")
    kept = {k: left[1][k] for k in REQUIRED_ATTRS["trained"]}  # all but the digest
    write_artifact(tmp_path / "left.h5", "trained", left[0], kept, config_digest="other", seed=0)
    capsys.readouterr()
    assert cli.main(argv) == 2
    assert "left.h5 was made from other settings" in capsys.readouterr().err


def test_es_gd_barriers_are_collected_and_drawn(tmp_path, tiny_config):
    """lmc_es_gd.h5 of every ES → GD transfer and seed lands in summary.nc on the transfer dims
    (other transfers NaN), and Fig. 6's last panel draws its mean over seeds."""
    from evotickets import paths
    from evotickets.analysis.collect import collect
    from evotickets.artifacts import write_artifact
    from evotickets.config import analysis_options, chain_spec, transfer_spec, validate_config
    from evotickets.plots.figures import fig6
    from evotickets.settings import LmcOptions, analysis_digest

    tiny_config["gd"] = {"gd_adam": {"epochs": 1}}
    tiny_config["strategies"]["pgpe"] = {"population_size": 16, "std_init": 0.05}
    tiny_config["transfer"] = [
        {
            "name": "snes_to_pgpe",
            "source": {"task": "digits", "strategy": "snes"},
            "target": {"task": "digits", "strategy": "pgpe"},
        },
        {
            "name": "snes_to_adam",
            "source": {"task": "digits", "strategy": "snes"},
            "target": {"task": "digits", "strategy": "gd_adam"},
        },
    ]
    cfg = validate_config(tiny_config)
    alphas = connectivity.alpha_grid(5)
    barriers = {0: [0.1, 0.2, 0.4], 1: [0.3, 0.4, 0.2]}  # means over seeds differ per round
    for seed, bars in barriers.items():
        folder = tmp_path / "transfer" / "snes_to_adam" / f"seed{seed}" / "analysis"
        folder.mkdir(parents=True)
        write_artifact(
            folder / "lmc_es_gd.h5",
            "analysis",
            {
                "alpha": alphas,
                "errors": np.outer(bars, np.ones(alphas.size)) + seed,
                "barrier": np.asarray(bars),
                "round_left": np.arange(3),
                "round_right": np.arange(3),
                "remaining_left": 0.8 ** np.arange(3),
            },
            {"analysis": "lmc", "pair_kind": "es_gd"},
            config_digest=analysis_digest(
                chain_spec(cfg, "digits", "snes", "snr", seed),
                LmcOptions.from_dict(analysis_options(cfg, "lmc")),
            ),
            seed=seed,
        )
    # read for the rounds collect reads: both sides, the source chain's and the transferred
    assert np.isnan(collect(cfg, tmp_path).lmc_barrier_es_gd.max())
    sides = (
        (("digits", "snes", "snr"), "snes", "snr", paths.round_file),
        (("snes_to_adam",), "gd_adam", "snes_to_adam", paths.transfer_round_file),
    )
    for seed in barriers:
        for r in range(3):
            for fields, strategy, method, path_of in sides:
                spec = (
                    chain_spec(cfg, *fields, seed)
                    if len(fields) == 3
                    else transfer_spec(cfg, fields[0], seed)
                )
                attrs = {"task": "digits", "strategy": strategy, "method": method, "round": r,
                         "remaining_fraction": 0.8**r, "final_metric": 0.9,
                         "metric_name": "test_accuracy"}  # fmt: skip
                trained = path_of("trained.h5", None, *fields, seed, r, root=tmp_path)
                write_artifact(
                    trained, "trained", A_MASK, attrs, config_digest=spec.digest(), seed=seed
                )
    ds = collect(cfg, tmp_path)
    # every finished transferred round's mask was read: none empties a layer
    emptied = ds.transfer_layers_emptied
    assert int(emptied.count()) == int(ds.transfer_kept_fraction.count()) > 0
    assert float(emptied.max()) == 0
    b = ds.lmc_barrier_es_gd
    assert b.dims == ("transfer", "seed", "iteration") and "units" in b.attrs
    np.testing.assert_allclose(b.sel(transfer="snes_to_adam").values, [barriers[0], barriers[1]])
    assert np.all(np.isnan(b.sel(transfer="snes_to_pgpe").values))  # ES → ES: no such pair
    assert ds.lmc_errors_es_gd.dims == ("transfer", "seed", "iteration", "alpha")
    np.testing.assert_allclose(ds.alpha.values, alphas)
    np.testing.assert_allclose(ds.lmc_errors_es_gd.sel(transfer="snes_to_adam")[1, 2], 1.2)
    panel = fig6(ds).axes[3]
    assert not any("not in this experiment" in t.get_text() for t in panel.texts)
    (line,) = panel.get_lines()
    assert line.get_label() == "snes_to_adam"
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.3, 0.3])
    # a round deleted for a rerun: its value leaves with it, on either side
    Path(paths.transfer_round_file("trained.h5", None, "snes_to_adam", 0, 1, tmp_path)).unlink()
    Path(paths.round_file("trained.h5", None, "digits", "snes", "snr", 1, 2, tmp_path)).unlink()
    b = collect(cfg, tmp_path).lmc_barrier_es_gd.sel(transfer="snes_to_adam")
    np.testing.assert_array_equal(b.isnull().values, [[False, True, False], [False, False, True]])


def test_collect_refuses_lmc_artifacts_on_different_alpha_grids(tmp_path, tiny_config):
    """Two chains' consecutive-round LMC made with different `analyses.lmc.alphas` cannot share
    summary.nc's α axis: the second's errors would sit at the first's α values."""
    from evotickets import paths
    from evotickets.analysis.collect import collect
    from evotickets.artifacts import ArtifactError, write_artifact
    from evotickets.config import analysis_options, chain_spec, validate_config
    from evotickets.settings import LmcOptions, analysis_digest

    cfg = validate_config(tiny_config)
    options = LmcOptions.from_dict(analysis_options(cfg, "lmc"))
    for seed, points in ((0, 5), (1, 11)):
        alphas = connectivity.alpha_grid(points)
        path = Path(paths.chain_analysis("lmc_consecutive.h5", None, "digits", "snes", "snr",
                                         seed, root=tmp_path))  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        write_artifact(
            path,
            "analysis",
            {
                "alpha": alphas,
                "errors": np.zeros((1, points)),
                "barrier": np.zeros(1),
                "round_left": np.arange(1),
                "round_right": np.arange(1) + 1,
                "remaining_left": np.ones(1),
            },
            {"analysis": "lmc", "pair_kind": "consecutive", "error": "1 - test accuracy"},
            config_digest=analysis_digest(chain_spec(cfg, "digits", "snes", "snr", seed), options),
            seed=seed,
        )
    with pytest.raises(ValueError, match=r"seed1.*alpha axis of 11 points.*analyses.lmc.alphas"):
        collect(cfg, tmp_path)
    # an LMC artifact made with other options (or chain settings) is refused by its digest
    write_artifact(path, "analysis", {"alpha": alphas}, {}, config_digest="other", seed=1)
    with pytest.raises(ArtifactError, match=r"seed1.*lmc_consecutive.h5 was made from other"):
        collect(cfg, tmp_path)


def test_collect_refuses_a_transferred_ticket_of_other_settings(tmp_path, tiny_config):
    """A transfer's trained.h5 must come from the settings the config gives that transfer,
    as a chain's must: otherwise summary.nc labels another run's numbers with this config."""
    from evotickets import paths
    from evotickets.analysis.collect import collect, nonfinite_metric_rounds
    from evotickets.artifacts import ArtifactError, write_artifact
    from evotickets.config import transfer_spec, validate_config

    tiny_config["strategies"]["pgpe"] = {"population_size": 16, "std_init": 0.05}
    tiny_config["transfer"] = [
        {
            "name": "snes_to_pgpe",
            "source": {"task": "digits", "strategy": "snes"},
            "target": {"task": "digits", "strategy": "pgpe"},
        }
    ]
    cfg = validate_config(tiny_config)
    path = Path(paths.transfer_round_file("trained.h5", None, "snes_to_pgpe", 0, 0, tmp_path))
    attrs = {
        "task": "digits", "strategy": "pgpe", "method": "snes_to_pgpe", "round": 0,
        "final_metric": 0.5, "metric_name": "test_accuracy", "remaining_fraction": 1.0,
    }  # fmt: skip
    for digest, ok in ((transfer_spec(cfg, "snes_to_pgpe", 0).digest(), True), ("old", False)):
        write_artifact(path, "trained", A_MASK, attrs, config_digest=digest, seed=0)
        if ok:
            ds = collect(cfg, tmp_path)
            assert ds.transfer_metric.sel(transfer="snes_to_pgpe")[0, 0] == 0.5
            # finished rounds carry their kept fraction, so a NaN metric is not "not run"
            kept = ds.transfer_kept_fraction.sel(transfer="snes_to_pgpe")
            assert kept[0, 0] == 1.0 and int(kept.notnull().sum()) == 1
            nan = {**attrs, "final_metric": float("nan")}
            write_artifact(path, "trained", A_MASK, nan, config_digest=digest, seed=0)
            listed = nonfinite_metric_rounds(collect(cfg, tmp_path))
            assert [(r["strategy"], r["seed"]) for r in listed] == [("snes_to_pgpe", 0)]
        else:
            with pytest.raises(ArtifactError, match="snes_to_pgpe.*made from other settings"):
                collect(cfg, tmp_path)


def test_lmc_refuses_rounds_paired_wrongly():
    """Consecutive pairs are (t, t + 1), seed and ES↔GD pairs (t, t); each side sorted by
    round. `lmc --kind consecutive --left iter00 iter01 --right iter02 iter00` gave round 0
    against itself (barrier 0) and round 1 against round 2, filed under rounds 0 and 1."""
    from evotickets.commands.analysis import _check_pairs

    def rounds(*ts):
        return [{"round": t, "path": f"iter{t:02d}/trained.h5"} for t in ts]

    _check_pairs("consecutive", rounds(0, 1), rounds(1, 2))
    _check_pairs("seeds", rounds(0, 1, 2), rounds(0, 1, 2))
    _check_pairs("es_gd", rounds(3), rounds(3))
    with pytest.raises(ValueError, match=r"round t \+ 1 beside round t.*iter00.*iter00"):
        _check_pairs("consecutive", rounds(0, 1), rounds(0, 2))
    with pytest.raises(ValueError, match="the same round on both sides"):
        _check_pairs("seeds", rounds(0, 1), rounds(0, 2))
    with pytest.raises(ValueError, match="lists a round twice"):
        _check_pairs("es_gd", rounds(1, 1), rounds(1, 2))
    with pytest.raises(ValueError, match="as many --left as --right"):
        _check_pairs("seeds", rounds(0, 1), rounds(0))


def test_collect_files_each_analysis_row_at_its_own_round(tmp_path, tiny_config):
    """An LMC row between rounds t and t+1 is filed at t (its errors from α = 0 to 1 as
    stored), a landscape row at its round, and a round whose directions left the finite
    range has a NaN mean curvature (not the mean of its finite directions) with the count
    beside it. Filing at t + 1, reversing α or a NaN-skipping mean passed every test."""
    from evotickets import paths
    from evotickets.analysis.collect import collect
    from evotickets.artifacts import write_artifact
    from evotickets.config import analysis_options, chain_spec, validate_config
    from evotickets.settings import LandscapeOptions, LmcOptions, analysis_digest

    tiny_config["analyses"]["enabled"] = ["lmc", "landscape", "layerwise"]
    cfg = validate_config(tiny_config)
    chain = ("digits", "snes", "snr", 0)
    spec = chain_spec(cfg, *chain)
    for seed in (0, 1):
        other = chain_spec(cfg, *chain[:3], seed)
        for r in range(3):
            path = paths.round_file("trained.h5", None, *chain[:3], seed, r, root=tmp_path)
            write_artifact(path, "trained", A_MASK,
                           {"round": r, "task": "digits", "strategy": "snes", "method": "snr",
                            "final_metric": 0.5, "metric_name": "test_accuracy",
                            "remaining_fraction": 0.8**r},
                           config_digest=other.digest(), seed=seed)  # fmt: skip
    alphas = connectivity.alpha_grid(5)

    def analysis(name, options, arrays, attrs):
        path = Path(paths.chain_analysis(name, None, *chain, root=tmp_path))
        path.parent.mkdir(parents=True, exist_ok=True)
        own = options.from_dict(analysis_options(cfg, attrs["analysis"]))
        digest = analysis_digest(spec, own)
        write_artifact(path, "analysis", arrays, attrs, config_digest=digest, seed=0)

    analysis("lmc_consecutive.h5", LmcOptions,
             {"alpha": alphas, "errors": np.stack([alphas, 1 + alphas]),
              "barrier": np.array([0.1, 0.2]), "round_left": np.array([0, 1]),
              "round_right": np.array([1, 2]), "remaining_left": np.array([1.0, 0.8])},
             {"analysis": "lmc", "pair_kind": "consecutive", "error": "1 - test accuracy"})  # fmt: skip
    # the seeds' LMC of rounds 0 and 1 (seed 0 ↔ seed 1): each filed at its own round
    right = [paths.round_file("trained.h5", None, *chain[:3], 1, r, root=tmp_path) for r in (0, 1)]
    seeds_file = Path(paths.seeds_analysis("lmc_seeds.h5", None, *chain[:3], root=tmp_path))
    seeds_file.parent.mkdir(parents=True, exist_ok=True)
    lmc_digest = analysis_digest(spec, LmcOptions.from_dict(analysis_options(cfg, "lmc")))
    write_artifact(seeds_file, "analysis",
                   {"alpha": alphas, "errors": np.zeros((2, alphas.size)),
                    "barrier": np.array([0.1, 0.3]), "round_left": np.array([0, 1]),
                    "round_right": np.array([0, 1])},
                   {"analysis": "lmc", "pair_kind": "seeds", "error": "1 - test accuracy",
                    "right": json.dumps(right)},
                   config_digest=lmc_digest, seed=0)  # fmt: skip
    grid = np.linspace(-1, 1, 3)
    curvature = np.array([[1.0, 3.0], [np.nan, 5.0], [2.0, 2.0]])  # round 1: one blew up
    analysis("landscape.h5", LandscapeOptions,
             {"grid": grid, "round": np.arange(3), "curvature": curvature,
              "surface_2d": np.arange(27.0).reshape(3, 3, 3), "xi": np.linspace(-1, 1, 5)},
             {"analysis": "landscape"})  # fmt: skip
    # layerwise files naming their tensors in other orders (a config's tasks have other
    # networks): each column lands at its tensor's name
    for seed, names in ((0, ["Dense_0/kernel", "Dense_0/bias"]), (1, ["Dense_0/bias", "x"])):
        path = Path(paths.chain_analysis("layerwise.h5", None, *chain[:3], seed, root=tmp_path))
        ratios = np.array([[0.5, 1.0], [0.4, 1.0], [0.3, 1.0]]) * (1 if seed == 0 else 0.9)
        write_artifact(path, "analysis",
                       {"round": np.arange(3), "kept_ratio": ratios, "mean_abs_theta": ratios,
                        "mean_sigma": ratios},
                       {"analysis": "layerwise", "tensors": json.dumps(names)},
                       config_digest=analysis_digest(chain_spec(cfg, *chain[:3], seed), None),
                       seed=seed)  # fmt: skip
    ds = collect(cfg, tmp_path)
    np.testing.assert_allclose(ds.sparsity.values, [0.0, 0.2, 0.36])  # pruned, not remaining
    kept = ds.layer_kept_ratio.sel({"task": "digits", "strategy": "snes", "method": "snr"})
    np.testing.assert_allclose(kept.sel(seed=1, tensor="Dense_0/bias").values, [0.45, 0.36, 0.27])
    np.testing.assert_allclose(kept.sel(seed=1, tensor="x").values, [0.9, 0.9, 0.9])
    np.testing.assert_allclose(kept.sel(seed=0, tensor="Dense_0/bias").values, [1.0, 1.0, 1.0])
    at = {"task": "digits", "strategy": "snes", "method": "snr", "seed": 0}
    barrier = ds.lmc_barrier_consecutive.sel(at).values
    np.testing.assert_allclose(barrier[:2], [0.1, 0.2])
    assert np.isnan(barrier[2])  # no round after the last
    errors = ds.lmc_errors_consecutive.sel(at)
    np.testing.assert_allclose(errors.isel(iteration=1).values, 1 + alphas)
    np.testing.assert_allclose(errors.sel(alpha=alphas[0]).values[:2], [alphas[0], 1 + alphas[0]])
    seeds = ds.lmc_barrier_seeds.sel({"task": "digits", "strategy": "snes", "method": "snr"})
    np.testing.assert_allclose(seeds.values[:2], [0.1, 0.3])
    curv = ds.curvature_1d.sel(at).values
    np.testing.assert_allclose(curv[[0, 2]], [2.0, 2.0])
    assert np.isnan(curv[1])  # too sharp to measure, not the mean of the finite direction
    np.testing.assert_array_equal(ds.curvature_1d_nonfinite_directions.sel(at).values, [0, 1, 0])
    np.testing.assert_array_equal(ds.loss_surface_2d.sel(at).isel(iteration=2).values,
                                  np.arange(18.0, 27.0).reshape(3, 3))  # fmt: skip


def test_collect_counts_the_layers_a_rounds_mask_empties_and_claims_lists_them(
    tmp_path, tiny_config
):
    """A global mask can keep no weight of a layer (random at deep sparsity): the network
    then gives the same output for every input. summary.nc counts such tensors per round
    (from trained.h5's mask; biases are never pruned, so never empty) and claims.md lists
    the rounds."""
    from evotickets import paths
    from evotickets.analysis import claims
    from evotickets.analysis.collect import collect, emptied_layer_rounds
    from evotickets.artifacts import write_artifact
    from evotickets.config import chain_spec, validate_config

    tiny_config["methods"] = ["random", "magnitude"]
    cfg = validate_config(tiny_config)
    full = {"mask/Conv_0/kernel": np.ones((3, 3, 1, 2), bool), "mask/Conv_0/bias": np.ones(2, bool),
            "mask/Dense_0/kernel": np.ones((4, 10), bool), "mask/Dense_0/bias": np.ones(10, bool)}  # fmt: skip
    emptied = {**full, "mask/Dense_0/kernel": np.zeros((4, 10), bool)}
    half = {**full, "mask/Dense_0/kernel": np.arange(40).reshape(4, 10) % 2 == 0}  # kept half
    for method, r, mask in (("magnitude", 1, half), ("random", 1, emptied), ("random", 0, full)):
        chain = ("digits", "snes", method, 0)
        path = Path(paths.round_file("trained.h5", None, *chain, r, root=tmp_path))
        attrs = {"round": r, "task": "digits", "strategy": "snes", "method": method,
                 "final_metric": 0.1, "metric_name": "test_accuracy",
                 "remaining_fraction": 0.8**r, "kept_prunable": 10}  # fmt: skip
        write_artifact(path, "trained", mask, attrs, config_digest=chain_spec(cfg, *chain).digest(),
                       seed=0)  # fmt: skip
    ds = collect(cfg, tmp_path)
    counts = ds.layers_emptied.sel({"task": "digits", "strategy": "snes", "seed": 0})
    assert float(counts.sel({"method": "random", "iteration": 1})) == 1
    assert float(counts.sel({"method": "random", "iteration": 0})) == 0
    assert float(counts.sel({"method": "magnitude", "iteration": 1})) == 0
    assert np.isnan(float(counts.sel({"method": "magnitude", "iteration": 0})))  # not run
    listed = emptied_layer_rounds(ds)
    assert [(r["method"], r["remaining"], r["layers"]) for r in listed] == [("random", 0.8, 1)]
    text = claims.to_markdown([], [], emptied=listed)
    section = text.split("## Rounds whose mask empties a layer")[1]
    assert "| digits | snes | random | 0 | 80.0% | 1 |" in section
    assert "Rounds whose mask empties" not in claims.to_markdown([], [], emptied=[])


def test_nonfinite_fitness_counts_population_members_and_is_nan_for_gradient_descent(
    tmp_path, tiny_config
):
    """summary.nc's nonfinite_fitness counts ES members; a GD round has none to count, so
    NaN, also for a PPO round written before 2026-12-06 that said nonfinite_total 0."""
    from evotickets import paths
    from evotickets.analysis.collect import collect
    from evotickets.artifacts import write_artifact
    from evotickets.config import chain_spec, validate_config

    tiny_config["gd"] = {"gd_adam": {"lr": 0.001, "batch_size": 64, "epochs": 1}}
    tiny_config["methods"] = ["random", "magnitude"]
    cfg = validate_config(tiny_config)
    base = {"round": 0, "task": "digits", "method": "random", "final_metric": 0.5,
            "metric_name": "test_accuracy", "remaining_fraction": 1.0}  # fmt: skip
    for strategy, attrs in (
        ("snes", {"trainer": "es", "nonfinite_total": 3}),
        ("gd_adam", {"trainer": "gd", "nonfinite_total": 0}),
    ):
        chain = ("digits", strategy, "random", 0)
        path = Path(paths.round_file("trained.h5", None, *chain, 0, root=tmp_path))
        write_artifact(path, "trained", A_MASK, {**base, "strategy": strategy, **attrs},
                       config_digest=chain_spec(cfg, *chain).digest(), seed=0)  # fmt: skip
    counts = collect(cfg, tmp_path).nonfinite_fitness.sel(
        {"task": "digits", "method": "random", "seed": 0, "iteration": 0}
    )
    assert float(counts.sel(strategy="snes")) == 3
    assert np.isnan(float(counts.sel(strategy="gd_adam")))


def test_snr_magnitude_and_layerwise_read_the_active_weights_of_a_sparse_ticket():
    """With pruned weights present (θ = σ = 0 there, as a trained round stores them), the
    σ statistics and rankings are over the active weights only, computed here by hand, and
    a layer's mean |θ| over its kept weights (with every weight active, the tests above
    could not tell)."""
    from scipy import stats

    theta0 = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta0)
    prunable = prunable_vector(table)
    rng = np.random.default_rng(2)
    mask = ~prunable | (rng.uniform(size=prunable.size) < 0.3)
    theta = np.where(mask, rng.normal(size=prunable.size), 0.0)
    sigma = np.where(mask, 0.05 + 0.1 * np.abs(theta) * rng.uniform(size=theta.size), 0.0)
    out = correlation.snr_magnitude_round(theta, sigma, mask, prunable, 300)
    active = mask & prunable
    s, a = sigma[active], np.abs(theta[active])
    assert out["sigma_cv"] == pytest.approx(s.std() / s.mean())
    assert out["rho_sigma_abs_theta"] == pytest.approx(stats.spearmanr(s, a).statistic)
    assert out["rho_snr_magnitude"] == pytest.approx(stats.spearmanr(a / s, a).statistic)
    layers = correlation.layerwise(theta, sigma, mask, table)
    conv = next(e for e in table if e.name == "Conv_0/kernel")
    kept = mask[conv.offset : conv.offset + conv.size]
    values = theta[conv.offset : conv.offset + conv.size]
    assert layers["Conv_0/kernel"]["mean_abs_theta"] == pytest.approx(np.abs(values[kept]).mean())
    sigmas = sigma[conv.offset : conv.offset + conv.size]  # Fig. 11's mean σ: kept ones only
    assert layers["Conv_0/kernel"]["mean_sigma"] == pytest.approx(sigmas[kept].mean())
    assert layers["Conv_0/kernel"]["kept_ratio"] == pytest.approx(kept.mean())


def test_lmc_runs_its_path_between_two_different_networks(tmp_path, tiny_config, capsys):
    """Consecutive rounds of one digits chain, θ0 and a different (half-pruned, rescaled)
    network: the path's α = 1 end is the left network's error, α = 0 the right's, its middle
    the error of their mean, and the barrier the chord's excess (before, every LMC test put
    one network at both ends, where a path from the left network to itself passed too)."""
    import json

    from evotickets import cli
    from evotickets.artifacts import REQUIRED_ATTRS, read_artifact, write_artifact
    from evotickets.config import chain_spec
    from evotickets.tasks import make_task

    cfg, settings, init, rounds, table = _two_rounds(tmp_path, tiny_config)
    theta0, other = rounds[0][0], rounds[1][0]
    broken = read_artifact(tmp_path / "r1.h5", "trained")  # a damaged copy of round 1
    first = np.flatnonzero(rounds[1][1] & prunable_vector(table))[0]
    entry = next(e for e in table if e.offset <= first < e.offset + e.size)
    weights = broken[0][f"params/{entry.name}"].copy()
    weights.reshape(-1)[first - entry.offset] = np.nan
    kept = {k: broken[1][k] for k in REQUIRED_ATTRS["trained"]}
    write_artifact(tmp_path / "r1nan.h5", "trained",
                   {**broken[0], f"params/{entry.name}": weights}, kept,
                   config_digest=chain_spec(cfg, "digits", "snes", "magnitude", 0).digest(),
                   seed=0)  # fmt: skip
    out = tmp_path / "lmc.h5"
    argv = ["lmc", "--kind", "consecutive", "--settings", json.dumps(settings)]
    argv += ["--analysis", '{"alphas": 3}', "--init", str(init), "--left", str(tmp_path / "r0.h5")]
    assert cli.main([*argv, "--right", str(tmp_path / "r1.h5"), "--out", str(out)]) == 0
    arrays, _ = read_artifact(out, "analysis")
    task = make_task("digits", settings["task_config"], table)

    def error(v):
        return 1.0 - float(task.evaluate(np.asarray(v, np.float32), task.test_data, {}))

    errors = arrays["errors"][0]
    np.testing.assert_allclose(arrays["alpha"], [0.0, 0.5, 1.0])
    want = [error(other), error(0.5 * theta0 + 0.5 * other), error(theta0)]
    np.testing.assert_allclose(errors, want, atol=1e-6)
    assert error(theta0) != error(other)  # two networks, not one at both ends
    alphas = arrays["alpha"]  # the documented max_α [err(path) − chord]
    chord = alphas * errors[-1] + (1 - alphas) * errors[0]
    assert arrays["barrier"][0] == pytest.approx(np.max(errors - chord))
    # a NaN weight makes the network's predictions constant: LMC gave a barrier of 0.0
    capsys.readouterr()
    nan_out = tmp_path / "lmc_nan.h5"
    assert cli.main([*argv, "--right", str(tmp_path / "r1nan.h5"), "--out", str(nan_out)]) == 2
    assert "1 of its" in (err := capsys.readouterr().err) and "NaN or infinite" in err
    assert not nan_out.exists()


def test_collect_refuses_an_analysis_file_that_is_not_what_its_name_says(tmp_path, tiny_config):
    """snr_magnitude and layerwise have no options, so one digest: a layerwise file copied
    over snr_magnitude.h5 passed and read as all-NaN for that seed; a damaged layerwise file
    failed on a bare KeyError; an lmc_seeds file made for seeds 0 ↔ 1 was labelled with a
    config's pair 0 ↔ 2. Each is refused now, naming the file."""
    from evotickets import paths
    from evotickets.analysis.collect import collect
    from evotickets.artifacts import ArtifactError, write_artifact
    from evotickets.config import analysis_options, chain_spec, validate_config
    from evotickets.settings import LmcOptions, analysis_digest

    cfg = validate_config(tiny_config)
    spec = chain_spec(cfg, "digits", "snes", "snr", 0)
    layerwise = {
        "round": np.arange(2),
        "remaining": np.ones(2),
        **{q: np.full((2, 1), 0.5) for q in ("kept_ratio", "mean_abs_theta", "mean_sigma")},
    }

    def write(name, arrays, attrs):
        path = Path(paths.chain_analysis(name, None, "digits", "snes", "snr", 0, root=tmp_path))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_artifact(path, "analysis", arrays, attrs, config_digest=analysis_digest(spec), seed=0)
        return path

    layerwise_attrs = {"analysis": "layerwise", "tensors": '["Conv_0/kernel"]'}
    path = write("snr_magnitude.h5", layerwise, layerwise_attrs)
    with pytest.raises(ArtifactError, match=r"snr_magnitude.h5 holds the 'layerwise' analysis"):
        collect(cfg, tmp_path)
    path.unlink()
    damaged = {k: v for k, v in layerwise.items() if k != "kept_ratio"}
    path = write("layerwise.h5", damaged, layerwise_attrs)
    with pytest.raises(ArtifactError, match=r"layerwise.h5 has no kept_ratio.*weight_statistics"):
        collect(cfg, tmp_path)
    write("layerwise.h5", layerwise, {**layerwise_attrs, "tensors": '["a", "b"]'})
    with pytest.raises(ArtifactError, match=r"'tensors' attribute that does not name"):
        collect(cfg, tmp_path)
    write("layerwise.h5", layerwise, layerwise_attrs)
    # read for the rounds collect reads (an analysis of a round not there is left out)
    assert np.isnan(collect(cfg, tmp_path).layer_kept_ratio.sel(seed=0).max())

    def rounds_of(seed):
        for r in (0, 1):
            trained = paths.round_file("trained.h5", None, "digits", "snes", "snr", seed, r,
                                       root=tmp_path)  # fmt: skip
            attrs = {"task": "digits", "strategy": "snes", "method": "snr", "round": r,
                     "remaining_fraction": 0.8**r, "final_metric": 0.9,
                     "metric_name": "test_accuracy"}  # fmt: skip
            digest = chain_spec(cfg, "digits", "snes", "snr", seed).digest()
            write_artifact(trained, "trained", A_MASK, attrs, config_digest=digest, seed=seed)

    rounds_of(0)
    assert float(collect(cfg, tmp_path).layer_kept_ratio.sel(seed=0).max()) == 0.5

    # seeds 0 ↔ 1, collected under a config whose seeds pair 0 with 2
    options = LmcOptions.from_dict(analysis_options(cfg, "lmc"))
    right = [paths.round_file("trained.h5", "tiny", "digits", "snes", "snr", 1, r) for r in (0, 1)]
    seeds_path = Path(paths.seeds_analysis("lmc_seeds.h5", None, "digits", "snes", "snr", tmp_path))
    seeds_path.parent.mkdir(parents=True, exist_ok=True)
    write_artifact(
        seeds_path,
        "analysis",
        {
            "alpha": connectivity.alpha_grid(5),
            "errors": np.zeros((2, 5)),
            "barrier": np.full(2, 0.1),
            "round_left": np.arange(2),
            "round_right": np.arange(2),
        },
        {"analysis": "lmc", "pair_kind": "seeds", "left": "[]", "right": json.dumps(right)},
        config_digest=analysis_digest(spec, options),
        seed=0,
    )
    # the config's own pair, read where both seeds' rounds are
    assert np.isnan(collect(cfg, tmp_path).lmc_barrier_seeds.max())
    rounds_of(1)
    ds = collect(cfg, tmp_path)
    assert float(ds.lmc_barrier_seeds.max()) == pytest.approx(0.1)
    with pytest.raises(ArtifactError, match=r"lmc_seeds.h5 pairs seed 0 with seed\(s\) 1, not"):
        collect({**cfg, "seeds": [0, 2]}, tmp_path)


def _two_rounds(tmp_path, tiny_config):
    """init.h5 of the tiny config's digits task and two trained rounds of its magnitude
    chain: round 0 dense at θ0, round 1 half-pruned at 1.5 θ0 plus noise (σ 1 everywhere
    kept); the chain's settings and the layer table."""
    import json

    from evotickets import cli
    from evotickets.artifacts import read_artifact, write_artifact
    from evotickets.config import chain_settings, chain_spec, init_settings, validate_config
    from evotickets.networks import from_vector

    cfg = validate_config(tiny_config)
    settings = chain_settings(cfg, "digits", "snes", "magnitude", 0)
    init = tmp_path / "init.h5"
    assert cli.main(["init", "--settings", json.dumps(init_settings(cfg, "digits", 0)),
                     "--out", str(init)]) == 0  # fmt: skip
    params = {k[len("params/") :]: v for k, v in read_artifact(init, "init")[0].items()}
    table = layer_table(params)
    theta0 = to_vector(params, table)
    prunable = prunable_vector(table)
    rng = np.random.default_rng(3)
    mask = ~prunable | (rng.uniform(size=theta0.size) < 0.5)
    other = np.where(mask, 1.5 * theta0 + rng.normal(0, 0.05, theta0.size), 0.0)
    rounds = {0: (theta0, np.ones(theta0.size, bool)), 1: (other.astype(np.float32), mask)}
    for t, (theta, m) in rounds.items():

        def tree(v):
            return from_vector(v, table)

        write_artifact(
            tmp_path / f"r{t}.h5", "trained",
            {**{f"params/{k}": v for k, v in tree(theta).items()},
             **{f"sigma/{k}": np.ones_like(v) for k, v in tree(theta).items()},
             **{f"mask/{k}": v.astype(bool) for k, v in tree(m.astype(np.float32)).items()}},
            {"round": t, "task": "digits", "strategy": "snes", "method": "magnitude",
             "metric_name": "test_accuracy", "final_metric": 0.5,
             "remaining_fraction": float(m[prunable].mean())},
            config_digest=chain_spec(cfg, "digits", "snes", "magnitude", 0).digest(), seed=0,
        )  # fmt: skip
    return cfg, settings, init, rounds, table


def _analysis_verb(verb, tmp_path, settings, init, *options) -> dict:
    """Run analysis ``verb`` on the rounds r0.h5 and r1.h5 in ``tmp_path`` and return the
    arrays it wrote."""
    import json

    from evotickets import cli
    from evotickets.artifacts import read_artifact

    out = tmp_path / f"{verb}.h5"
    argv = [verb, "--settings", json.dumps(settings), *options, "--init", str(init)]
    argv += ["--trained", str(tmp_path / "r0.h5"), str(tmp_path / "r1.h5"), "--out", str(out)]
    assert cli.main(argv) == 0
    return read_artifact(out, "analysis")[0]


def test_the_landscape_verbs_2d_surface_spans_two_directions(tmp_path, tiny_config):
    """The 2D plane's axes come from two draws: with one draw for both, the surface was a
    function of x + y alone (a line), and every test passed (none ran the verb)."""
    import json

    _, settings, init, _, _ = _two_rounds(tmp_path, tiny_config)
    opts = {"directions": 2, "xi_points": 5, "grid_points": 5, "grid_extent": 1.0,
            "eval_examples": 64, "direction_norm": "filter"}  # fmt: skip
    arrays = _analysis_verb("landscape", tmp_path, settings, init, "--analysis", json.dumps(opts))
    surface = arrays["surface_2d"]
    assert surface.shape == (2, 5, 5) and np.isfinite(surface).all()
    for s in surface:  # L(θ + x e1 + y e2) ≠ L(θ + y e1 + x e2): two directions
        assert np.abs(s - s.T).max() > 1e-3 * np.abs(s).max()


def test_the_landscape_verb_draws_each_rounds_1d_directions_from_its_own_key(
    tmp_path, tiny_config, monkeypatch
):
    """Round t's 1-D directions come from keys.landscape_key(seed, task, "1d", t), as the
    artifact's directions_from says; the 2-D axes from draws 0 and 1 shared by every round.
    Drawing every round's 1-D directions with round 0's key passed every test."""
    from evotickets import keys

    _, settings, init, _, _ = _two_rounds(tmp_path, tiny_config)
    asked, real = [], keys.landscape_key
    monkeypatch.setattr(keys, "landscape_key", lambda *a: asked.append(a[2:]) or real(*a))
    opts = {"directions": 1, "xi_points": 3, "grid_points": 3, "grid_extent": 0.5,
            "eval_examples": 16, "direction_norm": "filter"}  # fmt: skip
    _analysis_verb("landscape", tmp_path, settings, init, "--analysis", json.dumps(opts))
    assert [i for purpose, i in asked if purpose == "1d"] == [0, 1]
    assert [i for purpose, i in asked if purpose == "2d"] == [0, 1]


def test_the_landscape_verb_scores_each_round_under_its_own_observation_statistics(
    tmp_path, tiny_config
):
    """A control chain's rounds carry their own running observation statistics (brax's
    default, obs_normalization here): each round's surface is the loss of its network under
    its own statistics. Scoring every round under round 0's passed every test before."""
    import json

    from evotickets.analysis import evaluation
    from evotickets.config import chain_spec
    from evotickets.networks import to_vector
    from evotickets.tasks import make_task

    cfg, settings, init, params, table = _pendulum_with_statistics(
        tmp_path, tiny_config, "landscape"
    )
    states = OBSERVATION_STATES
    digest = chain_spec(cfg, "pendulum", "snes", "snr", 0).digest()
    for r, state in enumerate(states):
        _policy_round(tmp_path / f"r{r}.h5", params, state, r, digest)
    opts = {"directions": 1, "xi_points": 3, "grid_points": 3, "grid_extent": 0.5,
            "eval_examples": 2, "direction_norm": "filter"}  # fmt: skip
    arrays = _analysis_verb("landscape", tmp_path, settings, init, "--analysis", json.dumps(opts))
    surface = arrays["surface_2d"]  # (round, x, y); grid 0 central
    task = make_task("pendulum", settings["task_config"], table)
    loss_all, _ = evaluation.loss_and_error(task, opts["eval_examples"])
    theta = to_vector(params, table)[None]
    own = [
        float(loss_all(theta, state={k: np.float32(v) for k, v in st.items()})[0]) for st in states
    ]
    assert abs(own[0] - own[1]) > 1.0  # the statistics matter to this policy
    np.testing.assert_allclose(surface[:, 1, 1], own, rtol=1e-4)


def test_the_snr_magnitude_verb_sets_next_rounds_threshold_and_compares_with_round_0(
    tmp_path, tiny_config
):
    """threshold_magnitude of round t is the |θ| that keeps round t + 1's count of its
    active weights (not round t's), and round 1's magnitude ranking is compared with round
    0's (ρ < 1 here; compared with itself it read 1): both mutations passed every test."""
    from evotickets.pruning import remaining_count

    cfg, settings, init, rounds, table = _two_rounds(tmp_path, tiny_config)
    arrays = _analysis_verb("snr-magnitude", tmp_path, settings, init)
    prunable = prunable_vector(table)
    for t, (theta, m) in rounds.items():
        keep = remaining_count(int(prunable.sum()), cfg["prune_fraction"], t + 1)
        active = np.sort(np.abs(theta[m & prunable]))[::-1]
        keep = min(keep, active.size)
        assert arrays["threshold_magnitude"][t] == pytest.approx(active[keep - 1])
    assert arrays["rho_magnitude_vs_round0"][0] == pytest.approx(1.0)
    assert arrays["rho_magnitude_vs_round0"][1] < 1.0 - 1e-6


def test_the_landscape_loss_is_the_training_objective_on_its_own_examples(tiny_config):
    """A vision landscape's loss is the cross-entropy on the first ``eval_examples`` test
    images, and a control one's is the ES's own fitness (−return, which the search
    minimises) on the analysis episodes: the whole test set, or the return's sign flipped,
    passed every test."""
    import jax

    from evotickets.analysis import evaluation
    from evotickets.keys import tag
    from evotickets.tasks import init_theta, make_task

    params = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(params)
    theta = to_vector(params, table)[None]
    task = make_task("digits", {"batch_size": 64}, table)
    loss, _ = evaluation.loss_and_error(task, 7)
    x, y = task.test_data
    got = float(loss(theta, task.init_state())[0])
    assert got == pytest.approx(float(task.population_loss(theta, x[:7], y[:7])[0]), rel=1e-5)
    assert got != pytest.approx(float(task.population_loss(theta, x, y)[0]), rel=1e-3)

    settings = {"task": "pendulum", "network": "mlp", "hidden": [8], "prune_output_layer": True}
    policy = init_theta(settings, jax.random.key(1))
    table = layer_table(policy)
    theta = to_vector(policy, table)[None]
    task = make_task("pendulum", {"hidden": [8], "n_repeats": 2, "max_steps": 30}, table)
    loss, _ = evaluation.loss_and_error(task, 2)
    state = task.init_state()
    got = float(loss(theta, state)[0])
    key = jax.random.key(tag("analysis-episodes"))
    want = float(task.population_fitness(theta, key, task.train_data, state)[0][0])
    assert got == pytest.approx(want, rel=1e-5) and got > 0  # −return: Pendulum's is negative


def test_lmc_consecutive_refuses_a_right_settings_it_would_ignore():
    """A consecutive LMC compares rounds of one chain: --right-settings would be ignored."""
    import argparse

    from evotickets.commands import analysis as analysis_verbs

    ns = argparse.Namespace(kind="consecutive", right_settings="{}")
    with pytest.raises(ValueError, match="--right-settings is not used"):
        analysis_verbs._right_digest(ns, ("own",))
    ns.right_settings = None
    assert analysis_verbs._right_digest(ns, ("own",)) == ("own",)


def test_lmc_records_the_right_rounds_among_its_inputs(tmp_path, tiny_config):
    """A --right round written again since makes the LMC result stale: it is an input."""
    from evotickets import cli
    from evotickets.artifacts import read_artifact, recorded_inputs

    _, settings, init, _, _ = _two_rounds(tmp_path, tiny_config)
    out = tmp_path / "lmc.h5"
    left, right = str(tmp_path / "r0.h5"), str(tmp_path / "r1.h5")
    argv = ["lmc", "--kind", "consecutive", "--settings", json.dumps(settings), "--analysis",
            '{"alphas": 3}', "--init", str(init), "--left", left, "--right", right]  # fmt: skip
    assert cli.main([*argv, "--out", str(out)]) == 0
    recorded = recorded_inputs(out, read_artifact(out, "analysis")[1])
    recorded = {str(Path(p).resolve()) for p in recorded}
    assert {str(Path(p).resolve()) for p in (init, left, right)} <= recorded
