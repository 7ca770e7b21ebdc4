"""Control tasks: rollouts equal a Python loop over env.step, observation statistics, and a
brax task training for a few generations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evotickets.config import ConfigError, validate_config
from evotickets.networks import (
    from_vector,
    from_vector_batched,
    layer_table,
    mlp_forward,
    to_vector,
)
from evotickets.strategies import make_strategy
from evotickets.tasks import init_theta, make_task
from evotickets.train.es import run_round


def _task(name, **cfg):
    hidden = cfg.pop("hidden", [16, 16])
    theta = init_theta({"task": name, "network": "mlp", "hidden": hidden}, jax.random.key(0))
    table = layer_table(theta)
    task = make_task(name, {"hidden": hidden, **cfg}, table)
    return task, table, to_vector(theta, table)


def _python_loop_return(task, params, key, norm_state):
    """The reference: reset, then env.step one call at a time, summing until the first done."""
    k_reset, k_steps = jax.random.split(key)
    obs, env_state = task.env.reset(k_reset, task.env_params)
    step = jax.jit(task.env.step)
    act = jax.jit(lambda o: task.action(params, o, norm_state))
    total = 0.0
    for k in jax.random.split(k_steps, task.max_steps):
        obs, env_state, reward, terminated, truncated, _ = step(
            k, env_state, act(obs), task.env_params
        )
        total += float(reward)
        if bool(terminated) or bool(truncated):
            break
    return total


@pytest.mark.parametrize("name", ["pendulum", "cartpole"])
def test_gymnax_rollout_equals_python_loop(name):
    task, table, theta = _task(name, max_steps=60, n_repeats=2)
    params = from_vector(jnp.asarray(theta), table)
    keys = jax.random.split(jax.random.key(3), 2)
    state = task.init_state()
    returns, _, valid = jax.jit(lambda k: task.episode_returns(params, k, state))(keys)
    expected = [_python_loop_return(task, params, k, state) for k in keys]
    np.testing.assert_allclose(np.asarray(returns), expected, rtol=1e-5, atol=1e-4)
    if name == "cartpole":  # an untrained policy falls before 60 steps: masking matters
        assert np.asarray(valid).sum(axis=1).min() < 60


def test_rewards_after_an_episode_ends_are_not_counted(monkeypatch):
    """A return sums the rewards up to the episode's first done. Pendulum never ends and
    cartpole pays nothing after its end, so the comparison above cannot tell; acrobot,
    MountainCarContinuous and brax keep paying. Cartpole's every reward raised by 1 (so a
    step after the end pays 1): each counted step pays 2 and the steps after the end nothing."""
    task, table, theta = _task("cartpole", max_steps=60, n_repeats=2)
    step = task._step

    def paying(k, env_state, a, autoreset):
        obs, env_state, reward, done = step(k, env_state, a, autoreset=autoreset)
        return obs, env_state, reward + 1.0, done

    monkeypatch.setattr(task, "_step", paying)
    params = from_vector(jnp.asarray(theta), table)
    keys = jax.random.split(jax.random.key(3), 2)
    returns, _, valid = jax.jit(lambda k: task.episode_returns(params, k, task.init_state()))(keys)
    counted = np.asarray(valid).sum(axis=1)
    assert counted.max() < 60  # both episodes end early: steps after the end exist
    np.testing.assert_allclose(np.asarray(returns), 2.0 * counted)


@pytest.mark.parametrize("name", ["cartpole", "reacher"])
def test_each_members_population_returns_are_its_own_episodes(name):
    """The population's rollouts (one time-major scan over every member and episode) give
    each member the returns, observations and alive flags of its own episodes, and the
    observations are laid out (member, episode, step)."""
    task, table, theta = _task(name, max_steps=40, n_repeats=2, obs_normalization=True)
    pop = jnp.asarray(theta) + 0.3 * jax.random.normal(jax.random.key(1), (3, theta.size))
    keys = jax.random.split(jax.random.key(2), 2)
    state = task.init_state()
    rollouts = jax.jit(lambda p: task._rollouts(p, keys, state, members=True))
    returns, obs, valid = rollouts(from_vector_batched(pop, table))
    assert obs.shape == (3, 2, 40, task.obs_dim) and valid.shape == (3, 2, 40)
    one = jax.jit(lambda v: task.episode_returns(from_vector(v, table), keys, state))
    for m in range(3):
        r, o, a = one(pop[m])
        np.testing.assert_allclose(returns[m], r, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(obs[m], o, rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(valid[m], a)


def test_continuous_actions_are_scaled_to_the_action_range_and_discrete_use_argmax():
    task, table, theta = _task("pendulum")
    params = from_vector(jnp.asarray(theta), table)
    big = {k: v * 100 for k, v in params.items()}
    obs = jnp.array([1.0, 0.0, 8.0])
    a = task.action(big, obs, task.init_state())
    assert float(jnp.abs(a).max()) <= 2.0 + 1e-6 and float(jnp.abs(a).max()) > 1.5
    cart, ctable, ctheta = _task("cartpole")
    cparams = from_vector(jnp.asarray(ctheta), ctable)
    o = jnp.array([0.1, -0.2, 0.05, 0.3])
    assert int(cart.action(cparams, o, cart.init_state())) == int(
        jnp.argmax(mlp_forward(cparams, o))
    )


def test_a_clip_output_clips_the_linear_output_and_tanh_squashes_it():
    """The study's gymnax policies send their linear output (Pendulum clips it to ±2), its
    brax policies a tanh output: ``policy_output`` clip / tanh; settings without the key are
    tanh, as made before it."""
    out = jnp.array([[-5.0], [0.5], [3.0]])
    clip, _, _ = _task("pendulum", policy_output="clip")
    np.testing.assert_allclose(clip._scale(out), [[-2.0], [0.5], [2.0]])
    tanh, _, _ = _task("pendulum", policy_output="tanh")
    np.testing.assert_allclose(tanh._scale(out), 2.0 * np.tanh(np.asarray(out)), rtol=1e-6)
    assert _task("pendulum")[0].policy_output == "tanh"
    with pytest.raises(ValueError, match="policy_output"):
        _task("pendulum", policy_output="linear")


@pytest.mark.parametrize("name", ["pendulum", "cartpole", "acrobot", "mountain_car_continuous"])
def test_the_discrete_task_list_is_the_environments_own(name):
    """The config decides where ``policy_output`` applies from names.DISCRETE_CONTROL_TASKS;
    the task decides from the environment's action space: they must agree."""
    from evotickets.names import DISCRETE_CONTROL_TASKS

    assert _task(name, hidden=[4])[0].discrete == (name in DISCRETE_CONTROL_TASKS)


