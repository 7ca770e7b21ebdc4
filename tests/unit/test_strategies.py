"""Strategy construction by our names, the hyperparameter mapping, and σ extraction."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from evosax.algorithms.distribution_based.discovered_es import get_weights as des_weights

from evotickets.strategies import STRATEGIES, has_per_weight_sigma, make_strategy, per_weight_std

# strategies with a per-weight σ (gradientless_descent has none: tested on its own below)
WITH_SIGMA = tuple(s for s in STRATEGIES if has_per_weight_sigma(s))

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


@pytest.mark.parametrize("name", WITH_SIGMA)
def test_sigma_matches_state_fields_by_hand(name):
    _s, state = _stepped(name)
    sigma = np.asarray(per_weight_std(name, state, D))
    assert sigma.shape == (D,)
    if name == "sep_cma_es":
        # Sep-CMA-ES samples mean + std·sqrt(C)·z: σ is std·√C, not C (the study's bug).
        expected = float(state.std) * np.sqrt(np.asarray(state.C))
        assert not np.allclose(np.asarray(state.C), 1.0)
        assert not np.allclose(sigma, np.asarray(state.C))
    elif name in ("pgpe", "snes", "des", "simple_es", "learned_es", "evotf_es"):
        expected = np.asarray(state.std)
        assert np.asarray(state.std).shape == (D,)
    elif name == "cma_es":
        # Full covariance: σ_i = std·√C_ii (the marginal std), not the whole matrix.
        c = np.asarray(state.C, np.float64)
        assert np.abs(c - np.diag(np.diag(c))).max() > 1e-3  # C is not diagonal
        expected = float(state.std) * np.sqrt(np.diag(c))
    elif name == "xnes":
        # Samples mean + std·z·B: σ_i = std·‖B[:, i]‖. evosax 0.3.2 updates B elementwise,
        # so B, diagonal at init, stays diagonal: σ_i = std·|B_ii|.
        b = np.asarray(state.B, np.float64)
        assert np.all(b - np.diag(np.diag(b)) == 0)
        expected = float(state.std) * np.abs(np.diag(b))
    elif name == "iamalgam_univariate":
        # Samples mean + (std + √C)·z: additive, not std·√C (evosax's comment) nor √(std² + C).
        expected = float(state.std) + np.sqrt(np.asarray(state.C))
        assert np.asarray(state.C).shape == (D,)
    elif name == "cma_anchored_les":
        expected = float(state.sigma) * np.asarray(state.axis_std)
        np.testing.assert_allclose(expected, state.std, rtol=1e-6)
    else:  # ars, open_es: one scalar std for every weight
        expected = np.full(D, float(state.std))
    # CMA-ES's σ comes from the eigendecomposition evosax samples with (float32, + 1e-8·I).
    np.testing.assert_allclose(sigma, expected, rtol=1e-4 if name == "cma_es" else 1e-6)
    assert np.all(sigma > 0)


def _ams_members(algo, key):
    """The members iAMaLGaM's ask moved by the anticipated mean shift: the indices its
    ``anticipated_mean_shift`` draws from the second half of the split ask key."""
    _key_sample, key_ams = jax.random.split(key)
    return jax.random.choice(
        key_ams, algo.population_size, (algo.ams_population_size,), replace=False
    )


@pytest.mark.parametrize("name", WITH_SIGMA)
def test_sigma_is_the_spread_of_the_sampled_population(name):
    """Every registered strategy's σ is the per-weight std of what it samples, after three
    updates (so σ is no longer the initial value): 4,096 members, sampling error ≈ 1 %.
    iAMaLGaM moves a random subset by the same AMS vector after sampling; with that shift
    taken back off those members, the rest is the Gaussian σ describes (see the next test)."""
    if name == "evotf_es":  # its tell runs a transformer over 100·P·D features: step at P = 8
        _s, state = _stepped(name)  # and sample 4,096 from that state (ask reads mean, std)
        s = make_strategy(name, D, {"population_size": 4096, "std_init": 0.1})
    else:
        s, state = _stepped(name, {"population_size": 4096})
    pop, _ = s.algorithm.ask(jax.random.key(5), state, s.params)
    if name == "iamalgam_univariate":
        shift = state.c_mult * s.params.delta_ams * state.mean_shift
        pop = pop.at[_ams_members(s.algorithm, jax.random.key(5))].add(-shift)
    spread = np.asarray(jnp.std(pop - state.mean, axis=0))
    sigma = np.asarray(per_weight_std(name, state, D))
    np.testing.assert_allclose(spread, sigma, rtol=0.06)


def test_iamalgam_population_is_the_gaussian_plus_one_shift_on_a_subset():
    """iAMaLGaM's ask is not centred on the mean: ``ams_population_size`` members (a random
    subset) are moved by c_mult·δ_AMS·mean_shift. The unmoved members are N(mean, σ²) per
    weight; the moved ones the same Gaussian translated; the raw spread about the sample mean
    is √(σ² + a(1 − a)s²), so σ is the search's std, not the raw spread."""
    name = "iamalgam_univariate"
    s, state = _stepped(name, {"population_size": 4096})
    key = jax.random.key(5)
    pop = np.asarray(s.algorithm.ask(key, state, s.params)[0], np.float64)
    sigma = np.asarray(per_weight_std(name, state, D), np.float64)
    moved = np.zeros(len(pop), bool)
    moved[np.asarray(_ams_members(s.algorithm, key))] = True
    shift = np.asarray(state.c_mult * s.params.delta_ams * state.mean_shift, np.float64)
    mean = np.asarray(state.mean, np.float64)
    a = moved.mean()
    assert 0.4 < a < 0.6 and np.abs(shift).max() > 3 * sigma.max()  # a real shift, on half
    np.testing.assert_allclose(pop[~moved].std(0), sigma, rtol=0.08)
    np.testing.assert_allclose(pop[moved].std(0), sigma, rtol=0.08)
    np.testing.assert_allclose(pop[~moved].mean(0), mean, atol=4 * sigma.max() / 45)
    np.testing.assert_allclose(pop[moved].mean(0) - mean, shift, atol=4 * sigma.max() / 45)
    raw = np.sqrt(sigma**2 + a * (1 - a) * shift**2)
    np.testing.assert_allclose(pop.std(0), raw, rtol=0.06)


