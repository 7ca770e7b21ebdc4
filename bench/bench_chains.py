"""Bench 8: k chains of the paper's MNIST setting in one jitted program, chain-generations/s.

The library's round program (``train.es.make_chunk_runner``: SNES, population 100, the paper
CNN, batch 1,024) vmapped over k chains' strategy states, round keys and active indices (equal
D_active, as at one round of a (task, strategy) group), for k in ``BENCH_CHAINS`` (default
1, 5, 15); one device. Reports chain-generations per second and the ratio to one chain: the
gain a GPU gets from training a group of chains as one program (the target there: 15 chains
≥ 8× one chain). MNIST from ``BENCH_DATA_DIR`` / ``EVOTICKETS_DATA_DIR``, else random images.
BENCH_QUICK: population 16 and a few generations.
"""

from __future__ import annotations

import os
import sys

from common import QUICK, report, setup_devices, time_interleaved


def programs(population: int, ks: list[int], generations: int):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from tasks import build

    from evotickets.keys import tag
    from evotickets.train.es import make_chunk_runner

    task, strategy, theta0, mask = build("mnist", population, "snes")
    algo, params = strategy.algorithm, strategy.params
    idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
    runner = make_chunk_runner(task, strategy, mask.size)
    data = task.train_data
    vmapped = jax.jit(
        jax.vmap(lambda s, kk, i: runner(s, kk, i, data, 0, n=generations)[0][0].mean)
    )
    out = {}
    for k in ks:
        keys = [jax.random.key(100 + c) for c in range(k)]
        states = [
            (
                algo.init(jax.random.fold_in(kk, tag("strategy-init")), theta0[mask], params),
                task.init_state(),
            )
            for kk in keys
        ]
        stacked = jax.tree.map(lambda *a: jnp.stack(a), *states)
        args = (stacked, jnp.stack(keys), jnp.stack([idx] * k))
        out[k] = lambda a=args: vmapped(*a)
    return out, int(mask.sum())


def main() -> None:
    setup_devices(1)
    ks = [int(k) for k in os.environ.get("BENCH_CHAINS", "1,5,15").split(",")]
    population, gens = (16, 2) if QUICK else (100, 10)
    fns, d_active = programs(population, ks, gens)
    t = time_interleaved({str(k): f for k, f in fns.items()}, repeats=2 if QUICK else 3)
    base_rate = ks[0] * gens / t[str(ks[0])]
    rows = []
    for k in ks:
        rate = k * gens / t[str(k)]
        rows.append(
            {
                "chains": k,
                "population": population,
                "D_active": d_active,
                "generations": gens,
                "chain-gen/s": rate,
                f"vs {ks[0]} chain(s)": rate / base_rate,
            }
        )
    report(
        "chains",
        "Bench 8: k chains of the paper's MNIST SNES setting vmapped in one program (1 device)",
        rows,
        ["chains", "population", "D_active", "generations", "chain-gen/s", f"vs {ks[0]} chain(s)"],
    )


if __name__ == "__main__":
    sys.exit(main())
