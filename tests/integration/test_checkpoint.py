"""Mid-round checkpoints: a round interrupted after a checkpoint and resumed gives bitwise the
same θ_G, σ_G and curves as an uninterrupted one; a bad checkpoint is ignored, never fatal; the
file is plain HDF5 by tree path; the CLI removes it once the artifact is complete."""

from __future__ import annotations

import json

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY_CONFIG
from round_results import assert_same_round

from evotickets import checkpoint as ck
from evotickets import cli
from evotickets.config import chain_settings, validate_config
from evotickets.networks import layer_table, prunable_vector, to_vector
from evotickets.strategies import make_strategy
from evotickets.tasks import make_task
from evotickets.train.es import run_round

G, EVERY = 12, 3
HP = {
    "snes": {"population_size": 16, "std_init": 0.05, "temperature": 12.0},
    "sep_cma_es": {"population_size": 16, "std_init": 0.05, "elite_ratio": 0.5},
    "pgpe": {"population_size": 16, "std_init": 0.05, "lr": 0.01, "std_decay": 0.99},
}


class Crash(Exception):
    """Stands in for the job being killed right after a checkpoint was written."""


@pytest.fixture(scope="module")
def setup(tiny_digits):
    task, _, theta0, prunable = tiny_digits
    mask = np.ones(theta0.size, bool)
    mask[prunable[::3]] = False
    return task, theta0 * mask, mask


def _round(setup, name, checkpoint=None):
    task, theta0, mask = setup
    s = make_strategy(name, int(mask.sum()), HP[name])
    return run_round(
        task, s, theta0, mask, jax.random.key(7), G, EVERY, log=lambda m: None,
        checkpoint=checkpoint,
    )  # fmt: skip


_REFERENCE: dict[str, object] = {}


def _reference(setup, name):
    """The uninterrupted round, computed once per strategy."""
    if name not in _REFERENCE:
        _REFERENCE[name] = _round(setup, name)
    return _REFERENCE[name]


def _crashing_log(at: int, messages: list[str]):
    def log(msg: str) -> None:
        messages.append(msg)
        if msg.startswith("checkpoint ") and msg.endswith(f"generation {at}"):
            raise Crash(msg)

    return log


@pytest.mark.parametrize("name", ["snes", "sep_cma_es", "pgpe"])
def test_resumed_round_is_bitwise_identical(setup, tmp_path, name):
    reference = _reference(setup, name)
    path = tmp_path / "trained.ckpt.h5"
    messages: list[str] = []
    first = ck.Checkpointer(path, "d1", every_generations=EVERY, log=_crashing_log(6, messages))
    with pytest.raises(Crash):
        _round(setup, name, first)
    assert path.exists() and first.saves == 2  # generations 3 and 6
    with h5py.File(path) as f:  # plain HDF5, leaves by tree path, nothing pickled
        assert f.attrs["generation"] == 6
        names = [str(n) for n in f.attrs["leaves"]]
        assert "0/mean" in names  # (strategy state, task state), leaves by tree path
        assert f["state/0/mean"].dtype == np.float32
        assert f["curves/best_fitness"].shape == (6,)
        datasets = []
        f.visititems(lambda n, o: datasets.append(o) if isinstance(o, h5py.Dataset) else None)
        assert all(d.dtype.kind in "fiub" for d in datasets if not d.name.startswith("/x"))
    if name == "pgpe":
        assert "0/opt_state/0/mu" in names

    messages.clear()
    second = ck.Checkpointer(path, "d1", every_generations=EVERY, log=messages.append)
    resumed = _round(setup, name, second)
    assert any(m.startswith("resuming from checkpoint") and "generation 6" in m for m in messages)
    assert second.saves == 1  # generation 9 only: the remaining work, not a restart
    assert_same_round(reference, resumed)
    _assert_metric_is_the_test_sets(setup[0], reference)  # of its final search mean


def _assert_metric_is_the_test_sets(task, result) -> None:
    """A round's metric is its final θ's on the test set, not the training set."""
    theta, state = jnp.asarray(result.theta), task.init_state()
    test = float(task.evaluate(theta, task.test_data, state))
    assert result.final_metric == pytest.approx(test, abs=1e-6)
    assert test != pytest.approx(float(task.evaluate(theta, task.train_data, state)))


