"""Bench 4: k seeds in one job as a vmapped axis, against k separate runs.

Both use the library's ``make_chunk_runner`` on one device in one process: ``vmap`` over the
seeds' strategy states, round keys and active indices (equal D_active, as at one round of a
chain) against k calls of the same compiled program one after the other. A separate
process per seed would add its start, imports and compile on top (bench 5 measures those).
"""

from __future__ import annotations

import sys

from common import QUICK, report, setup_devices, time_interleaved


def measure(name: str, population: int, k: int, generations: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from tasks import build

    from evotickets.train.es import make_chunk_runner, start_state

    task, strategy, theta0, mask = build(name, population)
    d = mask.size
    idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
    keys = [jax.random.key(100 + s) for s in range(k)]
    states = [start_state(task, strategy, kk, theta0[mask]) for kk in keys]
    runner = make_chunk_runner(task, strategy, d)
    data = task.train_data

    def separate():
        return [runner(s, kk, idx, data, 0, generations)[0][0].mean for s, kk in zip(states, keys)]

    stacked = jax.tree.map(lambda *a: jnp.stack(a), *states)
    batched_keys, batched_idx = jnp.stack(keys), jnp.stack([idx] * k)
    vmapped = jax.jit(
        jax.vmap(lambda s, kk, i: runner(s, kk, i, data, 0, n=generations)[0][0].mean)
    )

    def together():
        return vmapped(stacked, batched_keys, batched_idx)

    t = time_interleaved({"vmapped": together, "separate": separate}, repeats=2 if QUICK else 3)
    diff = float(jnp.max(jnp.abs(together() - jnp.stack(separate()))))
    gens = k * generations
    return {
        "task": name,
        "population": population,
        "seeds k": k,
        "generations": generations,
        "vmapped gen/s": gens / t["vmapped"],
        "separate gen/s": gens / t["separate"],
        "vmapped/separate": t["separate"] / t["vmapped"],
        "max |Δmean|": diff,
    }


def main() -> None:
    setup_devices(1)
    k, gens = (2, 5) if QUICK else (4, 20)
    rows = [measure("pendulum", 100, k, gens), measure("digits", 32, k, gens)]
    report(
        "seeds",
        "Bench 4: k seeds vmapped in one process vs k separate runs (1 device)",
        rows,
        [
            "task",
            "population",
            "seeds k",
            "generations",
            "vmapped gen/s",
            "separate gen/s",
            "vmapped/separate",
            "max |Δmean|",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
