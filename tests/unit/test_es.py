"""One ES round: only active weights move, zero-valued active weights evolve, rewind to m⊙θ0,
determinism, and NaN fitness handling."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evotickets import cli, pruning
from evotickets.artifacts import group, read_artifact
from evotickets.config import chain_settings, validate_config
from evotickets.keys import chain_key, round_key
from evotickets.networks import init_params, layer_table, prunable_vector, to_vector
from evotickets.strategies import make_strategy
from evotickets.tasks import make_task
from evotickets.train.es import AllMembersFailed, run_round

HP = {"population_size": 16, "std_init": 0.05}


@pytest.fixture(scope="module")
def setup():
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    task = make_task("digits", {"batch_size": 64, "population_chunk": 16}, table)
    return task, table, to_vector(theta, table), prunable_vector(table)


def _half_mask(prunable):
    mask = np.ones(prunable.size, bool)
    idx = np.flatnonzero(prunable)
    mask[idx[::2]] = False
    return mask


@pytest.mark.parametrize("strategy", ["sep_cma_es", "snes", "pgpe", "des", "ars", "open_es"])
def test_pruned_weights_stay_zero_and_zero_init_weights_evolve(setup, strategy, jit_compiles):
    """Also: the round's two chunks run one compiled program. evosax's init leaves some
    fields weakly typed and a chunk returns them strongly typed; without
    ``es.strongly_typed`` the second chunk compiled the same program again."""
    task, table, theta0, prunable = setup
    mask = _half_mask(prunable)
    s = make_strategy(strategy, int(mask.sum()), HP)
    with jax.log_compiles():
        res = run_round(task, s, theta0 * mask, mask, jax.random.key(1), 6, 3, log=lambda m: None)
    assert jit_compiles("run") == 1
    assert np.all(res.theta[~mask] == 0.0) and np.all(res.sigma[~mask] == 0.0)
    out_bias = next(e for e in table if e.name == "Dense_0/bias")
    bias = res.theta[out_bias.offset : out_bias.offset + out_bias.size]
    np.testing.assert_array_equal(theta0[out_bias.offset : out_bias.offset + out_bias.size], 0)
    assert np.all(bias != 0.0), "an active weight whose θ0 is exactly 0 was not evolved"
    assert np.all(res.sigma[mask] > 0)
    assert res.best_fitness.shape == (6,) and res.eval_generation.tolist() == [3, 6]
    assert 0.0 <= res.final_metric <= 1.0


@pytest.mark.parametrize("strategy", ["sep_cma_es", "snes", "pgpe"])
def test_a_rounds_sigma_is_its_final_search_std(setup, strategy, monkeypatch):
    """The σ a round stores (SNR's denominator) is the search distribution's per-weight
    sampling std of the round's final state, on the active weights, in their order: a
    variance stored there (the study's Sep-CMA-ES bug) passed every round-level test."""
    from evotickets.train import es

    task, _, theta0, prunable = setup
    mask = _half_mask(prunable)
    s = make_strategy(strategy, int(mask.sum()), HP)
    seen = []
    original = es.per_weight_std
    monkeypatch.setattr(es, "per_weight_std", lambda *a: seen.append(a) or original(*a))
    res = run_round(task, s, theta0 * mask, mask, jax.random.key(1), 6, 3, log=lambda m: None)
    (args,) = seen
    expected = np.asarray(original(*args))
    np.testing.assert_array_equal(res.sigma[np.flatnonzero(mask)], expected)
    # and of the scale of std_init after 6 generations, not its square
    assert np.all((res.sigma[mask] > 0.2 * HP["std_init"]) & (res.sigma[mask] < 5 * HP["std_init"]))


def test_a_round_applies_the_strategys_decay_after_each_tell(setup):
    """PGPE's σ decay (evosax 0.3 no longer decays σ; the strategy's post_tell does) runs
    once a generation inside a round: with σ's own update off, σ_G = σ0 · decay^G. Called
    only directly in the tests, a round loop without it passed."""
    task, _, theta0, prunable = setup
    mask = _half_mask(prunable)
    hp = {"population_size": 16, "std_init": 0.05, "std_lr": 0.0, "std_decay": 0.5}
    s = make_strategy("pgpe", int(mask.sum()), hp)
    res = run_round(task, s, theta0 * mask, mask, jax.random.key(1), 6, 3, log=lambda m: None)
    np.testing.assert_allclose(res.sigma[mask], 0.05 * 0.5**6, rtol=1e-5)


def test_same_key_same_numbers_other_key_other_numbers(setup):
    task, _, theta0, prunable = setup
    mask = np.ones(prunable.size, bool)
    s = make_strategy("snes", int(mask.sum()), HP)
    a = run_round(task, s, theta0, mask, jax.random.key(1), 4, 2, log=lambda m: None)
    b = run_round(task, s, theta0, mask, jax.random.key(1), 4, 4, log=lambda m: None)
    c = run_round(task, s, theta0, mask, jax.random.key(2), 4, 4, log=lambda m: None)
    np.testing.assert_array_equal(a.theta, b.theta)  # chunking does not change the numbers
    np.testing.assert_array_equal(a.best_fitness, b.best_fitness)
    assert not np.array_equal(a.theta, c.theta)


class _PoisonedTask:
    """Wraps a task so that some (or all) members get a non-finite fitness."""

    def __init__(self, task, bad):
        self.task, self.bad = task, bad
        self.metric_name, self.train_data, self.test_data = (
            task.metric_name,
            task.train_data,
            task.test_data,
        )

    def init_state(self):
        return self.task.init_state()

    def population_fitness(self, population, key, data, state):
        f, state = self.task.population_fitness(population, key, data, state)
        poison = jnp.array([jnp.nan, jnp.inf, -jnp.inf])
        return f.at[: self.bad].set(jnp.resize(poison, (self.bad,))), state

    def evaluate(self, vector, data, state):
        return self.task.evaluate(vector, data, state)


def test_nan_fitness_counts_as_worst_and_is_reported(setup):
    task, _, theta0, prunable = setup
    mask = np.ones(prunable.size, bool)
    s = make_strategy("sep_cma_es", int(mask.sum()), HP)
    res = run_round(
        _PoisonedTask(task, 3), s, theta0, mask, jax.random.key(1), 4, 4, log=lambda m: None
    )
    assert res.nonfinite_count.tolist() == [3, 3, 3, 3]
    assert np.all(np.isfinite(res.theta)) and np.all(np.isfinite(res.sigma))
    assert np.all(np.isfinite(res.best_fitness)) and np.all(np.isfinite(res.mean_fitness))


def test_nonfinite_members_rank_after_the_generations_worst_fitness():
    """Fitness is minimised: NaN and ±inf members take the next float above the largest
    finite value of their generation, so they rank last, tied only among themselves, are
    counted, and stay out of the mean. A replacement by the best value or by 0 (a perfect
    loss) kept everything finite and the counts right; one by the worst value itself tied
    the worst working member with the failed ones, and evosax's tie rank took its weight."""
    from types import SimpleNamespace

    from evosax.core.fitness_shaping import weights_fitness_shaping_fn

    from evotickets.train.es import _sanitize

    fitness = jnp.array([1.0, jnp.nan, 3.0, jnp.inf, -jnp.inf, 2.0], jnp.float32)
    clean, count, mean = _sanitize(fitness)
    worse = float(np.nextafter(np.float32(3.0), np.float32(np.inf)))
    assert clean.dtype == jnp.float32
    assert np.asarray(clean).tolist() == [1.0, worse, 3.0, worse, worse, 2.0]
    assert int(count) == 3 and float(mean) == pytest.approx(2.0)
    # Sep-CMA-ES-like weights of 6 with 3 elites: the three working members keep theirs
    weights = SimpleNamespace(weights=jnp.array([0.6, 0.3, 0.1, 0.0, 0.0, 0.0]))
    shaped = np.asarray(weights_fitness_shaping_fn(None, clean, None, weights))
    np.testing.assert_allclose(shaped[[0, 5, 2]], [0.6, 0.3, 0.1])
    assert shaped[[1, 3, 4]].sum() == 0.0


def test_all_members_nan_stops_the_round(setup):
    task, _, theta0, prunable = setup
    mask = np.ones(prunable.size, bool)
    s = make_strategy("snes", int(mask.sum()), HP)
    with pytest.raises(AllMembersFailed, match="every member of generation 0"):
        run_round(
            _PoisonedTask(task, 16), s, theta0, mask, jax.random.key(1), 4, 4, log=lambda m: None
        )


def test_round_one_rewinds_to_masked_theta0(tmp_path, tiny_config):
    """The CLI trains round 1 from m1⊙θ0 (not from the round-0 solution)."""
    cfg = validate_config(tiny_config)
    settings = chain_settings(cfg, "digits", "snes", "magnitude", 0)
    s_json = json.dumps(settings)
    init = {"task": "digits", "network": "cnn_small", "prune_output_layer": True, "seed": 0}
    p = {k: str(tmp_path / f"{k}.h5") for k in ("init", "m0", "t0", "m1", "t1")}
    assert cli.main(["init", "--settings", json.dumps(init), "--out", p["init"]]) == 0
    assert (
        cli.main(
            ["mask", "--settings", s_json, "--round", "0", "--init", p["init"], "--out", p["m0"]]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "train",
                "--settings",
                s_json,
                "--round",
                "0",
                "--init",
                p["init"],
                "--mask",
                p["m0"],
                "--out",
                p["t0"],
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "mask",
                "--settings",
                s_json,
                "--round",
                "1",
                "--init",
                p["init"],
                "--prev-trained",
                p["t0"],
                "--out",
                p["m1"],
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "train",
                "--settings",
                s_json,
                "--round",
                "1",
                "--init",
                p["init"],
                "--mask",
                p["m1"],
                "--out",
                p["t1"],
            ]
        )
        == 0
    )

    init_arrays, _ = read_artifact(p["init"], "init")
    table = layer_table(group(init_arrays, "params"))
    theta0 = to_vector(group(init_arrays, "params"), table)
    m1 = to_vector(group(read_artifact(p["m1"], "mask")[0], "mask"), table).astype(bool)
    theta_g0 = to_vector(group(read_artifact(p["t0"], "trained")[0], "params"), table)
    theta_g1 = to_vector(group(read_artifact(p["t1"], "trained")[0], "params"), table)
    n = int(prunable_vector(table).sum())
    assert (m1 & prunable_vector(table)).sum() == pruning.remaining_count(n, 0.2, 1)

    task = make_task("digits", settings["task_config"], table)
    strat = make_strategy("snes", int(m1.sum()), settings["strategy_config"])
    rk = round_key(chain_key(0, "digits", "snes"), 1)
    gens, every = settings["es"]["num_generations"], settings["es"]["log_every"]
    rewound = run_round(task, strat, theta0 * m1, m1, rk, gens, every, log=lambda m: None)
    carried = run_round(task, strat, theta_g0 * m1, m1, rk, gens, every, log=lambda m: None)
    np.testing.assert_array_equal(theta_g1, rewound.theta)
    assert not np.allclose(theta_g1, carried.theta)


def test_rounds_share_compiled_programs_only_inside_a_group_block(setup):
    """`round-group` wraps its chains in shared_programs(): equal (task, strategy object,
    dimension) get one jitted program and equal strategy settings one strategy object; outside
    the block nothing is kept (a process running many rounds would hold every program)."""
    from evotickets.train.es import make_chunk_runner, shared_programs
    from evotickets.train.trainers import _strategy

    task, mask = setup[0], np.ones(setup[3].size, bool)
    hp = {"population_size": 8, "std_init": 0.05}
    outside = [_strategy("snes", int(mask.sum()), hp) for _ in range(2)]
    assert outside[0] is not outside[1]
    assert make_chunk_runner(task, outside[0], mask.size) is not make_chunk_runner(
        task, outside[0], mask.size
    )
    with shared_programs():
        inside = [_strategy("snes", int(mask.sum()), hp) for _ in range(2)]
        assert inside[0] is inside[1]
        runner = make_chunk_runner(task, inside[0], mask.size)
        assert make_chunk_runner(task, inside[1], mask.size) is runner
        assert make_chunk_runner(task, inside[0], mask.size + 1) is not runner
    assert _strategy("snes", int(mask.sum()), hp) is not inside[0]


def test_a_round_refuses_late_rewinding_with_dynamic_sparse_regrowth():
    """The rewind point is kept in the slot order of its generation; a regrowth after it
    would scatter it onto other weights. The config refuses the pair; the ES loop too, so
    that a direct caller of run_round cannot get a wrong rewind point."""
    from types import SimpleNamespace

    from evotickets.train import es

    es._check_schedule(10, None, 10, 100, "c")
    es._check_schedule(None, SimpleNamespace(every=10), 10, 100, "c")
    with pytest.raises(ValueError, match="c: late rewinding and dynamic sparse"):
        es._check_schedule(10, SimpleNamespace(every=10), 10, 100, "c")


def test_a_chunk_stops_where_any_one_generation_lost_every_member():
    """Every member of one generation NaN/inf stops the round, naming that generation, even
    where the chunk's other generations were fine (it stopped only where all were lost);
    some members lost is a count, not a stop."""
    from evotickets.train.es import AllMembersFailed, _check_members

    with pytest.raises(AllMembersFailed, match="generation 7 had a NaN/inf fitness"):
        _check_members(np.array([0, 8, 0]), 6, 8, "digits/snes")
    _check_members(np.array([7, 3, 0]), 6, 8, "digits/snes")  # some members: no stop


class _KeyedFitnessTask(_PoisonedTask):
    """A task whose fitness is uniform noise of the key it is given, so the key shows."""

    def population_fitness(self, population, key, data, state):
        return jax.random.uniform(key, (population.shape[0],)), state


def test_a_generations_fitness_key_is_its_own_stream_not_the_ask_key(setup):
    """Generation g evaluates its population with the second of the three keys split from
    ``generation_key(round key, g)`` (ask, fitness, tell). Fitness drawn with the ask key
    (a stochastic task's noise correlated with the search noise; still reproducible, so no
    other test saw it) gives other means."""
    from evotickets.keys import generation_key

    task, _, theta0, prunable = setup
    mask = np.ones(prunable.size, bool)
    s = make_strategy("snes", int(mask.sum()), HP)
    rk = jax.random.key(5)
    res = run_round(_KeyedFitnessTask(task, 0), s, theta0, mask, rk, 3, 3, log=lambda m: None)
    keys = [jax.random.split(generation_key(rk, g), 3) for g in range(3)]
    pop = HP["population_size"]
    means = [float(jnp.mean(jax.random.uniform(k[1], (pop,)))) for k in keys]
    np.testing.assert_allclose(res.mean_fitness, means, rtol=1e-6)
    mins = [float(jnp.min(jax.random.uniform(k[1], (pop,)))) for k in keys]
    np.testing.assert_allclose(res.best_fitness, mins, rtol=1e-6)