def _corrupt_truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _corrupt_garbage(path):
    path.write_bytes(b"\x00garbage" * 100)


def _corrupt_leaf_shape(path):
    with h5py.File(path, "r+") as f:
        del f["state/0/mean"]
        f["state/0/mean"] = np.zeros(3, np.float32)


def _corrupt_generation(path):
    with h5py.File(path, "r+") as f:
        f.attrs["generation"] = 5  # not a chunk boundary


def _corrupt_curves(path):
    with h5py.File(path, "r+") as f:
        del f["curves/best_fitness"]
        f["curves/best_fitness"] = np.zeros(2, np.float32)


def _corrupt_missing_leaf(path):
    with h5py.File(path, "r+") as f:
        del f["state/0/std"]


def _corrupt_scalar_leaf(path):
    """One bit of SNES's scalar lr_std flipped, as a damaged disk might: scalars carry no
    Fletcher-32 checksum (HDF5 cannot chunk them), and this resumed as another state."""
    with h5py.File(path, "r+") as f:
        value = f["state/0/lr_std"][()]
        assert np.ndim(value) == 0
        f["state/0/lr_std"][()] = np.float32(value) * np.float32(0.25)


def _corrupt_leaf_dtype(path):
    """The right shape in float64: a state leaf of another precision would resume as other
    numbers (JAX would compute the round's rest in float64 or cast it back)."""
    with h5py.File(path, "r+") as f:
        mean = f["state/0/mean"][()]
        del f["state/0/mean"]
        f["state/0/mean"] = mean.astype(np.float64)


def _corrupt_eval_generations(path):
    """The right length, other generations: evaluations at 3 and 7 are not this chunking's."""
    with h5py.File(path, "r+") as f:
        del f["curves/eval_generation"]
        f["curves/eval_generation"] = np.array([3, 7], np.int64)


def _corrupt_machines(path):
    with h5py.File(path, "r+") as f:
        f.attrs["machines"] = json.dumps([1, 2])


@pytest.mark.parametrize(
    ("corrupt", "digest", "reason"),
    [
        (_corrupt_truncate, "d1", "ignoring checkpoint"),
        (_corrupt_garbage, "d1", "ignoring checkpoint"),
        (None, "other-round", "another round"),
        (_corrupt_leaf_shape, "d1", "state leaf 0/mean"),
        (_corrupt_generation, "d1", "chunk boundary"),
        (_corrupt_curves, "d1", "curves/best_fitness"),
        (_corrupt_missing_leaf, "d1", "ignoring checkpoint"),
        (_corrupt_machines, "d1", "attribute machines"),
        (_corrupt_scalar_leaf, "d1", "do not match their recorded digest"),
        (_corrupt_leaf_dtype, "d1", "state leaf 0/mean has float64"),
        (_corrupt_eval_generations, "d1", "eval_generation does not match the chunking"),
    ],
    ids=["truncated", "not-hdf5", "other-digest", "leaf-shape", "generation", "curves"]
    + ["leaf", "machines", "scalar", "leaf-dtype", "eval-generations"],
)
def test_bad_checkpoint_is_ignored_with_a_log_line(setup, tmp_path, corrupt, digest, reason):
    reference = _reference(setup, "snes")
    path = tmp_path / "trained.ckpt.h5"
    with pytest.raises(Crash):
        _round(setup, "snes", ck.Checkpointer(path, "d1", EVERY, log=_crashing_log(6, [])))
    if corrupt:
        corrupt(path)
    messages: list[str] = []
    again = ck.Checkpointer(path, digest, every_generations=0, log=messages.append)
    assert_same_round(reference, _round(setup, "snes", again))
    assert any(m.startswith("ignoring checkpoint") and reason in m for m in messages), messages
    assert not any(m.startswith("resuming") for m in messages)