def test_a_gymnax_episode_runs_max_steps_beyond_the_environments_own_limit():
    """As the study's gymnax → evojax wrapper: max_steps replaces the environment's episode
    limit where larger, so Pendulum (its own limit 200) runs the study's 500 steps; a shorter
    max_steps leaves the environment's limit as it is."""
    long, table, theta = _task("pendulum", max_steps=500, hidden=[8])
    assert int(long.env_params.max_steps_in_episode) == 500
    params = from_vector(jnp.asarray(theta), table)
    keys = jax.random.split(jax.random.key(0), 2)
    _, _, valid = long.episode_returns(params, keys, long.init_state())
    assert np.asarray(valid).sum(axis=1).tolist() == [500, 500]
    short = _task("pendulum", max_steps=60, hidden=[8])[0]
    assert int(short.env_params.max_steps_in_episode) == 200


def test_running_observation_statistics_match_numpy():
    task, _, _ = _task("pendulum", obs_normalization=True)
    rng = np.random.default_rng(0)
    obs1, obs2 = rng.normal(2.0, 3.0, (4, 7, 3)), rng.normal(-1.0, 0.5, (4, 7, 3))
    valid1, valid2 = rng.random((4, 7)) > 0.3, rng.random((4, 7)) > 0.5
    state = task._update_stats(task.init_state(), jnp.asarray(obs1), jnp.asarray(valid1))
    # NaN and inf in steps after an episode ended (brax steps a terminated state on) are
    # left out like any invalid step; multiplied by a 0 weight they voided the whole update
    obs2[~valid2] = np.nan
    obs2[np.argwhere(~valid2)[0][0], np.argwhere(~valid2)[0][1], 0] = np.inf
    # a valid step with a non-finite feature (a member whose physics blew up) is left out
    # alone; it used to void the whole generation's update
    blown = np.argwhere(valid2)[0]
    obs2[blown[0], blown[1], 1] = np.nan
    counted2 = valid2.copy()
    counted2[blown[0], blown[1]] = False
    state = task._update_stats(state, jnp.asarray(obs2), jnp.asarray(valid2))
    seen = np.concatenate([obs1[valid1], obs2[counted2]])
    np.testing.assert_allclose(state["obs_count"], len(seen))
    np.testing.assert_allclose(state["obs_mean"], seen.mean(0), rtol=1e-4)
    np.testing.assert_allclose(state["obs_var"], seen.var(0), rtol=1e-3)


