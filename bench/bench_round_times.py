"""Bench 11: what one round of each trainer costs on this device at config/paper.yaml's
settings: the ES on MNIST (SNES, the paper CNN), on Pendulum (Sep-CMA-ES) and on brax ant
(Sep-CMA-ES, the generalized backend), Adam on MNIST, and PPO on Pendulum.

Why: a user sets `runtime` (and `group_runtime`) for SLURM from a round's time on their
device, and on a GPU only the paper MNIST ES round has been measured (bench/README.md,
"Results on a GPU"). Each case runs round 0 of a chain through the workflow's own verbs
(`init`, `mask`, `train`, called in-process through :func:`evotickets.cli.main`), in its
own process with its own time limit, so a slow compile or a failure costs only its case.
To fit a lent GPU's minutes it runs a fraction of the round (fewer generations or PPO
updates; Adam's two epochs whole), times each logged chunk (its evaluation included), and
projects the paper's round from the steady rate: the first chunk's overhead (its compile) +
the paper's units at the rate of the later chunks. The process start (imports, `init`,
`mask`, task build) is reported apart. The JSON is rewritten after every case, so a case
that runs out of time keeps the ones before it.

    python bench/bench_round_times.py               # every case
    BENCH_CASES=ant_sep_cma_es python bench/bench_round_times.py
    BENCH_CASE_LIMIT_S=120 ...                      # each case's time limit (default 300)

BENCH_QUICK shrinks every case (a CPU smoke run): the numbers then say nothing of the paper.
MNIST from EVOTICKETS_DATA_DIR (the MNIST cases are skipped without it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from common import QUICK, ROOT, report

#: case → (task, strategy, what shortens it on a device, what shrinks it for BENCH_QUICK)
CASES = {
    # the paper CNN in the GPU's form (the vmapped flax module since af82517), never timed
    # there as a whole chain; the batched form's round took 89-94 s on an H200
    "mnist_snes": (
        "mnist",
        "snes",
        {"es": {"num_generations": 500, "log_every": 100}},
        {"es": {"num_generations": 4, "log_every": 2}},
    ),
    "pendulum_sep_cma_es": (
        "pendulum",
        "sep_cma_es",
        {"es": {"num_generations": 500, "log_every": 100}},
        {"es": {"num_generations": 40, "log_every": 10}},
    ),
    "ant_sep_cma_es": (
        "ant",
        "sep_cma_es",
        {"es": {"num_generations": 30, "log_every": 10}},
        {
            "es": {"num_generations": 4, "log_every": 2},
            "task_config": {"n_repeats": 1, "max_steps": 20, "n_test": 2},
            "strategy_config": {"population_size": 16},
        },
    ),
    "mnist_gd_adam": ("mnist", "gd_adam", {}, {"strategy_config": {"epochs": 1}}),
    "pendulum_gd_ppo": (
        "pendulum",
        "gd_ppo",
        {"strategy_config": {"total_steps": 175_000, "log_every": 50}},
        {"strategy_config": {"total_steps": 5_120, "log_every": 2}},
    ),
}

MEASURE = r"""
import io, json, sys, time
t_process = time.perf_counter()
from pathlib import Path
import h5py, yaml
from evotickets import cli
from evotickets.config import chain_settings, init_settings, validate_config

root, task, strategy, shorten, data_dir = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]
cfg = yaml.safe_load((Path(root) / "config" / "paper.yaml").read_text())
cfg["data_dir"] = data_dir or None
cfg = validate_config(cfg)
paper = chain_settings(cfg, task, strategy, "magnitude", 0)
settings = json.loads(json.dumps(paper))
for part, values in shorten.items():
    settings[part] = {**settings.get(part, {}), **values}
stamps = []  # (time, line) of every line the verbs print


class Stamped(io.TextIOBase):
    def write(self, s):
        sys.__stderr__.write(s)
        for line in s.splitlines():
            stamps.append((time.perf_counter(), line))
        return len(s)


sys.stdout = Stamped()
from common import work_folder
work = work_folder("round-times-")
files = {k: str(work / f"{k}.h5") for k in ("init", "mask", "trained")}
chain = ["--settings", json.dumps(settings), "--round", "0", "--init", files["init"]]
assert cli.main(["init", "--settings", json.dumps(init_settings(cfg, task, 0)),
                 "--out", files["init"]]) == 0