def test_a_resume_on_another_machine_is_logged_and_both_are_recorded(setup, tmp_path,
                                                                    monkeypatch):  # fmt: skip
    # a requeued job may land on other hardware: the round goes on from the same state, and
    # its trained_on names both machines (its last bits may be neither's alone)
    reference = _reference(setup, "snes")
    path = tmp_path / "trained.ckpt.h5"
    monkeypatch.setattr(ck, "trained_on", lambda: "cpu ×1; machine A")
    first = ck.Checkpointer(path, "d1", every_generations=EVERY, log=_crashing_log(6, []))
    with pytest.raises(Crash):
        _round(setup, "snes", first)
    with h5py.File(path) as f:
        assert json.loads(f.attrs["machines"]) == [["cpu ×1; machine A", 0]]

    monkeypatch.setattr(ck, "trained_on", lambda: "cpu ×1; machine B")
    messages: list[str] = []
    second = ck.Checkpointer(path, "d1", every_generations=EVERY, log=messages.append)
    assert_same_round(reference, _round(setup, "snes", second))  # here both "machines" are this one
    assert any(m.startswith("resuming on another machine") and "machine A" in m
               and "machine B" in m for m in messages), messages  # fmt: skip
    assert second.trained_on() == (
        "cpu ×1; machine A (from generation 0); then cpu ×1; machine B (from generation 6)"
    )
    with h5py.File(path) as f:  # generation 9's checkpoint carries both on
        assert json.loads(f.attrs["machines"]) == [
            ["cpu ×1; machine A", 0], ["cpu ×1; machine B", 6]
        ]  # fmt: skip

    # resumed where it started: one machine, no warning
    monkeypatch.setattr(ck, "trained_on", lambda: "cpu ×1; machine A")
    path.unlink()
    with pytest.raises(Crash):
        _round(setup, "snes", ck.Checkpointer(path, "d1", EVERY, log=_crashing_log(6, [])))
    messages.clear()
    third = ck.Checkpointer(path, "d1", every_generations=EVERY, log=messages.append)
    _round(setup, "snes", third)
    assert third.trained_on() == "cpu ×1; machine A"
    assert not any("another machine" in m for m in messages)


def test_time_based_cadence():
    now = [0.0]
    c = ck.Checkpointer("x.h5", "d", every_seconds=120, clock=lambda: now[0])
    assert not c.due(10, 100)
    now[0] = 119.0
    assert not c.due(20, 100)
    now[0] = 120.5
    assert c.due(30, 100)
    assert not c.due(100, 100)  # never after the last generation: the artifact follows
    assert not ck.Checkpointer("x.h5", "d", every_generations=0).due(50, 100)
    g = ck.Checkpointer("x.h5", "d", every_generations=40)
    assert not g.due(30, 100) and g.due(40, 100)


def test_cadence_from_env(monkeypatch):
    monkeypatch.delenv(ck.EVERY_GENERATIONS_ENV, raising=False)
    monkeypatch.delenv(ck.EVERY_SECONDS_ENV, raising=False)
    assert ck.cadence_from_env() == (None, 120.0)
    monkeypatch.setenv(ck.EVERY_GENERATIONS_ENV, "50")
    monkeypatch.setenv(ck.EVERY_SECONDS_ENV, "30")
    assert ck.cadence_from_env() == (50, 30.0)
    assert ck.cadence_from_env(7, 2.0) == (7, 2.0)
    with pytest.raises(ValueError, match="≥ 1, or 0 to disable"):
        ck.cadence_from_env(-1)
    # a bad value in the environment names the variable, not int()'s own complaint
    for value in ("ten", "-3", "2.5"):
        monkeypatch.setenv(ck.EVERY_GENERATIONS_ENV, value)
        with pytest.raises(ValueError, match=f"EVOTICKETS_CHECKPOINT_EVERY='{value}'"):
            ck.cadence_from_env()
    monkeypatch.setenv(ck.EVERY_GENERATIONS_ENV, "50")
    monkeypatch.setenv(ck.EVERY_SECONDS_ENV, "0")
    with pytest.raises(ValueError, match="EVOTICKETS_CHECKPOINT_SECONDS='0'"):
        ck.cadence_from_env()
    # `--checkpoint-seconds nan` passed the "≤ 0" check, and the round never checkpointed
    for seconds in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="use a positive number of seconds"):
            ck.cadence_from_env(50, seconds)
    monkeypatch.setenv(ck.EVERY_SECONDS_ENV, "inf")
    with pytest.raises(ValueError, match="EVOTICKETS_CHECKPOINT_SECONDS='inf'"):
        ck.cadence_from_env()


def test_checkpoint_path_is_beside_the_output(tmp_path):
    out = tmp_path / "iter03" / "trained.h5"
    assert ck.checkpoint_path(out) == tmp_path / "iter03" / "trained.ckpt.h5"


