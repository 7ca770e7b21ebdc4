"""Masked PPO: pruned actor weights stay exactly 0; the rest learn; numbers are reproducible."""

import jax
import numpy as np
import pytest

from evotickets.networks import layer_table, prunable_vector, to_vector
from evotickets.tasks import init_theta, make_task
from evotickets.train.ppo import gae_advantages, train_ppo

SMALL = {"total_steps": 4096, "num_envs": 8, "num_steps": 16, "log_every": 16}


@pytest.fixture(scope="module")
def pendulum():
    theta = init_theta(
        {"task": "pendulum", "network": "mlp", "hidden": [16, 16]}, jax.random.key(0)
    )
    table = layer_table(theta)
    task = make_task("pendulum", {"hidden": [16, 16], "n_test": 2}, table)
    vec = to_vector(theta, table)
    mask = np.ones(vec.size, bool)
    mask[np.flatnonzero(prunable_vector(table))[::2]] = False
    return task, vec, mask


def test_pruned_weights_stay_exactly_zero_under_ppo(pendulum, jit_compiles):
    """Also: both chunks of updates run one compiled program (the carry is strongly typed
    from the start, as the chunk returns it)."""
    task, theta0, mask = pendulum
    with jax.log_compiles():
        res = train_ppo(task, theta0, mask, jax.random.key(1), SMALL, log=lambda m: None)
    assert jit_compiles("run_chunk") == 1
    assert np.all(res.theta[~mask] == 0.0)
    moved = res.theta[mask] != (theta0 * mask)[mask]
    assert moved.mean() > 0.9, "unpruned weights should be trained"
    assert res.eval_generation.tolist() == [16, 32]
    assert np.isfinite(res.final_metric)
    # the training return is measured only in updates where an episode ended (Pendulum's
    # 8 envs all time out at step 200 together: 2 of 32 updates of 16 steps), NaN elsewhere
    ret, episodes = -res.mean_fitness, res.episodes
    assert ret.shape == episodes.shape == (32,)
    assert episodes.tolist().count(8) == 2 and episodes.sum() == 16
    assert np.all(np.isnan(ret[episodes == 0])) and np.all(np.isfinite(ret[episodes > 0]))


def test_ppo_is_reproducible_from_its_key(pendulum):
    """Also: the ES fitness's rollouts per member (``n_repeats``, which a GD chain's digest
    leaves out: names.ES_FITNESS_TASK_KEYS) do not change PPO's numbers."""
    task, theta0, mask = pendulum
    a = train_ppo(task, theta0, mask, jax.random.key(1), SMALL, log=lambda m: None)
    other_es = make_task("pendulum", {"hidden": [16, 16], "n_test": 2, "n_repeats": 3}, task.table)
    assert other_es.n_repeats != task.n_repeats
    b = train_ppo(other_es, theta0, mask, jax.random.key(1), SMALL, log=lambda m: None)
    c = train_ppo(task, theta0, mask, jax.random.key(2), SMALL, log=lambda m: None)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.theta, c.theta)


def _gae_reference(rew, val, done, boot, gamma, lam):
    """Textbook GAE over one window, bootstrapped from ``boot`` after its last step."""
    adv = np.zeros_like(rew)
    nxt_adv, nxt_val = np.zeros(rew.shape[1]), boot
    for t in reversed(range(rew.shape[0])):
        nonterminal = 1.0 - done[t]
        delta = rew[t] + gamma * nxt_val * nonterminal - val[t]
        nxt_adv = delta + gamma * lam * nonterminal * nxt_adv
        adv[t], nxt_val = nxt_adv, val[t]
    return adv


def test_gae_windows_are_brax_unrolls():
    """unroll_length cuts each env's steps into windows, each bootstrapped from the critic's
    value of the next observation (brax's unrolls); one window of all steps is plain GAE."""
    rng = np.random.default_rng(0)
    rew, val = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    done = (rng.random((12, 3)) < 0.15).astype(np.float32)
    last = rng.normal(size=3)
    args = (0.9, 0.8)
    whole = np.asarray(gae_advantages(rew, val, done, last, *args, unroll_length=12))
    np.testing.assert_allclose(whole, _gae_reference(rew, val, done, last, *args), rtol=1e-5)
    windowed = np.asarray(gae_advantages(rew, val, done, last, *args, unroll_length=4))
    for w in range(3):
        sl = slice(4 * w, 4 * w + 4)
        boot = val[4 * w + 4] if w < 2 else last
        np.testing.assert_allclose(
            windowed[sl], _gae_reference(rew[sl], val[sl], done[sl], boot, *args), rtol=1e-5
        )
    assert not np.allclose(windowed, whole)  # the windows do cut the horizon


