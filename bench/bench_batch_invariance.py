"""Bench 9: does each strategy give a chain the same numbers alone and in a vmapped group?

For every strategy of the registry, ``BENCH_CHAINS`` (default 3) chains with their own round
keys start from θ0 under one mask (``config/fidelity.yaml``'s digits setting, population
``BENCH_POPULATION``, default 32, 80 % of the prunable weights kept) and run
``BENCH_GENERATIONS`` (default 5) generations: each alone in the one-chain program
(``train.es.make_chunk_runner``, what ``round-group --program sequential`` and rule ``train``
run), and all together in the vmapped group program (what ``--program vmapped`` runs). A row
says whether every chain's final search state is bitwise its one-chain state, and else the
largest difference and the fields that differ. Not a timing: a property of the programs on
this machine (a GPU may answer differently: ``gpu_check.sh`` runs the SNES case). The paper's
strategies are also checked bitwise by tests/unit/test_lockstep.py.
BENCH_QUICK: population 16, 2 generations (where those variables do not say otherwise).
"""

from __future__ import annotations

import os

from common import report, setup_devices, sized

COLUMNS = ["strategy", "chains", "generations", "bitwise", "max_abs_diff", "fields_differing"]


def compare(name: str, population: int, chains: int, generations: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from tasks import build

    from evotickets.train.es import _vmapped_chunk_runner, make_chunk_runner, start_state

    task, strategy, theta0, mask = build("digits_fidelity", population, name, remaining=0.8)
    idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
    keys = [jax.random.key(200 + c) for c in range(chains)]
    starts = [start_state(task, strategy, k, theta0[mask]) for k in keys]
    data = task.train_data
    single = make_chunk_runner(task, strategy, mask.size)
    alone = [single(s, k, idx, data, 0, n=generations)[0] for s, k in zip(starts, keys)]
    together, _ = _vmapped_chunk_runner(task, strategy, mask.size)(
        jax.tree.map(lambda *a: jnp.stack(a), *starts),
        jnp.stack(keys),
        jnp.stack([idx] * chains),
        data,
        0,
        n=generations,
    )
    worst, fields = 0.0, set()
    for c in range(chains):
        flat, _ = jax.tree_util.tree_flatten_with_path(alone[c])
        for (path, a), b in zip(flat, jax.tree.leaves(together), strict=True):
            a, b = np.asarray(a), np.asarray(b)[c]
            if a.dtype.kind != "f" or np.array_equal(a, b, equal_nan=True):
                continue
            fields.add(jax.tree_util.keystr(path))
            worst = max(worst, float(np.nanmax(np.abs(a.astype(np.float64) - b))))
    return {
        "strategy": name,
        "chains": chains,
        "generations": generations,
        "bitwise": not fields,
        "max_abs_diff": worst,
        "fields_differing": " ".join(sorted(fields)) or "-",
    }


def main() -> None:
    setup_devices(1)
    from evotickets.strategies import STRATEGIES

    population = sized("BENCH_POPULATION", 32, 16)
    generations = sized("BENCH_GENERATIONS", 5, 2)
    chains = int(os.environ.get("BENCH_CHAINS", "3"))
    names = os.environ.get("BENCH_STRATEGIES", ",".join(STRATEGIES)).split(",")
    rows = []
    for name in names:
        try:
            rows.append(compare(name, population, chains, generations))
        except ValueError as e:  # a strategy refused at this size (memory grows with D²)
            row = {"strategy": name, "chains": chains, "generations": generations}
            rows.append(
                {**row, "bitwise": None, "max_abs_diff": None, "fields_differing": str(e)[:70]}
            )
    same = sum(r["bitwise"] is True for r in rows)
    report(
        "batch_invariance",
        f"Bench 9: a chain alone vs in a vmapped group of {chains}, population {population}, "
        f"{generations} generations: {same} of {len(rows)} strategies bitwise",
        rows,
        COLUMNS,
        population=population,
    )


if __name__ == "__main__":
    main()