@pytest.mark.parametrize("name", WITH_SIGMA)
def test_std_init_is_the_initial_per_weight_std(name):
    """``std_init`` means the same for every strategy: σ before the first tell (xNES starts at
    std_init² in evosax and iAMaLGaM at 1 + schedule; both are mapped)."""
    s = make_strategy(name, D, {"population_size": 8, "std_init": 0.03})
    state = s.algorithm.init(jax.random.key(0), jnp.zeros(D), s.params)
    np.testing.assert_allclose(per_weight_std(name, state, D), 0.03, rtol=1e-5)


def test_iamalgam_std_floor_is_part_of_std_init():
    hp = {"population_size": 8, "std_init": 0.05, "std_floor": 0.02}
    s = make_strategy("iamalgam_univariate", D, hp)
    state = s.algorithm.init(jax.random.key(0), jnp.zeros(D), s.params)
    assert float(state.std) == pytest.approx(0.02)
    np.testing.assert_allclose(np.sqrt(state.C), 0.03, rtol=1e-5)
    with pytest.raises(ValueError, match="std_floor"):
        make_strategy("iamalgam_univariate", D, {**hp, "std_floor": 0.05})


@pytest.mark.parametrize(
    ("name", "pop", "fits", "refused", "gib"),
    [
        ("cma_es", 100, 8192, 8193, "1.5"),  # the O(D³) eigendecomposition: max_dims
        ("xnes", 100, 4481, 5000, "9.7"),  # (P + 4)·4·D² bytes; Pendulum's MLP fits
        ("evotf_es", 16, 2000, 4481, "34.3"),  # 1,750·D² + 24,000·P·D bytes
    ],
)
def test_d_squared_strategies_refuse_too_many_weights(name, pop, fits, refused, gib):
    """CMA-ES, xNES and EvoTF hold D×D arrays (or attend across the weights): a build beyond
    their limit is a clear error naming the strategy, D, the memory and the fix."""
    from evotickets.strategies import MEMORY_LIMIT, REGISTRY

    spec = REGISTRY[name]
    assert spec.memory(pop, fits) <= MEMORY_LIMIT
    assert spec.max_dims is None or fits <= spec.max_dims
    with pytest.raises(ValueError) as err:
        make_strategy(name, refused, {"population_size": pop, "std_init": 0.1})
    msg = str(err.value)
    for part in (repr(name), f"D = {refused:,}", f"{gib} GiB", "sep_cma_es or snes"):
        assert part in msg, (part, msg)
    assert make_strategy("sep_cma_es", refused, {"population_size": pop, "std_init": 0.1})


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
    # the study's evosax 0.1.4 SNES: softmax(−T·r) over centred ranks r ∈ [−0.5, 0.5]
    r = np.arange(10) / 9 - 0.5
    study = np.exp(-12.0 * r) / np.exp(-12.0 * r).sum()
    np.testing.assert_allclose(snes.params.weights, study, rtol=1e-5)
    big = make_strategy(
        "snes", 50, {"population_size": 128, "std_init": 0.025, "temperature": 12.0}
    )
    mu_eff = 1 / np.sum(np.asarray(big.params.weights, np.float64) ** 2)
    assert mu_eff == pytest.approx(21.2, abs=0.1)  # the DES form's is 36.9 (module docstring)
    old = make_strategy(
        "snes",
        50,
        {
            "population_size": 10,
            "std_init": 0.025,
            "temperature": 12.0,
            "temperature_weights": "des",
        },
    )
    np.testing.assert_allclose(old.params.weights, des_weights(10, 12.0))
    des = make_strategy("des", 50, {"population_size": 10, "std_init": 0.1, "temperature": 3.0})
    np.testing.assert_allclose(des.params.weights, des_weights(10, 3.0))


@pytest.mark.parametrize("name", STRATEGIES)
def test_mean_decay_acts_on_every_state_type(name):
    s = make_strategy(name, D, {"population_size": 8, "std_init": 0.1, "mean_decay": 0.1})
    # a mean of many values: from 1 alone, mean·(1 − d) and mean − d agree
    mean = jnp.linspace(-2.0, 2.0, D)
    state = s.algorithm.init(jax.random.key(0), mean, s.params)
    decayed = s.post_tell(state)
    np.testing.assert_allclose(decayed.mean, 0.9 * np.asarray(mean), rtol=1e-6, atol=1e-7)
    assert type(decayed) is type(state)
    pop, _ = s.algorithm.ask(jax.random.key(1), decayed, s.params)  # still a valid state
    assert np.all(np.isfinite(pop))


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