def test_ppo_unroll_and_reward_scaling_keys(pendulum):
    """Spelling out the defaults (one window, scale 1) is bitwise the unset run; a reward
    scale changes what PPO learns but not the returns it reports in the environment's units."""
    task, theta0, mask = pendulum
    quiet = {"log": lambda m: None}
    base = train_ppo(task, theta0, mask, jax.random.key(1), SMALL, **quiet)
    spelled = {**SMALL, "unroll_length": SMALL["num_steps"], "reward_scaling": 1.0}
    same = train_ppo(task, theta0, mask, jax.random.key(1), spelled, **quiet)
    np.testing.assert_array_equal(base.theta, same.theta)
    scaled = train_ppo(
        task, theta0, mask, jax.random.key(1), {**SMALL, "reward_scaling": 0.1}, **quiet
    )
    assert not np.array_equal(base.theta, scaled.theta)
    # reported returns stay in the environment's units: the same size as the unscaled run's
    # (about -1,300 here), not a tenth of it
    ratio = np.nanmean(scaled.mean_fitness) / np.nanmean(base.mean_fitness)
    assert 0.5 < ratio < 2, ratio
    with pytest.raises(ValueError, match="not a multiple of unroll_length 5"):
        train_ppo(task, theta0, mask, jax.random.key(1), {**SMALL, "unroll_length": 5}, **quiet)


