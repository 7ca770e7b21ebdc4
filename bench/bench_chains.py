"""Bench 8: k chains of one setting in one jitted program, chain-generations/s.

The library's vmapped round program (``train.es._vmapped_chunk_runner``, what
``round-group --program vmapped`` runs) over k chains' strategy states, round keys and active
indices (equal D_active, as at one round of a (task, strategy) group), for k in
``BENCH_CHAINS`` (default 1, 5, 15; 1, 2 under BENCH_QUICK); one device. k = 1 is the
one-chain program (``make_chunk_runner``) that a chain trained alone runs. Reports
chain-generations per second and the ratio to one chain: the gain from training a group of
chains as one program (the target on a GPU: 15 chains ≥ 8× one chain).

``BENCH_TASK`` (default ``mnist``: SNES, population 100, the paper CNN, batch 1,024; MNIST
from ``BENCH_DATA_DIR`` / ``EVOTICKETS_DATA_DIR``, else random images) or
``digits_fidelity`` (config/fidelity.yaml: population 128, batch 64); ``BENCH_GENERATIONS``
per timed call; ``BENCH_STRATEGY`` (default snes; sep_cma_es). It also reports whether
chain 0's numbers are the same alone, in a group program of 1 and of the largest k (the
largest absolute difference; 0.0 is bitwise): a chain's numbers must not depend on its
group for a resumed group to be bitwise. BENCH_QUICK: population 16 and a few generations
(``BENCH_POPULATION`` and ``BENCH_GENERATIONS`` win where set).
"""

from __future__ import annotations

import os
import sys

from common import QUICK, report, setup_devices, sized, time_interleaved

STRATEGY = os.environ.get("BENCH_STRATEGY", "snes")


def programs(task_name: str, population: int, ks: list[int], generations: int):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from tasks import build

    from evotickets.train.es import _vmapped_chunk_runner, make_chunk_runner, start_state

    task, strategy, theta0, mask = build(task_name, population, STRATEGY)
    idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
    single = make_chunk_runner(task, strategy, mask.size)
    vmapped = _vmapped_chunk_runner(task, strategy, mask.size)
    data = task.train_data

    def chain_states(k: int):
        """k chains' round keys and fresh (strategy, task) states, as a round starts them."""
        keys = [jax.random.key(100 + c) for c in range(k)]
        return keys, [start_state(task, strategy, kk, theta0[mask]) for kk in keys]

    def stacked(k: int):
        """The vmapped program's arguments for k chains: states, keys and active indices."""
        keys, states = chain_states(k)
        return jax.tree.map(lambda *a: jnp.stack(a), *states), jnp.stack(keys), jnp.stack([idx] * k)

    out = {}
    for k in ks:
        if k == 1:  # a chain alone runs the one-chain program
            keys, states = chain_states(1)
            args = (states[0], keys[0], idx)
            out[k] = lambda a=args: single(*a, data, 0, generations)[1][0]
        else:
            args = stacked(k)
            out[k] = lambda a=args: vmapped(*a, data, 0, generations)[1][0]

    def chain0(k: int):
        """Chain 0's best-fitness curve and final mean in the group program with k chains."""
        st, curves = vmapped(*stacked(k), data, 0, generations)
        return np.asarray(curves[0][0]), np.asarray(st[0].mean[0])

    def same_numbers() -> dict:
        """Whether chain 0's numbers are the same alone (one-chain program), and in the group
        program with 1 and with the largest k chains: bitwise, or the largest difference."""
        keys, states = chain_states(1)
        st, curves = single(states[0], keys[0], idx, data, 0, generations)
        alone = (np.asarray(curves[0]), np.asarray(st[0].mean))
        one, many = chain0(1), chain0(max(ks))
        diff = lambda a, b: max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))
        return {"group_of_1_vs_alone_max_abs_diff": diff(one, alone),
                f"group_of_{max(ks)}_vs_group_of_1_max_abs_diff": diff(many, one)}  # fmt: skip

    return out, int(mask.sum()), same_numbers


def main() -> None:
    setup_devices(1)
    default_chains = "1,2" if QUICK else "1,5,15"  # a CPU smoke run of 15 CNN chains runs out
    ks = [int(k) for k in os.environ.get("BENCH_CHAINS", default_chains).split(",")]
    task = os.environ.get("BENCH_TASK", "mnist")
    population = sized("BENCH_POPULATION", {"mnist": 100, "digits_fidelity": 128}[task], 16)
    gens = sized("BENCH_GENERATIONS", 10, 2)
    fns, d_active, same_numbers = programs(task, population, ks, gens)
    t = time_interleaved({str(k): f for k, f in fns.items()}, repeats=2 if QUICK else 3)
    base_rate = ks[0] * gens / t[str(ks[0])]
    rows = []
    for k in ks:
        rate = k * gens / t[str(k)]
        rows.append(
            {
                "task": task,
                "chains": k,
                "population": population,
                "D_active": d_active,
                "generations": gens,
                "chain-gen/s": rate,
                f"vs {ks[0]} chain(s)": rate / base_rate,
            }
        )
    same = same_numbers()
    print(f"chain 0's numbers ({STRATEGY}; 0.0 is bitwise): {same}", flush=True)
    report(
        "chains"
        + ("" if task == "mnist" else f"_{task}")
        + ("" if STRATEGY == "snes" else f"_{STRATEGY}"),
        f"Bench 8: k chains of the {task} {STRATEGY} setting vmapped in one program (1 device)",
        rows,
        [
            "task",
            "chains",
            "population",
            "D_active",
            "generations",
            "chain-gen/s",
            f"vs {ks[0]} chain(s)",
        ],
        same_numbers=same,
        strategy=STRATEGY,
    )


if __name__ == "__main__":
    sys.exit(main())
