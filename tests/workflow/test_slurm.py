"""The SLURM profiles on a real (single-node) SLURM cluster: every rule is submitted with sbatch
and polled through the cluster, the artifacts equal those of a local run array for array, the
chain-grouped profile submits one job per chain, and a failing rule is reported FAILED through
SLURM instead of being waited on.

Needs a running cluster (`ci/slurm-up.sh`). Without `sbatch` the tests skip, unless
EVOTICKETS_REQUIRE_SLURM=1 (set by .ci/run), which turns the skip into a failure.

The CI cluster has no accounting database, so `sacct` cannot see finished jobs: the runs use
`--slurm-status-command squeue`, as a researcher's local cluster must; a real cluster keeps the
profile's default (`sacct`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import _CACHE, ROOT, TINY_CONFIG
from workflow_helpers import assert_same, local_env, snakemake_cmd, write_config

from evotickets import paths

BIN = str(Path(sys.executable).parent)
REQUIRED = os.environ.get("EVOTICKETS_REQUIRE_SLURM") == "1"
SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+)")

# One seed, one chain of two rounds: init, 2 × train (each round's mask and training), table
# = 4 SLURM jobs.
CONFIG = {
    **TINY_CONFIG,
    "seeds": [0],
    "rounds": 2,
    "methods": ["magnitude"],
    "es": {"num_generations": 10, "log_every": 5},
}
JOBS = {"init": 1, "train": 2, "accuracy_table": 1}
# Request the chain and the table explicitly: `all` would add collect and the 11 figure rules.
TABLE = paths.experiment_file("accuracy_table.txt", "tiny")
TARGETS = (paths.round_file("trained.h5", "tiny", "digits", "snes", "magnitude", 0, 1), TABLE)
# The same chain through the group rule of `seeds_and_methods` (train_pairs_digits_snes).
GROUPED_CONFIG = {
    **CONFIG,
    "resources": {**CONFIG["resources"], "group_chains": "seeds_and_methods"},
}


def _round0(file: str) -> str:
    return paths.round_file(file, "tiny", "digits", "snes", "magnitude", 0, 0)


def _cluster_state() -> str | None:
    """None if a node is up and usable, else why not."""
    if shutil.which("sbatch") is None:
        return "sbatch is not installed (run ci/slurm-up.sh)"
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], check=False, capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"sinfo failed: {err}"
    states = out.stdout.split()
    if out.returncode or not any(s in ("idle", "mix", "alloc") for s in states):
        return f"no usable SLURM node (sinfo: {out.stdout.strip()} {out.stderr.strip()})"
    return None


@pytest.fixture(scope="module")
def cluster():
    why = _cluster_state()
    if why:
        if REQUIRED:
            pytest.fail(f"EVOTICKETS_REQUIRE_SLURM=1 but {why}")
        pytest.skip(why)


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}


def _snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return snakemake_cmd(workdir, *args, cores=None)


def _slurm_cmd(workdir: Path, profile: str, *args: str) -> list[str]:
    return _snakemake_cmd(
        workdir,
        "--profile",
        str(ROOT / "profiles" / profile),
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        *args,
    )


def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env()
    )


def _finish(proc: subprocess.Popen, timeout: float = 400) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"snakemake did not finish within {timeout} s:\n{out[-4000:]}")
    return out


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """Four runs of the same config side by side: local, SLURM per rule, SLURM per chain,
    and SLURM per chain with the chains grouped (resources.group_chains); plus a fifth
    workdir whose init.h5 is garbage, so that its first round's job fails on SLURM (in its
    `evotickets mask` step)."""
    names = ("local", "slurm", "chain", "grouped", "failing")
    dirs = {k: tmp_path_factory.mktemp(k) for k in names}
    for d in dirs.values():
        write_config(d, CONFIG, _CACHE)
    write_config(dirs["grouped"], GROUPED_CONFIG, _CACHE)
    bad_init = dirs["failing"] / paths.init(exp="tiny", task="digits", seed=0)
    bad_init.parent.mkdir(parents=True)
    bad_init.write_bytes(b"not an HDF5 file\n" * 64)
    target = _round0("mask.h5")
    procs = {
        "slurm": _start(_slurm_cmd(dirs["slurm"], "slurm", *TARGETS)),
        "chain": _start(_slurm_cmd(dirs["chain"], "slurm-chain", *TARGETS)),
        "grouped": _start(_slurm_cmd(dirs["grouped"], "slurm-chain", *TARGETS)),
        "failing": _start(_slurm_cmd(dirs["failing"], "slurm", "--retries", "0", target)),
    }
    local = subprocess.run(
        _snakemake_cmd(dirs["local"], "--profile", str(ROOT / "profiles" / "local"), *TARGETS),
        check=False,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    out, rc = {}, {}
    for name, proc in procs.items():
        out[name] = _finish(proc)
        rc[name] = proc.returncode
    return dirs, out, rc


def _artifacts(workdir: Path) -> list[str]:
    return sorted(str(p.relative_to(workdir)) for p in (workdir / paths.RESULTS).rglob("*.h5"))


def test_every_rule_went_through_sbatch(runs):
    dirs, out, rc = runs
    assert rc["slurm"] == 0, out["slurm"][-4000:]
    ids = SUBMITTED.findall(out["slurm"])
    assert len(ids) == sum(JOBS.values()), out["slurm"][-4000:]
    assert len({jid for _, jid in ids}) == len(ids)  # distinct SLURM job ids
    # no local fallback: with explicit targets there is no `all` rule, so nothing runs locally
    assert re.findall(r"^localrule (\w+):", out["slurm"], re.MULTILINE) == []
    logs = dirs["slurm"] / ".snakemake" / "slurm_logs"
    for rule, count in JOBS.items():  # and SLURM wrote each job's log under its job id
        assert len(list((logs / f"rule_{rule}").rglob("*.log"))) == count, rule
    print("SLURM job ids:", " ".join(jid for _, jid in ids))


def test_slurm_artifacts_equal_local_ones(runs):
    dirs, out, rc = runs
    assert rc["slurm"] == 0, out["slurm"][-4000:]
    names = _artifacts(dirs["local"])
    assert len(names) == 1 + 2 * 2  # init, 2 × (mask, trained): each round's job makes two
    assert _artifacts(dirs["slurm"]) == names
    for name in names:  # array for array, attr for attr (all but `created`)
        assert_same(dirs["local"] / name, dirs["slurm"] / name)
    local_table = (dirs["local"] / TABLE).read_text()
    assert (dirs["slurm"] / TABLE).read_text() == local_table


def test_chain_profile_submits_one_job_per_chain(runs):
    dirs, out, rc = runs
    assert rc["chain"] == 0, out["chain"][-4000:]
    ids = SUBMITTED.findall(out["chain"])
    assert len(ids) == 3, out["chain"][-4000:]  # init, the chain (2 rounds), table
    assert "group_chain_tiny_digits_snes_magnitude_seed0" in out["chain"]
    for name in _artifacts(dirs["local"]):
        assert_same(dirs["local"] / name, dirs["chain"] / name)


def test_failing_rule_is_reported_failed_through_slurm(runs):
    dirs, out, rc = runs
    text = out["failing"]
    assert rc["failing"] != 0, text[-4000:]
    (jid,) = [j for _, j in SUBMITTED.findall(text)]
    assert re.search(rf"SLURM-job '{jid}' failed, SLURM status is: 'FAILED'", text), text[-4000:]
    log = (dirs["failing"] / _round0("mask.log")).read_text()
    assert "unreadable artifact" in log and "rule `init`" in log
    for name in ("mask.h5", "trained.h5"):  # neither output of the failed round's job
        assert not (dirs["failing"] / _round0(name)).exists()


# --- `--profile slurm` by name, from the repository root (no cluster needed) --------------------


def _resolve_profile(name: str, xdg: Path) -> Path:
    """The profile file Snakemake picks for ``--profile name`` run from the repository root,
    with ``xdg`` as the user's config home (a fresh process: Snakemake caches its dirs). It
    asks no cluster, so `scontrol` fails at once: importing snakemake.cli loads the SLURM
    plugin, which waited 9 s on it where SLURM is installed and not up."""
    code = (
        "import sys; from snakemake.cli import get_profile_dir; "
        "e = get_profile_dir(sys.argv[1]); print(e[1].resolve() if e else 'NONE')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, name],
        cwd=ROOT,
        env=local_env(os.environ["PATH"], XDG_CONFIG_HOME=str(xdg)),
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def test_profile_slurm_by_name_is_ours_even_beside_a_user_profile(tmp_path):
    """`snakemake --profile slurm`, as the README types it, finds profiles/slurm from the
    repository root (the `slurm` link there: Snakemake looks in the working directory first).
    A user's own `slurm` profile is left alone and stays usable by its path."""
    ours = (ROOT / "profiles" / "slurm" / "config.yaml").resolve()
    assert _resolve_profile("slurm", tmp_path / "empty") == ours
    assert _resolve_profile("profiles/slurm", tmp_path / "empty") == ours
    theirs = tmp_path / "xdg" / "snakemake" / "slurm" / "config.yaml"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("not-a-snakemake-option: 1\n")
    assert _resolve_profile("slurm", tmp_path / "xdg") == ours
    assert _resolve_profile(str(theirs.parent), tmp_path / "xdg") == theirs.resolve()
    assert theirs.read_text() == "not-a-snakemake-option: 1\n"
    # and a real dry run with it, as typed (theirs would fail on its unknown option)
    write_config(tmp_path / "work", CONFIG, _CACHE)
    proc = subprocess.run(
        [str(Path(BIN) / "snakemake"), "--profile", "slurm", "-n", *TARGETS]
        + ["--directory", str(tmp_path / "work")]
        + ["--configfile", str(tmp_path / "work" / "config" / "config.yaml")],
        cwd=ROOT,
        env={**_env(), "XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "train" in proc.stdout + proc.stderr


def test_chain_profile_submits_one_job_per_group_of_chains(runs):
    """With resources.group_chains the chain profile makes every round of a group of chains
    one SLURM job (common.smk, chain_job_group), with the artifacts of a local run."""
    dirs, out, rc = runs
    assert rc["grouped"] == 0, out["grouped"][-4000:]
    ids = SUBMITTED.findall(out["grouped"])
    assert len(ids) == 3, out["grouped"][-4000:]  # init, the group's 2 rounds, table
    assert "group_chains_tiny_digits_snes" in out["grouped"]
    for name in _artifacts(dirs["local"]):
        assert_same(dirs["local"] / name, dirs["grouped"] / name)