def test_gd_ppo_runs_as_a_strategy_of_the_chain(tmp_path):
    """init → mask → train (dispatched to PPO) → next round's magnitude mask, via the CLI."""
    import json

    import h5py

    from evotickets import cli

    init = {
        "task": "pendulum",
        "network": "mlp",
        "prune_output_layer": True,
        "seed": 0,
        "hidden": [16, 16],
    }
    chain = {
        "task": "pendulum",
        "task_config": {"hidden": [16, 16], "n_test": 2},
        "strategy": "gd_ppo",
        "strategy_config": SMALL,
        "method": "magnitude",
        "seed": 0,
        "prune_fraction": 0.2,
        "data_dir": None,
    }
    s = json.dumps(chain)
    p = {k: str(tmp_path / f"{k}.h5") for k in ("init", "m0", "t0", "m1")}
    assert cli.main(["init", "--settings", json.dumps(init), "--out", p["init"]]) == 0
    assert (
        cli.main(["mask", "--settings", s, "--round", "0", "--init", p["init"], "--out", p["m0"]])
        == 0
    )
    assert (
        cli.main(
            [
                "train",
                "--settings",
                s,
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
                s,
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
    with h5py.File(p["t0"]) as f:
        assert f.attrs["trainer"] == "ppo" and "sigma" not in f  # no search distribution
        # the task's provenance, less the ES fitness's rollouts a member, which PPO does not
        # run (names.ES_FITNESS_TASK_KEYS: its digest leaves them out too)
        assert f.attrs["max_steps"] == "200" and "n_repeats" not in f.attrs
        n = f["curves/episodes"][()]
        assert np.array_equal(np.isnan(f["curves/train_return"][()]), n == 0) and n.sum() > 0
        assert np.isfinite(f.attrs["final_metric"])
    with h5py.File(p["m1"]) as f:
        assert f.attrs["kept_prunable"] == 256  # 320 prunable × 0.8


def _brax_gae_reference(rew, val, termination, truncation, boot, gamma, lam):
    """brax's ``compute_gae`` (training/agents/ppo/losses.py), written out: a truncated step's
    δ is 0 and the running sum restarts there."""
    values_next = np.concatenate([val[1:], boot[None]])
    keep = 1.0 - truncation
    deltas = (rew + gamma * (1.0 - termination) * values_next - val) * keep
    adv, acc = np.zeros_like(rew), np.zeros(rew.shape[1])
    for t in reversed(range(rew.shape[0])):
        acc = deltas[t] + gamma * (1.0 - termination[t]) * keep[t] * lam * acc
        adv[t] = acc
    return adv


def test_gae_with_time_limits_is_braxs():
    rng = np.random.default_rng(1)
    rew, val = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
    term = (rng.random((10, 4)) < 0.1).astype(np.float32)
    trunc = ((rng.random((10, 4)) < 0.15) & (term == 0)).astype(np.float32)
    last = rng.normal(size=4)
    args = (0.97, 0.95)
    got = np.asarray(gae_advantages(rew, val, term, last, *args, unroll_length=10, truncated=trunc))
    want = _brax_gae_reference(rew, val, term, trunc, last, *args)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.all(got[trunc == 1] == 0.0)  # left out: its critic target is its own value
    # without truncations it is the plain GAE (to rounding: XLA fuses the products its own way)
    plain = np.asarray(gae_advantages(rew, val, term, last, *args, unroll_length=10))
    zero = np.zeros_like(trunc)
    np.testing.assert_allclose(
        plain,
        np.asarray(gae_advantages(rew, val, term, last, *args, 10, truncated=zero)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_the_studys_linear_schedule_and_the_default_warmup_cosine():
    from evotickets.train.ppo import learning_rate_schedule
    from evotickets.train.ppo_settings import PPO_DEFAULTS

    n_updates = 1_750_000 // (32 * 16)  # the paper's Pendulum run: 109,344 optimiser steps
    study = learning_rate_schedule({**PPO_DEFAULTS, "lr_schedule": "linear"}, n_updates)
    assert float(study(0)) == pytest.approx(3e-4)
    assert float(study(43_750)) == pytest.approx(2e-4)  # halfway through 87,500 steps
    assert float(study(87_500)) == pytest.approx(1e-4) == float(study(109_000))
    default = learning_rate_schedule(dict(PPO_DEFAULTS), n_updates)
    assert float(default(0)) == 0.0 and float(default(5_467)) == pytest.approx(3e-4, rel=1e-3)
    assert float(default(109_344)) == pytest.approx(1e-4)


def test_study_options_change_training_and_their_unset_values_are_the_defaults(pendulum):
    """value_clip, adam_eps, lr_schedule and time_limit spelt out at their defaults train
    bitwise as when unset (so chains that do not set them keep their numbers); each study
    option trains another network."""
    task, theta0, mask = pendulum
    quiet = {"log": lambda m: None}
    unset = train_ppo(task, theta0, mask, jax.random.key(1), SMALL, **quiet)
    spelt = {"lr_schedule": "warmup_cosine", "adam_eps": 1e-8, "value_clip": False,
             "time_limit": "terminal"}  # fmt: skip
    same = train_ppo(task, theta0, mask, jax.random.key(1), {**SMALL, **spelt}, **quiet)
    np.testing.assert_array_equal(unset.theta, same.theta)
    for option in ({"value_clip": True}, {"time_limit": "truncation"}, {"adam_eps": 1e-5}):
        other = train_ppo(task, theta0, mask, jax.random.key(1), {**SMALL, **option}, **quiet)
        assert not np.array_equal(unset.theta, other.theta), option
        assert np.all(other.theta[~mask] == 0.0), option


def test_a_gymnax_time_limit_is_a_truncation(pendulum):
    """Pendulum ends only by its 200-step limit: every done of its training envs is a cut."""
    task = pendulum[0]
    _obs, state = task._reset(jax.random.key(0))
    act = np.zeros(task.num_outputs, np.float32)
    for steps, want in ((1, False), (199, False), (200, True)):
        _, _, _, done, truncated = task._step_autoreset(jax.random.key(steps), state, act, steps)
        assert bool(done) == bool(truncated) == want, steps


@pytest.mark.parametrize(("name", "limit"), [("pendulum", 50), ("reacher", 3)])
def test_a_training_env_restarts_itself_at_max_steps(name, limit, monkeypatch):
    """Below the environment's own limit (pendulum at 50 of its 200; brax never resets
    itself) the step at max_steps returns the observation of a reset drawn from its key's
    reset half, one step earlier the env runs on. A brax step that ends the episode as the
    limit falls is the episode's own end, not a cut (GAE bootstraps only a cut)."""
    import jax.numpy as jnp

    theta = init_theta({"task": name, "network": "mlp", "hidden": [8]}, jax.random.key(0))
    task = make_task(name, {"hidden": [8], "max_steps": limit}, layer_table(theta))
    _, state = task._reset(jax.random.key(0))
    act = np.zeros(task.num_outputs, np.float32)
    key = jax.random.key(7)
    fresh, _ = task._reset(jax.random.split(key)[1])
    obs, _, _, done, truncated = task._step_autoreset(key, state, act, limit)
    assert bool(done) and bool(truncated)
    np.testing.assert_array_equal(obs, fresh)
    obs, _, _, done, _ = task._step_autoreset(key, state, act, limit - 1)
    assert not bool(done) and not np.array_equal(obs, fresh)
    if task.kind == "brax":
        real = task._step
        monkeypatch.setattr(task, "_step", lambda *a, **k: (*real(*a, **k)[:3], jnp.bool_(True)))
        _, _, _, done, truncated = task._step_autoreset(key, state, act, limit)
        assert bool(done) and not bool(truncated)


@pytest.mark.parametrize("output", ["clip", "tanh"])
def test_the_actors_gaussian_mean_is_the_es_policys_output(output):
    """PPO's actor is the ES policy: its Gaussian's mean is the linear output with
    ``policy_output: clip`` (the study's gymnax PPO's mu; the environment gets the sample
    clipped) and the tanh-scaled output with ``tanh``; the action sent is always in range."""
    import jax.numpy as jnp

    from evotickets.train.ppo import _policy

    theta = init_theta({"task": "pendulum", "network": "mlp", "hidden": [8]}, jax.random.key(0))
    table = layer_table(theta)
    task = make_task("pendulum", {"hidden": [8], "policy_output": output}, table)
    _, env_action, policy_mean = _policy(task)
    out = jnp.array([-5.0, 0.5, 3.0])
    expected = out if output == "clip" else 2.0 * jnp.tanh(out)
    np.testing.assert_allclose(policy_mean(out), expected, rtol=1e-6)
    np.testing.assert_allclose(env_action(out), jnp.clip(out, -2.0, 2.0))


def _with_step(task, monkeypatch, change):
    """``task`` whose training envs' step passes through ``change(out, steps_taken)``."""
    real = task._step_autoreset

    def step(key, env_state, action, steps_taken):
        return change(real(key, env_state, action, steps_taken), steps_taken)

    monkeypatch.setattr(task, "_step_autoreset", step)
    return task


def test_a_non_finite_reward_is_counted_not_hidden(pendulum, monkeypatch):
    """A step whose reward is NaN (physics that blew up) gets no reward and is counted per
    update (before: given 0 without a count, and the artifact said nonfinite_total 0)."""
    import jax.numpy as jnp

    task, theta0, mask = pendulum

    def nan_at_step_7(out, steps_taken):
        obs, state, reward, done, truncated = out
        return obs, state, jnp.where(steps_taken == 7, jnp.nan, reward), done, truncated

    _with_step(task, monkeypatch, nan_at_step_7)
    res = train_ppo(task, theta0, mask, jax.random.key(1), SMALL, log=lambda m: None)
    # every episode each env starts reaches its step 7: the finished ones and the last one
    envs = SMALL["num_envs"]
    assert res.nonfinite_count.sum() == res.episodes.sum() + envs > envs
    assert res.nonfinite_count[0] == envs  # the first update holds every env's step 7
    assert np.isfinite(res.final_metric)


def test_networks_that_go_non_finite_stop_the_round_naming_the_updates(pendulum, monkeypatch):
    """A NaN observation makes the gradients NaN and, through the global-norm clip, every
    update: the round stops after that chunk with a divergence error (before: it ran to the
    end and failed as "PPO moved a pruned weight", a masking bug it was not)."""
    import jax.numpy as jnp

    task, theta0, mask = pendulum

    def nan_obs_late(out, steps_taken):
        obs, state, reward, done, truncated = out
        return jnp.where(steps_taken == 100, jnp.nan, obs), state, reward, done, truncated

    _with_step(task, monkeypatch, nan_obs_late)
    with pytest.raises(ValueError, match=r"PPO diverged during updates 1-16: .* actor values"):
        train_ppo(task, theta0, mask, jax.random.key(1), SMALL, log=lambda m: None)


@pytest.mark.parametrize("value_clip", [False, True])
def test_the_ppo_loss_is_the_clipped_surrogate_plus_critic_minus_entropy(pendulum, value_clip):
    """The minibatch loss against a numpy reference of PPO's objective, on a hand-made batch
    whose ratios lie inside and beyond 1 ± clip with advantages of both signs: −mean(min(r·Â,
    clip(r)·Â)) with Â normalised, + c · ½ mean((v − R)²) (the clipped value's where asked),
    − e · entropy. A flipped sign, max for min, or a bonus turned penalty passed every test
    (they checked only that weights move, stay 0 where pruned and are reproducible)."""
    import jax.numpy as jnp

    from evotickets.networks import mlp_forward
    from evotickets.train import ppo

    task, theta0, mask = pendulum
    sz = ppo._Sizes.of({**SMALL, "value_clip": value_clip, "entropy": 0.01, "critic": 0.5})
    params, _, _ = ppo._init(task, sz, theta0, mask, jax.random.key(0))
    norm = task.init_state()
    rng = np.random.default_rng(0)
    n = 12
    obs = jnp.asarray(rng.normal(size=(n, task.obs_dim)), jnp.float32)
    act = jnp.asarray(rng.normal(size=(n, task.num_outputs)), jnp.float32)
    mean_out, _, policy_mean = ppo._policy(task)
    means = jax.vmap(lambda o: policy_mean(mean_out(params["actor"], o, norm)))(obs)
    logp = np.asarray(jax.vmap(lambda m, a: ppo._log_prob(task, m, params["log_std"], a))(
        means, act))  # fmt: skip
    log_ratio = np.linspace(-0.6, 0.6, n)  # ratios 0.55 … 1.82 around 1 ± 0.2
    old_logp = jnp.asarray(logp - log_ratio, jnp.float32)
    adv = jnp.asarray(rng.normal(size=n), jnp.float32)
    ret = jnp.asarray(rng.normal(size=n), jnp.float32)
    old_value = jnp.asarray(rng.normal(size=n), jnp.float32)
    batch = (obs, act, old_logp, adv, ret, *((old_value,) if value_clip else ()))
    loss = float(ppo._loss(task, sz)(params, batch, norm))

    cfg, clip = sz.cfg, float(sz.cfg["clip"])
    r = np.exp(log_ratio)
    a = np.asarray(adv, np.float64)
    a = (a - a.mean()) / (a.std() + 1e-8)
    actor = -np.mean(np.minimum(r * a, np.clip(r, 1 - clip, 1 + clip) * a))
    value = np.asarray(jax.vmap(
        lambda o: mlp_forward(params["critic"], task._normalize(o, norm))[0])(obs), np.float64)  # fmt: skip
    critic = (value - np.asarray(ret)) ** 2
    if value_clip:
        clipped = np.asarray(old_value) + np.clip(value - np.asarray(old_value), -clip, clip)
        critic = np.maximum(critic, (clipped - np.asarray(ret)) ** 2)
    log_std = np.asarray(params["log_std"], np.float64)
    entropy = np.sum(log_std + 0.5 * np.log(2 * np.pi * np.e))  # a Gaussian's, per action
    expected = actor + cfg["critic"] * 0.5 * critic.mean() - cfg["entropy"] * entropy
    assert np.sum(np.abs(np.log(r)) > np.log(1 + clip)) >= 4  # the clip is exercised
    np.testing.assert_allclose(loss, expected, rtol=1e-4, atol=1e-5)


def test_ppos_adam_moments_hold_nothing_of_pruned_weights(pendulum, tmp_path):
    """Pruned actor weights' gradients are masked before the optimiser: they enter neither
    the global-norm clip nor Adam's moments (unmasked, they shrank the active updates, and
    the weights stayed 0 only because the update was masked after). Read from the
    mid-round checkpoint, which holds the whole carry."""
    import h5py

    from evotickets import checkpoint as ck

    task, theta0, mask = pendulum
    path = tmp_path / "trained.ckpt.h5"
    saver = ck.Checkpointer(path, "p", every_generations=16, log=lambda m: None)
    train_ppo(task, theta0, mask, jax.random.key(1), SMALL, log=lambda m: None, checkpoint=saver)
    with h5py.File(path) as f:
        names = [str(n) for n in f.attrs["leaves"]]
        moments = [f[f"state/{n}"][()] for n in names
                   if not n.startswith("0/") and f[f"state/{n}"].shape == (theta0.size,)]  # fmt: skip
    assert len(moments) >= 2, names  # Adam's μ and ν of the actor
    for leaf in moments:
        assert np.all(leaf[~mask] == 0.0) and np.any(leaf[mask] != 0.0)


def test_the_critics_targets_are_the_advantages_plus_the_rollouts_values(pendulum, monkeypatch):
    """PPO's value targets (GAE's returns) are R = Â + V(s) of the rollout, before the
    advantages are normalised: a target of Â alone passed every test. Read inside the
    compiled update from the minibatches the loss gets (value_clip sends V along)."""
    from evotickets.train import ppo

    task, theta0, mask = pendulum
    seen = []
    original = ppo._loss

    def recording_loss(task, sz):
        loss_fn = original(task, sz)

        def recorded(p, batch, norm):
            _, _, _, adv, ret, value = batch
            jax.debug.callback(lambda *a: seen.append([np.asarray(x) for x in a]), adv, ret, value)
            return loss_fn(p, batch, norm)

        return recorded

    settings = {**SMALL, "total_steps": 512, "value_clip": True}
    monkeypatch.setattr(ppo, "_loss", recording_loss)
    ppo.train_ppo(task, theta0, mask, jax.random.key(1), settings, log=lambda m: None)
    assert seen
    for adv, ret, value in seen:
        np.testing.assert_allclose(ret, adv + value, rtol=1e-6, atol=1e-6)
        assert np.abs(value).max() > 0  # the critic's values are there to add
