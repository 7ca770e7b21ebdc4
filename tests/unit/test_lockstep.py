"""Several chains' rounds as one vmapped program (train.es.run_rounds_lockstep): each chain's
numbers equal its own run_round's bitwise here (the paper's five strategies and OpenES, whose
updates are written batch-invariant: evotickets/batch_invariant.py; 3 chains of the tiny
digits CNN at population 16, where the fitness is batch-invariant too, which other shapes
need not be: bench 9), with its own keys, masks, start, rewind point and checkpoint; a chain
resumed mid-round joins the others when it reaches them, and its numbers do not depend on
the chains it ran with."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from round_results import assert_same_round

from evotickets.checkpoint import Checkpointer
from evotickets.strategies import make_strategy
from evotickets.train.es import ChainStart, run_round, run_rounds_lockstep

G, EVERY = 6, 2
HP = {"population_size": 16, "std_init": 0.05}


@pytest.fixture(scope="module")
def setup(tiny_digits):
    task, _, theta0, prunable = tiny_digits
    rng, masks = np.random.default_rng(0), []
    for _ in range(3):  # three masks of equal D_active, as at one round of a group
        mask = np.ones(theta0.size, bool)
        mask[rng.choice(prunable, prunable.size // 3, replace=False)] = False
        masks.append(mask)
    starts = [theta0, theta0 * 1.1, theta0[::-1].copy()]  # a permuted start, as weight_permuted
    return task, [s * m for s, m in zip(starts, masks, strict=True)], masks


def _alone(task, strategy, theta0, mask, key, **kw):
    return run_round(task, strategy, theta0, mask, key, G, EVERY, log=lambda m: None, **kw)


@pytest.mark.parametrize("name", ["snes", "sep_cma_es", "pgpe", "des", "ars", "open_es"])
def test_lockstep_chains_equal_their_own_rounds(setup, name, jit_compiles):
    task, thetas, masks = setup
    strategy = make_strategy(name, int(masks[0].sum()), HP)
    keys = [jax.random.key(10 + i) for i in range(3)]
    lines: list[list[str]] = [[], [], []]
    starts = [
        ChainStart(t, m, k, lines[i].append, f"chain{i}", rewind_at=EVERY if i == 1 else None)
        for i, (t, m, k) in enumerate(zip(thetas, masks, keys, strict=True))
    ]
    with jax.log_compiles():
        together = run_rounds_lockstep(task, strategy, starts, G, EVERY)
    assert jit_compiles("run") == 1  # one program for the three chunks (es.strongly_typed)
    for i, res in enumerate(together):
        rewind = EVERY if i == 1 else None
        alone = _alone(task, strategy, thetas[i], masks[i], keys[i], rewind_at=rewind)
        assert_same_round(res, alone)
        assert np.all(res.theta[~masks[i]] == 0)
        assert [line.split()[2] for line in lines[i]] == ["2/6", "4/6", "6/6"]  # its own log
    np.testing.assert_array_equal(together[1].rewind_theta, _alone(
        task, strategy, thetas[1], masks[1], keys[1], rewind_at=EVERY).rewind_theta)  # fmt: skip
    assert together[0].rewind_theta is None
    assert not np.allclose(together[0].theta, together[2].theta)  # the chains differ


def test_lockstep_chains_in_the_gpu_fitness_form_equal_their_own_rounds(setup, monkeypatch):
    """What a GPU runs: the vmapped flax module as each chain's population forward pass
    (networks.population_form), inside the chains' vmapped program. Traced here on the CPU,
    each chain still trains what it trains alone in that form, to float tolerance."""
    from evotickets.tasks import vision

    traced: list[str] = []  # the form is chosen when a program is traced
    monkeypatch.setattr(
        vision, "population_form", lambda backend: traced.append(backend) or "vmapped"
    )
    task, thetas, masks = setup
    strategy = make_strategy("snes", int(masks[0].sum()), HP)
    keys = [jax.random.key(10 + i) for i in range(3)]
    starts = [ChainStart(t, m, k, lambda line: None, f"chain{i}")
              for i, (t, m, k) in enumerate(zip(thetas, masks, keys, strict=True))]  # fmt: skip
    together = run_rounds_lockstep(task, strategy, starts, G, EVERY)
    assert traced, "the group program was not traced with the patched form"
    traced.clear()
    for i, res in enumerate(together):
        alone = _alone(task, strategy, thetas[i], masks[i], keys[i])
        assert traced, "the one-chain program was not traced with the patched form"
        np.testing.assert_allclose(res.best_fitness, alone.best_fitness, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(res.theta, alone.theta, rtol=1e-3, atol=1e-5)
        assert np.all(res.theta[~masks[i]] == 0)


class Crash(Exception):
    """Stands in for the job being killed after a checkpoint."""


def test_a_resumed_chain_catches_up_and_joins_bitwise(setup, tmp_path):
    """Sep-CMA-ES (whose numbers would show a program change in the last bit). Chain 0 ran
    alone, a group of one, until its checkpoint at generation 4 and was killed; rerun beside
    a fresh chain 1, it waits while chain 1 runs alone to generation 4, then both advance
    together. Both equal an uninterrupted run of the two together, bitwise: a chain's
    numbers do not depend on the chains it shares the program with."""
    task, thetas, masks = setup
    strategy = make_strategy("sep_cma_es", int(masks[0].sum()), HP)
    keys = [jax.random.key(20), jax.random.key(21)]
    ckpt = Checkpointer(tmp_path / "c0.ckpt", "digest", every_generations=EVERY * 2)

    def killed(line: str) -> None:
        if " gen 4/" in line:
            raise Crash

    with pytest.raises(Crash):
        start = ChainStart(thetas[0], masks[0], keys[0], killed, "c0", checkpoint=ckpt)
        run_rounds_lockstep(task, strategy, [start], G, EVERY)
    assert ckpt.path.exists()
    order: list[str] = []
    starts = [
        ChainStart(thetas[0], masks[0], keys[0], order.append, "c0",
                   checkpoint=Checkpointer(ckpt.path, "digest", every_generations=0)),
        ChainStart(thetas[1], masks[1], keys[1], order.append, "c1"),
    ]  # fmt: skip
    # width 2, as a group job of two pads every call: chain 1 catching up alone runs padded
    resumed = run_rounds_lockstep(task, strategy, starts, G, EVERY, width=2)
    assert [line.split()[:3] for line in order] == [
        ["c1", "gen", "2/6"], ["c1", "gen", "4/6"], ["c0", "gen", "6/6"], ["c1", "gen", "6/6"],
    ]  # fmt: skip
    whole = run_rounds_lockstep(
        task, strategy, [ChainStart(t, m, k, lambda m: None, "") for t, m, k in
                         zip(thetas[:2], masks[:2], keys, strict=True)], G, EVERY, width=2,
    )  # fmt: skip
    for a, b in zip(resumed, whole, strict=True):
        assert_same_round(a, b)


def test_unequal_d_active_and_dynamic_chains_are_refused(setup):
    task, thetas, masks = setup
    strategy = make_strategy("snes", int(masks[0].sum()), HP)
    other = masks[0].copy()
    other[np.flatnonzero(other)[0]] = False
    starts = [
        ChainStart(thetas[0], masks[0], jax.random.key(0), print, "a"),
        ChainStart(thetas[0] * other, other, jax.random.key(0), print, "b"),
    ]
    with pytest.raises(ValueError, match="equal D_active"):
        run_rounds_lockstep(task, strategy, starts, G, EVERY)
    dynamic = ChainStart(thetas[0], masks[0], jax.random.key(0), print, "d", dynamic=object())
    with pytest.raises(ValueError, match="dynamic sparse ES"):
        run_rounds_lockstep(task, strategy, [starts[0], dynamic], G, EVERY)


def test_every_call_computes_width_chains_and_the_padding_is_dropped(setup, monkeypatch):
    """A group program padded to its width: each call computes ``width`` chains (so a
    chain's numbers depend on the width, not on how many chains are left to train, as
    after a kill), and the pad chains change nothing in the real ones (bitwise here: the
    digits CNN's numbers do not depend on the batch of chains)."""
    from evotickets.train import es

    task, thetas, masks = setup
    strategy = make_strategy("snes", int(masks[0].sum()), HP)
    widths: list[int] = []
    real = es._vmapped_chunk_runner

    def counting(*args):
        run = real(*args)

        def counted(states, round_keys, *rest):
            widths.append(round_keys.shape[0])
            return run(states, round_keys, *rest)

        return counted

    monkeypatch.setattr(es, "_vmapped_chunk_runner", counting)
    starts = [ChainStart(t, m, jax.random.key(30 + i), lambda m: None, f"c{i}")
              for i, (t, m) in enumerate(zip(thetas[:2], masks[:2], strict=True))]  # fmt: skip
    padded = run_rounds_lockstep(task, strategy, starts, G, EVERY, width=3)
    assert widths == [3] * (G // EVERY)
    plain = run_rounds_lockstep(task, strategy, starts, G, EVERY)
    assert widths[G // EVERY :] == [2] * (G // EVERY)
    for a, b in zip(padded, plain, strict=True):
        np.testing.assert_array_equal(a.theta, b.theta)
        np.testing.assert_array_equal(a.best_fitness, b.best_fitness)
        np.testing.assert_array_equal(a.eval_metric, b.eval_metric)
    assert not np.array_equal(padded[0].theta, padded[1].theta)


def test_rounds_train_in_one_program_only_with_the_same_generations_and_chunk(tiny_config):
    """Chains of one group train as one vmapped program only where they share the task
    object, the strategy and its settings, D_active, generations and chunk: two chains
    that differ only in log_every (the chunk, and with it the evaluations) must not."""
    from types import SimpleNamespace

    from evotickets.config import chain_settings, validate_config
    from evotickets.settings import ChainSettings
    from evotickets.train.trainers import lockstep_key

    task, mask = SimpleNamespace(table=None), np.ones(12, bool)

    def key(es=None, seed=0):
        cfg = validate_config({**tiny_config, "seeds": [0, 1], **({"es": es} if es else {})})
        s = ChainSettings.from_dict(chain_settings(cfg, "digits", "snes", "magnitude", seed))
        return lockstep_key(SimpleNamespace(settings=s, task=task, mask=mask))

    es = tiny_config["es"]
    base = key()
    assert key(seed=1) == base  # another seed: one program
    assert key({**es, "log_every": max(1, es["log_every"] // 2)}) != base
    assert key({**es, "num_generations": es["num_generations"] * 2}) != base
