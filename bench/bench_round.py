"""Bench 6: one Pendulum round end to end at paper settings, the projected 20-round chain,
and a round's peak memory as D_active falls (round 0 against round 19: 0.8^19 ≈ 1.4 % of
the prunable weights left).

Paper settings (gymnax): population 100, 8 rollouts, 200 steps, 2,000 generations; Sep-CMA-ES
σ0 0.1, mean decay 1e-4; policy 2×64 tanh. Each round runs the library's ``run_round`` in its
own process (as a chain's jobs do) on one device (and round 0 once more with the CPU as two
host devices, the experimental split of bench/README.md), and reports its wall time (compile included), its peak resident memory (ru_maxrss) and the
compiled scan's own buffers (XLA memory analysis). A round's time is its compile (the first
log chunk minus the steady rate) plus 2,000 generations at the steady rate; the projection adds
each job's process start and imports. BENCH_QUICK runs 50 generations.
"""

from __future__ import annotations

import os
import sys

from common import QUICK, report, run_python

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
task, strategy, theta0, mask = build("pendulum", 100, "sep_cma_es", remaining)
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


def main() -> None:
    gens = 50 if QUICK else 2000
    full = 2000
    process = run_python(
        "import json, time; t = time.perf_counter(); import evotickets.cli, jax, evosax, "
        "gymnax; print(json.dumps({'s': time.perf_counter() - t}))"
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
        projected_20_rounds_s=projected,
        target_20_rounds_s=900,
    )


if __name__ == "__main__":
    sys.exit(main())
