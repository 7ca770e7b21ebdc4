"""Analyses: LMC barrier, quadratic curvature, filter normalisation, SNR–magnitude."""

import jax
import numpy as np
import pytest

from evotickets.analysis import connectivity, correlation, landscape
from evotickets.networks import init_params, layer_table, prunable_vector, to_vector


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


def test_quadratic_fit_recovers_curvature():
    xis = np.linspace(-1, 1, 21)
    rng = np.random.default_rng(1)
    losses = np.stack([0.5 * k * xis**2 + 0.3 * xis + 2.0 for k in (0.5, 2.0, 8.0)])
    np.testing.assert_allclose(landscape.quadratic_curvature(xis, losses), [0.5, 2.0, 8.0])
    noisy = losses + rng.normal(0, 1e-3, losses.shape)
    np.testing.assert_allclose(
        landscape.quadratic_curvature(xis, noisy), [0.5, 2.0, 8.0], atol=0.02
    )


def test_projection_1d_recovers_curvature_of_a_quadratic_loss():
    d = 30
    hess = np.linspace(0.5, 3.0, d)

    def loss_fn(points):
        return 0.5 * np.sum(hess * points**2, axis=1)

    rng = np.random.default_rng(0)
    active = np.ones(d, bool)
    dirs = landscape.random_directions(rng, active, 3)
    xis = np.linspace(-1, 1, 11)
    losses = landscape.projection_1d(loss_fn, np.zeros(d, np.float32), dirs, xis)
    expected = np.sum(hess * dirs**2, axis=1)  # ηᵀHη
    np.testing.assert_allclose(landscape.quadratic_curvature(xis, losses), expected, rtol=1e-4)


def test_random_directions_live_on_the_active_weights():
    active = np.array([True, False, True, False])
    d = landscape.random_directions(np.random.default_rng(0), active, 4)
    assert np.all(d[:, ~active] == 0) and np.all(d[:, active] != 0)


def test_filter_normalisation_matches_reference_filter_norms():
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    ref = to_vector(theta, table)
    d = landscape.filter_normalized_direction(np.random.default_rng(0), ref, table)
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
