"""Late rewinding: the snapshot of round 0 does not change round 0 (bitwise), it equals the
search mean (θ) after k generations (steps), it survives a resume from a checkpoint taken
after k, later rounds read it from round 0's trained.h5, and k = 0 changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import jax
import numpy as np
import pytest
from conftest import TINY_CONFIG
from round_results import assert_same_round
from test_checkpoint import HP, Crash, _crashing_log, setup  # noqa: F401

from evotickets import checkpoint as ck
from evotickets import cli
from evotickets.config import (
    ConfigError,
    chain_settings,
    init_settings,
    task_rewind,
    validate_config,
)
from evotickets.strategies import make_strategy
from evotickets.train.es import run_round
from evotickets.train.gd import run_adam_round


def _es(setup, generations, rewind_at=None, checkpoint=None):  # noqa: F811
    task, theta0, mask = setup
    s = make_strategy("snes", int(mask.sum()), HP["snes"])
    return run_round(
        task, s, theta0, mask, jax.random.key(7), generations, 3, log=lambda m: None,
        checkpoint=checkpoint, rewind_at=rewind_at,
    )  # fmt: skip


def test_es_snapshot_is_the_mean_after_k_and_changes_nothing(setup):  # noqa: F811
    plain, rewound, first_six = _es(setup, 12), _es(setup, 12, rewind_at=6), _es(setup, 6)
    assert_same_round(plain, rewound)  # bitwise: the snapshot does not perturb the round
    assert plain.rewind_theta is None
    np.testing.assert_array_equal(rewound.rewind_theta, first_six.theta)
    with pytest.raises(ValueError, match="multiple of the chunk"):
        _es(setup, 12, rewind_at=4)


def test_es_snapshot_survives_a_resume(setup, tmp_path):  # noqa: F811
    reference = _es(setup, 12, rewind_at=3)
    path = tmp_path / "trained.ckpt.h5"
    first = ck.Checkpointer(path, "r1", every_generations=3, log=_crashing_log(6, []))
    with pytest.raises(Crash):
        _es(setup, 12, rewind_at=3, checkpoint=first)
    messages: list[str] = []
    second = ck.Checkpointer(path, "r1", every_generations=3, log=messages.append)
    resumed = _es(setup, 12, rewind_at=3, checkpoint=second)
    assert_same_round(reference, resumed)
    np.testing.assert_array_equal(reference.rewind_theta, resumed.rewind_theta)
    # resumed, not restarted: a checkpoint without the rewind point is refused, and a rerun
    # from scratch gives the same numbers, so only the log tells the work was kept
    assert any(m.startswith("resuming from checkpoint") and "generation 6" in m for m in messages)
    assert second.saves == 1  # generation 9 only


@pytest.mark.parametrize("k", [5, 11])  # inside the second epoch, and at the end of the first
def test_adam_snapshot_is_theta_after_k_steps_and_changes_nothing(setup, k):  # noqa: F811
    task, theta0, mask = setup
    kw = {"lr": 1e-3, "batch_size": 128, "log": lambda m: None}
    plain = run_adam_round(task, theta0, mask, jax.random.key(1), epochs=2, **kw)
    steps = plain.steps_per_epoch
    assert steps == 11  # the 1,437 digits training images in batches of 128
    rewound = run_adam_round(task, theta0, mask, jax.random.key(1), epochs=2, rewind_at=k, **kw)
    np.testing.assert_array_equal(plain.theta, rewound.theta)
    np.testing.assert_array_equal(plain.step_loss, rewound.step_loss)
    if k == steps:  # the end of epoch 1 is θ after one epoch
        one = run_adam_round(task, theta0, mask, jax.random.key(1), epochs=1, **kw)
        np.testing.assert_array_equal(rewound.rewind_theta, one.theta)
    assert not np.array_equal(rewound.rewind_theta, theta0 * mask)
    assert np.all(rewound.rewind_theta[~mask] == 0.0)


def _cfg(budget: str | None = None, **change):
    cfg = {**TINY_CONFIG, "es": {"num_generations": 6, "log_every": 3}, **change}
    rw = {**cfg["tasks"]["digits"], "task": "digits", "rewind": 3}
    if budget is not None:
        rw["rewind_budget"] = budget
    cfg["tasks"] = {**cfg["tasks"], "digits_rw": rw}
    return validate_config(cfg)


# full: round 1 searches G = 6 generations from the rewind point; remaining: G − k = 3
@pytest.mark.parametrize("budget, generations", [(None, 6), ("remaining", 3)])
def test_rounds_after_0_start_from_the_stored_rewind_point(tmp_path, budget, generations, capsys):
    cfg = _cfg(budget)
    init = tmp_path / "init.h5"
    assert cli.main(["init", "--settings", json.dumps(init_settings(cfg, "digits_rw", 0)),
                     "--out", str(init)]) == 0  # fmt: skip
    s = chain_settings(cfg, "digits_rw", "snes", "magnitude", 0)
    assert s["rewind"] == 3
    assert s.get("rewind_budget") == budget  # full (the default) adds nothing to the digest
    settings = json.dumps(s)
    out = {t: tmp_path / f"iter{t}.h5" for t in (0, 1)}
    for t in (0, 1):
        argv = ["round", "--settings", settings, "--round", str(t), "--init", str(init),
                "--mask-out", str(tmp_path / f"mask{t}.h5"), "--mask-log", str(tmp_path / "m.log"),
                "--out", str(out[t])]  # fmt: skip
        if t == 1:
            assert cli.main(argv + ["--prev-trained", str(out[0])]) == 2  # no --rewind-from
            argv += ["--prev-trained", str(out[0]), "--rewind-from", str(out[0])]
        assert cli.main(argv) == 0
    with h5py.File(out[0]) as f0, h5py.File(init) as i:
        assert f0.attrs["rewind_point"] == 3
        k = "Conv_0/kernel"
        assert not np.array_equal(f0["rewind/" + k][()], i["params/" + k][()])
    # round 1 is the round started from m1 ⊙ (the stored rewind point), bitwise, not from θ0
    from evotickets.artifacts import group, read_artifact
    from evotickets.keys import chain_key, round_key
    from evotickets.networks import layer_table, to_vector
    from evotickets.tasks import make_task

    params0 = group(read_artifact(init, "init")[0], "params")
    table = layer_table(params0)
    theta0 = to_vector(params0, table)
    vec = {name: to_vector(group(read_artifact(path, kind)[0], prefix), table)
           for name, path, kind, prefix in (("rewind", out[0], "trained", "rewind"),
                                            ("m1", tmp_path / "mask1.h5", "mask", "mask"),
                                            ("theta1", out[1], "trained", "params"))}  # fmt: skip
    m1 = vec["m1"].astype(bool)
    task = make_task("digits", s["task_config"], table)
    strategy = make_strategy("snes", int(m1.sum()), s["strategy_config"])
    rk = round_key(chain_key(0, "digits", "snes"), 1)  # the entry's library task's keys

    def round1(start, g=generations):
        return run_round(task, strategy, start * m1, m1, rk, g, 3, log=lambda m: None).theta

    np.testing.assert_array_equal(vec["theta1"], round1(vec["rewind"]))
    # round 1 records the round 0 it rewound to among its inputs: a retrained round 0 makes
    # it stale directly (otherwise only through round 1's mask)
    from evotickets.artifacts import recorded_inputs

    inputs = recorded_inputs(out[1], read_artifact(out[1], "trained")[1])
    assert out[0].resolve() in {Path(p).resolve() for p in inputs}
    assert not np.array_equal(vec["theta1"], round1(theta0))
    assert not np.array_equal(vec["theta1"], round1(vec["rewind"], 9 - generations))
    with h5py.File(out[0]) as f0, h5py.File(out[1]) as f1:
        assert f0["curves/best_fitness"].shape == (6,)  # round 0 searches G either way
        assert f1["curves/best_fitness"].shape == (generations,)
    # rewinding a round-1 artifact is refused by name
    argv = ["train", "--settings", settings, "--round", "1", "--init", str(init),
            "--mask", str(tmp_path / "mask1.h5"), "--out", str(tmp_path / "x.h5"),
            "--rewind-from", str(out[1])]  # fmt: skip
    assert cli.main(argv) == 2
    # --rewind-from where nothing rewinds (round 0) was ignored: it trained from θ0, exit 0
    argv = ["round", "--settings", settings, "--round", "0", "--init", str(init),
            "--mask-out", str(tmp_path / "mp.h5"), "--mask-log", str(tmp_path / "mp.log"),
            "--out", str(tmp_path / "p.h5"), "--rewind-from", str(out[0])]  # fmt: skip
    capsys.readouterr()
    assert cli.main(argv) == 2 and not (tmp_path / "p.h5").exists()
    assert "--rewind-from is for the later rounds" in capsys.readouterr().err


def test_k_zero_adds_nothing_to_the_settings_and_keys_stay_the_entrys():
    cfg = _cfg()
    plain = chain_settings(cfg, "digits", "snes", "magnitude", 0)
    assert "rewind" not in plain  # the digest of every k = 0 chain is unchanged
    from evotickets.settings import ChainSettings

    assert ChainSettings.from_dict(plain).key_task == "digits"
    late = ChainSettings.from_dict(chain_settings(cfg, "digits_rw", "snes", "magnitude", 0))
    assert late.key_task == "digits"  # paired with the k = 0 entry: same noise


@pytest.mark.parametrize(
    "change, message",
    [
        ({"methods": ["magnitude", "movement"]}, r"\['movement'\] are defined relative to θ0"),
        ({"es": {"num_generations": 6, "log_every": 2}}, "multiple of es.log_every"),
        ({"es": {"num_generations": 3, "log_every": 3}}, "below es.num_generations"),
        ({"gd": {"gd_ppo": {}}, "tasks": {"pendulum": {"rewind": 3}}}, "gd_ppo does not rewind"),
        (
            {"gd": {"gd_adam": {}}, "rewind_budget": "remaining"},
            "gd_adam rewinds with the full budget only",
        ),
        # brax normalises observations by default: a rewound round would restart the
        # statistics its generation-k weights were tuned on
        (
            {"tasks": {"ant": {"hidden": [8], "n_repeats": 1, "max_steps": 10, "rewind": 3}}},
            r"task ant normalises its observations.*obs_normalization: false",
        ),
    ],
)
def test_config_refuses_what_does_not_rewind(change, message):
    cfg = {**TINY_CONFIG, "es": {"num_generations": 6, "log_every": 3}, "rewind": 3, **change}
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)


def test_a_control_task_without_observation_statistics_rewinds():
    """Pendulum keeps no statistics by default, and brax may be told not to: both rewind."""
    es = {"num_generations": 6, "log_every": 3}
    for task in ({"pendulum": {}}, {"ant": {"obs_normalization": False}}):
        name, block = next(iter(task.items()))
        block = {"hidden": [8], "n_repeats": 1, "max_steps": 10, "rewind": 3, **block}
        cfg = validate_config({**TINY_CONFIG, "es": es, "tasks": {name: block}})
        assert task_rewind(cfg, name) == 3  # validated, and the chains rewind to k = 3
        assert chain_settings(cfg, name, "snes", "magnitude", 0)["rewind"] == 3