@pytest.mark.parametrize(("beta1", "expected"), [(None, 0.99), (0.99, 0.99), (0.9, 0.9)])
def test_pgpe_adam_has_the_studys_beta1(beta1, expected):
    """evosax 0.1.4's Adam (the study's PGPE) has β1 = 0.99; optax's default is 0.9. After one
    tell Adam's first moment is (1 − β1)·g of the mean's gradient g."""
    hparams = {"population_size": 4, "std_init": 0.1, "lr": 0.01, "std_lr": 0.0}
    if beta1 is not None:
        hparams["adam_beta1"] = beta1
    s = make_strategy("pgpe", 3, hparams)
    state = s.algorithm.init(jax.random.key(0), jnp.zeros(3), s.params)
    pop, state = s.algorithm.ask(jax.random.key(1), state, s.params)
    fitness = jnp.array([1.0, 2.0, 3.0, 4.0])
    told, _ = s.algorithm.tell(jax.random.key(2), pop, fitness, state, s.params)
    shaped = np.asarray(s.algorithm.fitness_shaping_fn(pop, fitness, state, s.params))
    grad = (shaped[:2] - shaped[2:]) @ np.asarray(pop[:2] - state.mean) / 4
    mu = jax.tree_util.tree_leaves(told.opt_state)[1]  # scale_by_adam's (count, mu, nu)
    np.testing.assert_allclose(mu, (1 - expected) * grad, rtol=1e-5)


@pytest.mark.parametrize(("eps", "target"), [(None, 1e-3), (1e-6, 1e-3), (0.0, 0.0)])
def test_des_sigma_target_has_the_studys_epsilon(eps, target):
    """evosax 0.1.4's DES moves σ towards sqrt(Σ w (x − m)² + 1e-6); evosax 0.3 drops the ε.
    Members all at the mean: the target is √ε = 1e-3 (0 without it), σ' = σ + lr_std·(√ε − σ)."""
    hparams = {"population_size": 8, "std_init": 0.05}
    if eps is not None:
        hparams["variance_eps"] = eps
    s = make_strategy("des", 3, hparams)
    state = s.algorithm.init(jax.random.key(0), jnp.ones(3), s.params)
    at_mean = jnp.ones((8, 3))
    told, _ = s.algorithm.tell(jax.random.key(1), at_mean, jnp.arange(8.0), state, s.params)
    np.testing.assert_allclose(told.std, 0.05 + 0.1 * (target - 0.05), rtol=1e-5)
    np.testing.assert_allclose(told.mean, 1.0)


@pytest.mark.parametrize("name", ["pgpe", "ars", "open_es"])
def test_odd_population_for_antithetic_strategy_is_an_error(name):
    with pytest.raises(ValueError, match="even"):
        make_strategy(name, 5, {"population_size": 7, "std_init": 0.1})