def test_cli_resumes_and_removes_the_checkpoint(tmp_path, monkeypatch, capsys):
    cfg = validate_config(dict(TINY_CONFIG, es={"num_generations": 12, "log_every": 3}))
    settings = json.dumps(chain_settings(cfg, "digits", "snes", "magnitude", 0))
    init = {"task": "digits", "network": "cnn_small", "prune_output_layer": True, "seed": 0}
    p = {k: tmp_path / f"{k}.h5" for k in ("init", "mask")}
    assert cli.main(["init", "--settings", json.dumps(init), "--out", str(p["init"])]) == 0
    argv = ["--settings", settings, "--round", "0", "--init", str(p["init"])]
    assert cli.main(["mask", *argv, "--out", str(p["mask"])]) == 0

    def train(out, *extra):
        return cli.main(["train", *argv, "--mask", str(p["mask"]), "--out", str(out), *extra])

    assert train(tmp_path / "ref" / "trained.h5", "--checkpoint-every", "0") == 0
    out = tmp_path / "run" / "trained.h5"
    saves = []
    real_save = ck.Checkpointer.save

    def save_then_die(self, state, generation, curves):
        real_save(self, state, generation, curves)
        saves.append(generation)
        if generation == 6:
            raise Crash("killed")

    monkeypatch.setattr(ck.Checkpointer, "save", save_then_die)
    with pytest.raises(Crash):
        train(out, "--checkpoint-every", "3")
    assert saves == [3, 6]
    assert ck.checkpoint_path(out).exists() and not out.exists()
    capsys.readouterr()
    # the finished round's write fails (a full disk): the checkpoint stays, so the rerun
    # resumes (removing it before the write passed every test, and a rerun restarted)
    import errno

    from evotickets import rounds

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(rounds, "write_artifact", full_disk)
        with pytest.raises(OSError, match="No space left"):
            train(out, "--checkpoint-every", "3")
    assert "generation 6" in capsys.readouterr().out and saves == [3, 6, 9]
    assert ck.checkpoint_path(out).exists() and not out.exists()
    assert train(out, "--checkpoint-every", "3") == 0
    log = capsys.readouterr().out
    assert "resuming from checkpoint" in log and "generation 9" in log
    assert saves == [3, 6, 9]
    assert not ck.checkpoint_path(out).exists()  # removed once the artifact is complete
    assert sorted(x.name for x in out.parent.iterdir()) == ["trained.h5"]
    from workflow_helpers import assert_same

    assert_same(tmp_path / "ref" / "trained.h5", out)


def test_a_checkpoint_of_other_software_is_not_resumed(monkeypatch, tmp_path):
    """A round resumed across a change of evotickets' code or of a numeric library would be
    half of each: the round's checkpoint digest covers both (checkpoint.software_fingerprint)."""
    fingerprint = ck.software_fingerprint()
    assert any(v.startswith("evotickets-source=") for v in fingerprint)
    assert {v.split("=")[0] for v in fingerprint} >= {"jax", "jaxlib", "evosax", "optax", "flax"}

    def digest():
        return ck.for_round(
            tmp_path / "trained.h5", chain_digest="c", round_index=1, strategy="snes",
            mask=np.ones(4, bool), theta0=np.zeros(4), num_generations=6, log_every=3,
        ).digest  # fmt: skip

    before = digest()
    monkeypatch.setattr(ck, "software_fingerprint", lambda: (*fingerprint[:-1], "edited"))
    assert digest() != before
    # the GPU's own libraries and XLA's flags count too (pip upgrades cuDNN apart from jax)
    names = {v.split("=")[0] for v in fingerprint}
    assert {"nvidia-cudnn-cu12", "nvidia-cublas-cu12", "XLA_FLAGS"} <= names
    assert "jax_default_matmul_precision" in names