assert cli.main(["mask", *chain, "--out", files["mask"]]) == 0
t_train = time.perf_counter()
assert cli.main(["train", *chain, "--mask", files["mask"], "--out", files["trained"]]) == 0
sys.stdout = sys.__stdout__
# the train verb logs "D_active" once the task is built, just before training, and "wrote"
# once the artifact is complete
t_start = next(t for t, line in stamps if t >= t_train and " D_active " in line)
t_end = next(t for t, line in stamps if t >= t_start and " wrote " in line)
from bench_round_times import projection
import jax
timing = projection([(t - t_start, line) for t, line in stamps if t >= t_start], paper)
with h5py.File(files["trained"], "r") as f:
    metric, metric_name = float(f.attrs["final_metric"]), str(f.attrs["metric_name"])
print(json.dumps({
    "device": str(jax.devices()[0]), **timing, "round s": t_end - t_start,
    "start s": t_start - t_process, "imports, init and mask s": t_train - t_process,
    "metric": metric, "metric name": metric_name, "settings": settings,
}))
"""


PROGRESS = re.compile(r"\b(gen|epoch|update) (\d+)/(\d+)(?: \((\d+) steps)?")


def projection(lines: list[tuple[float, str]], paper: dict) -> dict:
    """The steady rate of a round from its progress lines, and the paper's round from it.

    ``lines``: (seconds since the training started, line printed) of the round's log; the
    progress lines are the trainers' ("gen g/G", "epoch e/E", "update u/U (n steps)").
    ``paper``: the chain's settings at the paper's length. The first chunk holds the
    compile, so the rate is taken between the first and the last progress line; with a
    single line there is no rate (NaN)."""
    chunks = [(t, m) for t, line in lines if (m := PROGRESS.search(line))]
    if not chunks:
        raise ValueError("no progress line (gen/epoch/update a/b) in the round's log")
    unit = chunks[0][1].group(1)
    done = [int(m.group(2)) for _, m in chunks]
    times = [t for t, _ in chunks]
    many = len(done) > 1 and done[-1] > done[0]
    steady = (times[-1] - times[0]) / (done[-1] - done[0]) if many else float("nan")
    if unit == "gen":
        units = int(paper["es"]["num_generations"])
    elif unit == "epoch":
        units = int(paper["strategy_config"]["epochs"])
    else:  # PPO: the paper's env steps over the steps one update takes
        units = int(paper["strategy_config"]["total_steps"]) // (
            int(chunks[0][1].group(4)) // done[0]
        )
    overhead = times[0] - steady * done[0] if many else times[0]
    return {
        "unit": unit, "units run": done[-1], "first chunk s": times[0], "units in it": done[0],
        "s/unit": steady, "overhead s": overhead, "paper units": units,
        "paper round s": overhead + steady * units,
    }  # fmt: skip


def main() -> int:
    wanted = os.environ.get("BENCH_CASES")
    names = wanted.split(",") if wanted else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown BENCH_CASES {unknown}; choose from {list(CASES)}")
    limit = float(os.environ.get("BENCH_CASE_LIMIT_S", "300"))
    data_dir = os.environ.get("EVOTICKETS_DATA_DIR") or os.environ.get("BENCH_DATA_DIR") or ""
    path = os.pathsep.join(filter(None, [str(ROOT / "bench"), os.environ.get("PYTHONPATH")]))
    rows = []
    for name in names:
        rows.append({"case": name, **_run_case(name, limit, data_dir, path)})
        print(json.dumps(rows[-1]), flush=True)
        _report(rows)  # after every case: a step killed later keeps what ran
    return 0


def _run_case(name: str, limit: float, data_dir: str, path: str) -> dict:
    """One case in a fresh interpreter: its measurements, or why there are none."""
    task, strategy, shorten, quick = CASES[name]
    if task == "mnist" and not data_dir:
        return {"error": "skipped: no MNIST (set EVOTICKETS_DATA_DIR)"}
    args = [str(ROOT), task, strategy, json.dumps(quick if QUICK else shorten), data_dir]
    try:
        out = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True,
                             text=True, timeout=limit, check=False,
                             env={**os.environ, "PYTHONPATH": path})  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"ran out of its {limit:.0f} s"}
    if out.returncode != 0:
        print(f"{name} failed:\n{out.stderr[-3000:]}", flush=True)
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"rc {out.returncode}: {tail[0][-300:]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _report(rows: list[dict]) -> None:
    columns = ["case", "unit", "units run", "s/unit", "overhead s", "round s", "paper units",
               "paper round s", "start s", "metric", "error"]  # fmt: skip
    report("round_times", "Round 0 at config/paper.yaml's settings, a fraction run", rows, columns)


if __name__ == "__main__":
    sys.exit(main())
