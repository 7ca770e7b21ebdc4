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
    task, theta0, mask = pendulum
    a = train_ppo(task, theta0, mask, jax.random.key(1), SMALL, log=lambda m: None)
    b = train_ppo(task, theta0, mask, jax.random.key(1), SMALL, log=lambda m: None)
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
    # Pendulum's reward is in [-16.3, 0] per step: reported returns stay in those units
    assert np.nanmin(-scaled.mean_fitness) < -100
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
        n = f["curves/episodes"][()]
        assert np.array_equal(np.isnan(f["curves/train_return"][()]), n == 0) and n.sum() > 0
        assert np.isfinite(f.attrs["final_metric"])
    with h5py.File(p["m1"]) as f:
        assert f.attrs["kept_prunable"] == 256  # 320 prunable × 0.8
