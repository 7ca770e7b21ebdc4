"""The CPU as two host devices (``EVOTICKETS_CPU_DEVICES=2``): programs that split a population
across them, called back to back, finish, with the numbers of one device.

Two deadlocks in XLA's collectives were seen on this 2-core machine (XLA then aborts the
process after its termination timeout):

- one split program called back to back with JAX's asynchronous CPU dispatch: 4 of 4 runs of
  the first test at its 1,000 calls, 0 of many with :func:`use_host_devices`'s synchronous
  dispatch;
- a plain evosax-style loop around the task's fitness (ask, evaluate, tell: each its own
  program) while the fitness left its program split, which made ``tell`` and then ``ask``
  multi-device programs with collectives of their own: 6 of 6 runs of the second test
  stopped (3 at its 300 generations, 3 at 500), 0 of 6 since the fitness leaves its program
  whole (:func:`parallel.whole`).

Both are matters of thread timing, so a test can pass by luck without its fix, but seldom."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from host_devices import on_two_host_devices

from evotickets.networks import init_params, layer_table, to_vector
from evotickets.platform import skip_spmd_cleanup
from evotickets.strategies import make_strategy
from evotickets.tasks import make_task
from evotickets.train.es import run_round

BACK_TO_BACK = """
import json, sys
import jax, jax.numpy as jnp
from evotickets.parallel import map_population
w = jax.random.normal(jax.random.key(1), (64, 256))
f = jax.jit(lambda p: map_population(lambda m: jnp.tanh(m @ w).sum(-1), p).sum())
p = jax.random.normal(jax.random.key(0), (512, 64))
out = [f(p + i) for i in range(int(sys.argv[1]))]  # no wait between the calls
print(json.dumps([len(jax.devices()), jax.config.values["jax_cpu_enable_async_dispatch"],
                  [float(o) for o in out[:3]], float(jnp.sum(jnp.stack(out)))]))
