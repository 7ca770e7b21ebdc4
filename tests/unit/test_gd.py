"""The GD baseline: masked Adam keeps pruned weights exactly 0 and its moments there exactly 0,
trains the active weights (a zero-init one included), is deterministic in its key, and runs
through the CLI as strategy gd_adam."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from evotickets import cli
from evotickets.artifacts import group, read_artifact
from evotickets.config import chain_settings, validate_config
from evotickets.networks import init_params, layer_table, prunable_vector, to_vector
from evotickets.tasks import make_task
from evotickets.train.gd import masked, minibatch_loss, run_adam_round


@pytest.fixture(scope="module")
def setup():
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    task = make_task("digits", {"batch_size": 64, "population_chunk": 16}, table)
    return task, table, to_vector(theta, table), prunable_vector(table)


def _half_mask(prunable):
    """Half of the prunable weights, at random (a regular stride would prune whole channels
    and output classes)."""
    mask = np.ones(prunable.size, bool)
    idx = np.flatnonzero(prunable)
    mask[np.random.default_rng(0).permutation(idx)[: idx.size // 2]] = False
    return mask


def test_fast_minibatch_loss_equals_the_flax_loss_and_gradient(setup):
    task, _, theta0, _ = setup
    x, y = task.train_data[0][:64], task.train_data[1][:64]
    fast = jax.value_and_grad(minibatch_loss(task))(jnp.asarray(theta0), x, y)
    ref = jax.value_and_grad(task.loss)(jnp.asarray(theta0), x, y)
    np.testing.assert_allclose(fast[0], ref[0], rtol=1e-5)
    np.testing.assert_allclose(fast[1], ref[1], rtol=1e-4, atol=1e-6)
    assert float(jnp.abs(ref[1]).max()) > 1e-3


def test_gd_on_a_gpu_uses_the_flax_module_like_the_es(setup, monkeypatch):
    """Where networks.population_form picks the flax module (a GPU), GD's loss is the task's
    own flax loss; on this CPU it is the batched form (a different function, same values)."""
    from evotickets import networks

    task = setup[0]
    assert minibatch_loss(task) != task.loss
    monkeypatch.setattr(networks, "population_form", lambda backend: "vmapped")
    assert minibatch_loss(task) == task.loss


def test_masked_adam_freezes_masked_entries_and_their_moments():
    mask = jnp.array([True, False, True, False])
    target = jnp.array([1.0, -2.0, 3.0, 4.0])

    def loss(p):
        return jnp.sum((p - target) ** 2)

    def train(tx, p):
        state = tx.init(p)
        for _ in range(20):
            updates, state = tx.update(jax.grad(loss)(p), state, p)
            p = optax.apply_updates(p, updates)
        return p, state

    p0 = jnp.array([0.0, 0.0, 0.5, 0.0])
    p, state = train(masked(optax.adam(0.1), mask), p0)
    adam = state[0]
    np.testing.assert_array_equal(np.asarray(p)[[1, 3]], 0.0)
    np.testing.assert_array_equal(np.asarray(adam.mu)[[1, 3]], 0.0)
    np.testing.assert_array_equal(np.asarray(adam.nu)[[1, 3]], 0.0)
    assert np.all(np.abs(np.asarray(p)[[0, 2]] - np.asarray(p0)[[0, 2]]) > 1.0)
    # Without the mask the same gradient moves every entry: the check above is not vacuous.
    q, plain = train(optax.adam(0.1), p0)
    assert np.all(np.asarray(q)[[1, 3]] != 0.0) and np.all(np.asarray(plain[0].nu) > 0)


def test_pruned_weights_stay_exactly_zero_and_active_ones_learn(setup):
    task, table, theta0, prunable = setup
    mask = _half_mask(prunable)
    # A start that is non-zero at pruned positions (as weight_permuted's theta_start is):
    # the round must still start from and keep m ⊙ θ.
    res = run_adam_round(
        task, theta0, mask, jax.random.key(1), lr=1e-2, batch_size=128, epochs=4, log=print
    )
    assert np.all(res.theta[~mask] == 0.0)
    adam = res.opt_state[0]
    assert np.all(np.asarray(adam.mu)[~mask] == 0.0) and np.all(np.asarray(adam.nu)[~mask] == 0)
    assert np.all(np.asarray(adam.nu)[mask & prunable] > 0)  # every active weight updated
    out_bias = next(e for e in table if e.name == "Dense_0/bias")
    sl = slice(out_bias.offset, out_bias.offset + out_bias.size)
    np.testing.assert_array_equal(theta0[sl], 0.0)
    assert np.all(res.theta[sl] != 0.0), "an active weight whose θ0 is exactly 0 did not learn"
    assert res.steps_per_epoch == 1437 // 128
    assert res.step_loss.shape == (4 * 11,) and res.eval_epoch.tolist() == [1, 2, 3, 4]
    assert res.epoch_loss[-1] < res.epoch_loss[0]
    assert res.final_metric > 0.8, res.eval_metric  # chance is 0.1


def test_same_key_same_numbers_other_key_other_numbers(setup):
    """Also: the task's ES batch and population chunk (names.ES_FITNESS_TASK_KEYS, which a
    GD chain's digest leaves out) do not change GD's numbers."""
    task, table, theta0, prunable = setup
    mask = np.ones(prunable.size, bool)
    kw = {"lr": 1e-3, "batch_size": 128, "epochs": 2, "log": lambda m: None}
    a = run_adam_round(task, theta0, mask, jax.random.key(1), **kw)
    other_es = make_task("digits", {"batch_size": 1024, "population_chunk": 4}, table)
    b = run_adam_round(other_es, theta0, mask, jax.random.key(1), **kw)
    c = run_adam_round(task, theta0, mask, jax.random.key(2), **kw)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.step_loss, b.step_loss)
    assert not np.array_equal(a.step_loss, c.step_loss)  # another minibatch order


def test_each_epoch_draws_its_own_minibatch_order(setup):
    """At lr 0 the network never changes, so two epochs' step losses differ only by their
    minibatches: the same order every epoch (an epoch key without the epoch) passed."""
    task, _, theta0, prunable = setup
    mask = np.ones(prunable.size, bool)
    res = run_adam_round(task, theta0, mask, jax.random.key(1), lr=0.0, batch_size=128,
                         epochs=2, log=lambda m: None)  # fmt: skip
    first, second = res.step_loss.reshape(2, -1)
    assert not np.allclose(np.sort(first), np.sort(second))
    np.testing.assert_array_equal(res.theta, theta0)  # lr 0: the network did not move


def test_a_non_finite_loss_stops_the_round_in_its_epoch(setup):
    """An infinite weight makes the first epoch's loss non-finite: the round stops there,
    naming the epoch, instead of training on to a NaN network its write refuses later."""
    task, _, theta0, prunable = setup
    mask = np.ones(prunable.size, bool)
    start = theta0.copy()
    start[np.flatnonzero(prunable)[0]] = np.inf
    epochs: list[str] = []
    with pytest.raises(ValueError, match="became NaN/inf in epoch 1"):
        run_adam_round(task, start, mask, jax.random.key(1), lr=1e-3, batch_size=128,
                       epochs=3, log=epochs.append, label="digits/gd_adam")  # fmt: skip
    assert epochs == []  # no epoch finished


def test_batch_larger_than_the_data_is_refused(setup):
    task, _, theta0, prunable = setup
    mask = np.ones(prunable.size, bool)
    with pytest.raises(ValueError, match="batch_size 5000 exceeds"):
        run_adam_round(task, theta0, mask, jax.random.key(1), lr=1e-3, batch_size=5000, epochs=1)


def _run(argv):
    assert cli.main(argv) == 0, argv


def test_cli_trains_gd_adam_chain_and_magnitude_prunes_it(tmp_path, tiny_config):
    tiny_config["gd"] = {"gd_adam": {"epochs": 2, "lr": 1e-3}}
    cfg = validate_config(tiny_config)
    settings = chain_settings(cfg, "digits", "gd_adam", "magnitude", 0)
    assert "es" not in settings and settings["strategy_config"]["batch_size"] == 128
    s = json.dumps(settings)
    init = {"task": "digits", "network": "cnn_small", "prune_output_layer": True, "seed": 0}
    p = {k: str(tmp_path / f"{k}.h5") for k in ("init", "m0", "t0", "m1")}
    _run(["init", "--settings", json.dumps(init), "--out", p["init"]])
    _run(["mask", "--settings", s, "--round", "0", "--init", p["init"], "--out", p["m0"]])
    common = ["--settings", s, "--round", "0", "--init", p["init"]]
    _run(["train", *common, "--mask", p["m0"], "--out", p["t0"]])
    arrays, attrs = read_artifact(p["t0"], "trained")
    assert attrs["strategy"] == "gd_adam" and attrs["trainer"] == "gd"
    assert "no sigma" in attrs["search_distribution"] and not group(arrays, "sigma")
    assert arrays["curves/eval_metric"].shape == (2,) and arrays["curves/step_loss"].shape == (22,)
    assert attrs["final_metric"] == pytest.approx(float(arrays["curves/eval_metric"][-1]))
    _run(
        ["mask", "--settings", s, "--round", "1", "--init", p["init"]]
        + ["--prev-trained", p["t0"], "--out", p["m1"]]
    )
    _, m_attrs = read_artifact(p["m1"], "mask")
    assert m_attrs["kept_prunable"] == 1491 and m_attrs["theta_start"] == "theta0"


def test_snr_is_refused_for_gd(tmp_path, tiny_config, capsys):
    tiny_config["gd"] = {"gd_adam": {"epochs": 1}}
    cfg = validate_config(tiny_config)
    s = json.dumps(chain_settings(cfg, "digits", "gd_adam", "snr", 0))
    init = {"task": "digits", "network": "cnn_small", "prune_output_layer": True, "seed": 0}
    _run(["init", "--settings", json.dumps(init), "--out", str(tmp_path / "i.h5")])
    rc = cli.main(
        ["mask", "--settings", s, "--round", "0", "--init", str(tmp_path / "i.h5")]
        + ["--out", str(tmp_path / "m.h5")]
    )
    assert rc == 2
    assert "snr is undefined for gd_adam" in capsys.readouterr().err
