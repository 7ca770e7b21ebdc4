"""Dynamic sparse ES: drop-and-regrow keeps every layer's count exact, drops the lowest SNR
and never regrows what it just dropped; a regrown weight starts at 0 with σ = std_init in
each strategy's state; through a whole round the pruned weights never move, the counts stay
exact, and a resumed round equals an uninterrupted one bitwise."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_checkpoint import Crash, _crashing_log, setup  # noqa: F401

from evotickets import checkpoint as ck
from evotickets.dynamic_sparse import (
    DYNAMIC_STRATEGIES,
    Schedule,
    drop_and_grow,
    drop_scores,
    move_slots,
    regrow_state,
)
from evotickets.networks import LayerEntry, prunable_vector
from evotickets.pruning import layer_counts
from evotickets.strategies import make_strategy, per_weight_std
from evotickets.train.es import run_round


def _table():
    return [
        LayerEntry("a/kernel", (10,), 0, True),
        LayerEntry("a/bias", (2,), 10, False),
        LayerEntry("b/kernel", (8,), 12, True),
    ]


def test_drop_and_grow_keeps_layer_counts_and_drops_the_lowest_snr():
    table = _table()
    prunable = np.array([True] * 10 + [False] * 2 + [True] * 8)
    mask = np.zeros(20, bool)
    mask[[0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 15]] = True  # 5 of a, both biases, 4 of b
    snr = np.arange(20, dtype=float)[::-1].copy()  # lower SNR further right
    grow = np.arange(20, dtype=float)  # prefers the rightmost inactive weight
    step = drop_and_grow(mask, prunable, table, snr, grow, 0.4)
    # a: round_half_up(0.4·5) = 2 dropped (4, 3: lowest SNR), grown 9, 8; b: 2 of 4 (15, 14)
    assert sorted(step.dropped.tolist()) == [3, 4, 14, 15]
    assert sorted(step.grown.tolist()) == [8, 9, 18, 19]
    assert layer_counts(step.mask, table) == layer_counts(mask, table)
    assert step.mask[10] and step.mask[11]  # not prunable: never dropped
    # a weight just dropped is not regrown at once, even where it scores best
    step = drop_and_grow(mask, prunable, table, snr, -grow, 0.4)
    assert not set(step.grown.tolist()) & set(step.dropped.tolist())


def test_drop_scores_rank_a_collapsed_sigma_as_pruning_does_and_refuse_nan():
    """σ = 0 at an active weight: θ = 0 is dropped first, θ ≠ 0 kept (pruning's ranking), not
    NaN, which argsort would put last and so never drop; inactive positions are never
    dropped; a NaN mean is an error naming the round's divergence."""
    positions = np.array([0, 2, 3, 5])
    mean = np.array([0.0, 0.5, 2.0, 1.0], np.float32)
    sigma = np.array([0.0, 0.0, 1.0, 4.0], np.float32)
    snr = drop_scores(6, positions, mean, sigma)
    assert snr[0] == 0.0 and snr[2] > 1e30 and snr[3] == 2.0 and snr[5] == 0.25
    assert np.isinf(snr[[1, 4]]).all()
    table = [LayerEntry("k", (6,), 0, True)]
    mask = np.isin(np.arange(6), positions)
    step = drop_and_grow(mask, np.ones(6, bool), table, snr, np.zeros(6), 0.5)
    assert sorted(step.dropped.tolist()) == [0, 5]  # the two lowest, the σ = 0, θ = 0 first
    with pytest.raises(ValueError, match="no SNR"):
        drop_scores(6, positions, np.array([0, 1, np.nan, 1], np.float32), sigma)
    with pytest.raises(ValueError, match="no SNR"):  # a negative σ (a corrupt state): NaN SNR
        drop_scores(6, positions, mean, np.array([0.0, 0.0, -0.5, 4.0], np.float32))
    for mean_i in (0, 2):  # an infinite mean scores inf (σ > 0) or 0 (σ = 0): refused too
        diverged = mean.copy()
        diverged[mean_i] = np.inf
        with pytest.raises(ValueError, match="no SNR"):
            drop_scores(6, positions, diverged, sigma)


def test_drop_scores_file_each_active_weights_snr_at_its_own_position():
    """After a regrowth the slot → position map is unsorted: each slot's score lands at its
    own position (sorting the positions first passed every test), inactive ones at +inf."""
    snr = drop_scores(6, np.array([5, 0, 3]), np.array([1.0, 0.1, 2.0]), np.ones(3))
    np.testing.assert_allclose(snr[[5, 0, 3]], [1.0, 0.1, 2.0])
    assert np.all(np.isinf(snr[[1, 2, 4]]))


def test_a_true_half_of_the_regrowth_count_rounds_up():
    """0.35 · 90 = 31.5 exactly, 31.4999… in floats: 32 weights drop and regrow."""
    table = [LayerEntry("k", (200,), 0, True)]
    mask = np.arange(200) < 90
    step = drop_and_grow(mask, np.ones(200, bool), table, np.arange(200.0), np.zeros(200), 0.35)
    assert step.dropped.size == step.grown.size == 32


def test_ties_drop_and_grow_the_earlier_position():
    """As the module says: of equal SNRs the earlier weight is dropped, of equal grow scores
    the earlier is grown (pruning keeps the earlier of equal scores instead)."""
    table = [LayerEntry("k", (8,), 0, True)]
    mask = np.isin(np.arange(8), [0, 1, 2, 3])
    step = drop_and_grow(mask, np.ones(8, bool), table, np.ones(8), np.zeros(8), 0.5)
    assert step.dropped.tolist() == [0, 1] and step.grown.tolist() == [4, 5]
    # and where NumPy's default sort is not stable: 400 weights, the first 300 active
    table = [LayerEntry("k", (400,), 0, True)]
    snr, grow = np.zeros(400), np.zeros(400)
    snr[::7], grow[::5] = 1.0, 1.0
    step = drop_and_grow(np.arange(400) < 300, np.ones(400, bool), table, snr, grow, 0.2)
    assert step.dropped.tolist() == [i for i in range(300) if i % 7][:60]
    inactive = range(300, 400)
    assert (
        step.grown.tolist()
        == [i for i in inactive if i % 5 == 0] + [i for i in inactive if i % 5][:40]
    )


def test_grown_weights_take_their_dropped_partners_slots():
    idx = np.array([0, 1, 2, 3, 4])
    step = drop_and_grow(
        np.isin(np.arange(10), idx), np.ones(10, bool),
        [LayerEntry("k", (10,), 0, True)], -np.arange(10.0), np.arange(10.0), 0.4,
    )  # fmt: skip
    new_idx, slots = move_slots(idx, step)
    # dropped 4, 3 (lowest SNR first) and grew 9, 8: slot 4 holds 9, slot 3 holds 8
    assert slots.tolist() == [4, 3] and new_idx.tolist() == [0, 1, 2, 8, 9]


@pytest.mark.parametrize("name", DYNAMIC_STRATEGIES)
def test_a_regrown_slot_starts_at_zero_with_the_initial_sigma(name):
    hp = {"population_size": 8, "std_init": 0.1}
    s = make_strategy(name, 6, hp)
    state = s.algorithm.init(jax.random.key(0), jnp.linspace(-1, 1, 6), s.params)
    for g in range(3):  # adapt σ away from its initial value
        pop, state = s.algorithm.ask(jax.random.key(10 + g), state, s.params)
        state, _ = s.algorithm.tell(
            jax.random.key(20 + g), pop, jnp.sum(pop**2, 1), state, s.params
        )
    before = np.asarray(per_weight_std(name, state, 6))
    new = regrow_state(name, state, np.array([1, 4]), 0.1)
    sigma = np.asarray(per_weight_std(name, new, 6))
    assert np.asarray(new.mean)[[1, 4]].tolist() == [0.0, 0.0]
    keep = [0, 2, 3, 5]
    np.testing.assert_array_equal(np.asarray(new.mean)[keep], np.asarray(state.mean)[keep])
    np.testing.assert_allclose(sigma[keep], before[keep], rtol=1e-6)
    if name in ("ars", "open_es"):  # one shared σ: nothing per weight to reset
        np.testing.assert_allclose(sigma, before, rtol=1e-6)
    else:
        np.testing.assert_allclose(sigma[[1, 4]], 0.1, rtol=1e-5)
    if name == "sep_cma_es":  # both evolution paths
        assert np.asarray(new.p_c)[[1, 4]].tolist() == [0.0, 0.0]
        assert np.asarray(new.p_std)[[1, 4]].tolist() == [0.0, 0.0]
        assert np.asarray(state.p_std)[[1, 4]].any()  # nonzero before the reset
    # the mean's optimiser moments (Adam μ, ν of OpenES and PGPE): zeroed in the regrown
    # slots, kept elsewhere (the count, a scalar, stays shared)
    if hasattr(state, "opt_state"):
        moments = [
            (a, b)
            for a, b in zip(jax.tree.leaves(state.opt_state), jax.tree.leaves(new.opt_state),
                            strict=True)
            if np.shape(a) == (6,)
        ]  # fmt: skip
        if name in ("open_es", "pgpe"):  # Adam: moments that the tells made nonzero
            assert moments and any(np.asarray(a)[[1, 4]].any() for a, _ in moments)
        for a, b in moments:
            assert np.asarray(b)[[1, 4]].tolist() == [0.0, 0.0]
            np.testing.assert_array_equal(np.asarray(b)[keep], np.asarray(a)[keep])


@pytest.mark.parametrize("kind", ["gradient", "random"])
def test_regrow_drops_the_lowest_snr_and_grows_by_its_score(kind, monkeypatch):
    """One regrowth step as a round takes it: the dropped weights are each layer's lowest
    |mean|/σ, the grown ones the highest-scoring inactive weights (the probe's |ĝ| for
    dynamic_gradient, stood in for here), at mean 0 in the dropped ones' slots. Only
    drop_and_grow was tested alone: regrow passing it −score or −SNR passed every test."""
    from types import SimpleNamespace

    import evotickets.dynamic_sparse as dynamic

    table = [LayerEntry("k", (10,), 0, True)]
    s = make_strategy("snes", 5, {"population_size": 8, "std_init": 0.1})
    state = s.algorithm.init(jax.random.key(0), jnp.zeros(5), s.params)
    state = state.replace(mean=jnp.asarray([0.5, -0.05, 0.3, 0.01, -0.4]), std=jnp.full(5, 0.1))
    score = np.array([0, 0, 0, 0, 0, 0.1, 0.9, 0.2, 0.8, 0.3], np.float32)
    probed, keys = [], []

    def probe(task, theta, inactive, key, task_state, pairs, std):
        probed.append((np.asarray(theta), pairs, std)), keys.append(jax.random.key_data(key))
        return score, 0

    def uniform(key, shape):
        keys.append(jax.random.key_data(key))
        return jnp.asarray(score)

    monkeypatch.setattr(dynamic, "search_gradient_magnitude", probe)
    if kind == "random":  # the uniform draw from the round key is the score
        monkeypatch.setattr(jax.random, "uniform", uniform)
    # the probe's scale is the schedule's std_init, not the strategy's (0.1)
    schedule = Schedule(every=3, fraction=0.4, regrow=kind, std_init=0.03, pairs=4)
    idx = jnp.arange(5, dtype=jnp.int32)
    task = SimpleNamespace(table=table)
    (new, _), new_idx, _ = dynamic.regrow(
        task, "snes", (state, {}), idx, schedule, jax.random.key(1), 3
    )
    if kind == "gradient":  # probed around the current network: the search mean, 0 elsewhere
        np.testing.assert_allclose(probed[0][0], [0.5, -0.05, 0.3, 0.01, -0.4, 0, 0, 0, 0, 0])
        assert probed[0][1:] == (4, 0.03)
    # another generation draws other numbers (the same regrowth every time passed)
    dynamic.regrow(task, "snes", (state, {}), idx, schedule, jax.random.key(1), 6)
    assert len(keys) == 2 and not np.array_equal(keys[0], keys[1])
    # 2 of 5 dropped: |mean|/σ lowest at positions 3 (0.1) and 1 (0.5); grown: 6 and 8
    assert sorted(np.asarray(new_idx).tolist()) == [0, 2, 4, 6, 8]
    grown = np.isin(np.asarray(new_idx), [6, 8])
    np.testing.assert_array_equal(np.asarray(new.mean)[grown], 0.0)
    np.testing.assert_array_equal(np.asarray(new.std)[grown], np.float32(0.03))


def test_full_covariance_strategies_are_refused():
    with pytest.raises(ValueError, match="does not know how to regrow"):
        regrow_state("cma_es", None, np.array([0]), 0.1)


def _dynamic_round(setup, regrow, checkpoint=None):  # noqa: F811
    task, theta0, mask = setup
    s = make_strategy("snes", int(mask.sum()), {"population_size": 16, "std_init": 0.05})
    schedule = Schedule(every=3, fraction=0.25, regrow=regrow, std_init=0.05, pairs=8)
    return run_round(
        task, s, theta0, mask, jax.random.key(7), 12, 3, log=lambda m: None,
        checkpoint=checkpoint, dynamic=schedule,
    )  # fmt: skip


@pytest.mark.parametrize("regrow", ["random", "gradient"])
def test_a_dynamic_round_keeps_counts_and_pruned_weights_frozen(setup, regrow):  # noqa: F811
    task, _theta0, mask = setup
    res = _dynamic_round(setup, regrow)
    final = res.final_mask
    assert layer_counts(final, task.table) == layer_counts(mask, task.table)  # exact, per layer
    prunable = prunable_vector(task.table)
    moved = final & ~mask & prunable
    assert moved.sum() > 0  # the active set changed
    assert np.all(res.theta[~final] == 0.0) and np.all(res.sigma[~final] == 0.0)
    assert np.all(res.sigma[final] > 0)
    np.testing.assert_array_equal(final & ~prunable, mask & ~prunable)  # biases stay


def test_a_resumed_dynamic_round_is_bitwise_identical(setup, tmp_path):  # noqa: F811
    reference = _dynamic_round(setup, "gradient")
    path = tmp_path / "trained.ckpt.h5"
    first = ck.Checkpointer(path, "d1", every_generations=3, log=_crashing_log(6, []))
    with pytest.raises(Crash):
        _dynamic_round(setup, "gradient", first)
    second = ck.Checkpointer(path, "d1", every_generations=3, log=lambda m: None)
    resumed = _dynamic_round(setup, "gradient", second)
    for field in ("theta", "sigma", "best_fitness", "eval_metric", "final_mask"):
        np.testing.assert_array_equal(getattr(reference, field), getattr(resumed, field))


def test_a_dynamic_random_chain_regrows_through_the_round_verb(tmp_path):
    """The config's `dynamic_sparse` block reaches the trainer (trainers._dynamic_schedule):
    a dynamic_random round ends with another active set than the mask it started from, each
    layer keeping its count; the random chain of the same keys keeps its mask."""
    import copy
    import json

    from conftest import TINY_CONFIG

    from evotickets import cli
    from evotickets.artifacts import group, read_artifact
    from evotickets.config import chain_settings, init_settings, validate_config
    from evotickets.networks import layer_table, to_vector

    cfg = copy.deepcopy(TINY_CONFIG)
    cfg.update(methods=["random", "dynamic_random"], es={"num_generations": 4, "log_every": 2},
               dynamic_sparse={"every": 2, "fraction": 0.2})  # fmt: skip
    cfg = validate_config(cfg)
    init = tmp_path / "init.h5"
    assert cli.main(["init", "--settings", json.dumps(init_settings(cfg, "digits", 0)),
                     "--out", str(init)]) == 0  # fmt: skip
    table = layer_table(group(read_artifact(init, "init")[0], "params"))

    def round1(method):
        settings = json.dumps(chain_settings(cfg, "digits", "snes", method, 0))
        files = {k: tmp_path / f"{method}_{k}.h5" for k in ("mask", "trained")}
        assert cli.main(["round", "--settings", settings, "--round", "1", "--init", str(init),
                         "--mask-out", str(files["mask"]), "--mask-log", str(tmp_path / "m.log"),
                         "--out", str(files["trained"])]) == 0  # fmt: skip
        return [
            to_vector(group(read_artifact(files[k], k)[0], "mask"), table).astype(bool)
            for k in ("mask", "trained")
        ]

    start, end = round1("dynamic_random")
    assert not np.array_equal(start, end)
    assert layer_counts(start, table) == layer_counts(end, table)
    random_start, random_end = round1("random")
    np.testing.assert_array_equal(random_start, start)  # the same keys: the same first mask
    np.testing.assert_array_equal(random_end, random_start)


def test_collect_compares_a_dynamic_chains_ticket_not_its_starting_mask(tmp_path):
    """kept_shared_with_magnitude reads the ticket a round ends with (trained.h5's mask): for
    dynamic sparse ES that is the regrown active set, not the random mask of its mask.h5."""
    import copy
    import json

    from conftest import TINY_CONFIG

    from evotickets import cli, paths
    from evotickets.analysis.collect import collect
    from evotickets.artifacts import group, read_artifact
    from evotickets.config import chain_settings, init_settings, validate_config
    from evotickets.networks import layer_table, to_vector

    cfg = copy.deepcopy(TINY_CONFIG)
    cfg.update(methods=["magnitude", "dynamic_random"], seeds=[0], rounds=2,
               es={"num_generations": 4, "log_every": 2},
               dynamic_sparse={"every": 2, "fraction": 0.2})  # fmt: skip
    cfg = validate_config(cfg)
    results = tmp_path / "tiny"  # the experiment's folder: paths below it are root-relative
    init = Path(paths.init("init.h5", None, "digits", 0, root=results))
    init.parent.mkdir(parents=True)
    assert cli.main(["init", "--settings", json.dumps(init_settings(cfg, "digits", 0)),
                     "--out", str(init)]) == 0  # fmt: skip
    table = layer_table(group(read_artifact(init, "init")[0], "params"))

    def run(method, t):
        def at(file):
            return paths.round_file(file, None, "digits", "snes", method, 0, t, root=results)

        Path(at("mask.log")).parent.mkdir(parents=True, exist_ok=True)
        settings = json.dumps(chain_settings(cfg, "digits", "snes", method, 0))
        prev = ["--prev-trained", at("trained.h5").replace("iter01", "iter00")] if t else []
        assert cli.main(["round", "--settings", settings, "--round", str(t), "--init", str(init),
                         "--mask-out", at("mask.h5"), "--mask-log", at("mask.log"),
                         "--out", at("trained.h5"), *prev]) == 0  # fmt: skip
        return [
            to_vector(group(read_artifact(at(f), k)[0], "mask"), table).astype(bool)
            for f, k in (("mask.h5", "mask"), ("trained.h5", "trained"))
        ]

    for method in ("magnitude", "dynamic_random"):
        run(method, 0)
    _, magnitude = run("magnitude", 1)
    start, end = run("dynamic_random", 1)
    prunable = prunable_vector(table)
    ds = collect(cfg, results)
    got = ds.kept_shared_with_magnitude.sel({"method": "dynamic_random", "iteration": 1})
    want = (end & magnitude & prunable).sum() / (end & prunable).sum()
    not_this = (start & magnitude & prunable).sum() / (start & prunable).sum()
    assert want != not_this  # the regrown set shares another part of the magnitude ticket
    assert got.item() == pytest.approx(want)
    assert ds.kept_shared_with_magnitude.sel({"iteration": 0}).values.ravel().tolist() == [1, 1]


def test_a_probe_pair_with_a_non_finite_fitness_is_left_out_of_the_search_gradient():
    """One member that blew up made every weight's grow score NaN, and the regrowth then
    took inactive weights in flat order without a word: its pair is left out instead."""
    from types import SimpleNamespace

    from evotickets.dynamic_sparse import search_gradient_magnitude

    def population_fitness(members, key, data, state, poison=()):
        fitness = jnp.sum(members * jnp.arange(members.shape[1]), axis=1)
        for i in poison:
            fitness = fitness.at[i].set(jnp.nan)
        return fitness, state

    theta, inactive = jnp.zeros(6), jnp.asarray([0, 0, 1, 1, 1, 1], jnp.float32)
    args = (theta, inactive, jax.random.key(3), None, 4, 0.1)
    clean = SimpleNamespace(population_fitness=population_fitness, train_data=None)
    score, failed = search_gradient_magnitude(clean, *args)
    assert int(failed) == 0 and np.all(np.isfinite(score))

    def poisoned(*poison):
        return SimpleNamespace(
            population_fitness=lambda *a: population_fitness(*a, poison=poison),
            train_data=None,
        )

    one, failed = search_gradient_magnitude(poisoned(1), *args)  # member 1: pair 1's + side
    assert int(failed) == 1 and np.all(np.isfinite(one))
    eps = jax.random.normal(jax.random.split(jax.random.key(3))[0], (4, 6)) * 0.1 * inactive
    diff = 2 * eps @ jnp.arange(6.0)  # f(θ+ε) − f(θ−ε) of the linear fitness
    keep = jnp.asarray([1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(one, jnp.abs((diff * keep) @ eps) / (2 * 4 * 0.1**2), rtol=1e-5)
    _, failed = search_gradient_magnitude(poisoned(0, 1, 6, 7), *args)  # all four pairs
    assert int(failed) == 4


def test_a_gradient_regrowth_whose_every_probe_failed_stops_the_round(setup, monkeypatch):  # noqa: F811
    from evotickets import dynamic_sparse

    def all_failed(task, theta, inactive, key, task_state, pairs, std):
        return jnp.zeros(theta.size), pairs

    monkeypatch.setattr(dynamic_sparse, "search_gradient_magnitude", all_failed)
    with pytest.raises(ValueError, match="every one of the 8 probe pairs .* NaN or infinite"):
        _dynamic_round(setup, "gradient")


def test_a_regrowth_that_left_probe_pairs_out_says_so_in_the_round_log(setup, monkeypatch):  # noqa: F811
    """A partly failed probe still regrows (from the finite pairs), and the round's log says
    how many pairs it left out at which generation; a clean probe logs nothing of it."""
    from evotickets import dynamic_sparse

    real = dynamic_sparse.search_gradient_magnitude

    def three_failed(*args):
        score, _ = real(*args)
        return score, 3

    task, theta0, mask = setup
    logs: list[str] = []
    s = make_strategy("snes", int(mask.sum()), {"population_size": 16, "std_init": 0.05})
    schedule = Schedule(every=3, fraction=0.25, regrow="gradient", std_init=0.05, pairs=8)

    def run(log):
        return run_round(task, s, theta0, mask, jax.random.key(7), 12, 3, log=log,
                         label="r", dynamic=schedule)  # fmt: skip

    run(logs.append)
    assert not [m for m in logs if "probe pairs" in m]
    monkeypatch.setattr(dynamic_sparse, "search_gradient_magnitude", three_failed)
    logs.clear()
    run(logs.append)
    said = [m for m in logs if "probe pairs" in m]
    assert [m.split(":")[0] for m in said] == [
        "r gen 3",
        "r gen 6",
        "r gen 9",
    ]  # not at 12, the end
    assert all("left 3 of its 8 probe pairs out" in m for m in said)


def test_the_trainer_probes_with_the_configured_pairs(tiny_digits):
    """dynamic_sparse.probe_pairs reaches dynamic_gradient's regrowth schedule; without it
    the probe is half the population, as before the key."""
    import copy

    from conftest import TINY_CONFIG

    from evotickets.config import chain_settings, validate_config
    from evotickets.settings import ChainSettings
    from evotickets.train.trainers import _dynamic_schedule

    task, table, _, prunable = tiny_digits
    mask = np.ones(sum(e.size for e in table), bool)
    mask[prunable[::2]] = False  # a sparse round: one that regrows

    def schedule(**dynamic):
        cfg = copy.deepcopy(TINY_CONFIG)
        cfg.update(methods=["random", "dynamic_gradient"], es={"num_generations": 4, "log_every": 2},
                   dynamic_sparse={"every": 2, **dynamic})  # fmt: skip
        cfg = validate_config(cfg)
        settings = ChainSettings.from_dict(
            chain_settings(cfg, "digits", "snes", "dynamic_gradient", 0)
        )
        return _dynamic_schedule(settings, task, mask)

    assert schedule().pairs == 8  # the tiny config's population of 16
    assert schedule(probe_pairs=64).pairs == 64