def test_a_batch_without_a_usable_step_leaves_the_statistics_as_they_were():
    """No valid step (every episode already over) adds nothing: the first statistics stay
    the initial ones (variance 1, not the 1e-6 floor). A valid step with finite but huge
    features (a state blowing up: 1e30, whose square overflows) would turn the variance
    infinite; the update is then skipped, not applied."""
    task, _, _ = _task("pendulum", obs_normalization=True)
    first = task.init_state()
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(4, 7, 3)))
    state = task._update_stats(first, obs, jnp.zeros((4, 7), bool))
    for name in first:
        np.testing.assert_array_equal(state[name], first[name], err_msg=name)
    state = task._update_stats(first, obs, jnp.ones((4, 7), bool))
    huge = obs.at[0, 0, 0].set(1e30)
    after = task._update_stats(state, huge, jnp.ones((4, 7), bool))
    for name in state:
        np.testing.assert_array_equal(after[name], state[name], err_msg=name)


def test_observations_are_standardised_by_the_statistics_and_clipped():
    """The policy's input: (obs − mean) / √(var + 1e-8), clipped to ±5 (brax's), checked
    against numpy; only two internal paths were compared with each other before."""
    from evotickets.tasks.control import OBS_CLIP

    assert OBS_CLIP == 5.0  # brax's clip (the expectation below reads the constant)
    task, _, _ = _task("pendulum", obs_normalization=True)
    state = {"obs_mean": jnp.asarray([1.0, -2.0, 0.5]), "obs_var": jnp.asarray([4.0, 0.01, 9.0]),
             "obs_count": jnp.asarray(10.0)}  # fmt: skip
    obs = np.array([[3.0, -1.0, 0.5], [1.0, -2.5, -40.0]])
    z = (obs - np.asarray(state["obs_mean"])) / np.sqrt(np.asarray(state["obs_var"]) + 1e-8)
    expected = np.clip(z, -OBS_CLIP, OBS_CLIP)
    assert np.abs(z).max() > OBS_CLIP  # the clip is exercised
    np.testing.assert_allclose(np.asarray(task._normalize(jnp.asarray(obs), state)), expected,
                               rtol=1e-6)  # fmt: skip


