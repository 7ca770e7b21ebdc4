"""Run-to-run determinism: the same chain's first generations in fresh processes, bitwise?

Why: the tool promises that the same config and seed give the same numbers, and that a
killed round resumes bitwise, which on a CPU it does. On a GPU, XLA may autotune a
different kernel in each process that compiles a program (measurement noise), and some
GEMM, convolution and scatter kernels are not deterministic (XLA's docs/determinism.md);
``--xla_gpu_deterministic_ops=true`` turns autotuning off and picks deterministic kernels,
at some speed. This measures both on the device at hand: the paper's MNIST SNES setting
(population ``BENCH_POPULATION``, default 100, batch 1,024; random images where MNIST is
absent), the one-chain round
program for ``BENCH_GENERATIONS`` generations (default 5), twice without the flag and twice
with it, each in its own process without a compilation cache; a digest of the outputs, and
the steady time per generation. The JSON is written after each pair, so a step that runs out
of time keeps the pair without the flag. BENCH_QUICK: population 16, 2 generations (where
those variables do not say otherwise).
"""

from __future__ import annotations

import os
import sys

from common import report, run_python, sized

MEASURE = """
import hashlib, json, sys, time
from common import setup_devices
setup_devices(1)
import jax, jax.numpy as jnp, numpy as np
from tasks import build
from evotickets.train.es import make_chunk_runner, start_state
population, generations = int(sys.argv[1]), int(sys.argv[2])
task, strategy, theta0, mask = build("mnist", population, "snes")
idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
key = jax.random.key(100)
start = start_state(task, strategy, key, theta0[mask])
run = make_chunk_runner(task, strategy, mask.size)
t0 = time.perf_counter()
out = jax.block_until_ready(run(start, key, idx, task.train_data, 0, generations))
first = time.perf_counter() - t0
t0 = time.perf_counter()
jax.block_until_ready(run(start, key, idx, task.train_data, 0, generations))
steady = time.perf_counter() - t0
digest = hashlib.sha256()
for leaf in jax.tree.leaves(out):
    digest.update(np.asarray(leaf).tobytes())
print(json.dumps({"digest": digest.hexdigest(), "device": jax.devices()[0].device_kind,
                  "first_s": first, "ms_per_gen": 1e3 * steady / generations}))
"""

DETERMINISTIC = "--xla_gpu_deterministic_ops=true"


def main() -> None:
    population = sized("BENCH_POPULATION", 100, 16)
    generations = sized("BENCH_GENERATIONS", 5, 2)
    base = os.environ.get("XLA_FLAGS", "")
    env = {"JAX_COMPILATION_CACHE_DIR": "", "JAX_ENABLE_COMPILATION_CACHE": "false"}
    columns = ["XLA flag", "population", "generations", "digests", "bitwise across processes"]
    columns += ["ms/gen", "first call s", "device"]
    title = "Run-to-run determinism: one chain's first generations in two fresh processes"
    rows = []
    for flags in ("", DETERMINISTIC):  # written after each, so a step out of time keeps the first
        runs = [
            run_python(
                MEASURE,
                env={**env, "XLA_FLAGS": f"{base} {flags}".strip()},
                args=[str(population), str(generations)],
            )
            for _ in range(2)
        ]
        rows.append(
            {
                "XLA flag": flags or "(none)",
                "population": population,
                "generations": generations,
                "digests": " ".join(r["digest"][:12] for r in runs),
                "bitwise across processes": runs[0]["digest"] == runs[1]["digest"],
                "ms/gen": min(r["ms_per_gen"] for r in runs),
                "first call s": max(r["first_s"] for r in runs),
                "device": runs[0]["device"],
            }
        )
        report("gpu_determinism", title, rows, columns)


if __name__ == "__main__":
    sys.exit(main())
