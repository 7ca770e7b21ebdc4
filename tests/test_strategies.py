"""Strategy construction by our names, the hyperparameter mapping, and σ extraction."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from evosax.algorithms.distribution_based.discovered_es import get_weights as des_weights

from evotickets.strategies import STRATEGIES, make_strategy, per_weight_std

D = 7


def _stepped(name, hparams=None):
    hp = {"population_size": 8, "std_init": 0.1, **(hparams or {})}
    s = make_strategy(name, D, hp)
    algo = s.algorithm
    state = algo.init(jax.random.key(0), jnp.linspace(-1, 1, D), s.params)
    for g in range(3):
        pop, state = algo.ask(jax.random.key(10 + g), state, s.params)
        fit = jnp.sum(pop**2, axis=1)
        state, _ = algo.tell(jax.random.key(20 + g), pop, fit, state, s.params)
    return s, state


@pytest.mark.parametrize("name", STRATEGIES)
def test_sigma_matches_state_fields_by_hand(name):
    _s, state = _stepped(name)
    sigma = np.asarray(per_weight_std(name, state, D))
    assert sigma.shape == (D,)
    if name == "sep_cma_es":
        # Sep-CMA-ES samples mean + std·sqrt(C)·z: σ is std·√C, not C (the study's bug).
        expected = float(state.std) * np.sqrt(np.asarray(state.C))
        assert not np.allclose(np.asarray(state.C), 1.0)
        assert not np.allclose(sigma, np.asarray(state.C))
    elif name in ("pgpe", "snes", "des"):
        expected = np.asarray(state.std)
        assert np.asarray(state.std).shape == (D,)
    else:  # ars, open_es: one scalar std for every weight
        expected = np.full(D, float(state.std))
    np.testing.assert_allclose(sigma, expected, rtol=1e-6)
    assert np.all(sigma > 0)


def test_sep_cma_sigma_is_the_sampling_std():
    """Empirically: the spread of sampled members around the mean is std·√C per weight."""
    _s, state = _stepped("sep_cma_es")
    state = state.replace(C=jnp.linspace(0.5, 2.0, D))
    big = make_strategy("sep_cma_es", D, {"population_size": 4096, "std_init": 0.1})
    pop, _ = big.algorithm.ask(jax.random.key(5), state, big.params)
    spread = np.asarray(jnp.std(pop - state.mean, axis=0))
    np.testing.assert_allclose(spread, per_weight_std("sep_cma_es", state, D), rtol=0.06)


def test_paper_hyperparameters_map_to_evosax_03():
    sep = make_strategy(
        "sep_cma_es", 50, {"population_size": 10, "std_init": 0.025, "elite_ratio": 0.3}
    )
    assert sep.algorithm.num_elites == 3
    w = np.asarray(sep.params.weights)
    assert np.all(w[:3] > 0) and np.all(w[3:] == 0)  # top elite_ratio·N only, none negative
    assert w.sum() == pytest.approx(1.0)
    assert np.all(np.diff(w[:3]) < 0)  # log weights decrease with rank
    assert float(sep.params.std_init) == pytest.approx(0.025)

    snes = make_strategy(
        "snes", 50, {"population_size": 10, "std_init": 0.025, "temperature": 12.0}
    )
    np.testing.assert_allclose(snes.params.weights, des_weights(10, 12.0))
    des = make_strategy("des", 50, {"population_size": 10, "std_init": 0.1, "temperature": 3.0})
    np.testing.assert_allclose(des.params.weights, des_weights(10, 3.0))


def test_pgpe_std_decays_to_its_floor_and_mean_decays():
    s = make_strategy(
        "pgpe",
        3,
        {
            "population_size": 4,
            "std_init": 0.05,
            "std_decay": 0.5,
            "std_limit": 0.01,
            "std_lr": 0.0,
            "mean_decay": 0.1,
        },
    )
    state = s.algorithm.init(jax.random.key(0), jnp.ones(3), s.params)
    once = s.post_tell(state)
    np.testing.assert_allclose(once.std, 0.025)
    np.testing.assert_allclose(once.mean, 0.9)
    many = state
    for _ in range(10):
        many = s.post_tell(many)
    np.testing.assert_allclose(many.std, 0.01)


@pytest.mark.parametrize("name", ["pgpe", "ars", "open_es"])
def test_odd_population_for_antithetic_strategy_is_an_error(name):
    with pytest.raises(ValueError, match="even"):
        make_strategy(name, 5, {"population_size": 7, "std_init": 0.1})


def test_unknown_strategy_and_key_are_errors():
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("cma", 5, {"population_size": 8, "std_init": 0.1})
    with pytest.raises(ValueError, match="temperature"):
        make_strategy("sep_cma_es", 5, {"population_size": 8, "std_init": 0.1, "temperature": 1.0})


def test_sep_cma_rank_mu_rate_is_the_separable_one():
    """c_μ = (D+2)/3 × full CMA-ES's c_μ (Ros & Hansen 2008; evosax 0.1, the study's), not
    evosax 0.3's unscaled full-CMA rate; ``covariance_rate: full`` keeps the latter."""
    d = 1000
    hp = {"population_size": 32, "std_init": 0.1, "elite_ratio": 0.5}
    sep = make_strategy("sep_cma_es", d, hp)
    full = make_strategy("sep_cma_es", d, {**hp, "covariance_rate": "full"})
    mu_eff = float(sep.params.mu_eff)
    c_mu_full = 2 / mu_eff / (d + np.sqrt(2)) ** 2 + (1 - 1 / mu_eff) * min(
        1, (2 * mu_eff - 1) / ((d + 2) ** 2 + mu_eff)
    )
    assert float(sep.params.c_mu) == pytest.approx((d + 2) / 3 * c_mu_full, rel=1e-5)
    assert float(sep.params.c_mu) > 200 * float(full.params.c_mu)
    tiny = make_strategy("sep_cma_es", 2, {"population_size": 64, "std_init": 0.1})
    assert float(tiny.params.c_mu) < 1 - float(tiny.params.c_1)  # capped
    with pytest.raises(ValueError, match="separable or full"):
        make_strategy("sep_cma_es", d, {**hp, "covariance_rate": "diagonal"})


def test_sep_cma_diagonal_learns_per_weight_scales():
    """On an ill-conditioned separable quadratic, the separable rate lets C tell the stiff
    coordinates from the flat ones within a few hundred generations; the unscaled rate leaves
    C ≈ 1, so σ = std·√C would rank like a scalar std (SNR ≡ magnitude)."""
    d = 200
    scales = jnp.logspace(0, 3, d)

    def spread(rate):
        s = make_strategy(
            "sep_cma_es", d, {"population_size": 32, "std_init": 0.5, "covariance_rate": rate}
        )
        algo = s.algorithm
        state = algo.init(jax.random.key(0), jnp.ones(d), s.params)

        def gen(state, k):
            k1, k2 = jax.random.split(k)
            pop, state = algo.ask(k1, state, s.params)
            state, _ = algo.tell(k2, pop, jnp.sum(scales * pop**2, axis=1), state, s.params)
            return state, None

        state, _ = jax.lax.scan(gen, state, jax.random.split(jax.random.key(1), 300))
        c = np.asarray(state.C)
        return float(np.mean(c[: d // 10]) / np.mean(c[-d // 10 :]))  # flat / stiff

    assert spread("separable") > 3.0
    full = spread("full")
    assert full < 1.2, full
