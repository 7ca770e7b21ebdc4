"""Bench 7: the fidelity experiment's pruning chains through Snakemake, one job per chain and
round (``resources.group_chains: none``) against one job per (task, strategy, method) and round
for all seeds (``seeds``) and one per (task, strategy) and round (``seeds_and_methods``), side
by side in one run (``BENCH_GROUP_MODES``, the first is the baseline; ``<mode>+vmapped`` is
that grouping with ``resources.group_program: vmapped``, its chains of equal D_active trained
as one vmapped program): core-seconds, wall time, jobs, and the share of core time outside
the rounds' own training (by their CPU time).

The config is ``config/fidelity.yaml`` (digits, 4 seeds, SNES / Sep-CMA-ES / Adam chains, 600
generations a round; ``BENCH_CONFIG`` names another file of config/, e.g. ``config.yaml``,
what `make run` runs) with its transfer and analyses left out and ``BENCH_ROUNDS`` rounds
(default 4 of its 12: the rounds are alike, so the per-round overheads are what they are in
the full run, while round 0 weighs more). Each mode runs in a fresh folder with a fresh JAX
compilation cache, on ``--cores 2``. Core-seconds are the user + system time of Snakemake and
every process it started (``RUSAGE_CHILDREN``); a round's own training is the time its train
log reports (``in X s (Y s of CPU)``: the ES or GD loop, compile included; for chains trained
as one vmapped program, the program's time in the group log). Its wall time X and its CPU
time Y differ: XLA's CPU runtime keeps more than one thread busy in a training loop, so the
share outside the training is 1 − Σ Y / core-seconds (the wall-time share, 1 − Σ X /
core-seconds, which the tables before 2026-12-02 report, counts those threads as outside).
Round 0 is trained once per
(task, strategy, seed) in both modes; what that saves is reported apart, as the training time
the copying chains would have spent (their donor's). BENCH_QUICK: 2 seeds, 2 rounds, 20
generations.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml
from common import KEEP, QUICK, ROOT, report, work_folder

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2" if QUICK else "4"))
CONFIG = os.environ.get("BENCH_CONFIG", "fidelity.yaml")
#: a round's train log, and a vmapped group's log: wall seconds and CPU seconds of training
CPU = r"s \(([\d.]+)s of CPU\)$"
TRAINED_IN = re.compile(r"wrote \S+: \S+ [-\d.naif]+ in ([\d.]+)" + CPU, re.MULTILINE)
GROUP_TRAINED_IN = re.compile(r"in one program: trained in ([\d.]+)" + CPU, re.MULTILINE)


def bench_config(mode: str, cache: Path) -> dict:
    cfg = yaml.safe_load((ROOT / "config" / CONFIG).read_text())
    cfg.pop("transfer", None)
    cfg["analyses"] = {"enabled": []}
    cfg["rounds"] = ROUNDS
    cfg["experiment"] = "bench-group"
    cfg["jax_cache_dir"] = str(cache)
    grouping, _, program = mode.partition("+")
    cfg.setdefault("resources", {})["group_chains"] = grouping
    if program:
        cfg["resources"]["group_program"] = program
    if QUICK:
        cfg["seeds"] = [0, 1]
        cfg["es"] = {"num_generations": 20, "log_every": 10}
        if "gd_adam" in cfg.get("gd", {}):
            cfg["gd"]["gd_adam"]["epochs"] = 1
    return cfg


def run_mode(mode: str, work: Path) -> dict:
    work.mkdir(parents=True)
    (work / "config").mkdir()
    cfg_path = work / "config" / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(bench_config(mode, work / "jax-cache")))
    snakemake = str(Path(sys.executable).parent / "snakemake")
    cmd = [snakemake, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
           "--cores", "2", "--configfile", str(cfg_path), "--",
           "results/bench-group/accuracy_table.txt"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{mode}: snakemake failed:\n{proc.stderr[-3000:]}")
    core_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    jobs = re.search(r"^total\s+(\d+)$", proc.stdout + proc.stderr, re.MULTILINE)
    return {"mode": mode, "wall_s": wall, "core_s": core_s, "jobs": int(jobs[1]), **_training(work)}


def _training(work: Path) -> dict:
    """Σ of the rounds' own training time, wall and CPU (their train logs; for chains trained
    as one program, the program's times from the group log instead), and what the round-0
    copies would have cost (their donor's training CPU time)."""
    import h5py

    wall, cpu, by_log = 0.0, 0.0, {}
    for log in (work / "results").rglob("train.log"):
        m = TRAINED_IN.findall(log.read_text())
        if m:  # a member of a vmapped group logs no CPU time of its own: see its group.log
            by_log[str(log.parent)] = float(m[-1][1])
            wall, cpu = wall + float(m[-1][0]), cpu + float(m[-1][1])
    for log in (work / "results").rglob("group.log"):
        for w, c in GROUP_TRAINED_IN.findall(log.read_text()):
            wall, cpu = wall + float(w), cpu + float(c)
    saved = 0.0
    for trained in (work / "results").rglob("iter00/trained.h5"):
        with h5py.File(trained, "r") as f:
            donor = f.attrs.get("round0_from")
        if donor:
            saved += by_log.get(str((work / str(donor)).parent), 0.0)
    return {"training_s": wall, "training_cpu_s": cpu, "round0_copies_would_have_trained_s": saved}


COLUMNS = ["mode", "jobs", "wall_s", "core_s", "speedup", "training_s", "training_cpu_s",
           "outside_training_share", "outside_training_wall_share",
           "round0_copies_would_have_trained_s"]  # fmt: skip
MODES = os.environ.get("BENCH_GROUP_MODES", "none,seeds,seeds_and_methods").split(",")


def main() -> None:
    base = work_folder("bench-group-")
    rows = [run_mode(mode, base / mode) for mode in MODES]
    none = rows[0]
    for r in rows:
        r["outside_training_share"] = 1 - r["training_cpu_s"] / r["core_s"]
        r["outside_training_wall_share"] = 1 - r["training_s"] / r["core_s"]
        r["speedup"] = none["core_s"] / r["core_s"]
    best = max(rows, key=lambda r: r["speedup"])
    speedup = best["speedup"]
    with_round0 = (none["core_s"] + none["round0_copies_would_have_trained_s"]) / best["core_s"]
    report(
        "group" if CONFIG == "fidelity.yaml" else f"group_{Path(CONFIG).stem}",
        f"Bench 7: {CONFIG} chains, {ROUNDS} rounds; core-seconds {none['mode']} / "
        f"{best['mode']} = {speedup:.2f}x (target >= 1.3x); with round 0 trained per method "
        f"in the baseline: {with_round0:.2f}x",
        rows,
        COLUMNS,
        rounds=ROUNDS,
        core_s_ratio=speedup,
        core_s_ratio_with_round0_per_method=with_round0,
        **({"work": str(base)} if KEEP else {}),
    )


if __name__ == "__main__":
    main()