def test_a_rounds_checkpoint_digest_covers_what_its_numbers_depend_on(tmp_path):
    """A rerun whose mask moved (same count), whose start on the kept weights changed, whose
    chunk (log_every) or whose group program's width differs computes other numbers: each
    gets another checkpoint digest, so it never resumes the old state. θ0 on pruned weights
    does not enter the round, so it leaves the digest alone."""
    mask = np.array([True, True, False, False])
    theta0 = np.array([0.1, 0.2, 0.1, 0.2])  # the moved mask keeps the same start values

    def digest(mask=mask, theta0=theta0, log_every=3, width=None):
        c = ck.for_round(
            tmp_path / "trained.h5", chain_digest="c", round_index=1, strategy="snes",
            mask=mask, theta0=theta0, num_generations=6, log_every=log_every,
        )  # fmt: skip
        if width is not None:
            c.for_program("vmapped", width)
        return c.digest

    base = digest()
    others = {
        "mask moved": digest(mask=mask[::-1].copy()),
        "start on a kept weight": digest(theta0=theta0 + np.array([0.5, 0, 0, 0])),
        "chunk": digest(log_every=2),
        "vmapped of 2": digest(width=2),
        "vmapped of 3": digest(width=3),
    }
    assert base not in others.values()
    assert len(set(others.values())) == len(others), others
    assert digest(theta0=theta0 + np.array([0, 0, 0.5, 0.5])) == base  # pruned weights
    assert digest(mask=mask[::-1].copy()) != digest(mask=mask[::-1].copy(), theta0=theta0 + 1)


def test_a_split_over_host_devices_is_named_as_such_not_as_other_xla_flags(monkeypatch):
    """A round checkpointed under EVOTICKETS_CPU_DEVICES=2 and rerun on one device was
    refused as written by other software (XLA_FLAGS: the pass the split adds); it is the
    split that differs (not bitwise across it on brax tasks), and the refusal says so."""
    from evotickets.platform import skip_spmd_cleanup

    def fingerprint(devices: str, flags: str) -> dict:
        monkeypatch.setenv("EVOTICKETS_CPU_DEVICES", devices)
        monkeypatch.setenv("XLA_FLAGS", flags)
        ck.software_fingerprint.cache_clear()
        try:
            return dict(v.split("=", 1) for v in ck.software_fingerprint())
        finally:
            ck.software_fingerprint.cache_clear()

    user = "--xla_cpu_prefer_vector_width=256"
    one, two = fingerprint("1", user), fingerprint("2", skip_spmd_cleanup(user))
    assert {k for k in one if one[k] != two[k]} == {"EVOTICKETS_CPU_DEVICES"}
    changes = ck.software_changes(json.dumps([f"{k}={v}" for k, v in two.items()]),
                                  tuple(f"{k}={v}" for k, v in one.items()))  # fmt: skip
    assert changes == ["EVOTICKETS_CPU_DEVICES: 2 → 1"]
    assert fingerprint("1", "--xla_cpu_prefer_vector_width=512")["XLA_FLAGS"] != one["XLA_FLAGS"]


def test_a_checkpoint_of_other_software_says_what_changed(setup, tmp_path):
    """Refused with the packages that changed, not as "another round or settings"."""
    path = tmp_path / "trained.ckpt.h5"
    old = ("jax=0.4.1", "nvidia-cudnn-cu12=9.1", "evotickets-source=aaa")
    new = ("jax=0.4.1", "nvidia-cudnn-cu12=9.8", "evotickets-source=aaa")
    first = ck.Checkpointer(path, "d-old", EVERY, log=_crashing_log(6, []), software=old)
    with pytest.raises(Crash):
        _round(setup, "snes", first)
    messages: list[str] = []
    again = ck.Checkpointer(path, "d-new", every_generations=0, log=messages.append, software=new)
    _round(setup, "snes", again)
    (ignored,) = [m for m in messages if m.startswith("ignoring checkpoint")]
    assert "other software or settings (nvidia-cudnn-cu12: 9.1 → 9.8)" in ignored
    assert "another round" not in ignored
    # a checkpoint of the same software under another digest: another round or settings
    crashing = ck.Checkpointer(path, "d-x", EVERY, log=_crashing_log(6, []), software=new)
    with pytest.raises(Crash):
        _round(setup, "snes", crashing)
    messages.clear()
    _round(setup, "snes", ck.Checkpointer(path, "d-y", 0, log=messages.append, software=new))
    assert any("another round or settings" in m for m in messages)
    # a missing or malformed record: refused as another round, never with a parse error
    for stored in (None, "not json", json.dumps({"a": 1}), json.dumps(["no equals sign"])):
        assert ck.software_changes(stored, new) == []
    assert ck.software_changes(json.dumps(list(old)), new) == ["nvidia-cudnn-cu12: 9.1 → 9.8"]


