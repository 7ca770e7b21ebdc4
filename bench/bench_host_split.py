"""Bench 10: is a round on host devices (the experimental population split,
``EVOTICKETS_CPU_DEVICES``) bitwise the one-device round, strategy by strategy?

For every strategy of the registry (or ``BENCH_STRATEGIES``), one short digits round of the
library's ``run_round`` (the loop benches' digits setting, ``tasks.build``: the small CNN,
minibatch 256, population ``BENCH_POPULATION``, default 32; ``BENCH_GENERATIONS``, default
4, in chunks of 2)
runs in three processes: on one device; on ``BENCH_CPU_DEVICES`` (default 2) host devices
as the CLI sets them up (:func:`evotickets.platform.use_host_devices`); and on as many host
devices with XLA's ``spmd-cleanup`` pipeline left on, as before use_host_devices skipped it.
A row says whether θ, σ and the best-fitness curve are bitwise the one-device round's, else
the largest difference. Not a timing: a property of the programs on this machine.
BENCH_QUICK: population 16, 2 generations (where those variables do not say otherwise).
"""

from __future__ import annotations

import os

from common import report, run_python, sized

ROUND = """
import json, os, sys
devices, keep_cleanup, population, generations = (int(a) for a in sys.argv[1:5])
names = sys.argv[5].split(",")
from common import setup_devices
setup_devices(devices)  # use_host_devices, as the CLI does
if keep_cleanup:  # undo the one flag use_host_devices adds, for the comparison
    from evotickets.platform import skip_spmd_cleanup
    os.environ["XLA_FLAGS"] = os.environ["XLA_FLAGS"].replace(skip_spmd_cleanup(""), "")
    assert "spmd-cleanup" not in os.environ["XLA_FLAGS"], "unset your own disabled passes"
import jax, numpy as np
from tasks import build
from evotickets.train.es import run_round
out = {"devices": len(jax.devices())}
for name in names:
    try:
        task, strategy, theta0, mask = build("digits", population, name)
    except ValueError as err:  # a strategy refused at this size (memory grows with D²)
        out[name] = str(err)[:70]
        continue
    r = run_round(task, strategy, theta0, mask, jax.random.key(5), generations, 2,
                  log=lambda m: None)
    out[name] = {"theta": np.asarray(r.theta).tolist(), "sigma": np.asarray(r.sigma).tolist(),
                 "best": np.asarray(r.best_fitness).tolist()}
print(json.dumps(out))
"""

COLUMNS = ["strategy", "devices", "bitwise", "max_abs_diff", "with_spmd_cleanup"]


def _diff(alone, split) -> tuple[bool, float]:
    import numpy as np

    worst = 0.0
    for key in alone:
        a, b = np.asarray(alone[key], np.float64), np.asarray(split[key], np.float64)
        if not np.array_equal(a, b, equal_nan=True):
            worst = max(worst, float(np.nanmax(np.abs(a - b))))
    return worst == 0.0, worst


def main() -> None:
    from evotickets.strategies import STRATEGIES

    population = sized("BENCH_POPULATION", 32, 16)
    generations = sized("BENCH_GENERATIONS", 4, 2)
    devices = int(os.environ.get("BENCH_CPU_DEVICES") or 2)
    names = os.environ.get("BENCH_STRATEGIES", ",".join(STRATEGIES))

    def run(n: int, keep_cleanup: int) -> dict:
        args = [str(n), str(keep_cleanup), str(population), str(generations), names]
        return run_python(ROUND, args=args)

    def write(alone: dict, split: dict, with_cleanup: dict | None) -> None:
        rows = []
        for name in names.split(","):
            if isinstance(alone[name], str):
                rows.append({"strategy": name, "devices": devices, "bitwise": None,
                             "max_abs_diff": None, "with_spmd_cleanup": alone[name]})  # fmt: skip
                continue
            same, worst = _diff(alone[name], split[name])
            before = "not yet run"
            if with_cleanup is not None:
                same_before, worst_before = _diff(alone[name], with_cleanup[name])
                before = "bitwise" if same_before else f"{worst_before:.1e}"
            rows.append({"strategy": name, "devices": devices, "bitwise": same,
                         "max_abs_diff": worst, "with_spmd_cleanup": before})  # fmt: skip
        same = sum(r["bitwise"] is True for r in rows)
        report(
            "host_split",
            f"Bench 10: a digits round on {devices} host devices vs one device, population "
            f"{population}, {generations} generations: {same} of {len(rows)} strategies bitwise",
            rows,
            COLUMNS,
            population=population,
            generations=generations,
        )

    # written once the split is compared, and again with the spmd-cleanup comparison: a run
    # stopped in its third process (as long as the others) keeps the answer it was run for
    alone, split = run(1, 0), run(devices, 0)
    assert split["devices"] == devices, "host devices not set up"
    write(alone, split, None)
    with_cleanup = run(devices, 1)
    assert with_cleanup["devices"] == devices, "host devices not set up"
    write(alone, split, with_cleanup)


if __name__ == "__main__":
    main()
