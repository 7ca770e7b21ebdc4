"""`make chaos`'s exit status: what tests/chaos.py counts as a failed kill."""

from chaos import Trial, problems


def test_chaos_fails_on_each_thing_test_kill_checks_not_on_identical_artifacts_alone():
    """It returned 0 when every rerun was identical, though a kill after the run had ended,
    a recomputed job or a checkpoint not resumed were only printed."""
    ckpt = "results/x/iter00/trained.ckpt.h5"
    good = [
        Trial(0, None, checkpoints_at_kill=[ckpt], resumed=[ckpt], unlocked=True),
        Trial(1, (3, 0.5), unlocked=True),
    ]
    assert problems(good) == []
    bad = [
        Trial(0, None, unlocked=True),  # no checkpoint ever appeared: the kill hit a finished run
        Trial(1, (3, 0.5), finished_before_kill=True, unlocked=True),
        Trial(2, (4, 0.1), recomputed=["results/x/iter00/mask.h5"], unlocked=True),
        Trial(3, (5, 0.2), diffs=["results/x/iter01/trained.h5"], unlocked=True),
        Trial(4, (6, 0.3)),  # its lock left in place
    ]
    found = problems(bad)
    assert len(found) == 5, found
    assert any("kill 4: `snakemake --unlock` did not clear" in p for p in found)
    assert "kill 0: no checkpoint was left" in found[-1]
    assert any("kill 1: the run ended before the kill" in p for p in found)
    assert any("kill 2: finished jobs recomputed" in p for p in found)
    assert any("kill 3: artifacts differ" in p for p in found)
    unresumed = [Trial(0, None, checkpoints_at_kill=[ckpt], unlocked=True)]
    assert "were resumed from" in problems(unresumed)[0]