# --- gradient-descent trainers resume too ----------------------------------------------------


@pytest.mark.parametrize("rewind_at", [None, 5])  # 5: inside epoch 1, before the crash
def test_resumed_adam_round_is_bitwise_identical(setup, tmp_path, rewind_at):
    from evotickets.train.gd import run_adam_round

    task, theta0, mask = setup
    kw = {"lr": 1e-3, "batch_size": 128, "epochs": 4, "rewind_at": rewind_at}
    reference = run_adam_round(task, theta0, mask, jax.random.key(1), log=lambda m: None, **kw)
    path = tmp_path / "trained.ckpt.h5"
    messages: list[str] = []
    first = ck.Checkpointer(path, "a1", every_generations=1, log=_crashing_log(2, messages))
    with pytest.raises(Crash):
        run_adam_round(task, theta0, mask, jax.random.key(1), log=first.log, checkpoint=first, **kw)
    assert first.saves == 2  # after epochs 1 and 2
    messages.clear()
    second = ck.Checkpointer(path, "a1", every_generations=1, log=messages.append)
    resumed = run_adam_round(
        task, theta0, mask, jax.random.key(1), log=messages.append, checkpoint=second, **kw
    )
    assert any(m.startswith("resuming from checkpoint") and "generation 2" in m for m in messages)
    assert not any("epoch 1/4" in m or "epoch 2/4" in m for m in messages)  # not redone
    fields = ("theta", "step_loss", "epoch_loss", "eval_epoch", "eval_metric")
    for field in (*fields, "rewind_theta") if rewind_at else fields:
        x, y = getattr(reference, field), getattr(resumed, field)
        assert x.dtype == y.dtype, field
        np.testing.assert_array_equal(x, y, err_msg=field)
    assert reference.final_metric == resumed.final_metric
    # each epoch's loss is the mean of its steps' losses
    steps = reference.step_loss.size // 4
    np.testing.assert_allclose(
        reference.epoch_loss, reference.step_loss.reshape(4, steps).mean(1), rtol=1e-6
    )
    _assert_metric_is_the_test_sets(task, reference)


def test_resumed_ppo_round_is_bitwise_identical(tmp_path):
    from evotickets.tasks import init_theta
    from evotickets.train.ppo import train_ppo

    theta = init_theta({"task": "pendulum", "network": "mlp", "hidden": [8, 8]}, jax.random.key(0))
    table = layer_table(theta)
    task = make_task("pendulum", {"hidden": [8, 8], "n_test": 2}, table)
    theta0 = to_vector(theta, table)
    mask = np.ones(theta0.size, bool)
    mask[np.flatnonzero(prunable_vector(table))[::2]] = False
    hp = {"total_steps": 2048, "num_envs": 8, "num_steps": 16, "log_every": 4}  # 16 updates

    def run(checkpoint=None, log=lambda m: None):
        return train_ppo(task, theta0, mask, jax.random.key(3), hp, log=log, checkpoint=checkpoint)

    reference = run()
    path = tmp_path / "trained.ckpt.h5"
    messages: list[str] = []
    first = ck.Checkpointer(path, "p1", every_generations=4, log=_crashing_log(8, messages))
    with pytest.raises(Crash):
        run(first, first.log)
    with h5py.File(path) as f:  # the whole carry: actor, optimiser, env states, statistics
        names = [str(n) for n in f.attrs["leaves"]]
        assert "0/actor" in names and any(n.startswith("1/") for n in names)
        assert f.attrs["generation"] == 8
    messages.clear()
    second = ck.Checkpointer(path, "p1", every_generations=4, log=messages.append)
    resumed = run(second, messages.append)
    assert any(m.startswith("resuming from checkpoint") and "generation 8" in m for m in messages)
    # every field but the time, bitwise and of the same dtype (the episode counts and the
    # non-finite counts too: a swap of two restored counters passed the fields checked before)
    import dataclasses

    compared = [f.name for f in dataclasses.fields(reference) if f.name != "seconds"]
    assert {"episodes", "nonfinite_count", "mean_fitness"} <= set(compared)
    assert reference.episodes is not None and reference.episodes.any()
    for name in compared:
        a, b = getattr(reference, name), getattr(resumed, name)
        if isinstance(a, dict):
            assert a.keys() == b.keys(), name
            for k in a:
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name}/{k}")
        elif a is None:
            assert b is None, name
        else:
            assert np.asarray(a).dtype == np.asarray(b).dtype, name
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_bad_adam_checkpoint_is_ignored_not_fatal(setup, tmp_path):
    """A GD checkpoint whose curves do not fit is a bad file like any other: logged, ignored."""
    from evotickets.train.gd import run_adam_round

    task, theta0, mask = setup
    kw = {"lr": 1e-3, "batch_size": 128, "epochs": 3}
    path = tmp_path / "trained.ckpt.h5"
    first = ck.Checkpointer(path, "a2", every_generations=1, log=_crashing_log(1, []))
    with pytest.raises(Crash):
        run_adam_round(task, theta0, mask, jax.random.key(1), log=first.log, checkpoint=first, **kw)
    with h5py.File(path, "r+") as f:  # one epoch's losses, one step short
        data = f["curves/step_loss"][()]
        del f["curves/step_loss"]
        f.create_dataset("curves/step_loss", data=data[:-1])
    messages: list[str] = []
    second = ck.Checkpointer(path, "a2", every_generations=0, log=messages.append)
    res = run_adam_round(
        task, theta0, mask, jax.random.key(1), log=messages.append, checkpoint=second, **kw
    )
    assert any(m.startswith("ignoring checkpoint") and "epochs" in m for m in messages)
    reference = run_adam_round(task, theta0, mask, jax.random.key(1), log=lambda m: None, **kw)
    np.testing.assert_array_equal(res.theta, reference.theta)


