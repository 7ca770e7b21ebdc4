"""SIGKILL the whole Snakemake process group at a seeded random moment, rerun, and get exactly
the artifacts of an uninterrupted run, recomputing nothing that was finished. One kill waits
for the first mid-round checkpoint, to prove that the checkpoint survives Snakemake's cleanup of
the killed job and that the rerun resumes from it. These runs make the rounds and the table;
`make chaos` runs 20 such kills of the whole workflow."""

from __future__ import annotations

import random

import pytest
from chaos import (
    GROUPED_KILL_CONFIG,
    KILL_CONFIG,
    artifacts,
    random_moment,
    reference_run,
    second_instance,
    trial,
)

from evotickets import paths

#: What the runs of the two tests below make: the rounds and the table. The jobs after them
#: (analyses, figures, report) are killed at random by `make chaos` (20 kills of the whole
#: workflow); here they would double the tests' time.
TABLE = (paths.experiment_file("accuracy_table.txt", KILL_CONFIG["experiment"]),)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    ref = tmp_path_factory.mktemp("reference")
    duration = reference_run(ref, targets=TABLE)
    return ref, duration


def _check(t) -> None:
    assert not t.finished_before_kill, "the run ended before the kill; nothing was tested"
    assert t.unlocked  # the killed run left its lock; `snakemake --unlock` cleared it
    assert t.identical, t.diffs
    assert t.recomputed == [], f"finished jobs recomputed: {t.recomputed}"


def test_kill_on_a_checkpoint_resumes_from_it(reference, tmp_path):
    ref, _ = reference
    t = trial(ref, tmp_path / "run", 0, at=None, targets=TABLE)
    _check(t)
    assert t.checkpoints_at_kill, "no checkpoint was left by the killed round"
    assert t.resumed == t.checkpoints_at_kill  # every surviving checkpoint was resumed from
    assert not any(k.endswith(".ckpt.h5") for k in artifacts(tmp_path / "run"))
    assert not list((tmp_path / "run" / paths.RESULTS).rglob("*.ckpt.h5"))  # removed at the end


def test_kill_at_a_random_moment(reference, tmp_path):
    """Also: a second snakemake on the same folder, while the first runs, is refused with one
    of the two errors the README explains, and the first run is not disturbed."""
    ref, _ = reference
    at = random_moment(random.Random(5), len(artifacts(ref)))
    second = []
    t = trial(ref, tmp_path / "run", 1, at, while_running=lambda d: second.append(
        second_instance(d)
    ), targets=TABLE)  # fmt: skip
    _check(t)
    (proc,) = second
    assert proc.returncode != 0
    # Which of its two refusals Snakemake gives depends on whether the first run has already
    # started a job (whose outputs it marks incomplete) when the second one checks; the README
    # explains both.
    out = proc.stdout + proc.stderr
    assert "Directory cannot be locked" in out or "Incomplete files" in out


def test_a_killed_seeds_job_keeps_its_finished_seed_and_resumes_the_other(tmp_path):
    """resources.group_chains: seeds. Killed while the second seed of a round's job trains
    (its first checkpoint): the rerun keeps the first seed's finished round (Snakemake does
    not delete it, the verb does not recompute it), resumes the second from its checkpoint,
    and ends with the artifacts of an uninterrupted grouped run."""
    # the rounds and the table only: the figures and analyses after them are the same jobs
    # as in the tests above, and would double this test's time
    targets = (paths.experiment_file("accuracy_table.txt", GROUPED_KILL_CONFIG["experiment"]),)
    ref = tmp_path / "reference"
    reference_run(ref, GROUPED_KILL_CONFIG, targets)
    t = trial(ref, tmp_path / "run", 0, "/seed1/", config=GROUPED_KILL_CONFIG, targets=targets)
    _check(t)
    seed0_done = [k for k in t.complete_at_kill if "/seed0/iter" in k and "trained" in k]
    assert seed0_done, "the first seed of the killed job had not finished: nothing was tested"
    assert t.resumed == t.checkpoints_at_kill and t.checkpoints_at_kill
    kept = [
        p
        for p in (tmp_path / "run" / paths.RESULTS).rglob("train.log")
        if "finished by an earlier run" in p.read_text()
    ]
    assert kept, "the rerun did not say it kept a finished seed"
