"""Bench 3: environment steps per second, one host device against the population split over
two (each in its own process, set up as the library's CLI does it:
:func:`evotickets.platform.use_host_devices`, through ``common.setup_devices``).

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
from common import setup_devices, time_interleaved
env_name, P, T, R = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
setup_devices(int(sys.argv[5]))  # before JAX's first operation
if env_name == "pendulum":  # the library's control task, population split over the devices
    from evotickets.networks import layer_table, to_vector
    from evotickets.tasks import init_theta, make_task
    th = init_theta({"task": "pendulum", "network": "mlp", "hidden": [64, 64]}, jax.random.key(0))
    table = layer_table(th)
    task = make_task("pendulum", {"hidden": [64, 64], "n_repeats": R, "max_steps": T}, table)
    theta = to_vector(th, table)
    pop = jnp.asarray(theta) + 0.1 * jax.random.normal(jax.random.key(1), (P, theta.size))
    ts = task.init_state()
    # the task splits its population across the devices itself (evotickets.parallel)
    f = jax.jit(lambda members, key: task.population_fitness(members, key, None, ts)[0])
    run = lambda: f(pop, jax.random.key(2))
else:  # brax ant through the library's control task (spring backend)
    import warnings
    warnings.filterwarnings("ignore")
    from evotickets.networks import layer_table, to_vector
    from evotickets.tasks import init_theta, make_task
    th = init_theta({"task": "ant", "network": "mlp", "hidden": [32, 32]}, jax.random.key(0))
    table = layer_table(th)
    cfg = {"hidden": [32, 32], "n_repeats": R, "max_steps": T, "backend": "spring"}
    task = make_task("ant", cfg, table)
    theta = to_vector(th, table)
    pop = jnp.asarray(theta) + 0.1 * jax.random.normal(jax.random.key(1), (P, theta.size))
    ts = task.init_state()
    f = jax.jit(lambda members, key: task.population_fitness(members, key, None, ts)[0])
    run = lambda: f(pop, jax.random.key(2))
t0 = time.perf_counter(); jax.block_until_ready(run()); compile_s = time.perf_counter() - t0
t = time_interleaved({"run": run}, repeats=2 if len(sys.argv) > 6 else 3)["run"]
print(json.dumps({"devices": len(jax.devices()), "seconds": t, "compile_s": compile_s}))
"""


def _last_line(text: str) -> str:
    """The last non-empty line of a failed measurement's output: its exception."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def main() -> None:
    sizes = {
        "pendulum": (64, 50, 4) if QUICK else (256, 200, 8),
        "ant": (8, 10, 2) if QUICK else (32, 100, 4),
    }
    rows = []
    for env, (p, t, r) in sizes.items():
        steps = p * t * r
        by_dev, errors = {}, []
        for n in (1, 2):
            args = [env, str(p), str(t), str(r), str(n)] + (["quick"] if QUICK else [])
            try:
                by_dev[n] = run_python(MEASURE, args=args, timeout=1200)
            except RuntimeError as err:  # the experimental host-device split
                print(f"{env} on {n} devices failed: {str(err)[-300:]}", flush=True)
                by_dev[n] = {"seconds": float("nan"), "compile_s": float("nan")}
                errors.append(f"{n} device(s): {_last_line(str(err))}")
        rows.append(
            {
                **({"error": "; ".join(errors)} if errors else {}),
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
        note="each device count in its own process, set up by use_host_devices as the CLI's",
    )


if __name__ == "__main__":
    sys.exit(main())
