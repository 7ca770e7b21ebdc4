"""Bench 5: the DAG and the per-job overhead, with and without the persistent compile cache.

- ``snakemake -n --configfile config/paper.yaml``: wall time and job count (target <= 30 s).
- Per job: the interpreter's start, importing the CLI, and whole ``train`` jobs (digits, a
  2-generation round; the rule's two steps timed apart: ``evotickets mask``, then
  ``evotickets train``) with no cache, a cold cache, and a warm one. The last two
  jobs are two *different chains* (seed 0 and seed 1 of the random method at round 1, equal
  D_active): the second adds no entry to the cache, i.e. every program it runs was a hit.
  Round 2 (smaller D_active) then misses, as it must: shapes are part of the program.
- Building a control task in a fresh process (what every control-task job does first; warm
  cache), the library's way against the way gymnax and brax do it on their own: ``import
  gymnax`` with the plotting stack its environments import to render, and brax's
  ``observation_size``, which runs ``reset`` op by op. Alternating, best of n.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import QUICK, ROOT, report, run_python

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
ENV.pop("EVOTICKETS_JAX_CACHE", None)

CONFIG = {
    "experiment": "bench",
    "data_dir": None,
    "seeds": [0, 1],
    "rounds": 3,
    "prune_fraction": 0.2,
    "methods": ["random"],
    "tasks": {"digits": {"network": "cnn_small", "batch_size": 256, "population_chunk": 32}},
    "strategies": {"snes": {"population_size": 32, "std_init": 0.05, "temperature": 12.0}},
    "es": {"num_generations": 2, "log_every": 2},
    "resources": {"gpu": 0, "mem_mb": 1000, "runtime": 10, "threads": 1},
}


def timed(cmd: list[str], env=None, cwd=None) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(
        cmd, capture_output=True, text=True, env=env or ENV, cwd=cwd, check=False, timeout=1800
    )
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return dt, out.stdout + out.stderr


def best_of(n: int, cmd: list[str]) -> float:
    return min(timed(cmd)[0] for _ in range(n))


def cache_entries(d: Path) -> int:
    return sum(1 for p in d.rglob("*") if p.is_file()) if d.exists() else 0


def dag_dry_run() -> dict:
    t, out = timed(
        ["snakemake", "-n", "--configfile", "config/paper.yaml", "--cores", "2"],
        cwd=ROOT,
    )
    m = re.search(r"^total\s+(\d+)", out, re.MULTILINE)
    return {"seconds": t, "jobs": int(m.group(1)) if m else None}


GC_BLOCK = (
    "gc.collect()\ngc.freeze()\ngc.set_threshold(50_000, 20, 10)\natexit.register(gc.freeze)\n"
)


def dag_gc_side_by_side(repeats: int) -> dict:
    """The paper dry run with common.smk's garbage-collector settings and without them (a copy
    of the workflow with those four lines removed), interleaved, best of ``repeats``. They were
    added when the Snakefile imported JAX, evosax and flax; since it imports only
    evotickets.names, the heap they freeze is much smaller."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-gc-"))
    try:
        shutil.copy(ROOT / "Snakefile", tmp / "Snakefile")
        shutil.copytree(ROOT / "workflow", tmp / "workflow")
        common = tmp / "workflow" / "rules" / "common.smk"
        text = common.read_text()
        if GC_BLOCK not in text:
            raise RuntimeError("common.smk no longer holds the GC block this bench removes")
        common.write_text(text.replace(GC_BLOCK, ""))
        base = ["snakemake", "-n", "-q", "--configfile", "config/paper.yaml", "--cores", "2"]
        with_gc, without_gc = [], []
        for _ in range(repeats):
            with_gc.append(timed(base, cwd=ROOT)[0])
            without_gc.append(timed([*base, "--snakefile", str(tmp / "Snakefile")], cwd=ROOT)[0])
        return {"with_gc_settings": min(with_gc), "without_gc_settings": min(without_gc)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def train_jobs(work: Path) -> list[dict]:
    from evotickets.config import chain_settings, init_settings, validate_config

    cfg = validate_config(json.loads(json.dumps(CONFIG)))
    cache = work / "jax-cache"
    rows = []

    def settings(seed):
        return json.dumps(chain_settings(cfg, "digits", "snes", "random", seed))

    def prepare(seed, rnd):
        init = work / f"init{seed}.h5"
        if not init.exists():
            s = json.dumps(init_settings(cfg, "digits", seed))
            timed(["evotickets", "init", "--settings", s, "--out", str(init)])
        mask = work / f"mask{seed}-{rnd}.h5"
        t, _ = timed(["evotickets", "mask", "--settings", settings(seed), "--round", str(rnd),
                      "--init", str(init), "--out", str(mask)])  # fmt: skip
        return init, mask, t

    def train(label, seed, rnd, cache_dir):
        # one `train` job of the workflow: its `evotickets mask` step, then its training
        init, mask, mask_seconds = prepare(seed, rnd)
        # one output per chain and round: artifacts refuse to overwrite another's trained.h5
        out = work / f"t{seed}-{rnd}.h5"
        cmd = ["evotickets", "train", "--settings", settings(seed), "--round", str(rnd),
               "--init", str(init), "--mask", str(mask), "--out", str(out)]  # fmt: skip
        if cache_dir:
            cmd += ["--jax-cache", str(cache_dir)]
        before = cache_entries(cache)
        t, log = timed(cmd)
        d_active = int(re.search(r"D_active (\d+)", log).group(1))
        rows.append(
            {
                "job": label,
                "mask step": mask_seconds,
                "seconds": t,
                "D_active": d_active,
                "new cache entries": cache_entries(cache) - before if cache_dir else "",
            }
        )

    train("train, no cache (seed 0, round 1)", 0, 1, None)
    train("train, cold cache (seed 0, round 1)", 0, 1, cache)
    train("train, warm cache, same job again", 0, 1, cache)
    train("train, warm cache, other chain (seed 1, round 1)", 1, 1, cache)
    train("train, warm cache, round 2 (smaller D_active)", 0, 2, cache)
    return rows


BUILD_TASK = """
import json, sys, time
way, name, backend, cache = sys.argv[1:5]
import evotickets.cli
from evotickets.platform import setup_jax
setup_jax(cache)
from evotickets.tasks import control, make_task
t = time.perf_counter()
if way == "libraries":
    if name in control.GYMNAX_TASKS:
        import gymnax  # as it imports itself: matplotlib.pyplot and seaborn too
    control.brax_observation_size = lambda env: int(env.observation_size)  # reset op by op
make_task(name, {"backend": backend} if backend != "-" else {}, None)
print(json.dumps({"s": time.perf_counter() - t}))
"""
#: (task, brax backend or "-") whose task builds bench 5 times: the paper grid's gymnax task,
#: its generalized-backend brax task and two of its spring ones.
TASK_BUILDS = [("pendulum", "-"), ("reacher", "spring")] if QUICK else [
    ("pendulum", "-"), ("ant", "generalized"), ("halfcheetah", "spring"), ("humanoid", "spring")
]  # fmt: skip


def task_builds(n: int, work: Path) -> list[dict]:
    """Seconds to build each control task in a fresh process, the library's way and the
    libraries' own, alternating, best of ``n`` after one warm-up each (warm cache)."""
    rows = []
    for name, backend in TASK_BUILDS:
        ways = ("ours", "libraries")
        best = dict.fromkeys(ways, float("inf"))
        for i in range(n + 1):  # the first round warms the cache
            for way in ways:
                args = [way, name, backend, str(work / "task-cache")]
                s = run_python(BUILD_TASK, args=args, timeout=600)["s"]
                best[way] = min(best[way], s) if i else best[way]
        label = name if backend == "-" else f"{name} ({backend})"
        rows.append(
            {"job": f"build {label}: gymnax/brax on their own", "seconds": best["libraries"]}
        )
        rows.append({"job": f"build {label}: evotickets", "seconds": best["ours"],
                     "vs their own": best["libraries"] / best["ours"]})  # fmt: skip
    return rows


def main() -> None:
    n = 1 if QUICK else 3
    start = best_of(n, [sys.executable, "-c", "pass"])
    imports = best_of(n, [sys.executable, "-c", "import evotickets.cli"])
    import_jax = best_of(n, [sys.executable, "-c", "import jax, evosax, flax"])
    dag = dag_dry_run()
    gc_runs = dag_gc_side_by_side(n)
    work = Path(tempfile.mkdtemp(prefix="bench-dag-"))
    try:
        jobs = train_jobs(work)
        builds = task_builds(n, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        {"job": "snakemake -n, config/paper.yaml", "seconds": dag["seconds"], "jobs": dag["jobs"]},
        {
            "job": "snakemake -n -q, with common.smk's GC settings",
            "seconds": gc_runs["with_gc_settings"],
        },
        {"job": "snakemake -n -q, without them", "seconds": gc_runs["without_gc_settings"]},
        {"job": "python -c pass", "seconds": start},
        {"job": "import evotickets.cli", "seconds": imports},
        {"job": "import jax, evosax, flax", "seconds": import_jax},
        *jobs,
        *builds,
    ]
    cold = next(r["seconds"] for r in jobs if "cold" in r["job"])
    warm = next(r["seconds"] for r in jobs if "other chain" in r["job"])
    report(
        "dag",
        "Bench 5: the DAG and per-job overhead (target: snakemake -n <= 30 s)",
        rows,
        ["job", "mask step", "seconds", "jobs", "D_active", "new cache entries", "vs their own"],
        dry_run=dag,
        gc_side_by_side=gc_runs,
        cold_over_warm_job=cold / warm,
    )


if __name__ == "__main__":
    sys.exit(main())