def test_a_members_fitness_is_minus_its_mean_return_over_distinct_episodes():
    """population_fitness averages n_repeats episodes of their own keys (split from the
    generation's key), and evaluate the mean over the test episodes: the same key for every
    repeat, or the first episode's return alone, passed every test."""
    task, table, theta = _task("pendulum", max_steps=50, n_repeats=3, n_test=3)
    pop = jnp.asarray(theta)[None] + 0.1 * jax.random.normal(jax.random.key(1), (2, theta.size))
    key, state = jax.random.key(7), task.init_state()
    fitness, _ = task.population_fitness(pop, key, task.train_data, state)
    one = jax.jit(lambda v, k: task.episode_returns(from_vector(v, table), k, state)[0])
    for m in range(2):
        returns = np.asarray(one(pop[m], jax.random.split(key, 3)))
        assert len(set(returns.round(4))) == 3  # distinct episodes (random start angles)
        assert float(fitness[m]) == pytest.approx(-returns.mean(), rel=1e-5)
    test_returns = np.asarray(one(pop[0], task.test_data))
    assert test_returns.size == 3 and len(set(test_returns.round(4))) == 3
    assert float(task.evaluate(pop[0], task.test_data, state)) == pytest.approx(
        test_returns.mean(), rel=1e-5
    )


def test_pendulum_round_improves_and_keeps_pruned_weights_zero():
    task, table, theta = _task("pendulum", max_steps=200, n_repeats=2, n_test=4)
    mask = np.ones(theta.size, bool)
    mask[np.flatnonzero([e.prunable for e in table for _ in range(e.size)])[::3]] = False
    s = make_strategy("snes", int(mask.sum()), {"population_size": 16, "std_init": 0.1})
    res = run_round(task, s, theta * mask, mask, jax.random.key(0), 30, 15, log=lambda m: None)
    assert np.all(res.theta[~mask] == 0)
    assert res.best_fitness[-5:].mean() < res.best_fitness[:5].mean()  # loss = −return falls
    assert -2000 < res.final_metric < 0


def test_brax_task_trains_for_a_few_generations():
    task, _table, theta = _task("reacher", max_steps=20, n_repeats=2, n_test=2)
    assert task.obs_normalization
    mask = np.ones(theta.size, bool)
    s = make_strategy("sep_cma_es", theta.size, {"population_size": 8, "std_init": 0.05})
    res = run_round(task, s, theta, mask, jax.random.key(0), 2, 2, log=lambda m: None)
    assert np.all(np.isfinite(res.theta)) and np.isfinite(res.final_metric)
    assert res.task_state["obs_count"] == 2 * 8 * 2 * 20  # generations × pop × repeats × steps
    assert np.any(res.task_state["obs_mean"] != 0)


def test_brax_observation_size_comes_from_a_trace_and_equals_braxs(monkeypatch):
    """Building a brax task must not run brax's ``observation_size`` (an op-by-op ``reset``:
    seconds of small compiles per job), and must read the same size."""
    from brax.envs.base import PipelineEnv

    def eager(self):
        raise AssertionError("observation_size runs reset op by op")

    with monkeypatch.context() as m:
        m.setattr(PipelineEnv, "observation_size", property(eager))
        task, _table, _theta = _task("reacher", n_test=2)
    assert task.obs_dim == task.env.observation_size == 11


def test_a_control_tasks_held_out_episodes_and_provenance():
    """Every chain of a control task is scored on the same held-out episodes, drawn from
    their own seed (2**30 + 17, apart from every training key), and trained.h5 records the
    settings the numbers depend on."""
    task, _, _ = _task("pendulum", max_steps=60, n_test=4, obs_normalization=True)
    want = jax.random.split(jax.random.key(2**30 + 17), 4)
    np.testing.assert_array_equal(jax.random.key_data(task.test_data), jax.random.key_data(want))
    assert task.provenance() == {
        "env": "Pendulum-v1", "env_backend": "gymnax", "obs_normalization": "True",
        "max_steps": "60", "policy_output": "tanh", "n_repeats": str(task.n_repeats),
        "n_test": "4",
    }  # fmt: skip
    plain, _, _ = _task("cartpole")
    assert plain.provenance()["obs_normalization"] == "False"
    assert plain.provenance()["policy_output"] == "argmax"