def test_ars_takes_evosax_014s_adam_or_sgd_for_its_mean():
    """paper.yaml gives ARS evosax 0.1.4's defaults: Adam at lr 0.05 with β1 0.99. Two tells
    from mean 0 against Adam written out by hand (bias-corrected, ε outside the root), and
    the default SGD's step; adam_beta1 without Adam is refused rather than ignored."""
    z = jnp.asarray([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]])
    std, fitness = 0.03, jnp.asarray([1.0, 4.0, 2.0, 0.5])

    def grad(mean):  # ARS's estimate, every pair an elite (elite_ratio 1)
        f_plus, f_minus = fitness[:2], fitness[2:]
        spread = np.std(np.concatenate([f_plus, f_minus]))
        return np.asarray((f_plus - f_minus) @ z) / (2 * spread)

    hparams = {"population_size": 4, "std_init": std, "elite_ratio": 1.0, "lr": 0.05}
    adam = make_strategy("ars", 3, {**hparams, "optimizer": "adam", "adam_beta1": 0.99})
    state = adam.algorithm.init(jax.random.key(0), jnp.zeros(3), adam.params)
    m = v = np.zeros(3)
    mean = np.zeros(3)
    for t in (1, 2):
        population = jnp.concatenate([mean + std * z, mean - std * z])
        state = adam.algorithm.tell(jax.random.key(t), population, fitness, state, adam.params)[0]
        g = grad(mean)
        m, v = 0.99 * m + 0.01 * g, 0.999 * v + 0.001 * g**2
        mean = mean - 0.05 * (m / (1 - 0.99**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(state.mean, mean, rtol=1e-5, atol=1e-7)
    sgd = make_strategy("ars", 3, hparams)
    state = sgd.algorithm.init(jax.random.key(0), jnp.zeros(3), sgd.params)
    population = jnp.concatenate([std * z, -std * z])
    state = sgd.algorithm.tell(jax.random.key(1), population, fitness, state, sgd.params)[0]
    np.testing.assert_allclose(state.mean, -0.05 * grad(np.zeros(3)), rtol=1e-5)
    with pytest.raises(ValueError, match="optimizer: adam"):
        make_strategy("ars", 3, {**hparams, "adam_beta1": 0.99})
    with pytest.raises(ValueError, match="not one of"):
        make_strategy("ars", 3, {**hparams, "optimizer": "rmsprop"})


def test_the_config_refuses_ars_adam_beta1_without_adam_before_any_job():
    """adam_beta1 with ARS's default SGD validated and then failed every train job."""
    import copy
    import pathlib

    from evotickets.config import ConfigError, load_config, validate_config

    cfg = load_config(pathlib.Path(__file__).parents[2] / "config" / "paper.yaml")
    validate_config(copy.deepcopy(cfg))
    cfg["strategies"]["ars"]["optimizer"] = "sgd"
    with pytest.raises(ConfigError, match=r"strategies.ars .*adam_beta1 is Adam's"):
        validate_config(cfg)


def test_cma_es_refuses_every_member_an_elite_before_any_job():
    """elite_ratio 1 passed the schema, and every round failed on NaN weights (0/0 in
    CMA-ES's negative weights) with advice about std_init and the data."""
    import pathlib

    import jax
    import jax.numpy as jnp

    from evotickets.config import ConfigError, load_config, validate_config

    hparams = {"population_size": 16, "std_init": 0.05}
    almost = make_strategy("cma_es", 20, {**hparams, "elite_ratio": 0.99})
    state = almost.algorithm.init(jax.random.key(0), jnp.zeros(20), almost.params)
    x, state = almost.algorithm.ask(jax.random.key(1), state, almost.params)
    state = almost.algorithm.tell(jax.random.key(2), x, jnp.sum(x**2, 1), state, almost.params)[0]
    assert bool(jnp.all(jnp.isfinite(state.mean)))
    with pytest.raises(ValueError, match="elite_ratio 1.0 makes every member an elite"):
        make_strategy("cma_es", 20, {**hparams, "elite_ratio": 1.0})
    cfg = load_config(pathlib.Path(__file__).parents[2] / "config" / "config.yaml")
    cfg["strategies"] = {"cma_es": {**hparams, "elite_ratio": 1.0}}
    with pytest.raises(ConfigError, match=r"strategies.cma_es .*use elite_ratio below 1"):
        validate_config(cfg)


def test_des_refuses_a_temperature_that_selects_nothing():
    """DES at temperature 0 passed (the schema's minimum is SNES's, where 0 means log-rank
    weights) and its weights were uniform: the mean followed the centroid, fitness unread."""
    import pathlib

    import numpy as np

    from evotickets.config import ConfigError, load_config, validate_config

    hparams = {"population_size": 16, "std_init": 0.05}
    weights = make_strategy("des", 20, {**hparams, "temperature": 1e-3}).params.weights
    assert np.ptp(np.asarray(weights)) > 0  # any T > 0 still ranks
    with pytest.raises(ValueError, match="temperature 0 gives every member the same weight"):
        make_strategy("des", 20, {**hparams, "temperature": 0})
    cfg = load_config(pathlib.Path(__file__).parents[2] / "config" / "config.yaml")
    cfg["strategies"] = {"des": {**hparams, "temperature": 0}}
    with pytest.raises(ConfigError, match=r"strategies.des .*set it above 0"):
        validate_config(cfg)


def test_unknown_strategy_and_key_are_errors():
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("cma", 5, {"population_size": 8, "std_init": 0.1})
    with pytest.raises(ValueError, match="temperature"):
        make_strategy("sep_cma_es", 5, {"population_size": 8, "std_init": 0.1, "temperature": 1.0})


# μ_eff = (Σw)²/Σw² with w_i = log(μ + 1) − log i, i = 1..μ, μ = ⌊elite_ratio·N⌋ (evosax 0.1),
# worked out by hand (float64). evosax 0.3's log((N+1)/2) − log i gives 22.65, 41.70, 63.98,
# 66.86 and 9.18 for these five: 1.6×, 1.5×, 1.2× too high at ratios 0.1, 0.2, 0.4.
MU_EFF_BY_HAND = [
    (256, 0.1, 25, 14.208632518746407),
    (256, 0.2, 51, 27.73851858497636),
    (256, 0.4, 102, 53.87512751202569),
    (256, 0.5, 128, 67.11093719090296),
    (32, 0.5, 16, 9.436724198653199),
]


@pytest.mark.parametrize(("pop", "ratio", "mu", "mu_eff"), MU_EFF_BY_HAND)
def test_sep_cma_weights_and_mu_eff_are_evosax01s(pop, ratio, mu, mu_eff):
    s = make_strategy(
        "sep_cma_es", 2000, {"population_size": pop, "std_init": 0.1, "elite_ratio": ratio}
    )
    w = np.log(mu + 1) - np.log(np.arange(1, mu + 1))
    np.testing.assert_allclose(s.params.weights[:mu], w / w.sum(), rtol=1e-5)
    assert np.all(np.asarray(s.params.weights[mu:]) == 0)
    assert float(s.params.mu_eff) == pytest.approx(mu_eff, rel=1e-6)


def _rates_by_hand(mode, d, mu_eff):
    """c_c, c_1, c_μ, c_σ, d_σ written out from the papers, independently of the code."""
    if mode == "full":  # Hansen 2016 eqs. 55–58, evosax 0.3
        c_c = (4 + mu_eff / d) / (d + 4 + 2 * mu_eff / d)
        c_1 = 2 / ((d + 1.3) ** 2 + mu_eff)
        c_mu = 2 * (mu_eff - 2 + 1 / mu_eff) / ((d + 2) ** 2 + mu_eff)
        c_s = (mu_eff + 2) / (d + mu_eff + 5)
    else:  # Ros & Hansen 2008 / evosax 0.1
        c_cov = (
            (d + 2)
            / 3
            * (
                2 / (mu_eff * (d + 2**0.5) ** 2)
                + (1 - 1 / mu_eff) * min(1, (2 * mu_eff - 1) / ((d + 2) ** 2 + mu_eff))
            )
        )
        if mode == "separable":
            c_1, c_mu = c_cov / mu_eff, c_cov - c_cov / mu_eff
        else:
            c_1, c_mu = 2 / ((d + 1.3) ** 2 + mu_eff), c_cov
        c_c = 4 / (d + 4)
        c_s = (mu_eff + 2) / (d + mu_eff + 3)
    d_s = 1 + 2 * max(0, ((mu_eff - 1) / (d + 1)) ** 0.5 - 1) + c_s
    return {"c_c": c_c, "c_1": c_1, "c_mu": c_mu, "c_std": c_s, "d_std": d_s}


@pytest.mark.parametrize("mode", ["separable", "evosax01", "full"])
@pytest.mark.parametrize("d", [2000, 10000])
@pytest.mark.parametrize(("pop", "ratio", "mu", "mu_eff"), MU_EFF_BY_HAND[:3])
def test_sep_cma_rates_follow_mode_and_corrected_mu_eff(mode, d, pop, ratio, mu, mu_eff):
    hp = {"population_size": pop, "std_init": 0.1, "elite_ratio": ratio}
    p = make_strategy("sep_cma_es", d, {**hp, "covariance_rate": mode}).params
    for k, v in _rates_by_hand(mode, d, mu_eff).items():
        assert float(getattr(p, k)) == pytest.approx(v, rel=1e-5), k


def test_sep_cma_rate_modes_differ_as_documented():
    """separable scales the whole c_cov by (D+2)/3 (Ros & Hansen), evosax01 only c_μ (the
    study's), full neither (evosax 0.3). Numbers at D = 10,000, N = 256, elite_ratio 0.2."""
    hp = {"population_size": 256, "std_init": 0.1, "elite_ratio": 0.2}
    sep, e01, full = (
        make_strategy("sep_cma_es", 10_000, {**hp, "covariance_rate": m}).params
        for m in ("separable", "evosax01", "full")
    )
    assert float(sep.c_1) == pytest.approx(6.3179e-05, rel=1e-4)
    assert float(e01.c_1) == pytest.approx(1.9995e-08, rel=1e-4) == float(full.c_1)
    assert float(sep.c_mu) == pytest.approx(1.6893e-03, rel=1e-4)
    assert float(e01.c_mu) == pytest.approx(1.7525e-03, rel=1e-4)
    assert float(full.c_mu) == pytest.approx(5.1529e-07, rel=1e-4)
    # Ros & Hansen: c_1 + c_μ is evosax 0.1's c_μ (the whole c_cov), split 1/μ_eff : rest.
    assert float(sep.c_1 + sep.c_mu) == pytest.approx(float(e01.c_mu), rel=1e-5)


@pytest.mark.parametrize("mode", ["separable", "evosax01", "full"])
def test_sep_cma_covariance_decay_stays_positive(mode):
    """At tiny D the scaled rates would pass 1; C ← (1 − c_1 − c_μ)·C + … needs them ≤ 1."""
    p = make_strategy(
        "sep_cma_es", 2, {"population_size": 64, "std_init": 0.1, "covariance_rate": mode}
    ).params
    total = float(p.c_1) + float(p.c_mu)
    assert 0.9 < total < 1.0
    assert float(p.c_1) > 0 and float(p.c_mu) > 0


def test_sep_cma_unknown_covariance_rate_is_an_error():
    hp = {"population_size": 32, "std_init": 0.1, "covariance_rate": "diagonal"}
    with pytest.raises(ValueError, match="separable.*evosax01.*full"):
        make_strategy("sep_cma_es", 10, hp)


@pytest.mark.parametrize("mode", ["separable", "evosax01", "full"])
def test_sep_cma_tell_uses_the_params_we_set(mode):
    """One evosax 0.3.2 tell, redone by hand from our weights and rates: the mean (weights),
    the step size (μ_eff, c_σ, d_σ) and the diagonal C (c_c, c_1, c_μ) all match, so evosax
    reads what we set rather than its own defaults."""
    d, pop = 30, 20
    s = make_strategy(
        "sep_cma_es",
        d,
        {"population_size": pop, "std_init": 0.3, "elite_ratio": 0.2, "covariance_rate": mode},
    )
    p, algo = s.params, s.algorithm
    state = algo.init(jax.random.key(0), jnp.linspace(-1, 1, d), p)
    x, state = algo.ask(jax.random.key(1), state, p)
    fit = jnp.sum(x**2, axis=1)
    new, _ = algo.tell(jax.random.key(2), x, fit, state, p)

    m0, s0 = np.asarray(state.mean, np.float64), 0.3
    mu_eff, c_c, c_1, c_mu, c_s, d_s = (
        float(getattr(p, k)) for k in ("mu_eff", "c_c", "c_1", "c_mu", "c_std", "d_std")
    )
    mu = 4
    w = np.log(mu + 1) - np.log(np.arange(1, mu + 1))
    w /= w.sum()
    y = (np.asarray(x, np.float64)[np.argsort(np.asarray(fit))[:mu]] - m0) / s0
    y_w = w @ y
    np.testing.assert_allclose(new.mean, m0 + s0 * y_w, rtol=1e-4, atol=1e-6)
    p_s = np.sqrt(c_s * (2 - c_s) * mu_eff) * y_w  # C = 1 at the start
    chi_n = np.sqrt(d) * (1 - 1 / (4 * d) + 1 / (21 * d**2))
    std = s0 * np.exp(c_s / d_s * (np.linalg.norm(p_s) / chi_n - 1))
    assert float(new.std) == pytest.approx(std, rel=1e-4)
    h = np.linalg.norm(p_s) / np.sqrt(1 - (1 - c_s) ** 4) < (1.4 + 2 / (d + 1)) * chi_n
    p_c = h * np.sqrt(c_c * (2 - c_c) * mu_eff) * y_w
    delta = (1 - h) * c_c * (2 - c_c)
    c = (1 + c_1 * delta - c_1 - c_mu) + c_1 * p_c**2 + c_mu * (w @ y**2)
    np.testing.assert_allclose(new.C, c, rtol=1e-4)


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
    assert spread("evosax01") > 3.0
    full = spread("full")
    assert full < 1.2, full


def test_a_strategy_without_per_weight_sigma_refuses_snr_and_runs_magnitude():
    """Gradientless Descent samples a fixed ladder of isotropic radii: no per-weight σ. σ is a
    clear error, the config skips snr for it (and refuses it by name), magnitude and random
    stay, and its largest radius is std_init."""
    import copy

    from conftest import TINY_CONFIG

    from evotickets.config import ConfigError, task_methods, validate_config

    assert "gradientless_descent" in STRATEGIES and not has_per_weight_sigma("gradientless_descent")
    s = make_strategy("gradientless_descent", D, {"population_size": 8, "std_init": 0.2})
    assert float(s.params.radius_max) == pytest.approx(0.2)
    state = s.algorithm.init(jax.random.key(0), jnp.zeros(D), s.params)
    with pytest.raises(ValueError, match="no per-weight search std σ, so SNR"):
        per_weight_std("gradientless_descent", state, D)
    cfg = copy.deepcopy(TINY_CONFIG)
    cfg["strategies"]["gradientless_descent"] = {"population_size": 8, "std_init": 0.2}
    ok = validate_config(cfg)
    assert task_methods(ok, "digits", "gradientless_descent") == ["random", "magnitude"]
    assert task_methods(ok, "digits", "snes") == ["random", "magnitude", "snr"]
    cfg["strategy_methods"] = {"gradientless_descent": ["magnitude", "snr"]}
    with pytest.raises(ConfigError, match=r"lists \['snr'\].*has none.*Magnitude and random"):
        validate_config(cfg)


@pytest.mark.parametrize(
    "name", ["sep_cma_es", "ars", "pgpe", "open_es", "cma_es", "learned_es", "cma_anchored_les"]
)
def test_batch_invariant_tells_are_evosax_updates_to_float_rounding(name):
    """These strategies override evosax's ``_tell`` (divisions as products with the
    reciprocal, fixed-order sums: evotickets/batch_invariant.py) with the same equations, so
    their state after each tell equals evosax's own to float rounding. evosax's side is the
    same instance as evosax's own class, so that every helper its ``_tell`` calls through
    ``self`` (LES's features, CMA-ES's mean and rank-μ updates, which we override too) is
    evosax's: called on our instance, those ran ours on both sides, and a wrong override
    passed."""
    import copy

    s = make_strategy(name, 40, {"population_size": 16, "std_init": 0.1})
    evosax_class = next(c for c in type(s.algorithm).__mro__ if c.__module__.startswith("evosax"))
    algo = s.algorithm
    assert type(algo).__name__.startswith("BatchInvariant")
    evosax_algo = copy.copy(algo)
    evosax_algo.__class__ = evosax_class
    assert all(c.__module__.startswith("evosax") for c in type(evosax_algo).__mro__[:-1])
    key = jax.random.key(0)
    state = algo.init(key, jnp.linspace(-1.0, 1.0, 40), s.params)
    for _ in range(4):
        key, k_ask, k_tell = jax.random.split(key, 3)
        population, state = algo.ask(k_ask, state, s.params)
        # centred on the mean, so that LES's z-scored fitness cancels no leading digits
        noise = population - state.mean
        fitness = noise @ jnp.linspace(1.0, 2.0, 40) + jnp.sum(noise**2, axis=1)
        # what `tell` hands `_tell`: the shaped fitness (CMA-ES's recombination weights)
        fitness = algo.fitness_shaping_fn(population, fitness, state, s.params)
        ours = algo._tell(k_tell, population, fitness, state, s.params)
        theirs = evosax_algo._tell(k_tell, population, fitness, state, s.params)
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-6)
        state = ours
    assert not np.allclose(state.mean, np.linspace(-1.0, 1.0, 40))  # it moved


def test_iamalgam_batch_invariant_updates_are_evosax_updates_to_float_rounding():
    """iamalgam_univariate overrides evosax's mean, covariance and SDR updates with fixed-order
    sums: the same numbers as evosax's own to float rounding."""
    s = make_strategy("iamalgam_univariate", 30, {"population_size": 20, "std_init": 0.1})
    algo, evosax_class = s.algorithm, type(s.algorithm).__mro__[1]
    elites = jax.random.normal(jax.random.key(1), (algo.num_elites, 30))
    mean, C = jnp.linspace(-0.5, 0.5, 30), jnp.linspace(0.01, 0.02, 30)
    improved = jnp.arange(algo.num_elites) % 3 == 0
    calls = {
        "update_mean": (elites, mean, jnp.ones(30) * 0.1, s.params),
        "update_cov": (elites, C, mean, s.params),
        "standard_deviation_ratio": (improved, elites, C, mean),
    }
    for name, args in calls.items():
        ours, theirs = getattr(algo, name)(*args), getattr(evosax_class, name)(algo, *args)
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
            np.testing.assert_allclose(
                np.asarray(a), np.asarray(b), rtol=2e-6, atol=1e-7, err_msg=name
            )


def test_iamalgam_updates_are_the_same_alone_and_vmapped():
    """Three chains' updates in one vmapped program equal each chain's alone, bitwise, at the
    shapes of bench 9 (population 32, 1,525 weights), where evosax's covariance update
    (``jnp.sum`` over the elites, divided by their count) differs in the last bits."""
    s = make_strategy("iamalgam_univariate", 1525, {"population_size": 32, "std_init": 0.1})
    algo = s.algorithm
    elites = jax.random.normal(jax.random.key(1), (3, algo.num_elites, 1525))
    mean = jax.random.normal(jax.random.key(2), (3, 1525))
    C = jnp.abs(mean) + 0.1
    improved = jnp.stack([jnp.arange(algo.num_elites) % k == 0 for k in (2, 3, 5)])
    updates = [
        (lambda e, m: algo.update_mean(e, m, m, s.params), (elites, mean)),
        (lambda e, c, m: algo.update_cov(e, c, m, s.params), (elites, C, mean)),
        (algo.standard_deviation_ratio, (improved, elites, C, mean)),
    ]
    for update, args in updates:
        together = jax.jit(jax.vmap(update))(*args)
        for i in range(3):
            alone = jax.jit(update)(*[a[i] for a in args])
            for x, y in zip(jax.tree.leaves(alone), jax.tree.leaves(together), strict=True):
                np.testing.assert_array_equal(np.asarray(x), np.asarray(y)[i])


@pytest.mark.parametrize("name", ["cma_es", "learned_es", "cma_anchored_les"])
def test_tell_is_the_same_alone_and_vmapped(name):
    """Three chains' tells in one vmapped program equal each chain's alone, bitwise, at the
    shapes of bench 9 (population 32, 1,525 weights), where evosax's own tells differ in the
    last bits (CMA-ES: its division by std, its products with B, its norms; LES: its
    networks' small products and the z-score's sums; CMA-anchored LES: its features' sums
    and norms, its three networks, its weighted sums over the population)."""
    s = make_strategy(name, 1525, {"population_size": 32, "std_init": 0.1})
    algo, params = s.algorithm, s.params

    def generation(key, state):  # after one tell, C (and so B and D) is no longer I
        population, state = algo.ask(jax.random.fold_in(key, 1), state, params)
        fitness = jnp.sum(population**2, axis=1) + population[:, 0]
        return population, fitness, state

    keys = [jax.random.key(20 + i) for i in range(3)]
    chains = []
    for key in keys:
        state = algo.init(key, jax.random.normal(key, (1525,)) * 0.1, params)
        population, fitness, state = generation(key, state)
        state = algo.tell(key, population, fitness, state, params)[0]
        chains.append(generation(jax.random.fold_in(key, 2), state))

    def tell(key, population, fitness, state):
        return algo.tell(key, population, fitness, state, params)[0]

    stacked = jax.tree.map(lambda *a: jnp.stack(a), *chains)
    together = jax.jit(jax.vmap(tell))(jnp.stack(keys), *stacked)
    for i, key in enumerate(keys):
        alone = jax.jit(tell)(key, *chains[i])
        for x, y in zip(jax.tree.leaves(alone), jax.tree.leaves(together), strict=True):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y)[i])


