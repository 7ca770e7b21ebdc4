"""Correctness smoke test of the benchmark suite (timings live in `make bench`, never here):
the FLOP count bench 1 divides by, its table/JSON writer, and the bench's Pendulum task
against a rollout through gymnax's own step and observation."""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import common
from bench_cnn_fitness import conv_flops
from pendulum import PendulumTask, mlp_init


def test_paper_cnn_flops_per_generation():
    # conv1 28²·25·8, conv2 14²·200·16, dense 784·10 multiply-adds, ×2 FLOPs.
    assert conv_flops() == 2 * (28 * 28 * 25 * 8 + 14 * 14 * 200 * 16 + 784 * 10)
    assert abs(conv_flops() * 128 * 1024 / 1e9 - 207.6) < 0.1


def test_report_prints_a_table_and_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(common, "OUT_DIR", tmp_path)
    rows = [{"name": "a", "x": 1.23456}, {"name": "bb", "x": 2e6}]
    common.report("t", "title", rows, ["name", "x"], extra=1)
    out = capsys.readouterr().out
    assert "title" in out and "1.235" in out and "2.000e+06" in out
    payload = json.loads(next(tmp_path.glob("t*.json")).read_text())
    assert payload["rows"] == rows and payload["extra"] == 1 and "machine" in payload


def test_pendulum_task_equals_a_plain_gymnax_rollout():
    task = PendulumTask(repeats=2, steps=15)
    theta = mlp_init(task.table, jax.random.key(0))
    pop = jnp.asarray(theta) + 0.3 * jax.random.normal(jax.random.key(1), (3, theta.size))
    key = jax.random.key(2)
    fast = np.asarray(task.population_fitness(pop, key, task.train_data))

    env, params = task.env, task.env_params
    ref = []
    for member in np.asarray(pop):
        w = {e.name: member[e.offset : e.offset + e.size].reshape(e.shape) for e in task.table}
        total = 0.0
        for k in jax.random.split(key, task.repeats):
            obs, state = env.reset(k, params)
            for _ in range(task.steps):
                x = obs
                for i in range(3):
                    x = np.tanh(x @ w[f"Dense_{i}/kernel"] + w[f"Dense_{i}/bias"])
                obs, state, reward, _, _ = env.step_env(key, state, 2.0 * x, params)
                total += float(reward)
        ref.append(-total / task.repeats)
    np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-3)