def test_ant_heavy_needs_the_generalized_backend(tiny_config):
    tiny_config["tasks"] = {"ant_heavy": {"backend": "spring"}}
    with pytest.raises(ConfigError, match="generalized"):
        validate_config(tiny_config)


def test_ant_heavy_init_needs_no_backend_and_equals_ants():
    """θ0 needs only the policy's sizes. ant_heavy's init settings carry no backend (the
    paper grid's init job), so its θ0 must not stop at the training-only backend check; with
    the same seed and sizes it is ant's θ0."""
    settings = {"task": "ant_heavy", "network": "mlp", "hidden": [8, 8]}
    heavy = init_theta(settings, jax.random.key(3))
    ant = init_theta({**settings, "task": "ant"}, jax.random.key(3))
    assert heavy.keys() == ant.keys()
    for name in ant:
        np.testing.assert_array_equal(heavy[name], ant[name])
    assert heavy["Dense_0/kernel"].shape == (27, 8)


def test_ant_heavy_is_ant_with_a_torso_one_and_a_half_times_as_heavy():
    """The paper's "Ant, torso mass 10 → 15": the torso's mass and inertia scale by the
    default 1.5 (or the configured factor), every other body is ant's."""
    ant = make_task("ant", {"hidden": [8], "backend": "generalized"}, None).env.sys
    for factor, cfg in ((1.5, {}), (2.0, {"torso_mass_factor": 2.0})):
        heavy = make_task("ant_heavy", {"hidden": [8], "backend": "generalized", **cfg}, None)
        mass, i = heavy.env.sys.link.inertia.mass, heavy.env.sys.link.inertia.i
        np.testing.assert_allclose(mass[0], factor * ant.link.inertia.mass[0], rtol=1e-6)
        np.testing.assert_allclose(i[0], factor * ant.link.inertia.i[0], rtol=1e-6)
        np.testing.assert_array_equal(mass[1:], ant.link.inertia.mass[1:])
        np.testing.assert_array_equal(i[1:], ant.link.inertia.i[1:])
        if hasattr(ant, "body_mass"):  # body 0 is the world, body 1 the torso
            np.testing.assert_allclose(
                heavy.env.sys.body_mass[1], factor * ant.body_mass[1], rtol=1e-6
            )
            np.testing.assert_array_equal(heavy.env.sys.body_mass[2:], ant.body_mass[2:])


@pytest.mark.parametrize("name", ["ant", "halfcheetah"])
def test_brax_policy_sizes_are_the_same_for_every_backend(name):
    """init_theta and the validation read the sizes from one table for every chain of a task,
    whichever backend the chain trains with: that holds only while the sizes do not depend
    on it."""
    from evotickets.names import CONTROL_IO_SIZES

    sizes = set()
    for backend in ("spring", "generalized", "positional", "mjx"):
        task = make_task(name, {"hidden": [8, 8], "backend": backend}, None)
        sizes.add((task.obs_dim, task.num_outputs))
    assert sizes == {CONTROL_IO_SIZES[name]}


def test_pendulum_features_equal_gymnax_observation():
    from evotickets.tasks.control import OBS_FEATURES

    task, _, _ = _task("pendulum")
    keys = jax.random.split(jax.random.key(5), 16)
    _, states = jax.vmap(lambda k: task.env.reset(k, task.env_params))(keys)
    obs = jax.vmap(lambda s: task.env.get_obs(s))(states)
    feats = jnp.stack(OBS_FEATURES["pendulum"](states), axis=-1)
    np.testing.assert_array_equal(np.asarray(feats), np.asarray(obs))