def test_a_vmapped_group_counts_every_strategy_but_evotf_in_its_program():
    """The registry's ``batch_invariant`` flags are bench 9's findings (3 chains alone and
    vmapped, 5 generations): every strategy bitwise but EvoTF (8.6e-6). A group job counts
    the chains of its program by them, so an EvoTF chain trains alone and is not counted."""
    from conftest import TINY_CONFIG

    from evotickets.config import chain_spec, validate_config
    from evotickets.strategies import REGISTRY
    from evotickets.train.trainers import trains_in_lockstep

    assert [name for name in STRATEGIES if not REGISTRY[name].batch_invariant] == ["evotf_es"]
    cfg = validate_config(
        {**TINY_CONFIG, "strategies": {
            "evotf_es": {"population_size": 8, "std_init": 0.05},
            "snes": {"population_size": 8, "std_init": 0.05},
        }}
    )  # fmt: skip
    for round_index in (0, 1):
        evotf = chain_spec(cfg, "digits", "evotf_es", "magnitude", 0)
        snes = chain_spec(cfg, "digits", "snes", "magnitude", 0)
        assert not trains_in_lockstep(evotf, round_index)
        assert trains_in_lockstep(snes, round_index)


def test_pgpe_without_decays_keeps_its_learning_rate_and_sigma_floor():
    """paper.yaml's "anything else" PGPE rows: lr 0.15 with no decay and the 0.001 limit, σ
    floored at 0.01 without a decay (evosax 0.1.4: max(x·decay, limit) every generation).
    optax's exponential_decay read the limit as a ceiling there (lr 0.001), and the floor
    was applied only with a decay."""
    hparams = {"population_size": 4, "std_init": 0.05, "lr": 0.15, "lr_decay": 1.0}
    hparams |= {"lr_limit": 0.001, "std_lr": 0.0, "std_decay": 1.0, "std_limit": 0.01}
    s = make_strategy("pgpe", 3, hparams)
    state = s.algorithm.init(jax.random.key(0), jnp.zeros(3), s.params)
    np.testing.assert_allclose(s.post_tell(state).std, 0.05)  # above the floor: kept
    # σ adapted below the floor (std_lr): lifted to it, though nothing decays
    low = state.replace(std=jnp.asarray([0.005, 0.02, 0.009]))
    np.testing.assert_allclose(s.post_tell(low).std, [0.01, 0.02, 0.01])
    pop, state = s.algorithm.ask(jax.random.key(1), state, s.params)
    told, _ = s.algorithm.tell(jax.random.key(2), pop, jnp.arange(4.0), state, s.params)
    step = np.abs(np.asarray(told.mean))
    # Adam's first step moves each weight by lr (|m̂| / √v̂ = 1 up to ε) where its gradient ≠ 0
    np.testing.assert_allclose(step[step > 0], 0.15, rtol=1e-3)
    decaying = make_strategy("pgpe", 3, hparams | {"lr_decay": 0.5})
    told, _ = decaying.algorithm.tell(jax.random.key(2), pop, jnp.arange(4.0), state, s.params)
    step = np.abs(np.asarray(told.mean))
    np.testing.assert_allclose(step[step > 0], 0.15, rtol=1e-3)  # the first step: lr·0.5⁰
    # and it decays: under a constant gradient Adam's m̂/√v̂ is 1, so step t moves each
    # weight by the rate max(lr·decay^t, lr_limit) (the floor from t = 8 on here); a decay
    # left out kept 0.15 (paper.yaml's vision PGPE decays by 0.999)
    for strategy, rate in ((decaying, lambda t: max(0.15 * 0.5**t, 0.001)), (s, lambda t: 0.15)):
        opt = strategy.algorithm.optimizer
        opt_state, moved = opt.init(jnp.zeros(3)), []
        for _ in range(12):
            update, opt_state = opt.update(jnp.ones(3), opt_state)
            moved.append(float(jnp.abs(update[0])))
        np.testing.assert_allclose(moved, [rate(t) for t in range(12)], rtol=1e-3)


