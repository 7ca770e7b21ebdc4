"""Bench 6: one Pendulum round end to end at paper settings, the projected 20-round chain,
and a round's peak memory as D_active falls (round 0 against round 19: 0.8^19 ≈ 1.4 % of
the prunable weights left).

Paper settings (gymnax; config/paper.yaml since 2026-12-05): population 100, 8 rollouts, 500
steps (200 in the rows measured before then), 2,000 generations; Sep-CMA-ES σ0 0.1, mean decay
1e-4; policy 2×64 tanh with a clipped linear output. Each round runs the library's ``run_round`` in its
own process (as a chain's jobs do) on one device (and round 0 once more with the CPU as two
host devices, the experimental split of bench/README.md), and reports its wall time (compile
included), its peak resident memory (ru_maxrss) and the compiled scan's own buffers (XLA memory analysis). A round's time is its compile (the first
log chunk minus the steady rate) plus 2,000 generations at the steady rate; the projection adds
each job's process start and imports. BENCH_QUICK runs 50 generations.

Where a generation's fitness goes, in one process at paper sizes, twice: free to use every
core, and pinned to one (``sched_setaffinity`` before JAX starts): the population fitness,
the policy's 64×64 layer alone (500 steps of a batched (100, 8, 64) @ (100, 64, 64) product,
3.3 GFLOP) against the float32 ``jnp.dot`` peak measured in the same process, and its tanh
alone. If the free run is no faster than the pinned one, the fitness runs on one core.
"""

from __future__ import annotations

import os
import sys

from common import QUICK, report, run_python, table

ROUND = """
import json, resource, sys, time
from common import setup_devices
setup_devices(int(sys.argv[3]))
import jax, jax.numpy as jnp, numpy as np
from tasks import build
from evotickets.keys import tag
from evotickets.train.es import make_chunk_runner, run_round
t_import = time.perf_counter()
remaining, gens = float(sys.argv[1]), int(sys.argv[2])
task, strategy, theta0, mask = build("pendulum_paper", 100, "sep_cma_es", remaining)
d_active = int(mask.sum())
every = min(250, gens // 5)
stamps = []
t0 = time.perf_counter()
res = run_round(task, strategy, theta0 * mask, mask, jax.random.key(3), gens, every,
                log=lambda m: stamps.append(time.perf_counter()))
wall = time.perf_counter() - t0
# The first chunk pays the compile; the others run at the steady rate.
steady = (stamps[-1] - stamps[0]) / (gens - every)
compile_s = (stamps[0] - t0) - steady * every
# The compiled scan's own buffers, for a chunk of log_every generations.
idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
state = (strategy.algorithm.init(jax.random.key(0), jnp.asarray(theta0[mask]), strategy.params),
         task.init_state())
runner = make_chunk_runner(task, strategy, mask.size)
mem = runner.lower(state, jax.random.key(0), idx, task.train_data, 0, every).compile()
mem = mem.memory_analysis()
print(json.dumps({
    "d_active": d_active, "wall_s": wall, "gens": gens, "devices": len(jax.devices()),
    "steady_s_per_gen": steady, "compile_s": compile_s,
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "xla_temp_mb": mem.temp_size_in_bytes / 2**20,
    "xla_args_mb": mem.argument_size_in_bytes / 2**20,
    "final_return": res.final_metric,
}))
"""


BREAKDOWN = """
import json, os, sys, time
if sys.argv[1] == "pinned":
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
import jax, jax.numpy as jnp
from common import matmul_peak, time_interleaved
from tasks import build
P, R, H, T = 100, 8, 64, 500
task, strategy, theta0, mask = build("pendulum_paper", P)
pop = jnp.asarray(theta0)[None] + 0.1 * jax.random.normal(jax.random.key(1), (P, theta0.size))
state, key = task.init_state(), jax.random.key(2)
fitness = jax.jit(lambda p, k: task.population_fitness(p, k, None, state)[0])
w = 0.1 * jax.random.normal(jax.random.key(3), (P, H, H))
b = jnp.zeros((P, 1, H))
h0 = jax.random.normal(jax.random.key(4), (P, R, H))
def steps(f):
    return jax.jit(lambda h: jax.lax.scan(lambda h, _: (f(h), None), h, None, length=T)[0])
layer = steps(lambda h: 0.5 * (jnp.einsum("prk,pkn->prn", h, w) + b))  # no tanh: the product
tanh = steps(jnp.tanh)
best = time_interleaved({"fitness": lambda: fitness(pop, key), "layer": lambda: layer(h0),
                         "tanh": lambda: tanh(h0)}, repeats=5)
c0, t0 = time.process_time(), time.perf_counter()
for _ in range(5):
    fitness(pop, key).block_until_ready()
cores_busy = (time.process_time() - c0) / (time.perf_counter() - t0)
print(json.dumps({"peak_gflops": matmul_peak(), "fitness_ms": 1e3 * best["fitness"],
                  "layer_ms": 1e3 * best["layer"], "tanh_ms": 1e3 * best["tanh"],
                  "layer_gflops": 2 * P * R * H * H * T / best["layer"] / 1e9,
                  "fitness_cores_busy": cores_busy, "cores": len(os.sched_getaffinity(0))}))
"""


