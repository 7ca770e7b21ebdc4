"""Bench 2: the whole ES generation loop, our jitted ``lax.scan`` against a plain evosax loop.

Both run the same strategy, task, keys and number of generations in one process. The plain
loop is what an evosax user writes: ``ask``, ``evaluate`` and ``tell`` each jitted and called
once per generation from Python (keys split eagerly, no host copy of the fitness). Ours is the
library's ``train.es.make_chunk_runner``: one compiled scan over all generations.
Pendulum: population 100 × 8 rollouts × 200 steps (paper); digits: population 32 × batch 256.
"""

from __future__ import annotations

import os
import sys

from common import QUICK, report, setup_devices

# one device unless BENCH_CPU_DEVICES asks for more (the earlier rows are one device's; the
# 2-device runs are in bench/README.md, "Host devices")
setup_devices(int(os.environ.get("BENCH_CPU_DEVICES") or 1))

import jax
import jax.numpy as jnp
from tasks import build

from evotickets.keys import generation_key
from evotickets.train.es import make_chunk_runner, start_state


def measure(name: str, population: int, generations: int, repeats: int) -> dict:
    task, strategy, theta0, mask = build(name, population)
    algo, params = strategy.algorithm, strategy.params
    d = mask.size
    idx = jnp.asarray(mask.nonzero()[0], jnp.int32)
    round_k = jax.random.key(7)
    state0, task_state0 = start_state(task, strategy, round_k, theta0[mask])
    data = task.train_data

    runner = make_chunk_runner(task, strategy, d)

    def scan_loop():
        return runner((state0, task_state0), round_k, idx, data, 0, generations)[0][0].mean

    ask = jax.jit(lambda k, s: algo.ask(k, s, params))

    @jax.jit
    def evaluate(population, k, data):
        dense = jnp.zeros((population.shape[0], d), population.dtype).at[:, idx].set(population)
        return task.population_fitness(dense, k, data, task_state0)[0]

    @jax.jit
    def tell(k, population, fitness, s):
        return strategy.post_tell(algo.tell(k, population, fitness, s, params)[0])

    def python_loop():
        s = state0
        for g in range(generations):
            k_ask, k_fit, k_tell = jax.random.split(generation_key(round_k, g), 3)
            population, s = ask(k_ask, s)
            fitness = evaluate(population, k_fit, data)
            s = tell(k_tell, population, fitness, s)
        return s.mean

    from common import time_interleaved

    members, _ = ask(jax.random.key(0), state0)
    t = time_interleaved(
        {
            "scan": scan_loop,
            "python": python_loop,
            # The bound on any loop: one fitness evaluation per generation.
            "fitness": lambda: evaluate(members, jax.random.key(1), data),
        },
        repeats=repeats,
    )
    diff = float(jnp.max(jnp.abs(scan_loop() - python_loop())))
    return {
        "task": name,
        "population": population,
        "generations": generations,
        "devices": len(jax.devices()),
        "scan gen/s": generations / t["scan"],
        "python gen/s": generations / t["python"],
        "scan/python": t["python"] / t["scan"],
        "scan ms/gen": 1e3 * t["scan"] / generations,
        "python ms/gen": 1e3 * t["python"] / generations,
        "fitness ms": 1e3 * t["fitness"],
        "python overhead ms/gen": 1e3 * t["python"] / generations - 1e3 * t["fitness"],
        "max |Δmean|": diff,
    }


def main() -> None:
    gens = 10 if QUICK else 100
    reps = 2 if QUICK else 3
    rows = [measure("pendulum", 100, gens, reps), measure("digits", 32, gens, reps)]
    report(
        "es_loop",
        "Bench 2: jitted scan vs plain evosax Python loop (target on Pendulum: >= 5x)",
        rows,
        [
            "task",
            "population",
            "generations",
            "devices",
            "scan gen/s",
            "python gen/s",
            "scan/python",
            "scan ms/gen",
            "python ms/gen",
            "fitness ms",
            "python overhead ms/gen",
            "max |Δmean|",
        ],
        targets={"pendulum_scan_over_python": 5.0},
    )


if __name__ == "__main__":
    sys.exit(main())