@pytest.mark.parametrize(
    ("strategy", "extra", "message"),
    [
        # σ = max(σ·decay, std_limit) was the limit from the first tell: std_init never used
        ("pgpe", {"std_limit": 0.2}, r"std_limit \(0.2\) is σ's floor but lies above std_init"),
        # max(lr·decay^t, lr_limit) was the limit from the first step: lr never used
        ("pgpe", {"lr": 0.01, "lr_limit": 0.05}, r"lr_limit \(0.05\) .* above lr \(0.01\)"),
        ("pgpe", {"lr_limit": 0.05}, r"above lr \(0.01\)"),  # the default lr
        # validated, then failed in every train job
        ("iamalgam_univariate", {"std_floor": 0.1}, r"std_floor \(0.1\) must lie in \[0, std_init"),
        # a ladder of radii upside down
        (
            "gradientless_descent",
            {"radius_min": 0.5},
            r"radius_min \(0.5\) .* must not lie above std_init",
        ),
    ],
)
def test_the_config_refuses_a_strategys_floor_above_its_start(
    tiny_config, strategy, extra, message
):
    """A floor or smallest radius above the value it starts from is refused at validation,
    before any job runs, and by make_strategy; at or below it the same settings build."""
    from evotickets.config import ConfigError, validate_config

    hparams = {"population_size": 8, "std_init": 0.1}
    tiny_config["strategies"] = {strategy: {**hparams, **extra}}
    tiny_config["methods"] = ["random", "magnitude"]
    with pytest.raises(ConfigError, match=rf"strategies.{strategy} .*{message}"):
        validate_config(tiny_config)
    with pytest.raises(ValueError, match=message):
        make_strategy(strategy, D, {**hparams, **extra})
    fine = {k: v / 10 for k, v in extra.items() if k != "lr"} | {
        k: extra[k] for k in ("lr",) if k in extra
    }
    make_strategy(strategy, D, {**hparams, **fine})