"""


def test_back_to_back_population_collectives_on_two_host_devices_finish():
    devices, async_dispatch, first, total = on_two_host_devices(BACK_TO_BACK, "1000")
    assert devices == 2 and async_dispatch is False

    # the same numbers as on this process's single device
    w = jax.random.normal(jax.random.key(1), (64, 256))
    p = jax.random.normal(jax.random.key(0), (512, 64))
    f = jax.jit(lambda p: jnp.tanh(p @ w).sum(-1).sum())
    np.testing.assert_allclose(first, [float(f(p + i)) for i in range(3)], rtol=1e-5)
    assert np.isfinite(total)


def plain_es_loop(generations: int) -> jax.Array:
    """An ES loop as an evosax user writes it around the library's task: three jitted
    programs per generation (ask, the task's population fitness, tell), the fitness passed
    from one to the next in Python. The small digits CNN (1,898 weights), 64 members."""
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    task = make_task("digits", {"batch_size": 32, "population_chunk": 16}, table)
    mean = jnp.asarray(to_vector(theta, table))
    state = task.init_state()
    ask = jax.jit(lambda k, m: m + 0.05 * jax.random.normal(k, (64, m.size)))
    evaluate = jax.jit(lambda pop, k, d: task.population_fitness(pop, k, d, state)[0])
    tell = jax.jit(
        lambda pop, f, m: m + 0.1 * (jax.nn.softmax(-10 * f)[:, None] * (pop - m)).sum(0)
    )
    for g in range(generations):
        k = jax.random.fold_in(jax.random.key(0), g)
        pop = ask(k, mean)
        mean = tell(pop, evaluate(pop, k, task.train_data), mean)
    return mean


def es_round(strategy_name: str) -> dict:
    """A short digits round as ``evotickets train`` runs it (the library's ``run_round``, 32
    members, 4 generations in chunks of 2): θ, σ and the curves, as lists. Pendulum and the
    other strategies were checked by hand (bench/README.md, "Host devices")."""
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    cfg = {"batch_size": 64, "population_chunk": 16}
    table = layer_table(theta)
    task = make_task("digits", cfg, table)
    theta0 = np.asarray(to_vector(theta, table))
    mask = np.ones(theta0.size, bool)
    hp = {"population_size": 32, "std_init": 0.05, "mean_decay": 1e-4}
    strategy = make_strategy(strategy_name, theta0.size, hp)
    r = run_round(task, strategy, theta0, mask, jax.random.key(5), 4, 2, log=lambda m: None)
    return {
        "theta": r.theta.tolist(),
        "sigma": r.sigma.tolist(),
        "best": r.best_fitness.tolist(),
        "eval": r.eval_metric.tolist(),
    }


# Every check of this file that needs two host devices, in one process: each start of JAX and
# each compile of the digits task costs seconds, and the suite must stay near 15 minutes.
ON_TWO_DEVICES = """
import json, os, sys
sys.path[:0] = [sys.argv[1], os.path.dirname(sys.argv[1])]  # this test file and its helpers
import jax, jax.numpy as jnp
from evotickets.parallel import map_population
from test_fitness import _fitness
from test_host_devices import ROUND_STRATEGIES, es_round, plain_es_loop
out = {"devices": len(jax.devices())}
m = plain_es_loop(int(sys.argv[2]))
out["plain"] = [str(m.sharding.spec), m.tolist()]
out["rounds"] = {name: es_round(name) for name in ROUND_STRATEGIES}
out["uneven"] = []
try:  # 7 members cannot be split across 2 devices
    jax.jit(lambda p: map_population(lambda m: m.sum(-1), p))(jnp.ones((7, 4)))
except ValueError as err:
    out["uneven"].append(str(err))
try:  # 8 members, 4 a device, in chunks of 3
    _fitness(population_chunk=3)
except ValueError as err:
    out["uneven"].append(str(err))
print(json.dumps(out))
"""
GENERATIONS = 300
# Sep-CMA-ES, and SNES: its division by σ is what XLA's SPMD cleanup made differ (platform.py)
ROUND_STRATEGIES = ("sep_cma_es", "snes")


@pytest.fixture(scope="module")
def two_devices() -> dict:
    out = on_two_host_devices(ON_TWO_DEVICES, str(Path(__file__).parent), str(GENERATIONS))
    assert out["devices"] == 2
    return out


def test_plain_ask_evaluate_tell_loop_on_two_host_devices_finishes(two_devices):
    spec, mean = two_devices["plain"]
    # the fitness left its program whole (parallel.whole): the ES state stays whole too
    assert spec == "P()"
    one = plain_es_loop(GENERATIONS)  # on this process's one device
    np.testing.assert_array_equal(np.asarray(mean), np.asarray(one))


def test_a_round_on_two_host_devices_is_bitwise_the_one_device_round(two_devices):
    """The population is made whole before the split, so the ES update sums over it in one
    device's order; each member's fitness is computed as on one device; and XLA's SPMD
    cleanup is skipped, so the update compiles as on one device (SNES's θ came out 3e-8 apart
    with it): the split changes no number of the round. (Digits with two strategies, for the
    suite's time: every strategy of the registry, and Pendulum with Sep-CMA-ES, were checked
    the same way, bench/README.md; brax tasks are not bitwise.)"""
    assert set(two_devices["rounds"]) == set(ROUND_STRATEGIES)
    for name, split in two_devices["rounds"].items():
        alone = es_round(name)
        for key in alone:
            np.testing.assert_array_equal(
                np.asarray(split[key]), np.asarray(alone[key]), err_msg=f"{name} {key}"
            )


def test_host_devices_skip_spmd_cleanup_and_keep_the_users_disabled_passes():
    assert skip_spmd_cleanup("") == "--xla_disable_hlo_passes=spmd-cleanup"
    flags = "--xla_cpu_x=1 --xla_disable_hlo_passes=cse,dce --xla_dump_to=/d"
    assert skip_spmd_cleanup(flags) == (
        "--xla_cpu_x=1 --xla_dump_to=/d --xla_disable_hlo_passes=cse,dce,spmd-cleanup"
    )
    assert skip_spmd_cleanup(skip_spmd_cleanup(flags)) == skip_spmd_cleanup(flags)


def test_a_population_that_does_not_split_evenly_is_refused_with_the_fix(two_devices):
    errors = two_devices["uneven"]
    assert len(errors) == 2
    assert "population of 7 members cannot be split evenly across 2 devices" in errors[0]
    assert "EVOTICKETS_CPU_DEVICES" in errors[0]
    assert "population_chunk 3 must divide each device's share of the 8 members, 4" in errors[1]
