"""Kill the workflow with SIGKILL at random moments, rerun it, and check that nothing was lost.

Each trial starts the tiny workflow in a fresh folder (its own process group), SIGKILLs the whole
group at a seeded random moment (or as soon as a mid-round checkpoint appears), then reruns it
the way the README says (`snakemake --unlock` if a stale lock is left, then
`--rerun-incomplete`), and compares every final artifact with an uninterrupted reference run:
every array and every attr except `created` must be identical. It also counts

- finished jobs recomputed: artifacts that existed under their final name at the moment of the
  kill (so were complete: writes are atomic) whose mtime changed during the rerun, counting
  only jobs that had finished: a round's job writes mask.h5 and then trained.h5, and a round
  killed in between is rerun whole, so its mask.h5 alone is not a finished job;
- checkpoints: trained.ckpt.h5 files present after the kill, and whether the rerun resumed
  from each one (the train log says so).

    python tests/chaos.py --kills 20        # what `make chaos` runs
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import yaml
from workflow_helpers import content, local_env, snakemake_cmd

from evotickets import paths

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("EVOTICKETS_TEST_JAX_CACHE", ROOT / ".pytest_cache" / "jax-cache"))

# One seed; a nested chain (magnitude) and the random baseline; two rounds; rounds long enough
# (a few seconds) that kills land inside them, with a checkpoint every 10 generations.
KILL_CONFIG = {
    "experiment": "chaos",
    "data_dir": None,
    "seeds": [0],
    "rounds": 2,
    "prune_fraction": 0.2,
    "methods": ["random", "magnitude"],
    "tasks": {"digits": {"network": "cnn_small", "batch_size": 64, "population_chunk": 16}},
    "strategies": {"snes": {"population_size": 16, "std_init": 0.05, "temperature": 12.0}},
    "es": {"num_generations": 120, "log_every": 10},
    "resources": {"gpu": 0, "mem_mb": 1000, "runtime": 10, "threads": 1},
}
# Two seeds whose rounds run in one `train_seeds` job (resources.group_chains): a kill can land
# after the first seed of a job finished and while the second one trains. Round 0 alone (the
# random chain trains it, magnitude copies it) keeps it short; 120 generations leave the
# second seed 110 of them after its first checkpoint, so that a kill lands mid-round even
# when a loaded machine delays the poll that triggers it (at 30 it once came after the
# round had finished, most likely: nothing was left to resume).
GROUPED_KILL_CONFIG = {
    **KILL_CONFIG,
    "seeds": [0, 1],
    "rounds": 1,
    "es": {"num_generations": 120, "log_every": 10},
    "resources": {**KILL_CONFIG["resources"], "group_chains": "seeds"},
}
CHECKPOINT_EVERY = "10"


def _env() -> dict[str, str]:
    return local_env(EVOTICKETS_CHECKPOINT_EVERY=CHECKPOINT_EVERY)


def _cmd(workdir: Path, *args: str) -> list[str]:
    return snakemake_cmd(workdir, *args)


def prepare(workdir: Path, config: dict = KILL_CONFIG) -> Path:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    cfg = {**config, "jax_cache_dir": str(CACHE)}
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    return workdir


def run(workdir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        _cmd(workdir, *args),
        check=False,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"snakemake {' '.join(args)} failed in {workdir}:\n"
            + proc.stdout[-3000:]
            + proc.stderr[-3000:]
        )
    return proc


def artifacts(workdir: Path) -> dict[str, int]:
    """Final artifacts (complete by construction: atomic writes) → mtime_ns."""
    out = {}
    for p in sorted((workdir / paths.RESULTS).rglob("*.h5")):
        if not p.name.endswith(".ckpt.h5"):
            out[str(p.relative_to(workdir))] = p.stat().st_mtime_ns
    table = workdir / paths.experiment_file("accuracy_table.txt", KILL_CONFIG["experiment"])
    if table.exists():
        out[str(table.relative_to(workdir))] = table.stat().st_mtime_ns
    return out


def finished_jobs(found: dict[str, int]) -> dict[str, int]:
    """The artifacts of ``found`` whose job had finished: all but a round's mask.h5 whose
    trained.h5 (the other output of the same `train` job) is not there yet."""
    return {
        k: m
        for k, m in found.items()
        if not k.endswith("/mask.h5") or k[: -len("mask.h5")] + "trained.h5" in found
    }


def stamps(workdir: Path, names) -> dict[str, str]:
    """When each artifact was computed: an HDF5 artifact's ``created`` attribute (written
    with its numbers), else the file's mtime. Not the mtime alone: Snakemake touches every
    output of a job it ran, also one the job kept (a finished seed of a grouped job)."""
    out = {}
    for name in names:
        path = workdir / name
        if not path.exists():
            continue
        if path.suffix == ".h5":
            with h5py.File(path, "r") as f:
                out[name] = str(f.attrs["created"])
        else:
            out[name] = str(path.stat().st_mtime_ns)
    return out


def checkpoints(workdir: Path) -> list[str]:
    return sorted(str(p.relative_to(workdir)) for p in (workdir / paths.RESULTS).rglob("*.ckpt.h5"))


def differences(reference: Path, workdir: Path) -> list[str]:
    """What differs between two finished runs (empty: identical)."""
    ref, got = artifacts(reference), artifacts(workdir)
    diffs = [f"missing {k}" for k in ref.keys() - got.keys()]
    diffs += [f"extra {k}" for k in got.keys() - ref.keys()]
    for name in sorted(ref.keys() & got.keys()):
        a, b = reference / name, workdir / name
        if name.endswith(".txt"):
            if a.read_text() != b.read_text():
                diffs.append(f"{name}: text differs")
            continue
        (xa, aa), (xb, ab) = content(a), content(b)
        aa, ab = ({k: str(v) for k, v in x.items()} for x in (aa, ab))
        if xa.keys() != xb.keys():
            diffs.append(f"{name}: datasets {sorted(xa.keys() ^ xb.keys())}")
        for k in xa.keys() & xb.keys():
            if xa[k].dtype != xb[k].dtype or not np.array_equal(xa[k], xb[k], equal_nan=True):
                diffs.append(f"{name}: {k} differs")
        if aa != ab:
            diffs.append(f"{name}: attrs {sorted(k for k in aa if aa.get(k) != ab.get(k))}")
    return diffs


@dataclass
class Trial:
    index: int
    # (k, s): kill s seconds after the k-th artifact appeared; None: when a checkpoint appears
    at: tuple[int, float] | None
    killed_at: float = 0.0
    finished_before_kill: bool = False
    complete_at_kill: dict[str, str] = field(default_factory=dict)
    checkpoints_at_kill: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    recomputed: list[str] = field(default_factory=list)
    unlocked: bool = False
    diffs: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.diffs


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def second_instance(workdir: Path) -> subprocess.CompletedProcess:
    """Start another snakemake on the same folder (while the first one runs)."""
    return subprocess.run(
        _cmd(workdir), check=False, capture_output=True, text=True, env=_env(), timeout=300
    )


def trial(
    reference: Path,
    workdir: Path,
    index: int,
    at: tuple[int, float] | str | None,
    while_running: Callable[[Path], None] | None = None,
    config: dict = KILL_CONFIG,
    targets: tuple[str, ...] = (),
) -> Trial:
    """Start, SIGKILL the whole process group, rerun, compare with ``reference``.

    ``at = (k, s)``: kill ``s`` seconds after the k-th artifact appeared (a moment defined by
    progress, not by the clock, so it lands inside the run however loaded the machine is);
    ``None``: kill as soon as a mid-round checkpoint appears; a string: as soon as one
    whose path contains it appears. ``while_running(workdir)`` runs in a thread once the first
    run has taken its lock, and is joined after the kill. ``targets``: what both runs make
    (default: the whole workflow)."""
    t = Trial(index, at)
    prepare(workdir, config)
    log = open(workdir / "first-run.log", "w")  # noqa: SIM115 - closed below
    start = time.monotonic()
    proc = subprocess.Popen(
        _cmd(workdir, *targets),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(),
        start_new_session=True,
    )
    # ``while_running`` runs beside the polling below, not before it: a second snakemake can
    # take longer to start than the whole first run on a loaded machine, and the kill must
    # still land inside the first run.
    beside = None
    while while_running and proc.poll() is None:
        locks = workdir / ".snakemake" / "locks"
        if locks.is_dir() and any(locks.iterdir()):
            beside = threading.Thread(target=while_running, args=(workdir,))
            beside.start()
            break
        time.sleep(0.05)
    reached = None  # when the k-th artifact appeared
    while proc.poll() is None and time.monotonic() - start < 600:
        if at is None or isinstance(at, str):
            if any(at is None or at in c for c in checkpoints(workdir)):
                break
        else:
            k, s = at
            if reached is None and len(artifacts(workdir)) >= k:
                reached = time.monotonic()
            if reached is not None and time.monotonic() - reached >= s:
                break
        time.sleep(0.01)
    t.finished_before_kill = proc.poll() is not None
    t.complete_at_kill = stamps(workdir, finished_jobs(artifacts(workdir)))
    _kill_group(proc)
    log.close()
    if beside is not None:
        beside.join()  # before the unlock and rerun below, which it must not race
    t.killed_at = time.monotonic() - start
    t.checkpoints_at_kill = checkpoints(workdir)

    locks = workdir / ".snakemake" / "locks"
    if locks.is_dir() and any(locks.iterdir()):  # the stale lock of the killed run
        run(workdir, "--unlock")
        t.unlocked = True
    run(workdir, *targets, "--rerun-incomplete")
    after = stamps(workdir, t.complete_at_kill)
    t.recomputed = sorted(k for k, m in t.complete_at_kill.items() if after.get(k) != m)
    for ckpt in t.checkpoints_at_kill:
        train_log = (workdir / ckpt).with_name("train.log")
        if train_log.exists() and "resuming from checkpoint" in train_log.read_text():
            t.resumed.append(ckpt)
    t.diffs = differences(reference, workdir)
    return t


def reference_run(
    workdir: Path, config: dict = KILL_CONFIG, targets: tuple[str, ...] = ()
) -> float:
    prepare(workdir, config)
    start = time.monotonic()
    run(workdir, *targets)
    return time.monotonic() - start


def random_moment(rng: random.Random, n_artifacts: int) -> tuple[int, float]:
    """A seeded random kill moment: 0–3 s after 0 … n-2 artifacts were finished (the last one,
    the table, comes within a second of the one before: a kill there would often be too late)."""
    return rng.randrange(n_artifacts - 1), rng.uniform(0.0, 3.0)


def chaos(
    kills: int, seed: int = 0, base: Path | None = None, log=print, config: dict = KILL_CONFIG
) -> list[Trial]:
    """``kills`` trials at seeded random moments; the first one waits for a checkpoint."""
    base = Path(base or tempfile.mkdtemp(prefix="evotickets-chaos-"))
    reference = base / "reference"
    duration = reference_run(reference, config)
    n = len(artifacts(reference))
    log(f"reference run: {duration:.1f} s, {n} artifacts")
    rng = random.Random(seed)
    trials = []
    for i in range(kills):
        at = None if i == 0 else random_moment(rng, n)
        t = trial(reference, base / f"kill{i:02d}", i, at, config=config)
        trials.append(t)
        log(
            f"kill {i:2d} at {t.killed_at:5.1f} s "
            + (
                "(on the first checkpoint)"
                if at is None
                else f"({at[1]:.1f} s after {at[0]} artifacts)"
            )
            + f": {len(t.complete_at_kill)} artifacts complete, "
            f"{len(t.checkpoints_at_kill)} checkpoints left, {len(t.resumed)} resumed, "
            f"{len(t.recomputed)} recomputed, "
            + ("identical" if t.identical else f"DIFFERENT: {t.diffs[:3]}")
            + (", unlocked" if t.unlocked else "")
            + (", ENDED BEFORE THE KILL" if t.finished_before_kill else "")
            + (f"; recomputed: {', '.join(t.recomputed)}" if t.recomputed else "")
        )
    return trials


def summary(trials: list[Trial]) -> str:
    n = len(trials)
    same = sum(t.identical for t in trials)
    recomputed = sum(len(t.recomputed) for t in trials)
    finished = sum(len(t.complete_at_kill) for t in trials)
    ckpts = sum(len(t.checkpoints_at_kill) for t in trials)
    resumed = sum(len(t.resumed) for t in trials)
    landed = sum(not t.finished_before_kill for t in trials)
    return (
        f"{landed}/{n} kills landed while the workflow ran; "
        f"{same}/{n} reruns ended with bitwise identical artifacts; "
        f"{recomputed} of {finished} jobs finished before a kill were recomputed; "
        f"{ckpts} checkpoints survived a kill, {resumed} were resumed from"
    )


def problems(trials: list[Trial]) -> list[str]:
    """What makes the chaos run fail, as test_kill's checks: a rerun not bitwise the
    reference, a finished job recomputed, a kill that landed after the run had ended (it
    tested nothing), and for the first trial, which waits for a checkpoint, none left or one
    not resumed. Exit status 1 on any (it looked at the first alone)."""
    found = []
    for t in trials:
        if not t.identical:
            found.append(f"kill {t.index}: artifacts differ: {t.diffs[:3]}")
        if t.recomputed:
            found.append(f"kill {t.index}: finished jobs recomputed: {t.recomputed}")
        if t.finished_before_kill:
            found.append(f"kill {t.index}: the run ended before the kill; nothing was tested")
        if not t.unlocked:
            found.append(f"kill {t.index}: `snakemake --unlock` did not clear the killed lock")
    first = next((t for t in trials if t.at is None), None)
    if first is not None and not first.checkpoints_at_kill:
        found.append(f"kill {first.index}: no checkpoint was left by the killed round")
    elif first is not None and sorted(first.resumed) != sorted(first.checkpoints_at_kill):
        found.append(
            f"kill {first.index}: checkpoints {first.checkpoints_at_kill} survived, "
            f"{first.resumed} were resumed from"
        )
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the work folders")
    ap.add_argument(
        "--group-seeds",
        action="store_true",
        help="two seeds trained in one job per round (resources.group_chains: seeds)",
    )
    ap.add_argument(
        "--vmapped",
        action="store_true",
        help="with --group-seeds: the two seeds as one vmapped program "
        "(resources.group_program: vmapped)",
    )
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="evotickets-chaos-"))
    config = GROUPED_KILL_CONFIG if args.group_seeds else KILL_CONFIG
    if args.vmapped:
        if not args.group_seeds:
            ap.error("--vmapped needs --group-seeds (a program of several chains)")
        config = {**config, "resources": {**config["resources"], "group_program": "vmapped"}}
    try:
        trials = chaos(args.kills, args.seed, base, config=config)
        print(summary(trials))
        for problem in (found := problems(trials)):
            print(f"FAILED: {problem}")
        return 1 if found else 0
    finally:
        if args.keep:
            print(f"work folders kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
