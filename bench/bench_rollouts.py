"""Bench 3: environment steps per second, one host device against the population split over
two (``--xla_force_host_platform_device_count``, each in its own process).

Pendulum (gymnax): population 256 × 200 steps × 8 repeats, the paper's 2×64 tanh MLP.
Brax ant (brax 0.14, ``spring`` pipeline: the fastest on CPU here, and the closest to the
brax v1 the study used): population 32 × 100 steps × 4 repeats, a 2×32 tanh MLP. Sizes are
modest on CPU; BENCH_QUICK shrinks both.
"""

from __future__ import annotations

import sys

from common import QUICK, report, run_python

MEASURE = """
import json, sys, time
import jax, jax.numpy as jnp
from common import time_interleaved
from evotickets.parallel import map_population
env_name, P, T, R = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if env_name == "pendulum":
    from pendulum import PendulumTask, mlp_init
    task = PendulumTask(repeats=R, steps=T)
    theta = mlp_init(task.table, jax.random.key(0))
    pop = jnp.asarray(theta) + 0.1 * jax.random.normal(jax.random.key(1), (P, theta.size))
    f = jax.jit(task.population_fitness)
    run = lambda: f(pop, jax.random.key(2), task.train_data)
else:
    import warnings
    warnings.filterwarnings("ignore")
    from brax import envs
    from pendulum import mlp_init, mlp_table
    from evotickets.networks import from_vector_batched
    env = envs.get_environment("ant", backend="spring")
    table = mlp_table(env.observation_size, env.action_size, (32, 32))
    theta = mlp_init(table, jax.random.key(0))
    pop = jnp.asarray(theta) + 0.1 * jax.random.normal(jax.random.key(1), (P, theta.size))

    def returns(members, key):
        params = from_vector_batched(members, table)
        p = members.shape[0]
        s = jax.vmap(env.reset)(jax.random.split(key, R))
        s = jax.tree.map(lambda a: jnp.broadcast_to(a, (p, *a.shape)), s)
        step = jax.vmap(jax.vmap(env.step))
        def body(s, _):
            x = s.obs
            for i in range(3):
                x = jnp.tanh(jnp.einsum("prd,pdh->prh", x, params[f"Dense_{i}/kernel"])
                             + params[f"Dense_{i}/bias"][:, None])
            s = step(s, x)
            return s, s.reward * (1.0 - s.done)
        return jax.lax.scan(body, s, None, length=T)[1].sum(0).mean(1)

    f = jax.jit(lambda pop, key: map_population(returns, pop, key))
    run = lambda: f(pop, jax.random.key(2))
t0 = time.perf_counter(); jax.block_until_ready(run()); compile_s = time.perf_counter() - t0
t = time_interleaved({"run": run}, repeats=2 if len(sys.argv) > 5 else 3)["run"]
print(json.dumps({"devices": len(jax.devices()), "seconds": t, "compile_s": compile_s}))
"""


def main() -> None:
    sizes = {
        "pendulum": (64, 50, 4) if QUICK else (256, 200, 8),
        "ant": (8, 10, 2) if QUICK else (32, 100, 4),
    }
    rows = []
    for env, (p, t, r) in sizes.items():
        steps = p * t * r
        by_dev = {}
        for n in (1, 2):
            flags = {"XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}
            args = [env, str(p), str(t), str(r)] + (["quick"] if QUICK else [])
            try:
                by_dev[n] = run_python(MEASURE, env=flags, args=args, timeout=1200)
            except RuntimeError as err:  # the experimental host-device split
                print(f"{env} on {n} devices failed: {str(err)[-300:]}", flush=True)
                by_dev[n] = {"seconds": float("nan"), "compile_s": float("nan")}
        rows.append(
            {
                "env": env,
                "population": p,
                "steps": t,
                "repeats": r,
                "env steps/eval": steps,
                "1 dev steps/s": steps / by_dev[1]["seconds"],
                "2 dev steps/s": steps / by_dev[2]["seconds"],
                "2 dev / 1 dev": by_dev[1]["seconds"] / by_dev[2]["seconds"],
                "compile s (1/2)": f"{by_dev[1]['compile_s']:.1f}/{by_dev[2]['compile_s']:.1f}",
            }
        )
    report(
        "rollouts",
        "Bench 3: environment steps/s, one host device vs the population over two",
        rows,
        [
            "env",
            "population",
            "steps",
            "repeats",
            "env steps/eval",
            "1 dev steps/s",
            "2 dev steps/s",
            "2 dev / 1 dev",
            "compile s (1/2)",
        ],
        note="each device count in its own process; XLA_FLAGS sets the host device count",
    )


if __name__ == "__main__":
    sys.exit(main())