def test_gradientless_descent_radii_are_typed_by_the_schema(tiny_config):
    """radius_min and radius_decay had no schema entry: a string passed validation and failed
    in float() inside every train job."""
    from evotickets.config import ConfigError, validate_config

    tiny_config["strategies"] = {
        "gradientless_descent": {"population_size": 8, "std_init": 0.1, "radius_decay": "fast"}
    }
    tiny_config["methods"] = ["random", "magnitude"]
    with pytest.raises(ConfigError, match="radius_decay"):
        validate_config(tiny_config)
    tiny_config["strategies"]["gradientless_descent"]["radius_decay"] = 0
    with pytest.raises(ConfigError, match="radius_decay"):
        validate_config(tiny_config)


def test_ars_without_elite_ratio_takes_evosax_014s_and_its_digest_names_it(tiny_config):
    """ARS without elite_ratio stepped along every pair's direction (1.0, neither evosax's
    default); now evosax 0.1.4's 0.1, written into the chain's settings so its digest says so."""
    from evotickets.config import chain_settings, validate_config

    s = make_strategy("ars", D, {"population_size": 48, "std_init": 0.1})
    assert s.algorithm.elite_ratio == pytest.approx(0.1) and s.algorithm.num_elites == 2
    tiny_config["strategies"] = {"ars": {"population_size": 48, "std_init": 0.1}}
    tiny_config["methods"] = ["random", "magnitude"]
    cfg = validate_config(tiny_config)
    settings = chain_settings(cfg, "digits", "ars", "magnitude", 0)
    assert settings["strategy_config"]["elite_ratio"] == 0.1