def breakdown() -> list[dict]:
    """BREAKDOWN free and pinned to one core, as table rows."""
    rows = []
    for how in ("free", "pinned"):
        r = run_python(BREAKDOWN, args=[how])
        rows.append(
            {
                "run": how,
                "cores": r["cores"],
                "peak GFLOP/s": r["peak_gflops"],
                "fitness ms/gen": r["fitness_ms"],
                "cores busy": r["fitness_cores_busy"],
                "64x64 layer ms": r["layer_ms"],
                "layer GFLOP/s": r["layer_gflops"],
                "layer/peak": r["layer_gflops"] / r["peak_gflops"],
                "tanh ms (1 layer)": r["tanh_ms"],
            }
        )
    return rows


def main() -> None:
    gens = 50 if QUICK else 2000
    full = 2000
    process = run_python(
        "import json, time; t = time.perf_counter(); import evotickets.cli, jax, evosax; "
        "from evotickets.tasks.gymnax_import import import_gymnax; import_gymnax(); "
        "print(json.dumps({'s': time.perf_counter() - t}))"
    )["s"]
    rows = []
    for rnd, devices in ((0, 1), (19, 1), (0, 2)):
        remaining = 0.8**rnd
        try:
            r = run_python(ROUND, args=[str(remaining), str(gens), str(devices)], timeout=1200)
        except RuntimeError as err:  # the experimental host-device split (bench/README.md)
            print(f"round {rnd} on {devices} devices failed: {str(err)[-300:]}", flush=True)
            rows.append({"round": rnd, "devices": devices, "test return": "FAILED"})
            continue
        per_round = r["compile_s"] + full * r["steady_s_per_gen"]
        rows.append(
            {
                "round": rnd,
                "remaining": remaining,
                "D_active": r["d_active"],
                "devices": r["devices"],
                "generations": gens,
                "round wall s": r["wall_s"],
                "compile s": r["compile_s"],
                "steady ms/gen": 1e3 * r["steady_s_per_gen"],
                "2000-gen round s": per_round,
                "peak RSS MB": r["maxrss_mb"],
                "XLA temp MB": r["xla_temp_mb"],
                "XLA args MB": r["xla_args_mb"],
                "test return": r["final_return"],
            }
        )
    where = breakdown()
    print(
        table(
            "Where a Pendulum generation's fitness goes (100 x 8 x 500, one device)",
            where,
            list(where[0]),
        ),
        flush=True,
    )
    one = [r for r in rows if r.get("devices") == 1 and "2000-gen round s" in r]
    mean_round = sum(r["2000-gen round s"] for r in one) / len(one)
    projected = 20 * (mean_round + process)
    report(
        "round",
        f"Bench 6: Pendulum round at paper settings; 20 rounds on 1 device projected "
        f"{projected / 60:.1f} min (target <= 15 min on {os.cpu_count()} cores)",
        rows,
        [
            "round",
            "remaining",
            "D_active",
            "devices",
            "generations",
            "round wall s",
            "compile s",
            "steady ms/gen",
            "2000-gen round s",
            "peak RSS MB",
            "XLA temp MB",
            "XLA args MB",
            "test return",
        ],
        process_start_and_imports_s=process,
        fitness_breakdown=where,
        projected_20_rounds_s=projected,
        target_20_rounds_s=900,
    )


if __name__ == "__main__":
    sys.exit(main())