def test_a_checkpoint_it_cannot_read_now_stops_the_round_and_is_kept(setup, tmp_path, monkeypatch):
    """An I/O error, a lock or a stale NFS handle while loading says nothing about the
    checkpoint: starting from scratch overwrote the good checkpoint at the next save with
    an earlier generation. The round stops, naming why, and the file stays as it was."""
    import errno

    from conftest import changed_only_in_superblock, hdf5_locks_off, held_open_for_writing

    from evotickets.artifacts import ArtifactUnavailable

    path = tmp_path / "trained.ckpt.h5"
    with pytest.raises(Crash):
        _round(setup, "snes", ck.Checkpointer(path, "d1", EVERY, log=_crashing_log(6, [])))
    before = path.read_bytes()
    if not hdf5_locks_off():  # with HDF5's locks on (README: off where a file system lacks them)
        with held_open_for_writing(path):  # another process holds HDF5's lock
            messages: list[str] = []
            again = ck.Checkpointer(path, "d1", every_generations=EVERY, log=messages.append)
            with pytest.raises(ArtifactUnavailable, match="another process holds it open"):
                _round(setup, "snes", again)
            assert not any(m.startswith("ignoring checkpoint") for m in messages), messages
        assert changed_only_in_superblock(before, path.read_bytes())  # the holder's mark
        before = path.read_bytes()

    class Flaky(ck.Checkpointer):
        def _load(self, *args):
            raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(ArtifactUnavailable, match="I/O error.*check the storage"):
        _round(setup, "snes", Flaky(path, "d1", every_generations=EVERY, log=lambda m: None))
    assert path.read_bytes() == before


def test_a_checkpoint_of_another_program_is_named_so_only_when_the_program_alone_differs(
    setup, tmp_path
):
    """A checkpoint of a vmapped group of 2 read by the one-chain program of the same round
    names both programs; one of other settings as well says that, not the program."""
    path = tmp_path / "trained.ckpt.h5"
    first = ck.Checkpointer(path, "d1", EVERY, log=_crashing_log(6, []))
    first.for_program("vmapped", 2)
    with pytest.raises(Crash):
        _round(setup, "snes", first)
    with h5py.File(path) as f:  # recorded as trained.h5 records a group round's program
        assert (f.attrs["group_program"], int(f.attrs["group_width"])) == ("vmapped", 2)
    program = "written by the vmapped program of 2 chains, and this round runs in the one-chain"
    for digest, reason in (("d1", program), ("d2", "another round or settings")):
        messages: list[str] = []
        again = ck.Checkpointer(path, digest, every_generations=0, log=messages.append)
        _round(setup, "snes", again)
        assert any(m.startswith("ignoring checkpoint") and reason in m for m in messages), messages