def test_policy_fast_paths_equal_the_flax_module_on_masked_random_parameters():
    """mlp_forward (observation vector) and mlp_forward_features (feature by feature) against
    flax's PolicyMLP.apply, with random weights, a random mask, and an all-zero kernel row."""
    from evotickets.networks import PolicyMLP, mlp_forward_features, unflatten_params

    _, table, theta = _task("pendulum", hidden=[8, 8])
    rng = np.random.default_rng(0)
    vec = rng.normal(0.0, 1.0, theta.size).astype(np.float32)
    vec *= rng.random(theta.size) > 0.4  # masked entries are exact zeros
    params = from_vector(jnp.asarray(vec), table)
    params["Dense_0/kernel"] = params["Dense_0/kernel"].at[1].set(0.0)  # a dead feature
    obs = jax.random.normal(jax.random.key(1), (5, 3)) * 3.0
    want = PolicyMLP((8, 8), 1).apply({"params": unflatten_params(params)}, obs)
    np.testing.assert_allclose(np.asarray(mlp_forward(params, obs)), want, rtol=1e-5, atol=1e-6)
    got = mlp_forward_features(params, tuple(obs[:, i] for i in range(3)))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_pendulum_fast_path_returns_equal_the_observation_path(monkeypatch):
    """The feature path (no observation vector, no auto-reset) against the generic one."""
    from evotickets.tasks import control

    task, _, theta = _task("pendulum", max_steps=50, n_repeats=3)
    pop = jnp.asarray(theta)[None] + 0.2 * jax.random.normal(jax.random.key(2), (4, theta.size))
    state = task.init_state()
    fast = task.population_fitness(pop, jax.random.key(4), None, state)[0]
    monkeypatch.setattr(control, "OBS_FEATURES", {})
    slow = task.population_fitness(pop, jax.random.key(4), None, state)[0]
    np.testing.assert_allclose(np.asarray(fast), np.asarray(slow), rtol=1e-5)


def test_normalised_fitness_and_statistics_are_the_same_alone_and_in_a_vmapped_group():
    """A vmapped group (round-group --program vmapped) must give each chain its one-chain
    fitness and running observation statistics bitwise: the statistics' sums are fixed-order."""
    task, _, theta = _task("pendulum", obs_normalization=True, max_steps=40, n_repeats=3)
    chains = 3
    keys = jax.random.split(jax.random.key(7), chains)
    populations = jnp.asarray(theta) + 0.1 * jax.random.normal(
        jax.random.key(8), (chains, 6, theta.size)
    )
    state = task.init_state()
    # a second call starts from non-trivial statistics, as every generation after the first does
    one_chain = jax.jit(lambda pop, key, st: task.population_fitness(pop, key, task.train_data, st))
    group = jax.jit(jax.vmap(one_chain))
    alone = []
    for c in range(chains):
        _, s1 = one_chain(populations[c], keys[c], state)
        alone.append(one_chain(populations[c] * 0.5, keys[c], s1))
    _, s1 = group(populations, keys, jax.tree.map(lambda a: jnp.stack([a] * chains), state))
    f2, s2 = group(populations * 0.5, keys, s1)
    assert float(s2["obs_count"][0]) > 0
    for c, (fa, sa) in enumerate(alone):
        np.testing.assert_array_equal(f2[c], fa)
        for name in sa:
            np.testing.assert_array_equal(s2[name][c], sa[name], err_msg=name)


def test_an_environment_unlike_its_table_entry_is_refused(monkeypatch):
    """θ0 and the config's checks read a policy's sizes from names.CONTROL_IO_SIZES: an
    environment of another size (another gymnax or brax version) must stop the job by name,
    not fail in a reshape or train a policy of the wrong input size."""
    from evotickets.tasks import control

    monkeypatch.setitem(control.CONTROL_IO_SIZES, "pendulum", (4, 1))
    with pytest.raises(ValueError, match=r"pendulum's environment has 3 observations and 1 .*"
                       r"names.CONTROL_IO_SIZES says \(4, 1\)"):  # fmt: skip
        make_task("pendulum", {"hidden": [8]}, None)
